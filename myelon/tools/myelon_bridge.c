/* myelon-bridge: run one side of a ZeroMQ link that carries a ring (framed
 * or raw) between hosts (bridge.h), or generate a CURVE key pair.
 *
 *   myelon-bridge ingress --ring NAME --bind ENDPOINT [options]    (on B)
 *   myelon-bridge egress  --ring NAME --connect ENDPOINT [options] (on A)
 *   myelon-bridge keygen PREFIX
 *
 * Exit codes: 0 ok (a signal, or with --once the egress delivered
 * everything its producer published before exiting); 1 runtime error (refused link, bad
 * keys, missing ring); 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <myelon/bridge.h>
#include <myelon/error.h>
#include <myelon/version.h>

#include "tool_cli.h"

enum { EX_OK_ = 0, EX_ERR_ = 1, EX_USAGE_ = 2 };

static const char usage_text[] =
    "usage: myelon-bridge ingress --ring NAME --bind ENDPOINT [options]\n"
    "       myelon-bridge egress  --ring NAME --connect ENDPOINT [options]\n"
    "       myelon-bridge keygen PREFIX\n"
    "       myelon-bridge --help | --version\n"
    "\n"
    "Carry a ring from host A (egress) to host B (ingress) over ZeroMQ, lossless\n"
    "and back-pressured: a framed ring message by message, a raw Layer 0 ring\n"
    "slot by slot, a byte ring (framed or raw) record by record (the egress\n"
    "tells them apart by the ring's type tag and shape).\n"
    "ENDPOINT is tcp://HOST:PORT or ipc://PATH. tcp:// uses CurveZMQ unless\n"
    "--insecure is given.\n"
    "\n"
    "Both sides:\n"
    "  --ring NAME          the local ring (egress: attach; ingress: create)\n"
    "  --key FILE           this side's CURVE secret key (from keygen: PREFIX.key)\n"
    "  --peer-key FILE      the other side's CURVE public key (PREFIX.pub)\n"
    "  --insecure           plain TCP, no authentication or encryption\n"
    "  --heartbeat MS       ZeroMQ heartbeat interval (default 100; units: 1s, 250ms)\n"
    "  --timeout MS         drop a silent peer after this (default 500); the ingress\n"
    "                       then closes its ring: B's readers see the producer gone\n"
    "  --json SECONDS       print a JSON status line every SECONDS to stdout\n"
    "  --duration SECONDS   stop after this long (default: until SIGINT/SIGTERM)\n"
    "  --quiet              do not log refusals and dropped messages\n"
    "Egress:\n"
    "  --connect ENDPOINT   the ingress to send to\n"
    "  --id ID              durable consumer id on the ring (default bridge)\n"
    "  --window N           messages in flight before an acknowledgement (default 512)\n"
    "  --window-bytes SIZE  bytes in flight (default 32M; at least one message)\n"
    "  --max-message SIZE   largest message forwarded (default 16M)\n"
    "  --attach-timeout S   wait this long for the ring to exist (default 5)\n"
    "  --once               exit (0) once the producer is gone and all it published\n"
    "                       was delivered (default: wait for its next producer)\n"
    "  --state FILE         hold A's slots until B acknowledged them and record how\n"
    "                       far they are released: lossless across an egress crash\n"
    "Ingress:\n"
    "  --bind ENDPOINT      where the egress connects\n"
    "  --capacity N         ring capacity in frames or slots (default 1024; must\n"
    "                       match A's)\n"
    "  --frame-capacity N   payload bytes per frame (default 1024; must match A's)\n"
    "  --format F           compact, aligned or bytes (a byte ring; default compact;\n"
    "                       must match A's)\n"
    "  --ring-bytes SIZE    (byte rings) the ring's bytes, a power of two (default\n"
    "                       1M; must match A's)\n"
    "  --block N            (byte rings) the ring's block, a power of two 16 .. 4096\n"
    "                       (default 64; must match A's)\n"
    "  --max-message SIZE   largest message accepted (default 16M; >= the egress's)\n"
    "  --raw                create a raw Layer 0 ring (A's is raw) instead of a\n"
    "                       framed one; needs --slot-size (or --bytes)\n"
    "  --bytes              (raw) the raw ring is a byte ring (DMP_RING_BYTES):\n"
    "                       --ring-bytes and --block instead of --slot-size\n"
    "  --slot-size N        (raw) bytes per slot (must match A's)\n"
    "  --slot-align N       (raw) slot alignment, a power of two (default 8; must\n"
    "                       match A's)\n"
    "  --type-tag N         (raw) the ring's type tag, decimal (default 0: none;\n"
    "                       must match A's)\n"
    "  --state FILE         record the last applied message: resume exactly after a restart\n"
    "  --wait-readers N     apply nothing before N readers attached to the ring\n"
    "\n"
    "Durations take ns, us, ms, s, m or h; sizes K, M, G, T.\n"
    "Exit codes: 0 ok; 1 runtime error (link refused, bad keys, no ring); 2 usage.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void print_json(struct myelon_bridge *b, bool egress)
{
  struct myelon_bridge_stats s;
  myelon_bridge_stats(b, &s);
  printf("{\"side\":\"%s\",\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"in_flight\":%" PRIu64
         ",\"next_seq\":%" PRId64 ",\"rtt_us\":%.1f,\"handshakes\":%" PRIu64 ",\"reconnects\":%" PRIu64
         ",\"refused\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"errors\":%" PRIu64
         ",\"connected\":%s}\n",
         egress ? "egress" : "ingress", s.messages, s.bytes, s.in_flight,
         s.next_seq == MYELON_BRIDGE_NEXT_ANY ? (int64_t)-1 : (int64_t)s.next_seq, (double)s.rtt_ns / 1000.0,
         s.handshakes, s.handshakes > 0 ? s.handshakes - 1 : 0, s.refused, s.rejected, s.duplicates, s.errors,
         s.connected ? "true" : "false");
  fflush(stdout);
}

static void help(FILE *f)
{
  fputs(usage_text, f);
}

#define SEC INT64_C(1000000000)
#define MSEC INT64_C(1000000)

enum {
  O_RING = 256, O_CONNECT, O_BIND, O_KEY, O_PEER_KEY, O_INSECURE, O_HB, O_TIMEOUT, O_JSON, O_DURATION, O_QUIET,
  O_ID, O_WINDOW, O_WINDOW_BYTES, O_MAX_MESSAGE, O_ATTACH_TIMEOUT, O_CAPACITY, O_FRAME_CAPACITY, O_FORMAT,
  O_STATE, O_WAIT_READERS, O_ONCE, O_RAW, O_SLOT_SIZE, O_SLOT_ALIGN, O_TYPE_TAG, O_BYTES, O_RING_BYTES, O_BLOCK,
};

struct args {
  struct myelon_bridge_config cfg;
  const char *connect_ep, *bind_ep;
  int64_t json_ns, duration_ns;
};

/* One option's value: false (with cli->detail) when refused. */
static bool take_opt(struct tool_cli *cli, struct args *a, int c, const char *arg)
{
  struct myelon_bridge_config *cfg = &a->cfg;
  uint64_t u;
  uint32_t u32;
  int64_t ns;
  static const char *const formats[] = {"compact", "aligned", "bytes"};
  switch (c) {
  case O_RING: cfg->ring = arg; return true;
  case O_CONNECT: a->connect_ep = arg; return true;
  case O_BIND: a->bind_ep = arg; return true;
  case O_KEY: cfg->secret_key_file = arg; return true;
  case O_PEER_KEY: cfg->peer_key_file = arg; return true;
  case O_INSECURE: cfg->insecure = true; return true;
  case O_QUIET: cfg->quiet = true; return true;
  case O_ONCE: cfg->flags |= MYELON_BRIDGE_ONCE; return true;
  case O_RAW: cfg->flags |= MYELON_BRIDGE_RAW; return true;
  case O_SLOT_SIZE: return tool_cli_u32(cli, arg, 1, DMP_MAX_SLOT_SIZE, &cfg->slot_size);
  case O_SLOT_ALIGN:
    if (!tool_cli_pow2(cli, arg, 1, DMP_MAX_SLOT_ALIGN, &u))
      return false;
    cfg->slot_align = (uint32_t)u;
    return true;
  case O_TYPE_TAG: return tool_cli_u64(cli, arg, 1, UINT64_MAX, &cfg->type_tag);
  case O_ID: cfg->consumer_id = arg; return true;
  case O_STATE: cfg->state_path = arg; return true;
  case O_HB:
    if (!tool_cli_duration(cli, arg, MSEC, MSEC, 60 * SEC, &ns))
      return false;
    cfg->heartbeat_ms = (int)(ns / MSEC);
    return true;
  case O_TIMEOUT:
    if (!tool_cli_duration(cli, arg, MSEC, MSEC, 600 * SEC, &ns))
      return false;
    cfg->timeout_ms = (int)(ns / MSEC);
    return true;
  case O_JSON: return tool_cli_duration(cli, arg, SEC, MSEC, 86400 * SEC, &a->json_ns);
  case O_DURATION: return tool_cli_duration(cli, arg, SEC, MSEC, 365 * 86400 * SEC, &a->duration_ns);
  case O_ATTACH_TIMEOUT: return tool_cli_duration(cli, arg, SEC, 0, 86400 * SEC, &cfg->attach_timeout_ns);
  case O_WINDOW: return tool_cli_u32(cli, arg, 1, 1u << 20, &cfg->window);
  case O_WINDOW_BYTES:
    if (!tool_cli_size(cli, arg, 1, UINT64_C(1) << 40, &u))
      return false;
    cfg->window_bytes = (size_t)u;
    return true;
  case O_MAX_MESSAGE:
    if (!tool_cli_size(cli, arg, 1, MYELON_MAX_MESSAGE_LIMIT, &u))
      return false;
    cfg->max_message = (size_t)u;
    return true;
  case O_CAPACITY: return tool_cli_pow2(cli, arg, 1, UINT64_C(1) << 32, &cfg->ring_capacity);
  case O_FRAME_CAPACITY:
    if (!tool_cli_u32(cli, arg, MYELON_FRAME_MIN_CAPACITY, MYELON_FRAME_MAX_CAPACITY, &u32))
      return false;
    cfg->frame_capacity = u32;
    return true;
  case O_FORMAT: {
    int f = tool_cli_choice(cli, arg, formats, 3);
    if (f < 0)
      return false;
    cfg->format = f == 0 ? MYELON_FRAME_COMPACT : f == 1 ? MYELON_FRAME_ALIGNED : MYELON_FRAME_BYTES;
    return true;
  }
  case O_BYTES: cfg->flags |= MYELON_BRIDGE_BYTES; return true;
  case O_RING_BYTES:
    if (!tool_cli_size(cli, arg, 32, UINT64_C(1) << 40, &cfg->ring_bytes))
      return false;
    if ((cfg->ring_bytes & (cfg->ring_bytes - 1)) != 0)
      return tool_cli_refuse(cli, "a power of two (1M, 16M, ...)");
    return true;
  case O_BLOCK:
    if (!tool_cli_pow2(cli, arg, MYELON_BRIDGE_MIN_BLOCK, MYELON_BRIDGE_MAX_BLOCK, &u))
      return false;
    cfg->block = (uint32_t)u;
    return true;
  case O_WAIT_READERS: return tool_cli_u32(cli, arg, 0, 4096, &cfg->wait_readers);
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

int main(int argc, char **argv)
{
  static char version_line[96];
  snprintf(version_line, sizeof version_line, "myelon-bridge (libmyelon %s)", MYELON_VERSION_STRING);
  static const struct option main_opts[] = {
      {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
  struct tool_cli cli;
  tool_cli_init(&cli, "myelon-bridge", version_line, help, "+hV", main_opts); /* '+': stop at the mode */
  int c;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END)
    if (c == TOOL_CLI_EXIT)
      return cli.status;
  if (optind >= argc)
    return tool_cli_usage_error(&cli, "a mode is required (ingress, egress or keygen)");
  const char *mode = argv[optind];
  if (strcmp(mode, "keygen") == 0) {
    if (argc - optind != 2 || argv[optind + 1][0] == '-')
      return tool_cli_usage_error(&cli, "keygen takes exactly one PREFIX");
    const char *prefix = argv[optind + 1];
    int rc = myelon_bridge_keygen(prefix);
    if (rc != 0) {
      fprintf(stderr, "myelon-bridge: keygen %s: %s\n", prefix,
              rc == -EEXIST ? "PREFIX.key or PREFIX.pub exists (not overwritten)" : strerror(-rc));
      return EX_ERR_;
    }
    printf("wrote %s.key (secret, mode 0600) and %s.pub\n", prefix, prefix);
    return EX_OK_;
  }
  bool egress;
  if (strcmp(mode, "egress") == 0)
    egress = true;
  else if (strcmp(mode, "ingress") == 0)
    egress = false;
  else
    return tool_cli_usage_error(&cli, "unknown mode '%s' (ingress, egress or keygen)", mode);

  static const struct option opts[] = {
    {"ring", required_argument, 0, O_RING}, {"connect", required_argument, 0, O_CONNECT},
    {"bind", required_argument, 0, O_BIND}, {"key", required_argument, 0, O_KEY},
    {"peer-key", required_argument, 0, O_PEER_KEY}, {"insecure", no_argument, 0, O_INSECURE},
    {"heartbeat", required_argument, 0, O_HB}, {"timeout", required_argument, 0, O_TIMEOUT},
    {"json", required_argument, 0, O_JSON}, {"duration", required_argument, 0, O_DURATION},
    {"quiet", no_argument, 0, O_QUIET}, {"id", required_argument, 0, O_ID},
    {"window", required_argument, 0, O_WINDOW}, {"window-bytes", required_argument, 0, O_WINDOW_BYTES},
    {"max-message", required_argument, 0, O_MAX_MESSAGE}, {"attach-timeout", required_argument, 0, O_ATTACH_TIMEOUT},
    {"capacity", required_argument, 0, O_CAPACITY}, {"frame-capacity", required_argument, 0, O_FRAME_CAPACITY},
    {"format", required_argument, 0, O_FORMAT}, {"state", required_argument, 0, O_STATE},
    {"wait-readers", required_argument, 0, O_WAIT_READERS}, {"once", no_argument, 0, O_ONCE},
    {"raw", no_argument, 0, O_RAW}, {"slot-size", required_argument, 0, O_SLOT_SIZE},
    {"slot-align", required_argument, 0, O_SLOT_ALIGN}, {"type-tag", required_argument, 0, O_TYPE_TAG},
    {"bytes", no_argument, 0, O_BYTES}, {"ring-bytes", required_argument, 0, O_RING_BYTES},
    {"block", required_argument, 0, O_BLOCK}, {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
  };
  struct args a;
  memset(&a, 0, sizeof a);
  myelon_bridge_config_init(&a.cfg);
  struct myelon_bridge_config cfg;
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  optind = 0; /* a fresh getopt scan of the mode's arguments */
  tool_cli_init(&cli, egress ? "myelon-bridge egress" : "myelon-bridge ingress", version_line, help, "hV", opts);
  while ((c = tool_cli_next(&cli, sub_argc, sub_argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status;
    if (!take_opt(&cli, &a, c, optarg))
      return tool_cli_bad_value(&cli, optarg);
  }
  if (optind != sub_argc)
    return tool_cli_usage_error(&cli, "unexpected argument '%s'", sub_argv[optind]);
  cfg = a.cfg;
  const char *connect_ep = a.connect_ep, *bind_ep = a.bind_ep;
  double json_s = (double)a.json_ns / 1e9;
  int64_t duration_ns = a.duration_ns > 0 ? a.duration_ns : -1;
  if (cfg.ring == NULL)
    return tool_cli_usage_error(&cli, "--ring NAME is required");
  if (egress && (connect_ep == NULL || bind_ep != NULL))
    return tool_cli_usage_error(&cli, "egress takes --connect ENDPOINT (and no --bind)");
  if (!egress && (cfg.flags & MYELON_BRIDGE_ONCE) != 0)
    return tool_cli_usage_error(&cli, "--once is an egress option");
  bool raw = (cfg.flags & MYELON_BRIDGE_RAW) != 0, bytes = (cfg.flags & MYELON_BRIDGE_BYTES) != 0;
  if (egress && (raw || bytes || cfg.slot_size != 0 || cfg.slot_align != 0 || cfg.type_tag != 0 ||
                 cfg.ring_bytes != 0 || cfg.block != 0))
    return tool_cli_usage_error(&cli, "--raw, --bytes, --slot-size, --slot-align, --type-tag, --ring-bytes and --block "
                                "are ingress options (the egress reads them from its ring)");
  if (!egress && bytes && !raw)
    return tool_cli_usage_error(&cli, "--bytes goes with --raw (a framed byte ring is --format bytes)");
  if (!egress && (cfg.ring_bytes != 0 || cfg.block != 0) && !bytes && cfg.format != MYELON_FRAME_BYTES)
    return tool_cli_usage_error(&cli, "--ring-bytes and --block are for a byte ring (--format bytes, or --raw --bytes)");
  if (!egress && bytes && cfg.slot_size != 0)
    return tool_cli_usage_error(&cli, "--slot-size is for a raw slot ring (a raw byte ring has --ring-bytes and "
                                "--block)");
  if (!egress && raw && !bytes && cfg.slot_size == 0)
    return tool_cli_usage_error(&cli, "--raw needs --slot-size N (or --bytes)");
  if (!egress && !raw && (cfg.slot_size != 0 || cfg.slot_align != 0 || cfg.type_tag != 0))
    return tool_cli_usage_error(&cli, "--slot-size, --slot-align and --type-tag need --raw");
  if (!egress && (bind_ep == NULL || connect_ep != NULL))
    return tool_cli_usage_error(&cli, "ingress takes --bind ENDPOINT (and no --connect)");
  cfg.endpoint = egress ? connect_ep : bind_ep;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Large messages: the egress copies each into its window and libzmq
   * into its own message, the ingress receives into libzmq's: a
   * malloc() and a free() of the message's size each. With glibc's
   * defaults a 1 MiB block comes from mmap() (or the heap is trimmed
   * after the free), so every message paid its size in fresh pages
   * (page faults: most of the egress's system time in a 1 MiB stream).
   * Keep freed memory for reuse: a heap up to the window's bytes stays
   * mapped, as a long-running process wants. */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);

  struct myelon_bridge *b = NULL;
  int rc = egress ? myelon_bridge_egress_open(&cfg, &b) : myelon_bridge_ingress_open(&cfg, &b);
  if (rc < 0) {
    /* The tools' convention: a ring that does not exist is "no such ring"
     * (only the egress attaches to an existing ring; the ingress creates
     * its own). After --attach-timeout the error may be a timeout, and
     * -ENOENT could be a key file: ask the ring itself. */
    char why[512];
    snprintf(why, sizeof why, "%s", myelon_bridge_last_error(NULL)); /* before the probe's own detail */
    struct dmp_inspect *in = NULL;
    if (egress && dmp_inspect_open(DMP_BACKEND_SHM, cfg.ring, &in) == -ENOENT)
      fprintf(stderr, "myelon-bridge %s: %s (shm): no such ring\n", mode, cfg.ring);
    else
      fprintf(stderr, "myelon-bridge %s: %s\n", mode, why);
    dmp_inspect_close(in);
    return EX_ERR_;
  }
  fprintf(stderr, "myelon-bridge %s: ring %s %s %s%s\n", mode, cfg.ring, egress ? "->" : "<-", cfg.endpoint,
          cfg.insecure ? " (insecure)" : "");
  int64_t start = now_ns();
  int64_t next_json = json_s > 0 ? start + (int64_t)(json_s * 1e9) : INT64_MAX;
  int status = EX_OK_;
  while (!stop) {
    int64_t now = now_ns();
    if (duration_ns > 0 && now - start >= duration_ns)
      break;
    if (now >= next_json) {
      print_json(b, egress);
      next_json += (int64_t)(json_s * 1e9);
      if (next_json <= now)
        next_json = now + (int64_t)(json_s * 1e9); /* fell behind: no burst of lines */
    }
    /* At most 100 ms a pass (signals, --duration), and never past the
     * next --json line, so that a short interval is kept. */
    int64_t step = 100LL * 1000000;
    if (next_json != INT64_MAX && next_json - now < step)
      step = next_json - now > 0 ? next_json - now : 0;
    rc = myelon_bridge_run(b, step);
    if (rc == -DMP_E_OWNERDEAD && egress) {
      fprintf(stderr, "myelon-bridge egress: %s\n", myelon_bridge_last_error(b));
      break;
    }
    if (rc < 0) {
      fprintf(stderr, "myelon-bridge %s: %s\n", mode, myelon_bridge_last_error(b));
      status = EX_ERR_;
      break;
    }
  }
  if (json_s > 0)
    print_json(b, egress);
  myelon_bridge_close(b);
  return status;
}
