#include "handlers/conditional.hpp"

#include <charconv>

#include "http/date.hpp"

namespace forkserve::handlers {
namespace {

void append_hex(std::string& out, unsigned long long value) {
  char buffer[16];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, 16);
  out.append(buffer, end);
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// The next entity-tag of a list, advancing `list`; false at the end or on
// text that is not one (the rest of the list is then not looked at).
bool next_tag(std::string_view& list, std::string_view& tag, bool& weak) {
  while (!list.empty() && (is_space(list.front()) || list.front() == ',')) list.remove_prefix(1);
  if (list.empty()) return false;
  weak = list.starts_with("W/");
  if (weak) list.remove_prefix(2);
  if (list.empty() || list.front() != '"') return false;
  const std::size_t close = list.find('"', 1);
  if (close == std::string_view::npos) return false;
  tag = list.substr(0, close + 1);
  list.remove_prefix(close + 1);
  return true;
}

}  // namespace

std::string make_etag(const struct stat& st) {
  std::string etag = "\"";
  append_hex(etag, static_cast<unsigned long long>(st.st_dev));
  etag.push_back('-');
  append_hex(etag, static_cast<unsigned long long>(st.st_ino));
  etag.push_back('-');
  append_hex(etag, static_cast<unsigned long long>(st.st_size));
  etag.push_back('-');
  append_hex(etag, static_cast<unsigned long long>(st.st_mtim.tv_sec));
  etag.push_back('.');
  append_hex(etag, static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  etag.push_back('"');
  return etag;
}

bool etag_list_matches(std::string_view list, std::string_view tag, bool strong) {
  std::string_view rest = list;
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);
  if (rest == "*") return true;
  std::string_view candidate;
  bool weak = false;
  while (next_tag(rest, candidate, weak)) {
    if (candidate == tag && !(strong && weak)) return true;
  }
  return false;
}

Precondition evaluate_preconditions(const Conditions& conditions, const Validators& current) {
  if (conditions.if_match) {
    if (!etag_list_matches(*conditions.if_match, current.etag, /*strong=*/true)) return Precondition::Failed;
  } else if (conditions.if_unmodified_since) {
    const auto since = http::parse_http_date(*conditions.if_unmodified_since);
    if (since && current.modified > *since) return Precondition::Failed;
  }
  if (conditions.if_none_match) {
    if (etag_list_matches(*conditions.if_none_match, current.etag, /*strong=*/false)) {
      return Precondition::NotModified;
    }
  } else if (conditions.if_modified_since) {
    const auto since = http::parse_http_date(*conditions.if_modified_since);
    if (since && current.modified <= *since) return Precondition::NotModified;
  }
  return Precondition::Proceed;
}

bool if_range_holds(std::string_view if_range, const Validators& current) {
  while (!if_range.empty() && is_space(if_range.front())) if_range.remove_prefix(1);
  while (!if_range.empty() && is_space(if_range.back())) if_range.remove_suffix(1);
  if (if_range.starts_with('"') || if_range.starts_with("W/")) return if_range == current.etag;
  const auto date = http::parse_http_date(if_range);
  return date && *date == current.modified;
}

}  // namespace forkserve::handlers
