// The static handler, driven through its module descriptor with the
// recording server, on a scratch tree:
//
//   base/                  mkdtemp, removed in TearDown
//     secret.txt           outside the root: must never be served
//     root-sibling/x.txt   a sibling whose name starts with the root's name
//     root/                the document root
#include "handlers/static_files.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/recording_server.hpp"

namespace forkserve::handlers {
namespace {

namespace fs = std::filesystem;
using forkserve::testing::RecordingServer;

constexpr std::time_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kRfcExampleText = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kSecret = "TOP SECRET, outside the root";

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/forkserve-static-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr) << std::strerror(errno);
    base_ = pattern;
    root_ = base_ + "/root";
    fs::create_directory(root_);
    write_at(base_ + "/secret.txt", kSecret);
    fs::create_directory(base_ + "/root-sibling");
    write_at(base_ + "/root-sibling/x.txt", kSecret);
    write("hello.txt", "Hello, static!\n");
    fs::create_directory(root_ + "/sub");
    write("sub/inner.txt", "inner\n");
    init_root(root_);
  }

  void TearDown() override {
    module_->fini();
    // remove_all cannot look inside a directory we made unreadable.
    for (const std::string& path : locked_) ::chmod(path.c_str(), 0700);
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }

  void init_root(const std::string& root) {
    char error[256] = "";
    ASSERT_EQ(module_->init(root.c_str(), error, sizeof error), FORKSERVE_OK) << error;
  }

  static void write_at(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }
  void write(const std::string& relative, std::string_view content) const {
    write_at(root_ + "/" + relative, content);
  }
  void set_mtime(const std::string& relative, std::time_t t) const {
    const struct timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/" + relative).c_str(), times, 0), 0);
  }

  // Runs one request through handle(); the module must always return OK,
  // answering errors with a status rather than failing.
  std::unique_ptr<RecordingServer> request(const std::string& method, const std::string& raw_path,
                                           const RecordingServer::Pairs& extra = {}) const {
    RecordingServer::Pairs variables = {
        {"REQUEST_METHOD", method}, {"forkserve.raw_path", raw_path}, {"QUERY_STRING", ""}};
    variables.insert(variables.end(), extra.begin(), extra.end());  // later names win
    auto server = std::make_unique<RecordingServer>(std::move(variables));
    EXPECT_EQ(server->handle(*module_), FORKSERVE_OK) << method << " " << raw_path;
    return server;
  }
  std::unique_ptr<RecordingServer> get(const std::string& raw_path,
                                       const RecordingServer::Pairs& extra = {}) const {
    return request("GET", raw_path, extra);
  }

  // The links of a listing's table rows, in order: "<a href=\"b.txt\">b.txt</a>".
  static std::vector<std::string> list_items(const std::string& html) {
    std::vector<std::string> items;
    std::istringstream lines(html);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("<tr") || line.find("<th") != std::string::npos) continue;
      const std::size_t start = line.find("<a ");
      const std::size_t end = line.find("</a>");
      if (start != std::string::npos && end != std::string::npos)
        items.push_back(line.substr(start, end + 4 - start));
    }
    return items;
  }

  // chmod 000, restored in TearDown.
  void lock(const std::string& relative) {
    locked_.push_back(root_ + "/" + relative);
    ASSERT_EQ(::chmod(locked_.back().c_str(), 0), 0) << std::strerror(errno);
  }

  const forkserve_module* module_ = static_files_module();
  std::string base_;
  std::string root_;
  std::vector<std::string> locked_;
};

TEST_F(StaticFilesTest, RegularFileIs200WithTypeLastModifiedAndExactBody) {
  set_mtime("hello.txt", kRfcExample);
  auto r = get("/hello.txt");
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("Last-Modified"), kRfcExampleText);
  EXPECT_EQ(r->content_length(), 15u);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, ContentTypeFollowsTheExtension) {
  write("page.HTML", "<p>hi</p>");
  write("blob.bin", "\x01\x02");
  EXPECT_EQ(get("/page.HTML")->header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get("/blob.bin")->header("Content-Type"), "application/octet-stream");
}

TEST_F(StaticFilesTest, BinaryFileIsServedByteForByte) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7 % 256));
  write("data.bin", data);
  auto r = get("/data.bin");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->content_length(), data.size());
  EXPECT_EQ(r->body(), data);
}

TEST_F(StaticFilesTest, EmptyFileIs200WithZeroLength) {
  write("empty.txt", "");
  auto r = get("/empty.txt");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->content_length(), 0u);
  EXPECT_EQ(r->body(), "");
}

TEST_F(StaticFilesTest, PercentEncodedNameIsDecoded) {
  write("a b.txt", "spaced");
  auto r = get("/a%20b.txt");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "spaced");
}

TEST_F(StaticFilesTest, HeadAnswersAsGet) {
  set_mtime("hello.txt", kRfcExample);
  auto r = request("HEAD", "/hello.txt");
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("Last-Modified"), kRfcExampleText);
  EXPECT_EQ(r->content_length(), 15u);
}

TEST_F(StaticFilesTest, IfModifiedSinceAtOrAfterMtimeIs304WithoutBody) {
  set_mtime("hello.txt", kRfcExample);
  for (const char* since : {kRfcExampleText, "Mon, 07 Nov 1994 00:00:00 GMT",
                            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"}) {
    auto r = get("/hello.txt", {{"HTTP_IF_MODIFIED_SINCE", since}});
    EXPECT_EQ(r->status(), "304 Not Modified") << since;
    EXPECT_EQ(r->body(), "") << since;
    EXPECT_EQ(r->header("Content-Type"), std::nullopt) << since;
    EXPECT_EQ(r->header("Last-Modified"), kRfcExampleText) << since;
  }
}

TEST_F(StaticFilesTest, IfModifiedSinceBeforeMtimeIs200) {
  set_mtime("hello.txt", kRfcExample);
  auto r = get("/hello.txt", {{"HTTP_IF_MODIFIED_SINCE", "Sun, 06 Nov 1994 08:49:36 GMT"}});
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, InvalidIfModifiedSinceIsIgnored) {
  set_mtime("hello.txt", kRfcExample);
  auto r = get("/hello.txt", {{"HTTP_IF_MODIFIED_SINCE", "yesterday"}});
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, IfModifiedSinceIsIgnoredWithIfNoneMatch) {
  set_mtime("hello.txt", kRfcExample);
  auto r = get("/hello.txt", {{"HTTP_IF_MODIFIED_SINCE", kRfcExampleText}, {"HTTP_IF_NONE_MATCH", "\"x\""}});
  EXPECT_EQ(r->status_code(), 200);
}

TEST_F(StaticFilesTest, MissingFileIs404WithShortTextBody) {
  auto r = get("/nope.txt");
  EXPECT_EQ(r->status(), "404 Not Found");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->body(), "404 Not Found\n");
}

TEST_F(StaticFilesTest, FileWithTrailingSlashOrBelowAFileIs404) {
  EXPECT_EQ(get("/hello.txt/")->status_code(), 404);
  EXPECT_EQ(get("/hello.txt/more")->status_code(), 404);
}

TEST_F(StaticFilesTest, OtherMethodsAre405WithAllow) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get"}) {
    auto r = request(method, "/hello.txt");
    EXPECT_EQ(r->status(), "405 Method Not Allowed") << method;
    EXPECT_EQ(r->header("Allow"), "GET, HEAD") << method;
    EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8") << method;
    EXPECT_EQ(r->body(), "405 Method Not Allowed\n") << method;
  }
}

TEST_F(StaticFilesTest, DirectoryWithoutSlashIs301ToSlash) {
  auto r = get("/sub");
  EXPECT_EQ(r->status(), "301 Moved Permanently");
  EXPECT_EQ(r->header("Location"), "/sub/");
}

TEST_F(StaticFilesTest, RedirectKeepsTheQueryString) {
  auto r = get("/sub", {{"QUERY_STRING", "sort=name&x=1"}});
  EXPECT_EQ(r->status_code(), 301);
  EXPECT_EQ(r->header("Location"), "/sub/?sort=name&x=1");
}

TEST_F(StaticFilesTest, RedirectLocationIsNormalisedAndEncoded) {
  fs::create_directory(root_ + "/a b");
  EXPECT_EQ(get("/a%20b")->header("Location"), "/a%20b/");
  EXPECT_EQ(get("/./sub")->header("Location"), "/sub/");
}

TEST_F(StaticFilesTest, RedirectNeverBecomesProtocolRelative) {
  // "//sub" echoed back would be "//sub/": a redirect to the host "sub".
  auto r = get("//sub");
  EXPECT_EQ(r->status_code(), 301);
  EXPECT_EQ(r->header("Location"), "/sub/");
}

TEST_F(StaticFilesTest, DirectoryWithIndexHtmlServesIt) {
  fs::create_directory(root_ + "/site");
  write("site/index.html", "<!DOCTYPE html><title>site</title>");
  write("site/other.txt", "other");
  auto r = get("/site/");
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_TRUE(r->header("Last-Modified").has_value());
  EXPECT_EQ(r->body(), "<!DOCTYPE html><title>site</title>");
}

TEST_F(StaticFilesTest, RootWithIndexHtmlServesIt) {
  write("index.html", "home");
  auto r = get("/");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "home");
}

TEST_F(StaticFilesTest, ListingPutsDirectoriesFirstSortsNaturallyEscapesAndHidesDotfiles) {
  fs::create_directory(root_ + "/list");
  for (const char* name :
       {"b.txt", "a&<b>.txt", "sp ace.txt", "quote\"'.txt", "Caps.txt", ".hidden", ".env"}) {
    write(std::string("list/") + name, "x");
  }
  fs::create_directory(root_ + "/list/zdir");
  fs::create_directory(root_ + "/list/.git");
  fs::create_directory_symlink("zdir", root_ + "/list/linkdir");

  auto r = get("/list/");
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->header("Content-Type"), "text/html; charset=utf-8");
  const std::vector<std::string> expected = {
      R"(<a href="../">../</a>)",
      R"(<a href="linkdir/">linkdir/</a>)",
      R"(<a href="zdir/">zdir/</a>)",
      R"(<a href="a%26%3Cb%3E.txt">a&amp;&lt;b&gt;.txt</a>)",
      R"(<a href="b.txt">b.txt</a>)",
      R"(<a href="Caps.txt">Caps.txt</a>)",
      R"(<a href="quote%22%27.txt">quote&quot;&#39;.txt</a>)",
      R"(<a href="sp%20ace.txt">sp ace.txt</a>)",
  };
  EXPECT_EQ(list_items(r->body()), expected);
  EXPECT_EQ(r->body().find("hidden"), std::string::npos);
  EXPECT_EQ(r->body().find(".env"), std::string::npos);
  EXPECT_EQ(r->body().find(".git"), std::string::npos);
}

TEST_F(StaticFilesTest, ListingShowsDotfilesWhenAskedTo) {
  init_root(handlers::static_files_argument({.root = root_, .show_dotfiles = true}));
  fs::create_directory(root_ + "/list");
  write("list/.env", "x");
  write("list/a.txt", "x");
  auto r = get("/list/");
  const std::vector<std::string> expected = {
      R"(<a href="../">../</a>)",
      R"(<a href=".env">.env</a>)",
      R"(<a href="a.txt">a.txt</a>)",
  };
  EXPECT_EQ(list_items(r->body()), expected);
}

TEST_F(StaticFilesTest, ListingHidesDotfilesThroughTheServersArgumentToo) {
  init_root(handlers::static_files_argument({.root = root_, .show_dotfiles = false}));
  write(".env", "x");
  EXPECT_EQ(get("/")->body().find(".env"), std::string::npos);
}

TEST_F(StaticFilesTest, MimeTypesFileOverridesTheTableAndMimeTypeOptionsOverrideBoth) {
  write_at(base_ + "/mime.types", "text/x-own txt\napplication/x-nim nim\nimage/x-one one\n");
  StaticFilesOptions options{.root = root_};
  options.mime_types_file = base_ + "/mime.types";
  options.mime_types = {{"one", "image/x-two"}};
  init_root(static_files_argument(options));
  write("a.txt", "x");
  write("b.nim", "x");
  write("c.one", "x");
  write("d.png", "x");
  EXPECT_EQ(get("/a.txt")->header("Content-Type"), "text/x-own; charset=utf-8");
  EXPECT_EQ(get("/b.nim")->header("Content-Type"), "application/x-nim");
  EXPECT_EQ(get("/c.one")->header("Content-Type"), "image/x-two");
  EXPECT_EQ(get("/d.png")->header("Content-Type"), "image/png");
}

TEST_F(StaticFilesTest, MissingMimeTypesFileLeavesTheBuiltInTable) {
  StaticFilesOptions options{.root = root_};
  options.mime_types_file = base_ + "/no-such-file";
  init_root(static_files_argument(options));
  EXPECT_EQ(get("/hello.txt")->header("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(StaticFilesTest, DotSegmentsAre404ExceptALeadingWellKnown) {
  fs::create_directories(root_ + "/.well-known/.hidden");
  fs::create_directories(root_ + "/sub/.well-known");
  write(".well-known/ok.txt", "ok");
  write(".well-known/.hidden/x", "x");
  write("sub/.well-known/x", "x");
  write(".profile", "x");
  EXPECT_EQ(get("/.well-known/ok.txt")->status_code(), 200);
  EXPECT_EQ(get("/.well-known/.hidden/x")->status_code(), 404);
  EXPECT_EQ(get("/sub/.well-known/x")->status_code(), 404);
  EXPECT_EQ(get("/.profile")->status_code(), 404);
  EXPECT_EQ(get("/%2Eprofile")->status_code(), 404);
}

TEST_F(StaticFilesTest, IndexNamesComeFromTheOptionsInOrder) {
  StaticFilesOptions options{.root = root_};
  options.index_names = {"home.htm", "index.html"};
  init_root(static_files_argument(options));
  write("index.html", "index");
  EXPECT_EQ(get("/")->body(), "index");
  write("home.htm", "home");
  EXPECT_EQ(get("/")->body(), "home");
}

TEST_F(StaticFilesTest, NoIndexNamesAlwaysLists) {
  StaticFilesOptions options{.root = root_};
  options.index_names.clear();
  init_root(static_files_argument(options));
  write("index.html", "index");
  EXPECT_NE(get("/")->body().find("href=\"index.html\""), std::string::npos);
}

TEST_F(StaticFilesTest, ListingIsAnHtml5PageTitledWithTheEscapedPath) {
  fs::create_directory(root_ + "/a&b");
  auto r = get("/a%26b/");
  EXPECT_EQ(r->status_code(), 200);
  const std::string& html = r->body();
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n")) << html;
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos) << html;
  EXPECT_NE(html.find("<title>Index of /a&amp;b/</title>"), std::string::npos) << html;
  EXPECT_NE(html.find("<h1>Index of /a&amp;b/</h1>"), std::string::npos) << html;
  EXPECT_NE(html.find("</html>"), std::string::npos) << html;
}

TEST_F(StaticFilesTest, RootListingHasNoParentLink) {
  auto r = get("/");
  EXPECT_EQ(r->status_code(), 200);
  const std::vector<std::string> expected = {
      R"(<a href="sub/">sub/</a>)",
      R"(<a href="hello.txt">hello.txt</a>)",
  };
  EXPECT_EQ(list_items(r->body()), expected);
  EXPECT_NE(r->body().find("<title>Index of /</title>"), std::string::npos);
}

TEST_F(StaticFilesTest, TraversalIsRefusedInEveryEncoding) {
  for (const char* raw : {
           "/../secret.txt",
           "/sub/../../secret.txt",
           "/%2e%2e/secret.txt",
           "/%2E%2E/secret.txt",
           "/.%2e/secret.txt",
           "/.%2E/secret.txt",
           "/%2e./secret.txt",
           "/sub/%2e%2e/%2e%2e/secret.txt",
           "/..%2fsecret.txt",
           "/..%2Fsecret.txt",
           "/sub%2f..%2f..%2fsecret.txt",
           "/..%5csecret.txt",
           "/..%5Csecret.txt",
           "/..\\secret.txt",
           "/hello.txt%00.html",
           "/%252e%252e/secret.txt",  // decodes once to a directory named "%2e%2e": none here
           "/../root-sibling/x.txt",
       }) {
    auto r = get(raw);
    EXPECT_EQ(r->status(), "404 Not Found") << raw;
    EXPECT_EQ(r->body().find(kSecret), std::string::npos) << raw;
  }
}

TEST_F(StaticFilesTest, MalformedEscapeIs400) {
  for (const char* raw : {"/%zz", "/%4", "/hello.txt%", "/..%2", "/%g0/../secret.txt"}) {
    auto r = get(raw);
    EXPECT_EQ(r->status(), "400 Bad Request") << raw;
    EXPECT_EQ(r->body(), "400 Bad Request\n") << raw;
  }
}

TEST_F(StaticFilesTest, PathThatIsNotAbsoluteIs400) {
  EXPECT_EQ(get("hello.txt")->status_code(), 400);
  EXPECT_EQ(get("")->status_code(), 400);
}

TEST_F(StaticFilesTest, DoubleEncodedDotDotIsALiteralName) {
  write("%2e%2e", "just a name");
  auto r = get("/%252e%252e");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "just a name");
}

TEST_F(StaticFilesTest, SymlinkOutOfRootIsRefused) {
  fs::create_symlink("../secret.txt", root_ + "/escape.txt");
  fs::create_symlink(base_ + "/secret.txt", root_ + "/absolute.txt");
  fs::create_directory_symlink("..", root_ + "/up");
  fs::create_symlink("../root-sibling/x.txt", root_ + "/sibling.txt");
  fs::create_directory_symlink("/", root_ + "/slash");
  for (const char* raw : {"/escape.txt", "/absolute.txt", "/up/secret.txt", "/up/", "/up", "/sibling.txt",
                          "/slash/etc/passwd"}) {
    auto r = get(raw);
    EXPECT_EQ(r->status_code(), 404) << raw;
    EXPECT_EQ(r->body().find(kSecret), std::string::npos) << raw;
  }
}

TEST_F(StaticFilesTest, SymlinkWithinRootIsServed) {
  fs::create_symlink("hello.txt", root_ + "/link.txt");
  fs::create_directory_symlink("sub", root_ + "/linkdir");
  auto file = get("/link.txt");
  EXPECT_EQ(file->status_code(), 200);
  EXPECT_EQ(file->body(), "Hello, static!\n");
  auto inner = get("/linkdir/inner.txt");
  EXPECT_EQ(inner->status_code(), 200);
  EXPECT_EQ(inner->body(), "inner\n");
  EXPECT_EQ(get("/linkdir/")->status_code(), 200);
}

TEST_F(StaticFilesTest, SymlinkContentTypeComesFromTheRequestedName) {
  fs::create_symlink("hello.txt", root_ + "/alias.html");
  EXPECT_EQ(get("/alias.html")->header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(StaticFilesTest, SymlinkToRootItselfIsServed) {
  fs::create_directory_symlink(".", root_ + "/self");
  auto r = get("/self/hello.txt");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, DanglingSymlinkIs404) {
  fs::create_symlink("missing.txt", root_ + "/dangling.txt");
  EXPECT_EQ(get("/dangling.txt")->status_code(), 404);
}

TEST_F(StaticFilesTest, IndexHtmlSymlinkOutOfRootIsNotServedNorListed) {
  fs::create_directory(root_ + "/site");
  fs::create_symlink("../../secret.txt", root_ + "/site/index.html");
  auto r = get("/site/");
  EXPECT_EQ(r->status_code(), 404);
  EXPECT_EQ(r->body().find(kSecret), std::string::npos);
}

TEST_F(StaticFilesTest, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((root_ + "/pipe").c_str(), 0644), 0) << std::strerror(errno);
  auto r = get("/pipe");
  EXPECT_EQ(r->status(), "403 Forbidden");
  EXPECT_EQ(r->body(), "403 Forbidden\n");
}

TEST_F(StaticFilesTest, FifoAsIndexHtmlIsRefused) {
  fs::create_directory(root_ + "/site");
  ASSERT_EQ(::mkfifo((root_ + "/site/index.html").c_str(), 0644), 0) << std::strerror(errno);
  EXPECT_EQ(get("/site/")->status_code(), 403);
}

// Runs GET `raw_path` in a child that dropped to user "nobody", for tests of
// permission bits under root (whom chmod 000 does not stop). The status code,
// or nullopt when privileges cannot be dropped.
std::optional<int> status_as_nobody(const forkserve_module& module, const std::string& raw_path) {
  constexpr uid_t kNobody = 65534;
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::close(fds[0]);
    int status = -1;
    if (::setgroups(0, nullptr) == 0 && ::setgid(kNobody) == 0 && ::setuid(kNobody) == 0) {
      RecordingServer server({{"REQUEST_METHOD", "GET"}, {"forkserve.raw_path", raw_path}});
      server.handle(module);
      status = server.status_code();
    }
    (void)!::write(fds[1], &status, sizeof status);
    ::_exit(0);
  }
  ::close(fds[1]);
  int status = -1;
  const ssize_t n = ::read(fds[0], &status, sizeof status);
  ::close(fds[0]);
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  if (n != sizeof status || status < 0) return std::nullopt;
  return status;
}

TEST_F(StaticFilesTest, UnreadableFileIs403) {
  ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(base_.c_str(), 0755), 0);
  lock("hello.txt");
  const int probe = ::open((root_ + "/hello.txt").c_str(), O_RDONLY | O_CLOEXEC);
  if (probe < 0) {
    EXPECT_EQ(get("/hello.txt")->status(), "403 Forbidden");
    return;
  }
  ::close(probe);
  // Running as root: chmod 000 does not block our reads, so ask as nobody.
  const std::optional<int> status = status_as_nobody(*module_, "/hello.txt");
  if (!status)
    GTEST_SKIP() << "running as root, where chmod 000 does not block reads, and cannot drop to uid 65534";
  EXPECT_EQ(*status, 403);
}

TEST_F(StaticFilesTest, UnreadableDirectoryListingIs403) {
  ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(base_.c_str(), 0755), 0);
  fs::create_directory(root_ + "/locked");
  lock("locked");
  const int probe = ::open((root_ + "/locked").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (probe < 0) {
    EXPECT_EQ(get("/locked/")->status(), "403 Forbidden");
    return;
  }
  ::close(probe);
  const std::optional<int> status = status_as_nobody(*module_, "/locked/");
  if (!status)
    GTEST_SKIP() << "running as root, where chmod 000 does not block reads, and cannot drop to uid 65534";
  EXPECT_EQ(*status, 403);
}

TEST_F(StaticFilesTest, MissingRawPathIs500AndLogged) {
  RecordingServer server({{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/hello.txt"}});
  EXPECT_EQ(server.handle(*module_), FORKSERVE_OK);
  EXPECT_EQ(server.status_code(), 500);
  ASSERT_EQ(server.error_log().size(), 1u);
  EXPECT_NE(server.error_log()[0].find("forkserve.raw_path"), std::string::npos);
}

TEST_F(StaticFilesTest, ClientGoneWhileSendingIsAFailureInTheLog) {
  RecordingServer server({{"REQUEST_METHOD", "GET"}, {"forkserve.raw_path", "/hello.txt"}});
  server.fail_writes("client went away");
  EXPECT_EQ(server.handle(*module_), FORKSERVE_FAILED);
  EXPECT_EQ(server.status_code(), 200);
  ASSERT_EQ(server.error_log().size(), 1u);
  EXPECT_EQ(server.error_log()[0], "client went away");
}

TEST_F(StaticFilesTest, QueryStringIsIgnoredForFiles) {
  auto r = get("/hello.txt", {{"QUERY_STRING", "v=2"}});
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, RootGivenThroughASymlinkIsResolvedAtInit) {
  fs::create_directory_symlink("root", base_ + "/root-link");
  init_root(base_ + "/root-link");
  fs::remove(base_ + "/root-link");  // resolved once: the link is no longer needed
  auto r = get("/hello.txt");
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->body(), "Hello, static!\n");
}

TEST_F(StaticFilesTest, BadRootIsRejectedAtInit) {
  char error[256] = "";
  const std::string missing = base_ + "/no-such-dir";
  EXPECT_NE(module_->init(missing.c_str(), error, sizeof error), FORKSERVE_OK);
  EXPECT_NE(std::string(error).find(missing), std::string::npos) << error;
  EXPECT_NE(std::string(error).find("No such file or directory"), std::string::npos) << error;

  const std::string file = root_ + "/hello.txt";
  EXPECT_NE(module_->init(file.c_str(), error, sizeof error), FORKSERVE_OK);
  EXPECT_NE(std::string(error).find(file), std::string::npos) << error;
  EXPECT_NE(std::string(error).find("Not a directory"), std::string::npos) << error;

  EXPECT_NE(module_->init("", error, sizeof error), FORKSERVE_OK);
  EXPECT_NE(std::string(error).find("document root"), std::string::npos) << error;
}

TEST_F(StaticFilesTest, DescriptorIsAValidModule) {
  EXPECT_EQ(module_->magic, FORKSERVE_MODULE_MAGIC);
  EXPECT_EQ(module_->abi_major, FORKSERVE_ABI_MAJOR);
  EXPECT_EQ(module_->size, sizeof(forkserve_module));
  EXPECT_STREQ(module_->name, "static_files");
}

}  // namespace
}  // namespace forkserve::handlers
