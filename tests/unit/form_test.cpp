// <forkserve/form.hpp>: percent decoding, urlencoded forms and queries,
// Cookie headers and media-type parameters, including what hostile clients send.
#include <gtest/gtest.h>

#include <forkserve/form.hpp>
#include <string>
#include <vector>

namespace forkserve {
namespace {

TEST(UrlDecode, DecodesEscapesOfAnyCase) {
  EXPECT_EQ(url_decode("%41%62%2f%2F%e2%82%ac"), "Ab//\xe2\x82\xac");
}

TEST(UrlDecode, PlusIsSpaceOnlyInFormEncoding) {
  EXPECT_EQ(url_decode("a+b"), "a+b");
  EXPECT_EQ(url_decode("a+b", true), "a b");
  EXPECT_EQ(url_decode("a%2Bb", true), "a+b");
}

TEST(UrlDecode, RejectsTruncatedAndNonHexEscapes) {
  for (const char* bad : {"%", "%4", "a%", "%zz", "%4g", "%%41", "abc%2"}) {
    EXPECT_THROW(url_decode(bad), BadRequest) << bad;
  }
}

TEST(UrlDecode, KeepsNulAndNonUtf8BytesAsData) {
  EXPECT_EQ(url_decode("a%00b%ff"), std::string("a\0b\xff", 4));
}

TEST(UrlEncode, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string encoded = url_encode(all);
  EXPECT_EQ(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  EXPECT_EQ(url_decode(encoded), all);
  EXPECT_EQ(url_encode("a b&c=d"), "a%20b%26c%3Dd");
}

TEST(UrlEncode, KeepsOnlyUnreservedAndWritesUppercaseHex) {
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode("a b?#%/:&\"<>'"), "a%20b%3F%23%25%2F%3A%26%22%3C%3E%27");
  EXPECT_EQ(url_encode("\xc3\xa9\x01"), "%C3%A9%01");
}

TEST(ParseUrlencoded, KeepsOrderAndRepeatedKeys) {
  const Fields f = parse_urlencoded("tag=a+b&x=1&tag=c%21");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f.get("tag"), "a b");
  EXPECT_EQ(f.get_all("tag"), (std::vector<std::string_view>{"a b", "c!"}));
  EXPECT_EQ(f.get("x"), "1");
  EXPECT_FALSE(f.get("y"));
}

TEST(ParseUrlencoded, NameWithoutValueIsEmptyAndEmptyPairsAreSkipped) {
  const Fields f = parse_urlencoded("&&a&b=&=c&&");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f.get("a"), "");
  EXPECT_EQ(f.get("b"), "");
  EXPECT_EQ(f.get(""), "c");
}

TEST(ParseUrlencoded, ValueMayHoldEqualsSigns) { EXPECT_EQ(parse_urlencoded("q=a=b=c").get("q"), "a=b=c"); }

TEST(ParseUrlencoded, BadEscapeIsBadRequest) { EXPECT_THROW(parse_urlencoded("a=1&b=%G0"), BadRequest); }

TEST(ParseUrlencoded, TooManyFieldsIsContentTooLarge) {
  std::string many;
  for (int i = 0; i < 11; ++i) many += "a=1&";
  EXPECT_NO_THROW(parse_urlencoded(many, 11));
  try {
    parse_urlencoded(many, 10);
    FAIL() << "11 fields passed a limit of 10";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status().code(), 413);
  }
}

TEST(ToUrlencoded, RoundTripsThroughTheParser) {
  Fields f;
  f.add("na me", "x&y=z+\n");
  f.add("k", "");
  const Fields back = parse_urlencoded(to_urlencoded(f));
  EXPECT_EQ(back.get("na me"), "x&y=z+\n");
  EXPECT_EQ(back.get("k"), "");
}

TEST(ParseCookies, SplitsPairsAndUnquotesValues) {
  const Fields c = parse_cookies("a=1; b=\"two words\";c=3");
  EXPECT_EQ(c.get("a"), "1");
  EXPECT_EQ(c.get("b"), "two words");
  EXPECT_EQ(c.get("c"), "3");
}

TEST(ParseCookies, SkipsJunkInsteadOfFailing) {
  const Fields c = parse_cookies(";;; junk; =novalue; bad name=1; ok=yes; \x01=2; x=\"; y==z");
  EXPECT_EQ(c.get("ok"), "yes");
  EXPECT_EQ(c.get("y"), "=z");
  EXPECT_EQ(c.get("x"), "\"");
  EXPECT_FALSE(c.contains("junk"));
  EXPECT_FALSE(c.contains("bad name"));
  EXPECT_FALSE(c.contains(""));
}

TEST(ParseCookies, FirstOfTwoEqualNamesWins) {
  EXPECT_EQ(parse_cookies("s=inner; s=outer").get("s"), "inner");
}

TEST(ParseCookies, DoesNotPercentDecode) { EXPECT_EQ(parse_cookies("n=a%20b").get("n"), "a%20b"); }

TEST(ParseCookies, StopsAtTheLimit) {
  std::string header;
  for (int i = 0; i < 50; ++i) header += "c" + std::to_string(i) + "=1; ";
  EXPECT_EQ(parse_cookies(header, 10).size(), 10u);
}

TEST(MediaType, LowercasesTypeAndParameterNames) {
  const MediaType m = MediaType::parse(" Multipart/Form-Data ; Boundary=abc ; charset=utf-8");
  EXPECT_EQ(m.type, "multipart/form-data");
  EXPECT_EQ(m.parameter("boundary"), "abc");
  EXPECT_EQ(m.parameter("charset"), "utf-8");
}

TEST(MediaType, QuotedValuesMayHoldSemicolonsAndEscapes) {
  const MediaType m = MediaType::parse(R"(form-data; name="a;b"; filename="x\"y.txt")");
  EXPECT_EQ(m.parameter("name"), "a;b");
  EXPECT_EQ(m.parameter("filename"), "x\"y.txt");
}

TEST(MediaType, JunkParametersAreSkippedAndUnterminatedQuoteEndsTheList) {
  const MediaType m = MediaType::parse("text/plain; ;; junk; a=1; b=\"open");
  EXPECT_EQ(m.type, "text/plain");
  EXPECT_EQ(m.parameter("a"), "1");
  EXPECT_FALSE(m.parameter("b"));
}

}  // namespace
}  // namespace forkserve
