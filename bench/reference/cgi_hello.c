/* The compiled CGI program of scripts/bench.sh's CGI round: the smallest
 * valid CGI response, with the 13-byte body every other row serves. */
#include <unistd.h>

static const char response[] = "Content-Type: text/plain\r\n\r\nHello, World!";

int main(void) { return write(STDOUT_FILENO, response, sizeof response - 1) == sizeof response - 1 ? 0 : 1; }
