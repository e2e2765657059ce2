/*
 * myelon-journal: record a ring into a journal, replay a journal into a
 * ring, and look inside journals (record.h, journal.h).
 *
 *   myelon-journal record [options] --ring NAME JOURNAL
 *   myelon-journal replay [options] --ring NAME JOURNAL
 *   myelon-journal cat    [options] JOURNAL
 *   myelon-journal verify [options] JOURNAL
 *   myelon-journal info   JOURNAL
 *
 * Exit codes (the tools' convention, tool_cli.h): 0 ok; 1 runtime error
 * (missing ring, unwritable path, disk full, ...); 2 usage error; 3 the
 * journal is damaged (verify/cat found a torn tail or a corrupted record;
 * replay met corruption without --skip-corrupt). `--help` after a
 * subcommand describes it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/error.h>
#include <myelon/journal.h>
#include <myelon/record.h>
#include <myelon/version.h>

#include "tool_cli.h"
#include "tool_clock.h"
#include "tool_parse.h"

#define EX_OK_ TOOL_EXIT_OK
#define EX_RUNTIME TOOL_EXIT_FAILURE
#define EX_USAGE_ TOOL_EXIT_USAGE
#define EX_DAMAGED TOOL_EXIT_DAMAGED

#define PROGRESS_NS INT64_C(200000000)

static const char *prog = "myelon-journal";
static volatile sig_atomic_t got_signal;

static const char usage_main[] =
    "usage: myelon-journal COMMAND [options] ...\n"
    "\n"
    "Record a myelon / disruptor_mp ring into a journal on disk, replay it into a\n"
    "ring, and inspect journals.\n"
    "\n"
    "commands:\n"
    "  record --ring NAME JOURNAL   attach to ring NAME as a consumer and append what\n"
    "                               it carries to JOURNAL.0001, .0002, ...\n"
    "                               (slot rings and byte rings alike)\n"
    "  replay --ring NAME JOURNAL   create ring NAME and publish the journal into it\n"
    "  cat JOURNAL                  one line per record (optionally the payload)\n"
    "  verify JOURNAL               check every record; report damage\n"
    "  info JOURNAL                 the journal's header\n"
    "\n"
    "'myelon-journal COMMAND --help' describes each command's options.\n"
    "JOURNAL is the base name of the parts (JOURNAL.0001 ...) or one part file.\n"
    "\n"
    "Numbers are decimal; sizes take K, M, G (binary), durations a unit (500ms, 2s).\n"
    "\n"
    "exit codes: 0 ok; 1 runtime error (missing ring, unwritable path, disk full);\n"
    "            2 usage error; 3 the journal is damaged (torn tail or corrupted record).\n";

static const char usage_record[] =
    "usage: myelon-journal record [options] --ring NAME JOURNAL\n"
    "\n"
    "Attach to ring NAME as consumer and record it into JOURNAL.0001, .0002, ...\n"
    "Stops on SIGINT/SIGTERM, when the producer exits (after recording everything\n"
    "it published), after --count records or --duration seconds.\n"
    "\n"
    "  --ring NAME          ring to record (shm segment name; with --mmap a file path)\n"
    "  --mmap               the ring is a memory-mapped file\n"
    "  --id ID              consumer id (default 'recorder')\n"
    "  --raw | --framed     record Layer 0 events or Layer 1 messages (default: framed\n"
    "                       if the ring carries frames, else raw). On a byte ring\n"
    "                       (DMP_RING_BYTES) one journal record per ring record: raw,\n"
    "                       its bytes; framed (MYELON_FRAME_BYTES), its message\n"
    "  --non-gating         never hold the producer back; report what was dropped\n"
    "  --start latest|oldest  where a new recorder starts (default latest)\n"
    "  --wait SEC           wait up to SEC for the ring to appear (default 0)\n"
    "  --count N            stop after N records\n"
    "  --duration SEC       stop after SEC seconds\n"
    "  --rotate-size SIZE   start a new part at SIZE bytes (k, M, G suffixes)\n"
    "  --sync-interval MS   fdatasync every MS milliseconds (and at the end)\n"
    "  --fsync              sync with fsync instead of fdatasync\n"
    "  --io auto|uring|pwrite  I/O backend (default auto: io_uring when available)\n"
    "  --buffer-size SIZE   write buffer size (default 1M)\n"
    "  --buffers N          write buffers = writes in flight (default 8)\n"
    "  --max-message SIZE   framed slot ring: largest message (default 16M; a byte\n"
    "                       ring's messages are bounded by the ring, half its size)\n"
    "  --overwrite          replace an existing journal of that name\n"
    "  --quiet              no progress line and no summary\n"
    "\n"
    "Durability: with --sync-interval, once a sync completes every record appended\n"
    "before it was started survives a crash; the summary counts them as durable.\n";

static const char usage_replay[] =
    "usage: myelon-journal replay [options] --ring NAME JOURNAL\n"
    "\n"
    "Create ring NAME (raw or framed, slot ring or byte ring, as recorded) and\n"
    "publish the journal into it. A byte ring's journal replays into a byte ring of\n"
    "the recorded block, a slot ring's into a slot ring; a framed slot ring's journal\n"
    "also into a byte ring with --bytes (messages are messages).\n"
    "\n"
    "  --ring NAME          ring to create (shm segment name; with --mmap a file path)\n"
    "  --mmap               create a memory-mapped file ring\n"
    "  --capacity N         ring slots, a power of two (default: the recorded ring's;\n"
    "                       byte ring: its size in bytes, which must take the\n"
    "                       largest record the recorded ring took)\n"
    "  --slot-size N        refuse unless the journal has N-byte slots\n"
    "                       (byte ring: N-byte blocks)\n"
    "  --bytes              a framed slot ring's journal: replay it into a byte ring\n"
    "                       (MYELON_FRAME_BYTES) of --capacity bytes (default 1M)\n"
    "  --frame-capacity N   refuse unless the journal has N-byte frames\n"
    "                       (byte ring: N-byte largest message)\n"
    "  --wait-consumers N   wait for N consumers before publishing\n"
    "  --wait-timeout SEC   bound of that wait (default 5)\n"
    "  --pace max|original|RATE  as fast as possible (default), the recorded pacing,\n"
    "                       or RATE records per second\n"
    "  --speed X            with --pace original: X times faster (refused otherwise)\n"
    "  --from-seq N         start at the first record with sequence >= N\n"
    "  --from-time NS       start at the first record taken at or after NS\n"
    "                       (CLOCK_REALTIME nanoseconds, as 'cat' prints)\n"
    "  --count N            publish at most N records\n"
    "  --publish-timeout SEC  give up if the ring stays full this long (default: wait)\n"
    "  --skip-corrupt       skip corrupted records instead of stopping (exit 3)\n"
    "  --keep               leave the ring in place after the replay\n"
    "  --quiet              no progress line and no summary\n";

static const char usage_cat[] =
    "usage: myelon-journal cat [options] JOURNAL\n"
    "\n"
    "One line per record: part, offset, seq, realtime_ns, len, kind, msg_id, flags.\n"
    "\n"
    "  --payload none|hex|raw  none (default); hex: up to --bytes bytes per line;\n"
    "                       raw: only the payloads, concatenated, to stdout\n"
    "  --bytes N            hex bytes per record (default 32; 0 = all)\n"
    "  --from-seq N | --from-time NS | --count N   as for replay\n"
    "  --skip-corrupt       report corrupted records and go on\n"
    "  --quiet              do not print problems (the exit status still says 3)\n";

static const char usage_verify[] =
    "usage: myelon-journal verify [--quiet] JOURNAL\n"
    "\n"
    "Read every record of every part; print each problem (part, offset, what) and a\n"
    "summary. Exit 0 if the journal is whole, 3 if it has a torn tail or corruption,\n"
    "1 if it cannot be read at all, 2 for a usage error.\n";

static const char usage_info[] =
    "usage: myelon-journal info JOURNAL\n\nPrint the journal's header (a byte ring's: its size in bytes,\n"
    "block and largest record).\n";

/* The --help text of each command, for tool_cli. */
static void help_main(FILE *f) { fputs(usage_main, f); }
static void help_record(FILE *f) { fputs(usage_record, f); }
static void help_replay(FILE *f) { fputs(usage_replay, f); }
static void help_cat(FILE *f) { fputs(usage_cat, f); }
static void help_verify(FILE *f) { fputs(usage_verify, f); }
static void help_info(FILE *f) { fputs(usage_info, f); }

static char version_line[96];

/* After a failed record: is it because the ring is not there (the tools'
 * "no such ring")? The recorder attaches before it creates the journal, but
 * -ENOENT may also be the journal's directory, and -ETIMEDOUT (--wait) a
 * ring that exists without a producer, so ask the ring itself. */
static bool ring_missing(enum dmp_backend backend, const char *name)
{
  struct dmp_inspect *in = NULL;
  int rc = dmp_inspect_open(backend, name, &in);
  dmp_inspect_close(in);
  return rc == -ENOENT;
}

static int fail(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(int code, int err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err)
    fprintf(stderr, ": %s (%s)", myelon_strerror(err), myelon_err_name(err));
  const char *detail = dmp_last_error();
  if (err && detail && detail[0])
    fprintf(stderr, "\n  detail: %s", detail);
  fprintf(stderr, "\n");
  return code;
}

static void on_signal(int sig)
{
  got_signal = sig;
}

static void catch_signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}


/* ---- argument parsing -------------------------------------------------- */

/* ---- record ------------------------------------------------------------ */

enum {
  O_RING = 256, O_MMAP, O_ID, O_RAW, O_FRAMED, O_NONGATING, O_START, O_WAIT, O_COUNT, O_DURATION, O_ROTATE,
  O_SYNCINT, O_FSYNC, O_IO, O_BUFSIZE, O_BUFFERS, O_MAXMSG, O_OVERWRITE, O_QUIET, O_HELP, O_CAPACITY, O_SLOT,
  O_FCAP, O_WAITC, O_WAITT, O_PACE, O_SPEED, O_FROMSEQ, O_FROMTIME, O_PUBTIMEOUT, O_SKIP, O_KEEP, O_PAYLOAD,
  O_BYTES, O_TOBYTES,
};

static const struct option record_opts[] = {
    {"ring", required_argument, 0, O_RING},         {"mmap", no_argument, 0, O_MMAP},
    {"id", required_argument, 0, O_ID},             {"raw", no_argument, 0, O_RAW},
    {"framed", no_argument, 0, O_FRAMED},           {"non-gating", no_argument, 0, O_NONGATING},
    {"start", required_argument, 0, O_START},       {"wait", required_argument, 0, O_WAIT},
    {"count", required_argument, 0, O_COUNT},       {"duration", required_argument, 0, O_DURATION},
    {"rotate-size", required_argument, 0, O_ROTATE}, {"sync-interval", required_argument, 0, O_SYNCINT},
    {"fsync", no_argument, 0, O_FSYNC},             {"io", required_argument, 0, O_IO},
    {"buffer-size", required_argument, 0, O_BUFSIZE}, {"buffers", required_argument, 0, O_BUFFERS},
    {"max-message", required_argument, 0, O_MAXMSG}, {"overwrite", no_argument, 0, O_OVERWRITE},
    {"quiet", no_argument, 0, O_QUIET},             {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

struct record_args {
  struct myelon_recorder_config cfg;
  int64_t duration_ns;
  bool quiet;
};

#define SEC INT64_C(1000000000)
#define DAY (86400 * SEC)

static bool record_opt(struct tool_cli *cli, struct record_args *a, int c, const char *arg)
{
  static const char *const starts[] = {"latest", "oldest"};
  static const char *const ios[] = {"auto", "uring", "pwrite"};
  static const enum myelon_journal_io io_of[] = {MYELON_JOURNAL_IO_AUTO, MYELON_JOURNAL_IO_URING,
                                                 MYELON_JOURNAL_IO_PWRITE};
  struct myelon_recorder_config *cfg = &a->cfg;
  uint64_t u;
  int e;
  switch (c) {
  case O_RING: cfg->ring = arg; return true;
  case O_MMAP: cfg->backend = DMP_BACKEND_MMAP; return true;
  case O_ID: cfg->id = arg; return true;
  case O_RAW: cfg->kind = MYELON_RECORD_RAW; return true;
  case O_FRAMED: cfg->kind = MYELON_RECORD_FRAMED; return true;
  case O_NONGATING: cfg->flags |= MYELON_RECORD_NON_GATING; return true;
  case O_START:
    if ((e = tool_cli_choice(cli, arg, starts, 2)) < 0)
      return false;
    cfg->start = e == 1 ? DMP_START_OLDEST : DMP_START_LATEST;
    return true;
  case O_WAIT: return tool_cli_duration(cli, arg, SEC, 0, DAY, &cfg->attach_timeout_ns);
  case O_COUNT: return tool_cli_u64(cli, arg, 1, UINT64_MAX, &cfg->max_records);
  case O_DURATION: return tool_cli_duration(cli, arg, SEC, 1, 365 * DAY, &a->duration_ns);
  case O_ROTATE: return tool_cli_size(cli, arg, 0, UINT64_MAX, &cfg->journal.rotate_bytes);
  case O_SYNCINT: {
    int64_t ns;
    if (!tool_cli_duration(cli, arg, INT64_C(1000000), INT64_C(1000000), (int64_t)UINT32_MAX * INT64_C(1000000), &ns))
      return false;
    cfg->sync_interval_ms = (uint32_t)(ns / INT64_C(1000000));
    return true;
  }
  case O_FSYNC: cfg->journal.sync = MYELON_JOURNAL_FSYNC; return true;
  case O_IO:
    if ((e = tool_cli_choice(cli, arg, ios, 3)) < 0)
      return false;
    cfg->journal.io = io_of[e];
    return true;
  case O_BUFSIZE:
    if (!tool_cli_size(cli, arg, 0, UINT32_MAX, &u))
      return false;
    cfg->journal.buffer_size = (uint32_t)u;
    return true;
  case O_BUFFERS:
    if (!tool_cli_u64(cli, arg, 2, 64, &u))
      return false;
    cfg->journal.buffers = (uint32_t)u;
    return true;
  case O_MAXMSG:
    if (!tool_cli_size(cli, arg, 1, MYELON_JOURNAL_MAX_PAYLOAD, &u))
      return false;
    cfg->max_message = (size_t)u;
    return true;
  case O_OVERWRITE: cfg->journal.flags |= MYELON_JOURNAL_W_OVERWRITE; return true;
  case O_QUIET: a->quiet = true; return true;
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

static void record_progress(struct myelon_recorder *rec, int64_t t0, bool final_line)
{
  struct myelon_recorder_stats st;
  myelon_recorder_stats(rec, &st);
  double secs = (double)(tool_now_ns() - t0) / 1e9;
  fprintf(stderr, "\rrecorded %" PRIu64 " (%.0f/s, %.1f MB)  written %" PRIu64 "  dropped %" PRIu64
                  "  lag max %" PRIu64 "  parts %u   %s",
          st.recorded, secs > 0 ? (double)st.recorded / secs : 0.0, (double)st.bytes / 1e6, st.written, st.dropped,
          st.lag_max, st.parts, final_line ? "\n" : "");
  fflush(stderr);
}

static int record_summary(const struct record_args *a, const struct myelon_recorder_stats *st, int rc)
{
  const char *base = a->cfg.journal.path;
  if (rc < 0 && st->error) {
    fprintf(stderr,
            "%s: recording stopped: write to '%s' failed: %s (%s)\n"
            "  %" PRIu64 " records recorded, %" PRIu64 " written, %" PRIu64 " NOT written (lost)\n",
            prog, base, myelon_strerror(st->error), myelon_err_name(st->error), st->recorded, st->written,
            st->not_written);
    return EX_RUNTIME;
  }
  if (rc < 0)
    return fail(EX_RUNTIME, rc, "recording '%s' failed", a->cfg.ring);
  if (!a->quiet) {
    fprintf(stderr,
            "%s: %s %s '%s' -> '%s': %" PRIu64 " records (%" PRIu64 " bytes, %u part%s), written %" PRIu64
            ", durable %" PRIu64 "\n"
            "  %s: %s %" PRIu64 "; lag max %" PRIu64 " events; bad messages %" PRIu64 "; write errors %" PRIu64
            "; io %s\n",
            prog, st->kind == MYELON_JOURNAL_FRAMED ? "framed" : "raw", "ring", a->cfg.ring, base, st->recorded,
            st->bytes, st->parts, st->parts == 1 ? "" : "s", st->written, st->durable,
            st->gating ? "gating" : "non-gating", st->gating ? "dropped" : "DROPPED", st->dropped, st->lag_max,
            st->bad_messages, st->write_errors, st->backend);
  }
  return EX_OK_;
}

static int cmd_record(int argc, char **argv)
{
  struct record_args a;
  memset(&a, 0, sizeof a);
  myelon_recorder_config_init(&a.cfg);
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-journal record", version_line, help_record, "hV", record_opts);
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status;
    if (!record_opt(&cli, &a, c, optarg))
      return tool_cli_bad_value(&cli, optarg);
  }
  if (!a.cfg.ring)
    return tool_cli_usage_error(&cli, "record needs --ring NAME");
  if (optind != argc - 1)
    return tool_cli_usage_error(&cli, "record needs exactly one JOURNAL argument");
  a.cfg.journal.path = argv[optind];
  struct myelon_recorder *rec;
  int rc = myelon_recorder_open(&a.cfg, &rec);
  if (rc == -EEXIST)
    return fail(EX_RUNTIME, rc, "journal '%s' exists (use --overwrite to replace it)", a.cfg.journal.path);
  if ((rc == -ENOENT || rc == -ETIMEDOUT) && ring_missing(a.cfg.backend, a.cfg.ring))
    return fail(EX_RUNTIME, 0, "%s (%s): no such ring", a.cfg.ring, dmp_backend_name(a.cfg.backend));
  if (rc < 0)
    return fail(EX_RUNTIME, rc, "cannot record ring '%s' into '%s'", a.cfg.ring, a.cfg.journal.path);
  catch_signals();
  bool tty = !a.quiet && isatty(STDERR_FILENO);
  int64_t t0 = tool_now_ns();
  for (;;) {
    int64_t slice = PROGRESS_NS;
    if (a.duration_ns) {
      int64_t left = t0 + a.duration_ns - tool_now_ns();
      if (left <= 0)
        break;
      slice = left < slice ? left : slice;
    }
    if (got_signal)
      myelon_recorder_stop(rec);
    rc = myelon_recorder_run(rec, slice);
    if (tty)
      record_progress(rec, t0, false);
    if (rc != 0)
      break;
  }
  if (tty)
    record_progress(rec, t0, true);
  struct myelon_recorder_stats st;
  int crc = myelon_recorder_close(rec, &st);
  return record_summary(&a, &st, rc < 0 ? rc : crc);
}

/* ---- replay ------------------------------------------------------------ */

static const struct option replay_opts[] = {
    {"ring", required_argument, 0, O_RING},           {"mmap", no_argument, 0, O_MMAP},
    {"capacity", required_argument, 0, O_CAPACITY},   {"slot-size", required_argument, 0, O_SLOT},
    {"frame-capacity", required_argument, 0, O_FCAP}, {"wait-consumers", required_argument, 0, O_WAITC},
    {"wait-timeout", required_argument, 0, O_WAITT},  {"pace", required_argument, 0, O_PACE},
    {"speed", required_argument, 0, O_SPEED},         {"from-seq", required_argument, 0, O_FROMSEQ},
    {"from-time", required_argument, 0, O_FROMTIME},  {"count", required_argument, 0, O_COUNT},
    {"publish-timeout", required_argument, 0, O_PUBTIMEOUT}, {"skip-corrupt", no_argument, 0, O_SKIP},
    {"keep", no_argument, 0, O_KEEP},                 {"quiet", no_argument, 0, O_QUIET},
    {"bytes", no_argument, 0, O_TOBYTES},
    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},                 {0, 0, 0, 0},
};

static bool replay_opt(struct tool_cli *cli, struct myelon_replayer_config *cfg, bool *quiet, int c, const char *arg)
{
  uint64_t u;
  switch (c) {
  case O_RING: cfg->ring.name = arg; return true;
  case O_MMAP: cfg->ring.backend = DMP_BACKEND_MMAP; return true;
  case O_CAPACITY: return tool_cli_pow2(cli, arg, 1, UINT64_C(1) << 40, &cfg->ring.capacity);
  case O_SLOT: return tool_cli_u32(cli, arg, 1, UINT32_MAX, &cfg->ring.slot_size);
  case O_FCAP: return tool_cli_u32(cli, arg, 1, UINT32_MAX, &cfg->frame_capacity);
  case O_WAITC: return tool_cli_u32(cli, arg, 0, 1024, &cfg->ring.wait_consumers);
  case O_WAITT: return tool_cli_duration(cli, arg, SEC, 0, DAY, &cfg->ring.wait_timeout_ns);
  case O_PACE:
    if (strcmp(arg, "max") == 0)
      cfg->pace = MYELON_REPLAY_MAX;
    else if (strcmp(arg, "original") == 0)
      cfg->pace = MYELON_REPLAY_ORIGINAL;
    else if (tool_parse_decimal(arg, &cfg->rate) && cfg->rate > 0)
      cfg->pace = MYELON_REPLAY_RATE;
    else
      return tool_cli_refuse(cli, "max, original or a rate in records per second (> 0)");
    return true;
  case O_SPEED:
    return tool_cli_decimal(cli, arg, 1e-6, 1e9, &cfg->speed);
  case O_FROMSEQ:
    if (!tool_cli_u64(cli, arg, 0, INT64_MAX, &u))
      return false;
    cfg->from_seq = (int64_t)u;
    return true;
  case O_FROMTIME:
    if (!tool_cli_u64(cli, arg, 1, INT64_MAX, &u))
      return false;
    cfg->from_time_ns = (int64_t)u;
    return true;
  case O_COUNT: return tool_cli_u64(cli, arg, 1, UINT64_MAX, &cfg->max_records);
  case O_PUBTIMEOUT: return tool_cli_duration(cli, arg, SEC, 0, DAY, &cfg->publish_timeout_ns);
  case O_SKIP: cfg->open_flags |= MYELON_JOURNAL_SKIP_CORRUPT; return true;
  case O_KEEP: cfg->ring.flags |= DMP_RING_KEEP; return true;
  case O_TOBYTES: cfg->ring.flags |= DMP_RING_BYTES; return true;
  case O_QUIET: *quiet = true; return true;
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

static int cmd_replay(int argc, char **argv)
{
  struct myelon_replayer_config cfg;
  myelon_replayer_config_init(&cfg);
  bool quiet = false, speed_given = false;
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-journal replay", version_line, help_replay, "hV", replay_opts);
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status;
    if (!replay_opt(&cli, &cfg, &quiet, c, optarg))
      return tool_cli_bad_value(&cli, optarg);
    speed_given |= c == O_SPEED;
  }
  if (!cfg.ring.name)
    return tool_cli_usage_error(&cli, "replay needs --ring NAME");
  /* --speed scales the recorded pacing only: silently ignoring it under
   * another --pace would replay at a rate the user did not ask for. */
  if (speed_given && cfg.pace != MYELON_REPLAY_ORIGINAL)
    return tool_cli_usage_error(&cli, "--speed applies only with --pace original");
  if (optind != argc - 1)
    return tool_cli_usage_error(&cli, "replay needs exactly one JOURNAL argument");
  cfg.journal = argv[optind];
  struct myelon_replayer *r;
  int rc = myelon_replayer_open(&cfg, &r);
  if (rc == -MYELON_E_JCORRUPT || rc == -MYELON_E_TORN || rc == -MYELON_E_JVERSION)
    return fail(EX_DAMAGED, rc, "cannot read journal '%s'", cfg.journal);
  if (rc < 0)
    return fail(EX_RUNTIME, rc, "cannot replay '%s' into ring '%s'", cfg.journal, cfg.ring.name);
  catch_signals();
  bool tty = !quiet && isatty(STDERR_FILENO);
  int64_t t0 = tool_now_ns();
  struct myelon_replayer_stats st;
  do {
    if (got_signal)
      myelon_replayer_stop(r);
    rc = myelon_replayer_run(r, PROGRESS_NS);
    myelon_replayer_stats(r, &st);
    if (tty) {
      double secs = (double)(tool_now_ns() - t0) / 1e9;
      fprintf(stderr, "\rreplayed %" PRIu64 " (%.0f/s)   ", st.replayed, secs > 0 ? (double)st.replayed / secs : 0.0);
      fflush(stderr);
    }
  } while (rc == 0);
  if (tty)
    fputc('\n', stderr);
  myelon_replayer_close(r);
  if (rc == -MYELON_E_JCORRUPT)
    return fail(EX_DAMAGED, rc, "replay stopped after %" PRIu64 " records", st.replayed);
  if (rc < 0)
    return fail(EX_RUNTIME, rc, "replay stopped after %" PRIu64 " records", st.replayed);
  if (st.torn)
    fprintf(stderr, "%s: warning: the journal ends in a torn tail (everything before it was replayed)\n", prog);
  if (!quiet)
    fprintf(stderr, "%s: replayed %" PRIu64 " records into '%s'%s\n", prog, st.replayed, cfg.ring.name,
            st.corrupt ? " (skipping corrupted records)" : "");
  return EX_OK_;
}

/* ---- cat / verify / info ----------------------------------------------- */

static const struct option cat_opts[] = {
    {"payload", required_argument, 0, O_PAYLOAD}, {"bytes", required_argument, 0, O_BYTES},
    {"from-seq", required_argument, 0, O_FROMSEQ}, {"from-time", required_argument, 0, O_FROMTIME},
    {"count", required_argument, 0, O_COUNT},     {"skip-corrupt", no_argument, 0, O_SKIP},
    {"quiet", no_argument, 0, O_QUIET},           {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

enum payload_mode { PAY_NONE, PAY_HEX, PAY_RAW };

struct cat_args {
  enum payload_mode payload;
  uint64_t bytes, count;
  int64_t from_seq, from_time;
  uint32_t flags;
  bool quiet;
};

static bool cat_opt(struct tool_cli *cli, struct cat_args *a, int c, const char *arg)
{
  static const char *const payloads[] = {"none", "hex", "raw"};
  uint64_t u;
  int e;
  switch (c) {
  case O_PAYLOAD:
    if ((e = tool_cli_choice(cli, arg, payloads, 3)) < 0)
      return false;
    a->payload = (enum payload_mode)e;
    return true;
  case O_BYTES: return tool_cli_u64(cli, arg, 0, UINT64_MAX, &a->bytes);
  case O_FROMSEQ:
    if (!tool_cli_u64(cli, arg, 0, INT64_MAX, &u))
      return false;
    a->from_seq = (int64_t)u;
    return true;
  case O_FROMTIME:
    if (!tool_cli_u64(cli, arg, 1, INT64_MAX, &u))
      return false;
    a->from_time = (int64_t)u;
    return true;
  case O_COUNT: return tool_cli_u64(cli, arg, 1, UINT64_MAX, &a->count);
  case O_SKIP: a->flags |= MYELON_JOURNAL_SKIP_CORRUPT; return true;
  case O_QUIET: a->quiet = true; return true;
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

static int open_journal(const char *path, uint32_t flags, struct myelon_journal_reader **r)
{
  int rc = myelon_journal_reader_open(path, flags, r);
  if (rc == -MYELON_E_JCORRUPT || rc == -MYELON_E_TORN || rc == -MYELON_E_JVERSION)
    return fail(EX_DAMAGED, rc, "'%s' is not a readable journal", path);
  if (rc < 0)
    return fail(EX_RUNTIME, rc, "cannot open journal '%s'", path);
  return 0;
}

static void print_record(const struct myelon_journal_record *rec, const struct cat_args *a)
{
  if (a->payload == PAY_RAW) {
    fwrite(rec->data, 1, rec->len, stdout);
    return;
  }
  printf("%u\t%" PRIu64 "\t%" PRIu64 "\t%" PRId64 "\t%u\t%u\t%u\t%s", rec->part, rec->offset, rec->seq,
         rec->realtime_ns, rec->len, rec->kind, rec->msg_id, rec->flags & MYELON_JREC_F_GAP ? "gap" : "-");
  if (a->payload == PAY_HEX) {
    uint64_t n = a->bytes && a->bytes < rec->len ? a->bytes : rec->len;
    putchar('\t');
    for (uint64_t i = 0; i < n; i++)
      printf("%02x", ((const uint8_t *)rec->data)[i]);
    if (n < rec->len)
      fputs("...", stdout);
  }
  putchar('\n');
}

/* Report a problem the reader found. */
static void problem(struct myelon_journal_reader *r, int rc, FILE *out)
{
  uint32_t part;
  uint64_t off;
  myelon_journal_reader_where(r, &part, &off);
  fprintf(out, "%s: part %u offset %" PRIu64 ": %s (%s)\n", prog, part, off,
          rc == -MYELON_E_TORN ? "torn tail: the journal ends inside a record" : myelon_strerror(rc),
          dmp_last_error());
}

/* Read records (printing them for cat); problems go to `out`. */
static int walk(struct myelon_journal_reader *r, const struct cat_args *a, bool print, FILE *out, uint64_t *records,
                bool *damaged)
{
  struct myelon_journal_record rec;
  *damaged = false;
  for (;;) {
    if (a->count && *records >= a->count)
      return 0;
    int rc = myelon_journal_reader_next(r, &rec);
    if (rc == 1) {
      (*records)++;
      if (print)
        print_record(&rec, a);
      continue;
    }
    if (rc == 0)
      return 0;
    if (rc != -MYELON_E_TORN && rc != -MYELON_E_JCORRUPT)
      return fail(EX_RUNTIME, rc, "reading the journal failed");
    *damaged = true;
    if (!a->quiet)
      problem(r, rc, out);
    if (rc == -MYELON_E_TORN || !(a->flags & MYELON_JOURNAL_SKIP_CORRUPT))
      return 0;
  }
}

static int cmd_cat(int argc, char **argv)
{
  struct cat_args a = {PAY_NONE, 32, 0, -1, 0, 0, false};
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-journal cat", version_line, help_cat, "hV", cat_opts);
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status;
    if (!cat_opt(&cli, &a, c, optarg))
      return tool_cli_bad_value(&cli, optarg);
  }
  if (optind != argc - 1)
    return tool_cli_usage_error(&cli, "cat needs exactly one JOURNAL argument");
  struct myelon_journal_reader *r;
  int rc = open_journal(argv[optind], a.flags, &r);
  if (rc)
    return rc;
  if (a.from_seq >= 0)
    rc = myelon_journal_reader_seek_seq(r, (uint64_t)a.from_seq);
  else if (a.from_time > 0)
    rc = myelon_journal_reader_seek_time(r, a.from_time);
  uint64_t n = 0;
  bool damaged = false;
  if (rc < 0) {
    damaged = true;
    problem(r, rc, stderr);
  } else {
    rc = walk(r, &a, true, stderr, &n, &damaged);
  }
  myelon_journal_reader_close(r);
  fflush(stdout);
  return rc > 0 ? rc : damaged ? EX_DAMAGED : EX_OK_;
}

static int cmd_verify(int argc, char **argv)
{
  struct cat_args a = {PAY_NONE, 0, 0, -1, 0, MYELON_JOURNAL_SKIP_CORRUPT, false};
  static const struct option verify_opts[] = {
      {"quiet", no_argument, 0, O_QUIET}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-journal verify", version_line, help_verify, "hV", verify_opts);
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status;
    a.quiet = true; /* --quiet is its only option */
  }
  if (optind != argc - 1)
    return tool_cli_usage_error(&cli, "verify needs exactly one JOURNAL argument");
  struct myelon_journal_reader *r;
  int rc = open_journal(argv[optind], a.flags, &r);
  if (rc)
    return rc;
  uint64_t n = 0;
  bool damaged = false;
  rc = walk(r, &a, false, stdout, &n, &damaged);
  struct myelon_journal_reader_stats st;
  myelon_journal_reader_stats(r, &st);
  myelon_journal_reader_close(r);
  if (rc)
    return rc;
  printf("%s: %s: %" PRIu64 " records in %u part%s; %" PRIu64 " corrupted region%s (%" PRIu64
         " bytes skipped); %s\n",
         prog, damaged ? "DAMAGED" : "ok", n, st.parts, st.parts == 1 ? "" : "s", st.corrupt,
         st.corrupt == 1 ? "" : "s", st.skipped_bytes, st.torn ? "torn tail" : "no torn tail");
  return damaged ? EX_DAMAGED : EX_OK_;
}

static int cmd_info(int argc, char **argv)
{
  static const struct option info_opts[] = {
      {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-journal info", version_line, help_info, "hV", info_opts);
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END)
    if (c == TOOL_CLI_EXIT)
      return cli.status;
  if (optind != argc - 1)
    return tool_cli_usage_error(&cli, "info needs exactly one JOURNAL argument");
  argv += optind - 1;
  struct myelon_journal_reader *r;
  int rc = open_journal(argv[1], 0, &r);
  if (rc)
    return rc;
  const struct myelon_journal_info *in = myelon_journal_reader_info(r);
  struct myelon_journal_reader_stats st;
  myelon_journal_reader_stats(r, &st);
  time_t secs = (time_t)(in->created_ns / 1000000000);
  char when[64] = "?";
  struct tm tm;
  if (gmtime_r(&secs, &tm))
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  bool bytes = in->flags & MYELON_JOURNAL_F_BYTES;
  printf("journal        %s\n"
         "format         version %u\n"
         "kind           %s\n"
         "ring           %s%s (%s)\n",
         argv[1], bytes ? MYELON_JOURNAL_VERSION : MYELON_JOURNAL_VERSION_SLOTS,
         in->kind == MYELON_JOURNAL_FRAMED ? "framed" : "raw", in->ring_name,
         in->flags & MYELON_JOURNAL_F_NAME_CUT ? "..." : "", in->ring_backend ? "mmap" : "shm");
  if (bytes) {
    printf("ring shape     byte ring\n"
           "block          %u\n"
           "ring bytes     %" PRIu64 "\n"
           "largest %s %u\n",
           in->slot_size, in->ring_capacity, in->kind == MYELON_JOURNAL_FRAMED ? "message" : "record ", in->frame_capacity);
    if (in->kind == MYELON_JOURNAL_FRAMED)
      printf("frames         bytes (one message per record)\n");
  } else {
    printf("ring shape     slot ring\n"
           "slot size      %u (align %u)\n",
           in->slot_size, in->slot_align);
    if (in->kind == MYELON_JOURNAL_FRAMED)
      printf("frames         %s, %u bytes\n", in->frame_format ? "aligned" : "compact", in->frame_capacity);
    printf("ring capacity  %" PRIu64 "\n", in->ring_capacity);
  }
  printf("ring epoch     %016" PRIx64 "\n"
         "type tag       %016" PRIx64 "\n"
         "created        %s (%" PRId64 " ns)\n"
         "recording id   %016" PRIx64 "\n"
         "parts          %u\n"
         "recorded by    %s consumer\n",
         in->ring_epoch, in->type_tag, when, in->created_ns, in->recording_id, st.parts,
         in->flags & MYELON_JOURNAL_F_NON_GATING ? "a non-gating" : "a gating");
  myelon_journal_reader_close(r);
  return EX_OK_;
}

int main(int argc, char **argv)
{
  static const struct option main_opts[] = {
      {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
  struct tool_cli cli;
  snprintf(version_line, sizeof version_line,
           "myelon-journal (libmyelon %s), journal formats %u (slot rings) and %u (byte rings)", myelon_version(),
           MYELON_JOURNAL_VERSION_SLOTS, MYELON_JOURNAL_VERSION);
  tool_cli_init(&cli, prog, version_line, help_main, "+hV", main_opts); /* '+': stop at the command */
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END)
    if (c == TOOL_CLI_EXIT)
      return cli.status;
  if (optind >= argc)
    return tool_cli_usage_error(&cli, "missing command (record, replay, cat, verify or info)");
  const char *cmd = argv[optind];
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  if (strcmp(cmd, "help") == 0)
    return fputs(usage_main, stdout), EX_OK_;
  optind = 0; /* each command parses its own argv from [1] on: 0 makes glibc start afresh */
  if (strcmp(cmd, "record") == 0)
    return cmd_record(sub_argc, sub_argv);
  if (strcmp(cmd, "replay") == 0)
    return cmd_replay(sub_argc, sub_argv);
  if (strcmp(cmd, "cat") == 0)
    return cmd_cat(sub_argc, sub_argv);
  if (strcmp(cmd, "verify") == 0)
    return cmd_verify(sub_argc, sub_argv);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(sub_argc, sub_argv);
  return tool_cli_usage_error(&cli, "unknown command '%s' (record, replay, cat, verify or info)", cmd);
}
