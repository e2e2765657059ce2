/**
 * @file tool_cli.h
 * @brief The command-line convention of every tool of both projects
 * (dmp-stat, dmp-demo, myelon-demo, myelon-journal), in one place
 * (disruptor-mp/tools/common, not installed).
 *
 * Exit status, the same for every tool:
 *
 *   0  success;
 *   1  runtime failure: the command line was fine, the work failed (no such
 *      ring, a file that cannot be opened, a child that died, disk full);
 *   2  usage error: an unknown option, a missing or malformed argument, a
 *      value out of range. Reported before anything is created or started;
 *   3  damage found (dmp-stat, myelon-journal only): the tool did its work
 *      and found a segment or journal corrupted, truncated or of another
 *      format version. Kept apart from 1 so that a script can tell "the
 *      check ran and failed" from "the check could not run"; it was 2
 *      before 0.2, which clashed with the usage error of the demos.
 *
 * Every tool takes --help (the text on stdout, exit 0) and --version (one
 * line on stdout, exit 0). Every refusal prints one line "PROG: what: why"
 * on stderr, with a non-empty why, and "Try 'PROG --help'." after a usage
 * error.
 *
 * Numbers are strict decimals (tool_parse.h): no sign, no base prefix, no
 * exponent, no trailing junk, and each option's range is checked here, so
 * "0" is refused wherever zero makes no sense. Sizes take K, M, G, T (binary);
 * durations take ns, us, ms, s, m or h ("250ms", "1.5s"), and a bare number
 * is in the unit the option names (--timeout-ms: milliseconds, otherwise
 * seconds).
 */
#ifndef DMP_TOOL_CLI_H
#define DMP_TOOL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAILURE 1
#define TOOL_EXIT_USAGE 2
#define TOOL_EXIT_DAMAGED 3

/* Option values tool_cli_next() handles itself when a tool's long options
 * map --help and --version to them. */
#define TOOL_OPT_HELP 'h'
#define TOOL_OPT_VERSION 'V'

/* tool_cli_next()'s results besides an option value. */
#define TOOL_CLI_END (-1)  /* no more options: operands start at optind */
#define TOOL_CLI_EXIT (-2) /* --help, --version or a usage error: exit with cli->status */

struct tool_cli {
  const char *prog;                 /* "dmp-stat", or "myelon-journal record" */
  const char *version;              /* the --version line, without the newline */
  void (*usage)(FILE *f);           /* the --help text */
  const char *shortopts;            /* getopt's, e.g. "hV" */
  const struct option *longopts;
  int status;                       /* with TOOL_CLI_EXIT: the exit status */
  const char *opt;                  /* the option being parsed, as "--name" or "-x" */
  char detail[160];                 /* why the last value was refused */
  char optbuf[40];
};

void tool_cli_init(struct tool_cli *cli, const char *prog, const char *version, void (*usage)(FILE *f),
                   const char *shortopts, const struct option *longopts);

/** The next option (getopt_long, messages silenced and our own printed):
 * an option value, TOOL_CLI_END, or TOOL_CLI_EXIT after --help/--version
 * (status 0) or an unknown option / missing argument (status 2, message
 * printed). The option's name is in cli->opt, its argument in optarg. */
int tool_cli_next(struct tool_cli *cli, int argc, char **argv);

/** "PROG: <message>\nTry 'PROG --help'.\n" on stderr; returns 2. */
int tool_cli_usage_error(struct tool_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** "PROG: invalid value for --opt: 'arg': <cli->detail>" + the hint; returns 2.
 * For a value one of the tool_cli_* parsers below refused. */
int tool_cli_bad_value(struct tool_cli *cli, const char *arg);

/** Set cli->detail (for a check a tool makes itself); returns false. */
bool tool_cli_refuse(struct tool_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value parsers: true and *out set, or false with cli->detail saying what
 * was expected (and *out untouched). */
bool tool_cli_u64(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
bool tool_cli_u32(struct tool_cli *cli, const char *arg, uint32_t min, uint32_t max, uint32_t *out);
/** A count that must also be a power of two. */
bool tool_cli_pow2(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
bool tool_cli_size(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
bool tool_cli_decimal(struct tool_cli *cli, const char *arg, double min, double max, double *out);
/** A duration: a decimal with an optional unit (ns us ms s m h); a bare
 * number counts `unit_ns` each. Bounds in nanoseconds. */
bool tool_cli_duration(struct tool_cli *cli, const char *arg, int64_t unit_ns, int64_t min_ns, int64_t max_ns,
                       int64_t *out);
/** Index of `arg` in names[0..n), or -1 with the choices in cli->detail. */
int tool_cli_choice(struct tool_cli *cli, const char *arg, const char *const *names, int n);

#endif /* DMP_TOOL_CLI_H */
