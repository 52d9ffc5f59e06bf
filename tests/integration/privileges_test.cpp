// --user and --chroot on the real binary: the serving processes run as the
// named user with no supplementary groups and no way back to root, inside
// the chroot; a bad or forbidden user stops start-up with one line. Most of
// these need root and are skipped without it.
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettles{5'000};

// The value of `field` ("Uid", "Gid", "Groups") in /proc/PID/status, tabs
// turned into spaces and trimmed.
std::string status_field(pid_t pid, const std::string& field) {
  for (std::string line : lines_of(read_file("/proc/" + std::to_string(pid) + "/status"))) {
    if (!line.starts_with(field + ":")) continue;
    line.erase(0, field.size() + 1);
    for (char& c : line) c = c == '\t' ? ' ' : c;
    line.erase(0, line.find_first_not_of(' '));
    line.erase(line.find_last_not_of(' ') + 1);
    return line;
  }
  return "?";
}

struct Nobody {
  uid_t uid;
  gid_t gid;
};

std::optional<Nobody> nobody() {
  const passwd* entry = ::getpwnam("nobody");
  if (entry == nullptr) return std::nullopt;
  return Nobody{entry->pw_uid, entry->pw_gid};
}

// The child serving the one open connection (it waits for a request head);
// call it with no other request in flight.
pid_t serving_child(const ServerProcess& server) {
  pid_t child = 0;
  eventually(
      [&] {
        child = 0;
        for (const ProcessInfo& c : children_of(server.pid())) {
          if (c.state != 'Z') child = c.pid;
        }
        return child != 0;
      },
      kSettles);
  return child;
}

std::string link_target(const std::string& path) {
  char buffer[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

TEST(PrivilegesTest, UserRunsParentAndChildrenAsThatUserWithoutSupplementaryGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "--user can only switch users when started as root";
  std::optional<Nobody> who = nobody();
  if (!who) GTEST_SKIP() << "no user 'nobody' on this system";
  ServerProcess server({"--handler", module_path("hello.so"), "--user", "nobody", "--grace", "0"});
  ASSERT_TRUE(server.ready()) << server.error();

  // A request begun but not finished holds a child in read_head, where it can
  // be inspected (one that sent nothing is not even accepted yet).
  Client idle(server.port());
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(idle.send("GET / HTTP/1.0\r\n"));
  pid_t child = serving_child(server);
  ASSERT_NE(child, 0) << "no child for an open connection";
  // Real, effective, saved and filesystem ids: with none of them 0, the
  // process has no way back to root.
  const std::string uids = std::to_string(who->uid) + " " + std::to_string(who->uid) + " " +
                           std::to_string(who->uid) + " " + std::to_string(who->uid);
  const std::string gids = std::to_string(who->gid) + " " + std::to_string(who->gid) + " " +
                           std::to_string(who->gid) + " " + std::to_string(who->gid);
  for (pid_t pid : {server.pid(), child}) {
    SCOPED_TRACE(pid == child ? "child" : "parent");
    EXPECT_EQ(status_field(pid, "Uid"), uids);
    EXPECT_EQ(status_field(pid, "Gid"), gids);
    EXPECT_EQ(status_field(pid, "Groups"), "");
  }
  idle.close();
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "serving as root"), 0U) << server.stderr_text();
}

TEST(PrivilegesTest, UserWithGroupUsesThatGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "--user can only switch users when started as root";
  std::optional<Nobody> who = nobody();
  const group* daemon_group = ::getgrnam("daemon");
  if (!who || daemon_group == nullptr) GTEST_SKIP() << "no user 'nobody' or group 'daemon'";
  const gid_t gid = daemon_group->gr_gid;
  ServerProcess server({"--handler", module_path("hello.so"), "--user", "nobody:daemon"});
  ASSERT_TRUE(server.ready()) << server.error();
  const std::string g = std::to_string(gid);
  EXPECT_EQ(status_field(server.pid(), "Gid"), g + " " + g + " " + g + " " + g);
  EXPECT_EQ(status_field(server.pid(), "Groups"), "");
}

// Port 80 and its kind: bound as root, served as nobody.
TEST(PrivilegesTest, UserIsTakenOnlyAfterBindingAPrivilegedPort) {
  if (::geteuid() != 0) GTEST_SKIP() << "binding a privileged port needs root";
  if (!nobody()) GTEST_SKIP() << "no user 'nobody' on this system";
  int unprivileged_start = std::atoi(read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start").c_str());
  if (unprivileged_start <= 1) GTEST_SKIP() << "every port is unprivileged on this kernel";
  // A free port below the limit, found by binding it (and letting it go).
  int port = 0;
  for (int candidate = std::min(unprivileged_start, 1024) - 1; candidate > 0 && port == 0; --candidate) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(candidate));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) port = candidate;
    ::close(fd);
  }
  if (port == 0) GTEST_SKIP() << "no free privileged port on 127.0.0.1";
  ServerProcess server(
      {"--handler", module_path("hello.so"), "--user", "nobody", "--port", std::to_string(port)});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(server.port(), port);
  const std::string uid = std::to_string(nobody()->uid);
  EXPECT_EQ(status_field(server.pid(), "Uid"), uid + " " + uid + " " + uid + " " + uid);
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
}

TEST(PrivilegesTest, UnknownUserStopsStartUpWithOneLine) {
  ProcessResult result = run_process(
      {server_binary(), "--host", "127.0.0.1", "--port", "0", "--user", "no-such-user-forkserve"});
  EXPECT_TRUE(result.status.exited && result.status.code == 1) << describe(result.status);
  EXPECT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_EQ(count_lines_containing(result.err, "--user no-such-user-forkserve: no such user"), 1U)
      << result.err;
  EXPECT_EQ(result.out, "") << "must not start serving";
}

TEST(PrivilegesTest, UnknownGroupStopsStartUpWithOneLine) {
  ProcessResult result =
      run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--user", "root:no-such-group-fs"});
  EXPECT_TRUE(result.status.exited && result.status.code == 1) << describe(result.status);
  EXPECT_EQ(count_lines_containing(result.err, "no such group"), 1U) << result.err;
}

TEST(PrivilegesTest, NonRootCannotSwitchToAnotherUser) {
  std::optional<Nobody> who = nobody();
  if (!who) GTEST_SKIP() << "no user 'nobody' on this system";
  ProcessLimits limits;
  if (::geteuid() == 0) limits.user = who->uid;  // the harness starts the binary as nobody
  ServerProcess server({"--user", "root"}, limits);
  ASSERT_FALSE(server.ready()) << "served as " << ::geteuid() << " after --user root";
  ExitStatus status = server.wait_for_exit(milliseconds(10'000));
  EXPECT_TRUE(status.exited && status.code == 1) << describe(status);
  std::string err = server.stderr_text();
  EXPECT_EQ(lines_of(err).size(), 1U) << err;
  EXPECT_EQ(count_lines_containing(err, "--user root: only root can switch to another user"), 1U) << err;
}

TEST(PrivilegesTest, RootWithoutUserWarnsOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "the warning is for servers started as root";
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "warning: serving as root (without --user)"), 1U)
      << server.stderr_text();
}

TEST(PrivilegesTest, ChrootServesTheRootInsideItAndChildrenSeeOnlyTheJail) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  if (!nobody()) GTEST_SKIP() << "no user 'nobody' on this system";
  TempDir jail;
  ASSERT_EQ(::chmod(jail.path().c_str(), 0755), 0);  // nobody must be able to enter it
  jail.make_dir("www");
  jail.write_file("www/hello.txt", "inside the jail\n");
  jail.write_file("secret.txt", "next to www, not under it\n");
  ServerProcess server(
      {"--chroot", jail.path(), "--root", jail.path() + "/www", "--user", "nobody", "--grace", "0"});
  ASSERT_TRUE(server.ready()) << server.error();

  char real[PATH_MAX];
  ASSERT_NE(::realpath(jail.path().c_str(), real), nullptr);
  Client idle(server.port());
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(idle.send("GET / HTTP/1.0\r\n"));  // begun, not finished: the child waits for the rest
  pid_t child = serving_child(server);
  ASSERT_NE(child, 0);
  EXPECT_EQ(link_target("/proc/" + std::to_string(child) + "/root"), real);
  EXPECT_EQ(link_target("/proc/" + std::to_string(server.pid()) + "/root"), real);
  EXPECT_EQ(link_target("/proc/" + std::to_string(child) + "/cwd"), real)
      << "the working directory must be the jail's /";
  idle.close();

  HttpReply reply = exchange(server.port(), "GET /hello.txt HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "inside the jail\n");
  EXPECT_EQ(exchange(server.port(), "GET /../secret.txt HTTP/1.0\r\n\r\n").status / 100, 4);
}

TEST(PrivilegesTest, ChrootRefusesARootOutsideIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  TempDir jail;
  TempDir elsewhere;
  ProcessResult result = run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--chroot",
                                      jail.path(), "--root", elsewhere.path()});
  EXPECT_TRUE(result.status.exited && result.status.code == 1) << describe(result.status);
  EXPECT_EQ(count_lines_containing(result.err, "is outside --chroot"), 1U) << result.err;
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace forkserve::integration

namespace forkserve::integration {
namespace {

TEST(PrivilegesTest, CgiProgramRunsInsideTheChrootAsTheUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  std::optional<Nobody> who = nobody();
  if (!who) GTEST_SKIP() << "no user 'nobody' on this system";
  TempDir jail;
  ASSERT_EQ(::chmod(jail.path().c_str(), 0755), 0);
  jail.make_dir("www");
  jail.make_dir("www/cgi-bin");
  std::string probe = jail.write_file("www/cgi-bin/probe", read_file(fixture_path("cgi_probe")));
  ASSERT_EQ(::chmod(probe.c_str(), 0755), 0);
  ServerProcess server({"--chroot", jail.path(), "--root", jail.path() + "/www", "--user", "nobody", "--cgi",
                        "/cgi-bin/", "--grace", "0"});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "GET /cgi-bin/probe HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary() << server.stderr_text();
  EXPECT_EQ(reply.body, "uid=" + std::to_string(who->uid) + "\ncwd=/www/cgi-bin\n");
}

}  // namespace
}  // namespace forkserve::integration
