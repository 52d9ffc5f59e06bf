/* Samples /proc while a benchmark runs, for scripts/bench.sh, and prints
 * three numbers: the most children PID had at once, the most of them that
 * had exited but were not reaped yet (zombies), and how many samples were
 * taken. Scans every /proc/N/stat for a matching parent pid, as kernels
 * without CONFIG_PROC_CHILDREN have no cheaper way.
 * Usage: peak_children PID INTERVAL_MS MAX_SECONDS
 * Stops at SIGTERM/SIGINT, when PID is gone, or after MAX_SECONDS. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int signo) {
  (void)signo;
  stop = 1;
}

/* The state and parent pid from /proc/N/stat: the fields after "(comm)",
 * where comm may itself hold spaces and parentheses, so search from the last
 * ')'. Returns the parent pid, or -1. */
static long parent_of(const char* pid, char* state) {
  char path[300], text[512]; /* a /proc entry name is at most 255 bytes */
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  FILE* file = fopen(path, "r");
  if (file == NULL) return -1;
  size_t length = fread(text, 1, sizeof text - 1, file);
  fclose(file);
  text[length] = '\0';
  char* end = strrchr(text, ')');
  long ppid;
  if (end == NULL || sscanf(end + 1, " %c %ld", state, &ppid) != 2) return -1;
  return ppid;
}

/* Counts the children of `parent`, and among them the zombies. */
static void count_children(long parent, int* children, int* zombies) {
  *children = *zombies = 0;
  DIR* proc = opendir("/proc");
  if (proc == NULL) return;
  struct dirent* entry;
  while ((entry = readdir(proc)) != NULL) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    char state = '?';
    if (parent_of(entry->d_name, &state) != parent) continue;
    ++*children;
    if (state == 'Z') ++*zombies;
  }
  closedir(proc);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: peak_children PID INTERVAL_MS MAX_SECONDS\n");
    return 2;
  }
  long parent = atol(argv[1]);
  long interval_ms = atol(argv[2]);
  long max_samples = atol(argv[3]) * 1000 / (interval_ms > 0 ? interval_ms : 1);
  char self[32];
  snprintf(self, sizeof self, "/proc/%ld", parent);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
  int peak_children = 0, peak_zombies = 0;
  long samples = 0;
  while (!stop && samples < max_samples && access(self, F_OK) == 0) {
    int children, zombies;
    count_children(parent, &children, &zombies);
    if (children > peak_children) peak_children = children;
    if (zombies > peak_zombies) peak_zombies = zombies;
    ++samples;
    nanosleep(&pause, NULL);
  }
  printf("%d %d %ld\n", peak_children, peak_zombies, samples);
  return 0;
}
