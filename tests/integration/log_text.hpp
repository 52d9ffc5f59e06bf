// Reading the server's logs in tests: split into lines, count the lines that
// mention something.
//
//     EXPECT_EQ(count_lines_containing(server.stderr_text(), "pausing accept"), 1U);
#pragma once

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve::integration {

// The lines of `text` without their '\n'; a last line without one counts too.
inline std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return lines;
}

inline std::size_t count_lines_containing(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (const std::string& line : lines_of(text)) {
    if (line.find(needle) != std::string::npos) ++count;
  }
  return count;
}

// The server's error lines start with an RFC 3339 timestamp in UTC with
// milliseconds ("2026-11-30T03:47:30.123Z forkserve: ..."); `text` with that
// taken off each line that has one, for comparing whole lines.
inline std::string without_timestamps(std::string_view text) {
  static const std::regex kStamp(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )");
  std::string out;
  for (const std::string& line : lines_of(text)) out += std::regex_replace(line, kStamp, "") + "\n";
  if (!text.empty() && text.back() != '\n') out.pop_back();
  return out;
}

}  // namespace forkserve::integration
