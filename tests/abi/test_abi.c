/* What a program built against 0.1 relies on, across both libraries:
 * the version functions and compile-time checks, one error space (either
 * library's strerror names the other's codes), the configuration structs'
 * reserved space (pinned sizes and offsets, a non-zero reserved byte
 * refused) and details that name the caller's fields, never an internal
 * function. The exported symbol lists are checked by check_symbols.sh. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include <myelon/myelon.h>

#include "support.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* A plain condition as a Criterion expression, printed when it fails. */
#define HOLDS(cond) eq(int, (cond) ? 1 : 0, 1)

static void fini(void)
{
  ts_cleanup();
}

TestSuite(abi_version, .timeout = 10);
TestSuite(abi_errors, .timeout = 10);
TestSuite(abi_config, .fini = fini, .timeout = 10);

/* ---- versions ------------------------------------------------------------- */

#if !DMP_VERSION_AT_LEAST(0, 1, 0) || !MYELON_VERSION_AT_LEAST(0, 1, 0)
#error "the version checks must work in #if"
#endif

Test(abi_version, run_time_versions_match_the_headers)
{
  cr_assert(eq(str, (char *)dmp_version(), DMP_VERSION_STRING));
  cr_assert(eq(str, (char *)myelon_version(), MYELON_VERSION_STRING));
}

Test(abi_version, at_least_compares_major_minor_patch_in_order)
{
  cr_assert(HOLDS(DMP_VERSION_AT_LEAST(DMP_VERSION_MAJOR, DMP_VERSION_MINOR, DMP_VERSION_PATCH)));
  cr_assert(HOLDS(!DMP_VERSION_AT_LEAST(DMP_VERSION_MAJOR, DMP_VERSION_MINOR, DMP_VERSION_PATCH + 1)));
  cr_assert(HOLDS(!DMP_VERSION_AT_LEAST(DMP_VERSION_MAJOR, DMP_VERSION_MINOR + 1, 0)));
  cr_assert(HOLDS(!DMP_VERSION_AT_LEAST(DMP_VERSION_MAJOR + 1, 0, 0)));
  cr_assert(HOLDS(DMP_VERSION_AT_LEAST(0, 0, 999)));
  cr_assert(HOLDS(MYELON_VERSION_AT_LEAST(MYELON_VERSION_MAJOR, MYELON_VERSION_MINOR, MYELON_VERSION_PATCH)));
  cr_assert(HOLDS(!MYELON_VERSION_AT_LEAST(MYELON_VERSION_MAJOR, MYELON_VERSION_MINOR, MYELON_VERSION_PATCH + 1)));
  cr_assert(HOLDS(!MYELON_VERSION_AT_LEAST(MYELON_VERSION_MAJOR, MYELON_VERSION_MINOR + 1, 0)));
  cr_assert(HOLDS(!MYELON_VERSION_AT_LEAST(MYELON_VERSION_MAJOR + 1, 0, 0)));
}

/* ---- one error space ------------------------------------------------------ */

struct code {
  int code;
  const char *name, *msg;
};
#define ABI_X(e, name, msg) {e, name, msg},
static const struct code myelon_codes[] = {MYELON_ERROR_TABLE(ABI_X)};
static const struct code dmp_codes[] = {DMP_ERROR_TABLE(ABI_X)};
#undef ABI_X

Test(abi_errors, dmp_strerror_names_every_myelon_code)
{
  for (size_t i = 0; i < N(myelon_codes); i++) {
    const struct code *c = &myelon_codes[i];
    cr_assert(eq(str, (char *)dmp_strerror(-c->code), (char *)c->msg), "code %d", c->code);
    cr_assert(eq(str, (char *)dmp_strerror(c->code), (char *)c->msg), "positive code %d", c->code);
    cr_assert(eq(str, (char *)dmp_err_name(-c->code), (char *)c->name), "code %d", c->code);
    cr_assert(eq(str, (char *)myelon_strerror(-c->code), (char *)c->msg), "code %d", c->code);
    cr_assert(eq(str, (char *)myelon_err_name(-c->code), (char *)c->name), "code %d", c->code);
  }
}

Test(abi_errors, myelon_strerror_names_every_dmp_code_and_errno)
{
  for (size_t i = 0; i < N(dmp_codes); i++) {
    const struct code *c = &dmp_codes[i];
    cr_assert(eq(str, (char *)myelon_strerror(-c->code), (char *)c->msg), "code %d", c->code);
    cr_assert(eq(str, (char *)myelon_err_name(-c->code), (char *)c->name), "code %d", c->code);
  }
  static const int errs[] = {ENOENT, EAGAIN, ETIMEDOUT, EINVAL, ENOSPC, EACCES, ENOMEM, EPERM, ELOOP};
  for (size_t i = 0; i < N(errs); i++) {
    cr_assert(eq(str, (char *)myelon_strerror(-errs[i]), strerror(errs[i])), "errno %d", errs[i]);
    cr_assert(eq(str, (char *)myelon_err_name(-errs[i]), (char *)dmp_err_name(-errs[i])), "errno %d", errs[i]);
  }
}

Test(abi_errors, codes_past_either_table_are_unknown_in_both)
{
  static const int unknown[] = {MYELON_E_LAST_, DMP_E_LAST_, DMP_ERR_LAYER_BASE - 1, 3000, INT_MAX, INT_MIN};
  for (size_t i = 0; i < N(unknown); i++) {
    cr_assert(eq(str, (char *)dmp_strerror(unknown[i]), "unknown error"), "code %d", unknown[i]);
    cr_assert(eq(str, (char *)myelon_strerror(unknown[i]), "unknown error"), "code %d", unknown[i]);
    cr_assert(eq(str, (char *)myelon_err_name(unknown[i]), (char *)dmp_err_name(unknown[i])), "code %d", unknown[i]);
  }
}

static const char *const extra_names[] = {"ONE", "TWO"};
static const char *const extra_msgs[] = {"first extra", "second extra"};

Test(abi_errors, a_further_layer_registers_its_own_range)
{
  int base = MYELON_ERR_BASE + 4096;
  cr_assert(eq(int, dmp_error_register(base, 2, extra_names, extra_msgs), 0), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_error_register(base, 2, extra_names, extra_msgs), 0), "the same table again");
  cr_assert(eq(str, (char *)dmp_strerror(-(base + 1)), "second extra"));
  cr_assert(eq(str, (char *)dmp_err_name(-base), "ONE"));
  cr_assert(eq(str, (char *)myelon_strerror(-base), "first extra"));
  cr_assert(eq(str, (char *)dmp_strerror(-(base + 2)), "unknown error"));
}

Test(abi_errors, a_range_that_overlaps_is_refused)
{
  cr_assert(eq(int, dmp_error_register(MYELON_ERR_BASE + 1, 2, extra_names, extra_msgs), -EINVAL),
            "overlaps libmyelon's codes");
  cr_assert(eq(int, dmp_error_register(DMP_ERR_BASE, 2, extra_names, extra_msgs), -EINVAL), "disruptor_mp's");
  cr_assert(eq(int, dmp_error_register(ENOENT, 2, extra_names, extra_msgs), -EINVAL), "errno values");
  cr_assert(eq(int, dmp_error_register(INT_MAX - 1, 2, extra_names, extra_msgs), -EINVAL), "past INT_MAX");
  cr_assert(eq(int, dmp_error_register(30000, 0, extra_names, extra_msgs), -EINVAL), "count 0");
  cr_assert(eq(int, dmp_error_register(30000, 2, NULL, extra_msgs), -EINVAL), "NULL names");
  cr_assert(eq(str, (char *)dmp_strerror(MYELON_E_TRUNCATED), (char *)myelon_codes[0].msg), "still libmyelon's");
}

/* ---- configuration structs ------------------------------------------------ */

/* The sizes and offsets of 0.1 (x86-64 / LP64). A change here breaks every
 * program built against 0.1: grow into `reserved` instead (config.h). */
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(struct dmp_wait_strategy) == 32, "dmp_wait_strategy changed size");
_Static_assert(offsetof(struct dmp_wait_strategy, reserved) == 16, "dmp_wait_strategy fields moved");
_Static_assert(sizeof(struct dmp_producer_config) == 176, "dmp_producer_config changed size");
_Static_assert(offsetof(struct dmp_producer_config, wait) == 60, "dmp_producer_config fields moved");
/* 0.3 took max_producers and reserved32 out of the reserved space at 112. */
_Static_assert(offsetof(struct dmp_producer_config, max_producers) == 112, "dmp_producer_config fields moved");
_Static_assert(offsetof(struct dmp_producer_config, reserved) == 120, "dmp_producer_config fields moved");
_Static_assert(sizeof(struct dmp_consumer_config) == 152, "dmp_consumer_config changed size");
_Static_assert(offsetof(struct dmp_consumer_config, reserved) == 88, "dmp_consumer_config fields moved");
_Static_assert(sizeof(struct dmp_liveness_config) == 136, "dmp_liveness_config changed size");
_Static_assert(offsetof(struct dmp_liveness_config, reserved) == 72, "dmp_liveness_config fields moved");
#define ABI_PIN(t, size, at)                                                         \
  _Static_assert(sizeof(struct t) == (size), #t " changed size");                    \
  _Static_assert(offsetof(struct t, reserved) == (at), #t " fields moved")
ABI_PIN(myelon_producer_config, 256, 200);
/* 0.5 took `ring_bytes` (MYELON_FRAME_BYTES) out of the reserved space (192..199). */
_Static_assert(offsetof(struct myelon_producer_config, ring_bytes) == 192, "myelon_producer_config fields moved");
ABI_PIN(myelon_consumer_config, 232, 168);
ABI_PIN(myelon_journal_writer_config, 304, 240);
ABI_PIN(myelon_recorder_config, 472, 408);
ABI_PIN(myelon_replayer_config, 312, 248);
ABI_PIN(myelon_topology_config, 240, 192);
/* 0.5 took `responses` and `reserved32` out of the reserved space (176..183),
 * then `ring_bytes` (MYELON_FRAME_BYTES topologies, 184..191). */
_Static_assert(offsetof(struct myelon_topology_config, responses) == 176, "myelon_topology_config fields moved");
_Static_assert(offsetof(struct myelon_topology_config, ring_bytes) == 184, "myelon_topology_config fields moved");
ABI_PIN(myelon_layout_config, 120, 56);
/* What the library fills in for the caller: reserved space too, so a
 * later field fits without changing a caller's buffer. */
ABI_PIN(dmp_consumer_info, 96, 64);
ABI_PIN(myelon_typed_producer_stats, 56, 24);
ABI_PIN(myelon_workers_status, 48, 16);
ABI_PIN(myelon_journal_writer_stats, 112, 80);
ABI_PIN(myelon_journal_reader_stats, 64, 32);
ABI_PIN(myelon_recorder_stats, 136, 104);
ABI_PIN(myelon_replayer_stats, 56, 24);
#endif

static struct dmp_producer_config pcfg(void)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = ts_shm_name("abi");
  cfg.capacity = 16;
  cfg.slot_size = 8;
  return cfg;
}

static void expect_refused(int rc, const char *field)
{
  cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "%s: got %s (%s)", field, dmp_err_name(rc), dmp_last_error());
  const char *d = dmp_last_error();
  cr_assert(eq(int, strncmp(d, field, strlen(field)), 0), "detail '%s' does not start with '%s'", d, field);
}

Test(abi_config, init_functions_zero_the_reserved_space)
{
  static const uint64_t zero[8];
  struct dmp_producer_config p;
  memset(&p, 0xa5, sizeof p);
  dmp_producer_config_init(&p);
  cr_assert(eq(int, memcmp(p.reserved, zero, sizeof p.reserved), 0));
  cr_assert(eq(int, memcmp(p.wait.reserved, zero, sizeof p.wait.reserved), 0));
  struct dmp_consumer_config c;
  memset(&c, 0xa5, sizeof c);
  dmp_consumer_config_init(&c);
  cr_assert(eq(int, memcmp(c.reserved, zero, sizeof c.reserved), 0));
  struct dmp_liveness_config l;
  memset(&l, 0xa5, sizeof l);
  dmp_liveness_config_init(&l);
  cr_assert(eq(int, memcmp(l.reserved, zero, sizeof l.reserved), 0));
}

/* Out-structs come back with their reserved space zeroed, whatever the
 * caller's buffer held (a later library may fill it: a caller that reads
 * zero there today must keep working). */
Test(abi_config, out_structs_come_back_with_reserved_space_zeroed)
{
  static const uint64_t zero[4];
  struct dmp_producer_config cfg = pcfg();
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&cfg, &p), 0), "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = cfg.name;
  cc.id = "abi";
  struct dmp_consumer *c = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "%s", dmp_last_error());
  struct dmp_consumer_info one, list[2];
  memset(&one, 0xa5, sizeof one);
  memset(list, 0xa5, sizeof list);
  cr_assert(eq(int, dmp_producer_consumer_info(p, "abi", &one), 0));
  cr_assert(eq(int, dmp_producer_list_consumers(p, NULL, list, 2), 1));
  cr_assert(eq(int, memcmp(one.reserved, zero, sizeof zero), 0), "consumer_info");
  cr_assert(eq(int, memcmp(list[0].reserved, zero, sizeof zero), 0), "list_consumers");
  dmp_consumer_close(c);
  dmp_producer_close(p);
  struct myelon_typed_producer_stats ts;
  memset(&ts, 0xa5, sizeof ts);
  myelon_typed_producer_stats(NULL, &ts);
  cr_assert(eq(int, memcmp(ts.reserved, zero, sizeof zero), 0), "typed_producer_stats");
}

Test(abi_config, a_field_of_a_later_version_is_refused_not_ignored)
{
  struct dmp_producer *p = NULL;
  struct dmp_producer_config cfg = pcfg();
  cfg.reserved[6] = 1;
  expect_refused(dmp_producer_create(&cfg, &p), "cfg.reserved");
  cfg = pcfg();
  cfg.reserved32 = 1;
  expect_refused(dmp_producer_create(&cfg, &p), "cfg.reserved32");
  cfg = pcfg();
  cfg.wait.reserved[0] = 1;
  expect_refused(dmp_producer_create(&cfg, &p), "cfg.wait.reserved");
  cr_assert(eq(ptr, p, NULL));

  cfg = pcfg();
  cr_assert(eq(int, dmp_producer_create(&cfg, &p), 0), "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = cfg.name;
  cc.id = "c0";
  cc.reserved[0] = 1;
  struct dmp_consumer *c = NULL;
  expect_refused(dmp_consumer_attach(&cc, &c), "cfg.reserved");
  cc.reserved[0] = 0;
  cc.wait.reserved[3] = 1;
  expect_refused(dmp_consumer_attach(&cc, &c), "cfg.wait.reserved");

  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.reserved[4] = 1;
  expect_refused(dmp_producer_enable_liveness(p, &lc), "cfg.reserved");
  dmp_producer_close(p);
}

/* ---- details name the caller's fields ------------------------------------ */

Test(abi_config, details_name_fields_as_the_caller_spells_them_not_functions)
{
  static const struct {
    const char *field;
    uint64_t capacity;
    uint32_t slot_size, slot_align, flags, mode;
  } cases[] = {
    {"cfg.capacity", 12, 8, 8, 0, 0600},      {"cfg.slot_size", 16, 0, 8, 0, 0600},
    {"cfg.slot_align", 16, 8, 3, 0, 0600},    {"cfg.flags", 16, 8, 8, 0x10000, 0600},
    {"cfg.mode", 16, 8, 8, 0, 0606},
  };
  for (size_t i = 0; i < N(cases); i++) {
    struct dmp_producer_config cfg = pcfg();
    cfg.capacity = cases[i].capacity;
    cfg.slot_size = cases[i].slot_size;
    cfg.slot_align = cases[i].slot_align;
    cfg.flags = cases[i].flags;
    cfg.mode = cases[i].mode;
    struct dmp_producer *p = NULL;
    expect_refused(dmp_producer_create(&cfg, &p), cases[i].field);
    cr_assert(eq(ptr, strstr(dmp_last_error(), "impl"), NULL), "detail '%s' names an internal function",
              dmp_last_error());
  }
}

/* libmyelon: the same rule, and Layer 0's field names as its caller spells
 * them (the Layer 0 config is cfg.ring there). */

static void expect_mentions(int rc, int want, const char *field)
{
  cr_assert(eq(int, rc, want), "%s: got %s (%s)", field, dmp_err_name(rc), dmp_last_error());
  const char *d = dmp_last_error();
  cr_assert(ne(ptr, strstr(d, field), NULL), "detail '%s' does not name '%s'", d, field);
  cr_assert(eq(ptr, strstr(d, "impl"), NULL), "detail '%s' names an internal function", d);
}

Test(abi_config, myelon_configs_refuse_a_field_of_a_later_version)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ts_shm_name("abim");
  pc.ring.capacity = 16;
  pc.reserved[2] = 1;
  struct myelon_producer *p = NULL;
  expect_mentions(myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG, "cfg.reserved");
  pc.reserved[2] = 0;
  pc.ring.reserved[0] = 1;
  expect_mentions(myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG, "cfg.ring.reserved");
  cr_assert(eq(ptr, p, NULL));

  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = pc.ring.name;
  cc.ring.id = "c0";
  cc.reserved[7] = 1;
  struct myelon_consumer *c = NULL;
  expect_mentions(myelon_consumer_attach(&cc, &c), -DMP_E_BADCONFIG, "cfg.reserved");

  struct myelon_layout_config lc;
  myelon_layout_config_init(&lc);
  lc.label = "abi";
  lc.workers = 2;
  lc.reserved[1] = 1;
  struct myelon_layout l;
  expect_mentions(myelon_layout_make(&lc, &l), -DMP_E_BADCONFIG, "cfg.reserved");

  struct myelon_recorder_config rc;
  myelon_recorder_config_init(&rc);
  rc.ring = pc.ring.name;
  rc.journal.path = "/nonexistent/abi";
  rc.journal.reserved[0] = 1;
  struct myelon_recorder *r = NULL;
  expect_mentions(myelon_recorder_open(&rc, &r), -DMP_E_BADCONFIG, "cfg.journal.reserved");

  struct myelon_replayer_config yc;
  myelon_replayer_config_init(&yc);
  yc.journal = "/nonexistent/abi";
  yc.ring.name = pc.ring.name;
  yc.reserved[0] = 1;
  struct myelon_replayer *y = NULL;
  expect_mentions(myelon_replayer_open(&yc, &y), -DMP_E_BADCONFIG, "cfg.reserved");
}

Test(abi_config, myelon_names_layer_0_fields_under_cfg_ring)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ts_shm_name("abif");
  pc.ring.capacity = 12;
  struct myelon_producer *p = NULL;
  expect_mentions(myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG, "cfg.ring.capacity 12");
  pc.ring.capacity = 16;
  pc.ring.wait.kind = (enum dmp_wait_kind)9;
  expect_mentions(myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG, "cfg.ring.wait.kind 9");

  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = pc.ring.name;
  cc.ring.id = "c0";
  cc.ring.start = (enum dmp_start)5;
  struct myelon_consumer *c = NULL;
  expect_mentions(myelon_consumer_attach(&cc, &c), -DMP_E_BADCONFIG, "cfg.ring.start 5");
}

Test(abi_config, myelon_names_its_own_fields_and_nested_ones_as_the_caller_spells_them)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ts_shm_name("abin");
  pc.max_message = 0;
  struct myelon_producer *p = NULL;
  expect_mentions(myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG, "cfg.max_message 0");

  struct myelon_topology_config tc;
  myelon_topology_config_init(&tc);
  cr_assert(eq(int, myelon_workers_make(2, &tc.workers), 0));
  tc.layout.label = "abi";
  tc.layout.prefix = "no-dash";
  struct myelon_scheduler *s = NULL;
  expect_mentions(myelon_scheduler_create(&tc, &s), -MYELON_E_TOPOLOGY, "cfg.layout.prefix 'no-dash'");
  cr_assert(eq(ptr, strstr(dmp_last_error(), "myelon_layout_make"), NULL), "detail '%s' names the inner call",
            dmp_last_error());

  struct myelon_journal_writer_config wc;
  myelon_journal_writer_config_init(&wc);
  struct myelon_journal_writer *w = NULL;
  expect_mentions(myelon_journal_writer_open(&wc, &w), -DMP_E_BADCONFIG, "cfg.path is required");
}
