/* Error codes (error.h): messages and names from the X-macro table for
 * library codes, negated errno values and their positive forms; unknown
 * codes; the thread-local detail of dmp_last_error(). */
#include <limits.h>
#include <pthread.h>

#include "unit.h"

TestSuite(error_codes, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(error_detail, .fini = ut_fini, .timeout = UT_TIMEOUT);

struct expected_code {
  int code;
  const char *name;
  const char *msg;
};

static const struct expected_code library_codes[] = {
#define UT_X(e, name, msg) {e, name, msg},
  DMP_ERROR_TABLE(UT_X)
#undef UT_X
};

Test(error_codes, library_codes_have_their_table_message_negated_or_positive)
{
  for (size_t i = 0; i < sizeof library_codes / sizeof library_codes[0]; i++) {
    const struct expected_code *e = &library_codes[i];
    cr_assert(eq(str, (char *)dmp_strerror(-e->code), (char *)e->msg), "code %d", e->code);
    cr_assert(eq(str, (char *)dmp_strerror(e->code), (char *)e->msg), "positive code %d", e->code);
  }
}

Test(error_codes, library_codes_have_their_table_name_negated_or_positive)
{
  for (size_t i = 0; i < sizeof library_codes / sizeof library_codes[0]; i++) {
    const struct expected_code *e = &library_codes[i];
    cr_assert(eq(str, (char *)dmp_err_name(-e->code), (char *)e->name), "code %d", e->code);
    cr_assert(eq(str, (char *)dmp_err_name(e->code), (char *)e->name), "positive code %d", e->code);
  }
}

Test(error_codes, library_codes_start_at_the_base_and_are_contiguous)
{
  cr_assert(eq(int, DMP_E_BADNAME, DMP_ERR_BASE));
  cr_assert(eq(int, DMP_E_LAST_ - DMP_E_BADNAME, (int)(sizeof library_codes / sizeof library_codes[0])));
}

Test(error_codes, negated_errno_gives_the_c_library_message)
{
  static const int errs[] = {ENOENT, EAGAIN, ETIMEDOUT, EINVAL, ENOSPC, EACCES};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    char want[256];
    snprintf(want, sizeof want, "%s", strerror(errs[i]));
    cr_assert(eq(str, (char *)dmp_strerror(-errs[i]), want), "errno %d", errs[i]);
    cr_assert(eq(str, (char *)dmp_strerror(errs[i]), want), "positive errno %d", errs[i]);
  }
}

Test(error_codes, negated_errno_has_its_symbolic_name)
{
  cr_assert(eq(str, (char *)dmp_err_name(-ENOENT), "ENOENT"));
  cr_assert(eq(str, (char *)dmp_err_name(-EAGAIN), "EAGAIN"));
  cr_assert(eq(str, (char *)dmp_err_name(-ETIMEDOUT), "ETIMEDOUT"));
  cr_assert(eq(str, (char *)dmp_err_name(-EINVAL), "EINVAL"));
  cr_assert(eq(str, (char *)dmp_err_name(ENOENT), "ENOENT"));
}

Test(error_codes, unknown_codes_give_unknown_error_and_never_null)
{
  static const int unknown[] = {DMP_E_LAST_, -DMP_E_LAST_, DMP_ERR_BASE + 1000, -(DMP_ERR_BASE + 1000),
                                INT_MAX, -INT_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *m = dmp_strerror(unknown[i]);
    cr_assert(ne(ptr, (void *)m, NULL), "code %d", unknown[i]);
    cr_assert(eq(str, (char *)m, "unknown error"), "code %d", unknown[i]);
    const char *n = dmp_err_name(unknown[i]);
    cr_assert(ne(ptr, (void *)n, NULL), "code %d", unknown[i]);
    cr_assert(lt(sz, 0, strlen(n)), "empty name for code %d", unknown[i]);
  }
}

/* INT_MIN has no positive form: negating it is undefined behaviour, which
 * only a -fsanitize=undefined build reports (halt_on_error=1 fails it). */
Test(error_codes, int_min_is_an_unknown_code_without_overflow)
{
  cr_assert(eq(str, (char *)dmp_strerror(INT_MIN), "unknown error"));
  const char *n = dmp_err_name(INT_MIN);
  cr_assert(ne(ptr, (void *)n, NULL));
  cr_assert(lt(sz, 0, strlen(n)));
}

Test(error_codes, unknown_code_in_the_errno_range_gives_unknown_error)
{
  /* error.h: "unknown codes give 'unknown error'" - also below DMP_ERR_BASE */
  cr_assert(eq(str, (char *)dmp_strerror(-3000), "unknown error"));
  cr_assert(eq(str, (char *)dmp_strerror(DMP_ERR_BASE - 1), "unknown error"));
}

Test(error_codes, distinct_library_codes_have_distinct_names)
{
  size_t n = sizeof library_codes / sizeof library_codes[0];
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      cr_assert(ne(str, (char *)dmp_err_name(-library_codes[i].code), (char *)dmp_err_name(-library_codes[j].code)));
}

Test(error_detail, is_empty_before_anything_failed)
{
  const char *d = dmp_last_error();
  cr_assert(ne(ptr, (void *)d, NULL));
  cr_assert(eq(str, (char *)d, ""));
}

Test(error_detail, names_the_field_after_a_failing_create)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "err");
    cfg.capacity = 12;
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "%s", ut_backend_name(ut_backends[b]));
    const char *d = dmp_last_error();
    cr_assert(lt(sz, 0, strlen(d)), "empty detail after a failed create");
    cr_assert(ne(ptr, strstr(d, "capacity"), NULL), "detail '%s' does not name the field 'capacity'", d);

    cfg = ut_pcfg(ut_backends[b], "err");
    cfg.slot_size = 0;
    rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, -DMP_E_BADCONFIG));
    d = dmp_last_error();
    cr_assert(ne(ptr, strstr(d, "slot_size"), NULL), "detail '%s' does not name the field 'slot_size'", d);
  }
}

typedef void (*mutate_fn)(struct dmp_producer_config *cfg);
static void bad_align(struct dmp_producer_config *c) { c->slot_align = 3; }
static void bad_table(struct dmp_producer_config *c) { c->max_consumers = DMP_MAX_CONSUMERS + 1; }
static void bad_flags(struct dmp_producer_config *c) { c->flags = 0x10000; }
static void bad_mode(struct dmp_producer_config *c) { c->mode = 0x10000; }

Test(error_detail, names_every_rejected_field)
{
  static const struct {
    mutate_fn mutate;
    const char *field;
  } cases[] = {{bad_align, "slot_align"}, {bad_table, "max_consumers"}, {bad_flags, "flags"}, {bad_mode, "mode"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "err");
    cases[i].mutate(&cfg);
    struct dmp_producer *p = NULL;
    cr_assert(eq(int, dmp_producer_create(&cfg, &p), -DMP_E_BADCONFIG), "%s", cases[i].field);
    const char *d = dmp_last_error();
    cr_assert(ne(ptr, strstr(d, cases[i].field), NULL), "detail '%s' does not name the field '%s'", d,
              cases[i].field);
  }
}

Test(error_detail, names_the_segment_after_a_failing_attach)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "err");
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_assert(eq(int, rc, -ENOENT));
  const char *d = dmp_last_error();
  cr_assert(ne(ptr, strstr(d, pc.name), NULL), "detail '%s' does not name segment '%s'", d, pc.name);
}

static void *fail_in_thread(void *arg)
{
  (void)arg;
  int rc = dmp_name_validate("bad name");
  static char copy[512];
  snprintf(copy, sizeof copy, "%s", dmp_last_error());
  return rc == -DMP_E_BADNAME ? copy : NULL;
}

Test(error_detail, is_thread_local)
{
  pthread_t t;
  cr_assert(eq(int, pthread_create(&t, NULL, fail_in_thread, NULL), 0));
  void *res = NULL;
  pthread_join(t, &res);
  cr_assert(ne(ptr, res, NULL), "dmp_name_validate(\"bad name\") did not fail in the thread");
  cr_assert(lt(sz, 0, strlen(res)), "no detail in the failing thread");
  cr_assert(eq(str, (char *)dmp_last_error(), ""), "the other thread's detail leaked into this one");
}
