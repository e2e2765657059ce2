/* The tools' command-line convention: option loop, --help/--version,
 * usage errors and range-checked values (see tool_cli.h). */
#include "tool_cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "tool_parse.h"

void tool_cli_init(struct tool_cli *cli, const char *prog, const char *version, void (*usage)(FILE *f),
                   const char *shortopts, const struct option *longopts)
{
  memset(cli, 0, sizeof *cli);
  cli->prog = prog;
  cli->version = version;
  cli->usage = usage;
  cli->shortopts = shortopts;
  cli->longopts = longopts;
  cli->opt = "";
}

static void hint(const struct tool_cli *cli)
{
  fprintf(stderr, "Try '%s --help'.\n", cli->prog);
}

int tool_cli_usage_error(struct tool_cli *cli, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", cli->prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  hint(cli);
  cli->status = TOOL_EXIT_USAGE;
  return TOOL_EXIT_USAGE;
}

int tool_cli_bad_value(struct tool_cli *cli, const char *arg)
{
  return tool_cli_usage_error(cli, "invalid value for %s: '%s': %s", cli->opt, arg ? arg : "",
                              cli->detail[0] ? cli->detail : "not accepted");
}

bool tool_cli_refuse(struct tool_cli *cli, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cli->detail, sizeof cli->detail, fmt, ap);
  va_end(ap);
  return false;
}

/* The name of the option getopt just returned, for messages. */
static void note_option(struct tool_cli *cli, int c, int longindex, char **argv)
{
  if (longindex >= 0) {
    snprintf(cli->optbuf, sizeof cli->optbuf, "--%s", cli->longopts[longindex].name);
  } else if (c > 0 && c < 128 && strchr(cli->shortopts, c)) {
    snprintf(cli->optbuf, sizeof cli->optbuf, "-%c", c);
  } else {
    /* getopt's optind already moved past it; the text is the best we have */
    const char *text = optind > 0 ? argv[optind - 1] : "?";
    snprintf(cli->optbuf, sizeof cli->optbuf, "%.*s", (int)strcspn(text, "="), text);
  }
  cli->opt = cli->optbuf;
}

int tool_cli_next(struct tool_cli *cli, int argc, char **argv)
{
  int longindex = -1;
  opterr = 0; /* our messages, not getopt's */
  int c = getopt_long(argc, argv, cli->shortopts, cli->longopts, &longindex);
  cli->detail[0] = '\0';
  if (c == -1)
    return TOOL_CLI_END;
  if (c == '?' || c == ':') {
    const char *text = argv[optind - 1];
    if (optopt && optopt != '?' && !(text[0] == '-' && text[1] == '-'))
      return tool_cli_usage_error(cli, "%s option '-%c'",
                                  strchr(cli->shortopts, optopt) ? "missing argument for" : "unknown", optopt),
             TOOL_CLI_EXIT;
    /* A long option: unknown, ambiguous, missing or unexpected argument. */
    bool known = false;
    size_t len = strcspn(text + 2, "=");
    for (const struct option *o = cli->longopts; o && o->name; o++)
      known = known || (strlen(o->name) == len && strncmp(o->name, text + 2, len) == 0);
    return tool_cli_usage_error(cli, "%s option '%s'", known ? "missing or unexpected argument for" : "unknown",
                                text),
           TOOL_CLI_EXIT;
  }
  note_option(cli, c, longindex, argv);
  if (c == TOOL_OPT_HELP && cli->usage) {
    cli->usage(stdout);
    cli->status = TOOL_EXIT_OK;
    return TOOL_CLI_EXIT;
  }
  if (c == TOOL_OPT_VERSION && cli->version) {
    printf("%s\n", cli->version);
    cli->status = TOOL_EXIT_OK;
    return TOOL_CLI_EXIT;
  }
  return c;
}

bool tool_cli_u64(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
  uint64_t v;
  if (!tool_parse_u64(arg, &v) || v < min || v > max)
    return tool_cli_refuse(cli, "a whole decimal number in %" PRIu64 "..%" PRIu64, min, max);
  *out = v;
  return true;
}

bool tool_cli_u32(struct tool_cli *cli, const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
  uint64_t v;
  if (!tool_cli_u64(cli, arg, min, max, &v))
    return false;
  *out = (uint32_t)v;
  return true;
}

bool tool_cli_pow2(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
  uint64_t v;
  if (!tool_parse_u64(arg, &v) || v < min || v > max || (v & (v - 1)) != 0)
    return tool_cli_refuse(cli, "a power of two in %" PRIu64 "..%" PRIu64, min, max);
  *out = v;
  return true;
}

bool tool_cli_size(struct tool_cli *cli, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
  uint64_t v;
  if (!tool_parse_size(arg, &v) || v < min || v > max)
    return tool_cli_refuse(cli, "a size in %" PRIu64 "..%" PRIu64 " bytes (suffix K, M, G or T allowed)", min,
                           max);
  *out = v;
  return true;
}

bool tool_cli_decimal(struct tool_cli *cli, const char *arg, double min, double max, double *out)
{
  double v;
  if (!tool_parse_decimal(arg, &v) || v < min || v > max)
    return tool_cli_refuse(cli, "a decimal number in %g..%g", min, max);
  *out = v;
  return true;
}

/* "1.5 s" style text of a bound, for messages. */
static void duration_text(int64_t ns, char *buf, size_t len)
{
  if (ns % INT64_C(1000000000) == 0)
    snprintf(buf, len, "%" PRId64 "s", ns / INT64_C(1000000000));
  else if (ns % INT64_C(1000000) == 0)
    snprintf(buf, len, "%" PRId64 "ms", ns / INT64_C(1000000));
  else
    snprintf(buf, len, "%" PRId64 "ns", ns);
}

bool tool_cli_duration(struct tool_cli *cli, const char *arg, int64_t unit_ns, int64_t min_ns, int64_t max_ns,
                       int64_t *out)
{
  int64_t v;
  if (!tool_parse_duration(arg, unit_ns, &v) || v < min_ns || v > max_ns) {
    char lo[32], hi[32];
    duration_text(min_ns, lo, sizeof lo);
    duration_text(max_ns, hi, sizeof hi);
    return tool_cli_refuse(cli, "a duration in %s..%s (a decimal number of %s, or with a unit ns us ms s m h)", lo,
                           hi, unit_ns == INT64_C(1000000) ? "milliseconds" : "seconds");
  }
  *out = v;
  return true;
}

int tool_cli_choice(struct tool_cli *cli, const char *arg, const char *const *names, int n)
{
  int i = tool_parse_choice(arg, names, n);
  if (i >= 0)
    return i;
  size_t used = (size_t)snprintf(cli->detail, sizeof cli->detail, "one of");
  for (int k = 0; k < n && used < sizeof cli->detail; k++)
    used += (size_t)snprintf(cli->detail + used, sizeof cli->detail - used, "%s %s", k ? "," : "", names[k]);
  return -1;
}
