// Accept-Encoding weights (RFC 9110 §12.5.3).
#include "handlers/accept_encoding.hpp"

#include <gtest/gtest.h>

namespace forkserve::handlers {
namespace {

TEST(AcceptEncodingTest, ListedCodingsWeighOneByDefault) {
  EXPECT_EQ(coding_weight("gzip, deflate, br", "gzip"), 1000);
  EXPECT_EQ(coding_weight("gzip, deflate, br", "br"), 1000);
}

TEST(AcceptEncodingTest, UnlistedCodingWeighsZero) {
  EXPECT_EQ(coding_weight("gzip", "br"), 0);
  EXPECT_EQ(coding_weight("identity", "gzip"), 0);
  EXPECT_EQ(coding_weight("", "gzip"), 0);
}

TEST(AcceptEncodingTest, QValuesAreRead) {
  EXPECT_EQ(coding_weight("br;q=0.5, gzip;q=0.8", "br"), 500);
  EXPECT_EQ(coding_weight("br;q=0.5, gzip;q=0.8", "gzip"), 800);
  EXPECT_EQ(coding_weight("gzip ; Q=0.125", "gzip"), 125);
  EXPECT_EQ(coding_weight("gzip;q=1.000", "gzip"), 1000);
}

TEST(AcceptEncodingTest, QZeroRefuses) {
  EXPECT_EQ(coding_weight("gzip;q=0", "gzip"), 0);
  EXPECT_EQ(coding_weight("gzip;q=0.000, *", "gzip"), 0);
}

TEST(AcceptEncodingTest, StarCoversUnlistedCodings) {
  EXPECT_EQ(coding_weight("*;q=0.3", "br"), 300);
  EXPECT_EQ(coding_weight("br;q=0.9, *;q=0.1", "gzip"), 100);
}

TEST(AcceptEncodingTest, CodingNamesAreCaseInsensitiveAndXGzipIsGzip) {
  EXPECT_EQ(coding_weight("GZIP", "gzip"), 1000);
  EXPECT_EQ(coding_weight("x-gzip;q=0.4", "gzip"), 400);
}

TEST(AcceptEncodingTest, MalformedQValuesCountAsZero) {
  for (const char* value :
       {"gzip;q=2", "gzip;q=1.5", "gzip;q=0.1234", "gzip;q=", "gzip;q=abc", "gzip;q=-1"}) {
    EXPECT_EQ(coding_weight(value, "gzip"), 0) << value;
  }
}

}  // namespace
}  // namespace forkserve::handlers
