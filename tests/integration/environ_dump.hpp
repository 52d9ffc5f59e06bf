// Reading what the environ_dump example module answers: its "NAME=value"
// lines, then a blank line, then the request body it read.
//
//     EXPECT_EQ(environ_variable(reply.body, "REMOTE_ADDR"), "127.0.0.1");
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "integration/log_text.hpp"

namespace forkserve::integration {

// The "NAME=value" lines, up to the blank line before the body.
inline std::vector<std::string> environ_lines(std::string_view body) {
  return lines_of(body.substr(0, body.find("\n\n")));
}

// The value of `name`, or "<unset>" when the handler did not get it.
inline std::string environ_variable(std::string_view body, std::string_view name) {
  std::string prefix = std::string(name) + "=";
  for (const std::string& line : environ_lines(body)) {
    if (line.starts_with(prefix)) return line.substr(prefix.size());
  }
  return "<unset>";
}

}  // namespace forkserve::integration
