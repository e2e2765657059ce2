/* Discovery and rendezvous (discovery.h, producer.h): listing consumers by
 * prefix, per-id info, waiting for a count or for named ids, and a
 * producer that waits for its consumers at create. */
#include <pthread.h>
#include <time.h>

#include "unit.h"

TestSuite(discovery_list, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(discovery_info, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(rendezvous, .fini = ut_fini, .timeout = UT_TIMEOUT);

static struct dmp_consumer *attach_id(const struct dmp_producer_config *pc, const char *id, uint32_t flags)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  cc.flags = flags;
  return ut_attach(&cc);
}

static bool listed(const struct dmp_consumer_info *info, int n, const char *id)
{
  for (int i = 0; i < n; i++)
    if (strcmp(info[i].id, id) == 0)
      return true;
  return false;
}

Test(discovery_list, prefix_selects_matching_ids)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "dis");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *w0 = attach_id(&pc, "w0", 0), *w1 = attach_id(&pc, "w1", 0), *x0 = attach_id(&pc, "x0", 0);
    struct dmp_consumer_info info[8];
    int n = dmp_producer_list_consumers(p, "w", info, 8);
    cr_assert(eq(int, n, 2), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(listed(info, n, "w0") && listed(info, n, "w1"), "w0/w1 not listed");
    cr_assert(not(listed(info, n, "x0")), "x0 listed under prefix 'w'");
    cr_assert(eq(int, dmp_producer_list_consumers(p, NULL, info, 8), 3));
    cr_assert(eq(int, dmp_producer_list_consumers(p, "", info, 8), 3));
    n = dmp_producer_list_consumers(p, "x0", info, 8);
    cr_assert(eq(int, n, 1));
    cr_assert(eq(str, info[0].id, "x0"));
    cr_assert(eq(int, dmp_producer_list_consumers(p, "w0x", info, 8), 0));
    cr_assert(eq(int, dmp_producer_list_consumers(p, "z", info, 8), 0));
    dmp_consumer_close(w0);
    dmp_consumer_close(w1);
    dmp_consumer_close(x0);
    dmp_producer_close(p);
  }
}

Test(discovery_list, count_may_exceed_cap_and_only_cap_are_written)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "dis");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c[4];
  char ids[4][8];
  for (int i = 0; i < 4; i++) {
    snprintf(ids[i], sizeof ids[i], "c%d", i);
    c[i] = attach_id(&pc, ids[i], 0);
  }
  struct dmp_consumer_info info[3];
  memset(info, 0x5a, sizeof info);
  cr_assert(eq(int, dmp_producer_list_consumers(p, NULL, info, 2), 4));
  cr_assert(lt(sz, strnlen(info[1].id, sizeof info[1].id), sizeof info[1].id));
  uint8_t pattern[sizeof info[2]];
  memset(pattern, 0x5a, sizeof pattern);
  cr_assert(eq(int, memcmp(&info[2], pattern, sizeof pattern), 0), "wrote past cap");
  cr_assert(eq(int, dmp_producer_list_consumers(p, NULL, NULL, 0), 4), "count-only query with cap 0");
  for (int i = 0; i < 4; i++)
    dmp_consumer_close(c[i]);
  dmp_producer_close(p);
}

Test(discovery_list, lists_idle_entries_but_not_forgotten_ones)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "dis");
  struct dmp_producer *p = ut_create(&pc);
  dmp_consumer_close(attach_id(&pc, "idle", 0));
  dmp_consumer_close_forget(attach_id(&pc, "gone", 0));
  struct dmp_consumer_info info[4];
  int n = dmp_producer_list_consumers(p, NULL, info, 4);
  cr_assert(eq(int, n, 1));
  cr_assert(eq(str, info[0].id, "idle"));
  cr_assert(eq(int, (int)info[0].state, (int)DMP_ENTRY_IDLE));
  dmp_producer_close(p);
}

Test(discovery_list, a_longest_id_round_trips)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "dis");
  struct dmp_producer *p = ut_create(&pc);
  char id[DMP_ID_MAX + 1];
  memset(id, 'L', DMP_ID_MAX);
  id[DMP_ID_MAX] = '\0';
  struct dmp_consumer *c = attach_id(&pc, id, 0);
  struct dmp_consumer_info info[2];
  cr_assert(eq(int, dmp_producer_list_consumers(p, "LLL", info, 2), 1));
  cr_assert(eq(str, info[0].id, id));
  cr_assert(eq(int, dmp_producer_consumer_info(p, id, &info[1]), 0));
  cr_assert(eq(str, info[1].id, id));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(discovery_list, null_producer_is_einval)
{
  struct dmp_consumer_info info[1];
  cr_assert(eq(int, dmp_producer_list_consumers(NULL, NULL, info, 1), -EINVAL));
}

Test(discovery_info, reports_state_cursor_and_liveness)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "inf");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "c0", 0);
    struct dmp_consumer_info info;
    memset(&info, 0, sizeof info);
    cr_assert(eq(int, dmp_producer_consumer_info(p, "c0", &info), 0));
    cr_assert(eq(str, info.id, "c0"));
    cr_assert(eq(int, (int)info.state, (int)DMP_ENTRY_ACTIVE));
    cr_assert(info.alive, "%s: attached consumer not alive", ut_backend_name(ut_backends[b]));
    cr_assert(info.gating);
    cr_assert(not(info.durable));
    cr_assert(eq(int, info.pid, (int)getpid()));
    cr_assert(eq(i64, info.cursor, -1));
    cr_assert(eq(u32, info.generation, 1));

    ut_publish_n(p, 3);
    cr_assert(eq(i64, ut_drain(c, NULL), 3));
    cr_assert(eq(int, dmp_producer_consumer_info(p, "c0", &info), 0));
    cr_assert(eq(i64, info.cursor, 2));

    dmp_consumer_close(c);
    cr_assert(eq(int, dmp_producer_consumer_info(p, "c0", &info), 0));
    cr_assert(eq(int, (int)info.state, (int)DMP_ENTRY_IDLE));
    cr_assert(not(info.alive), "closed consumer still alive");
    cr_assert(not(info.gating), "closed non-durable consumer still gates");
    cr_assert(eq(i64, info.cursor, 2));

    c = attach_id(&pc, "c0", 0);
    cr_assert(eq(int, dmp_producer_consumer_info(p, "c0", &info), 0));
    cr_assert(eq(u32, info.generation, 2));
    cr_assert(info.alive);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(discovery_info, durable_idle_entry_still_gates)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "inf");
  struct dmp_producer *p = ut_create(&pc);
  dmp_consumer_close(attach_id(&pc, "d", DMP_CONSUMER_DURABLE));
  struct dmp_consumer_info info;
  cr_assert(eq(int, dmp_producer_consumer_info(p, "d", &info), 0));
  cr_assert(info.durable);
  cr_assert(eq(int, (int)info.state, (int)DMP_ENTRY_IDLE));
  cr_assert(not(info.alive));
  cr_assert(info.gating, "a durable idle entry must keep gating");
  dmp_producer_close(p);
}

Test(discovery_info, unknown_id_is_enoent_and_null_is_einval)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "inf");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_id(&pc, "c0", 0);
  struct dmp_consumer_info info;
  cr_assert(eq(int, dmp_producer_consumer_info(p, "nobody", &info), -ENOENT));
  cr_assert(eq(int, dmp_producer_consumer_info(p, "c", &info), -ENOENT), "an id prefix matched");
  cr_assert(eq(int, dmp_producer_consumer_info(p, NULL, &info), -EINVAL));
  cr_assert(eq(int, dmp_producer_consumer_info(p, "c0", NULL), -EINVAL));
  cr_assert(eq(int, dmp_producer_consumer_info(NULL, "c0", &info), -EINVAL));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(rendezvous, wait_for_consumers_times_out_short_and_returns_the_count)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "ren");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c0 = attach_id(&pc, "c0", 0);
    cr_assert(eq(int, dmp_producer_wait_for_consumers(p, 2, UT_SHORT_NS), -ETIMEDOUT),
              "%s", ut_backend_name(ut_backends[b]));
    cr_assert(lt(sz, 0, strlen(dmp_last_error())), "no detail after the timeout");
    struct dmp_consumer *c1 = attach_id(&pc, "c1", 0);
    cr_assert(eq(int, dmp_producer_wait_for_consumers(p, 2, UT_SHORT_NS), 2));
    cr_assert(eq(int, dmp_producer_wait_for_consumers(p, 1, UT_SHORT_NS), 2), "returns the number attached");
    cr_assert(eq(int, dmp_producer_wait_for_consumers(p, 0, UT_SHORT_NS), -EINVAL));
    dmp_consumer_close(c1);
    cr_assert(eq(int, dmp_producer_wait_for_consumers(p, 2, UT_SHORT_NS), -ETIMEDOUT), "an idle entry counted");
    dmp_consumer_close(c0);
    dmp_producer_close(p);
  }
}

struct joiner {
  const struct dmp_producer_config *pc;
  const char *id;
  struct dmp_consumer *c;
  int rc;
};

static void *join_later(void *arg)
{
  struct joiner *j = arg;
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, NULL);
  struct dmp_consumer_config cc = ut_ccfg(j->pc, j->id);
  j->rc = dmp_consumer_attach(&cc, &j->c);
  return NULL;
}

Test(rendezvous, a_waiting_producer_sees_a_consumer_join_from_another_thread)
{
  for (int by_id = 0; by_id < 2; by_id++) {
    struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "ren");
    struct dmp_producer *p = ut_create(&pc);
    struct joiner j = {&pc, "late", NULL, 1};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, join_later, &j), 0));
    const char *ids[] = {"late"};
    int rc = by_id ? dmp_producer_wait_for_ids(p, ids, 1, UT_LONG_NS) : dmp_producer_wait_for_consumers(p, 1, UT_LONG_NS);
    pthread_join(t, NULL);
    cr_assert(eq(int, j.rc, 0), "attach in the thread: %s", dmp_err_name(j.rc));
    cr_assert(eq(int, rc, by_id ? 0 : 1), "%s: %s", by_id ? "wait_for_ids" : "wait_for_consumers", dmp_err_name(rc));
    dmp_consumer_close(j.c);
    dmp_producer_close(p);
  }
}

Test(rendezvous, wait_for_ids_names_the_missing_one)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "ren");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *a = attach_id(&pc, "alpha", 0);
  const char *ids[] = {"alpha", "missing-1"};
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, ids, 2, UT_SHORT_NS), -ETIMEDOUT));
  const char *d = dmp_last_error();
  cr_assert(ne(ptr, strstr(d, "missing-1"), NULL), "detail '%s' does not name the missing id", d);
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, ids, 1, UT_SHORT_NS), 0));
  struct dmp_consumer *m = attach_id(&pc, "missing-1", 0);
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, ids, 2, UT_SHORT_NS), 0));
  dmp_consumer_close(m);
  dmp_consumer_close(a);
  dmp_producer_close(p);
}

Test(rendezvous, wait_for_ids_rejects_null_and_invalid_ids)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "ren");
  struct dmp_producer *p = ut_create(&pc);
  const char *bad[] = {"ok", "not ok"};
  const char *null_id[] = {"ok", NULL};
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, bad, 2, UT_SHORT_NS), -EINVAL));
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, null_id, 2, UT_SHORT_NS), -EINVAL));
  cr_assert(eq(int, dmp_producer_wait_for_ids(p, NULL, 1, UT_SHORT_NS), -EINVAL));
  dmp_producer_close(p);
}

Test(rendezvous, create_waiting_for_absent_consumers_times_out_and_removes_the_ring)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "ren");
    pc.wait_consumers = 1;
    pc.wait_timeout_ns = UT_SHORT_NS;
    struct dmp_producer *p = (struct dmp_producer *)(uintptr_t)0x10;
    int rc = dmp_producer_create(&pc, &p);
    cr_assert(eq(int, rc, -ETIMEDOUT), "%s: got %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)p, NULL));
    cr_assert(eq(int, ut_seg_leftovers(ut_backends[b], pc.name), 0), "%s: timed-out create left its segment",
              ut_backend_name(ut_backends[b]));
  }
}

struct late_consumer {
  struct dmp_consumer_config cfg;
  int rc;
  struct dmp_consumer *c;
};

static void *attach_when_ready(void *arg)
{
  struct late_consumer *lc = arg;
  lc->rc = dmp_consumer_attach_timeout(&lc->cfg, UT_LONG_NS, &lc->c);
  return NULL;
}

Test(rendezvous, consumer_first_start_up_meets_a_waiting_producer)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "ren");
    pc.wait_consumers = 1;
    pc.wait_timeout_ns = UT_LONG_NS;
    struct late_consumer lc = {.cfg = ut_ccfg(&pc, "early"), .rc = 1};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, attach_when_ready, &lc), 0));
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&pc, &p);
    pthread_join(t, NULL);
    cr_assert(eq(int, lc.rc, 0), "%s: consumer attach_timeout: %s", ut_backend_name(ut_backends[b]),
              dmp_err_name(lc.rc));
    cr_assert(eq(int, rc, 0), "%s: create waiting for 1 consumer: %s", ut_backend_name(ut_backends[b]),
              dmp_err_name(rc));
    ut_publish_n(p, 2);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(lc.c, &first), 2), "the early consumer missed events");
    cr_assert(eq(i64, first, 0));
    dmp_consumer_close(lc.c);
    dmp_producer_close(p);
  }
}
