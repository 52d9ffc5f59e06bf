// One behaviour of the request-head parser per test; whole-request cases live
// in the corpus (request_corpus_test.cpp).
#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace forkserve::http {
namespace {

using namespace std::string_literals;

ParseResult parse(std::string_view request, const Limits& limits = {}) {
  return parse_request_head(request, limits);
}

// The status and reason of an Error, "Complete" or "Incomplete" otherwise.
std::string outcome(const ParseResult& r) {
  switch (r.status) {
    case ParseStatus::Complete:
      return "Complete";
    case ParseStatus::Incomplete:
      return "Incomplete";
    case ParseStatus::Error:
      return std::to_string(r.error_status) + " " + std::string(r.reason);
  }
  return "?";
}

std::string outcome_of(std::string_view request, const Limits& limits = {}) {
  return outcome(parse(request, limits));
}

TEST(RequestParser, ParserParsesASimpleGet) {
  const std::string request = "GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  const ParseResult r = parse(request);
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head_length, request.size());
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.target, "/a/b?x=1&y");
  EXPECT_EQ(r.head.path, "/a/b");
  EXPECT_EQ(r.head.query, "x=1&y");
  EXPECT_EQ(r.head.version, "HTTP/1.1");
  EXPECT_EQ(r.head.version_minor, 1);
  EXPECT_EQ(r.head.request_line, "GET /a/b?x=1&y HTTP/1.1");
  ASSERT_EQ(r.head.headers.size(), 2u);
  EXPECT_EQ(r.head.headers[1].name, "Accept");
  EXPECT_EQ(r.head.headers[1].value, "*/*");
  EXPECT_FALSE(r.head.content_length.has_value());
}

TEST(RequestParser, ParserReturnsViewsIntoTheCallersBuffer) {
  const std::string request = "POST /p?q HTTP/1.0\r\nX-A: b\r\nContent-Length: 1\r\n\r\nz";
  const ParseResult r = parse(request);
  ASSERT_EQ(outcome(r), "Complete");
  const auto inside = [&](std::string_view v) {
    return v.data() >= request.data() && v.data() + v.size() <= request.data() + request.size();
  };
  EXPECT_TRUE(inside(r.head.method));
  EXPECT_TRUE(inside(r.head.target));
  EXPECT_TRUE(inside(r.head.path));
  EXPECT_TRUE(inside(r.head.query));
  EXPECT_TRUE(inside(r.head.version));
  EXPECT_TRUE(inside(r.head.request_line));
  for (const HeaderField& f : r.head.headers) {
    EXPECT_TRUE(inside(f.name));
    EXPECT_TRUE(inside(f.value));
  }
}

TEST(RequestParser, ParserReportsIncompleteUntilBlankLine) {
  EXPECT_EQ(outcome_of(""), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0"), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r"), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\n"), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: y\r\n"), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: y\r\n\r"), "Incomplete");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: y\r\n\r\n"), "Complete");
}

TEST(RequestParser, ParserLeavesBodyBytesAfterHeadLength) {
  const std::string head = "POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\n";
  const std::string request = head + "body";
  const ParseResult r = parse(request);
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head_length, head.size());
  EXPECT_EQ(r.head.content_length, 4u);
}

TEST(RequestParser, ParserAcceptsBareLineFeeds) {
  const std::string head = "GET /x HTTP/1.1\nHost: a\nX: y\n\n";
  const std::string request = head + "rest";
  const ParseResult r = parse(request);
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head_length, head.size());
  EXPECT_EQ(r.head.request_line, "GET /x HTTP/1.1");
  ASSERT_EQ(r.head.headers.size(), 2u);
  EXPECT_EQ(r.head.headers[1].value, "y");
}

TEST(RequestParser, ParserRejectsBareCarriageReturn) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\rX: y\r\n\r\n"), "400 bare CR");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: a\rb\r\n\r\n"), "400 bare CR");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\n\r\r\n"), "400 bare CR");
}

TEST(RequestParser, ParserSkipsAFewLeadingEmptyLines) {
  const ParseResult r = parse("\r\n\n\r\n\nGET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head.request_line, "GET / HTTP/1.0");
  EXPECT_EQ(r.head_length, 24u);
}

TEST(RequestParser, ParserRejectsManyLeadingEmptyLines) {
  EXPECT_EQ(outcome_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n"),
            "400 too many empty lines before request line");
}

TEST(RequestParser, ParserRejectsInvalidMethod) {
  EXPECT_EQ(outcome_of("G(T / HTTP/1.0\r\n\r\n"), "400 invalid method");
  EXPECT_EQ(outcome_of(" / HTTP/1.0\r\n\r\n"), "400 invalid method");
  EXPECT_EQ(outcome_of("GET\x80 / HTTP/1.0\r\n\r\n"), "400 invalid method");
}

TEST(RequestParser, ParserTreatsMethodAsCaseSensitive) {
  const ParseResult r = parse("get / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head.method, "get");
}

TEST(RequestParser, ParserRejectsExtraSpacesInRequestLine) {
  EXPECT_EQ(outcome_of("GET  / HTTP/1.0\r\n\r\n"), "400 empty request target");
  EXPECT_EQ(outcome_of("GET /  HTTP/1.0\r\n\r\n"), "400 invalid HTTP version");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0 \r\n\r\n"), "400 invalid HTTP version");
}

TEST(RequestParser, ParserRejectsTabAsSeparator) {
  EXPECT_EQ(outcome_of("GET\t/ HTTP/1.0\r\n\r\n"), "400 invalid character in request line");
}

TEST(RequestParser, ParserRejectsRequestWithoutVersion) {
  EXPECT_EQ(outcome_of("GET /\r\n\r\n"), "400 missing HTTP version");
  EXPECT_EQ(outcome_of("GET\r\n\r\n"), "400 missing request target");
}

TEST(RequestParser, ParserRejectsMalformedVersion) {
  for (const char* version :
       {"HTTP/1", "HTTP/1.", "HTTP/11", "HTTP/1.1.1", "http/1.1", "HTTP/a.1", "HTTP/1.10"}) {
    EXPECT_EQ(outcome_of("GET / "s + version + "\r\nHost: a\r\n\r\n"), "400 invalid HTTP version") << version;
  }
}

TEST(RequestParser, ParserAnswers505ForOtherVersions) {
  for (const char* version : {"HTTP/0.9", "HTTP/1.2", "HTTP/2.0", "HTTP/3.0"}) {
    EXPECT_EQ(outcome_of("GET / "s + version + "\r\nHost: a\r\n\r\n"), "505 HTTP version not supported")
        << version;
  }
}

TEST(RequestParser, ParserAcceptsHttp10AndHttp11) {
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").head.version_minor, 0);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").head.version_minor, 1);
}

TEST(RequestParser, ParserExtractsPathFromAbsoluteForm) {
  const ParseResult r = parse("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head.target, "http://example.com:8080/a/b?c=d");
  EXPECT_EQ(r.head.path, "/a/b");
  EXPECT_EQ(r.head.query, "c=d");
}

TEST(RequestParser, ParserUsesRootPathForAbsoluteFormWithoutPath) {
  EXPECT_EQ(parse("GET http://example.com HTTP/1.0\r\n\r\n").head.path, "/");
  const ParseResult r = parse("GET https://example.com?q HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.head.path, "/");
  EXPECT_EQ(r.head.query, "q");
}

TEST(RequestParser, ParserRejectsAbsoluteFormWithoutHost) {
  EXPECT_EQ(outcome_of("GET http:///x HTTP/1.0\r\n\r\n"), "400 absolute-form target without host");
}

TEST(RequestParser, ParserRejectsUserinfoInAbsoluteForm) {
  EXPECT_EQ(outcome_of("GET http://a@b/ HTTP/1.0\r\n\r\n"), "400 userinfo in request target");
}

TEST(RequestParser, ParserRejectsOtherTargetForms) {
  EXPECT_EQ(outcome_of("GET a/b HTTP/1.0\r\n\r\n"), "400 invalid request target");
  EXPECT_EQ(outcome_of("GET ftp://a/b HTTP/1.0\r\n\r\n"), "400 invalid request target");
  EXPECT_EQ(outcome_of("CONNECT example.com:443 HTTP/1.0\r\n\r\n"), "400 invalid request target");
}

TEST(RequestParser, ParserAcceptsAsteriskOnlyWithOptions) {
  const ParseResult r = parse("OPTIONS * HTTP/1.0\r\n\r\n");
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head.path, "*");
  EXPECT_EQ(outcome_of("GET * HTTP/1.0\r\n\r\n"), "400 asterisk-form target without OPTIONS");
  EXPECT_EQ(outcome_of("OPTIONS *x HTTP/1.0\r\n\r\n"), "400 invalid request target");
}

TEST(RequestParser, ParserRejectsControlBytesInTarget) {
  for (const char c : {'\0', '\x01', '\x1f', '\x7f'}) {
    EXPECT_EQ(outcome_of("GET /a"s + c + "b HTTP/1.0\r\n\r\n"), "400 invalid character in request line")
        << static_cast<int>(c);
  }
}

TEST(RequestParser, ParserAcceptsObsTextInTarget) {
  const ParseResult r = parse("GET /\xc3\xa9\xff HTTP/1.0\r\n\r\n");
  ASSERT_EQ(outcome(r), "Complete");
  EXPECT_EQ(r.head.path, "/\xc3\xa9\xff");
}

TEST(RequestParser, ParserSplitsQueryAtFirstQuestionMark) {
  const ParseResult r = parse("GET /a?b?c HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.head.path, "/a");
  EXPECT_EQ(r.head.query, "b?c");
}

TEST(RequestParser, ParserLeavesQueryEmptyWithoutQuestionMark) {
  const ParseResult r = parse("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.head.path, "/a");
  EXPECT_TRUE(r.head.query.empty());
}

TEST(RequestParser, ParserAcceptsRequestLineAtLimit) {
  Limits limits;
  limits.max_request_line = 17;
  EXPECT_EQ(outcome_of("GET /abc HTTP/1.0\r\n\r\n", limits), "Complete");  // 17 bytes
  EXPECT_EQ(outcome_of("GET /abc HTTP/1.0\n\n", limits), "Complete");
}

TEST(RequestParser, ParserRejectsRequestLineOverLimitWith414) {
  Limits limits;
  limits.max_request_line = 17;
  EXPECT_EQ(outcome_of("GET /abcd HTTP/1.0\r\n\r\n", limits), "414 request line too long");  // 18 bytes
}

TEST(RequestParser, ParserRejectsLongRequestLineBeforeItEnds) {
  Limits limits;
  limits.max_request_line = 16;
  EXPECT_EQ(outcome_of("GET /0123456789a", limits), "Incomplete");  // 16 bytes so far
  EXPECT_EQ(outcome_of("GET /0123456789ab", limits), "414 request line too long");
}

TEST(RequestParser, ParserPrefers414WhenRequestLineIsTheLongPart) {
  const std::string huge = "GET /" + std::string(Limits{}.max_header_bytes + 100, 'a');
  EXPECT_EQ(outcome_of(huge), "414 request line too long");
}

TEST(RequestParser, ParserAcceptsDefaultSizedRequestLine) {
  const std::string target = "/" + std::string(Limits{}.max_request_line - 14, 'a');
  const std::string line = "GET " + target + " HTTP/1.0";
  ASSERT_EQ(line.size(), Limits{}.max_request_line);
  EXPECT_EQ(outcome_of(line + "\r\n\r\n"), "Complete");
  EXPECT_EQ(outcome_of("GET " + target + "a HTTP/1.0\r\n\r\n"), "414 request line too long");
}

TEST(RequestParser, ParserAcceptsHeadAtLimit) {
  const std::string request = "GET / HTTP/1.0\r\nX: 12345\r\n\r\n";
  Limits limits;
  limits.max_header_bytes = request.size();
  EXPECT_EQ(outcome_of(request, limits), "Complete");
}

TEST(RequestParser, ParserRejectsHeadOverLimitWith431) {
  const std::string request = "GET / HTTP/1.0\r\nX: 123456\r\n\r\n";
  Limits limits;
  limits.max_header_bytes = request.size() - 1;
  EXPECT_EQ(outcome_of(request, limits), "431 request head too large");
}

TEST(RequestParser, ParserRejectsLargeHeadBeforeBlankLine) {
  Limits limits;
  limits.max_header_bytes = 64;
  const std::string partial = "GET / HTTP/1.0\r\nX-Filler: " + std::string(80, 'y');
  EXPECT_EQ(outcome_of(partial.substr(0, 64), limits), "431 request head too large");
  EXPECT_EQ(outcome_of(partial.substr(0, 63), limits), "Incomplete");
}

TEST(RequestParser, ParserAcceptsHeadersAtLimit) {
  Limits limits;
  limits.max_headers = 2;
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", limits), "Complete");
}

TEST(RequestParser, ParserRejectsTooManyHeadersWith431) {
  Limits limits;
  limits.max_headers = 2;
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), "431 too many headers");
}

TEST(RequestParser, ParserRejectsObsFold) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: a\r\n b\r\n\r\n"), "400 header line starts with whitespace");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: a\r\n\tb\r\n\r\n"), "400 header line starts with whitespace");
}

TEST(RequestParser, ParserRejectsWhitespaceBeforeColon) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nContent-Length : 1\r\n\r\n"),
            "400 header name contains whitespace");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX\t: 1\r\n\r\n"), "400 header name contains whitespace");
}

TEST(RequestParser, ParserRejectsInvalidHeaderNames) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\n: v\r\n\r\n"), "400 empty header name");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX@Y: v\r\n\r\n"), "400 invalid header name");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX\x00Y: v\r\n\r\n"s), "400 invalid header name");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nNoColon\r\n\r\n"), "400 header line without colon");
}

TEST(RequestParser, ParserRejectsControlBytesInHeaderValue) {
  for (const char c : {'\0', '\x01', '\x0b', '\x1f', '\x7f'}) {
    EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nX: a"s + c + "b\r\n\r\n"),
              "400 invalid character in header value")
        << static_cast<int>(c);
  }
}

TEST(RequestParser, ParserTrimsSpacesAndTabsAroundValues) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nX: \t a \t b\t \r\n\r\n");
  ASSERT_EQ(r.head.headers.size(), 1u);
  EXPECT_EQ(r.head.headers[0].value, "a \t b");
}

TEST(RequestParser, ParserAcceptsEmptyHeaderValue) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nX:\r\nY:  \r\n\r\n");
  ASSERT_EQ(r.head.headers.size(), 2u);
  EXPECT_EQ(r.head.headers[0].value, "");
  EXPECT_EQ(r.head.headers[1].value, "");
}

TEST(RequestParser, ParserAcceptsObsTextInHeaderValue) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nX: caf\xe9\xff\r\n\r\n");
  ASSERT_EQ(r.head.headers.size(), 1u);
  EXPECT_EQ(r.head.headers[0].value, "caf\xe9\xff");
}

TEST(RequestParser, ParserParsesContentLength) {
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n").head.content_length, 0u);
  EXPECT_EQ(parse("POST / HTTP/1.0\r\ncontent-length:  42 \r\n\r\n").head.content_length, 42u);
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 18446744073709551615\r\n\r\n").head.content_length,
            18446744073709551615ull);
}

TEST(RequestParser, ParserRejectsMalformedContentLength) {
  for (const char* value : {"", "-1", "+1", "1,1", "1, 1", "1 1", "0x10", "1.0", "١", "18446744073709551616",
                            "99999999999999999999999"}) {
    EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nContent-Length: "s + value + "\r\n\r\n"),
              "400 invalid Content-Length")
        << value;
  }
}

TEST(RequestParser, ParserRejectsTwoContentLengths) {
  EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
            "400 two Content-Length headers");
  EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n"),
            "400 two Content-Length headers");
}

TEST(RequestParser, ParserRejectsTransferEncodingWithContentLength) {
  EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"),
            "400 both Transfer-Encoding and Content-Length");
  EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "400 both Transfer-Encoding and Content-Length");
}

TEST(RequestParser, ParserAnswers501ForTransferCodingsOtherThanChunked) {
  EXPECT_EQ(outcome_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
            "501 Transfer-Encoding other than chunked is not supported");
  EXPECT_EQ(outcome_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            "501 Transfer-Encoding other than chunked is not supported");
}

TEST(RequestParser, ParserAcceptsChunkedInHttp11Only) {
  ParseResult result = parse_request_head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(result.status, ParseStatus::Complete);
  EXPECT_TRUE(result.head.chunked);
  EXPECT_FALSE(result.head.content_length);
  EXPECT_EQ(outcome_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "400 Transfer-Encoding in an HTTP/1.0 request");
}

TEST(RequestParser, ParserRequiresHostInHttp11) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), "400 missing Host header");
  EXPECT_EQ(outcome_of("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"), "Complete");
}

TEST(RequestParser, ParserAllowsMissingHostInHttp10) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\n\r\n"), "Complete");
}

TEST(RequestParser, ParserRejectsTwoHostHeaders) {
  EXPECT_EQ(outcome_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), "400 two Host headers");
  EXPECT_EQ(outcome_of("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n"), "400 two Host headers");
}

TEST(RequestParser, ParserRejectsTlsHandshakeAtFirstByte) {
  EXPECT_EQ(outcome_of("\x16\x03\x01"), "400 invalid character in request line");
}

TEST(RequestParser, ParserLeavesHeadEmptyOnError) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nX: 1\r\nX : 2\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::Error);
  EXPECT_TRUE(r.head.method.empty());
  EXPECT_TRUE(r.head.headers.empty());
}

TEST(RequestParser, FindReturnsFirstHeaderIgnoringCase) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nAccept: a\r\naccept: b\r\n\r\n");
  const HeaderField* field = r.head.find("ACCEPT");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(field->value, "a");
}

TEST(RequestParser, FindReturnsNullForMissingHeader) {
  const ParseResult r = parse("GET / HTTP/1.0\r\nAccept: a\r\n\r\n");
  EXPECT_EQ(r.head.find("Accept-Encoding"), nullptr);
  EXPECT_EQ(r.head.find("Accep"), nullptr);
}

TEST(RequestParser, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Host", "Hos"));
  EXPECT_FALSE(iequals("Host", "Hosts"));
  EXPECT_FALSE(iequals("a", "b"));
}

TEST(RequestParser, IequalsFoldsLettersOnly) {
  // Characters 0x20 apart that are not letters must stay distinct.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("^", "~"));
  EXPECT_FALSE(iequals("\xc0", "\xe0"));
}

TEST(RequestParser, TrimOwsRemovesSpacesAndTabsAtBothEndsOnly) {
  EXPECT_EQ(trim_ows(" \t gzip;q=0.5 \t"), "gzip;q=0.5");
  EXPECT_EQ(trim_ows("a b"), "a b");
  EXPECT_EQ(trim_ows(" \t "), "");
  EXPECT_EQ(trim_ows("\r\na\n"), "\r\na\n") << "only SP and HTAB are optional whitespace";
}

TEST(RequestParser, ExpectContinueIsHonouredOnlyFromHttp11Clients) {
  const std::string head = "Host: a\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  std::string http11 = "PUT / HTTP/1.1\r\n" + head;
  std::string http10 = "PUT / HTTP/1.0\r\n" + head;
  std::string other = "PUT / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 4\r\n\r\n";
  EXPECT_TRUE(parse(http11).head.expects_continue());
  EXPECT_FALSE(parse(http10).head.expects_continue()) << "RFC 9110 10.1.1: ignored from HTTP/1.0";
  EXPECT_FALSE(parse(other).head.expects_continue());
}

}  // namespace
}  // namespace forkserve::http
