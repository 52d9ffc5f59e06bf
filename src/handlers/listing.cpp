#include "handlers/listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <forkserve/form.hpp>
#include <forkserve/json.hpp>
#include <forkserve/response.hpp>
#include <memory>

#include "handlers/safe_path.hpp"

namespace forkserve::handlers {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// -1, 0, 1 as `a` sorts before, with or after `b` by natural_less's rule.
int natural_compare(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      // Compare the digit runs by value: skip leading zeros, then the longer
      // run is larger, then the first differing digit decides.
      while (i < a.size() && a[i] == '0') ++i;
      while (j < b.size() && b[j] == '0') ++j;
      std::size_t ei = i;
      std::size_t ej = j;
      while (ei < a.size() && is_digit(a[ei])) ++ei;
      while (ej < b.size() && is_digit(b[ej])) ++ej;
      if (ei - i != ej - j) return ei - i < ej - j ? -1 : 1;
      for (; i < ei; ++i, ++j) {
        if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
      }
      continue;
    }
    const char x = fold(a[i]);
    const char y = fold(b[j]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

// "2026-11-30 03:47" in UTC, or "2026-11-30T03:47:12Z" for JSON.
std::string utc_time(std::time_t t, bool iso) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[32];
  const std::size_t n =
      std::strftime(buffer, sizeof buffer, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M", &tm);
  return std::string(buffer, n);
}

}  // namespace

bool natural_less(std::string_view a, std::string_view b) {
  const int c = natural_compare(a, b);
  return c != 0 ? c < 0 : a < b;
}

std::string human_size(unsigned long long bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  // One decimal below 10 ("1.5 KiB"), none above ("120 MiB").
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return buffer;
}

int read_listing(int dir_fd, bool show_dotfiles, const std::function<bool(const char* name)>& followable,
                 Listing& listing) {
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dir_fd));
  if (!dir) {
    const int error = errno;
    ::close(dir_fd);
    return error;
  }
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return errno;
      break;
    }
    const std::string_view name = entry->d_name;
    if (name == "." || name == ".." || (name.starts_with('.') && !show_dotfiles)) continue;
    struct stat st {};
    // Some file systems leave d_type unknown: then lstat tells whether it is a link.
    bool is_link = entry->d_type == DT_LNK;
    if (entry->d_type == DT_UNKNOWN) {
      is_link =
          ::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    }
    if (is_link && !followable(entry->d_name)) continue;
    if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, 0) != 0) continue;  // dangling, or gone
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
    // What the server would answer 403 for is not offered.
    if (::faccessat(::dirfd(dir.get()), entry->d_name, S_ISDIR(st.st_mode) ? R_OK | X_OK : R_OK,
                    AT_EACCESS) != 0) {
      continue;
    }
    if (listing.entries.size() == kMaxListingEntries) {
      ++listing.left_out;
      continue;
    }
    listing.entries.push_back(
        {std::string(name), S_ISDIR(st.st_mode), static_cast<unsigned long long>(st.st_size), st.st_mtime});
  }
  std::sort(listing.entries.begin(), listing.entries.end(), [](const ListingEntry& a, const ListingEntry& b) {
    if (a.is_directory != b.is_directory) return a.is_directory;
    return natural_less(a.name, b.name);
  });
  return 0;
}

std::string listing_html_head(std::string_view path, bool has_parent) {
  const std::string shown = html_escape(path);
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Index of " +
      shown +
      "</title>\n"
      "<style>\n"
      "body{font:15px/1.4 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif;"
      "max-width:60rem;margin:0 auto;padding:1rem;color:#1f2328;background:#fff}\n"
      "h1{font-size:1.2rem;font-weight:600;overflow-wrap:anywhere}\n"
      "table{width:100%;border-collapse:collapse}\n"
      "th,td{padding:.45rem .5rem;text-align:left;border-bottom:1px solid #d8dee4;vertical-align:top}\n"
      "th{font-weight:600;color:#59636e;font-size:.85rem}\n"
      ".size{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
      ".date{white-space:nowrap;color:#59636e;font-variant-numeric:tabular-nums}\n"
      "a{color:#0969da;text-decoration:none;overflow-wrap:anywhere}\n"
      "a:hover{text-decoration:underline}\n"
      "tr:hover td{background:#f6f8fa}\n"
      ".dir a{font-weight:600}\n"
      "p{color:#59636e;font-size:.85rem}\n"
      "@media (max-width:32rem){body{padding:.5rem}.time{display:none}th,td{padding:.5rem .3rem}}\n"
      "@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}a{color:#4493f8}"
      "th,td{border-color:#30363d}tr:hover td{background:#161b22}th,.date,p{color:#9198a1}}\n"
      "</style>\n</head>\n<body>\n<h1>Index of " +
      shown +
      "</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>"
      "<th class=\"date\">Modified (UTC)</th></tr></thead>\n<tbody>\n";
  if (has_parent) {
    html +=
        "<tr class=\"dir\"><td><a href=\"../\">../</a></td><td class=\"size\"></td><td "
        "class=\"date\"></td></tr>\n";
  }
  return html;
}

std::string listing_html_row(const ListingEntry& entry) {
  const std::string_view slash = entry.is_directory ? "/" : "";
  const std::string when = utc_time(entry.modified, false);
  std::string row = entry.is_directory ? "<tr class=\"dir\"><td><a href=\"" : "<tr><td><a href=\"";
  row.append(url_encode(entry.name)).append(slash).append("\">");
  row.append(html_escape(entry.name)).append(slash).append("</a></td>");
  if (entry.is_directory) {
    row.append("<td class=\"size\"></td>");
  } else {
    row.append("<td class=\"size\" title=\"").append(std::to_string(entry.size)).append(" bytes\">");
    row.append(human_size(entry.size)).append("</td>");
  }
  row.append("<td class=\"date\">").append(when.substr(0, 10)).append("<span class=\"time\">");
  row.append(when.substr(10)).append("</span></td></tr>\n");
  return row;
}

std::string listing_html_tail(std::size_t count, std::size_t left_out) {
  std::string html = "</tbody>\n</table>\n<p>" + std::to_string(count) + (count == 1 ? " entry" : " entries");
  if (left_out > 0) html += "; " + std::to_string(left_out) + " more not listed";
  return html + "</p>\n</body>\n</html>\n";
}

std::string listing_json_row(const ListingEntry& entry, bool first) {
  std::string row = first ? "\n" : ",\n";
  row.append("{\"name\":\"").append(json_escape(entry.name)).append("\"");
  row.append(entry.is_directory ? ",\"type\":\"directory\"" : ",\"type\":\"file\"");
  if (!entry.is_directory) row.append(",\"size\":").append(std::to_string(entry.size));
  row.append(",\"modified\":\"").append(utc_time(entry.modified, true)).append("\"}");
  return row;
}

}  // namespace forkserve::handlers
