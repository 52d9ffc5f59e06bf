// libFuzzer target: the handler SDK's parsers for what clients send (query
// strings and urlencoded forms, Cookie headers, media types, multipart
// bodies) and the escapers that put it back out. They may refuse input only
// with BadRequest or HttpError, must keep their bounds, and must round-trip:
//   - parse_urlencoded(to_urlencoded(fields)) gives the same fields;
//   - json_escape output has no raw control character, quote or backslash
//     outside an escape, and no byte that is not well-formed UTF-8;
//   - a multipart body never yields more parts than the limit.
// The first input byte chooses the multipart chunk size, so every split of
// the body across reads is tried.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <forkserve/form.hpp>
#include <forkserve/json.hpp>
#include <forkserve/multipart.hpp>
#include <forkserve/response.hpp>
#include <string>
#include <string_view>

namespace {

void check_urlencoded(std::string_view text) {
  try {
    const forkserve::Fields fields = forkserve::parse_urlencoded(text, 64);
    const forkserve::Fields again = forkserve::parse_urlencoded(forkserve::to_urlencoded(fields), 64);
    if (again.size() != fields.size() || !std::equal(fields.begin(), fields.end(), again.begin()))
      std::abort();
  } catch (const forkserve::HttpError&) {
  }
}

void check_json(std::string_view text) {
  const std::string escaped = forkserve::json_escape(text);
  std::string_view rest = escaped;
  while (!rest.empty()) {
    const auto c = static_cast<unsigned char>(rest.front());
    if (c < 0x20 || c == '"') std::abort();
    if (c == '\\') {
      if (rest.size() < 2 || std::string_view("\"\\/bfnrtu").find(rest[1]) == std::string_view::npos)
        std::abort();
      rest.remove_prefix(2);
      continue;
    }
    const std::size_t n = forkserve::detail::utf8_sequence_length(rest);
    if (n == 0) std::abort();
    rest.remove_prefix(n);
  }
}

void check_html(std::string_view text) {
  const std::string escaped = forkserve::html_escape(text);
  if (escaped.find_first_of("<>\"'") != std::string::npos) std::abort();
}

void check_multipart(std::string_view body, std::size_t step) {
  forkserve::FormLimits limits;
  limits.max_fields = 8;
  limits.max_part_header_bytes = 512;
  limits.max_body_bytes = 4096;
  std::size_t offset = 0;
  try {
    forkserve::MultipartReader reader(
        "b0",
        [&](std::span<char> out) {
          const std::size_t n = std::min({step, out.size(), body.size() - offset});
          std::copy_n(body.data() + offset, n, out.data());
          offset += n;
          return n;
        },
        limits);
    std::size_t parts = 0;
    std::size_t content = 0;
    while (auto part = reader.next()) {
      if (++parts > limits.max_fields) std::abort();
      content += reader.read_all().size();
      if (content > body.size()) std::abort();
    }
  } catch (const forkserve::HttpError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 64;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  check_urlencoded(text);
  forkserve::parse_cookies(text);
  forkserve::MediaType::parse(text);
  check_json(text);
  check_html(text);
  check_multipart(text, step);
  return 0;
}
