// libFuzzer target: parse_request_head on arbitrary bytes. Besides what the
// sanitizers catch, it checks the parser's contract: views stay inside the
// buffer, a complete head fits in it, errors carry a known status and reason,
// and every prefix of a complete head is Incomplete.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.hpp"

namespace {

using forkserve::http::ParseStatus;

void require(bool condition) {
  if (!condition) std::abort();
}

bool inside(std::string_view part, std::string_view buffer) {
  return part.empty() || (part.data() >= buffer.data() && part.data() + part.size() <= buffer.data() + buffer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view buffer(reinterpret_cast<const char*>(data), size);
  // Small limits reach the 414/431 paths with short inputs too.
  forkserve::http::Limits limits{256, 1024, 16};
  auto result = forkserve::http::parse_request_head(buffer, limits);
  switch (result.status) {
    case ParseStatus::Incomplete:
      break;
    case ParseStatus::Error:
      require(result.error_status == 400 || result.error_status == 414 || result.error_status == 431 ||
              result.error_status == 501 || result.error_status == 505);
      require(!result.reason.empty());
      break;
    case ParseStatus::Complete: {
      const auto& head = result.head;
      require(result.head_length > 0 && result.head_length <= size);
      require(!head.method.empty() && inside(head.method, buffer) && inside(head.target, buffer));
      require(head.path == "/" || head.path == "*" || inside(head.path, buffer));
      require(inside(head.query, buffer) && inside(head.request_line, buffer));
      require(head.version_minor == 0 || head.version_minor == 1);
      require(head.headers.size() <= limits.max_headers);
      for (const auto& field : head.headers) require(inside(field.name, buffer) && inside(field.value, buffer));
      auto shorter = forkserve::http::parse_request_head(buffer.substr(0, result.head_length - 1), limits);
      require(shorter.status == ParseStatus::Incomplete);
      break;
    }
  }
  return 0;
}
