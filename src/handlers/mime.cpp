#include "handlers/mime.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace forkserve::handlers {
namespace {

struct MimeEntry {
  std::string_view extension;  // lower case, without the dot
  std::string_view type;
};

constexpr std::string_view kText = "text/plain; charset=utf-8";

// Sorted by extension (checked below) for binary search. Types follow the
// IANA registry and what browsers expect (text/javascript per RFC 9239).
constexpr std::array kMimeTable = std::to_array<MimeEntry>({
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"c", kText},
    {"cc", kText},
    {"conf", kText},
    {"cpp", kText},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"h", kText},
    {"hpp", kText},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"log", kText},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", kText},
    {"vtt", "text/vtt; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
});

constexpr bool by_extension(const MimeEntry& a, const MimeEntry& b) { return a.extension < b.extension; }
static_assert(std::is_sorted(kMimeTable.begin(), kMimeTable.end(), by_extension),
              "kMimeTable must stay sorted by extension");
static_assert(std::adjacent_find(kMimeTable.begin(), kMimeTable.end(),
                                 [](const MimeEntry& a, const MimeEntry& b) {
                                   return a.extension == b.extension;
                                 }) == kMimeTable.end(),
              "kMimeTable has a duplicate extension");

constexpr std::size_t kLongestExtension = 16;  // longer ones cannot be in the table

// "dir/page.HTML" → "HTML"; "" for no extension or only a leading dot.
std::string_view extension_of(std::string_view file_name) {
  const std::size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return file_name.substr(dot + 1);
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view mime_type_for(std::string_view file_name) {
  const std::string_view extension = extension_of(file_name);
  if (extension.empty() || extension.size() > kLongestExtension) return kDefaultMimeType;

  char lower[kLongestExtension];
  for (std::size_t i = 0; i < extension.size(); ++i) {
    const char c = extension[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const MimeEntry key{std::string_view(lower, extension.size()), {}};
  const auto* found = std::lower_bound(kMimeTable.begin(), kMimeTable.end(), key, by_extension);
  if (found != kMimeTable.end() && found->extension == key.extension) return found->type;
  return kDefaultMimeType;
}

std::string with_charset(std::string_view type) {
  std::string out(type);
  const std::string lower = lower_case(type);
  if (lower.starts_with("text/") && lower.find("charset=") == std::string::npos) out += "; charset=utf-8";
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_mime_types(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    line = line.substr(0, line.find('#'));
    std::string_view type;
    while (true) {
      while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
      if (line.empty()) break;
      std::size_t end = 0;
      while (end < line.size() && !is_blank(line[end])) ++end;
      const std::string_view word = line.substr(0, end);
      line.remove_prefix(end);
      if (type.empty()) {
        if (word.find('/') == std::string_view::npos) break;  // not a type: skip the line
        type = word;
      } else {
        pairs.emplace_back(lower_case(word), std::string(type));
      }
    }
  }
  return pairs;
}

void MimeMap::set(std::string_view extension, std::string_view type) {
  overrides_[lower_case(extension)] = with_charset(type);
}

std::string_view MimeMap::type_for(std::string_view file_name) const {
  if (!overrides_.empty()) {
    const std::string_view extension = extension_of(file_name);
    if (!extension.empty()) {
      const auto found = overrides_.find(lower_case(extension));
      if (found != overrides_.end()) return found->second;
    }
  }
  return mime_type_for(file_name);
}

}  // namespace forkserve::handlers
