/* Environment tunables (env.h): each variable changes the default it is
 * documented to change, what a configuration sets wins, and every bad
 * value of every variable makes dmp_env_check(), dmp_producer_create(),
 * dmp_consumer_attach() and dmp_processor_start() fail with
 * -DMP_E_BADCONFIG and a detail naming the variable. */
#include "proc.h"

TestSuite(env, .fini = proc_fini, .timeout = 60);

static const char *const all_vars[] = {
  DMP_ENV_WAIT, DMP_ENV_WAIT_SPINS, DMP_ENV_WAIT_SLEEP_NS, DMP_ENV_WAIT_LIVENESS_MS, DMP_ENV_DISCOVERY_POLL_MS,
  DMP_ENV_PRODUCER_CPUS, DMP_ENV_CONSUMER_CPUS, DMP_ENV_PROCESSOR_CPUS, DMP_ENV_PROCESS_CPUS,
};

static void clear_env(void)
{
  for (size_t i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
    unsetenv(all_vars[i]);
}

static int nop(const void *ev, int64_t seq, bool eob, void *user)
{
  (void)ev, (void)seq, (void)eob, (void)user;
  return 0;
}

static const struct {
  const char *var, *value;
} bad[] = {
  {DMP_ENV_WAIT, "Block"}, {DMP_ENV_WAIT, "fast"}, {DMP_ENV_WAIT, " spin"}, {DMP_ENV_WAIT, "sleep "},
  {DMP_ENV_WAIT, "0"},
  {DMP_ENV_WAIT_SPINS, "0"}, {DMP_ENV_WAIT_SPINS, "-1"}, {DMP_ENV_WAIT_SPINS, "+5"}, {DMP_ENV_WAIT_SPINS, "12x"},
  {DMP_ENV_WAIT_SPINS, "0x10"}, {DMP_ENV_WAIT_SPINS, "1000001"}, {DMP_ENV_WAIT_SPINS, "99999999999"},
  {DMP_ENV_WAIT_SPINS, " 7"},
  {DMP_ENV_WAIT_SLEEP_NS, "0"}, {DMP_ENV_WAIT_SLEEP_NS, "1000000001"}, {DMP_ENV_WAIT_SLEEP_NS, "1e3"},
  {DMP_ENV_WAIT_SLEEP_NS, "50us"},
  {DMP_ENV_WAIT_LIVENESS_MS, "0"}, {DMP_ENV_WAIT_LIVENESS_MS, "3600001"}, {DMP_ENV_WAIT_LIVENESS_MS, "ten"},
  {DMP_ENV_WAIT_LIVENESS_MS, "2.5"},
  {DMP_ENV_DISCOVERY_POLL_MS, "0"}, {DMP_ENV_DISCOVERY_POLL_MS, "10001"}, {DMP_ENV_DISCOVERY_POLL_MS, "5ms"},
  {DMP_ENV_PRODUCER_CPUS, "x"}, {DMP_ENV_PRODUCER_CPUS, "1-0"}, {DMP_ENV_PRODUCER_CPUS, "1024"},
  {DMP_ENV_CONSUMER_CPUS, "0,,1"}, {DMP_ENV_CONSUMER_CPUS, "-"},
  {DMP_ENV_PROCESSOR_CPUS, "0 1"}, {DMP_ENV_PROCESSOR_CPUS, "1,"},
  {DMP_ENV_PROCESS_CPUS, "all"}, {DMP_ENV_PROCESS_CPUS, "0-"},
};

static void assert_names(int rc, const char *call, const char *var, const char *value)
{
  cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "%s with %s='%s': %s (%s)", call, var, value, dmp_err_name(rc),
            dmp_last_error());
  char want[96];
  snprintf(want, sizeof want, "%s='%s'", var, value);
  cr_assert(is(strstr(dmp_last_error(), want) != NULL), "%s: detail '%s' does not name %s", call, dmp_last_error(), want);
}

Test(env, every_bad_value_of_every_variable_is_an_error_naming_it)
{
  clear_env();
  const char *name = ts_shm_name("ebad");
  struct dmp_producer *ring = proc_ring(name, 16); /* created before the variables go bad */
  bool covered[sizeof all_vars / sizeof all_vars[0]] = {false};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *var = bad[i].var, *value = bad[i].value;
    for (size_t j = 0; j < sizeof all_vars / sizeof all_vars[0]; j++)
      covered[j] |= strcmp(all_vars[j], var) == 0;
    setenv(var, value, 1);
    assert_names(dmp_env_check(), "dmp_env_check", var, value);

    struct dmp_producer_config pc;
    dmp_producer_config_init(&pc); /* cannot fail: the create reports the variable */
    pc.name = ts_shm_name("ebadp");
    pc.capacity = 16;
    pc.slot_size = 16;
    struct dmp_producer *p = NULL;
    assert_names(dmp_producer_create(&pc, &p), "dmp_producer_create", var, value);
    cr_assert(p == NULL);

    struct dmp_consumer_config cc;
    dmp_consumer_config_init(&cc);
    cc.name = name;
    cc.id = "envc";
    struct dmp_consumer *c = NULL;
    assert_names(dmp_consumer_attach(&cc, &c), "dmp_consumer_attach", var, value);
    assert_names(dmp_consumer_attach_timeout(&cc, 10 * MS, &c), "dmp_consumer_attach_timeout", var, value);
    cr_assert(c == NULL);

    struct dmp_processor_config xc;
    dmp_processor_config_init(&xc);
    xc.consumer.name = name;
    xc.consumer.id = "envp";
    xc.fn = nop;
    struct dmp_processor *x = NULL;
    assert_names(dmp_processor_start(&xc, &x), "dmp_processor_start", var, value);
    cr_assert(x == NULL);
    unsetenv(var);
    cr_assert(eq(int, dmp_env_check(), 0), "%s", dmp_last_error());
    /* Nothing was created under the producer's name. */
    cc.name = pc.name;
    cr_assert(eq(int, dmp_consumer_attach(&cc, &c), -ENOENT));
  }
  for (size_t j = 0; j < sizeof all_vars / sizeof all_vars[0]; j++)
    cr_assert(covered[j], "no bad value tried for %s", all_vars[j]);
  dmp_producer_close(ring);
}

Test(env, good_values_set_the_defaults_and_the_configuration_wins)
{
  clear_env();
  /* Good values of every kind pass; empty counts as unset. */
  setenv(DMP_ENV_WAIT, "", 1);
  setenv(DMP_ENV_PROCESS_CPUS, "", 1);
  cr_assert(eq(int, dmp_env_check(), 0), "%s", dmp_last_error());
  static const char *const kinds[] = {"block", "spin", "yield", "sleep"};
  static const enum dmp_wait_kind want[] = {DMP_WAIT_BLOCK, DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP};
  for (int i = 0; i < 4; i++) {
    setenv(DMP_ENV_WAIT, kinds[i], 1);
    struct dmp_producer_config pc;
    struct dmp_consumer_config cc;
    struct dmp_processor_config xc;
    dmp_producer_config_init(&pc);
    dmp_consumer_config_init(&cc);
    dmp_processor_config_init(&xc);
    cr_assert(eq(int, pc.wait.kind, want[i]), "DMP_WAIT=%s (producer)", kinds[i]);
    cr_assert(eq(int, cc.wait.kind, want[i]), "DMP_WAIT=%s (consumer)", kinds[i]);
    cr_assert(eq(int, xc.consumer.wait.kind, want[i]), "DMP_WAIT=%s (processor)", kinds[i]);
  }
  setenv(DMP_ENV_WAIT, "sleep", 1);
  setenv(DMP_ENV_WAIT_SPINS, "7", 1);
  setenv(DMP_ENV_WAIT_SLEEP_NS, "1000", 1);
  setenv(DMP_ENV_WAIT_LIVENESS_MS, "20", 1);
  setenv(DMP_ENV_DISCOVERY_POLL_MS, "1", 1);
  cr_assert(eq(int, dmp_env_check(), 0), "%s", dmp_last_error());
  const char *name = ts_shm_name("egood");
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 16;
  pc.slot_size = 16;
  struct dmp_producer *p;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  cr_assert(eq(int, p->cfg.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(u32, p->cfg.wait.spins, 7));
  cr_assert(eq(u32, p->cfg.wait.sleep_ns, 1000));
  cr_assert(eq(u32, p->cfg.wait.liveness_ms, 20));

  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "g1";
  struct dmp_consumer *c;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "%s", dmp_last_error());
  cr_assert(eq(int, c->cfg.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(u32, c->cfg.wait.spins, 7));
  cr_assert(eq(u32, c->cfg.wait.sleep_ns, 1000));
  cr_assert(eq(u32, c->cfg.wait.liveness_ms, 20));
  dmp_consumer_close_forget(c);

  /* What the configuration sets wins over the environment. */
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "g2";
  cc.wait.kind = DMP_WAIT_YIELD;
  cc.wait.spins = 9;
  cc.wait.sleep_ns = 2000;
  cc.wait.liveness_ms = 30;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "%s", dmp_last_error());
  cr_assert(eq(int, c->cfg.wait.kind, DMP_WAIT_YIELD));
  cr_assert(eq(u32, c->cfg.wait.spins, 9));
  cr_assert(eq(u32, c->cfg.wait.sleep_ns, 2000));
  cr_assert(eq(u32, c->cfg.wait.liveness_ms, 30));
  dmp_consumer_close_forget(c);
  dmp_producer_close(p);

  /* Unset: the compiled defaults. */
  clear_env();
  dmp_consumer_config_init(&cc);
  cr_assert(eq(int, cc.wait.kind, DMP_WAIT_BLOCK));
}

Test(env, discovery_poll_sets_the_retry_period_of_attach_timeout)
{
  clear_env();
  /* With a 1500 ms poll, an attach_timeout of 100 ms to a missing ring
   * sleeps one poll before it gives up: it cannot return sooner (a sleep
   * is never shorter), where the 1 ms default returns after ~100 ms. */
  setenv(DMP_ENV_DISCOVERY_POLL_MS, "1500", 1);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = ts_shm_name("epoll");
  cc.id = "poll";
  struct dmp_consumer *c;
  int64_t t0 = ts_now_ns();
  cr_assert(eq(int, dmp_consumer_attach_timeout(&cc, 100 * MS, &c), -ETIMEDOUT));
  int64_t took = ts_now_ns() - t0;
  cr_assert(took >= 1500 * MS, "returned after %lld ms, before one 1500 ms poll", (long long)(took / MS));
}
