#include "handlers/mime.hpp"

#include <algorithm>
#include <array>

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

}  // namespace

std::string_view mime_type_for(std::string_view file_name) {
  const std::size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return kDefaultMimeType;
  const std::string_view extension = file_name.substr(dot + 1);
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

}  // namespace forkserve::handlers
