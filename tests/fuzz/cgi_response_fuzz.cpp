// libFuzzer target: a CGI program's header block (parse_cgi_head) on
// arbitrary bytes, since whatever it accepts goes to a client. Besides what
// the sanitizers catch, it checks the contract: a complete block fits in the
// input and below the limit, what it passes on are tokens and control-free
// values with a final status, and no shorter prefix of it is complete.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "handlers/cgi_response.hpp"
#include "http/request_parser.hpp"

namespace {

using forkserve::handlers::CgiHeadStatus;
using forkserve::handlers::CgiResponseKind;

void require(bool condition) {
  if (!condition) std::abort();
}

bool control_free(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view output(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kLimit = 512;  // small, so short inputs reach it
  auto head = forkserve::handlers::parse_cgi_head(output, kLimit);
  switch (head.status) {
    case CgiHeadStatus::Incomplete:
      break;
    case CgiHeadStatus::Error:
      require(!head.reason.empty());
      break;
    case CgiHeadStatus::Complete: {
      require(head.head_length > 0 && head.head_length <= size && head.head_length <= kLimit);
      require(head.status_line.size() >= 5 && head.status_line[3] == ' ' && control_free(head.status_line));
      int code = std::atoi(head.status_line.substr(0, 3).c_str());
      require(code >= 200 && code <= 599);
      for (const auto& h : head.headers) {
        require(forkserve::http::is_token(h.name) && control_free(h.value));
        require(!forkserve::http::iequals(h.name, "Status"));
      }
      if (head.kind == CgiResponseKind::LocalRedirect) require(head.location.starts_with('/'));
      auto shorter = forkserve::handlers::parse_cgi_head(output.substr(0, head.head_length - 1), kLimit);
      require(shorter.status != CgiHeadStatus::Complete);
      break;
    }
  }
  return 0;
}
