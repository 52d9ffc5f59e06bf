// examples/guestbook under the real server (in both modes, like every
// integration test): its routes over real sockets, entries surviving a
// restart, and 50 concurrent POSTs leaving exactly 50 whole entries.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

std::string post_form(std::string_view body) {
  return "POST /entries HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size()))
    ++n;
  return n;
}

TEST(GuestbookTest, RoutesBehaveAsSpecifiedOverTheNetwork) {
  TempDir data;
  const std::string datafile = data.path() + "/entries";
  ServerProcess server({"--handler", module_path("guestbook.so") + ":" + datafile});
  ASSERT_TRUE(server.ready()) << server.error();

  HttpReply posted = exchange(server.port(), post_form("name=Ann+%3Cb%3E&message=hi+there"));
  EXPECT_EQ(posted.status, 303) << posted.summary();
  EXPECT_EQ(posted.header("Location"), "/");
  EXPECT_EQ(posted.header("Set-Cookie"), "name=Ann%20%3Cb%3E; Path=/; HttpOnly; SameSite=Lax");

  HttpReply page = exchange(server.port(), "GET / HTTP/1.0\r\nCookie: name=Ann%20%3Cb%3E\r\n\r\n");
  EXPECT_EQ(page.status, 200) << page.summary();
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<li><b>Ann &lt;b&gt;</b>: hi there</li>"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("value=\"Ann &lt;b&gt;\""), std::string::npos) << page.body;

  HttpReply api = exchange(server.port(), "GET /api/entries?limit=1 HTTP/1.0\r\n\r\n");
  EXPECT_EQ(api.status, 200);
  EXPECT_EQ(api.header("Content-Type"), "application/json");
  EXPECT_EQ(api.body, R"([{"name":"Ann \u003cb\u003e","message":"hi there"}])");

  const std::string multipart =
      "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nBo\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nvia multipart\r\n--XyZ--\r\n";
  HttpReply posted_multipart = exchange(
      server.port(),
      "POST /entries HTTP/1.0\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: " +
          std::to_string(multipart.size()) + "\r\n\r\n" + multipart);
  EXPECT_EQ(posted_multipart.status, 303) << posted_multipart.summary();
  EXPECT_EQ(exchange(server.port(), "GET /api/entries?limit=1 HTTP/1.0\r\n\r\n").body,
            R"([{"name":"Bo","message":"via multipart"}])");

  EXPECT_EQ(exchange(server.port(), "GET /api/entries?limit=x HTTP/1.0\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server.port(), post_form("name=&message=x")).status, 400);
  HttpReply wrong = exchange(server.port(), "GET /entries HTTP/1.0\r\n\r\n");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("Allow"), "POST");
  EXPECT_EQ(exchange(server.port(), "GET /elsewhere HTTP/1.0\r\n\r\n").status, 404);
  HttpReply head = exchange(server.port(), "HEAD /api/entries HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST(GuestbookTest, EntriesSurviveARestart) {
  TempDir data;
  const std::string handler = module_path("guestbook.so") + ":" + data.path() + "/entries";
  {
    ServerProcess server({"--handler", handler});
    ASSERT_TRUE(server.ready()) << server.error();
    ASSERT_EQ(exchange(server.port(), post_form("name=a&message=kept")).status, 303);
  }
  ServerProcess server({"--handler", handler});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(exchange(server.port(), "GET /api/entries HTTP/1.0\r\n\r\n").body,
            R"([{"name":"a","message":"kept"}])");
}

TEST(GuestbookTest, FiftyConcurrentPostsLeaveExactlyFiftyWholeEntries) {
  TempDir data;
  ServerProcess server({"--handler", module_path("guestbook.so") + ":" + data.path() + "/entries"});
  ASSERT_TRUE(server.ready()) << server.error();

  // Long messages, so that interleaved or torn writes would show.
  constexpr int kPosts = 50;
  const std::string filler(4000, 'x');
  std::vector<int> statuses(kPosts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPosts; ++i) {
    threads.emplace_back([&, i] {
      const std::string body = "name=client" + std::to_string(i) + "&message=" + std::to_string(i) + filler;
      statuses[i] = exchange(server.port(), post_form(body), milliseconds(30'000)).status;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kPosts; ++i) EXPECT_EQ(statuses[i], 303) << "post " << i;

  HttpReply api = exchange(server.port(), "GET /api/entries HTTP/1.0\r\n\r\n", milliseconds(30'000));
  ASSERT_EQ(api.status, 200) << api.summary();
  EXPECT_EQ(count(api.body, "{\"name\":"), static_cast<std::size_t>(kPosts));
  for (int i = 0; i < kPosts; ++i) {
    const std::string whole =
        "{\"name\":\"client" + std::to_string(i) + "\",\"message\":\"" + std::to_string(i) + filler + "\"}";
    EXPECT_EQ(count(api.body, whole), 1u) << "entry " << i << " is missing, torn or repeated";
  }
  const std::string file = read_file(data.path() + "/entries");
  EXPECT_EQ(count(file, "\n"), static_cast<std::size_t>(kPosts)) << "one line per entry";
}

TEST(GuestbookTest, LineLeftByAWriterKilledMidWriteDoesNotSpoilLaterEntries) {
  TempDir data;
  const std::string datafile = data.path() + "/entries";
  ServerProcess server({"--handler", module_path("guestbook.so") + ":" + datafile});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), post_form("name=a&message=whole")).status, 303);
  {
    std::ofstream file(datafile, std::ios::app);
    file << "name=b&message=cut%4";  // what a writer killed mid-write leaves
  }
  ASSERT_EQ(exchange(server.port(), post_form("name=c&message=after")).status, 303);
  HttpReply api = exchange(server.port(), "GET /api/entries HTTP/1.0\r\n\r\n");
  EXPECT_EQ(api.status, 200) << api.summary();
  EXPECT_EQ(api.body, R"([{"name":"a","message":"whole"},{"name":"c","message":"after"}])");
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
}

}  // namespace
}  // namespace forkserve::integration
