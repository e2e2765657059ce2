/* The tools' shared helpers (disruptor-mp/tools/common): one strict
 * decimal number parser for every tool (no octal, hex, sign, white space or
 * exponent; overflow refused), and the latency histogram every tool reports
 * percentiles from. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdint.h>

#include "tool_cli.h"
#include "tool_clock.h"
#include "tool_hist.h"
#include "tool_parse.h"

TestSuite(tool_parse, .timeout = 10);
TestSuite(tool_hist, .timeout = 10);
TestSuite(tool_clock, .timeout = 10);
TestSuite(tool_cli, .timeout = 10);

Test(tool_parse, counts_are_decimal_even_with_a_leading_zero)
{
  uint64_t v = 0;
  cr_assert(tool_parse_u64("010", &v));
  cr_assert(eq(u64, v, 10), "'010' is ten, not octal 8");
  cr_assert(tool_parse_u64("0", &v));
  cr_assert(eq(u64, v, 0));
  cr_assert(tool_parse_u64("18446744073709551615", &v));
  cr_assert(eq(u64, v, UINT64_MAX));
}

Test(tool_parse, anything_but_digits_is_refused_and_leaves_the_value_alone)
{
  static const char *const bad[] = {"",    "0x10", "-1",   "+1",  " 1",   "1 ",  "1e3", "1.0",
                                    "12k", "abc",  "18446744073709551616", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v = 77;
    cr_assert(not(tool_parse_u64(bad[i], &v)), "'%s' accepted as %llu", bad[i], (unsigned long long)v);
    cr_assert(eq(u64, v, 77), "'%s' changed the value", bad[i]);
  }
  uint64_t v = 77;
  cr_assert(not(tool_parse_u64(NULL, &v)));
}

Test(tool_parse, sizes_take_one_binary_suffix)
{
  static const struct {
    const char *s;
    uint64_t v;
  } ok[] = {{"4096", 4096}, {"64K", 65536}, {"64k", 65536}, {"16m", 16u << 20}, {"2G", UINT64_C(2) << 30},
            {"1T", UINT64_C(1) << 40}, {"010K", 10240}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    uint64_t v = 0;
    cr_assert(tool_parse_size(ok[i].s, &v), "'%s' refused", ok[i].s);
    cr_assert(eq(u64, v, ok[i].v), "'%s'", ok[i].s);
  }
  static const char *const bad[] = {"K", "1KB", "1Ki", "1X", "-1K", "0x1K", "16777216T", "1.5K"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v = 77;
    cr_assert(not(tool_parse_size(bad[i], &v)), "'%s' accepted", bad[i]);
  }
}

Test(tool_parse, seconds_and_decimals_are_plain_fixed_point)
{
  int64_t ns = 0;
  cr_assert(tool_parse_seconds("2", &ns));
  cr_assert(eq(i64, ns, INT64_C(2000000000)));
  cr_assert(tool_parse_seconds("0.25", &ns));
  cr_assert(eq(i64, ns, INT64_C(250000000)));
  cr_assert(tool_parse_seconds("0.000000001", &ns));
  cr_assert(eq(i64, ns, 1));
  double d = 0;
  cr_assert(tool_parse_decimal("1.5", &d));
  cr_assert(eq(dbl, d, 1.5));
  static const char *const bad[] = {"", ".5", "5.", "-1", "1e3", "inf", "nan", "0x1p3", " 1", "1s", "2000000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ns = 77;
    cr_assert(not(tool_parse_seconds(bad[i], &ns)), "'%s' accepted as %lld ns", bad[i], (long long)ns);
    cr_assert(eq(i64, ns, 77));
  }
}

Test(tool_parse, choices_are_matched_exactly)
{
  static const char *const names[] = {"block", "spin", "yield"};
  cr_assert(eq(int, tool_parse_choice("spin", names, 3), 1));
  cr_assert(eq(int, tool_parse_choice("Spin", names, 3), -1));
  cr_assert(eq(int, tool_parse_choice("spi", names, 3), -1));
  cr_assert(eq(int, tool_parse_choice(NULL, names, 3), -1));
}

Test(tool_hist, percentiles_stay_within_three_significant_digits)
{
  static struct tool_hist h;
  tool_hist_init(&h);
  for (uint64_t v = 1; v <= 100000; v++)
    tool_hist_record(&h, v * 1000); /* 1 us .. 100 ms in ns */
  cr_assert(eq(u64, h.count, 100000));
  cr_assert(eq(u64, h.min, 1000));
  cr_assert(eq(u64, h.max, 100000000));
  static const double p[] = {50, 90, 99, 99.9};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
    double want = p[i] / 100.0 * 100000 * 1000;
    double got = (double)tool_hist_percentile(&h, p[i]);
    cr_assert(ge(dbl, got, want * 0.999), "p%g: %g < %g", p[i], got, want);
    cr_assert(le(dbl, got, want * 1.001), "p%g: %g > %g", p[i], got, want);
  }
  cr_assert(eq(u64, tool_hist_percentile(&h, 100), h.max));
}

Test(tool_hist, an_empty_histogram_reports_zero_and_merging_adds_counts)
{
  static struct tool_hist a, b;
  tool_hist_init(&a);
  tool_hist_init(&b);
  cr_assert(eq(u64, tool_hist_percentile(&a, 99), 0));
  tool_hist_record(&a, 5);
  tool_hist_record(&b, 7);
  tool_hist_merge(&a, &b);
  cr_assert(eq(u64, a.count, 2));
  cr_assert(eq(u64, a.min, 5));
  cr_assert(eq(u64, a.max, 7));
}

Test(tool_clock, monotonic_time_advances_across_a_sleep)
{
  int64_t t0 = tool_now_ns();
  tool_sleep_ns(1000000);
  cr_assert(ge(i64, tool_now_ns() - t0, 1000000));
  cr_assert(gt(i64, tool_realtime_ns(), INT64_C(1600000000) * 1000000000));
}

Test(tool_parse, durations_take_one_unit_and_a_bare_number_counts_the_default_unit)
{
  static const struct {
    const char *s;
    int64_t unit, ns;
  } ok[] = {{"2", 1000000000, 2000000000},   {"1.5s", 1, 1500000000},  {"250ms", 1000000000, 250000000},
            {"7us", 1, 7000},                {"9ns", 1000000, 9},      {"2m", 1, INT64_C(120000000000)},
            {"1h", 1, INT64_C(3600000000000)}, {"5", 1000000, 5000000}, {"010ms", 1, 10000000}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t v = 0;
    cr_assert(tool_parse_duration(ok[i].s, ok[i].unit, &v), "'%s' refused", ok[i].s);
    cr_assert(eq(i64, v, ok[i].ns), "'%s'", ok[i].s);
  }
  static const char *const bad[] = {"", "s", "1sec", "1 s", "-1s", "1e3", "0x10", "1.s", "1S", "1ms2", "2000000000h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t v = 77;
    cr_assert(not(tool_parse_duration(bad[i], 1, &v)), "'%s' accepted", bad[i]);
    cr_assert(eq(i64, v, 77), "'%s' changed the value", bad[i]);
  }
}

Test(tool_cli, refusals_say_what_was_expected)
{
  struct tool_cli cli;
  tool_cli_init(&cli, "t", "t 1", NULL, "", NULL);
  uint64_t v = 5;
  cr_assert(not(tool_cli_u64(&cli, "0", 1, 9, &v)));
  cr_assert(eq(str, cli.detail, "a whole decimal number in 1..9"));
  cr_assert(eq(u64, v, 5));
  cr_assert(tool_cli_u64(&cli, "09", 1, 9, &v));
  cr_assert(eq(u64, v, 9));
  cr_assert(not(tool_cli_pow2(&cli, "1000", 2, 1024, &v)));
  cr_assert(eq(str, cli.detail, "a power of two in 2..1024"));
  cr_assert(tool_cli_pow2(&cli, "1024", 2, 1024, &v));
  static const char *const names[] = {"block", "spin"};
  cr_assert(eq(int, tool_cli_choice(&cli, "yield", names, 2), -1));
  cr_assert(eq(str, cli.detail, "one of block, spin"));
  cr_assert(eq(int, tool_cli_choice(&cli, "spin", names, 2), 1));
  int64_t ns = 0;
  cr_assert(not(tool_cli_duration(&cli, "0", 1000000, 1000000, 1000000000, &ns)));
  cr_assert(eq(str, cli.detail, "a duration in 1ms..1s (a decimal number of milliseconds, or with a unit ns us ms s m h)"));
  cr_assert(tool_cli_duration(&cli, "2", 1000000, 1000000, 1000000000, &ns));
  cr_assert(eq(i64, ns, 2000000));
  uint64_t size = 0;
  cr_assert(not(tool_cli_size(&cli, "2G", 1, UINT64_C(1) << 30, &size)));
  cr_assert(tool_cli_size(&cli, "1G", 1, UINT64_C(1) << 30, &size));
  cr_assert(eq(u64, size, UINT64_C(1) << 30));
}
