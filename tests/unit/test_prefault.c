/* Prefaulting (config.h, DMP_RING_PREFAULT and DMP_CONSUMER_PREFAULT): the
 * ring's pages are in this process's page tables after create / attach,
 * so the first lap over the ring takes no page faults.
 *
 * Measured with the calling thread's minor-fault count (getrusage
 * RUSAGE_THREAD), which the kernel keeps exactly: each case runs once
 * without the flag as a control (one fault per page written; per group of
 * pages read, as the kernel maps neighbours of a read fault too), so the
 * test would fail if the flag did nothing. Skipped under ASan and TSan
 * (their shadow memory faults on the same thread when the ring is first
 * touched) and not run under valgrind (.ci/sanitize) for the same reason. */
#include "unit.h"

#include <sys/resource.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PF_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PF_SANITIZED 1
#endif

static void skip_if_sanitized(void)
{
#ifdef PF_SANITIZED
  cr_skip_test("sanitizer shadow memory takes its own page faults on this thread");
#endif
}

TestSuite(prefault, .fini = ut_fini, .timeout = UT_TIMEOUT);

#define PF_SLOTS 1024u  /* 4 MiB of slots: 1024 pages */
#define PF_SLOT 4096u

static long minor_faults(void)
{
  struct rusage ru;
  cr_assert(eq(int, getrusage(RUSAGE_THREAD, &ru), 0));
  return ru.ru_minflt;
}

static struct dmp_producer_config pf_cfg(enum dmp_backend b, uint32_t flags)
{
  struct dmp_producer_config pc = ut_pcfg(b, "pf");
  pc.capacity = PF_SLOTS;
  pc.slot_size = PF_SLOT;
  pc.flags = flags | DMP_RING_NO_COUNTERS;
  return pc;
}

/* Faults taken while publishing one full lap (every slot written once). */
static long producer_lap_faults(enum dmp_backend b, uint32_t flags)
{
  struct dmp_producer_config pc = pf_cfg(b, flags);
  struct dmp_producer *p = ut_create(&pc);
  static uint8_t buf[PF_SLOT];
  memset(buf, 0x5a, sizeof buf);
  long before = minor_faults();
  for (uint32_t i = 0; i < PF_SLOTS; i++)
    cr_assert(le(i64, 0, dmp_producer_try_publish(p, buf, sizeof buf)), "publish %u", i);
  long faults = minor_faults() - before;
  dmp_producer_close(p);
  return faults;
}

Test(prefault, a_prefaulted_producer_writes_its_first_lap_without_faults)
{
  skip_if_sanitized();
  for (int b = 0; b < UT_NBACKENDS; b++) {
    long plain = producer_lap_faults(ut_backends[b], 0);
    long pre = producer_lap_faults(ut_backends[b], DMP_RING_PREFAULT);
    cr_assert(le(long, (long)PF_SLOTS / 2, plain), "%s control: %ld faults for %u fresh pages",
              ut_backend_name(ut_backends[b]), plain, PF_SLOTS);
    cr_assert(lt(long, pre, 16), "%s: %ld faults after DMP_RING_PREFAULT (control: %ld)",
              ut_backend_name(ut_backends[b]), pre, plain);
  }
}

/* Faults taken while a consumer attached with `flags` reads one full lap. */
static long consumer_lap_faults(enum dmp_backend b, uint32_t flags)
{
  struct dmp_producer_config pc = pf_cfg(b, 0);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  cc.flags = flags | DMP_CONSUMER_NO_COUNTERS;
  struct dmp_consumer *c = ut_attach(&cc);
  static uint8_t buf[PF_SLOT];
  for (uint32_t i = 0; i < PF_SLOTS; i++)
    cr_assert(le(i64, 0, dmp_producer_try_publish(p, buf, sizeof buf)), "publish %u", i);
  long before = minor_faults();
  uint64_t sum = 0;
  for (uint32_t i = 0; i < PF_SLOTS; i++) {
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), 0), "peek %u", i);
    sum += *(const volatile uint8_t *)ev;
    dmp_consumer_release(c);
  }
  long faults = minor_faults() - before;
  cr_assert(eq(u64, sum, 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);
  return faults;
}

Test(prefault, a_prefaulted_consumer_reads_its_first_lap_without_faults)
{
  skip_if_sanitized();
  for (int b = 0; b < UT_NBACKENDS; b++) {
    long plain = consumer_lap_faults(ut_backends[b], 0);
    long pre = consumer_lap_faults(ut_backends[b], DMP_CONSUMER_PREFAULT);
    cr_assert(le(long, 32, plain), "%s control: %ld faults reading %u fresh pages",
              ut_backend_name(ut_backends[b]), plain, PF_SLOTS);
    cr_assert(lt(long, pre, 8), "%s: %ld faults after DMP_CONSUMER_PREFAULT (control: %ld)",
              ut_backend_name(ut_backends[b]), pre, plain);
  }
}

Test(prefault, unknown_flags_next_to_prefault_are_still_refused)
{
  struct dmp_producer_config pc = pf_cfg(DMP_BACKEND_SHM, DMP_RING_PREFAULT | 0x80000000u);
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), -DMP_E_BADCONFIG));
  cr_assert(eq(ptr, p, NULL));
}
