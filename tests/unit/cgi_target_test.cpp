// Which program a request path runs (--cgi, --cgi-alias, --cgi-interpreter)
// and the environment it gets, against a scratch document root.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "handlers/cgi.hpp"

namespace forkserve::handlers {
namespace {

namespace fs = std::filesystem;

class CgiTargetTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/forkserve-cgi-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    fs::create_directories(root_ + "/cgi-bin/sub");
    fs::create_directories(root_ + "/docs");
    write("/cgi-bin/run.sh", 0755);
    write("/cgi-bin/nph-raw", 0755);
    write("/cgi-bin/readme.txt", 0644);
    write("/docs/page.cgi", 0755);
    write("/docs/plain.cgi", 0644);
    write("/docs/index.php", 0644);
    write("/docs/notes.txt", 0755);
    fs::create_symlink("/bin/sh", root_ + "/cgi-bin/escape");
    rules_.root = root_;
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& relative, mode_t mode) {
    std::ofstream(root_ + relative) << "#!/bin/sh\n";
    ::chmod((root_ + relative).c_str(), mode);
  }

  std::string root_;
  CgiRules rules_;
};

TEST_F(CgiTargetTest, PrefixPatternRunsAnExecutableWithTheRestAsPathInfo) {
  rules_.patterns = {"/cgi-bin/"};
  CgiTarget t = find_cgi_target(rules_, "/cgi-bin/run.sh/a%20b/c");
  ASSERT_EQ(t.kind, CgiTarget::Kind::Run);
  EXPECT_EQ(t.argv, std::vector<std::string>{root_ + "/cgi-bin/run.sh"});
  EXPECT_EQ(t.script_name, "/cgi-bin/run.sh");
  EXPECT_EQ(t.path_info, "/a b/c");
  EXPECT_FALSE(t.nph);
}

TEST_F(CgiTargetTest, NonExecutableFileUnderAPrefixIsForbiddenNotServed) {
  rules_.patterns = {"/cgi-bin/"};
  EXPECT_EQ(find_cgi_target(rules_, "/cgi-bin/readme.txt").kind, CgiTarget::Kind::Forbidden);
}

TEST_F(CgiTargetTest, MissingProgramUnderAPrefixIsMissing) {
  rules_.patterns = {"/cgi-bin/"};
  EXPECT_EQ(find_cgi_target(rules_, "/cgi-bin/nothing/here").kind, CgiTarget::Kind::Missing);
}

TEST_F(CgiTargetTest, PathsOutsideThePatternsAreNotCgi) {
  rules_.patterns = {"/cgi-bin/", "*.cgi"};
  EXPECT_EQ(find_cgi_target(rules_, "/docs/notes.txt").kind, CgiTarget::Kind::None);
  EXPECT_EQ(find_cgi_target(rules_, "/cgi-binary").kind, CgiTarget::Kind::None);
  EXPECT_EQ(find_cgi_target(rules_, "/docs/missing.cgi").kind, CgiTarget::Kind::None);
}

TEST_F(CgiTargetTest, FileNamePatternMatchesAnywhereUnderTheRoot) {
  rules_.patterns = {"*.cgi"};
  CgiTarget t = find_cgi_target(rules_, "/docs/page.cgi");
  EXPECT_EQ(t.kind, CgiTarget::Kind::Run);
  EXPECT_EQ(t.path_info, "");
  EXPECT_EQ(find_cgi_target(rules_, "/docs/plain.cgi").kind, CgiTarget::Kind::Forbidden);
}

TEST_F(CgiTargetTest, InterpreterRunsANonExecutableScript) {
  rules_.interpreters = {{".php", "/usr/bin/php-cgi"}};
  CgiTarget t = find_cgi_target(rules_, "/docs/index.php/extra");
  ASSERT_EQ(t.kind, CgiTarget::Kind::Run);
  EXPECT_EQ(t.argv, (std::vector<std::string>{"/usr/bin/php-cgi", root_ + "/docs/index.php"}));
  EXPECT_EQ(t.script_filename, root_ + "/docs/index.php");
  EXPECT_EQ(t.path_info, "/extra");
}

TEST_F(CgiTargetTest, NphProgramsAreRecognisedByName) {
  rules_.patterns = {"/cgi-bin/"};
  EXPECT_TRUE(find_cgi_target(rules_, "/cgi-bin/nph-raw").nph);
}

TEST_F(CgiTargetTest, SymlinkOutOfTheRootIsForbidden) {
  rules_.patterns = {"/cgi-bin/"};
  EXPECT_EQ(find_cgi_target(rules_, "/cgi-bin/escape").kind, CgiTarget::Kind::Forbidden);
}

TEST_F(CgiTargetTest, DotDotNeverReachesAProgram) {
  rules_.patterns = {"*.cgi"};
  EXPECT_EQ(find_cgi_target(rules_, "/docs/%2e%2e/docs/page.cgi").kind, CgiTarget::Kind::None);
}

TEST_F(CgiTargetTest, AliasRunsItsProgramForEveryPathUnderThePrefix) {
  rules_.aliases = {{"/git/", root_ + "/cgi-bin/run.sh"}};
  CgiTarget t = find_cgi_target(rules_, "/git/repo.git/info/refs");
  ASSERT_EQ(t.kind, CgiTarget::Kind::Run);
  EXPECT_EQ(t.script_name, "/git");
  EXPECT_EQ(t.path_info, "/repo.git/info/refs");
  rules_.aliases = {{"/git/", root_ + "/no-such-program"}};
  EXPECT_EQ(find_cgi_target(rules_, "/git/x").kind, CgiTarget::Kind::Missing);
}

TEST_F(CgiTargetTest, EnvironmentHoldsTheMetaVariablesAndNothingElse) {
  rules_.patterns = {"/cgi-bin/"};
  rules_.env = {"GIT_PROJECT_ROOT=/srv/git", "FORKSERVE_TEST_PASSED"};
  ::setenv("FORKSERVE_TEST_PASSED", "from the server", 1);
  ::setenv("FORKSERVE_TEST_NOT_PASSED", "secret", 1);
  CgiTarget t = find_cgi_target(rules_, "/cgi-bin/run.sh/p");
  std::vector<std::pair<std::string, std::string>> environ = {{"CONTENT_LENGTH", "3"},
                                                              {"HTTP_AUTHORIZATION", "Basic x"},
                                                              {"HTTP_PROXY", "evil:1"},
                                                              {"HTTP_X_THING", "1"},
                                                              {"PATH_INFO", "/cgi-bin/run.sh/p"},
                                                              {"QUERY_STRING", "a=1"},
                                                              {"REQUEST_METHOD", "POST"},
                                                              {"SCRIPT_NAME", ""},
                                                              {"forkserve.raw_path", "/x"},
                                                              {"wsgi.url_scheme", "http"}};
  std::vector<std::string> env = cgi_environment(rules_, t, environ);
  auto has = [&](const std::string& entry) { return std::find(env.begin(), env.end(), entry) != env.end(); };
  EXPECT_TRUE(has("CONTENT_LENGTH=3"));
  EXPECT_TRUE(has("QUERY_STRING=a=1"));
  EXPECT_TRUE(has("HTTP_X_THING=1"));
  EXPECT_TRUE(has("SCRIPT_NAME=/cgi-bin/run.sh"));
  EXPECT_TRUE(has("PATH_INFO=/p"));
  EXPECT_TRUE(has("PATH_TRANSLATED=" + root_ + "/p"));
  EXPECT_TRUE(has("SCRIPT_FILENAME=" + root_ + "/cgi-bin/run.sh"));
  EXPECT_TRUE(has("DOCUMENT_ROOT=" + root_));
  EXPECT_TRUE(has("REDIRECT_STATUS=200"));
  EXPECT_TRUE(has("PATH=/usr/local/bin:/usr/bin:/bin"));
  EXPECT_TRUE(has("GIT_PROJECT_ROOT=/srv/git"));
  EXPECT_TRUE(has("FORKSERVE_TEST_PASSED=from the server"));
  for (const std::string& entry : env) {
    EXPECT_FALSE(entry.starts_with("HTTP_AUTHORIZATION=") || entry.starts_with("HTTP_PROXY=") ||
                 entry.starts_with("forkserve.") || entry.starts_with("wsgi.") ||
                 entry.starts_with("FORKSERVE_TEST_NOT_PASSED="))
        << entry;
  }
  EXPECT_EQ(
      std::count_if(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("PATH_INFO="); }),
      1);
}

}  // namespace
}  // namespace forkserve::handlers
