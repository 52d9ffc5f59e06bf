// accept_client(): the one reading of accept(2)'s outcome that the parent
// and the workers act on (go on, pause, or give up on the listener), and
// TCP_DEFER_ACCEPT keeping a silent connection out of accept().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "net/listener.hpp"

namespace forkserve {
namespace {

Listener loopback_listener(int defer_accept_seconds = 0) {
  std::string error;
  ListenOptions options;
  options.defer_accept_seconds = defer_accept_seconds;
  Listener listener = open_listener({"127.0.0.1", 0}, options, error);
  EXPECT_TRUE(listener.fd) << error;
  return listener;
}

UniqueFd connect_to(const Listener& listener) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(listener.endpoint.port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

// Accepts, retrying while the kernel is still completing the handshake.
AcceptedClient accept_within_a_second(int listener_fd) {
  AcceptedClient client;
  for (int i = 0; i < 100; ++i) {
    client = accept_client(listener_fd);
    if (client.status != AcceptStatus::Empty) break;
    ::usleep(10'000);
  }
  return client;
}

TEST(AcceptClient, EmptyQueueIsEmptyNotAnError) {
  Listener listener = loopback_listener();
  EXPECT_EQ(accept_client(listener.fd.get()).status, AcceptStatus::Empty);
}

TEST(AcceptClient, AcceptedSocketIsNonBlockingAndCloseOnExecWithItsPeer) {
  Listener listener = loopback_listener();
  UniqueFd client = connect_to(listener);
  AcceptedClient accepted = accept_within_a_second(listener.fd.get());
  ASSERT_EQ(accepted.status, AcceptStatus::Accepted);
  EXPECT_NE(::fcntl(accepted.fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(accepted.fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(accepted.peer.ss_family, AF_INET);
}

TEST(AcceptClient, DescriptorThatIsNotAListeningSocketIsBroken) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  AcceptedClient accepted = accept_client(pipe_fds[0]);
  EXPECT_EQ(accepted.status, AcceptStatus::Broken);
  EXPECT_EQ(accepted.error, ENOTSOCK);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  EXPECT_EQ(accept_client(pipe_fds[0]).status, AcceptStatus::Broken) << "a closed descriptor";
}

TEST(AcceptClient, DeferredListenerHandsOverAConnectionOnlyOnceItsFirstBytesArrive) {
  Listener listener = loopback_listener(30);
  UniqueFd client = connect_to(listener);
  ::usleep(100'000);  // ample for a handshake on loopback: what is under test is that nothing comes of it
  EXPECT_EQ(accept_client(listener.fd.get()).status, AcceptStatus::Empty);
  ASSERT_EQ(::write(client.get(), "G", 1), 1);
  EXPECT_EQ(accept_within_a_second(listener.fd.get()).status, AcceptStatus::Accepted);
}

}  // namespace
}  // namespace forkserve
