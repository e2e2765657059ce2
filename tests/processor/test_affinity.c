/* CPU pinning of the roles (affinity.h): the producer's and the consumer's
 * calling thread and the processor's thread run where their configuration,
 * else their role's variable, else DMP_PROCESS_CPUS says; a CPU list that
 * does not parse, or names a CPU this thread may not use, is refused with
 * the field or variable named and nothing changed or created. */
#include "proc.h"

#include <stdatomic.h>

TestSuite(affinity, .fini = proc_fini, .timeout = 60);

static cpu_set_t all_cpus;

/* Criterion runs each test in a fresh process; each test starts from the
 * affinity it was given and puts the thread back between cases. */
static void need_two_cpus(void)
{
  all_cpus = proc_affinity();
  if (!CPU_ISSET(0, &all_cpus) || !CPU_ISSET(1, &all_cpus))
    cr_skip_test("needs CPUs 0 and 1");
  unsetenv(DMP_ENV_PRODUCER_CPUS);
  unsetenv(DMP_ENV_CONSUMER_CPUS);
  unsetenv(DMP_ENV_PROCESSOR_CPUS);
  unsetenv(DMP_ENV_PROCESS_CPUS);
}

static void reset(void)
{
  cr_assert(sched_setaffinity(0, sizeof all_cpus, &all_cpus) == 0);
}

static void assert_on(int cpu, const char *what)
{
  cpu_set_t now = proc_affinity(), one = proc_one(cpu);
  cr_assert(is(CPU_EQUAL(&now, &one)), "%s: expected CPU %d only (%d CPUs in the mask)", what, cpu, CPU_COUNT(&now));
  cr_assert(eq(int, sched_getcpu(), cpu), "%s: running on CPU %d", what, sched_getcpu());
}

/* Create a producer with `cpus`, note where the thread ended up, close. */
static cpu_set_t producer_mask(const char *cpus)
{
  reset();
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = ts_shm_name("aprod");
  pc.capacity = 16;
  pc.slot_size = 16;
  pc.cpus = cpus;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&pc, &p);
  cr_assert(rc == 0, "%s (%s)", dmp_strerror(rc), dmp_last_error());
  cpu_set_t m = proc_affinity();
  dmp_producer_close(p);
  return m;
}

static cpu_set_t consumer_mask(struct dmp_producer *ring, const char *cpus)
{
  reset();
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = dmp_producer_name(ring);
  cc.id = "aff";
  cc.cpus = cpus;
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_assert(rc == 0, "%s (%s)", dmp_strerror(rc), dmp_last_error());
  cpu_set_t m = proc_affinity();
  dmp_consumer_close_forget(c);
  return m;
}

struct seen {
  _Atomic int done;
  cpu_set_t mask;
};

static int note_mask(const void *ev, int64_t seq, bool eob, void *user)
{
  (void)ev, (void)seq, (void)eob;
  struct seen *s = user;
  sched_getaffinity(0, sizeof s->mask, &s->mask);
  atomic_store(&s->done, 1);
  return 1; /* one event is enough */
}

static cpu_set_t processor_mask(struct dmp_producer *ring, const char *cpus)
{
  reset();
  struct seen s = {0};
  struct dmp_processor_config pc;
  dmp_processor_config_init(&pc);
  pc.consumer.name = dmp_producer_name(ring);
  pc.consumer.id = "affp";
  pc.fn = note_mask;
  pc.user = &s;
  pc.cpus = cpus;
  struct dmp_processor *p;
  int rc = dmp_processor_start(&pc, &p);
  cr_assert(rc == 0, "%s (%s)", dmp_strerror(rc), dmp_last_error());
  int64_t next = 0;
  proc_publish(ring, &next, 1);
  cr_assert(eq(int, dmp_processor_join(p, (int64_t)ts_timeout_ms(20000) * MS), 0));
  cr_assert(is(atomic_load(&s.done)));
  dmp_processor_close(p);
  return s.mask;
}

#define ASSERT_MASK(m, cpu, what)                                                          \
  do {                                                                                      \
    cpu_set_t m_ = (m), w_ = proc_one(cpu);                                                 \
    cr_assert(is(CPU_EQUAL(&m_, &w_)), "%s: not CPU %d only (%d CPUs)", what, cpu, CPU_COUNT(&m_)); \
  } while (0)
#define ASSERT_UNPINNED(m, what)                                                           \
  do {                                                                                      \
    cpu_set_t m_ = (m);                                                                     \
    cr_assert(is(CPU_EQUAL(&m_, &all_cpus)), "%s: pinned (%d CPUs)", what, CPU_COUNT(&m_));    \
  } while (0)

Test(affinity, producer_and_consumer_pin_the_calling_thread)
{
  need_two_cpus();
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = ts_shm_name("apc");
  pc.capacity = 16;
  pc.slot_size = 16;
  pc.cpus = "1";
  struct dmp_producer *p;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  assert_on(1, "producer");
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = pc.name;
  cc.id = "c0";
  cc.cpus = "0";
  struct dmp_consumer *c;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "%s", dmp_last_error());
  assert_on(0, "consumer");
  dmp_consumer_close(c);
  dmp_producer_close(p);
  /* A list: "0-1" is both. */
  cpu_set_t m = producer_mask("0-1");
  cr_assert(is(CPU_ISSET(0, &m) && CPU_ISSET(1, &m) && CPU_COUNT(&m) == 2));
  m = producer_mask("1,0");
  cr_assert(is(CPU_COUNT(&m) == 2));
  ASSERT_UNPINNED(producer_mask(NULL), "no cpus, no variable");
}

Test(affinity, precedence_is_config_then_role_variable_then_process_variable)
{
  need_two_cpus();
  /* producer */
  setenv(DMP_ENV_PROCESS_CPUS, "0", 1);
  ASSERT_MASK(producer_mask(NULL), 0, "producer, DMP_PROCESS_CPUS only");
  setenv(DMP_ENV_PRODUCER_CPUS, "1", 1);
  ASSERT_MASK(producer_mask(NULL), 1, "producer, role variable over process variable");
  ASSERT_MASK(producer_mask("0"), 0, "producer, config over both");
  setenv(DMP_ENV_PRODUCER_CPUS, "", 1); /* empty counts as unset */
  ASSERT_MASK(producer_mask(NULL), 0, "producer, empty role variable");
  unsetenv(DMP_ENV_PROCESS_CPUS);
  unsetenv(DMP_ENV_PRODUCER_CPUS);

  struct dmp_producer *ring = proc_ring(ts_shm_name("aring"), 16);
  /* consumer */
  setenv(DMP_ENV_PROCESS_CPUS, "1", 1);
  ASSERT_MASK(consumer_mask(ring, NULL), 1, "consumer, DMP_PROCESS_CPUS only");
  setenv(DMP_ENV_CONSUMER_CPUS, "0", 1);
  ASSERT_MASK(consumer_mask(ring, NULL), 0, "consumer, role variable");
  ASSERT_MASK(consumer_mask(ring, "1"), 1, "consumer, config");
  setenv(DMP_ENV_PRODUCER_CPUS, "1", 1);
  ASSERT_MASK(consumer_mask(ring, NULL), 0, "consumer ignores the producer's variable");
  unsetenv(DMP_ENV_PRODUCER_CPUS);
  unsetenv(DMP_ENV_PROCESS_CPUS);

  /* processor: DMP_CONSUMER_CPUS=0 stays set throughout and never applies */
  ASSERT_UNPINNED(processor_mask(ring, NULL), "processor, only DMP_CONSUMER_CPUS set");
  setenv(DMP_ENV_PROCESS_CPUS, "1", 1);
  ASSERT_MASK(processor_mask(ring, NULL), 1, "processor, DMP_PROCESS_CPUS");
  setenv(DMP_ENV_PROCESSOR_CPUS, "0", 1);
  setenv(DMP_ENV_PROCESS_CPUS, "1", 1);
  ASSERT_MASK(processor_mask(ring, NULL), 0, "processor, role variable");
  ASSERT_MASK(processor_mask(ring, "1"), 1, "processor, config");
  dmp_producer_close(ring);
}

/* Each refused list: the error names the source and the value, the
 * thread's affinity is unchanged, and no segment was created. */
static void refused_producer(const char *cpus, const char *var, const char *value, const char *named)
{
  reset();
  if (var)
    setenv(var, value, 1);
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = ts_shm_name("abad");
  pc.capacity = 16;
  pc.slot_size = 16;
  pc.cpus = cpus;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&pc, &p);
  cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "'%s': %s (%s)", cpus ? cpus : value, dmp_err_name(rc),
            dmp_last_error());
  cr_assert(p == NULL);
  cr_assert(is(strstr(dmp_last_error(), named) != NULL), "detail '%s' does not name '%s'", dmp_last_error(), named);
  ASSERT_UNPINNED(proc_affinity(), "a refused list changes nothing");
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = pc.name;
  cc.id = "x";
  struct dmp_consumer *c = NULL;
  if (var)
    unsetenv(var);
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), -ENOENT), "nothing was created (%s)", dmp_last_error());
}

Test(affinity, invalid_or_disallowed_cpus_are_refused_naming_the_source)
{
  need_two_cpus();
  static const char *const syntax[] = {"", "a", "1-0", "-1", "0,", ",0", " 1", "1 ", "0x1", "1024", "0-1024",
                                       "+1", "0,,1", "1;2", "99999999999999999999"};
  for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "cpus='%s'", syntax[i]);
    refused_producer(syntax[i], NULL, NULL, want);
  }
  int off = proc_disallowed_cpu(&all_cpus);
  cr_assert(off > 0, "some CPU below 1024 is not ours");
  char one[16], mixed[32];
  snprintf(one, sizeof one, "%d", off);
  snprintf(mixed, sizeof mixed, "0,%d", off); /* the kernel would drop it silently: we do not */
  refused_producer(one, NULL, NULL, "available to this thread");
  refused_producer(mixed, NULL, NULL, mixed);
  char cpu_named[32];
  snprintf(cpu_named, sizeof cpu_named, "CPU %d", off);
  refused_producer(mixed, NULL, NULL, cpu_named);
  /* The same through the variables. */
  refused_producer(NULL, DMP_ENV_PRODUCER_CPUS, one, DMP_ENV_PRODUCER_CPUS);
  refused_producer(NULL, DMP_ENV_PROCESS_CPUS, mixed, DMP_ENV_PROCESS_CPUS);
  refused_producer(NULL, DMP_ENV_PRODUCER_CPUS, "1-0", DMP_ENV_PRODUCER_CPUS);
  /* dmp_affinity_apply(), for threads of the program's own. */
  cr_assert(eq(int, dmp_affinity_apply(NULL, NULL), -EINVAL));
  cr_assert(eq(int, dmp_affinity_apply(one, "MY_CPU"), -DMP_E_BADCONFIG));
  cr_assert(is(strstr(dmp_last_error(), "MY_CPU") != NULL), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_affinity_apply("1", NULL), 0));
  assert_on(1, "dmp_affinity_apply");
  cr_assert(eq(int, dmp_affinity_pin_role((enum dmp_role)7, NULL), -EINVAL));
  cr_assert(eq(str, (char *)dmp_affinity_role_variable(DMP_ROLE_PROCESSOR), "DMP_PROCESSOR_CPUS"));
  cr_assert(dmp_affinity_role_variable((enum dmp_role)7) == NULL);
  reset();
  cr_assert(eq(int, dmp_affinity_pin_role(DMP_ROLE_CONSUMER, NULL), 0), "nothing set: 0");
  setenv(DMP_ENV_CONSUMER_CPUS, "0", 1);
  cr_assert(eq(int, dmp_affinity_pin_role(DMP_ROLE_CONSUMER, NULL), 1), "pinned: 1");
  assert_on(0, "dmp_affinity_pin_role");
}
