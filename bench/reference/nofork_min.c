/* The same fixed answer as fork_min, without fork(): one process accepts,
 * reads the request, writes a fixed 13-byte answer and closes, one
 * connection after the other. It shows what the fork design costs: the gap
 * between this and fork_min is fork() + exit() + reaping per request.
 * No parsing, no logging, no limits. Usage: nofork_min PORT */
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
    fprintf(stderr, "usage: nofork_min PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a client that left is an EPIPE, not our death */
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) {
    perror("nofork_min: socket");
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    perror("nofork_min: bind/listen");
    return 1;
  }
  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE) usleep(1000); /* let descriptors free up */
      continue;
    }
    char request[4096];
    if (read(client, request, sizeof request) > 0) {
      ssize_t written = write(client, response, sizeof response - 1);
      (void)written; /* a client that left early is simply closed */
    }
    close(client);
  }
}
