#include "handlers/accept_encoding.hpp"

#include "http/request_parser.hpp"

namespace forkserve::handlers {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "0.8" → 800, "1" → 1000, "0.125" → 125; -1 for anything else (qvalue
// grammar: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]).
int parse_qvalue(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return -1;
  int value = text[0] == '1' ? 1000 : 0;
  if (text.size() == 1) return value;
  if (text[1] != '.' || text.size() > 5) return -1;
  int scale = 100;
  for (const char c : text.substr(2)) {
    if (c < '0' || c > '9') return -1;
    value += (c - '0') * scale;
    scale /= 10;
  }
  return value > 1000 ? -1 : value;
}

// The weight of one list element "gzip;q=0.5" (its coding name in `name`).
int element_weight(std::string_view element, std::string_view& name) {
  const std::size_t semicolon = element.find(';');
  name = trim(element.substr(0, semicolon));
  if (semicolon == std::string_view::npos) return 1000;
  std::string_view parameters = element.substr(semicolon + 1);
  while (true) {
    const std::size_t next = parameters.find(';');
    const std::string_view parameter = trim(parameters.substr(0, next));
    if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
      const int q = parse_qvalue(trim(parameter.substr(2)));
      return q < 0 ? 0 : q;
    }
    if (next == std::string_view::npos) return 1000;
    parameters.remove_prefix(next + 1);
  }
}

}  // namespace

int coding_weight(std::string_view accept_encoding, std::string_view coding) {
  int own = -1;
  int any = -1;
  while (true) {
    const std::size_t comma = accept_encoding.find(',');
    std::string_view name;
    const int weight = element_weight(accept_encoding.substr(0, comma), name);
    if (http::iequals(name, coding) || (coding == "gzip" && http::iequals(name, "x-gzip"))) {
      own = weight;
    } else if (name == "*") {
      any = weight;
    }
    if (comma == std::string_view::npos) break;
    accept_encoding.remove_prefix(comma + 1);
  }
  if (own >= 0) return own;
  return any >= 0 ? any : 0;
}

}  // namespace forkserve::handlers
