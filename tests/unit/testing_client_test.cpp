// <forkserve/testing.hpp>: the in-process client gives a handler what the
// server gives it and holds it to the same rules; and Body::pull with a
// move-only source, seen through it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <forkserve/files.hpp>
#include <forkserve/response.hpp>
#include <forkserve/testing.hpp>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

namespace forkserve {
namespace {

struct Lambda {
  std::function<Body(Environ&, StartResponse&)> f;
  Body operator()(Environ& e, StartResponse& s) { return f(e, s); }
};

testing::Response run(std::function<Body(Environ&, StartResponse&)> f, std::string_view method = "GET",
                      std::string_view target = "/", const Headers& headers = {}, std::string body = {}) {
  Lambda handler{std::move(f)};
  testing::Client client(handler);
  return client.request(method, target, headers, std::move(body));
}

TEST(TestingClient, BuildsTheEnvironLikeTheServer) {
  std::string seen;
  run(
      [&seen](Environ& environ, StartResponse& s) {
        for (const char* name :
             {"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "forkserve.raw_path",
              "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X_TWICE", "SERVER_NAME"}) {
          seen += std::string(name) + "=" + std::string(environ.get(name, "<unset>")) + "\n";
        }
        seen += "HTTP_X_UNDER=" + std::string(environ.get("HTTP_X_UNDER", "<unset>")) + "\n";
        seen += "body=" + environ.input().read_all() + "\n";
        s(status::ok, {});
        return Body();
      },
      "POST", "/a%20b?x=1",
      {{"Content-Type", "text/plain"},
       {"X-Twice", "1"},
       {"x-twice", "2"},
       {"X_Under", "no"},
       {"Host", "h:81"}},
      "data");
  EXPECT_EQ(
      seen,
      "REQUEST_METHOD=POST\nPATH_INFO=/a "
      "b\nQUERY_STRING=x=1\nREQUEST_URI=/a%20b?x=1\nforkserve.raw_path=/a%20b\n"
      "CONTENT_TYPE=text/plain\nCONTENT_LENGTH=4\nHTTP_X_TWICE=1, 2\nSERVER_NAME=h\nHTTP_X_UNDER=<unset>\n"
      "body=data\n");
}

TEST(TestingClient, MalformedPathIsAnsweredWithoutTheHandler) {
  bool called = false;
  auto reply = run(
      [&called](Environ&, StartResponse& s) {
        called = true;
        return text(s, "x");
      },
      "GET", "/a%zz");
  EXPECT_EQ(reply.status, 400);
  EXPECT_FALSE(called);
}

TEST(TestingClient, InvalidStatusOrHeaderIsAResponseErrorInTheHandler) {
  for (auto bad :
       std::vector<std::pair<std::string, Headers>>{{"200", {}},
                                                    {"99 Low", {}},
                                                    {"200 OK", {{"Bad Name", "v"}}},
                                                    {"200 OK", {{"X", "a\r\nb"}}},
                                                    {"200 OK", {{"Transfer-Encoding", "chunked"}}}}) {
    bool threw = false;
    run([&](Environ&, StartResponse& s) {
      try {
        s(bad.first, bad.second);
      } catch (const ResponseError&) {
        threw = true;
      }
      s(status::ok, {});
      return Body();
    });
    EXPECT_TRUE(threw) << bad.first;
  }
}

TEST(TestingClient, EscapingExceptionIsA500WithTheMessageLogged) {
  auto reply = run([](Environ&, StartResponse&) -> Body { throw std::runtime_error("boom"); });
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.error_log, "boom\n");
}

TEST(TestingClient, ReturningWithoutStartResponseIsA500) {
  auto reply = run([](Environ&, StartResponse&) { return Body::text("x"); });
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.error_log, "handler returned without calling start_response\n");
}

TEST(TestingClient, FailureAfterTheHeadIsAnAbort) {
  auto reply = run([](Environ&, StartResponse& s) {
    s(status::ok, {});
    int n = 0;
    return Body::pull([n]() mutable -> std::optional<std::string> {
      if (n++ == 0) return std::string("first");
      throw std::runtime_error("source failed");
    });
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "first");
  EXPECT_TRUE(reply.aborted);
}

TEST(TestingClient, BodyOfA204IsRefused) {
  auto reply = run([](Environ&, StartResponse& s) {
    s(status::no_content, {});
    return Body::text("not allowed");
  });
  EXPECT_EQ(reply.status, 500);
  EXPECT_NE(reply.error_log.find("has no body"), std::string::npos);
}

TEST(TestingClient, FileBodyIsRead) {
  char path[] = "/tmp/forkserve-testing-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  ::unlink(path);
  auto reply = run([fd](Environ&, StartResponse& s) {
    s(status::ok, {});
    return Body::file(fd, 2, 5);
  });
  EXPECT_EQ(reply.body, "23456");
  EXPECT_EQ(reply.content_length, 5u);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "the Body closed the descriptor it owned";
}

TEST(TestingClient, SendFileGetsAPlainStandIn) {
  char path[] = "/tmp/forkserve-sendfile-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  ::close(fd);
  const std::string file = path;
  auto reply = run([file](Environ& environ, StartResponse& s) {
    return send_file(environ, s, file, {{"X-Extra", "1"}});
  });
  auto missing =
      run([](Environ& environ, StartResponse& s) { return send_file(environ, s, "/nonexistent/x"); });
  ::unlink(path);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "abc");
  EXPECT_EQ(reply.header("Content-Type"), "application/octet-stream");
  EXPECT_TRUE(reply.header("Last-Modified"));
  EXPECT_EQ(reply.header("X-Extra"), "1");
  EXPECT_EQ(missing.status, 404);
}

TEST(BodyPull, TakesAMoveOnlySource) {
  char path[] = "/tmp/forkserve-pull-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "line one\nline two\n", 18), 18);
  ::close(fd);
  const std::string file = path;
  auto reply = run([file](Environ&, StartResponse& s) {
    s(status::ok, {{"Content-Type", "text/plain"}});
    auto stream = std::make_unique<std::ifstream>(file);
    return Body::pull([stream = std::move(stream)]() -> std::optional<std::string> {
      std::string line;
      if (!std::getline(*stream, line)) return std::nullopt;
      return line + "|";
    });
  });
  ::unlink(path);
  EXPECT_EQ(reply.body, "line one|line two|");
  EXPECT_FALSE(reply.content_length) << "a pulled body's length is not known in advance";
}

TEST(BodyPull, SourceIsDestroyedWithTheBody) {
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  {
    Body body =
        Body::pull([owned = std::move(alive)]() -> std::optional<std::string> { return std::nullopt; });
    EXPECT_FALSE(watch.expired());
  }
  EXPECT_TRUE(watch.expired());
}

// As before Body::Source became move-only: an empty std::function is a body
// with no chunks, not a call that throws std::bad_function_call (a 500).
TEST(BodyPull, EmptyStdFunctionIsAnEmptyBody) {
  auto reply = run([](Environ&, StartResponse& s) {
    s(status::ok, {{"Content-Type", "text/plain"}});
    return Body::pull(std::function<std::optional<std::string>()>{});
  });
  EXPECT_EQ(reply.status, 200) << reply.error_log;
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.error_log, "");
}

}  // namespace
}  // namespace forkserve
