/* An outside program on libdisruptor_mp: this process creates a ring and
 * publishes N events; a second process (this program again, "consume")
 * attaches and checks each one. Every wait is bounded. Exit 0: every event
 * arrived intact in the other process. */
#define _GNU_SOURCE
#include <disruptor_mp/disruptor_mp.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 10000
#define SEC INT64_C(1000000000)

struct ev {
  int64_t seq;
  uint64_t check;
};
DMP_DECLARE_TYPED(ev, struct ev);

static uint64_t check_of(int64_t seq)
{
  return (uint64_t)seq * UINT64_C(0x9e3779b97f4a7c15) ^ UINT64_C(0xdeadbeef);
}

static int fail(const char *what, int rc)
{
  fprintf(stderr, "ring_app: %s: %s (%s)\n", what, dmp_strerror(rc), dmp_last_error());
  return 1;
}

static int consume(const char *name)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "outside";
  ev_consumer_config(&cc);
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, 10 * SEC, &c);
  if (rc < 0)
    return fail("attach", rc);
  for (int64_t i = 0; i < EVENTS; i++) {
    const struct ev *e = NULL;
    int64_t seq;
    if ((rc = ev_peek_timeout(c, &e, &seq, 10 * SEC)) < 0) {
      dmp_consumer_close(c);
      return fail("peek", rc);
    }
    if (seq != i || e->seq != i || e->check != check_of(i)) {
      fprintf(stderr, "ring_app: event %" PRId64 ": got seq %" PRId64 "/%" PRId64 "\n", i, seq, e->seq);
      dmp_consumer_close(c);
      return 1;
    }
    dmp_consumer_release(c);
  }
  dmp_consumer_close(c);
  return 0;
}

/* Wait for `pid` at most `sec` seconds; kill it after that. */
static int reap(pid_t pid, int sec)
{
  for (int i = 0; i < sec * 100; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  fprintf(stderr, "ring_app: the consumer did not finish within %d s\n", sec);
  return -1;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "consume") == 0)
    return consume(argv[2]);
  char name[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("outside", name, sizeof name);
  if (rc < 0)
    return fail("name", rc);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], "consume", name, (char *)NULL);
    _exit(127);
  }
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 256;
  pc.wait_consumers = 1; /* the consumer attaches before the first event */
  pc.wait_timeout_ns = 10 * SEC;
  ev_producer_config(&pc);
  struct dmp_producer *p = NULL;
  if ((rc = dmp_producer_create(&pc, &p)) < 0) {
    reap(pid, 15);
    return fail("create", rc);
  }
  for (int64_t i = 0; i < EVENTS && rc >= 0; i++) {
    struct ev *slot = NULL;
    if ((rc = ev_claim_timeout(p, &slot, 10 * SEC)) >= 0) {
      slot->seq = i;
      slot->check = check_of(i);
      dmp_producer_publish(p);
    }
  }
  int st = reap(pid, 30);
  dmp_producer_close(p);
  if (rc < 0)
    return fail("claim", rc);
  if (st != 0)
    return 1;
  printf("ring_app: disruptor_mp %s: %d events from pid %d to pid %d, all intact\n", dmp_version(), EVENTS,
         (int)getpid(), (int)pid);
  return 0;
}
