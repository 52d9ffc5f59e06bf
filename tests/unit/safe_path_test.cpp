#include "handlers/safe_path.hpp"

#include <gtest/gtest.h>

#include <forkserve/form.hpp>
#include <string>

namespace forkserve::handlers {

// Found by argument-dependent lookup, so failures name the refusal.
void PrintTo(PathRefusal refusal, std::ostream* os) {
  switch (refusal) {
    case PathRefusal::None:
      *os << "None";
      break;
    case PathRefusal::NotAbsolute:
      *os << "NotAbsolute";
      break;
    case PathRefusal::MalformedEscape:
      *os << "MalformedEscape";
      break;
    case PathRefusal::DotDot:
      *os << "DotDot";
      break;
    case PathRefusal::EncodedSeparator:
      *os << "EncodedSeparator";
      break;
    case PathRefusal::Backslash:
      *os << "Backslash";
      break;
    case PathRefusal::Nul:
      *os << "Nul";
      break;
  }
}

namespace {

PathRefusal refusal_of(std::string_view raw) { return make_safe_path(raw).refusal; }

TEST(SafePath, RootIsTheEmptyRelativePathWithTrailingSlash) {
  const SafePath p = make_safe_path("/");
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.relative, "");
  EXPECT_TRUE(p.trailing_slash);
}

TEST(SafePath, PlainPathKeepsItsSegments) {
  const SafePath p = make_safe_path("/docs/guide/intro.html");
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.relative, "docs/guide/intro.html");
  EXPECT_FALSE(p.trailing_slash);
}

TEST(SafePath, RemembersTrailingSlash) {
  const SafePath p = make_safe_path("/docs/");
  EXPECT_EQ(p.relative, "docs");
  EXPECT_TRUE(p.trailing_slash);
  EXPECT_FALSE(make_safe_path("/docs").trailing_slash);
}

TEST(SafePath, DecodesPercentEscapesOnce) {
  EXPECT_EQ(make_safe_path("/docs/a%20b.txt").relative, "docs/a b.txt");
  EXPECT_EQ(make_safe_path("/%7Euser/%c3%a9t%C3%A9").relative, "~user/\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(make_safe_path("/100%25").relative, "100%");
}

TEST(SafePath, PlusIsNotASpaceInAPath) { EXPECT_EQ(make_safe_path("/a+b").relative, "a+b"); }

TEST(SafePath, CollapsesRepeatedSlashes) {
  const SafePath p = make_safe_path("//docs///a.txt");
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.relative, "docs/a.txt");
}

TEST(SafePath, DropsDotSegmentsInAnyEncoding) {
  EXPECT_EQ(make_safe_path("/./docs/./a.txt").relative, "docs/a.txt");
  EXPECT_EQ(make_safe_path("/docs/%2e/a.txt").relative, "docs/a.txt");
  EXPECT_EQ(make_safe_path("/docs/%2E/").relative, "docs");
  EXPECT_EQ(make_safe_path("/.").relative, "");
}

TEST(SafePath, RefusesLiteralDotDot) {
  EXPECT_EQ(refusal_of("/.."), PathRefusal::DotDot);
  EXPECT_EQ(refusal_of("/../etc/passwd"), PathRefusal::DotDot);
  EXPECT_EQ(refusal_of("/docs/../../etc/passwd"), PathRefusal::DotDot);
  EXPECT_EQ(refusal_of("/docs/.."), PathRefusal::DotDot);
  EXPECT_EQ(refusal_of("/docs/../"), PathRefusal::DotDot);
  // Even a ".." that would stay inside the root is refused, not resolved.
  EXPECT_EQ(refusal_of("/docs/../index.html"), PathRefusal::DotDot);
}

TEST(SafePath, RefusesPercentEncodedDotDotInEveryCase) {
  for (const char* raw : {"/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd", "/%2e%2E/x", "/%2E%2e/x", "/.%2e/x",
                          "/.%2E/x", "/%2e./x", "/%2E./x", "/docs/%2e%2e", "/docs/%2e%2e/"}) {
    EXPECT_EQ(refusal_of(raw), PathRefusal::DotDot) << raw;
  }
}

TEST(SafePath, AllowsNamesThatOnlyLookLikeDotDot) {
  EXPECT_EQ(make_safe_path("/...").relative, "...");
  EXPECT_EQ(make_safe_path("/..a").relative, "..a");
  EXPECT_EQ(make_safe_path("/a..").relative, "a..");
  EXPECT_EQ(make_safe_path("/.hidden").relative, ".hidden");
}

TEST(SafePath, DoubleEncodedDotDotDecodesOnceToAPlainName) {
  const SafePath p = make_safe_path("/%252e%252e/etc/passwd");
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.relative, "%2e%2e/etc/passwd");
}

TEST(SafePath, RefusesEncodedSlash) {
  EXPECT_EQ(refusal_of("/docs%2fa.txt"), PathRefusal::EncodedSeparator);
  EXPECT_EQ(refusal_of("/docs%2Fa.txt"), PathRefusal::EncodedSeparator);
  EXPECT_EQ(refusal_of("/..%2f..%2fetc%2fpasswd"), PathRefusal::EncodedSeparator);
  EXPECT_EQ(refusal_of("/%2f"), PathRefusal::EncodedSeparator);
}

TEST(SafePath, RefusesBackslashLiteralAndEncoded) {
  EXPECT_EQ(refusal_of("/a\\b"), PathRefusal::Backslash);
  EXPECT_EQ(refusal_of("/..\\..\\etc\\passwd"), PathRefusal::Backslash);
  EXPECT_EQ(refusal_of("/a%5cb"), PathRefusal::Backslash);
  EXPECT_EQ(refusal_of("/a%5Cb"), PathRefusal::Backslash);
  EXPECT_EQ(refusal_of("/..%5c..%5cetc%5cpasswd"), PathRefusal::Backslash);
}

TEST(SafePath, RefusesRawNul) {
  EXPECT_EQ(refusal_of(std::string_view("/a\0b", 4)), PathRefusal::Nul);
}

TEST(SafePath, RefusesEncodedNul) {
  EXPECT_EQ(refusal_of("/a.txt%00.html"), PathRefusal::Nul);
  EXPECT_EQ(refusal_of("/%00"), PathRefusal::Nul);
}

TEST(SafePath, RefusesMalformedEscapes) {
  for (const char* raw : {"/%zz", "/%4", "/a%", "/a%g0", "/%0g", "/%%41", "/a%2", "/%-1", "/% 1"}) {
    EXPECT_EQ(refusal_of(raw), PathRefusal::MalformedEscape) << raw;
  }
}

TEST(SafePath, MalformedEscapeWinsOverEarlierRefusal) {
  // The handler answers 400 for a malformed request wherever the bad escape is.
  EXPECT_EQ(refusal_of("/../%zz"), PathRefusal::MalformedEscape);
  EXPECT_EQ(refusal_of("/%2f/%4"), PathRefusal::MalformedEscape);
}

TEST(SafePath, RefusesRelativeAndEmptyPaths) {
  EXPECT_EQ(refusal_of(""), PathRefusal::NotAbsolute);
  EXPECT_EQ(refusal_of("docs/a.txt"), PathRefusal::NotAbsolute);
  EXPECT_EQ(refusal_of("*"), PathRefusal::NotAbsolute);
  EXPECT_EQ(refusal_of("%2fetc/passwd"), PathRefusal::NotAbsolute);
}

TEST(SafePath, RefusedPathHasNoRelativePath) {
  const SafePath p = make_safe_path("/docs/../secret");
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.relative, "");
}

TEST(SafePath, KeepsControlAndHighBytesAsNameBytes) {
  // Only '/', '\' and NUL are special to the filesystem layer; everything
  // else is just a byte of a name (escaped later when shown).
  EXPECT_EQ(make_safe_path("/a%0Ab").relative, "a\nb");
  EXPECT_EQ(make_safe_path("/%FF").relative, "\xff");
}

// The listing's links are names through url_encode (<forkserve/form.hpp>).
TEST(SafePath, UrlEncodedNameRoundTripsThroughDecoding) {
  const std::string name = "weird name%2e%2e#?&\xc3\xa9";
  const SafePath p = make_safe_path("/" + url_encode(name));
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.relative, name);
}

}  // namespace
}  // namespace forkserve::handlers
