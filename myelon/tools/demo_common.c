/* myelon-demo: options, message formats, codecs (demo_common.h). Clocks,
 * number parsing and the histogram are the tools' shared ones
 * (disruptor-mp/tools/common). */
#define _GNU_SOURCE

#include "demo_common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <myelon/msgpack_codec.h>

/* ---- names ------------------------------------------------------------------ */

const char *layer_name(enum layer l)
{
  return l == LAYER_TYPED ? "typed" : "framed";
}

/* ---- payload ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

void fill_payload(uint8_t *p, size_t len, uint64_t step)
{
  uint64_t seed = mix64(step);
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = mix64(seed + i);
    memcpy(p + i, &v, len - i < 8 ? len - i : 8);
  }
}

uint64_t payload_checksum(const uint8_t *p, size_t len)
{
  uint64_t h = mix64(len);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    h = mix64(h ^ v);
  }
  for (; i < len; i++)
    h = mix64(h ^ p[i]);
  return h;
}

/* ---- msgpack ---------------------------------------------------------------------- */

size_t request_bound(uint32_t payload)
{
  /* fixmap(2) + "step" + uint64 + "input" + bin32 header + bytes */
  return 1 + 5 + 9 + 6 + 5 + (size_t)payload;
}

int fixbuf_write(void *data, const char *buf, size_t len)
{
  struct fixbuf *f = data;
  if (len > f->cap - f->len)
    return -1;
  memcpy((char *)f->p + f->len, buf, len);
  f->len += len;
  return 0;
}

static int pack_key(msgpack_packer *pk, const char *key)
{
  size_t n = strlen(key);
  return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, key, n);
}

int pack_request(msgpack_packer *pk, uint64_t step, const uint8_t *input, size_t len)
{
  if (msgpack_pack_map(pk, 2) || pack_key(pk, "step") || msgpack_pack_uint64(pk, step) || pack_key(pk, "input") ||
      msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, input, len))
    return -ENOSPC;
  return 0;
}

int pack_answer(msgpack_packer *pk, const struct demo_answer *a)
{
  if (msgpack_pack_map(pk, 3) || pack_key(pk, "step") || msgpack_pack_uint64(pk, a->step) ||
      pack_key(pk, "worker") || msgpack_pack_uint32(pk, a->worker) || pack_key(pk, "checksum") ||
      msgpack_pack_uint64(pk, a->checksum))
    return -ENOSPC;
  return 0;
}

/* msgpack-c only: the value of `key` in `map`, or NULL. */
static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
  if (map->type != MSGPACK_OBJECT_MAP)
    return NULL;
  size_t n = strlen(key);
  for (uint32_t i = 0; i < map->via.map.size; i++) {
    const msgpack_object_kv *kv = &map->via.map.ptr[i];
    if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n && memcmp(kv->key.via.str.ptr, key, n) == 0)
      return &kv->val;
  }
  return NULL;
}

static bool get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
  const msgpack_object *v = map_get(map, key);
  if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return false;
  *out = v->via.u64;
  return true;
}

static int decode_answer_framed(const void *data, size_t len, struct demo_answer *out)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  uint64_t worker = 0;
  int rc = msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
                   get_u64(&u.data, "step", &out->step) && get_u64(&u.data, "worker", &worker) &&
                   get_u64(&u.data, "checksum", &out->checksum) && worker <= UINT32_MAX
               ? 0
               : -MYELON_E_CODEC;
  out->worker = (uint32_t)worker;
  msgpack_unpacked_destroy(&u);
  return rc;
}

int decode_answer(enum layer layer, const struct myelon_codec *codec, const void *data, size_t len,
                  struct demo_answer *out)
{
  if (layer == LAYER_FRAMED)
    return decode_answer_framed(data, len, out);
  void *v;
  int rc = myelon_codec_decode(codec, data, len, &v);
  if (rc < 0)
    return rc;
  *out = *(const struct demo_answer *)v;
  myelon_codec_free(codec, v);
  return 0;
}

/* ---- Layer 2 codecs ---------------------------------------------------------------- */

static int request_pack(msgpack_packer *pk, const void *value, void *user)
{
  (void)user;
  const struct demo_request *r = value;
  return pack_request(pk, r->step, r->input, r->len);
}

static int request_unpack(const msgpack_object *obj, void *value, void *user)
{
  (void)user;
  struct demo_request *r = value;
  const msgpack_object *in = map_get(obj, "input");
  if (!get_u64(obj, "step", &r->step) || !in || in->type != MSGPACK_OBJECT_BIN)
    return myelon_codec_fail("demo request", MYELON_CODEC_DECODE, "needs a uint 'step' and a bin 'input'");
  r->input = NULL; /* the bytes are not kept by an owned decode */
  r->len = in->via.bin.size;
  return 0;
}

static const struct myelon_mp_field answer_fields[] = {
    MYELON_MP_NUM(struct demo_answer, step),
    MYELON_MP_NUM(struct demo_answer, worker),
    MYELON_MP_NUM(struct demo_answer, checksum),
};
static const struct myelon_mp_struct answer_desc = MYELON_MP_STRUCT(struct demo_answer, answer_fields);
static const struct myelon_mp_type answer_type = MYELON_MP_TYPE_DESC(answer_desc);
static const struct myelon_mp_type request_type = {
    "demo request", sizeof(struct demo_request), NULL, request_pack, request_unpack, NULL, 0, 0, NULL};

int demo_codecs(struct myelon_codec *request, struct myelon_codec *answer)
{
  int rc = myelon_msgpack_codec_init(request, &request_type);
  return rc < 0 ? rc : myelon_msgpack_codec_init(answer, &answer_type);
}

/* ---- topology ------------------------------------------------------------------------- */

int prepare_session(struct opts *o)
{
  if (o->session[0] == '\0') {
    snprintf(o->session, sizeof o->session, "myelon-demo-%d-%lld", (int)getpid(), (long long)tool_realtime_ns());
  }
  if (o->backend != DMP_BACKEND_MMAP || o->dir[0])
    return 0;
  const char *tmp = getenv("TMPDIR");
  snprintf(o->dir, sizeof o->dir, "%s/myelon-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(o->dir)) {
    fprintf(stderr, "myelon-demo: cannot create a directory for the ring files (%s): %s\n", o->dir,
            strerror(errno));
    o->dir[0] = '\0';
    return -errno;
  }
  o->own_dir = true;
  return 0;
}

int topology_config(const struct opts *o, struct myelon_topology_config *cfg)
{
  myelon_topology_config_init(cfg);
  cfg->layout.label = o->session;
  cfg->layout.backend = o->backend;
  cfg->layout.dir = o->dir;
  size_t need = MYELON_STEP_HEADER + request_bound(o->payload);
  cfg->max_message = need > 4096 ? need : 4096;
  cfg->responses = o->one_ring ? MYELON_RESPONSES_ONE_RING : MYELON_RESPONSES_PER_WORKER;
  if (o->ring_bytes) {
    cfg->format = MYELON_FRAME_BYTES;
    cfg->ring_bytes = o->ring_bytes;
  }
  return myelon_workers_make(o->workers, &cfg->workers);
}

void format_latency(char *buf, size_t len, uint64_t ns)
{
  if (ns < 1000)
    snprintf(buf, len, "%" PRIu64 " ns", ns);
  else if (ns < 1000000)
    snprintf(buf, len, "%.1f us", (double)ns / 1e3);
  else
    snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: myelon-demo [options]\n"
          "\n"
          "Starts one scheduler and N worker processes on a libmyelon topology (shared\n"
          "memory, no daemon) and runs an inference-style loop: the scheduler broadcasts\n"
          "a msgpack step request, every worker answers on its own response ring (or,\n"
          "with --one-ring, all on one shared ring), the scheduler gathers and checks\n"
          "every answer. Prints steps/s and step latency.\n"
          "\n"
          "  --workers N      worker processes, %u..%u (default 4)\n"
          "  --payload BYTES  input bytes per step request (default 256, at most %u)\n"
          "  --steps N        steps to run (default 10000)\n"
          "  --backend B      shm (POSIX shared memory, default) or mmap (files in $TMPDIR)\n"
          "  --layer L        framed (msgpack-c over framed messages, default) or typed\n"
          "                   (libmyelon's msgpack codec and zero-copy views)\n"
          "  --timeout-ms MS  bound of each broadcast and gather (default 5000;\n"
          "                   milliseconds, or with a unit: 2s, 500us)\n"
          "  --session LABEL  session label the ring names derive from (default: unique)\n"
          "  --remote K       run the last K workers on other \"hosts\" (network, IPC and\n"
          "                   mount namespaces of their own, joined by veth pairs), each\n"
          "                   behind myelon-bridge links: the request ring carried to it,\n"
          "                   its response ring carried back (needs root)\n"
          "  --one-ring       every worker answers on one shared multi-producer ring (the\n"
          "                   gather ring) instead of a response ring of its own\n"
          "  --ring-bytes N   every ring a byte ring of N bytes (a power of two, with a\n"
          "                   unit: 64K, 1M): one record per message, up to half the\n"
          "                   ring (default: rings of 1 KiB frames; not with\n"
          "                   --one-ring; with --remote the bridges carry byte rings)\n"
          "  --help           this text\n"
          "  --version        the library version\n"
          "\n"
          "Exit status: 0 if every answer was verified, 1 on any failure (a dead or\n"
          "late worker is named; also when interrupted), 2 on bad usage (nothing is\n"
          "started).\n",
          MYELON_WORKERS_MIN, MYELON_WORKERS_MAX, DEMO_MAX_PAYLOAD);
}

static bool parse_option(struct tool_cli *cli, struct opts *o, int opt, const char *arg)
{
  static const char *const layers[] = {"framed", "typed"};
  uint64_t v;
  int e;
  switch (opt) {
  case 'w': return tool_cli_u32(cli, arg, MYELON_WORKERS_MIN, MYELON_WORKERS_MAX, &o->workers);
  case 'p': return tool_cli_size(cli, arg, 0, DEMO_MAX_PAYLOAD, &v) && ((o->payload = (uint32_t)v), true);
  case 's': return tool_cli_u64(cli, arg, 1, INT64_MAX, &o->steps);
  case 'b': return dmp_backend_parse(arg, &o->backend) == 0 || tool_cli_refuse(cli, "one of shm, mmap");
  case 'l':
    if ((e = tool_cli_choice(cli, arg, layers, 2)) < 0)
      return false;
    o->layer = e == 1 ? LAYER_TYPED : LAYER_FRAMED;
    return true;
  case 't':
    return tool_cli_duration(cli, arg, NS_PER_MS, NS_PER_MS, 3600 * NS_PER_S, &o->step_timeout_ns);
  case 'S':
    return (arg[0] && snprintf(o->session, sizeof o->session, "%s", arg) < (int)sizeof o->session) ||
           tool_cli_refuse(cli, "1..%zu bytes", sizeof o->session - 1);
  case 'D':
    return snprintf(o->dir, sizeof o->dir, "%s", arg) < (int)sizeof o->dir ||
           tool_cli_refuse(cli, "longer than %zu bytes", sizeof o->dir - 1);
  case 'R':
    if (strcmp(arg, "worker") != 0)
      return tool_cli_refuse(cli, "only 'worker'");
    o->role = ROLE_WORKER;
    return true;
  case 'I': return tool_cli_u32(cli, arg, 0, MYELON_WORKERS_MAX - 1, &o->index);
  case 'r': return tool_cli_u32(cli, arg, 1, MYELON_WORKERS_MAX, &o->remote);
  case 'O': return (o->one_ring = true), true;
  case 'B':
    if (!tool_cli_size(cli, arg, 128, UINT64_C(1) << 40, &o->ring_bytes))
      return false;
    return (o->ring_bytes & (o->ring_bytes - 1)) == 0 || tool_cli_refuse(cli, "a power of two from 128 bytes");
  case 'K':
    if (strcmp(arg, "-1") == 0)
      return (o->kill_at = -1), true;
    return tool_cli_u64(cli, arg, 0, INT64_MAX, &v) && ((o->kill_at = (int64_t)v), true);
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

static const struct option longopts[] = {
    {"workers", required_argument, NULL, 'w'},    {"payload", required_argument, NULL, 'p'},
    {"steps", required_argument, NULL, 's'},      {"backend", required_argument, NULL, 'b'},
    {"layer", required_argument, NULL, 'l'},      {"timeout-ms", required_argument, NULL, 't'},
    {"session", required_argument, NULL, 'S'},    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},          {"remote", required_argument, NULL, 'r'},
    {"one-ring", no_argument, NULL, 'O'},         {"ring-bytes", required_argument, NULL, 'B'},
    /* internal: how the scheduler starts its workers, and fault injection for tests */
    {"role", required_argument, NULL, 'R'},       {"index", required_argument, NULL, 'I'},
    {"dir", required_argument, NULL, 'D'},        {"kill-worker-at-step", required_argument, NULL, 'K'},
    {NULL, 0, NULL, 0}};

int parse_args(int argc, char **argv, struct opts *o)
{
  memset(o, 0, sizeof *o);
  o->workers = 4;
  o->payload = 256;
  o->steps = 10000;
  o->step_timeout_ns = 5 * NS_PER_S;
  o->kill_at = -1;
  static struct tool_cli cli;
  static char version[64];
  snprintf(version, sizeof version, "myelon-demo (libmyelon) %s", myelon_version());
  tool_cli_init(&cli, "myelon-demo", version, usage, "hV", longopts);
  int opt;
  while ((opt = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (opt == TOOL_CLI_EXIT)
      return cli.status == TOOL_EXIT_OK ? -1 : cli.status;
    if (!parse_option(&cli, o, opt, optarg))
      return tool_cli_bad_value(&cli, optarg);
  }
  if (optind < argc)
    return tool_cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
  if (o->remote && o->one_ring)
    return tool_cli_usage_error(&cli, "--one-ring and --remote exclude each other (a remote worker's response ring is "
                                "carried back by its own bridge)");
  if (o->ring_bytes && o->one_ring)
    return tool_cli_usage_error(&cli, "--ring-bytes and --one-ring exclude each other (a framed byte ring has one "
                                "producer: the workers cannot share a gather ring)");
  size_t need = MYELON_STEP_HEADER + request_bound(o->payload) + MYELON_BYTES_OVERHEAD;
  if (o->ring_bytes && need > o->ring_bytes / 2)
    return tool_cli_usage_error(&cli, "--payload %u needs records of %zu bytes: --ring-bytes must be at least %zu "
                                "(a message takes at most half the ring)", o->payload, need, 2 * need);
  if (o->remote > o->workers)
    return tool_cli_usage_error(&cli, "--remote %u is more than the %u workers", o->remote, o->workers);
  if (o->role == ROLE_WORKER && (o->session[0] == '\0' || o->index >= o->workers))
    return tool_cli_usage_error(&cli, "--role worker needs --session and an --index below --workers");
  return 0;
}
