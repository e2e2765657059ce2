/**
 * @file tool_parse.h
 * @brief The one command-line number parser of the tools of both projects
 * (disruptor-mp/tools/common, not installed).
 *
 * Strict and decimal, the same rules for every tool: digits only, no sign,
 * no white space, no base prefix ("010" is ten, "0x10" is refused), no
 * exponent, nothing after the number but the suffix the function allows,
 * and a value that does not fit is refused rather than clamped. Each
 * function returns true and stores the value, or returns false and leaves
 * `*out` alone.
 */
#ifndef DMP_TOOL_PARSE_H
#define DMP_TOOL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/** A count: "0" .. "18446744073709551615". */
bool tool_parse_u64(const char *s, uint64_t *out);

/** A size in bytes: a count with an optional binary suffix K, M, G or T
 * (either case, times 1024^1..4): "4096", "64K", "16m". */
bool tool_parse_size(const char *s, uint64_t *out);

/** A non-negative decimal with an optional fraction: "2", "0.25", "1.5".
 * For rates and factors. */
bool tool_parse_decimal(const char *s, double *out);

/** A duration in seconds, as tool_parse_decimal() ("0.5" is 500 ms), into
 * nanoseconds; at most 10^9 s. */
bool tool_parse_seconds(const char *s, int64_t *ns);

/** A duration into nanoseconds: a decimal (as tool_parse_decimal()) with an
 * optional unit ns, us, ms, s, m or h ("250ms", "1.5s", "2m"); a bare
 * number counts `unit_ns` nanoseconds each. At most 4e18 ns. */
bool tool_parse_duration(const char *s, int64_t unit_ns, int64_t *ns);

/** Index of `s` in `names[0..n)`, or -1: for options that name a choice
 * ("--wait block|spin|yield|sleep"). */
int tool_parse_choice(const char *s, const char *const *names, int n);

#endif /* DMP_TOOL_PARSE_H */
