/* dmp-stat and the read-only inspector (inspect.h) against live multiprocess
 * rings: the JSON a script sees, --watch, --gc removing only rings whose
 * producer was killed, and corrupted, truncated, shrinking or vanishing
 * segments giving a clear error and the documented exit code - never a
 * crash. dmp-stat's exit codes (the tools' convention): 0 ok, 1 nothing
 * found / no such ring / unreadable, 2 usage, 3 a damaged segment. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnt.h"

TestSuite(dmp_stat, .fini = cnt_fini, .timeout = CNT_TIMEOUT);

#define RUN(out, err, ...) cnt_stat_run(out, err, (const char *const[]){__VA_ARGS__, NULL})

static void expect_status(int got, int want, const char *out, const char *err)
{
  cr_assert(eq(int, got, want), "dmp-stat exited %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, out, err);
}

/* A producer child and its consumers: `c1` reads everything, `c2` nothing. */
struct live_ring {
  enum dmp_backend backend;
  const char *name;
  pid_t producer, c1, c2;
  const char *hold;
};

static void live_ring_start(struct live_ring *r, enum dmp_backend b, const char *tag, int64_t events)
{
  char n[24];
  snprintf(n, sizeof n, "%lld", (long long)events);
  r->backend = b;
  r->name = cnt_name(b, tag);
  r->hold = cnt_file("hold");
  const char *created = cnt_file("created"), *go = cnt_file("go"), *ready = cnt_file("ready");
  const char *r1 = cnt_file("r1"), *r2 = cnt_file("r2"), *done = cnt_file("done");
  r->producer = cnt_spawn("producer", b, r->name, "--capacity", "16", "--publish", n, "--created", created, "--go",
                          go, "--ready", ready, "--hold", r->hold, NULL);
  cnt_await(created, "producer created the ring");
  r->c1 = cnt_spawn("consumer", b, r->name, "--id", "c1", "--read", n, "--ready", r1, "--done", done, "--hold",
                    r->hold, NULL);
  r->c2 = cnt_spawn("consumer", b, r->name, "--id", "c2", "--ready", r2, "--hold", r->hold, NULL);
  cnt_await(r1, "consumer c1 attached");
  cnt_await(r2, "consumer c2 attached");
  cnt_touch(go);
  cnt_await(ready, "producer published");
  cnt_await(done, "consumer c1 read everything");
}

static void live_ring_stop(struct live_ring *r)
{
  cnt_touch(r->hold);
  cnt_expect_exit(r->c1, 0, "consumer c1");
  cnt_expect_exit(r->c2, 0, "consumer c2");
  cnt_expect_exit(r->producer, 0, "producer");
}

static void check_ring_json(const char *doc, const struct live_ring *r, const char *ring_name)
{
  char start[600], want[160];
  snprintf(start, sizeof start, "{\"name\":\"%s\"", ring_name);
  char *ring = cnt_json_object(doc, start);
  snprintf(want, sizeof want, "\"backend\":\"%s\"", cnt_backend_name(r->backend));
  cnt_json_has(ring, want);
  char *prod = cnt_json_object(ring, "{\"pid\"");
  snprintf(want, sizeof want, "{\"pid\":%d,\"alive\":true,\"position\":4,\"published\":5,\"min_gating\":-1,\"full\":false}",
           (int)r->producer);
  cr_assert(eq(str, prod, want));
  char *c1 = cnt_json_object(ring, "{\"id\":\"c1\"");
  cnt_json_has(c1, "\"state\":\"active\",\"liveness\":\"alive\"");
  cnt_json_has(c1, "\"position\":4,\"consumed\":5,\"lag\":0}");
  char *c2 = cnt_json_object(ring, "{\"id\":\"c2\"");
  cnt_json_has(c2, "\"liveness\":\"alive\"");
  cnt_json_has(c2, "\"position\":-1,\"consumed\":0,\"lag\":5}");
  char *cnt = cnt_json_object(ring, "\"counters\":{");
  cnt_json_has(cnt, "\"present\":true,\"stale\":false");
  cnt_json_has(cnt, "\"type\":\"consumer_attaches\",\"type_id\":16,\"label\":\"c1\",\"value\":1,");
  cnt_json_has(cnt, "\"type\":\"consumer_attaches\",\"type_id\":16,\"label\":\"c2\",\"value\":1,");
  cnt_json_has(cnt, "\"type\":\"consumer_detaches\",\"type_id\":17,\"label\":\"c2\",\"value\":0,");
  cnt_json_has(cnt, "\"type\":\"producer_full\",\"type_id\":1,\"label\":\"producer\",\"value\":0,");
  free(ring), free(prod), free(c1), free(c2), free(cnt);
}

Test(dmp_stat, json_shows_live_multiprocess_rings_on_both_backends)
{
  struct live_ring a, b;
  live_ring_start(&a, DMP_BACKEND_SHM, "ja", 5);
  live_ring_start(&b, DMP_BACKEND_MMAP, "jb", 5);
  char *out, *err, shm[64];
  snprintf(shm, sizeof shm, "/%s", a.name);
  int st = RUN(&out, &err, "--json", a.name, "--file", b.name);
  expect_status(st, 0, out, err);
  cr_assert(eq(int, cnt_json_count(out), 1), "not one JSON document:\n%s", out);
  cnt_json_has(out, "\"rings_shown\":2}");
  cnt_json_has(out, "\"errors\":[]");
  check_ring_json(out, &a, shm);
  check_ring_json(out, &b, b.name);
  free(out), free(err);

  st = RUN(&out, &err, a.name);
  expect_status(st, 0, out, err);
  cnt_json_has(out, "published 5");
  cnt_json_has(out, "consumer_attaches");
  cnt_json_has(out, "c2");
  cnt_json_has(out, "alive");
  free(out), free(err);

  st = RUN(&out, &err, "--watch", "0.05", "--count", "3", "--json", a.name);
  expect_status(st, 0, out, err);
  cr_assert(eq(int, cnt_json_count(out), 3), "three refreshes, one JSON document each:\n%s", out);
  free(out), free(err);
  live_ring_stop(&a);
  live_ring_stop(&b);
}

Test(dmp_stat, gc_removes_only_the_ring_whose_producer_was_killed)
{
  const char *dead = cnt_name(DMP_BACKEND_SHM, "gcd"), *live = cnt_name(DMP_BACKEND_SHM, "gcl");
  const char *c1 = cnt_file("c1"), *c2 = cnt_file("c2"), *hold = cnt_file("hold");
  pid_t pd = cnt_spawn("producer", DMP_BACKEND_SHM, dead, "--created", c1, "--hold", hold, NULL);
  pid_t pl = cnt_spawn("producer", DMP_BACKEND_SHM, live, "--created", c2, "--hold", hold, NULL);
  cnt_await(c1, "producer (to be killed)");
  cnt_await(c2, "producer (alive)");
  cnt_await(cnt_fs_path(DMP_BACKEND_SHM, dead, true), "counters of the ring to be killed");
  cnt_kill(pd);
  cr_assert(cnt_exists(DMP_BACKEND_SHM, dead, false) && cnt_exists(DMP_BACKEND_SHM, dead, true));

  char *out, *err;
  int st = RUN(&out, &err, "--gc", "--dry-run", dead, live);
  expect_status(st, 0, out, err);
  cnt_json_has(out, "would-remove");
  cnt_json_has(out, "kept");
  cr_assert(cnt_exists(DMP_BACKEND_SHM, dead, false), "--dry-run removed nothing");
  free(out), free(err);

  st = RUN(&out, &err, "--gc", "--json", dead, live);
  expect_status(st, 0, out, err);
  cr_assert(eq(int, cnt_json_count(out), 1), "%s", out);
  char want[160];
  snprintf(want, sizeof want, "{\"name\":\"/%s\",\"backend\":\"shm\",\"result\":\"removed\"}", dead);
  cnt_json_has(out, want);
  snprintf(want, sizeof want, "{\"name\":\"/%s\",\"backend\":\"shm\",\"result\":\"kept\"}", live);
  cnt_json_has(out, want);
  cnt_json_has(out, "\"removed\":1}");
  free(out), free(err);
  cr_assert(not(cnt_exists(DMP_BACKEND_SHM, dead, false)), "the dead ring is gone");
  cr_assert(not(cnt_exists(DMP_BACKEND_SHM, dead, true)), "and its counters");
  cr_assert(cnt_exists(DMP_BACKEND_SHM, live, false) && cnt_exists(DMP_BACKEND_SHM, live, true), "the live one stays");

  st = RUN(&out, &err, dead);
  expect_status(st, 1, out, err); /* nothing found */
  free(out), free(err);
  cnt_touch(hold);
  cnt_expect_exit(pl, 0, "producer (alive)");
}

Test(dmp_stat, gc_and_listing_of_an_mmap_directory_with_an_orphan)
{
  const char *dead = cnt_name(DMP_BACKEND_MMAP, "od"), *orphan = cnt_name(DMP_BACKEND_MMAP, "oo");
  const char *c1 = cnt_file("c1"), *c2 = cnt_file("c2"), *hold = cnt_file("hold");
  pid_t p1 = cnt_spawn("producer", DMP_BACKEND_MMAP, dead, "--created", c1, "--hold", hold, NULL);
  pid_t p2 = cnt_spawn("producer", DMP_BACKEND_MMAP, orphan, "--created", c2, "--hold", hold, NULL);
  cnt_await(c1, "producer 1");
  cnt_await(c2, "producer 2");
  cnt_await(cnt_fs_path(DMP_BACKEND_MMAP, dead, true), "counters 1");
  cnt_await(cnt_fs_path(DMP_BACKEND_MMAP, orphan, true), "counters 2");
  cnt_kill(p1);
  cnt_kill(p2);
  cr_assert(eq(int, unlink(orphan), 0), "remove the ring, leave its counters");
  char dir[512];
  snprintf(dir, sizeof dir, "%s", dead);
  *strrchr(dir, '/') = '\0';
  mkfifo(cnt_file("fifo"), 0600); /* must not hang the listing */
  FILE *junk = fopen(cnt_file("junk"), "w");
  fputs("not a ring", junk);
  fclose(junk);

  char *out, *err;
  int st = RUN(&out, &err, "--json", "--dir", dir);
  expect_status(st, 0, out, err);
  char want[600];
  snprintf(want, sizeof want, "\"orphans\":[{\"ring\":\"%s\",\"backend\":\"mmap\"}]", orphan);
  cnt_json_has(out, want);
  char *ring = cnt_json_object(out, "{\"name\":");
  cnt_json_has(ring, "\"alive\":false");
  free(ring), free(out), free(err);

  st = RUN(&out, &err, "--gc", "--dir", dir);
  expect_status(st, 0, out, err);
  bool gone = !cnt_exists(DMP_BACKEND_MMAP, dead, false) && !cnt_exists(DMP_BACKEND_MMAP, dead, true);
  cr_assert(gone, "the dead ring and its counters are removed");
  cr_assert(not(cnt_exists(DMP_BACKEND_MMAP, orphan, true)), "orphaned counters removed");
  free(out), free(err);
  st = RUN(&out, &err, "--dir", dir);
  expect_status(st, 1, out, err);
  free(out), free(err);
}

/* A kept, closed mmap ring whose bytes we may then damage. */
static const char *kept_ring(const char *tag)
{
  const char *path = cnt_name(DMP_BACKEND_MMAP, tag);
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_MMAP, path, 16, 0, DMP_RING_KEEP);
  for (int64_t i = 0; i < 3; i++)
    dmp_producer_try_publish(p, &i, sizeof i);
  dmp_producer_close(p);
  return path;
}

Test(dmp_stat, corrupted_and_truncated_segments_give_exit_3_and_no_crash)
{
  const char *bad = kept_ring("bad"), *cut = kept_ring("cut"), *good = kept_ring("good");
  int fd = open(bad, O_WRONLY);
  uint64_t capacity = 12; /* not a power of two: the fingerprint no longer matches either */
  cr_assert(eq(long, (long)pwrite(fd, &capacity, sizeof capacity, offsetof(struct dmp_segment_header, capacity)), 8));
  close(fd);
  cr_assert(eq(int, truncate(cut, 300), 0));

  char *out, *err;
  int st = RUN(&out, &err, "--file", bad);
  expect_status(st, 3, out, err);
  cnt_json_has(err, "CORRUPT");
  free(out), free(err);

  st = RUN(&out, &err, "--json", "--file", bad, "--file", cut, "--file", good);
  expect_status(st, 3, out, err);
  cr_assert(eq(int, cnt_json_count(out), 1), "%s", out);
  char want[600];
  snprintf(want, sizeof want, "{\"name\":\"%s\",\"backend\":\"mmap\",\"code\":\"CORRUPT\"", bad);
  cnt_json_has(out, want);
  snprintf(want, sizeof want, "{\"name\":\"%s\",\"backend\":\"mmap\",\"code\":\"CORRUPT\"", cut);
  cnt_json_has(out, want);
  cnt_json_has(out, "\"rings_shown\":1}");
  snprintf(want, sizeof want, "{\"name\":\"%s\"", good);
  char *ring = cnt_json_object(out, want);
  cnt_json_has(ring, "\"alive\":false,\"position\":2,\"published\":3");
  free(ring), free(out), free(err);

  /* A garbage counters segment next to a readable ring: shown, exit 3. */
  fd = open(cnt_fs_path(DMP_BACKEND_MMAP, good, true), O_WRONLY);
  cr_assert(eq(long, (long)pwrite(fd, "garbage!", 8, 0), 8));
  close(fd);
  st = RUN(&out, &err, "--json", "--file", good);
  expect_status(st, 3, out, err);
  cnt_json_has(out, "\"counters\":{\"present\":false,\"error\":");
  free(out), free(err);

  st = RUN(&out, &err, "--file", cnt_file("missing"));
  expect_status(st, 1, out, err);
  free(out), free(err);
  st = RUN(&out, &err, "--watch=nope");
  expect_status(st, 2, out, err);
  free(out), free(err);
  st = RUN(&out, &err, "--help");
  expect_status(st, 0, out, err);
  cnt_json_has(out, "2 usage error, 3 a segment is damaged");
  free(out), free(err);
}

Test(dmp_stat, inspector_survives_a_segment_that_shrinks_changes_or_vanishes)
{
  /* Shrinks while open: an error, not SIGBUS. */
  const char *path = cnt_name(DMP_BACKEND_MMAP, "shr");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_MMAP, path, 64, 0, 0);
  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(DMP_BACKEND_MMAP, path, &in);
  cr_assert(eq(int, truncate(path, 1024), 0));
  cr_assert(eq(int, dmp_inspect_sample(in, &s), -DMP_E_CORRUPT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "shrank"), NULL), "%s", dmp_last_error());
  dmp_inspect_close(in);
  struct dmp_inspect *again = (struct dmp_inspect *)(uintptr_t)1;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_MMAP, path, &again), -DMP_E_CORRUPT));
  cr_assert(eq(ptr, again, NULL));
  dmp_producer_close(p); /* touches only the first page, still in the file */

  /* Header overwritten while open. */
  path = cnt_name(DMP_BACKEND_MMAP, "ovw");
  p = cnt_producer(DMP_BACKEND_MMAP, path, 64, 0, 0);
  s = cnt_sample(DMP_BACKEND_MMAP, path, &in);
  int fd = open(path, O_WRONLY);
  uint32_t slot = 99;
  cr_assert(eq(long, (long)pwrite(fd, &slot, sizeof slot, offsetof(struct dmp_segment_header, slot_size)), 4));
  close(fd);
  cr_assert(eq(int, dmp_inspect_sample(in, &s), -DMP_E_CORRUPT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "header changed"), NULL), "%s", dmp_last_error());
  dmp_inspect_close(in);
  dmp_producer_close(p);

  /* Vanishes while open: the mapping stays readable, the sample says so. */
  const char *name = cnt_name(DMP_BACKEND_SHM, "van");
  p = cnt_producer(DMP_BACKEND_SHM, name, 64, 0, 0);
  int64_t v = 1;
  dmp_producer_try_publish(p, &v, sizeof v);
  s = cnt_sample(DMP_BACKEND_SHM, name, &in);
  cr_assert(s->producer_alive && !s->removed);
  dmp_producer_close(p);
  cr_assert(eq(int, dmp_inspect_sample(in, &s), 0));
  cr_assert(s->removed && !s->producer_alive);
  cr_assert(eq(u64, s->published, 1));
  cr_assert(eq(int, s->counters_rc, -ENOENT), "its counters went with it");
  dmp_inspect_close(in);
}

Test(dmp_stat, ring_gc_api_never_touches_a_live_ring)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "gca");
  const char *created = cnt_file("created"), *hold = cnt_file("hold");
  pid_t pp = cnt_spawn("producer", DMP_BACKEND_SHM, name, "--created", created, "--hold", hold, NULL);
  cnt_await(created, "producer");
  cnt_await(cnt_fs_path(DMP_BACKEND_SHM, name, true), "its counters");
  cr_assert(eq(int, dmp_ring_gc(DMP_BACKEND_SHM, name), 0), "live: left alone");
  cr_assert(cnt_exists(DMP_BACKEND_SHM, name, false) && cnt_exists(DMP_BACKEND_SHM, name, true));
  cnt_kill(pp);
  cr_assert(eq(int, dmp_ring_gc(DMP_BACKEND_SHM, name), 1), "%s", dmp_last_error());
  bool gone = !cnt_exists(DMP_BACKEND_SHM, name, false) && !cnt_exists(DMP_BACKEND_SHM, name, true);
  cr_assert(gone, "both segments removed");
  cr_assert(eq(int, dmp_ring_gc(DMP_BACKEND_SHM, name), -ENOENT));
  const char *junk = cnt_name(DMP_BACKEND_MMAP, "junk");
  FILE *f = fopen(junk, "w");
  fputs("0123456789abcdef0123456789abcdef", f);
  fclose(f);
  cr_assert(eq(int, chmod(junk, 0600), 0));
  cr_assert(eq(int, dmp_ring_gc(DMP_BACKEND_MMAP, junk), -DMP_E_CORRUPT), "not a ring: left alone");
  cr_assert(eq(int, access(junk, F_OK), 0));
  /* Open to every user: not trusted, so not judged either (permissions). */
  cr_assert(eq(int, chmod(junk, 0644), 0));
  cr_assert(eq(int, dmp_ring_gc(DMP_BACKEND_MMAP, junk), -EACCES), "%s", dmp_last_error());
  cr_assert(eq(int, access(junk, F_OK), 0));
}
