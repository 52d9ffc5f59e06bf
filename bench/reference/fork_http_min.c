/* The smallest fork-per-connection HTTP/1.0 server that is correct, as the
 * yardstick forkserve's default mode is judged against in scripts/bench.sh
 * (fork_min is the same loop with no HTTP at all): accept, fork; the child
 * reads the request head (until the blank line, 10 s at most), answers a
 * fixed 13-byte body with Date and Content-Length, appends one Common Log
 * Format line to LOGFILE with a single write, and closes lingering (drains
 * what the client still sends, 2 s at most) when the request was not read to
 * its end. Children are reaped by ignoring SIGCHLD.
 * Usage: fork_http_min PORT LOGFILE */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char body[] = "Hello, World!";

static void serve(int client, const struct sockaddr_in* peer, int log_fd) {
  char request[8192];
  size_t size = 0;
  char* end = NULL;
  alarm(10); /* the whole head within 10 s, or the child dies */
  while (end == NULL && size < sizeof request - 1) {
    ssize_t n = read(client, request + size, sizeof request - 1 - size);
    if (n <= 0) return;
    size += (size_t)n;
    request[size] = '\0';
    end = strstr(request, "\r\n\r\n");
  }
  alarm(0);
  if (end == NULL) return; /* head too large: close */
  char* line_end = strstr(request, "\r\n");
  *line_end = '\0';

  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  char date[64], log_date[64];
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  strftime(log_date, sizeof log_date, "%d/%b/%Y:%H:%M:%S +0000", &utc);
  char response[512];
  int length = snprintf(response, sizeof response,
                        "HTTP/1.0 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s",
                        date, sizeof body - 1, body);
  if (write(client, response, (size_t)length) != length) return;

  char log_line[1024];
  char address[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &peer->sin_addr, address, sizeof address);
  length = snprintf(log_line, sizeof log_line, "%s - - [%s] \"%.512s\" 200 %zu\n", address, log_date, request,
                    sizeof body - 1);
  if (write(log_fd, log_line, (size_t)length) != length) return;

  if (end + 4 != request + size) { /* more than the head arrived: linger */
    shutdown(client, SHUT_WR);
    struct pollfd p = {client, POLLIN, 0};
    char sink[4096];
    while (poll(&p, 1, 2000) > 0 && read(client, sink, sizeof sink) > 0) {
    }
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fork_http_min PORT LOGFILE\n");
    return 2;
  }
  int log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    perror("fork_http_min: open log");
    return 1;
  }
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps */
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) {
    perror("fork_http_min: socket");
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    perror("fork_http_min: bind/listen");
    return 1;
  }
  for (;;) {
    struct sockaddr_in peer;
    socklen_t peer_length = sizeof peer;
    int client = accept4(listener, (struct sockaddr*)&peer, &peer_length, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE) usleep(1000); /* let descriptors free up */
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(listener);
      serve(client, &peer, log_fd);
      _exit(0);
    }
    close(client); /* also when fork() failed: that client gets a reset */
  }
}
