/* myelon-bridge: run one side of a ZeroMQ link that carries a framed ring
 * between hosts (bridge.h), or generate a CURVE key pair.
 *
 *   myelon-bridge ingress --ring NAME --bind ENDPOINT [options]    (on B)
 *   myelon-bridge egress  --ring NAME --connect ENDPOINT [options] (on A)
 *   myelon-bridge keygen PREFIX
 *
 * Exit codes: 0 ok (a signal, or the egress delivered everything its
 * producer published before exiting); 1 runtime error (refused link, bad
 * keys, missing ring); 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <myelon/bridge.h>
#include <myelon/error.h>
#include <myelon/version.h>

#include "tool_parse.h"

enum { EX_OK_ = 0, EX_ERR_ = 1, EX_USAGE_ = 2 };

static const char usage_text[] =
    "usage: myelon-bridge ingress --ring NAME --bind ENDPOINT [options]\n"
    "       myelon-bridge egress  --ring NAME --connect ENDPOINT [options]\n"
    "       myelon-bridge keygen PREFIX\n"
    "       myelon-bridge --help | --version\n"
    "\n"
    "Carry a framed ring from host A (egress) to host B (ingress) over ZeroMQ,\n"
    "lossless and back-pressured. ENDPOINT is tcp://HOST:PORT or ipc://PATH.\n"
    "tcp:// uses CurveZMQ unless --insecure is given.\n"
    "\n"
    "Both sides:\n"
    "  --ring NAME          the local ring (egress: attach; ingress: create)\n"
    "  --key FILE           this side's CURVE secret key (from keygen: PREFIX.key)\n"
    "  --peer-key FILE      the other side's CURVE public key (PREFIX.pub)\n"
    "  --insecure           plain TCP, no authentication or encryption\n"
    "  --heartbeat MS       ZeroMQ heartbeat interval (default 100)\n"
    "  --timeout MS         drop a silent peer after this (default 500)\n"
    "  --json SECONDS       print a JSON status line every SECONDS to stdout\n"
    "  --duration SECONDS   stop after this long (default: until SIGINT/SIGTERM)\n"
    "  --quiet              do not log refusals and dropped messages\n"
    "Egress:\n"
    "  --connect ENDPOINT   the ingress to send to\n"
    "  --id ID              durable consumer id on the ring (default bridge)\n"
    "  --window N           messages in flight before an acknowledgement (default 64)\n"
    "  --window-bytes SIZE  bytes in flight (default 32M; at least one message)\n"
    "  --max-message SIZE   largest message forwarded (default 16M)\n"
    "  --attach-timeout S   wait this long for the ring to exist (default 5)\n"
    "Ingress:\n"
    "  --bind ENDPOINT      where the egress connects\n"
    "  --capacity N         ring capacity in frames (default 1024; must match A's)\n"
    "  --frame-capacity N   payload bytes per frame (default 1024; must match A's)\n"
    "  --format F           compact or aligned (default compact; must match A's)\n"
    "  --max-message SIZE   largest message accepted (default 16M; >= the egress's)\n"
    "  --state FILE         record the last applied message: resume exactly after a restart\n"
    "  --wait-readers N     apply nothing before N readers attached to the ring\n"
    "\n"
    "Exit codes: 0 ok; 1 runtime error (link refused, bad keys, no ring); 2 usage.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

static int usage(const char *fmt, const char *arg)
{
  if (fmt != NULL) {
    fprintf(stderr, "myelon-bridge: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\n");
  }
  fputs(usage_text, stderr);
  return EX_USAGE_;
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

int main(int argc, char **argv)
{
  if (argc < 2)
    return usage("a mode is required (ingress, egress or keygen)", NULL);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
    return fputs(usage_text, stdout), EX_OK_;
  if (strcmp(argv[1], "--version") == 0)
    return printf("myelon-bridge %s\n", MYELON_VERSION_STRING), EX_OK_;
  if (strcmp(argv[1], "keygen") == 0) {
    if (argc != 3 || argv[2][0] == '-')
      return usage("keygen takes exactly one PREFIX", NULL);
    int rc = myelon_bridge_keygen(argv[2]);
    if (rc != 0) {
      fprintf(stderr, "myelon-bridge: keygen %s: %s\n", argv[2],
              rc == -EEXIST ? "PREFIX.key or PREFIX.pub exists (not overwritten)" : strerror(-rc));
      return EX_ERR_;
    }
    printf("wrote %s.key (secret, mode 0600) and %s.pub\n", argv[2], argv[2]);
    return EX_OK_;
  }
  bool egress;
  if (strcmp(argv[1], "egress") == 0)
    egress = true;
  else if (strcmp(argv[1], "ingress") == 0)
    egress = false;
  else
    return usage("unknown mode '%s'", argv[1]);

  struct myelon_bridge_config cfg;
  myelon_bridge_config_init(&cfg);
  double json_s = 0;
  int64_t duration_ns = -1;
  enum {
    O_RING = 256, O_CONNECT, O_BIND, O_KEY, O_PEER_KEY, O_INSECURE, O_HB, O_TIMEOUT, O_JSON, O_DURATION, O_QUIET,
    O_ID, O_WINDOW, O_WINDOW_BYTES, O_MAX_MESSAGE, O_ATTACH_TIMEOUT, O_CAPACITY, O_FRAME_CAPACITY, O_FORMAT,
    O_STATE, O_WAIT_READERS, O_HELP,
  };
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
    {"wait-readers", required_argument, 0, O_WAIT_READERS}, {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0},
  };
  const char *connect_ep = NULL, *bind_ep = NULL;
  optind = 2;
  int c;
  uint64_t u;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_RING: cfg.ring = optarg; break;
    case O_CONNECT: connect_ep = optarg; break;
    case O_BIND: bind_ep = optarg; break;
    case O_KEY: cfg.secret_key_file = optarg; break;
    case O_PEER_KEY: cfg.peer_key_file = optarg; break;
    case O_INSECURE: cfg.insecure = true; break;
    case O_QUIET: cfg.quiet = true; break;
    case O_ID: cfg.consumer_id = optarg; break;
    case O_STATE: cfg.state_path = optarg; break;
    case O_HB:
      if (!tool_parse_u64(optarg, &u) || u == 0 || u > 60000)
        return usage("--heartbeat takes milliseconds 1 .. 60000", NULL);
      cfg.heartbeat_ms = (int)u;
      break;
    case O_TIMEOUT:
      if (!tool_parse_u64(optarg, &u) || u == 0 || u > 600000)
        return usage("--timeout takes milliseconds 1 .. 600000", NULL);
      cfg.timeout_ms = (int)u;
      break;
    case O_JSON:
      if (!tool_parse_decimal(optarg, &json_s) || json_s <= 0)
        return usage("--json takes positive seconds", NULL);
      break;
    case O_DURATION:
      if (!tool_parse_seconds(optarg, &duration_ns) || duration_ns <= 0)
        return usage("--duration takes positive seconds", NULL);
      break;
    case O_ATTACH_TIMEOUT:
      if (!tool_parse_seconds(optarg, &cfg.attach_timeout_ns))
        return usage("--attach-timeout takes seconds", NULL);
      break;
    case O_WINDOW:
      if (!tool_parse_u64(optarg, &u) || u == 0 || u > (1u << 20))
        return usage("--window takes 1 .. 1048576", NULL);
      cfg.window = (uint32_t)u;
      break;
    case O_WINDOW_BYTES:
      if (!tool_parse_size(optarg, &u) || u == 0 || u > (1ULL << 40))
        return usage("--window-bytes takes a size (e.g. 32M)", NULL);
      cfg.window_bytes = (size_t)u;
      break;
    case O_MAX_MESSAGE:
      if (!tool_parse_size(optarg, &u) || u == 0 || u > MYELON_MAX_MESSAGE_LIMIT)
        return usage("--max-message takes a size up to 4G", NULL);
      cfg.max_message = (size_t)u;
      break;
    case O_CAPACITY:
      if (!tool_parse_u64(optarg, &u) || u == 0 || (u & (u - 1)) != 0)
        return usage("--capacity takes a power of two", NULL);
      cfg.ring_capacity = u;
      break;
    case O_FRAME_CAPACITY:
      if (!tool_parse_u64(optarg, &u) || u == 0 || u > UINT32_MAX)
        return usage("--frame-capacity takes a number of bytes", NULL);
      cfg.frame_capacity = (uint32_t)u;
      break;
    case O_FORMAT:
      if (strcmp(optarg, "compact") == 0)
        cfg.format = MYELON_FRAME_COMPACT;
      else if (strcmp(optarg, "aligned") == 0)
        cfg.format = MYELON_FRAME_ALIGNED;
      else
        return usage("--format takes compact or aligned", NULL);
      break;
    case O_WAIT_READERS:
      if (!tool_parse_u64(optarg, &u) || u > 4096)
        return usage("--wait-readers takes 0 .. 4096", NULL);
      cfg.wait_readers = (uint32_t)u;
      break;
    case O_HELP: return fputs(usage_text, stdout), EX_OK_;
    default: return usage(NULL, NULL);
    }
  }
  if (optind != argc)
    return usage("unexpected argument '%s'", argv[optind]);
  if (cfg.ring == NULL)
    return usage("--ring NAME is required", NULL);
  if (egress && (connect_ep == NULL || bind_ep != NULL))
    return usage("egress takes --connect ENDPOINT (and no --bind)", NULL);
  if (!egress && (bind_ep == NULL || connect_ep != NULL))
    return usage("ingress takes --bind ENDPOINT (and no --connect)", NULL);
  cfg.endpoint = egress ? connect_ep : bind_ep;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct myelon_bridge *b = NULL;
  int rc = egress ? myelon_bridge_egress_open(&cfg, &b) : myelon_bridge_ingress_open(&cfg, &b);
  if (rc < 0) {
    fprintf(stderr, "myelon-bridge %s: %s\n", argv[1], myelon_bridge_last_error(NULL));
    return EX_ERR_;
  }
  fprintf(stderr, "myelon-bridge %s: ring %s %s %s%s\n", argv[1], cfg.ring, egress ? "->" : "<-", cfg.endpoint,
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
    }
    rc = myelon_bridge_run(b, 100LL * 1000000);
    if (rc == -DMP_E_OWNERDEAD && egress) {
      fprintf(stderr, "myelon-bridge egress: %s\n", myelon_bridge_last_error(b));
      break;
    }
    if (rc < 0) {
      fprintf(stderr, "myelon-bridge %s: %s\n", argv[1], myelon_bridge_last_error(b));
      status = EX_ERR_;
      break;
    }
  }
  if (json_s > 0)
    print_json(b, egress);
  myelon_bridge_close(b);
  return status;
}
