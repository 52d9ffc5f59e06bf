// The built-in handler's validators, precompressed siblings, dotfile rule,
// listing and static-file options, through the real binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr std::string_view kText = "plain text, not compressed\n";
constexpr std::string_view kGzipped = "pretend-gzip-bytes";
constexpr std::string_view kBrotli = "pretend-brotli-bytes";

class FileServingTest : public ::testing::Test {
 protected:
  explicit FileServingTest(std::vector<std::string> args = {}) : server_(std::move(args)) {}

  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }

  HttpReply request(std::string_view method, std::string_view target,
                    std::string_view extra_headers = "") const {
    return exchange(server_.port(), std::string(method) + " " + std::string(target) + " HTTP/1.0\r\n" +
                                        std::string(extra_headers) + "\r\n");
  }
  HttpReply get(std::string_view target, std::string_view extra_headers = "") const {
    return request("GET", target, extra_headers);
  }
  // Sets a file's modification time `seconds` from now.
  void age(const std::string& relative, long seconds) const {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) + seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (server_.root() + "/" + relative).c_str(), times, 0), 0);
  }

  ServerProcess server_;
};

// --- validators ---

TEST_F(FileServingTest, EveryFileAnswerHasAStrongEtag) {
  server_.write_root_file("a.txt", kText);
  HttpReply reply = get("/a.txt");
  const auto etag = reply.header("ETag");
  ASSERT_TRUE(etag.has_value()) << reply.summary();
  EXPECT_TRUE(etag->size() > 2 && etag->front() == '"' && etag->back() == '"') << *etag;
  EXPECT_EQ(get("/a.txt").header("ETag"), etag) << "the same file, the same tag";
}

TEST_F(FileServingTest, IfNoneMatchWithTheEtagIs304ForGetAndHead) {
  server_.write_root_file("a.txt", kText);
  const auto etag = get("/a.txt").header("ETag");
  ASSERT_TRUE(etag.has_value());
  for (std::string_view method : {"GET", "HEAD"}) {
    HttpReply reply = request(method, "/a.txt", "If-None-Match: \"other\", " + *etag + "\r\n");
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status_line, "HTTP/1.0 304 Not Modified") << method;
    EXPECT_EQ(reply.header("ETag"), etag);
    EXPECT_EQ(reply.body, "");
  }
}

TEST_F(FileServingTest, EtagChangesWhenTheFileChanges) {
  server_.write_root_file("a.txt", kText);
  const auto before = get("/a.txt").header("ETag");
  server_.write_root_file("a.txt", "new content\n");
  age("a.txt", 10);
  HttpReply reply = get("/a.txt", "If-None-Match: " + before.value_or("") + "\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.header("ETag"), before);
  EXPECT_EQ(reply.body, "new content\n");
}

TEST_F(FileServingTest, IfNoneMatchTakesPrecedenceOverIfModifiedSince) {
  server_.write_root_file("a.txt", kText);
  // A date in the future would give 304 alone; the mismatched tag decides.
  HttpReply reply =
      get("/a.txt", "If-None-Match: \"stale\"\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kText);
}

TEST_F(FileServingTest, IfMatchWithAnotherTagIs412) {
  server_.write_root_file("a.txt", kText);
  HttpReply reply = get("/a.txt", "If-Match: \"stale\"\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 412 Precondition Failed");
  const auto etag = get("/a.txt").header("ETag");
  EXPECT_EQ(get("/a.txt", "If-Match: " + etag.value_or("") + "\r\n").status, 200);
}

TEST_F(FileServingTest, IfUnmodifiedSinceBeforeTheFileIs412) {
  server_.write_root_file("a.txt", kText);
  EXPECT_EQ(get("/a.txt", "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n").status, 412);
  EXPECT_EQ(get("/a.txt", "If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n").status, 200);
}

// --- precompressed siblings ---

class PrecompressedTest : public FileServingTest {
 protected:
  void SetUp() override {
    FileServingTest::SetUp();
    server_.write_root_file("app.js", kText);
    server_.write_root_file("app.js.gz", kGzipped);
  }
};

TEST_F(PrecompressedTest, GzipSiblingIsSentToAClientTakingGzip) {
  HttpReply reply = get("/app.js", "Accept-Encoding: gzip, deflate\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Content-Encoding"), "gzip");
  EXPECT_EQ(reply.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(reply.header("Vary"), "Accept-Encoding");
  EXPECT_EQ(reply.body, kGzipped);
}

TEST_F(PrecompressedTest, IdentityOnlyOrGzipAtQZeroGetsTheFileItself) {
  for (std::string_view accept : {"", "Accept-Encoding: identity\r\n", "Accept-Encoding: gzip;q=0\r\n",
                                  "Accept-Encoding: br\r\n", "Accept-Encoding: *;q=0\r\n"}) {
    HttpReply reply = get("/app.js", accept);
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.body, kText) << accept;
    EXPECT_FALSE(reply.header("Content-Encoding").has_value()) << accept;
    EXPECT_EQ(reply.header("Vary"), "Accept-Encoding") << "the answer depends on it: " << accept;
  }
}

TEST_F(PrecompressedTest, BrotliWinsAtEqualWeightAndQValuesDecide) {
  server_.write_root_file("app.js.br", kBrotli);
  EXPECT_EQ(get("/app.js", "Accept-Encoding: gzip, br\r\n").body, kBrotli);
  EXPECT_EQ(get("/app.js", "Accept-Encoding: br;q=0.5, gzip;q=0.9\r\n").body, kGzipped);
  EXPECT_EQ(get("/app.js", "Accept-Encoding: x-gzip\r\n").body, kGzipped);
}

TEST_F(PrecompressedTest, OlderSiblingIsStaleAndIgnored) {
  age("app.js.gz", -3600);
  HttpReply reply = get("/app.js", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(reply.body, kText);
  EXPECT_FALSE(reply.header("Vary").has_value());
}

TEST_F(PrecompressedTest, RangesAndEtagApplyToTheEncodedBytes) {
  const auto plain_etag = get("/app.js").header("ETag");
  HttpReply reply = get("/app.js", "Accept-Encoding: gzip\r\nRange: bytes=0-6\r\n");
  EXPECT_EQ(reply.status, 206);
  EXPECT_EQ(reply.header("Content-Range"), "bytes 0-6/" + std::to_string(kGzipped.size()));
  EXPECT_EQ(reply.body, kGzipped.substr(0, 7));
  EXPECT_NE(reply.header("ETag"), plain_etag);
}

TEST_F(PrecompressedTest, SiblingSymlinkLeadingOutOfTheRootIsNeverSent) {
  server_.write_root_file("page.html", kText);
  const std::string outside = server_.scratch_dir().write_file("secret.gz", "secret-outside-the-root");
  ASSERT_EQ(::symlink(outside.c_str(), (server_.root() + "/page.html.gz").c_str()), 0);
  HttpReply reply = get("/page.html", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kText);
  EXPECT_FALSE(reply.header("Content-Encoding").has_value());
}

TEST_F(PrecompressedTest, SiblingSymlinkInsideTheRootIsSent) {
  server_.write_root_file("page.html", kText);
  server_.write_root_file("compressed.bin", kGzipped);
  ASSERT_EQ(::symlink("compressed.bin", (server_.root() + "/page.html.gz").c_str()), 0);
  HttpReply reply = get("/page.html", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(reply.body, kGzipped);
  EXPECT_EQ(reply.header("Content-Encoding"), "gzip");
}

TEST_F(PrecompressedTest, FileWithoutSiblingHasNoVary) {
  server_.write_root_file("plain.txt", kText);
  EXPECT_FALSE(get("/plain.txt", "Accept-Encoding: gzip\r\n").header("Vary").has_value());
}

// --- dotfiles ---

TEST_F(FileServingTest, DotfilesAre404AnywhereInThePath) {
  server_.scratch_dir().make_dir("root/.git");
  server_.write_root_file(".git/config", "[remote] url = secret");
  server_.write_root_file(".env", "PASSWORD=secret");
  server_.scratch_dir().make_dir("root/app");
  server_.write_root_file("app/.env", "PASSWORD=secret");
  for (std::string_view path : {"/.git/config", "/.env", "/app/.env", "/.git/", "/.git", "/%2egit/config"}) {
    HttpReply reply = get(path);
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_EQ(reply.body.find("secret"), std::string::npos) << path;
  }
}

TEST_F(FileServingTest, WellKnownIsAlwaysServed) {
  server_.scratch_dir().make_dir("root/.well-known");
  server_.scratch_dir().make_dir("root/.well-known/acme-challenge");
  server_.write_root_file(".well-known/x", "token");
  server_.write_root_file(".well-known/acme-challenge/abc", "key-auth");
  EXPECT_EQ(get("/.well-known/x").status, 200);
  EXPECT_EQ(get("/.well-known/x").body, "token");
  EXPECT_EQ(get("/.well-known/acme-challenge/abc").body, "key-auth");
}

class ShowDotfilesTest : public FileServingTest {
 protected:
  ShowDotfilesTest() : FileServingTest({"--show-dotfiles"}) {}
};

TEST_F(ShowDotfilesTest, DotfilesAreListedAndServed) {
  server_.scratch_dir().make_dir("root/.git");
  server_.write_root_file(".git/config", "config");
  EXPECT_EQ(get("/.git/config").body, "config");
  EXPECT_NE(get("/").body.find("href=\".git/\""), std::string::npos);
}

// --- listing ---

TEST_F(FileServingTest, ListingIsATableWithDirectoriesFirstAndNaturalOrder) {
  server_.scratch_dir().make_dir("root/zeta");
  for (std::string_view name : {"file-10.txt", "file-2.txt", "File-1.txt"})
    server_.write_root_file(name, "x");
  HttpReply reply = get("/");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  const std::string& html = reply.body;
  EXPECT_NE(html.find("<meta name=\"viewport\""), std::string::npos);
  EXPECT_NE(html.find("<table>"), std::string::npos);
  const std::size_t zeta = html.find("href=\"zeta/\"");
  const std::size_t one = html.find("href=\"File-1.txt\"");
  const std::size_t two = html.find("href=\"file-2.txt\"");
  const std::size_t ten = html.find("href=\"file-10.txt\"");
  ASSERT_TRUE(zeta != std::string::npos && one != std::string::npos && two != std::string::npos &&
              ten != std::string::npos)
      << html;
  EXPECT_LT(zeta, one);
  EXPECT_LT(one, two);
  EXPECT_LT(two, ten);
  EXPECT_NE(html.find("title=\"1 bytes\">1 B<"), std::string::npos) << html;
}

TEST_F(FileServingTest, ListingHidesASymlinkLeadingOutOfTheRoot) {
  server_.scratch_dir().write_file("outside.txt", "outside");
  ASSERT_EQ(::symlink((server_.scratch() + "/outside.txt").c_str(), (server_.root() + "/escape.txt").c_str()),
            0);
  ASSERT_EQ(::symlink("/etc", (server_.root() + "/etc-link").c_str()), 0);
  server_.write_root_file("target.txt", "in");
  ASSERT_EQ(::symlink("target.txt", (server_.root() + "/inside-link.txt").c_str()), 0);
  const std::string html = get("/").body;
  EXPECT_EQ(html.find("escape.txt"), std::string::npos) << html;
  EXPECT_EQ(html.find("etc-link"), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"inside-link.txt\""), std::string::npos) << html;
  EXPECT_EQ(get("/escape.txt").status, 404);
}

TEST_F(FileServingTest, ListingAsJsonHasTheSameEntries) {
  server_.scratch_dir().make_dir("root/d");
  server_.write_root_file("a b.txt", "12345");
  HttpReply reply = get("/?format=json");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("Content-Type"), "application/json");
  EXPECT_NE(reply.body.find("{\"name\":\"d\",\"type\":\"directory\""), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("{\"name\":\"a b.txt\",\"type\":\"file\",\"size\":5,\"modified\":\""),
            std::string::npos)
      << reply.body;
  const auto python = find_in_path("python3");
  if (!python) return;
  TempDir scratch;
  const std::string file = scratch.write_file("listing.json", reply.body);
  ProcessResult parsed =
      run_process({*python, "-c",
                   "import json,sys; print(sorted(e['name'] for e in json.load(open(sys.argv[1]))))", file});
  EXPECT_EQ(parsed.out, "['a b.txt', 'd']\n") << parsed.err;
}

// --- options ---

class StaticOptionsTest : public FileServingTest {
 protected:
  StaticOptionsTest()
      : FileServingTest({"--index", "index.htm", "--index", "default.txt", "--mime-type", ".nim=text/x-nim",
                         "--mime-type", ".TXT=application/x-custom", "--add-header",
                         "Cache-Control: max-age=60", "--add-header", "X-Frame-Options:DENY"}) {}
};

TEST_F(StaticOptionsTest, IndexNamesAreTriedInOrder) {
  server_.scratch_dir().make_dir("root/one");
  server_.write_root_file("one/default.txt", "default");
  server_.write_root_file("one/index.html", "not an index here");
  EXPECT_EQ(get("/one/").body, "default");
  server_.write_root_file("one/index.htm", "htm");
  EXPECT_EQ(get("/one/").body, "htm");
}

TEST_F(StaticOptionsTest, MimeTypeOptionSetsTypesWithUtf8ForText) {
  server_.write_root_file("a.nim", "echo 1");
  server_.write_root_file("b.txt", "x");
  EXPECT_EQ(get("/a.nim").header("Content-Type"), "text/x-nim; charset=utf-8");
  EXPECT_EQ(get("/b.txt").header("Content-Type"), "application/x-custom");
}

TEST_F(StaticOptionsTest, AddedHeadersGoOnSuccessfulAnswersOnly) {
  server_.write_root_file("a.nim", "echo 1");
  for (std::string_view path : {"/a.nim", "/"}) {
    HttpReply reply = get(path);
    EXPECT_EQ(reply.header("Cache-Control"), "max-age=60") << path;
    EXPECT_EQ(reply.header("X-Frame-Options"), "DENY") << path;
  }
  EXPECT_FALSE(get("/missing").header("Cache-Control").has_value());
}

TEST(StaticOptionsCommandLine, BadAddHeaderMimeTypeOrIndexIsOneLineAndExit2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--add-header", "No colon"},
                                             {"--add-header", "Bad Name: x"},
                                             {"--add-header", "X-A: a\x01"},
                                             {"--add-header", "Connection: keep-alive"},
                                             {"--add-header", "Content-Type: text/html"},
                                             {"--mime-type", "nim=text/x-nim"},
                                             {"--mime-type", ".nim=nonsense"},
                                             {"--index", "a/b.html"}}) {
    std::vector<std::string> argv = {server_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult run = run_process(argv);
    EXPECT_TRUE(run.status.exited && run.status.code == 2) << args[1] << ": " << describe(run.status);
    EXPECT_TRUE(run.err.starts_with("forkserve: --" + args[0].substr(2) + ": ")) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
}

}  // namespace
}  // namespace forkserve::integration
