/* The fork-per-connection design at its simplest, as a yardstick for
 * scripts/bench.sh: accept, fork, read the request, write a fixed 13-byte
 * answer, _exit. No parsing, no logging, no limits. Children are reaped by
 * ignoring SIGCHLD. Usage: fork_min PORT */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] =
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fork_min PORT\n");
    return 2;
  }
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps */
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) {
    perror("fork_min: socket");
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    perror("fork_min: bind/listen");
    return 1;
  }
  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE) usleep(1000); /* let descriptors free up */
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      char request[4096];
      close(listener);
      if (read(client, request, sizeof request) > 0) {
        if (write(client, response, sizeof response - 1) < 0) _exit(1);
      }
      _exit(0);
    }
    close(client); /* also when fork() failed: that client gets a reset */
  }
}
