/* Configuration (config.h): documented defaults, and validation of every
 * field by dmp_producer_create() and dmp_consumer_attach() on both
 * backends. A rejected create returns the documented code, sets *out to
 * NULL and leaves no segment behind. */
#include "unit.h"

TestSuite(config_defaults, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(producer_config, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(consumer_config, .fini = ut_fini, .timeout = UT_TIMEOUT);

/* A non-NULL value the library must overwrite with NULL on failure. */
static struct dmp_producer *const p_sentinel = (struct dmp_producer *)(uintptr_t)0x10;
static struct dmp_consumer *const c_sentinel = (struct dmp_consumer *)(uintptr_t)0x10;

typedef void (*mutate_fn)(struct dmp_producer_config *cfg);

/* Apply `mutate` to a valid config and expect create to fail with `want`
 * on both backends; `name_ok` says whether the name is still valid (then
 * no file of that name may exist afterwards). */
static void expect_create_fails(mutate_fn mutate, int want, bool name_ok, const char *what)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "cfg");
    mutate(&cfg);
    struct dmp_producer *p = p_sentinel;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, want), "%s on %s: got %s, want %s (%s)", what, ut_backend_name(ut_backends[b]),
              dmp_err_name(rc), dmp_err_name(want), dmp_last_error());
    cr_assert(eq(ptr, (void *)p, NULL), "%s on %s: *out not NULL after failure", what,
              ut_backend_name(ut_backends[b]));
    if (name_ok && cfg.name)
      cr_assert(eq(int, ut_seg_leftovers(ut_backends[b], cfg.name), 0), "%s on %s: rejected create left '%s'*", what,
                ut_backend_name(ut_backends[b]), cfg.name);
    if (want == -DMP_E_BADCONFIG || want == -DMP_E_BADNAME)
      cr_assert(lt(sz, 0, strlen(dmp_last_error())), "%s: no detail", what);
  }
}

/* Apply `mutate` and expect create to succeed on both backends. */
static void expect_create_works(mutate_fn mutate, const char *what)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "cfg");
    mutate(&cfg);
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, 0), "%s on %s: %s (%s)", what, ut_backend_name(ut_backends[b]), dmp_err_name(rc),
              dmp_last_error());
    cr_assert(ne(ptr, p, NULL));
    dmp_producer_close(p);
  }
}

Test(config_defaults, producer_defaults_are_the_documented_ones)
{
  struct dmp_producer_config cfg;
  memset(&cfg, 0xa5, sizeof cfg);
  dmp_producer_config_init(&cfg);
  cr_assert(eq(int, (int)cfg.backend, (int)DMP_BACKEND_SHM));
  cr_assert(eq(ptr, (void *)cfg.name, NULL));
  cr_assert(eq(u64, cfg.capacity, 0));
  cr_assert(eq(u32, cfg.slot_size, 0));
  cr_assert(eq(u32, cfg.slot_align, 8));
  cr_assert(eq(u32, cfg.max_consumers, DMP_DEFAULT_MAX_CONSUMERS));
  cr_assert(eq(u64, cfg.type_tag, 0));
  cr_assert(eq(u32, cfg.mode, 0600));
  cr_assert(eq(u32, cfg.flags, 0));
  cr_assert(eq(int, (int)cfg.wait.kind, (int)DMP_WAIT_BLOCK));
  cr_assert(eq(u32, cfg.wait_consumers, 0));
  cr_assert(eq(i64, cfg.wait_timeout_ns, INT64_C(5000000000)));
}

Test(config_defaults, consumer_defaults_are_the_documented_ones)
{
  struct dmp_consumer_config cfg;
  memset(&cfg, 0xa5, sizeof cfg);
  dmp_consumer_config_init(&cfg);
  cr_assert(eq(int, (int)cfg.backend, (int)DMP_BACKEND_SHM));
  cr_assert(eq(ptr, (void *)cfg.name, NULL));
  cr_assert(eq(ptr, (void *)cfg.id, NULL));
  cr_assert(eq(u32, cfg.slot_size, 0));
  cr_assert(eq(u32, cfg.slot_align, 0));
  cr_assert(eq(u64, cfg.type_tag, 0));
  cr_assert(eq(int, (int)cfg.start, (int)DMP_START_LATEST));
  cr_assert(eq(u32, cfg.flags, 0));
  cr_assert(eq(int, (int)cfg.wait.kind, (int)DMP_WAIT_BLOCK));
}

Test(producer_config, rejects_null_arguments_with_einval)
{
  struct dmp_producer *p = p_sentinel;
  cr_assert(eq(int, dmp_producer_create(NULL, &p), -EINVAL));
  cr_assert(eq(ptr, (void *)p, NULL), "*out not NULL after failure");
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "cfg");
    cr_assert(eq(int, dmp_producer_create(&cfg, NULL), -EINVAL), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(not(ut_seg_exists(ut_backends[b], cfg.name)), "create with NULL out left '%s'", cfg.name);
  }
}

static void cap_0(struct dmp_producer_config *c) { c->capacity = 0; }
static void cap_3(struct dmp_producer_config *c) { c->capacity = 3; }
static void cap_12(struct dmp_producer_config *c) { c->capacity = 12; }
static void cap_1(struct dmp_producer_config *c) { c->capacity = 1; }

Test(producer_config, rejects_capacity_zero_or_not_a_power_of_two)
{
  expect_create_fails(cap_0, -DMP_E_BADCONFIG, true, "capacity 0");
  expect_create_fails(cap_3, -DMP_E_BADCONFIG, true, "capacity 3");
  expect_create_fails(cap_12, -DMP_E_BADCONFIG, true, "capacity 12");
}

Test(producer_config, accepts_capacity_one)
{
  expect_create_works(cap_1, "capacity 1");
}

static void cap_overflow(struct dmp_producer_config *c)
{
  c->capacity = UINT64_C(1) << 62; /* x 64-byte stride wraps 64 bits */
  c->slot_size = 64;
}
static void cap_huge(struct dmp_producer_config *c)
{
  c->capacity = UINT64_C(1) << 31; /* x 1 MiB = 2 PiB */
  c->slot_size = 1u << 20;
}
static void cap_top_bit(struct dmp_producer_config *c) { c->capacity = UINT64_C(1) << 63; }

Test(producer_config, rejects_a_ring_whose_size_overflows_or_exceeds_the_limit)
{
  expect_create_fails(cap_overflow, -DMP_E_BADCONFIG, true, "capacity 2^62 x 64 B");
  expect_create_fails(cap_huge, -DMP_E_BADCONFIG, true, "capacity 2^31 x 1 MiB");
  expect_create_fails(cap_top_bit, -DMP_E_BADCONFIG, true, "capacity 2^63");
}

static void size_0(struct dmp_producer_config *c) { c->slot_size = 0; }
static void size_big(struct dmp_producer_config *c) { c->slot_size = DMP_MAX_SLOT_SIZE + 1; }

Test(producer_config, rejects_slot_size_zero_or_too_big)
{
  expect_create_fails(size_0, -DMP_E_BADCONFIG, true, "slot_size 0");
  expect_create_fails(size_big, -DMP_E_BADCONFIG, true, "slot_size max+1");
}

static void align_3(struct dmp_producer_config *c) { c->slot_align = 3; }
static void align_6(struct dmp_producer_config *c) { c->slot_align = 6; }
static void align_8192(struct dmp_producer_config *c) { c->slot_align = 8192; }
static void align_4096(struct dmp_producer_config *c) { c->slot_align = DMP_MAX_SLOT_ALIGN; }
static void align_1(struct dmp_producer_config *c) { c->slot_align = 1; c->slot_size = 3; }

Test(producer_config, rejects_alignment_not_a_power_of_two_or_above_the_max)
{
  expect_create_fails(align_3, -DMP_E_BADCONFIG, true, "slot_align 3");
  expect_create_fails(align_6, -DMP_E_BADCONFIG, true, "slot_align 6");
  expect_create_fails(align_8192, -DMP_E_BADCONFIG, true, "slot_align 8192");
}

Test(producer_config, accepts_alignment_one_and_the_max)
{
  expect_create_works(align_4096, "slot_align 4096");
  expect_create_works(align_1, "slot_align 1");
}

static void consumers_0(struct dmp_producer_config *c) { c->max_consumers = 0; }
static void consumers_max(struct dmp_producer_config *c) { c->max_consumers = DMP_MAX_CONSUMERS; }
static void consumers_over(struct dmp_producer_config *c) { c->max_consumers = DMP_MAX_CONSUMERS + 1; }

Test(producer_config, rejects_more_than_max_consumers)
{
  expect_create_fails(consumers_over, -DMP_E_BADCONFIG, true, "max_consumers 1025");
}

Test(producer_config, accepts_the_max_table_size)
{
  expect_create_works(consumers_max, "max_consumers 1024");
}

Test(producer_config, takes_max_consumers_zero_as_the_default)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "cfg");
    consumers_0(&cfg);
    struct dmp_producer *p = ut_create(&cfg);
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    cr_assert(eq(u32, h.max_consumers, DMP_DEFAULT_MAX_CONSUMERS));
    dmp_producer_close(p);
  }
}

static void flags_unknown(struct dmp_producer_config *c) { c->flags = 0x10000; }
static void flags_top(struct dmp_producer_config *c) { c->flags = DMP_RING_KEEP | 0x80000000u; }

Test(producer_config, rejects_unknown_flag_bits)
{
  expect_create_fails(flags_unknown, -DMP_E_BADCONFIG, true, "flags 0x100");
  expect_create_fails(flags_top, -DMP_E_BADCONFIG, true, "flags KEEP|0x80000000");
}

static void mode_bad(struct dmp_producer_config *c) { c->mode = 0x10000; }

Test(producer_config, rejects_mode_bits_beyond_permissions)
{
  expect_create_fails(mode_bad, -DMP_E_BADCONFIG, true, "mode 0x10000");
}

static void wait_kind_bad(struct dmp_producer_config *c) { c->wait.kind = (enum dmp_wait_kind)42; }
static void backend_bad(struct dmp_producer_config *c) { c->backend = (enum dmp_backend)7; }

Test(producer_config, rejects_an_unknown_wait_kind)
{
  expect_create_fails(wait_kind_bad, -DMP_E_BADCONFIG, true, "wait.kind 42");
}

Test(producer_config, rejects_an_unknown_backend)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "cfg");
  backend_bad(&cfg);
  struct dmp_producer *p = p_sentinel;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)p, NULL));
  cr_assert(not(ut_seg_exists(DMP_BACKEND_SHM, cfg.name)));
}

Test(producer_config, rejects_a_null_name)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "cfg");
    cfg.name = NULL;
    struct dmp_producer *p = p_sentinel;
    int rc = dmp_producer_create(&cfg, &p);
    /* producer.h does not say which code a NULL name gives: -EINVAL (NULL
     * argument), BADNAME (invalid name) or BADCONFIG (required field). */
    cr_assert(rc == -EINVAL || rc == -DMP_E_BADNAME || rc == -DMP_E_BADCONFIG, "%s: got %s",
              ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)p, NULL));
  }
}

static const char *const bad_shm_names[] = {"a b", ".hidden", "a/b", "", "abcdefghijklmnopqrstuvwxyz"};

Test(producer_config, rejects_a_bad_shm_name)
{
  for (size_t i = 0; i < sizeof bad_shm_names / sizeof bad_shm_names[0]; i++) {
    struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "cfg");
    cfg.name = bad_shm_names[i];
    struct dmp_producer *p = p_sentinel;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, -DMP_E_BADNAME), "name '%s': got %s", cfg.name, dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)p, NULL));
  }
}

Test(producer_config, rejects_an_empty_mmap_path)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "cfg");
  cfg.name = "";
  struct dmp_producer *p = p_sentinel;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert(eq(int, rc, -DMP_E_BADNAME), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)p, NULL));
}

Test(producer_config, reports_the_system_error_for_a_path_in_a_missing_directory)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "cfg");
  char path[600];
  snprintf(path, sizeof path, "%s.missing-dir/ring", cfg.name);
  cfg.name = path;
  struct dmp_producer *p = p_sentinel;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert(eq(int, rc, -ENOENT), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)p, NULL));
}

/* ---- consumer configuration, against a live ring --------------------- */

static void expect_attach_fails(const struct dmp_consumer_config *cfg, int want, const char *what)
{
  struct dmp_consumer *c = c_sentinel;
  int rc = dmp_consumer_attach(cfg, &c);
  cr_assert(eq(int, rc, want), "%s: got %s, want %s (%s)", what, dmp_err_name(rc), dmp_err_name(want),
            dmp_last_error());
  cr_assert(eq(ptr, (void *)c, NULL), "%s: *out not NULL after failure", what);
}

Test(consumer_config, rejects_null_arguments_with_einval)
{
  struct dmp_consumer *c = c_sentinel;
  cr_assert(eq(int, dmp_consumer_attach(NULL, &c), -EINVAL));
  cr_assert(eq(ptr, (void *)c, NULL));
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "cc");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  cr_assert(eq(int, dmp_consumer_attach(&cc, NULL), -EINVAL));
  cr_assert(eq(int, ut_count_consumers(p), 0), "failed attach left a table entry");
  dmp_producer_close(p);
}

Test(consumer_config, rejects_bad_ids_and_keeps_the_table_empty)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "cc");
    struct dmp_producer *p = ut_create(&pc);
    static const char *bad[] = {"", "a b", "a/b", "0123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      struct dmp_consumer_config cc = ut_ccfg(&pc, bad[i]);
      expect_attach_fails(&cc, -DMP_E_BADNAME, bad[i]);
    }
    struct dmp_consumer_config cc = ut_ccfg(&pc, NULL);
    struct dmp_consumer *c = c_sentinel;
    int rc = dmp_consumer_attach(&cc, &c);
    cr_assert(rc == -EINVAL || rc == -DMP_E_BADNAME, "NULL id: got %s", dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)c, NULL));
    cr_assert(eq(int, ut_count_consumers(p), 0), "failed attach left a table entry");
    dmp_producer_close(p);
  }
}

Test(consumer_config, rejects_a_bad_segment_name)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.id = "c0";
  cc.name = "bad name";
  expect_attach_fails(&cc, -DMP_E_BADNAME, "name 'bad name'");
  cc.name = ".x";
  expect_attach_fails(&cc, -DMP_E_BADNAME, "name '.x'");
}

Test(consumer_config, rejects_unknown_flags_start_and_wait_kind)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "cc");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    cc.flags = 0x80;
    expect_attach_fails(&cc, -DMP_E_BADCONFIG, "flags 0x80");
    cc = ut_ccfg(&pc, "c0");
    cc.start = (enum dmp_start)7;
    expect_attach_fails(&cc, -DMP_E_BADCONFIG, "start 7");
    cc = ut_ccfg(&pc, "c0");
    cc.wait.kind = (enum dmp_wait_kind)42;
    expect_attach_fails(&cc, -DMP_E_BADCONFIG, "wait.kind 42");
    cr_assert(eq(int, ut_count_consumers(p), 0), "failed attach left a table entry");
    /* and the id is still free for a correct attach */
    cc = ut_ccfg(&pc, "c0");
    struct dmp_consumer *c = ut_attach(&cc);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}
