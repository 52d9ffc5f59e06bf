// Range header evaluation (RFC 9110 §14.1.2 examples and the caps).
#include "handlers/ranges.hpp"

#include <gtest/gtest.h>

#include <string>

namespace forkserve::handlers {
namespace {

using Kind = RangeAnswer::Kind;

// "0-499,500-999" style summary of the ranges, or the kind's name.
std::string describe(const RangeAnswer& answer) {
  if (answer.kind == Kind::Whole) return "whole";
  if (answer.kind == Kind::Unsatisfiable) return "unsatisfiable";
  std::string out;
  for (const ByteRange& r : answer.ranges) {
    if (!out.empty()) out += ",";
    out += std::to_string(r.first) + "-" + std::to_string(r.last);
  }
  return out;
}

TEST(RangesTest, SingleRangesOfTheThreeForms) {
  EXPECT_EQ(describe(evaluate_range("bytes=0-499", 10000)), "0-499");
  EXPECT_EQ(describe(evaluate_range("bytes=9500-", 10000)), "9500-9999");
  EXPECT_EQ(describe(evaluate_range("bytes=-500", 10000)), "9500-9999");
}

TEST(RangesTest, LastPositionPastTheEndIsClamped) {
  EXPECT_EQ(describe(evaluate_range("bytes=5-1000", 10)), "5-9");
}

TEST(RangesTest, SuffixLongerThanTheFileIsTheWholeFileAsARange) {
  EXPECT_EQ(describe(evaluate_range("bytes=-50", 10)), "0-9");
}

TEST(RangesTest, SeveralRangesKeepTheirOrder) {
  EXPECT_EQ(describe(evaluate_range("bytes=500-599, 0-99 ,-10", 1000)), "500-599,0-99,990-999");
}

TEST(RangesTest, UnitIsCaseInsensitiveAndOtherUnitsAreIgnored) {
  EXPECT_EQ(describe(evaluate_range("Bytes=0-0", 10)), "0-0");
  EXPECT_EQ(describe(evaluate_range("items=0-0", 10)), "whole");
}

TEST(RangesTest, MalformedValuesAreIgnored) {
  for (const char* header : {"bytes=", "bytes=,", "bytes=5", "bytes=a-b", "bytes=5-4", "bytes=--5", "bytes=-",
                             "bytes=1-2-3", "bytes=+1-2", "bytes= 1 - 2", "bytes=99999999999999999999999-"}) {
    EXPECT_EQ(describe(evaluate_range(header, 100)), "whole") << header;
  }
}

TEST(RangesTest, RangesStartingPastTheEndAreUnsatisfiable) {
  EXPECT_EQ(describe(evaluate_range("bytes=100-", 100)), "unsatisfiable");
  EXPECT_EQ(describe(evaluate_range("bytes=100-200,300-", 100)), "unsatisfiable");
  EXPECT_EQ(describe(evaluate_range("bytes=-0", 100)), "unsatisfiable");
  EXPECT_EQ(describe(evaluate_range("bytes=0-", 0)), "unsatisfiable");
}

TEST(RangesTest, UnsatisfiableRangesAmongGoodOnesAreDropped) {
  EXPECT_EQ(describe(evaluate_range("bytes=200-300,0-9", 100)), "0-9");
}

TEST(RangesTest, MoreThanTheCapOfRangesGivesTheWholeFile) {
  std::string at_cap = "bytes=";
  for (std::size_t i = 0; i < kMaxRanges; ++i)
    at_cap += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
  EXPECT_EQ(evaluate_range(at_cap, 1000).ranges.size(), kMaxRanges);
  EXPECT_EQ(describe(evaluate_range(at_cap + "900-901", 1000)), "whole");
}

TEST(RangesTest, OverlapAddingUpToMoreThanTheFileGivesTheWholeFile) {
  EXPECT_EQ(describe(evaluate_range("bytes=0-59,40-99", 100)), "whole");  // 120 bytes of 100
  EXPECT_EQ(describe(evaluate_range("bytes=0-,0-", 100)), "whole");
  // Overlap that stays within the file's size is served as asked.
  EXPECT_EQ(describe(evaluate_range("bytes=0-29,20-49", 100)), "0-29,20-49");
  EXPECT_EQ(describe(evaluate_range("bytes=0-49,50-99", 100)), "0-49,50-99");
}

}  // namespace
}  // namespace forkserve::handlers
