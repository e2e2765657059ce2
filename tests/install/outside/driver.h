/* The two-process driver of the outside programs (ring_app.c, msg_app.c):
 * the producer re-executes its own program as "PROG consume NAME" and
 * reaps that consumer within a bound. Header-only: each program is one
 * file plus this, as a user's tiny project would be. */
#ifndef OUTSIDE_DRIVER_H
#define OUTSIDE_DRIVER_H

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Start this program again as the consumer of ring `name`; -1 if fork fails. */
static pid_t driver_spawn(const char *argv0, const char *name)
{
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv0, "consume", name, (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Wait for `pid` at most `sec` seconds, kill it after that. Its exit status
 * (128 + signal if it was killed by one), or -1 if it had to be killed. */
static int driver_reap(const char *prog, pid_t pid, int sec)
{
  if (pid < 0)
    return -1;
  for (int i = 0; i < sec * 100; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  fprintf(stderr, "%s: the consumer did not finish within %d s\n", prog, sec);
  return -1;
}

#endif /* OUTSIDE_DRIVER_H */
