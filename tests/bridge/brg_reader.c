/*
 * brg_reader: the reader on host B of the bridge tests. It attaches to the
 * ingress's ring and checks every message against the frm_payload.h oracle
 * (tests/framing): messages 0 .. count-1 of stream (seed, profile), each
 * once, in order, byte-exact.
 *
 *   brg_reader --name N --fcap F --capacity C --seed S --profile mixed|big|fixed:SIZE
 *              --count K --report FILE [--timeout-ms T] [--events FILE]
 *              [--expect-end | --until-end] [--from-any] [--slow-us U]
 *              [--format bytes] [--id ID]
 *
 * When the ring's producer (the ingress) dies, it attaches again to the
 * ring the restarted ingress creates (a new epoch) and goes on: with
 * profile big every message names its index, so a message lost or applied
 * twice across the restart is counted (lost, dup) instead of failing the
 * content check. The report is one line:
 *   received=R dup=D lost=L bad=B attaches=A
 * --events FILE: one line "ownerdead REALTIME_MS" per -DMP_E_OWNERDEAD (the
 * wall clock, so that a test in another namespace can time it).
 * --expect-end: after the K messages, wait (bounded) for the producer to
 * go (-DMP_E_OWNERDEAD); a reader that never sees it fails.
 * --until-end: stop at the first -DMP_E_OWNERDEAD (the producer was killed
 * after an unknown number of messages): fewer than K is fine, a gap, a
 * duplicate or a damaged message is not (the test compares the count).
 * --from-any (profile big): start at whatever message comes first (a
 * reader started late, after another was killed), then go on to K-1.
 * --id ID: the reader's consumer id (default "reader"; several readers on
 * one ring need their own).
 * --format bytes: the ring is a framed byte ring (MYELON_FRAME_BYTES); --fcap
 * and --capacity then only size the stream's largest message (frm_max_size()).
 * --slow-us U: sleep U microseconds after each message (a slow reader
 * back-pressures the whole link, so a test can act mid-stream).
 * Exit 0 when all K arrived with dup = lost = bad = 0; 1 otherwise; 2 usage.
 * Every wait is bounded by --timeout-ms (total); the process dies with its
 * parent (the test).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <myelon/myelon.h>

#include "frm_payload.h"

static void event(const char *path, const char *what)
{
  if (path == NULL)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  FILE *f = fopen(path, "a");
  if (f != NULL) {
    fprintf(f, "%s %lld\n", what, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    fclose(f);
  }
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char *name = NULL, *report = NULL, *events = NULL, *id = "reader";
  bool expect_end = false, until_end = false, ended = false, from_any = false, bytes = false;
  struct frm_stream s = {.seed = 1, .profile = FRM_MIXED, .fcap = 1024, .ring = 64};
  int64_t count = -1, timeout_ms = 60000, slow_us = 0;
  static const struct option opts[] = {
    {"name", required_argument, 0, 'n'}, {"fcap", required_argument, 0, 'f'},
    {"capacity", required_argument, 0, 'c'}, {"seed", required_argument, 0, 's'},
    {"profile", required_argument, 0, 'p'}, {"count", required_argument, 0, 'k'},
    {"report", required_argument, 0, 'r'}, {"timeout-ms", required_argument, 0, 't'},
    {"events", required_argument, 0, 'e'}, {"expect-end", no_argument, 0, 'x'},
    {"until-end", no_argument, 0, 'u'}, {"from-any", no_argument, 0, 'a'},
    {"slow-us", required_argument, 0, 'w'}, {"format", required_argument, 0, 'F'},
    {"id", required_argument, 0, 'i'}, {0, 0, 0, 0},
  };
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'n': name = optarg; break;
    case 'f': s.fcap = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'c': s.ring = strtoull(optarg, NULL, 0); break;
    case 's': s.seed = strtoull(optarg, NULL, 0); break;
    case 'p':
      if (strcmp(optarg, "mixed") == 0)
        s.profile = FRM_MIXED;
      else if (strcmp(optarg, "big") == 0)
        s.profile = FRM_BIG;
      else if (strncmp(optarg, "fixed:", 6) == 0 && (s.fixed = strtoull(optarg + 6, NULL, 0)) >= FRM_HEAD)
        s.profile = FRM_FIXED;
      else
        return 2;
      break;
    case 'k': count = strtoll(optarg, NULL, 0); break;
    case 'r': report = optarg; break;
    case 't': timeout_ms = strtoll(optarg, NULL, 0); break;
    case 'e': events = optarg; break;
    case 'x': expect_end = true; break;
    case 'u': until_end = true; break;
    case 'a': from_any = true; break;
    case 'w': slow_us = strtoll(optarg, NULL, 0); break;
    case 'i': id = optarg; break;
    case 'F':
      if (strcmp(optarg, "bytes") != 0)
        return 2;
      bytes = true;
      break;
    default: return 2;
    }
  }
  if (name == NULL || report == NULL || count <= 0)
    return 2;
  int64_t deadline = now_ms() + timeout_ms;
  uint64_t expect = 0, received = 0, dup = 0, lost = 0, bad = 0, attaches = 0;
  struct myelon_consumer *c = NULL;
  while (((int64_t)expect < count || (expect_end && !ended)) && !(until_end && ended) && now_ms() < deadline) {
    if (c == NULL) {
      struct myelon_consumer_config cfg;
      myelon_consumer_config_init(&cfg);
      cfg.ring.name = name;
      cfg.ring.id = id;
      cfg.ring.start = DMP_START_OLDEST;
      cfg.frame_capacity = bytes ? 0 : s.fcap;
      cfg.format = bytes ? MYELON_FRAME_BYTES : MYELON_FRAME_COMPACT;
      cfg.max_message = frm_max_size(&s);
      int rc = myelon_consumer_attach(&cfg, &c);
      if (rc < 0) {
        /* Not there yet, or the old ring of a dead ingress: try again. */
        c = NULL;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        continue;
      }
      attaches++;
    }
    struct myelon_msg m;
    int rc = myelon_consumer_recv(c, &m, 100LL * 1000000);
    if (rc == -ETIMEDOUT)
      continue;
    if (rc == -DMP_E_OWNERDEAD) {
      event(events, "ownerdead");
      myelon_consumer_close(c);
      c = NULL;
      if ((int64_t)expect >= count || until_end)
        ended = true;
      continue;
    }
    if (rc < 0) {
      bad++; /* truncated or malformed: a message that did not arrive whole */
      fprintf(stderr, "brg_reader: message %" PRIu64 ": %s\n", expect, myelon_err_name(rc));
      continue;
    }
    uint64_t index = expect;
    if (s.profile == FRM_BIG) {
      if (m.len >= FRM_HEAD)
        memcpy(&index, m.data, 8);
      if (from_any && received == 0 && index < (uint64_t)count)
        expect = index;
      if (index < expect) {
        dup++;
        myelon_consumer_release(c);
        continue;
      }
      if (index > expect && index < (uint64_t)count) {
        lost += index - expect;
        expect = index;
      }
    }
    uint64_t got;
    int f = frm_check(&s, m.data, m.len, m.kind, expect, (uint64_t)count, &got);
    if (f != FRM_OK) {
      bad++;
      fprintf(stderr, "brg_reader: message %" PRIu64 " (%zu bytes): %s\n", expect, m.len, frm_fault_name(f));
    }
    myelon_consumer_release(c);
    received++;
    expect++;
    if (slow_us > 0) {
      struct timespec ts = {slow_us / 1000000, (slow_us % 1000000) * 1000};
      nanosleep(&ts, NULL);
    }
  }
  myelon_consumer_close(c);
  FILE *fp = fopen(report, "w");
  if (fp != NULL) {
    fprintf(fp, "received=%" PRIu64 " dup=%" PRIu64 " lost=%" PRIu64 " bad=%" PRIu64 " attaches=%" PRIu64 "\n",
            received, dup, lost, bad, attaches);
    fclose(fp);
  }
  bool ok = ((int64_t)expect == count || (until_end && ended)) && dup == 0 && lost == 0 && bad == 0 && (!expect_end || ended);
  if (expect_end && !ended)
    fprintf(stderr, "brg_reader: the producer never went away\n");
  if (!ok)
    fprintf(stderr, "brg_reader: received=%" PRIu64 " of %" PRId64 " dup=%" PRIu64 " lost=%" PRIu64 " bad=%" PRIu64
            "\n", received, count, dup, lost, bad);
  return ok ? 0 : 1;
}
