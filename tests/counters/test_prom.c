/* dmp-stat --prometheus and --listen: the text parses with prometheus_client's
 * OpenMetrics parser and its Prometheus 0.0.4 parser (node_exporter's
 * textfile format), carries the producer position, each consumer's lag and
 * state and the counters with their labels; the loopback server answers a
 * scrape, survives hostile requests (prom_check.py hostile) and stops on
 * SIGTERM. Every wait is bounded. */
#include "cnt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(dmp_prom, .fini = cnt_fini, .timeout = CNT_TIMEOUT);

#define RUN(out, err, ...) cnt_stat_run(out, err, (const char *const[]){__VA_ARGS__, NULL})

/* Run prom_check.py with the NULL-terminated arguments; its exit status. */
static int check(const char *first, ...)
{
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)ts_helper("PYTHON3");
  argv[n++] = (char *)ts_helper("PROM_CHECK");
  argv[n++] = (char *)first;
  va_list ap;
  va_start(ap, first);
  for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
    argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  pid_t pid = ts_spawn(argv);
  cr_assert(ge(int, pid, 0));
  int st = ts_wait(pid, CNT_WAIT_MS * 2);
  cr_assert(ne(int, st, -1), "prom_check.py %s did not finish in time", first);
  return st;
}

/* A ring with 5 events published and one consumer that released 2. */
static struct dmp_producer *ring_with_lag(const char *name, struct dmp_consumer **c)
{
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_SHM, name, 16, 4, 0);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "reader.one";
  cc.slot_size = 8;
  cr_assert(eq(int, dmp_consumer_attach(&cc, c), 0), "%s", dmp_last_error());
  for (int64_t i = 0; i < 5; i++)
    cr_assert(ge(long, (long)dmp_producer_try_publish(p, &i, sizeof i), 0L));
  /* An application's counter, as a service registers one. */
  struct dmp_counters *set = NULL;
  cr_assert(eq(int, dmp_counters_open(DMP_BACKEND_SHM, name, &set), 0), "%s", dmp_last_error());
  struct dmp_counter ctr;
  cr_assert(ge(int, dmp_counters_register(set, DMP_COUNTER_USER, "app.queue", &ctr), 0), "%s", dmp_last_error());
  dmp_counter_set(ctr, 42);
  dmp_counters_close(set); /* the record stays readable, with its value */
  for (int k = 0; k < 2; k++) {
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_peek_timeout(*c, &ev, &seq, CNT_WAIT_NS), 0));
    dmp_consumer_release(*c);
  }
  return p;
}

Test(dmp_prom, the_text_parses_and_carries_positions_lag_state_and_counters)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "prom");
  struct dmp_consumer *c = NULL;
  struct dmp_producer *p = ring_with_lag(name, &c);
  char *out, *err;
  int st = RUN(&out, &err, "--prometheus", name);
  cr_assert(eq(int, st, 0), "dmp-stat --prometheus: %d\n%s\n%s", st, out, err);
  const char *file = cnt_file("metrics.txt");
  FILE *f = fopen(file, "w");
  cr_assert(f != NULL);
  fputs(out, f);
  fclose(f);
  char ring[300];
  snprintf(ring, sizeof ring, "%s%s", name[0] == '/' ? "" : "/", name);
  cr_assert(eq(int, check("parse", file, "--ring", ring, "--position", "4", "--published", "5", "--consumer",
                          "reader.one", "--lag", "3", "--consumed", "2", "--state", "active", "--liveness",
                          "alive", "--counters", "--counter", "app.queue=42", NULL),
               0),
            "%s", out);
  free(out), free(err);

  /* Detached: idle, its position kept. */
  dmp_consumer_close(c);
  st = RUN(&out, &err, "--prometheus", name);
  cr_assert(eq(int, st, 0));
  f = fopen(file, "w");
  fputs(out, f);
  fclose(f);
  cr_assert(eq(int, check("parse", file, "--ring", ring, "--consumer", "reader.one", "--state", "idle",
                          "--liveness", "idle", "--lag", "3", NULL),
               0),
            "%s", out);
  free(out), free(err);
  dmp_producer_close(p);

  /* A ring that does not exist: reported down, exit 1, still valid text. */
  st = RUN(&out, &err, "--prometheus", name);
  cr_assert(eq(int, st, 1), "%s", err);
  cr_assert(strstr(err, "no such ring") != NULL, "%s", err);
  cr_assert(strstr(out, "dmp_ring_up{ring=") != NULL && strstr(out, "} 0\n") != NULL, "%s", out);
  f = fopen(file, "w");
  fputs(out, f);
  fclose(f);
  cr_assert(eq(int, check("parse", file, NULL), 0), "%s", out);
  free(out), free(err);
}

Test(dmp_prom, listen_refuses_what_it_should_before_listening)
{
  static const char *const bad[] = {"0.0.0.0:9464", "10.1.2.3:80", "example.org:80", "127.0.0.1:65536",
                                    "127.0.0.1:", "127.0.0.1:x", "9464"};
  char *out, *err;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int st = RUN(&out, &err, "--prometheus", "--listen", bad[i]);
    cr_assert(eq(int, st, 2), "--listen %s: %d\n%s", bad[i], st, err);
    cr_assert(strstr(err, "invalid value for --listen") != NULL, "%s", err);
    free(out), free(err);
  }
  int st = RUN(&out, &err, "--listen", "127.0.0.1:0");
  cr_assert(eq(int, st, 2), "--listen without --prometheus");
  free(out), free(err);
  st = RUN(&out, &err, "--prometheus", "--json");
  cr_assert(eq(int, st, 2));
  free(out), free(err);
}

/* Wait (bounded) until `path` holds the server's "serving" line; its port. */
static unsigned await_port(const char *path)
{
  int64_t deadline = ts_now_ns() + CNT_WAIT_NS;
  while (ts_now_ns() < deadline) {
    char *text = cnt_slurp(path);
    const char *at = strstr(text, "serving http://127.0.0.1:");
    unsigned port = 0;
    if (at && sscanf(at, "serving http://127.0.0.1:%u/metrics", &port) == 1) {
      free(text);
      return port;
    }
    free(text);
    usleep(10000);
  }
  cr_assert(false, "dmp-stat --listen did not say where it serves within %d ms", CNT_WAIT_MS);
  return 0;
}

Test(dmp_prom, listen_serves_a_scrape_survives_hostile_requests_and_stops_on_sigterm)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "srv");
  struct dmp_consumer *c = NULL;
  struct dmp_producer *p = ring_with_lag(name, &c);
  const char *out = cnt_file("serve.out");
  /* Through sh for the redirection; ts_spawn registers it for cnt_fini(). */
  char *argv[] = {"/bin/sh", "-c", "exec \"$0\" --prometheus --listen 127.0.0.1:0 \"$1\" >\"$2\"",
                  (char *)ts_helper("DMP_STAT"), (char *)name, (char *)out, NULL};
  pid_t pid = ts_spawn(argv);
  cr_assert(ge(int, pid, 0));
  unsigned port = await_port(out);
  char url[128], ring[300], portstr[16];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
  snprintf(ring, sizeof ring, "%s%s", name[0] == '/' ? "" : "/", name);
  snprintf(portstr, sizeof portstr, "%u", port);
  int st = check("scrape", url, "--ring", ring, "--position", "4", "--consumer", "reader.one", "--lag", "3",
                 "--counters", NULL);
  cr_assert(eq(int, st, 0), "scrape");
  st = check("hostile", "127.0.0.1", portstr, NULL);
  cr_assert(eq(int, st, 0), "hostile requests");
  /* Each scrape samples afresh: one more event is seen. */
  int64_t five = 5;
  cr_assert(ge(long, (long)dmp_producer_try_publish(p, &five, sizeof five), 0L));
  st = check("scrape", url, "--ring", ring, "--position", "5", "--lag", "4", "--consumer", "reader.one", NULL);
  cr_assert(eq(int, st, 0), "second scrape");
  cr_assert(eq(int, kill(pid, SIGTERM), 0));
  st = ts_wait(pid, CNT_WAIT_MS);
  cr_assert(eq(int, st, 0), "dmp-stat --listen after SIGTERM: %d", st);
  dmp_consumer_close(c);
  dmp_producer_close(p);
}
