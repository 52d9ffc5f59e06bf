#include "core/config.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace forkserve {
namespace {

CommandLine parse(std::initializer_list<const char*> args) {
  std::vector<std::string> storage{"forkserve"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(storage.size()), argv.data());
}

TEST(Config, DefaultsServeTheCurrentDirectoryOnAllAddresses) {
  CommandLine cl = parse({});
  ASSERT_EQ(cl.action, CommandLine::Action::Run);
  EXPECT_EQ(cl.config.host, "0.0.0.0");
  EXPECT_EQ(cl.config.port, 8000);
  EXPECT_EQ(cl.config.backlog, 128);
  EXPECT_EQ(cl.config.root, ".");
  EXPECT_TRUE(cl.config.handler_path.empty());
}

TEST(Config, AcceptsPortBacklogHostAndRoot) {
  CommandLine cl = parse({"--port", "8888", "--backlog", "5", "--host", "::1", "--root", "/tmp"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  EXPECT_EQ(cl.config.port, 8888);
  EXPECT_EQ(cl.config.backlog, 5);
  EXPECT_EQ(cl.config.host, "::1");
  EXPECT_EQ(cl.config.root, "/tmp");
}

TEST(Config, AcceptsEqualsSyntax) {
  CommandLine cl = parse({"--port=0"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  EXPECT_EQ(cl.config.port, 0);
}

TEST(Config, RejectsPortOutOfRange) {
  CommandLine cl = parse({"--port", "70000"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("--port"), std::string::npos);
  EXPECT_NE(cl.error.find("70000"), std::string::npos);
}

TEST(Config, RejectsNonNumericAndTrailingGarbage) {
  EXPECT_EQ(parse({"--port", "80x"}).action, CommandLine::Action::Fail);
  EXPECT_EQ(parse({"--port", "-1"}).action, CommandLine::Action::Fail);
  EXPECT_EQ(parse({"--port", ""}).action, CommandLine::Action::Fail);
}

TEST(Config, RejectsZeroBacklog) { EXPECT_EQ(parse({"--backlog", "0"}).action, CommandLine::Action::Fail); }

TEST(Config, RejectsMissingRoot) {
  CommandLine cl = parse({"--root", "/nonexistent/forkserve-root"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("not a directory"), std::string::npos);
}

TEST(Config, MimeTypeMustBeATokenSlashATokenWithOptionalParameters) {
  for (const char* junk : {".x=a/b/c", ".x= text/plain", ".x=text/ plain", ".x=te xt/plain",
                           ".x=text/plain ;q", ".x=text/pl\"ain"}) {
    EXPECT_EQ(parse({"--mime-type", junk}).action, CommandLine::Action::Fail) << junk;
  }
  CommandLine cl = parse({"--mime-type", ".x=text/plain; charset=latin1"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  ASSERT_EQ(cl.config.mime_types.size(), 1u);
  EXPECT_EQ(cl.config.mime_types[0].second, "text/plain; charset=latin1");
}

TEST(Config, AddHeaderRefusesDateWhichTheServerSetsPerResponse) {
  CommandLine cl = parse({"--add-header", "Date: Thu, 01 Jan 1970 00:00:00 GMT"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("Date"), std::string::npos) << cl.error;
}

TEST(Config, RejectsHostNames) {
  CommandLine cl = parse({"--host", "localhost"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("not an IPv4 or IPv6 address"), std::string::npos);
}

TEST(Config, ListenIsRepeatableAndKeepsOrder) {
  CommandLine cl = parse({"--listen", "127.0.0.1:8080", "--listen", "[::1]:0"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  ASSERT_EQ(cl.config.listen.size(), 2u);
  EXPECT_EQ(cl.config.listen[0].host, "127.0.0.1");
  EXPECT_EQ(cl.config.listen[0].port, 8080);
  EXPECT_EQ(cl.config.listen[1].host, "::1");
  EXPECT_EQ(cl.config.listen[1].port, 0);
}

TEST(Config, RejectsListenWithoutPortNamingTheOption) {
  CommandLine cl = parse({"--listen", "127.0.0.1"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("--listen"), std::string::npos) << cl.error;
  EXPECT_NE(cl.error.find("127.0.0.1"), std::string::npos) << cl.error;
}

TEST(Config, ReusePortAndInetdAreOffUnlessGiven) {
  EXPECT_FALSE(parse({}).config.reuse_port);
  EXPECT_FALSE(parse({}).config.inetd);
  EXPECT_TRUE(parse({"--reuse-port"}).config.reuse_port);
  EXPECT_TRUE(parse({"--inetd"}).config.inetd);
}

TEST(Config, RejectsUnknownOptionNamingIt) {
  CommandLine cl = parse({"--bogus"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("--bogus"), std::string::npos);
}

TEST(Config, RejectsMissingArgument) {
  CommandLine cl = parse({"--port"});
  EXPECT_EQ(cl.action, CommandLine::Action::Fail);
  EXPECT_NE(cl.error.find("needs an argument"), std::string::npos);
}

TEST(Config, RejectsStrayArguments) { EXPECT_EQ(parse({"extra"}).action, CommandLine::Action::Fail); }

TEST(Config, ErrorIsOneLine) {
  for (const CommandLine& cl : {parse({"--port", "x"}), parse({"--bogus"}), parse({"--root", "/nope"})}) {
    EXPECT_EQ(cl.error.find('\n'), std::string::npos) << cl.error;
  }
}

TEST(Config, HelpAndVersionAreActions) {
  EXPECT_EQ(parse({"--help"}).action, CommandLine::Action::Help);
  EXPECT_EQ(parse({"--version"}).action, CommandLine::Action::Version);
}

TEST(Config, HelpListsEveryOptionWithItsDefault) {
  std::string help = usage_text();
  for (const char* option : {"--host", "--port", "--backlog", "--root", "--handler", "--access-log",
                             "--max-children", "--header-timeout", "--grace", "--help", "--version"}) {
    EXPECT_NE(help.find(option), std::string::npos) << option;
  }
  EXPECT_NE(help.find("[128]"), std::string::npos);
}

TEST(Config, HelpFitsIn80Columns) {
  std::string help = usage_text();
  std::size_t start = 0;
  while (start < help.size()) {
    std::size_t end = help.find('\n', start);
    if (end == std::string::npos) end = help.size();
    EXPECT_LE(end - start, 80U) << help.substr(start, end - start);
    start = end + 1;
  }
}

TEST(Config, HandlerSpecSplitsArgumentAfterSo) {
  std::string path, arg;
  split_handler_spec("./hello.so:some:arg", path, arg);
  EXPECT_EQ(path, "./hello.so");
  EXPECT_EQ(arg, "some:arg");
  split_handler_spec("/opt/a:b/hello.so", path, arg);
  EXPECT_EQ(path, "/opt/a:b/hello.so");
  EXPECT_EQ(arg, "");
}

TEST(Config, HandlerOptionSetsPathAndArgument) {
  CommandLine cl = parse({"--handler", "x.so:42"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run);
  EXPECT_EQ(cl.config.handler_path, "x.so");
  EXPECT_EQ(cl.config.handler_arg, "42");
}

TEST(Config, TrustProxyIsRepeatableAndTakesCommaSeparatedLists) {
  EXPECT_TRUE(parse({}).config.trusted_proxies.empty());
  CommandLine cl = parse({"--trust-proxy", "127.0.0.1", "--trust-proxy=10.0.0.0/8, ::1,2001:db8::/32"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  ASSERT_EQ(cl.config.trusted_proxies.size(), 4u);
  EXPECT_EQ(cl.config.trusted_proxies[0].prefix_length, 32);
  EXPECT_EQ(cl.config.trusted_proxies[1].prefix_length, 8);
  EXPECT_EQ(cl.config.trusted_proxies[2].prefix_length, 128);
  EXPECT_EQ(cl.config.trusted_proxies[3].prefix_length, 32);
  EXPECT_TRUE(contains(cl.config.trusted_proxies[1], *parse_ip("10.20.30.40")));
}

TEST(Config, TrustProxyRejectsABadBlockNamingIt) {
  for (const char* bad : {"10.0.0.0/33", "proxy.example", "10.0.0.1,", "", "10.1.0.0/8"}) {
    CommandLine cl = parse({"--trust-proxy", bad});
    EXPECT_EQ(cl.action, CommandLine::Action::Fail) << bad;
    EXPECT_TRUE(cl.error.starts_with("--trust-proxy: ")) << cl.error;
    EXPECT_EQ(cl.error.find('\n'), std::string::npos) << cl.error;
  }
  EXPECT_NE(parse({"--trust-proxy", "10.0.0.0/33"}).error.find("'10.0.0.0/33'"), std::string::npos);
}

TEST(Config, LogFormatIsCommonByDefaultAndAcceptsCombined) {
  EXPECT_EQ(parse({}).config.log_format, LogFormat::Common);
  CommandLine cl = parse({"--log-format", "combined"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  EXPECT_EQ(cl.config.log_format, LogFormat::Combined);
  EXPECT_EQ(parse({"--log-format", "Combined"}).action, CommandLine::Action::Fail);
}

TEST(Config, ProcessOptionsAreOffByDefault) {
  Config config = parse({}).config;
  EXPECT_TRUE(config.user.empty());
  EXPECT_TRUE(config.chroot_dir.empty());
  EXPECT_TRUE(config.pidfile.empty());
  EXPECT_FALSE(config.daemon);
  EXPECT_FALSE(config.syslog);
}

TEST(Config, AcceptsUserChrootPidfileDaemonAndSyslog) {
  CommandLine cl = parse(
      {"--user", "www-data:www-data", "--chroot", "/tmp", "--pidfile", "/run/f.pid", "--daemon", "--syslog"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  EXPECT_EQ(cl.config.user, "www-data:www-data");
  EXPECT_EQ(cl.config.chroot_dir, "/tmp");
  EXPECT_EQ(cl.config.pidfile, "/run/f.pid");
  EXPECT_TRUE(cl.config.daemon);
  EXPECT_TRUE(cl.config.syslog);
}

TEST(Config, DaemonAndPidfileDoNotApplyToInetd) {
  for (auto args : {std::initializer_list<const char*>{"--inetd", "--daemon"},
                    std::initializer_list<const char*>{"--inetd", "--pidfile", "/run/f.pid"}}) {
    CommandLine cl = parse(args);
    EXPECT_EQ(cl.action, CommandLine::Action::Fail);
    EXPECT_NE(cl.error.find("do not apply to --inetd"), std::string::npos) << cl.error;
  }
}

TEST(Config, RejectsAChrootThatIsNotADirectoryAndEmptyUserOrPidfile) {
  EXPECT_EQ(parse({"--chroot", "/nonexistent-forkserve"}).action, CommandLine::Action::Fail);
  EXPECT_EQ(parse({"--user", ""}).action, CommandLine::Action::Fail);
  EXPECT_EQ(parse({"--pidfile", ""}).action, CommandLine::Action::Fail);
}

}  // namespace
}  // namespace forkserve

namespace forkserve {
namespace {

TEST(Config, CgiOptionsAreRepeatableAndKeepOrder) {
  CommandLine cl =
      parse({"--cgi", "/cgi-bin/", "--cgi", "*.cgi", "--cgi-alias",
             "/git/=/usr/lib/git-core/git-http-backend", "--cgi-interpreter", ".php=/usr/bin/php-cgi",
             "--cgi-env", "GIT_PROJECT_ROOT=/srv/git", "--cgi-env", "HOME"});
  ASSERT_EQ(cl.action, CommandLine::Action::Run) << cl.error;
  EXPECT_EQ(cl.config.cgi_patterns, (std::vector<std::string>{"/cgi-bin/", "*.cgi"}));
  ASSERT_EQ(cl.config.cgi_aliases.size(), 1U);
  EXPECT_EQ(cl.config.cgi_aliases[0].first, "/git/");
  EXPECT_EQ(cl.config.cgi_aliases[0].second, "/usr/lib/git-core/git-http-backend");
  ASSERT_EQ(cl.config.cgi_interpreters.size(), 1U);
  EXPECT_EQ(cl.config.cgi_interpreters[0].first, ".php");
  EXPECT_EQ(cl.config.cgi_env, (std::vector<std::string>{"GIT_PROJECT_ROOT=/srv/git", "HOME"}));
}

TEST(Config, RejectsMalformedCgiOptionsNamingTheValue) {
  for (auto args : {std::vector<const char*>{"--cgi", "cgi-bin/x"},
                    {"--cgi", ""},
                    {"--cgi-alias", "/git/"},
                    {"--cgi-alias", "git=/usr/bin/x"},
                    {"--cgi-alias", "/git/=relative"},
                    {"--cgi-interpreter", "php=/usr/bin/php-cgi"},
                    {"--cgi-interpreter", ".php=php-cgi"},
                    {"--cgi-env", "=x"},
                    {"--cgi-env", "1ABC=x"},
                    {"--cgi-env", "A-B=x"}}) {
    std::vector<std::string> storage{"forkserve", args[0], args[1]};
    std::vector<char*> argv{storage[0].data(), storage[1].data(), storage[2].data(), nullptr};
    CommandLine cl = parse_command_line(3, argv.data());
    EXPECT_EQ(cl.action, CommandLine::Action::Fail) << args[0] << " " << args[1];
    EXPECT_NE(cl.error.find(std::string("'") + args[1] + "'"), std::string::npos) << cl.error;
  }
}

}  // namespace
}  // namespace forkserve
