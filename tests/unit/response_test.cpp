#include "http/response.hpp"

#include <forkserve/status.hpp>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace forkserve::http {
namespace {

TEST(ResponseCheck, AcceptsWellFormedStatus) {
  EXPECT_FALSE(check_status("200 OK"));
  EXPECT_FALSE(check_status("404 Not Found"));
  EXPECT_FALSE(check_status("599 "));
}

TEST(ResponseCheck, RejectsMalformedStatus) {
  EXPECT_TRUE(check_status("200"));
  EXPECT_TRUE(check_status("20 OK"));
  EXPECT_TRUE(check_status("2000 OK"));
  EXPECT_TRUE(check_status("abc OK"));
  EXPECT_TRUE(check_status("600 Nope"));
  EXPECT_TRUE(check_status("099 Low"));
  EXPECT_TRUE(check_status("200 OK\r\nX-Injected: 1"));
  EXPECT_TRUE(check_status(std::string_view("200 O\0K", 7)));
}

TEST(ResponseCheck, AcceptsOrdinaryHeaders) {
  EXPECT_FALSE(check_header("Content-Type", "text/plain; charset=utf-8"));
  EXPECT_FALSE(check_header("X-Empty", ""));
  EXPECT_FALSE(check_header("X-Tab", "a\tb"));
}

TEST(ResponseCheck, RejectsInjectionInNameOrValue) {
  EXPECT_TRUE(check_header("X-A", "1\r\nSet-Cookie: evil"));
  EXPECT_TRUE(check_header("X-A", "1\nb"));
  EXPECT_TRUE(check_header("X-A", std::string_view("a\0b", 3)));
  EXPECT_TRUE(check_header("X-A\r\nB", "1"));
  EXPECT_TRUE(check_header("X A", "1"));
  EXPECT_TRUE(check_header("X:A", "1"));
  EXPECT_TRUE(check_header("", "1"));
}

TEST(ResponseCheck, RejectsHopByHopHeadersInAnyCase) {
  for (const char* name : {"Connection", "keep-alive", "TRANSFER-ENCODING", "Upgrade", "TE", "Trailer"}) {
    EXPECT_TRUE(check_header(name, "x")) << name;
  }
}

TEST(ResponseHead, AddsDateServerLengthAndClose) {
  std::string head = serialize_head("200 OK", {{"Content-Type", "text/plain"}}, 13, "DATE");
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(head.find("\r\nDate: DATE\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nServer: forkserve/"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: 13\r\n"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\nConnection: close\r\n\r\n"));
}

TEST(ResponseHead, KeepsHandlersOwnDateServerAndLength) {
  std::string head =
      serialize_head("200 OK", {{"Server", "mine"}, {"date", "then"}, {"Content-Length", "4"}}, 99, "NOW");
  EXPECT_EQ(head.find("NOW"), std::string::npos);
  EXPECT_EQ(head.find("forkserve/"), std::string::npos);
  EXPECT_EQ(head.find("99"), std::string::npos);
  EXPECT_NE(head.find("Content-Length: 4\r\n"), std::string::npos);
}

TEST(ResponseHead, OmitsLengthWhenUnknown) {
  EXPECT_EQ(serialize_head("200 OK", {}, std::nullopt, "D").find("Content-Length"), std::string::npos);
}

TEST(ErrorResponse, NamesStatusAndProblemInBody) {
  std::string response = error_response(400, "invalid header name", "D");
  EXPECT_EQ(response.rfind("HTTP/1.0 400 Bad Request\r\n", 0), 0u);
  std::string body = "400 Bad Request: invalid header name\n";
  EXPECT_TRUE(response.ends_with("\r\n\r\n" + body));
  EXPECT_NE(response.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
}

TEST(ErrorResponse, UsesStandardReasonPhrases) {
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(299), "Unknown");
}

// The server's phrases and the SDK's Status constants come from one table.
TEST(ErrorResponse, ReasonPhraseKnowsEveryStatusAHandlerMaySend) {
  for (std::string_view line : forkserve::detail::kStatusLines) {
    const int code = std::stoi(std::string(line.substr(0, 3)));
    EXPECT_EQ(reason_phrase(code), line.substr(4)) << line;
  }
}

TEST(ErrorResponse, GatewayErrorsHaveTheirReasonPhrase) {
  // The CGI gateway answers 502 for a program's invalid output.
  EXPECT_EQ(error_response(502, "", "D").rfind("HTTP/1.0 502 Bad Gateway\r\n", 0), 0u);
}

}  // namespace
}  // namespace forkserve::http
