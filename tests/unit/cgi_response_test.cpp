// The CGI header-block parser (RFC 3875 §6): the three kinds of response and
// the strictness that keeps a program's garbage away from the client.
#include "handlers/cgi_response.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace forkserve::handlers {
namespace {

std::string header(const CgiHead& head, std::string_view name) {
  for (const auto& h : head.headers) {
    if (h.name == name) return h.value;
  }
  return "(none)";
}

TEST(CgiResponse, DocumentWithContentTypeIs200) {
  CgiHead head = parse_cgi_head("Content-Type: text/html\r\nX-A:  b \r\n\r\n<p>");
  ASSERT_EQ(head.status, CgiHeadStatus::Complete);
  EXPECT_EQ(head.kind, CgiResponseKind::Document);
  EXPECT_EQ(head.status_line, "200 OK");
  EXPECT_EQ(header(head, "X-A"), "b");
  EXPECT_EQ(head.head_length, std::string_view("Content-Type: text/html\r\nX-A:  b \r\n\r\n").size());
}

TEST(CgiResponse, BareLfLineEndsAreAccepted) {
  CgiHead head = parse_cgi_head("Content-type: text/plain\n\nbody");
  ASSERT_EQ(head.status, CgiHeadStatus::Complete);
  EXPECT_EQ(head.head_length, 26U);
}

TEST(CgiResponse, StatusSetsTheStatusLineAndIsNotForwarded) {
  CgiHead head = parse_cgi_head("Status: 404 Gone Fishing\nContent-Type: text/plain\n\n");
  ASSERT_EQ(head.status, CgiHeadStatus::Complete);
  EXPECT_EQ(head.status_line, "404 Gone Fishing");
  EXPECT_EQ(header(head, "Status"), "(none)");
}

TEST(CgiResponse, StatusWithoutReasonGetsTheStandardOne) {
  EXPECT_EQ(parse_cgi_head("Status: 204\n\n").status_line, "204 No Content");
}

TEST(CgiResponse, LocalLocationIsALocalRedirect) {
  CgiHead head = parse_cgi_head("Location: /other/page?x=1\r\n\r\n");
  ASSERT_EQ(head.status, CgiHeadStatus::Complete);
  EXPECT_EQ(head.kind, CgiResponseKind::LocalRedirect);
  EXPECT_EQ(head.location, "/other/page?x=1");
}

TEST(CgiResponse, LocalLocationWithStatus200IsStillALocalRedirect) {
  EXPECT_EQ(parse_cgi_head("Status: 200 OK\nLocation: /x\n\n").kind, CgiResponseKind::LocalRedirect);
}

TEST(CgiResponse, LocalLocationWithARedirectStatusGoesToTheClient) {
  CgiHead head = parse_cgi_head("Status: 302 Found\nLocation: /x\n\n");
  EXPECT_EQ(head.kind, CgiResponseKind::Document);
  EXPECT_EQ(head.status_line, "302 Found");
  EXPECT_EQ(header(head, "Location"), "/x");
}

TEST(CgiResponse, AbsoluteLocationIsAClientRedirectWith302) {
  CgiHead head = parse_cgi_head("Location: https://example.com/a\n\n");
  EXPECT_EQ(head.kind, CgiResponseKind::ClientRedirect);
  EXPECT_EQ(head.status_line, "302 Found");
  EXPECT_EQ(header(head, "Location"), "https://example.com/a");
}

TEST(CgiResponse, AbsoluteLocationKeepsAGivenStatus) {
  EXPECT_EQ(parse_cgi_head("Status: 301 Moved Permanently\nLocation: http://a/\n\n").status_line,
            "301 Moved Permanently");
}

TEST(CgiResponse, AnUnfinishedBlockIsIncomplete) {
  EXPECT_EQ(parse_cgi_head("Content-Type: text/plain\r\n").status, CgiHeadStatus::Incomplete);
  EXPECT_EQ(parse_cgi_head("Content-Ty").status, CgiHeadStatus::Incomplete);
  EXPECT_EQ(parse_cgi_head("").status, CgiHeadStatus::Incomplete);
}

TEST(CgiResponse, GarbageIsRefusedWithAReason) {
  for (std::string_view output : {
           "hello world\n\n",                              // no colon
           "<html><body>oops</body></html>\n\n",           // a body without headers
           "Content Type: text/plain\n\n",                 // not a token
           "Content-Type: text/plain\n folded\n\n",        // continuation line
           "Content-Type: text/\x01plain\n\n",             // control byte
           "Content-Type: text/plain\rX: y\n\n",           // bare CR
           "Status: 99 Low\nContent-Type: a/b\n\n",        // not three digits
           "Status: 700 High\nContent-Type: a/b\n\n",      // not a final status
           "Status: 100 Continue\nContent-Type: a/b\n\n",  // informational
           "Status: 200 OK\nStatus: 404 No\n\n",           // two Status
           "Content-Type: a/b\nContent-Type: c/d\n\n",     // two Content-Type
           "Location: relative/path\n\n",                  // neither local nor absolute
           "Location: //host/path\n\n",                    // network-path reference
           "X-Only: other\n\n",                            // none of the three
       }) {
    CgiHead head = parse_cgi_head(output);
    EXPECT_EQ(head.status, CgiHeadStatus::Error) << output;
    EXPECT_FALSE(head.reason.empty()) << output;
  }
}

TEST(CgiResponse, AControlByteIsRefusedBeforeTheLineEnds) {
  EXPECT_EQ(parse_cgi_head("Content-Type: a\x01").status, CgiHeadStatus::Error);
}

TEST(CgiResponse, AHeaderBlockOverTheLimitIsRefused) {
  std::string output = "Content-Type: text/plain\nX: " + std::string(100, 'a');
  EXPECT_EQ(parse_cgi_head(output, 64).status, CgiHeadStatus::Error);
  EXPECT_EQ(parse_cgi_head(output + "\n\n", 64).status, CgiHeadStatus::Error);
}

TEST(CgiResponse, NphStatusIsReadFromTheStatusLine) {
  EXPECT_EQ(nph_status("HTTP/1.1 201 Created\r\n"), 201);
  EXPECT_EQ(nph_status("HTTP/1.0 404 Not Found\r\n"), 404);
  EXPECT_EQ(nph_status("Content-Type: text/plain\r\n"), 0);
}

}  // namespace
}  // namespace forkserve::handlers
