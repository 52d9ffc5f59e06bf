// HTTP-date formatting and parsing (RFC 9110 §5.6.7) and the access-log
// timestamp. Calendar arithmetic is done here on integers, so nothing depends
// on the locale, the TZ variable or stdio.
#include "http/date.hpp"

#include <array>
#include <cstdint>

namespace forkserve::http {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                           "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::int64_t kSecondsPerDay = 86400;

struct CivilTime {
  std::int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;   // 0..60 when parsed (leap second), 0..59 when formatted
  int weekday = 4;  // 0 = Sunday; 1970-01-01 was a Thursday
};

constexpr bool is_leap(std::int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

constexpr int days_in_month(std::int64_t year, int month) {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// Floor division, so days before 1970 land in the right 400-year era.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Days since 1970-01-01 of a proleptic Gregorian date. Counts in eras of 400
// years (146097 days) starting on 1 March, which puts the leap day last.
constexpr std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  const std::int64_t y = month <= 2 ? year - 1 : year;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t year_of_era = y - era * 400;                               // 0..399
  const std::int64_t month_from_march = month > 2 ? month - 3 : month + 9;      // 0..11
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;  // 0..365
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // 0..146096
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

// The inverse of days_from_civil.
constexpr void civil_from_days(std::int64_t days, CivilTime& out) {
  const std::int64_t z = days + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t day_of_era = z - era * 146097;  // 0..146096
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;  // 0..399
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // 0..365
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;           // 0..11
  out.day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  out.month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  out.year = year_of_era + era * 400 + (out.month <= 2 ? 1 : 0);
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(1994, 11, 6) == 784111777 / kSecondsPerDay);
static_assert(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28) == 2);

CivilTime to_civil(std::time_t t) {
  const auto seconds = static_cast<std::int64_t>(t);
  const std::int64_t days = floor_div(seconds, kSecondsPerDay);
  const std::int64_t second_of_day = seconds - days * kSecondsPerDay;
  CivilTime c;
  civil_from_days(days, c);
  c.hour = static_cast<int>(second_of_day / 3600);
  c.minute = static_cast<int>(second_of_day / 60 % 60);
  c.second = static_cast<int>(second_of_day % 60);
  const std::int64_t weekday = (days + 4) % 7;  // day 0 was a Thursday
  c.weekday = static_cast<int>(weekday < 0 ? weekday + 7 : weekday);
  return c;
}

// Appends `value` in decimal, zero-padded to `width` digits.
void append_number(std::string& out, std::int64_t value, int width) {
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (int pad = width - n; pad > 0; --pad) out.push_back('0');
  while (n > 0) out.push_back(digits[--n]);
}

// A cursor over the text being parsed; every step fails once anything
// did not match, so a parse is a straight sequence of expectations.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && pos_ == text_.size(); }

  void literal(std::string_view expected) {
    if (ok_ && text_.substr(pos_, expected.size()) == expected) {
      pos_ += expected.size();
    } else {
      ok_ = false;
    }
  }

  // Exactly `count` ASCII digits.
  int digits(int count) {
    int value = 0;
    for (int i = 0; i < count && ok_; ++i) {
      if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        value = value * 10 + (text_[pos_++] - '0');
      } else {
        ok_ = false;
      }
    }
    return value;
  }

  // asctime's day: two digits, or a space and one digit.
  int padded_day() {
    if (ok_ && pos_ < text_.size() && text_[pos_] == ' ') {
      ++pos_;
      return digits(1);
    }
    return digits(2);
  }

  // One of `names` (case-sensitive, as RFC 9110 requires); its index.
  template <std::size_t N>
  int name(const std::array<std::string_view, N>& names) {
    if (!ok_) return 0;
    for (std::size_t i = 0; i < N; ++i) {
      if (text_.substr(pos_, names[i].size()) == names[i]) {
        pos_ += names[i].size();
        return static_cast<int>(i);
      }
    }
    ok_ = false;
    return 0;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// "08:49:37"
void time_of_day(Scanner& s, CivilTime& c) {
  c.hour = s.digits(2);
  s.literal(":");
  c.minute = s.digits(2);
  s.literal(":");
  c.second = s.digits(2);
}

// RFC 9110: a two-digit year that would be more than 50 years in the future
// means the most recent past year with those digits.
std::int64_t expand_two_digit_year(int yy) {
  const std::int64_t this_year = to_civil(std::time(nullptr)).year;
  std::int64_t year = this_year - this_year % 100 + yy;
  if (year > this_year + 50) year -= 100;
  return year;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<CivilTime> parse_imf_fixdate(std::string_view text) {
  Scanner s(text);
  CivilTime c;
  c.weekday = s.name(kDayNames);
  s.literal(", ");
  c.day = s.digits(2);
  s.literal(" ");
  c.month = s.name(kMonthNames) + 1;
  s.literal(" ");
  c.year = s.digits(4);
  s.literal(" ");
  time_of_day(s, c);
  s.literal(" GMT");
  if (!s.at_end()) return std::nullopt;
  return c;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<CivilTime> parse_rfc850_date(std::string_view text) {
  Scanner s(text);
  CivilTime c;
  c.weekday = s.name(kLongDayNames);
  s.literal(", ");
  c.day = s.digits(2);
  s.literal("-");
  c.month = s.name(kMonthNames) + 1;
  s.literal("-");
  const int yy = s.digits(2);
  s.literal(" ");
  time_of_day(s, c);
  s.literal(" GMT");
  if (!s.at_end()) return std::nullopt;
  c.year = expand_two_digit_year(yy);
  return c;
}

// "Sun Nov  6 08:49:37 1994"
std::optional<CivilTime> parse_asctime_date(std::string_view text) {
  Scanner s(text);
  CivilTime c;
  c.weekday = s.name(kDayNames);
  s.literal(" ");
  c.month = s.name(kMonthNames) + 1;
  s.literal(" ");
  c.day = s.padded_day();
  s.literal(" ");
  time_of_day(s, c);
  s.literal(" ");
  c.year = s.digits(4);
  if (!s.at_end()) return std::nullopt;
  return c;
}

}  // namespace

std::string format_http_date(std::time_t t) {
  const CivilTime c = to_civil(t);
  std::string out;
  out.reserve(29);
  out.append(kDayNames[static_cast<std::size_t>(c.weekday)]).append(", ");
  append_number(out, c.day, 2);
  out.append(" ").append(kMonthNames[static_cast<std::size_t>(c.month - 1)]).append(" ");
  append_number(out, c.year, 4);
  out.push_back(' ');
  append_number(out, c.hour, 2);
  out.push_back(':');
  append_number(out, c.minute, 2);
  out.push_back(':');
  append_number(out, c.second, 2);
  out.append(" GMT");
  return out;
}

// The weekday is checked for spelling only, not against the date (as most
// recipients do): a sender's wrong weekday says nothing about the instant.
std::optional<std::time_t> parse_http_date(std::string_view text) {
  std::optional<CivilTime> c = parse_imf_fixdate(text);
  if (!c) c = parse_rfc850_date(text);
  if (!c) c = parse_asctime_date(text);
  if (!c) return std::nullopt;
  if (c->day < 1 || c->day > days_in_month(c->year, c->month) || c->hour > 23 || c->minute > 59 ||
      c->second > 60) {
    return std::nullopt;
  }
  const std::int64_t seconds = days_from_civil(c->year, c->month, c->day) * kSecondsPerDay + c->hour * 3600 +
                               c->minute * 60 + c->second;
  return static_cast<std::time_t>(seconds);
}

std::string format_log_date(std::time_t t) {
  const CivilTime c = to_civil(t);
  std::string out;
  out.reserve(26);
  append_number(out, c.day, 2);
  out.append("/").append(kMonthNames[static_cast<std::size_t>(c.month - 1)]).append("/");
  append_number(out, c.year, 4);
  out.push_back(':');
  append_number(out, c.hour, 2);
  out.push_back(':');
  append_number(out, c.minute, 2);
  out.push_back(':');
  append_number(out, c.second, 2);
  out.append(" +0000");
  return out;
}

char* append_rfc3339(char* out, std::time_t t, int milliseconds) {
  const CivilTime c = to_civil(t);
  auto put = [&out](std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    out += width;
  };
  put(c.year < 0 ? 0 : c.year % 10000, 4);
  *out++ = '-';
  put(c.month, 2);
  *out++ = '-';
  put(c.day, 2);
  *out++ = 'T';
  put(c.hour, 2);
  *out++ = ':';
  put(c.minute, 2);
  *out++ = ':';
  put(c.second, 2);
  *out++ = '.';
  put(milliseconds < 0 || milliseconds > 999 ? 0 : milliseconds, 3);
  *out++ = 'Z';
  return out;
}

char* append_syslog_time(char* out, std::time_t t) {
  const CivilTime c = to_civil(t);
  for (char ch : kMonthNames[static_cast<std::size_t>(c.month - 1)]) *out++ = ch;
  *out++ = ' ';
  *out++ = c.day < 10 ? ' ' : static_cast<char>('0' + c.day / 10);
  *out++ = static_cast<char>('0' + c.day % 10);
  const int parts[3] = {c.hour, c.minute, c.second};
  for (int i = 0; i < 3; ++i) {
    *out++ = i == 0 ? ' ' : ':';
    *out++ = static_cast<char>('0' + parts[i] / 10);
    *out++ = static_cast<char>('0' + parts[i] % 10);
  }
  return out;
}

}  // namespace forkserve::http
