#include "handlers/mime.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace forkserve::handlers {
namespace {

TEST(MimeTypes, KnowsTheCommonWebTypes) {
  const std::pair<const char*, const char*> expected[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"old.htm", "text/html; charset=utf-8"},
      {"site.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"mod.mjs", "text/javascript; charset=utf-8"},
      {"data.json", "application/json"},
      {"notes.txt", "text/plain; charset=utf-8"},
      {"README.md", "text/markdown; charset=utf-8"},
      {"feed.xml", "application/xml"},
      {"logo.svg", "image/svg+xml"},
      {"a.png", "image/png"},
      {"a.jpg", "image/jpeg"},
      {"a.jpeg", "image/jpeg"},
      {"a.gif", "image/gif"},
      {"a.webp", "image/webp"},
      {"favicon.ico", "image/vnd.microsoft.icon"},
      {"a.avif", "image/avif"},
      {"m.wasm", "application/wasm"},
      {"doc.pdf", "application/pdf"},
      {"a.zip", "application/zip"},
      {"a.gz", "application/gzip"},
      {"a.tar", "application/x-tar"},
      {"song.mp3", "audio/mpeg"},
      {"film.mp4", "video/mp4"},
      {"clip.webm", "video/webm"},
      {"sound.ogg", "audio/ogg"},
      {"f.woff", "font/woff"},
      {"f.woff2", "font/woff2"},
      {"f.ttf", "font/ttf"},
      {"f.otf", "font/otf"},
      {"table.csv", "text/csv; charset=utf-8"},
  };
  for (const auto& [name, type] : expected) EXPECT_EQ(mime_type_for(name), type) << name;
}

TEST(MimeTypes, ExtensionIsCaseInsensitive) {
  EXPECT_EQ(mime_type_for("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for("Photo.JpG"), "image/jpeg");
  EXPECT_EQ(mime_type_for("font.WOFF2"), "font/woff2");
}

TEST(MimeTypes, TextTypesDeclareUtf8) {
  for (const char* name : {"a.html", "a.css", "a.js", "a.txt", "a.md", "a.csv"}) {
    EXPECT_TRUE(std::string_view(mime_type_for(name)).ends_with("; charset=utf-8")) << name;
  }
}

TEST(MimeTypes, UsesOnlyTheLastExtension) {
  EXPECT_EQ(mime_type_for("archive.tar.gz"), "application/gzip");
  EXPECT_EQ(mime_type_for("page.html.txt"), "text/plain; charset=utf-8");
}

TEST(MimeTypes, LooksOnlyAtTheFileNameOfAPath) {
  EXPECT_EQ(mime_type_for("dir.html/readme"), kDefaultMimeType);
  EXPECT_EQ(mime_type_for("docs/v1.2/guide.pdf"), "application/pdf");
}

TEST(MimeTypes, UnknownOrMissingExtensionIsOctetStream) {
  EXPECT_EQ(kDefaultMimeType, "application/octet-stream");
  for (const char* name : {"", "Makefile", "a.unknownext", "a.", ".", "a.verylongextensionthatnobodyuses",
                           "a.htm~", "a.html "}) {
    EXPECT_EQ(mime_type_for(name), kDefaultMimeType) << '"' << name << '"';
  }
}

TEST(MimeTypes, LeadingDotAloneIsNotAnExtension) {
  EXPECT_EQ(mime_type_for(".html"), kDefaultMimeType);
  EXPECT_EQ(mime_type_for("dir/.css"), kDefaultMimeType);
  EXPECT_EQ(mime_type_for(".config.json"), "application/json");
}

TEST(MimeTest, TextTypesGetUtf8CharsetOthersStayAsGiven) {
  EXPECT_EQ(with_charset("text/x-nim"), "text/x-nim; charset=utf-8");
  EXPECT_EQ(with_charset("text/plain; charset=latin1"), "text/plain; charset=latin1");
  EXPECT_EQ(with_charset("image/x-icon"), "image/x-icon");
}

TEST(MimeTest, MimeTypesFileLinesGiveLowerCaseExtensions) {
  const auto pairs = parse_mime_types(
      "# comment line\n"
      "text/html\t\thtml HTM shtml\n"
      "application/x-empty\n"
      "\n"
      "notatype foo\n"
      "image/png png # trailing comment\r\n");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"html", "text/html"}, {"htm", "text/html"}, {"shtml", "text/html"}, {"png", "image/png"}};
  EXPECT_EQ(pairs, expected);
}

TEST(MimeTest, OverridesWinOverTheBuiltInTable) {
  MimeMap map;
  EXPECT_EQ(map.type_for("a.txt"), "text/plain; charset=utf-8");
  map.set("TXT", "text/x-custom");
  map.set("nim", "application/x-nim");
  EXPECT_EQ(map.type_for("dir/a.TxT"), "text/x-custom; charset=utf-8");
  EXPECT_EQ(map.type_for("b.nim"), "application/x-nim");
  EXPECT_EQ(map.type_for("c.png"), "image/png");
  EXPECT_EQ(map.type_for(".nim"), kDefaultMimeType);
}

}  // namespace
}  // namespace forkserve::handlers
