#include "integration/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace forkserve::integration {
namespace {

int poll_timeout(Deadline deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left) + 1;  // +1: never wake a hair before the deadline
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, poll_timeout(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// Reads what is there; false once the stream ended or failed (recorded in reply).
bool read_available(int fd, HttpReply& reply) {
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      reply.raw.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      reply.closed_by_server = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    reply.error = errno;
    return false;
  }
}

std::string escaped(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> HttpReply::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return std::nullopt;
}

std::size_t HttpReply::header_count(std::string_view name) const {
  std::size_t count = 0;
  for (const auto& h : headers) {
    if (h.first.size() == name.size() && ::strncasecmp(h.first.data(), name.data(), name.size()) == 0)
      ++count;
  }
  return count;
}

std::string HttpReply::summary() const {
  std::string out = closed_by_server ? "closed by server" : timed_out ? "timed out" : "not closed";
  if (error != 0) out += ", error: " + std::string(std::strerror(error));
  out += ", " + std::to_string(raw.size()) + " bytes:\n" + escaped(std::string_view(raw).substr(0, 600));
  return out;
}

void parse_reply(HttpReply& reply) {
  reply.parsed = false;
  reply.headers.clear();
  std::size_t head_end = reply.raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return;
  std::string_view head(reply.raw.data(), head_end);
  reply.body = reply.raw.substr(head_end + 4);

  std::size_t line_end = head.find("\r\n");
  reply.status_line = std::string(head.substr(0, line_end));
  // "HTTP/1.0 200 OK"
  if (reply.status_line.size() < 12 || reply.status_line.compare(0, 5, "HTTP/") != 0) return;
  std::size_t space = reply.status_line.find(' ');
  if (space == std::string::npos) return;
  const char* code = reply.status_line.data() + space + 1;
  auto [end, ec] = std::from_chars(code, code + 3, reply.status);
  if (ec != std::errc{} || end != code + 3) return;

  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    reply.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  reply.parsed = true;
}

Client::Client(std::uint16_t port, milliseconds timeout) : Client("127.0.0.1", port, timeout) {}

Client::Client(std::string_view host, std::uint16_t port, milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text(host);
  if (auto& v4 = reinterpret_cast<sockaddr_in&>(address);
      ::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    length = sizeof v4;
  } else if (auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
             ::inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    length = sizeof v6;
  } else {
    error_ = EINVAL;
    return;
  }
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = errno;
    return;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), length);
  if (rc != 0 && errno == EINPROGRESS) {
    if (!wait_for(fd, POLLOUT, deadline)) {
      error_ = ETIMEDOUT;
      ::close(fd);
      return;
    }
    int so_error = 0;
    socklen_t length = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    error_ = errno;
    ::close(fd);
    return;
  }
  fd_ = fd;
}

Client::Client(Client&& other) noexcept : fd_(other.fd_), error_(other.error_) { other.fd_ = -1; }

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Client::send(std::string_view bytes, milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd_, POLLOUT, deadline)) continue;
    error_ = n < 0 && errno != EAGAIN ? errno : ETIMEDOUT;
    return false;
  }
  return true;
}

HttpReply Client::read_reply(milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  HttpReply reply;
  while (read_available(fd_, reply)) {
    if (!wait_for(fd_, POLLIN, deadline)) {
      reply.timed_out = true;
      break;
    }
  }
  parse_reply(reply);
  return reply;
}

bool Client::readable_now() const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

HttpReply exchange(std::uint16_t port, std::string_view request, milliseconds timeout) {
  return exchange("127.0.0.1", port, request, timeout);
}

HttpReply exchange(std::string_view host, std::uint16_t port, std::string_view request,
                   milliseconds timeout) {
  Client client(host, port);
  HttpReply failed;
  if (!client.connected()) {
    failed.error = client.error();
    return failed;
  }
  if (!client.send(request)) {
    // The server may answer (and close) before reading everything; keep what it said.
    HttpReply reply = client.read_reply(timeout);
    if (reply.raw.empty()) reply.error = client.error();
    return reply;
  }
  return client.read_reply(timeout);
}

std::vector<HttpReply> exchange_concurrently(std::uint16_t port, std::string_view request, std::size_t count,
                                             milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  std::vector<Client> clients;
  std::vector<HttpReply> replies(count);
  clients.reserve(count);
  for (std::size_t i = 0; i < count; ++i) clients.emplace_back(port);
  std::vector<pollfd> fds(count);
  std::size_t open = 0;
  for (std::size_t i = 0; i < count; ++i) {
    fds[i] = {-1, POLLIN, 0};
    if (!clients[i].connected()) {
      replies[i].error = clients[i].error();
    } else if (!clients[i].send(request)) {
      replies[i].error = clients[i].error();
    } else {
      fds[i].fd = clients[i].fd();
      ++open;
    }
  }
  while (open > 0) {
    int ready = ::poll(fds.data(), fds.size(), poll_timeout(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (std::size_t i = 0; i < count; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      if (!read_available(fds[i].fd, replies[i])) {
        clients[i].close();  // as a real client does, so the server's lingering close ends now
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (fds[i].fd >= 0) replies[i].timed_out = true;
    parse_reply(replies[i]);
  }
  return replies;
}

int connect_error(std::uint16_t port) {
  Client client(port);
  return client.connected() ? 0 : client.error();
}

std::optional<std::string> curl_path() { return find_in_path("curl"); }

ProcessResult run_curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      curl_path().value_or("curl"), "--silent", "--show-error", "--noproxy", "*", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, milliseconds(15'000));
}

}  // namespace forkserve::integration
