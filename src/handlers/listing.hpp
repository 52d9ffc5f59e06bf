// Directory listings: reading the entries a visitor may follow, ordering
// them, and writing them as an HTML page or JSON, row by row so a huge
// directory streams out instead of being built in memory twice.
#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve::handlers {

// A directory with more entries than this lists the first ones read and says
// how many it left out: memory stays bounded (about 100 bytes an entry).
inline constexpr std::size_t kMaxListingEntries = 200'000;

struct ListingEntry {
  std::string name;
  bool is_directory = false;
  unsigned long long size = 0;  // bytes; files only
  std::time_t modified = 0;
};

struct Listing {
  std::vector<ListingEntry> entries;  // sorted: directories first, then natural order
  std::size_t left_out = 0;           // entries past kMaxListingEntries
};

// Reads the directory open at `dir_fd` (which the function closes). Skips ".",
// "..", dotfiles unless `show_dotfiles`, and what the server would refuse to
// serve: symlinks for which `followable(name)` is false, entries that are
// neither regular files nor directories, and files it cannot read. Returns
// 0, or the errno of a failed open or read.
int read_listing(int dir_fd, bool show_dotfiles, const std::function<bool(const char* name)>& followable,
                 Listing& listing);

// "file-2" < "file-10": runs of digits compare by value, the rest by byte
// with ASCII case folded; ties fall back to plain byte order.
bool natural_less(std::string_view a, std::string_view b);

// 1536 → "1.5 KiB", 999 → "999 B".
std::string human_size(unsigned long long bytes);

// The HTML page, in pieces: head (title, the path as a heading, the table
// head and a parent link unless at the root), one row per entry, tail.
std::string listing_html_head(std::string_view path, bool has_parent);
std::string listing_html_row(const ListingEntry& entry);
std::string listing_html_tail(std::size_t count, std::size_t left_out);

// JSON: [{"name": ..., "type": "file"|"directory", "size": N (files),
// "modified": "2026-11-30T03:47:12Z"}, ...]. Bytes that are not UTF-8
// become U+FFFD, so the text always parses.
std::string listing_json_row(const ListingEntry& entry, bool first);

}  // namespace forkserve::handlers
