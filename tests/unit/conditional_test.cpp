// ETags and the evaluation of conditional headers (RFC 9110 §13).
#include "handlers/conditional.hpp"

#include <gtest/gtest.h>

#include <string>

namespace forkserve::handlers {
namespace {

constexpr std::time_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kModifiedText = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kEarlier = "Sat, 05 Nov 1994 08:49:37 GMT";
constexpr const char* kLater = "Mon, 07 Nov 1994 08:49:37 GMT";
const Validators kCurrent{"\"abc\"", kModified};

struct stat file_stat(long nanoseconds) {
  struct stat st {};
  st.st_dev = 0x801;
  st.st_ino = 1234;
  st.st_size = 42;
  st.st_mtim = {kModified, nanoseconds};
  return st;
}

TEST(ConditionalTest, EtagIsQuotedAndChangesWithTheNanoseconds) {
  const std::string a = make_etag(file_stat(1));
  const std::string b = make_etag(file_stat(2));
  EXPECT_TRUE(a.starts_with('"') && a.ends_with('"')) << a;
  EXPECT_EQ(a.find('"', 1), a.size() - 1) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, make_etag(file_stat(1)));
}

TEST(ConditionalTest, EtagChangesWithInodeAndSize) {
  struct stat st = file_stat(0);
  const std::string base = make_etag(st);
  st.st_ino = 1235;
  EXPECT_NE(make_etag(st), base);
  st = file_stat(0);
  st.st_size = 43;
  EXPECT_NE(make_etag(st), base);
}

TEST(ConditionalTest, EtagListMatching) {
  EXPECT_TRUE(etag_list_matches("\"abc\"", "\"abc\"", true));
  EXPECT_TRUE(etag_list_matches(" \"x\", \"abc\" ", "\"abc\"", true));
  EXPECT_TRUE(etag_list_matches("*", "\"abc\"", true));
  EXPECT_FALSE(etag_list_matches("W/\"abc\"", "\"abc\"", true));  // strong comparison
  EXPECT_TRUE(etag_list_matches("W/\"abc\"", "\"abc\"", false));  // weak comparison
  EXPECT_FALSE(etag_list_matches("\"abcd\"", "\"abc\"", false));
  EXPECT_FALSE(etag_list_matches("abc", "\"abc\"", false));
  EXPECT_FALSE(etag_list_matches("", "\"abc\"", false));
}

TEST(ConditionalTest, NoConditionsProceed) {
  EXPECT_EQ(evaluate_preconditions({}, kCurrent), Precondition::Proceed);
}

TEST(ConditionalTest, IfNoneMatchMatchingIsNotModified) {
  EXPECT_EQ(evaluate_preconditions({.if_none_match = "\"abc\""}, kCurrent), Precondition::NotModified);
  EXPECT_EQ(evaluate_preconditions({.if_none_match = "W/\"abc\""}, kCurrent), Precondition::NotModified);
  EXPECT_EQ(evaluate_preconditions({.if_none_match = "*"}, kCurrent), Precondition::NotModified);
  EXPECT_EQ(evaluate_preconditions({.if_none_match = "\"old\""}, kCurrent), Precondition::Proceed);
}

TEST(ConditionalTest, IfNoneMatchTakesPrecedenceOverIfModifiedSince) {
  EXPECT_EQ(evaluate_preconditions({.if_none_match = "\"old\"", .if_modified_since = kLater}, kCurrent),
            Precondition::Proceed);
}

TEST(ConditionalTest, IfModifiedSinceComparesDates) {
  EXPECT_EQ(evaluate_preconditions({.if_modified_since = kModifiedText}, kCurrent),
            Precondition::NotModified);
  EXPECT_EQ(evaluate_preconditions({.if_modified_since = kLater}, kCurrent), Precondition::NotModified);
  EXPECT_EQ(evaluate_preconditions({.if_modified_since = kEarlier}, kCurrent), Precondition::Proceed);
  EXPECT_EQ(evaluate_preconditions({.if_modified_since = "yesterday"}, kCurrent), Precondition::Proceed);
}

TEST(ConditionalTest, IfMatchFailsUnlessTheStrongTagMatches) {
  EXPECT_EQ(evaluate_preconditions({.if_match = "\"abc\""}, kCurrent), Precondition::Proceed);
  EXPECT_EQ(evaluate_preconditions({.if_match = "*"}, kCurrent), Precondition::Proceed);
  EXPECT_EQ(evaluate_preconditions({.if_match = "\"old\""}, kCurrent), Precondition::Failed);
  EXPECT_EQ(evaluate_preconditions({.if_match = "W/\"abc\""}, kCurrent), Precondition::Failed);
}

TEST(ConditionalTest, IfUnmodifiedSinceFailsForANewerFile) {
  EXPECT_EQ(evaluate_preconditions({.if_unmodified_since = kEarlier}, kCurrent), Precondition::Failed);
  EXPECT_EQ(evaluate_preconditions({.if_unmodified_since = kModifiedText}, kCurrent), Precondition::Proceed);
  EXPECT_EQ(evaluate_preconditions({.if_unmodified_since = "garbage"}, kCurrent), Precondition::Proceed);
}

TEST(ConditionalTest, IfMatchTakesPrecedenceOverIfUnmodifiedSince) {
  EXPECT_EQ(evaluate_preconditions({.if_match = "\"abc\"", .if_unmodified_since = kEarlier}, kCurrent),
            Precondition::Proceed);
}

TEST(ConditionalTest, FailedPreconditionWinsOverNotModified) {
  EXPECT_EQ(evaluate_preconditions({.if_match = "\"old\"", .if_none_match = "\"abc\""}, kCurrent),
            Precondition::Failed);
}

TEST(ConditionalTest, IfRangeHoldsForTheCurrentStrongTagOrExactDate) {
  EXPECT_TRUE(if_range_holds("\"abc\"", kCurrent));
  EXPECT_TRUE(if_range_holds(kModifiedText, kCurrent));
  EXPECT_FALSE(if_range_holds("\"old\"", kCurrent));
  EXPECT_FALSE(if_range_holds("W/\"abc\"", kCurrent));
  EXPECT_FALSE(if_range_holds(kLater, kCurrent));
  EXPECT_FALSE(if_range_holds("garbage", kCurrent));
}

}  // namespace
}  // namespace forkserve::handlers
