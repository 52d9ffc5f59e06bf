#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "http/date.hpp"

namespace forkserve::http {
namespace {

constexpr std::time_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

// gmtime_r as an independent oracle for the hand-rolled calendar.
std::string oracle_http_date(std::time_t t) {
  static const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return out;
}

TEST(HttpDate, FormatsTheRfcExample) {
  EXPECT_EQ(format_http_date(kRfcExample), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(SyslogTime, IsRfc3164WithTheDayPaddedBySpace) {
  char out[kSyslogTimeSize];
  EXPECT_EQ(std::string_view(out, append_syslog_time(out, 784111777)), "Nov  6 08:49:37");
  EXPECT_EQ(std::string_view(out, append_syslog_time(out, 1796019596)), "Nov 30 06:19:56");
}

TEST(HttpDate, FormatsTheEpoch) { EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT"); }

TEST(HttpDate, FormatsLeapDays) {
  EXPECT_EQ(format_http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format_http_date(1709164800), "Thu, 29 Feb 2024 00:00:00 GMT");
}

TEST(HttpDate, FormatsTimesBeforeTheEpoch) {
  EXPECT_EQ(format_http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST(HttpDate, FormatMatchesGmtimeEveryDayFor60YearsAndBeyond2038) {
  // Every day from 1960 to 2100 at an odd time of day, plus the Y2038 edge.
  for (std::int64_t t = -315619200; t < 4102444800; t += 86400 + 3671) {
    ASSERT_EQ(format_http_date(static_cast<std::time_t>(t)), oracle_http_date(static_cast<std::time_t>(t)))
        << "t=" << t;
  }
  EXPECT_EQ(format_http_date(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT");
}

TEST(HttpDate, ParsesImfFixdate) { EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample); }

TEST(HttpDate, ParsesRfc850Date) {
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
}

TEST(HttpDate, ParsesAsctimeDateWithSpacePaddedDay) {
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kRfcExample);
}

TEST(HttpDate, ParsesAsctimeDateWithTwoDigitDay) {
  EXPECT_EQ(parse_http_date("Sun Nov 06 08:49:37 1994"), kRfcExample);
  EXPECT_EQ(parse_http_date("Wed Dec 31 23:59:59 1969"), -1);
}

TEST(HttpDate, Rfc850TwoDigitYearMoreThan50YearsAheadMeansThePast) {
  // 2094 would be more than 50 years in the future, so "94" is 1994; "04" is
  // 2004 (in the past). Both hold until 2044.
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-04 00:00:00 GMT"), 1072915200);
}

TEST(HttpDate, ParseRoundTripsFormat) {
  for (std::int64_t t = 0; t < 4102444800; t += 7 * 86400 + 12345) {
    ASSERT_EQ(parse_http_date(format_http_date(static_cast<std::time_t>(t))), t) << "t=" << t;
  }
}

TEST(HttpDate, ParseAcceptsLeapDayOnlyInLeapYears) {
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  EXPECT_EQ(parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT"), std::nullopt);
}

TEST(HttpDate, ParseIgnoresAWrongWeekdayName) {
  EXPECT_EQ(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
}

TEST(HttpDate, ParseRejectsOutOfRangeFields) {
  for (const char* text : {
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Sun, 31 Nov 1994 08:49:37 GMT",
           "Sun, 32 Dec 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:37 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",
       }) {
    EXPECT_EQ(parse_http_date(text), std::nullopt) << text;
  }
}

TEST(HttpDate, ParseRejectsMalformedText) {
  for (const char* text : {
           "",
           "Sun, 06 Nov 1994 08:49:37",      // no zone
           "Sun, 06 Nov 1994 08:49:37 UTC",  // only GMT is allowed
           "Sun, 06 Nov 1994 08:49:37 +0000",
           "Sun, 06 Nov 1994 08:49:37 GMT ",  // trailing space
           " Sun, 06 Nov 1994 08:49:37 GMT",  // leading space
           "Sun, 6 Nov 1994 08:49:37 GMT",    // one-digit day
           "Sun, 06 Nov 94 08:49:37 GMT",     // two-digit year in IMF-fixdate
           "Sun, 06 nov 1994 08:49:37 GMT",   // month names are case-sensitive
           "sun, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 gmt",
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Foo 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun, 06 Nov 1994 08:49 GMT",
           "Sun, 06 Nov 19x4 08:49:37 GMT",
           "Sun 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",  // two members
           "Sun, 06-Nov-94 08:49:37 GMT",                                   // RFC 850 needs the full weekday
           "Sunday, 06-Nov-1994 08:49:37 GMT",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun Nov 6 08:49:37 1994",
           "1994-11-06T08:49:37Z",
           "784111777",
       }) {
    EXPECT_EQ(parse_http_date(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(HttpDate, ParseStopsAtTheViewEnd) {
  const std::string text = "Sun, 06 Nov 1994 08:49:37 GMTXYZ";
  EXPECT_EQ(parse_http_date(std::string_view(text).substr(0, 29)), kRfcExample);
}

TEST(HttpDate, FormatsLogDate) {
  EXPECT_EQ(format_log_date(kRfcExample), "06/Nov/1994:08:49:37 +0000");
  EXPECT_EQ(format_log_date(971185536), "10/Oct/2000:13:45:36 +0000");
}

std::string rfc3339(std::time_t t, int milliseconds) {
  char out[kRfc3339Size];
  return {out, append_rfc3339(out, t, milliseconds)};
}

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(rfc3339(kRfcExample, 7), "1994-11-06T08:49:37.007Z");
  EXPECT_EQ(rfc3339(0, 999), "1970-01-01T00:00:00.999Z");
  EXPECT_EQ(rfc3339(951782400, 0), "2000-02-29T00:00:00.000Z");
}

TEST(Rfc3339, MatchesGmtimeEveryDayForDecades) {
  for (std::time_t t = 0; t < 4'000'000'000; t += 86'400 + 3'607) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char expected[96];
    std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.123Z", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    ASSERT_EQ(rfc3339(t, 123), expected) << t;
  }
}

}  // namespace
}  // namespace forkserve::http
