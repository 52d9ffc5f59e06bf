// examples/guestbook, in process: every behaviour of its specification
// through forkserve::testing. tests/integration/guestbook_test.cpp runs it
// under the real server.
#include "guestbook/guestbook.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <forkserve/testing.hpp>
#include <fstream>
#include <string>

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define FORKSERVE_HAVE_NLOHMANN_JSON 1
#endif

namespace {

using forkserve::testing::Client;
using forkserve::testing::Response;

class GuestbookTest : public ::testing::Test {
 protected:
  GuestbookTest() {
    char dir[] = "/tmp/forkserve-guestbook-XXXXXX";
    directory = ::mkdtemp(dir);
    datafile = directory + "/entries";
  }
  ~GuestbookTest() override { std::filesystem::remove_all(directory); }

  Response sign(Client& client, std::string name, std::string message) {
    forkserve::Fields form;
    form.add("name", std::move(name));
    form.add("message", std::move(message));
    return client.post_form("/entries", form);
  }

  std::string directory;
  std::string datafile;
};

TEST_F(GuestbookTest, FrontPageHasTheFormAndNoEntriesAtFirst) {
  Guestbook book(datafile);
  Client client(book);
  auto reply = client.get("/");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(reply.body.find("<form method=\"post\" action=\"/entries\">"), std::string::npos);
  EXPECT_NE(reply.body.find("name=\"name\" value=\"\""), std::string::npos);
  EXPECT_NE(reply.body.find("name=\"message\""), std::string::npos);
  EXPECT_EQ(reply.body.find("<li>"), std::string::npos);
}

TEST_F(GuestbookTest, PostRedirectsToTheFrontPageAndSetsTheNameCookie) {
  Guestbook book(datafile);
  Client client(book);
  auto reply = sign(client, "Ann Lee", "hello");
  EXPECT_EQ(reply.status, 303);
  EXPECT_EQ(reply.header("Location"), "/");
  EXPECT_EQ(reply.header("Set-Cookie"), "name=Ann%20Lee; Path=/; HttpOnly; SameSite=Lax");
}

TEST_F(GuestbookTest, EntriesAppearOldestFirstHtmlEscaped) {
  Guestbook book(datafile);
  Client client(book);
  sign(client, "<script>", "a & b");
  sign(client, "Bob", "second\nline");
  const std::string page = client.get("/").body;
  const std::size_t first = page.find("<li><b>&lt;script&gt;</b>: a &amp; b</li>");
  const std::size_t second = page.find("<li><b>Bob</b>: second\nline</li>");
  ASSERT_NE(first, std::string::npos) << page;
  ASSERT_NE(second, std::string::npos) << page;
  EXPECT_LT(first, second);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
}

TEST_F(GuestbookTest, NameCookiePrefillsTheFormEscaped) {
  Guestbook book(datafile);
  Client client(book);
  auto reply = client.get("/", {{"Cookie", "other=1; name=%22Ann%22%3E"}});
  EXPECT_NE(reply.body.find("name=\"name\" value=\"&quot;Ann&quot;&gt;\""), std::string::npos) << reply.body;
  auto junk = client.get("/", {{"Cookie", "name=%zz; ;;"}});
  EXPECT_EQ(junk.status, 200) << "a cookie we did not set is ignored";
}

TEST_F(GuestbookTest, MultipartPostIsAcceptedToo) {
  Guestbook book(datafile);
  Client client(book);
  forkserve::Fields form;
  form.add("name", "Multi");
  form.add("message", "part");
  EXPECT_EQ(client.post_multipart("/entries", forkserve::testing::multipart(form)).status, 303);
  EXPECT_EQ(client.get("/api/entries").body, R"([{"name":"Multi","message":"part"}])");
}

TEST_F(GuestbookTest, EmptyNameOrMessageIsBadRequest) {
  Guestbook book(datafile);
  Client client(book);
  EXPECT_EQ(sign(client, "", "m").status, 400);
  EXPECT_EQ(sign(client, "n", "").status, 400);
  forkserve::Fields only_name;
  only_name.add("name", "n");
  EXPECT_EQ(client.post_form("/entries", only_name).status, 400);
  EXPECT_EQ(client.get("/api/entries").body, "[]") << "nothing was stored";
}

TEST_F(GuestbookTest, GetOfEntriesIsMethodNotAllowed) {
  Guestbook book(datafile);
  Client client(book);
  auto reply = client.get("/entries");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.header("Allow"), "POST");
}

TEST_F(GuestbookTest, ApiListsEntriesAsJsonWithLimit) {
  Guestbook book(datafile);
  Client client(book);
  for (int i = 1; i <= 3; ++i) sign(client, "n" + std::to_string(i), "m" + std::to_string(i));
  auto all = client.get("/api/entries");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.header("Content-Type"), "application/json");
  EXPECT_EQ(all.body,
            R"([{"name":"n1","message":"m1"},{"name":"n2","message":"m2"},{"name":"n3","message":"m3"}])");
  EXPECT_EQ(client.get("/api/entries?limit=2").body,
            R"([{"name":"n2","message":"m2"},{"name":"n3","message":"m3"}])");
  EXPECT_EQ(client.get("/api/entries?limit=0").body, "[]");
  EXPECT_EQ(client.get("/api/entries?limit=99").body, all.body);
}

TEST_F(GuestbookTest, BadLimitIsBadRequest) {
  Guestbook book(datafile);
  Client client(book);
  for (const char* bad : {"x", "-1", "", "1.5", "%zz", "99999999999999999999"}) {
    EXPECT_EQ(client.get(std::string("/api/entries?limit=") + bad).status, 400) << bad;
  }
}

TEST_F(GuestbookTest, ApiIsValidJsonForAnyBytes) {
#ifdef FORKSERVE_HAVE_NLOHMANN_JSON
  Guestbook book(datafile);
  Client client(book);
  std::string hostile;
  for (int c = 1; c < 256; ++c) hostile.push_back(static_cast<char>(c));
  sign(client, "\"quoted\" \\ \xFF\xFE", hostile);
  const auto parsed = nlohmann::json::parse(client.get("/api/entries").body);
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0]["name"].get<std::string>(), "\"quoted\" \\ \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(parsed[0]["message"].get<std::string>().substr(0, 126), hostile.substr(0, 126));
#else
  GTEST_SKIP() << "nlohmann-json3-dev is not installed (scripts/test.sh installs it)";
#endif
}

TEST_F(GuestbookTest, AnythingElseIsNotFound) {
  Guestbook book(datafile);
  Client client(book);
  EXPECT_EQ(client.get("/nope").status, 404);
  EXPECT_EQ(client.get("/api").status, 404);
  EXPECT_EQ(client.get("/api/entries/1").status, 404);
}

TEST_F(GuestbookTest, EntriesPersistInTheDataFileAcrossInstances) {
  {
    Guestbook book(datafile);
    Client client(book);
    sign(client, "before", "restart");
  }
  Guestbook again(datafile);
  Client client(again);
  EXPECT_EQ(client.get("/api/entries").body, R"([{"name":"before","message":"restart"}])");
}

TEST_F(GuestbookTest, HalfWrittenLastLineIsIgnored) {
  Guestbook book(datafile);
  Client client(book);
  sign(client, "whole", "entry");
  std::ofstream(datafile, std::ios::app) << "name=cut&mess";
  EXPECT_EQ(client.get("/api/entries").body, R"([{"name":"whole","message":"entry"}])");
}

TEST_F(GuestbookTest, HalfWrittenLastLineDoesNotSpoilTheNextEntry) {
  Guestbook book(datafile);
  Client client(book);
  sign(client, "whole", "entry");
  std::ofstream(datafile, std::ios::app) << "name=cut&message=half%4";  // a writer killed mid-write
  EXPECT_EQ(sign(client, "next", "one").status, 303);
  auto reply = client.get("/api/entries");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"([{"name":"whole","message":"entry"},{"name":"next","message":"one"}])");
  EXPECT_EQ(client.get("/").status, 200);
}

TEST_F(GuestbookTest, UnusableDataFileStopsStartUp) {
  EXPECT_THROW(Guestbook(""), std::runtime_error);
  EXPECT_THROW(Guestbook(directory + "/missing-dir/entries"), std::runtime_error);
}

}  // namespace
