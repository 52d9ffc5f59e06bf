/* CGI over fork-per-connection at its simplest, as a yardstick for
 * scripts/bench.sh: accept, fork, read the request, write a status line, then
 * exec the program with the socket as its standard output, so that its
 * header block and body go straight to the client. No parsing, no
 * environment but REQUEST_METHOD, no limits. Children are reaped by ignoring
 * SIGCHLD. Usage: cgi_min PORT PROGRAM */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char status_line[] = "HTTP/1.0 200 OK\r\n";

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cgi_min PORT PROGRAM\n");
    return 2;
  }
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps */
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) {
    perror("cgi_min: socket");
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    perror("cgi_min: bind/listen");
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
      signal(SIGCHLD, SIG_DFL);
      if (read(client, request, sizeof request) <= 0) _exit(0);
      if (write(client, status_line, sizeof status_line - 1) < 0) _exit(1);
      dup2(client, STDOUT_FILENO);
      close(client);
      char* program_argv[] = {argv[2], NULL};
      char* program_env[] = {"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", NULL};
      execve(argv[2], program_argv, program_env);
      _exit(127);
    }
    close(client); /* also when fork() failed: that client gets a reset */
  }
}
