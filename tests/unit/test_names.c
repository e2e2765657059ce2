/* Names (name.h): segment name and consumer id validation, and the
 * portable unique-name generator. */
#include <ctype.h>
#include <sys/mman.h>

#include "unit.h"

TestSuite(name_validate, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(id_validate, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(name_portable, .fini = ut_fini, .timeout = UT_TIMEOUT);

static void repeat(char *buf, char ch, size_t n)
{
  memset(buf, ch, n);
  buf[n] = '\0';
}

Test(name_validate, accepts_names_of_the_documented_alphabet)
{
  static const char *ok[] = {"r", "ring0", "Ab9_.-", "a.b", "-x", "_", "/ring0", "/r"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    cr_assert(eq(int, dmp_name_validate(ok[i]), 0), "'%s': %s", ok[i], dmp_last_error());
}

Test(name_validate, accepts_exactly_name_max_characters_with_or_without_slash)
{
  char buf[64];
  repeat(buf, 'a', DMP_NAME_MAX);
  cr_assert(eq(int, dmp_name_validate(buf), 0), "%u chars: %s", DMP_NAME_MAX, dmp_last_error());
  buf[0] = '/';
  repeat(buf + 1, 'a', DMP_NAME_MAX);
  cr_assert(eq(int, dmp_name_validate(buf), 0), "'/' + %u chars: %s", DMP_NAME_MAX, dmp_last_error());
}

Test(name_validate, rejects_one_character_more_than_name_max)
{
  char buf[64];
  repeat(buf, 'a', DMP_NAME_MAX + 1);
  cr_assert(eq(int, dmp_name_validate(buf), -DMP_E_BADNAME));
  buf[0] = '/';
  repeat(buf + 1, 'a', DMP_NAME_MAX + 1);
  cr_assert(eq(int, dmp_name_validate(buf), -DMP_E_BADNAME));
}

Test(name_validate, rejects_empty_names)
{
  cr_assert(eq(int, dmp_name_validate(""), -DMP_E_BADNAME));
  cr_assert(eq(int, dmp_name_validate("/"), -DMP_E_BADNAME));
}

Test(name_validate, rejects_characters_outside_the_alphabet)
{
  static const char *bad[] = {"a b", "a/b", "ring:0", "r\n", "r\t", "caf\xc3\xa9", "a*", "a\\b", "a%b", "~r"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert(eq(int, dmp_name_validate(bad[i]), -DMP_E_BADNAME), "'%s' accepted", bad[i]);
}

Test(name_validate, rejects_a_leading_dot_and_a_second_slash)
{
  static const char *bad[] = {".hidden", "/.hidden", ".", "..", "/..", "//ring", "/ring/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert(eq(int, dmp_name_validate(bad[i]), -DMP_E_BADNAME), "'%s' accepted", bad[i]);
}

Test(name_validate, explains_the_rejection)
{
  cr_assert(eq(int, dmp_name_validate("a b"), -DMP_E_BADNAME));
  cr_assert(lt(sz, 0, strlen(dmp_last_error())), "no detail for a rejected name");
}

Test(name_validate, rejects_null_with_einval)
{
  cr_assert(eq(int, dmp_name_validate(NULL), -EINVAL));
}

Test(id_validate, accepts_one_to_31_characters_of_the_alphabet)
{
  char buf[64];
  cr_assert(eq(int, dmp_id_validate("w0"), 0), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_id_validate("A-z_0.9"), 0), "%s", dmp_last_error());
  repeat(buf, 'x', DMP_ID_MAX);
  cr_assert(eq(int, dmp_id_validate(buf), 0), "%u chars: %s", DMP_ID_MAX, dmp_last_error());
}

Test(id_validate, rejects_empty_too_long_and_bad_characters)
{
  char buf[64];
  repeat(buf, 'x', DMP_ID_MAX + 1);
  cr_assert(eq(int, dmp_id_validate(buf), -DMP_E_BADNAME), "%u chars accepted", DMP_ID_MAX + 1);
  cr_assert(eq(int, dmp_id_validate(""), -DMP_E_BADNAME));
  static const char *bad[] = {"a b", "a/b", "/a", "id:1", "i\n", "\xff"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert(eq(int, dmp_id_validate(bad[i]), -DMP_E_BADNAME), "'%s' accepted", bad[i]);
}

Test(id_validate, rejects_null_with_einval)
{
  cr_assert(eq(int, dmp_id_validate(NULL), -EINVAL));
}

static void assert_portable(const char *out, int rc, const char *want_prefix)
{
  size_t plen = strlen(want_prefix);
  cr_assert(eq(int, rc, (int)strlen(out)), "returned length differs from the string's");
  cr_assert(eq(sz, strlen(out), plen + 8), "'%s': want %zu-char prefix + 8 random", out, plen);
  cr_assert(le(sz, strlen(out), DMP_PORTABLE_NAME_MAX));
  cr_assert(eq(int, strncmp(out, want_prefix, plen), 0), "'%s' does not start with '%s'", out, want_prefix);
  for (const char *s = out + plen; *s; s++) {
    bool base36 = isdigit((unsigned char)*s) || islower((unsigned char)*s);
    cr_assert(base36, "'%s': '%c' is not a base-36 digit", out, *s);
  }
  cr_assert(eq(int, dmp_name_validate(out), 0), "'%s' fails dmp_name_validate: %s", out, dmp_last_error());
}

Test(name_portable, uses_d_without_a_prefix)
{
  char out[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable(NULL, out, sizeof out);
  assert_portable(out, rc, "d");
  rc = dmp_name_portable("", out, sizeof out);
  assert_portable(out, rc, "d");
}

Test(name_portable, uses_d_when_the_prefix_has_no_alphanumerics)
{
  char out[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("---", out, sizeof out);
  assert_portable(out, rc, "d");
}

Test(name_portable, lowercases_and_truncates_the_prefix_to_six)
{
  char out[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("MyRingName42", out, sizeof out);
  assert_portable(out, rc, "myring");
  rc = dmp_name_portable("ab", out, sizeof out);
  assert_portable(out, rc, "ab");
}

Test(name_portable, two_calls_give_different_names)
{
  char a[DMP_PORTABLE_NAME_MAX + 1], b[DMP_PORTABLE_NAME_MAX + 1];
  cr_assert(lt(int, 0, dmp_name_portable("x", a, sizeof a)));
  cr_assert(lt(int, 0, dmp_name_portable("x", b, sizeof b)));
  cr_assert(ne(str, a, b));
}

Test(name_portable, reports_enospc_when_the_buffer_is_one_byte_short)
{
  char out[DMP_PORTABLE_NAME_MAX + 1];
  cr_assert(eq(int, dmp_name_portable("p", out, DMP_PORTABLE_NAME_MAX), -ENOSPC));
  cr_assert(eq(int, dmp_name_portable("p", out, 0), -ENOSPC));
  cr_assert(lt(int, 0, dmp_name_portable("p", out, DMP_PORTABLE_NAME_MAX + 1)));
}

Test(name_portable, rejects_a_null_buffer)
{
  cr_assert(eq(int, dmp_name_portable("p", NULL, 32), -EINVAL));
}

static char portable_name[DMP_PORTABLE_NAME_MAX + 2];

static void unlink_portable(void)
{
  if (portable_name[0]) {
    char path[64];
    snprintf(path, sizeof path, "/%s", portable_name);
    shm_unlink(path);
  }
  ut_fini();
}

Test(name_portable, names_create_a_ring, .fini = unlink_portable)
{
  cr_assert(lt(int, 0, dmp_name_portable("ut", portable_name, DMP_PORTABLE_NAME_MAX + 1)));
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = portable_name;
  cfg.capacity = 4;
  cfg.slot_size = 8;
  struct dmp_producer *p = ut_create(&cfg);
  cr_assert(ut_seg_exists(DMP_BACKEND_SHM, portable_name), "no /dev/shm/%s", portable_name);
  dmp_producer_close(p);
  cr_assert(not(ut_seg_exists(DMP_BACKEND_SHM, portable_name)), "segment '%s' left behind", portable_name);
}
