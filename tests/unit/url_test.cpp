#include "http/url.hpp"

#include <gtest/gtest.h>

namespace forkserve::http {
namespace {

TEST(PercentDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(percent_decode("/a%20b%2Fc%2fd"), "/a b/c/d");
  EXPECT_EQ(percent_decode("%e2%82%AC"), "\xe2\x82\xac");
}

TEST(PercentDecode, LeavesPlusAlone) { EXPECT_EQ(percent_decode("a+b"), "a+b"); }

TEST(PercentDecode, DecodesOnlyOnce) { EXPECT_EQ(percent_decode("%252e"), "%2e"); }

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("abc%"));
}

TEST(PercentDecode, RejectsEncodedNul) { EXPECT_FALSE(percent_decode("/a%00b")); }

}  // namespace
}  // namespace forkserve::http
