// Runs every request in tests/data/requests against the expectation beside it,
// whole and cut at every byte.
//
// valid/NAME.http and valid/NAME.expect, one "key value" per line, '#' starts a comment:
//   method GET | target /a?b | path /a | query b | version HTTP/1.1    (query defaults to empty)
//   header Name: value        every header, in order
//   content_length 5          absent: no Content-Length
//   chunked yes               Transfer-Encoding: chunked; absent: not chunked
//   body hello                the bytes after the head; absent: none
// invalid/NAME.http and invalid/NAME.expect:
//   status 400
//   reason two Content-Length headers
// Either kind may set "limit max_request_line|max_header_bytes|max_headers N".
// Values take the escapes \r \n \t \\ \xHH, so byte-exact requests keep text expectations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.hpp"

namespace forkserve::http {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpusDir = FORKSERVE_REQUEST_CORPUS;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Names of the cases in valid/ or invalid/, sorted.
std::vector<std::string> case_names(std::string_view kind) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kCorpusDir / kind, ec)) {
    if (entry.path().extension() == ".http") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// gtest parameter names must be identifiers.
std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// A copy of the bytes in a heap block of exactly their size: AddressSanitizer
// reports any read past the end.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes)
      : data_(std::make_unique<char[]>(bytes.size())), size_(bytes.size()) {
    if (size_ > 0) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

std::string escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u >= 0x7F) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

// Undoes escape(); false on a malformed escape.
bool unescape(std::string_view s, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'x': {
        if (s.size() - i < 3) return false;  // two hex digits must follow
        const std::string hex(s.substr(i + 1, 2));
        if (!std::isxdigit(static_cast<unsigned char>(hex[0])) ||
            !std::isxdigit(static_cast<unsigned char>(hex[1]))) {
          return false;
        }
        out += static_cast<char>(std::stoi(hex, nullptr, 16));
        i += 2;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// What a Complete result says, in the .expect vocabulary.
struct HeadSummary {
  std::string method, target, path, query, version;
  int version_minor = 0;
  std::vector<std::string> headers;  // header_line() of each
  std::optional<unsigned long long> content_length;
  bool chunked = false;
  std::string body;

  bool operator==(const HeadSummary&) const = default;
};

void PrintTo(const HeadSummary& s, std::ostream* os) {
  *os << "\nmethod " << escape(s.method) << "\ntarget " << escape(s.target) << "\npath " << escape(s.path)
      << "\nquery " << escape(s.query) << "\nversion " << escape(s.version) << " (minor " << s.version_minor
      << ")";
  for (const std::string& h : s.headers) *os << "\nheader " << escape(h);
  if (s.content_length) *os << "\ncontent_length " << *s.content_length;
  if (s.chunked) *os << "\nchunked yes";
  *os << "\nbody " << escape(s.body) << "\n";
}

// "Name: value", or "Name:" for an empty value.
std::string header_line(std::string_view name, std::string_view value) {
  return std::string(name) + ":" + (value.empty() ? "" : " ") + std::string(value);
}

HeadSummary summarize(const ParseResult& result, std::string_view input) {
  const RequestHead& head = result.head;
  HeadSummary s;
  s.method = head.method;
  s.target = head.target;
  s.path = head.path;
  s.query = head.query;
  s.version = head.version;
  s.version_minor = head.version_minor;
  s.content_length = head.content_length;
  s.chunked = head.chunked;
  s.body = input.substr(result.head_length);
  for (const HeaderField& field : head.headers) s.headers.push_back(header_line(field.name, field.value));
  return s;
}

struct Expectation {
  Limits limits;
  HeadSummary head;    // valid cases
  int status = 0;      // invalid cases
  std::string reason;  // invalid cases
  std::set<std::string> keys;
  std::vector<std::string> problems;  // lines the reader did not understand
};

Expectation read_expectation(const fs::path& path) {
  Expectation e;
  std::ifstream in(path);
  if (!in) e.problems.push_back("cannot open " + path.string());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    std::string value;
    if (!unescape(space == std::string::npos ? "" : std::string_view(line).substr(space + 1), value)) {
      e.problems.push_back("bad escape: " + line);
      continue;
    }
    e.keys.insert(key);
    try {
      if (key == "method") {
        e.head.method = value;
      } else if (key == "target") {
        e.head.target = value;
      } else if (key == "path") {
        e.head.path = value;
      } else if (key == "query") {
        e.head.query = value;
      } else if (key == "version") {
        e.head.version = value;
        e.head.version_minor = value == "HTTP/1.1" ? 1 : 0;
      } else if (key == "header") {
        const std::size_t colon = value.find(':');
        if (colon == std::string::npos) {
          e.problems.push_back("header without colon: " + line);
          continue;
        }
        const std::size_t value_start = value.find_first_not_of(' ', colon + 1);
        e.head.headers.push_back(header_line(
            value.substr(0, colon), value_start == std::string::npos ? "" : value.substr(value_start)));
      } else if (key == "content_length") {
        e.head.content_length = std::stoull(value);
      } else if (key == "chunked") {
        e.head.chunked = value == "yes";
      } else if (key == "body") {
        e.head.body = value;
      } else if (key == "status") {
        e.status = std::stoi(value);
      } else if (key == "reason") {
        e.reason = value;
      } else if (key == "limit") {
        const std::size_t sep = value.find(' ');
        const std::string which = value.substr(0, sep);
        const std::size_t n = std::stoull(value.substr(sep + 1));
        if (which == "max_request_line") {
          e.limits.max_request_line = n;
        } else if (which == "max_header_bytes") {
          e.limits.max_header_bytes = n;
        } else if (which == "max_headers") {
          e.limits.max_headers = n;
        } else {
          e.problems.push_back("unknown limit: " + line);
        }
      } else {
        e.problems.push_back("unknown key: " + line);
      }
    } catch (const std::exception&) {
      e.problems.push_back("bad number: " + line);
    }
  }
  return e;
}

std::string describe(const ParseResult& r) {
  switch (r.status) {
    case ParseStatus::Complete:
      return "Complete (head_length " + std::to_string(r.head_length) + ")";
    case ParseStatus::Incomplete:
      return "Incomplete";
    case ParseStatus::Error:
      return "Error " + std::to_string(r.error_status) + " \"" + std::string(r.reason) + "\"";
  }
  return "?";
}

struct Case {
  std::string bytes;
  Expectation expect;
};

Case load(std::string_view kind, const std::string& name) {
  const fs::path base = kCorpusDir / kind / name;
  return {read_file(base.string() + ".http"), read_expectation(base.string() + ".expect")};
}

class ValidRequest : public testing::TestWithParam<std::string> {};
class InvalidRequest : public testing::TestWithParam<std::string> {};

TEST_P(ValidRequest, ParsesAsExpected) {
  const Case c = load("valid", GetParam());
  ASSERT_EQ(c.expect.problems, std::vector<std::string>{});
  for (const char* key : {"method", "target", "path", "version"}) {
    ASSERT_TRUE(c.expect.keys.count(key)) << "expectation lacks \"" << key << "\"";
  }

  const ExactBuffer whole(c.bytes);
  const ParseResult result = parse_request_head(whole.view(), c.expect.limits);
  ASSERT_EQ(result.status, ParseStatus::Complete) << describe(result);
  EXPECT_EQ(summarize(result, whole.view()), c.expect.head);
}

TEST_P(ValidRequest, IsIncompleteUntilTheHeadEndsAtEverySplit) {
  const Case c = load("valid", GetParam());
  const ExactBuffer whole(c.bytes);
  const ParseResult full = parse_request_head(whole.view(), c.expect.limits);
  ASSERT_EQ(full.status, ParseStatus::Complete) << describe(full);
  const std::size_t head_length = full.head_length;
  ASSERT_GT(head_length, 0u);

  for (std::size_t k = 0; k < c.bytes.size(); ++k) {
    const ExactBuffer prefix(std::string_view(c.bytes).substr(0, k));
    const ParseResult r = parse_request_head(prefix.view(), c.expect.limits);
    if (k < head_length) {
      ASSERT_EQ(r.status, ParseStatus::Incomplete) << "first " << k << " bytes: " << describe(r);
    } else {  // the head is all there; the rest is body
      ASSERT_EQ(r.status, ParseStatus::Complete) << "first " << k << " bytes: " << describe(r);
      ASSERT_EQ(r.head_length, head_length) << "first " << k << " bytes";
      HeadSummary expected = summarize(full, whole.view());
      expected.body.resize(k - head_length);
      ASSERT_EQ(summarize(r, prefix.view()), expected) << "first " << k << " bytes";
    }
  }
}

TEST_P(InvalidRequest, IsRejectedAsExpected) {
  const Case c = load("invalid", GetParam());
  ASSERT_EQ(c.expect.problems, std::vector<std::string>{});
  ASSERT_TRUE(c.expect.keys.count("status") && c.expect.keys.count("reason"))
      << "expectation needs status and reason";

  const ParseResult result = parse_request_head(ExactBuffer(c.bytes).view(), c.expect.limits);
  ASSERT_EQ(result.status, ParseStatus::Error) << describe(result);
  EXPECT_EQ(result.error_status, c.expect.status);
  EXPECT_EQ(result.reason, c.expect.reason);
}

TEST_P(InvalidRequest, IsIncompleteOrTheSameErrorAtEverySplit) {
  const Case c = load("invalid", GetParam());
  const ExactBuffer whole(c.bytes);
  const std::string expected = describe(parse_request_head(whole.view(), c.expect.limits));
  ASSERT_EQ(expected, "Error " + std::to_string(c.expect.status) + " \"" + c.expect.reason + "\"");

  for (std::size_t k = 0; k < c.bytes.size(); ++k) {
    const ExactBuffer prefix(std::string_view(c.bytes).substr(0, k));
    const std::string got = describe(parse_request_head(prefix.view(), c.expect.limits));
    if (got != "Incomplete") {
      ASSERT_EQ(got, expected) << "first " << k << " bytes";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, ValidRequest, testing::ValuesIn(case_names("valid")), test_name);
INSTANTIATE_TEST_SUITE_P(Corpus, InvalidRequest, testing::ValuesIn(case_names("invalid")), test_name);

TEST(RequestCorpus, HasValidAndInvalidCases) {
  EXPECT_FALSE(case_names("valid").empty()) << "no valid/*.http under " << kCorpusDir;
  EXPECT_FALSE(case_names("invalid").empty()) << "no invalid/*.http under " << kCorpusDir;
}

TEST(RequestCorpus, PairsEveryRequestWithAnExpectation) {
  for (const char* kind : {"valid", "invalid"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(kCorpusDir / kind, ec)) {
      const fs::path& p = entry.path();
      if (p.extension() == ".http") {
        EXPECT_TRUE(fs::exists(fs::path(p).replace_extension(".expect"))) << p << " has no .expect";
      } else if (p.extension() == ".expect") {
        EXPECT_TRUE(fs::exists(fs::path(p).replace_extension(".http"))) << p << " has no .http";
      } else {
        ADD_FAILURE() << "stray file " << p;
      }
    }
    EXPECT_FALSE(ec) << kind << ": " << ec.message();
  }
}

TEST(RequestCorpus, CoversEveryErrorStatus) {
  std::set<int> seen;
  for (const std::string& name : case_names("invalid")) seen.insert(load("invalid", name).expect.status);
  EXPECT_EQ(seen, (std::set<int>{400, 414, 431, 501, 505}));
}

}  // namespace
}  // namespace forkserve::http
