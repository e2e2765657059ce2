/* Unit tests of the worker count and the transport layout: bounds, index
 * errors, name derivation (lengths within the portable limit including
 * every Layer 0 suffix, uniqueness, determinism), validation messages,
 * the worker rendezvous and the stale-ring collector. */
#include <criterion/criterion.h>

#include "topo_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static struct myelon_layout made[8];
static int n_made;

static void fini(void)
{
  for (int i = 0; i < n_made; i++)
    topo_force_unlink(&made[i]);
  n_made = 0;
  ts_kill_children();
  ts_cleanup();
}

TestSuite(workers, .fini = fini, .timeout = 30);
TestSuite(layout, .fini = fini, .timeout = 60);

#define assert_detail_has(s)                                                                                 \
  cr_assert(strstr(dmp_last_error(), (s)) != NULL, "detail '%s' lacks '%s'", dmp_last_error(), (s))

/* ---- worker count ------------------------------------------------------------ */

Test(workers, accepts_two_to_sixty_four)
{
  for (uint32_t n = MYELON_WORKERS_MIN; n <= MYELON_WORKERS_MAX; n++) {
    struct myelon_workers w = {0};
    cr_assert_eq(myelon_workers_make(n, &w), 0, "n=%u: %s", n, dmp_last_error());
    cr_assert_eq(w.n, n);
  }
  cr_assert_eq(MYELON_WORKERS_MIN, 2u);
  cr_assert_geq(MYELON_WORKERS_MAX, 8u, "at least the original's 2..=8");
}

Test(workers, rejects_out_of_range_counts_with_the_value_and_range)
{
  const uint32_t bad[] = {0, 1, 65, 1000, UINT32_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct myelon_workers w = {77};
    int rc = myelon_workers_make(bad[i], &w);
    cr_assert_eq(rc, -MYELON_E_TOPOLOGY, "n=%u: rc %d", bad[i], rc);
    cr_assert_eq(w.n, 77u, "out untouched on failure");
    char want[64];
    snprintf(want, sizeof want, "worker count %u is not in 2..64", bad[i]);
    assert_detail_has(want);
  }
  cr_assert_eq(myelon_workers_make(4, NULL), -EINVAL);
}

Test(workers, index_errors_name_the_index_and_the_count)
{
  struct myelon_workers w;
  cr_assert_eq(myelon_workers_make(8, &w), 0);
  for (uint32_t i = 0; i < 8; i++)
    cr_assert_eq(myelon_workers_check_index(w, i), 0);
  cr_assert_eq(myelon_workers_check_index(w, 8), -MYELON_E_TOPOLOGY);
  assert_detail_has("worker index 8 is out of range for 8 workers (0..7)");
  cr_assert_eq(myelon_workers_check_index(w, UINT32_MAX), -MYELON_E_TOPOLOGY);
  struct myelon_workers forged = {1};
  cr_assert_eq(myelon_workers_check_index(forged, 0), -MYELON_E_TOPOLOGY, "an unvalidated count fails");
  assert_detail_has("worker count 1");
}

Test(workers, ids_are_deterministic_and_mask_covers_every_worker)
{
  struct myelon_workers w;
  cr_assert_eq(myelon_workers_make(64, &w), 0);
  char id[MYELON_LAYOUT_ID_MAX];
  cr_assert_eq(myelon_workers_id(w, 0, id, sizeof id), 2);
  cr_assert_str_eq(id, "w0");
  cr_assert_eq(myelon_workers_id(w, 63, id, sizeof id), 3);
  cr_assert_str_eq(id, "w63");
  cr_assert_eq(dmp_id_validate(id), 0);
  cr_assert_eq(myelon_workers_id(w, 64, id, sizeof id), -MYELON_E_TOPOLOGY);
  cr_assert_eq(myelon_workers_id(w, 10, id, 3), -ENOSPC);
  cr_assert_eq(myelon_workers_mask(w), UINT64_MAX);
  cr_assert_eq(myelon_workers_make(3, &w), 0);
  cr_assert_eq(myelon_workers_mask(w), UINT64_C(7));
  struct myelon_workers none = {0};
  cr_assert_eq(myelon_workers_mask(none), 0u);
}

/* ---- session tag and names ------------------------------------------------------- */

static struct myelon_layout layout_of(const char *label, const char *prefix, uint32_t workers)
{
  struct myelon_layout_config c;
  myelon_layout_config_init(&c);
  c.label = label;
  if (prefix)
    c.prefix = prefix;
  c.workers = workers;
  struct myelon_layout l;
  int rc = myelon_layout_make(&c, &l);
  cr_assert_eq(rc, 0, "layout of '%s': %s", label, dmp_last_error());
  return l;
}

Test(layout, session_tag_is_pinned_and_deterministic)
{
  /* Independent vectors (FNV-1a/64, murmur3 finaliser, 12 base-36 digits). */
  static const struct {
    const char *label, *tag;
  } v[] = {
      {"infer-demo", "5r5w9beqvlah"},
      {"a", "zimukbir3ntn"},
      {"session", "8pxa8af3mqc9"},
      {"4c2f1cb7-50fa-4edf-bd83-very-long-session-name", "t6q2pdaq4fv4"},
      {"5c2f1cb7-50fa-4edf-bd83-very-long-session-name", "fnbagp4vjj6o"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char tag[MYELON_SESSION_TAG_LEN + 1];
    cr_assert_eq(myelon_layout_session_tag(v[i].label, tag, sizeof tag), (int)MYELON_SESSION_TAG_LEN);
    cr_assert_str_eq(tag, v[i].tag, "label '%s'", v[i].label);
  }
  char tag[MYELON_SESSION_TAG_LEN + 1];
  cr_assert_eq(myelon_layout_session_tag("", tag, sizeof tag), -MYELON_E_TOPOLOGY);
  assert_detail_has("label must not be empty");
  cr_assert_eq(myelon_layout_session_tag("x", tag, MYELON_SESSION_TAG_LEN), -ENOSPC);
  cr_assert_eq(myelon_layout_session_tag(NULL, tag, sizeof tag), -EINVAL);
}

Test(layout, names_follow_the_documented_scheme)
{
  struct myelon_layout l = layout_of("infer-demo", NULL, 27);
  char name[MYELON_LAYOUT_PATH_MAX];
  cr_assert_str_eq(l.tag, "5r5w9beqvlah");
  cr_assert_eq(myelon_layout_request_segment(&l, name, sizeof name), 15);
  cr_assert_str_eq(name, "my5r5w9beqvlahp");
  cr_assert_eq(myelon_layout_request_name(&l, name, sizeof name), 16);
  cr_assert_str_eq(name, "/my5r5w9beqvlahp");
  cr_assert_eq(myelon_layout_response_name(&l, 0, name, sizeof name), 17);
  cr_assert_str_eq(name, "/my5r5w9beqvlahr0");
  cr_assert_eq(myelon_layout_response_segment(&l, 26, name, sizeof name), 17);
  cr_assert_str_eq(name, "my5r5w9beqvlahr1a");
  cr_assert_eq(myelon_layout_worker_id(&l, 26, name, sizeof name), 3);
  cr_assert_str_eq(name, "w26");
  cr_assert_eq(myelon_layout_gather_segment(&l, name, sizeof name), 15);
  cr_assert_str_eq(name, "my5r5w9beqvlahg");
  cr_assert_eq(myelon_layout_gather_name(&l, name, sizeof name), 16);
  cr_assert_str_eq(name, "/my5r5w9beqvlahg");
  cr_assert_eq(myelon_layout_gather_name(&l, name, 16), -ENOSPC);
  cr_assert_eq(myelon_layout_gather_name(NULL, name, sizeof name), -EINVAL);
  cr_assert_eq(l.request_depth, 1024u, "default request depth");
  cr_assert_eq(l.response_depth, 256u, "default response depth");
}

/* Every name of the layout is a valid Layer 0 name, and '/' + name + the
 * longest suffix Layer 0 appends fits macOS's 31-byte PSHMNAMLEN. */
static void assert_portable(const struct myelon_layout *l)
{
  char seg[MYELON_LAYOUT_NAME_MAX + 1];
  for (uint32_t r = 0; r <= l->workers; r++) {
    int n = r == l->workers ? myelon_layout_request_segment(l, seg, sizeof seg)
                            : myelon_layout_response_segment(l, r, seg, sizeof seg);
    cr_assert_gt(n, 0);
    cr_assert_leq((size_t)n, (size_t)DMP_NAME_MAX, "'%s' is %d chars", seg, n);
    cr_assert_leq(1 + (size_t)n + DMP_NAME_SUFFIX_MAX, 31u, "'%s' leaves no room for a suffix", seg);
    cr_assert_leq(1 + (size_t)n + strlen(DMP_COUNTERS_SUFFIX), 31u);
    cr_assert_eq(dmp_name_validate(seg), 0, "'%s': %s", seg, dmp_last_error());
  }
}

Test(layout, longest_prefix_and_every_rank_fit_the_portable_limit)
{
  struct myelon_layout l = layout_of("x", "abcdefg", MYELON_WORKERS_MAX);
  assert_portable(&l);
  char seg[MYELON_LAYOUT_NAME_MAX + 1];
  cr_assert_eq(myelon_layout_response_segment(&l, MYELON_WORKERS_MAX - 1, seg, sizeof seg),
               (int)MYELON_LAYOUT_NAME_MAX, "rank 63 (0x3f) gives the longest name");
  cr_assert_eq(MYELON_LAYOUT_NAME_MAX, 22u);
}

Test(layout, ten_thousand_uuid_like_labels_never_collide)
{
  enum { N = 10000 };
  static char tags[N][MYELON_SESSION_TAG_LEN + 1];
  /* UUID-like labels that share their tail (the original's tag kept the
   * last 8 alphanumerics, so all of these would have collided). */
  for (int i = 0; i < N; i++) {
    char label[64];
    snprintf(label, sizeof label, "%08x-50fa-4edf-bd83-000000session", (unsigned)(i * 2654435761u));
    cr_assert_eq(myelon_layout_session_tag(label, tags[i], sizeof tags[i]), (int)MYELON_SESSION_TAG_LEN);
    char again[MYELON_SESSION_TAG_LEN + 1];
    myelon_layout_session_tag(label, again, sizeof again);
    cr_assert_str_eq(again, tags[i], "deterministic");
  }
  qsort(tags, N, sizeof tags[0], (int (*)(const void *, const void *))strcmp);
  for (int i = 1; i < N; i++)
    cr_assert_str_neq(tags[i - 1], tags[i], "collision at %d", i);
}

Test(layout, names_of_one_layout_are_distinct)
{
  enum { N = MYELON_WORKERS_MAX };
  struct myelon_layout l = layout_of("distinct", NULL, N);
  static char names[N + 1][MYELON_LAYOUT_NAME_MAX + 1];
  for (uint32_t r = 0; r < N; r++)
    myelon_layout_response_segment(&l, r, names[r], sizeof names[r]);
  myelon_layout_request_segment(&l, names[N], sizeof names[N]);
  qsort(names, N + 1, sizeof names[0], (int (*)(const void *, const void *))strcmp);
  for (int i = 1; i < N + 1; i++)
    cr_assert_str_neq(names[i - 1], names[i]);
}

Test(layout, mmap_names_are_paths_under_the_directory)
{
  struct myelon_layout_config c;
  myelon_layout_config_init(&c);
  c.label = "files";
  c.workers = 2;
  c.backend = DMP_BACKEND_MMAP;
  c.dir = "/tmp/some dir";
  struct myelon_layout l;
  cr_assert_eq(myelon_layout_make(&c, &l), 0, "%s", dmp_last_error());
  char path[MYELON_LAYOUT_PATH_MAX], seg[MYELON_LAYOUT_NAME_MAX + 1], want[MYELON_LAYOUT_PATH_MAX];
  myelon_layout_response_segment(&l, 1, seg, sizeof seg);
  snprintf(want, sizeof want, "/tmp/some dir/%s", seg);
  cr_assert_gt(myelon_layout_response_name(&l, 1, path, sizeof path), 0);
  cr_assert_str_eq(path, want);
  cr_assert_eq(myelon_layout_request_name(&l, path, 8), -ENOSPC, "a short buffer is refused");
}

/* ---- validation messages ------------------------------------------------------------ */

static int make_with(const char *label, const char *prefix, uint32_t workers, uint64_t rpc, uint64_t resp)
{
  struct myelon_layout_config c;
  myelon_layout_config_init(&c);
  c.label = label;
  c.prefix = prefix;
  c.workers = workers;
  c.request_depth = rpc;
  c.response_depth = resp;
  struct myelon_layout l;
  return myelon_layout_make(&c, &l);
}

Test(layout, validation_names_the_offending_field)
{
  static const struct {
    const char *label, *prefix;
    uint32_t workers;
    uint64_t rpc, resp;
    const char *detail;
  } cases[] = {
      {NULL, "my", 2, 1024, 256, "label must not be empty"},
      {"", "my", 2, 1024, 256, "label must not be empty"},
      {"s", "", 2, 1024, 256, "prefix must not be empty"},
      {"s", NULL, 2, 1024, 256, "prefix must not be empty"},
      {"s", "bad-prefix", 2, 1024, 256, "longer than 7 characters"},
      {"s", "ba-d", 2, 1024, 256, "prefix 'ba-d' must be ASCII alphanumeric: 0x2d at 2"},
      {"s", "a_b", 2, 1024, 256, "must be ASCII alphanumeric"},
      {"s", "abcdefgh", 2, 1024, 256, "prefix 'abcdefgh' is longer than 7 characters"},
      {"s", "my", 0, 1024, 256, "workers 0 is not in 1..64"},
      {"s", "my", 65, 1024, 256, "workers 65 is not in 1..64"},
      {"s", "my", 2, 0, 256, "request_depth must be greater than zero"},
      {"s", "my", 2, 1024, 0, "response_depth must be greater than zero"},
      {"s", "my", 2, 1000, 256, "request_depth 1000 is not a power of two"},
      {"s", "my", 2, 1024, 100, "response_depth 100 is not a power of two"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = make_with(cases[i].label, cases[i].prefix, cases[i].workers, cases[i].rpc, cases[i].resp);
    cr_assert_eq(rc, -MYELON_E_TOPOLOGY, "case %zu: rc %d", i, rc);
    cr_assert(strstr(dmp_last_error(), cases[i].detail), "case %zu: '%s' lacks '%s'", i, dmp_last_error(),
              cases[i].detail);
  }
  cr_assert_eq(make_with("s", "my", 2, 1, 1), 0, "depth 1 is a power of two");
}

Test(layout, mmap_needs_a_directory_and_bad_ranks_are_named)
{
  struct myelon_layout_config c;
  myelon_layout_config_init(&c);
  c.label = "s";
  c.workers = 3;
  c.backend = DMP_BACKEND_MMAP;
  struct myelon_layout l;
  cr_assert_eq(myelon_layout_make(&c, &l), -MYELON_E_TOPOLOGY);
  assert_detail_has("dir must be set for the MMAP backend");
  c.backend = (enum dmp_backend)7;
  cr_assert_eq(myelon_layout_make(&c, &l), -MYELON_E_TOPOLOGY);
  assert_detail_has("backend 7");
  l = layout_of("s", NULL, 3);
  char name[MYELON_LAYOUT_PATH_MAX];
  cr_assert_eq(myelon_layout_response_name(&l, 3, name, sizeof name), -MYELON_E_TOPOLOGY);
  assert_detail_has("rank 3 is out of range for 3 workers");
  cr_assert_eq(myelon_layout_worker_id(&l, 5, name, sizeof name), -MYELON_E_TOPOLOGY);
  cr_assert_eq(myelon_layout_make(NULL, &l), -EINVAL);
}

/* ---- rendezvous and cleanup ----------------------------------------------------------- */

static struct dmp_producer *create_rpc(const struct myelon_layout *l, uint32_t flags)
{
  char name[MYELON_LAYOUT_PATH_MAX];
  myelon_layout_request_name(l, name, sizeof name);
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 64;
  pc.slot_size = 64;
  pc.flags = flags;
  struct dmp_producer *p;
  cr_assert_eq(dmp_producer_create(&pc, &p), 0, "%s", dmp_last_error());
  return p;
}

static struct dmp_consumer *attach_worker(const struct myelon_layout *l, uint32_t rank)
{
  char name[MYELON_LAYOUT_PATH_MAX], id[MYELON_LAYOUT_ID_MAX];
  myelon_layout_request_name(l, name, sizeof name);
  myelon_layout_worker_id(l, rank, id, sizeof id);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = id;
  struct dmp_consumer *c;
  cr_assert_eq(dmp_consumer_attach(&cc, &c), 0, "%s", dmp_last_error());
  return c;
}

Test(layout, wait_workers_names_every_missing_worker)
{
  char label[64];
  snprintf(label, sizeof label, "wait-%d", (int)getpid());
  struct myelon_layout l = layout_of(label, "t", 5);
  made[n_made++] = l;
  struct dmp_producer *p = create_rpc(&l, 0);
  struct dmp_consumer *c0 = attach_worker(&l, 0);
  int rc = myelon_layout_wait_workers(&l, p, ts_timeout_ms(50) * INT64_C(1000000));
  cr_assert_eq(rc, -ETIMEDOUT);
  assert_detail_has("4 of 5 workers not attached");
  assert_detail_has(": w1..w4"); /* runs of three or more are shortened */
  struct dmp_consumer *c2 = attach_worker(&l, 2);
  rc = myelon_layout_wait_workers(&l, p, ts_timeout_ms(50) * INT64_C(1000000));
  cr_assert_eq(rc, -ETIMEDOUT);
  assert_detail_has("3 of 5 workers not attached");
  assert_detail_has(": w1, w3, w4");
  struct dmp_consumer *c1 = attach_worker(&l, 1), *c3 = attach_worker(&l, 3), *c4 = attach_worker(&l, 4);
  cr_assert_eq(myelon_layout_wait_workers(&l, p, ts_timeout_ms(5000) * INT64_C(1000000)), 0, "%s",
               dmp_last_error());
  dmp_consumer_close(c0), dmp_consumer_close(c1), dmp_consumer_close(c2);
  dmp_consumer_close(c3), dmp_consumer_close(c4);
  dmp_producer_close(p);
}

Test(layout, gc_removes_stale_rings_and_never_a_live_one)
{
  char label[64], name[MYELON_LAYOUT_PATH_MAX];
  snprintf(label, sizeof label, "gc-%d", (int)getpid());
  struct myelon_layout l = layout_of(label, "t", 2);
  made[n_made++] = l;
  myelon_layout_request_name(&l, name, sizeof name);
  struct dmp_producer *live = create_rpc(&l, 0);
  cr_assert_eq(myelon_layout_gc(&l), 0, "a live ring stays");
  int fd = shm_open(name, O_RDONLY, 0);
  cr_assert_geq(fd, 0, "'%s' still exists", name);
  close(fd);
  dmp_producer_close(live);
  dmp_producer_close(create_rpc(&l, DMP_RING_KEEP)); /* left behind, producer gone */
  cr_assert_eq(myelon_layout_gc(&l), 1, "the stale ring goes: %s", dmp_last_error());
  cr_assert_lt(shm_open(name, O_RDONLY, 0), 0);
  cr_assert_eq(errno, ENOENT);
  cr_assert_eq(myelon_layout_gc(&l), 0, "nothing left");
  /* The gather ring (one-ring topologies) is the layout's too. */
  char gname[MYELON_LAYOUT_PATH_MAX];
  myelon_layout_gather_name(&l, gname, sizeof gname);
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = gname;
  pc.capacity = 64;
  pc.slot_size = 64;
  pc.flags = DMP_RING_KEEP | DMP_RING_MULTI_PRODUCER;
  struct dmp_producer *g;
  cr_assert_eq(dmp_producer_create(&pc, &g), 0, "%s", dmp_last_error());
  dmp_producer_close(g);
  cr_assert_eq(myelon_layout_gc(&l), 1, "the stale gather ring goes: %s", dmp_last_error());
  cr_assert_lt(shm_open(gname, O_RDONLY, 0), 0);
}
