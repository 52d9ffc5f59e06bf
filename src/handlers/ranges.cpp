#include "handlers/ranges.hpp"

#include <charconv>
#include <optional>

#include "http/request_parser.hpp"

namespace forkserve::handlers {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Only digits (no sign, no space): "0", "123". Too large → nullopt.
std::optional<unsigned long long> to_number(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

// One range-spec: "a-b", "a-" or "-n". nullopt when malformed; a spec that
// is valid but misses the representation gives `satisfiable = false`.
struct Spec {
  bool satisfiable = false;
  ByteRange range;
};

std::optional<Spec> parse_spec(std::string_view text, unsigned long long length) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view first_text = text.substr(0, dash);
  const std::string_view last_text = text.substr(dash + 1);
  Spec spec;
  if (first_text.empty()) {  // suffix: the last n bytes
    const auto n = to_number(last_text);
    if (!n) return std::nullopt;
    if (*n == 0 || length == 0) return spec;
    spec.satisfiable = true;
    spec.range = {*n >= length ? 0 : length - *n, length - 1};
    return spec;
  }
  const auto first = to_number(first_text);
  if (!first) return std::nullopt;
  unsigned long long last = length == 0 ? 0 : length - 1;
  if (!last_text.empty()) {
    const auto given = to_number(last_text);
    if (!given || *given < *first) return std::nullopt;
    if (*given < last) last = *given;
  }
  if (*first >= length) return spec;
  spec.satisfiable = true;
  spec.range = {*first, last};
  return spec;
}

}  // namespace

RangeAnswer evaluate_range(std::string_view header, unsigned long long length) {
  RangeAnswer answer;
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || !http::iequals(header.substr(0, kUnit.size()), kUnit)) return answer;
  header.remove_prefix(kUnit.size());

  std::size_t specs = 0;
  unsigned long long total = 0;
  bool any_spec = false;
  while (true) {
    const std::size_t comma = header.find(',');
    const std::string_view item = trim(header.substr(0, comma));
    // RFC 9110 §5.6.1: empty list elements are allowed and not counted.
    if (!item.empty()) {
      any_spec = true;
      if (++specs > kMaxRanges) return {};
      const std::optional<Spec> spec = parse_spec(item, length);
      if (!spec) return {};
      if (spec->satisfiable) {
        total += spec->range.size();
        if (total > length) return {};
        answer.ranges.push_back(spec->range);
      }
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (!any_spec) return {};
  answer.kind = answer.ranges.empty() ? RangeAnswer::Kind::Unsatisfiable : RangeAnswer::Kind::Partial;
  return answer;
}

}  // namespace forkserve::handlers
