/* myelon-demo: what the scheduler (myelon_demo.c) and the workers
 * (demo_worker.c) share: options, the message formats, the codecs, clocks
 * and the latency histogram (demo_common.c). Not installed. */
#ifndef MYELON_DEMO_COMMON_H
#define MYELON_DEMO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include <myelon/myelon.h>

#include "tool_cli.h"
#include "tool_clock.h"
#include "tool_hist.h"
#include "tool_parse.h"

#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)
#define KIND_STEP 1u
#define KIND_STOP 2u
#define DEMO_MAX_PAYLOAD (64u << 20)

enum layer { LAYER_FRAMED = 0, LAYER_TYPED = 1 };
enum role { ROLE_SCHEDULER = 0, ROLE_WORKER = 1 };

struct opts {
  uint32_t workers;
  uint64_t steps;
  uint32_t payload;
  enum dmp_backend backend;
  enum layer layer;
  int64_t step_timeout_ns; /* bound of every broadcast and gather */
  char session[128];       /* session label -> ring names */
  char dir[MYELON_LAYOUT_DIR_MAX + 1]; /* mmap backend: ring files */
  bool own_dir; /* `dir` was made here (mkdtemp), so the scheduler removes it at the end */
  enum role role;          /* the rest is set by the scheduler for its workers */
  uint32_t index;
  int64_t kill_at;         /* hidden: the last worker kills itself at this step (-1: never) */
  uint32_t remote;         /* the last `remote` workers run on hosts of their own (demo_remote.c) */
  bool one_ring;           /* every worker answers on one multi-producer gather ring */
  uint64_t ring_bytes;     /* nonzero: every ring a MYELON_FRAME_BYTES ring of this many bytes */
};

/* Command line: 0 run; -1 --help or --version printed (exit 0); otherwise
 * the exit status of a usage error (message printed). */
int parse_args(int argc, char **argv, struct opts *o);

/* Default session label, and the mmap directory. */
int prepare_session(struct opts *o);

/* The topology every process of the run builds from the options. */
int topology_config(const struct opts *o, struct myelon_topology_config *cfg);

const char *layer_name(enum layer l);


/* ---- messages ---------------------------------------------------------- */

/* Request {"step": k, "input": bin}; answer {"step", "worker", "checksum"}. */
struct demo_request {
  uint64_t step;
  const uint8_t *input; /* NULL after an owned decode */
  size_t len;
};

struct demo_answer {
  uint64_t step;
  uint32_t worker;
  uint64_t checksum;
};

void fill_payload(uint8_t *p, size_t len, uint64_t step);
uint64_t payload_checksum(const uint8_t *p, size_t len);

/* Largest packed size of a request with `payload` input bytes. */
size_t request_bound(uint32_t payload);

/* A msgpack-c writer into a fixed buffer (the ring slot). */
struct fixbuf {
  void *p;
  size_t len;
  size_t cap;
};
int fixbuf_write(void *data, const char *buf, size_t len);

int pack_request(msgpack_packer *pk, uint64_t step, const uint8_t *input, size_t len);
int pack_answer(msgpack_packer *pk, const struct demo_answer *a);

/* Framed layer: msgpack-c directly. Typed layer: the Layer 2 codecs. */
int decode_answer(enum layer layer, const struct myelon_codec *codec, const void *data, size_t len,
                  struct demo_answer *out);

/* The Layer 2 msgpack codecs of both messages (static types). */
int demo_codecs(struct myelon_codec *request, struct myelon_codec *answer);

/* ---- the worker process ---------------------------------------------------- */

int run_worker(const struct opts *o);

/* ---- --remote (demo_remote.c) ---------------------------------------------------- */

/* Root, the shm backend, myelon-bridge next to us, `ip`: 0, or -1 (said why). */
int remote_check(const struct opts *o);
/* The scheduler's own host: namespaces of its own, a private /dev/shm. */
int remote_enter_host_a(void);
/* Worker `index` on a host of its own, behind two bridges; the host's pid. */
pid_t remote_spawn_worker(const struct opts *o, uint32_t index, char *const *worker_argv);
/* Stop host A's bridges (bounded). */
void remote_stop(void);

/* ---- latency output ----------------------------------------------------------- */

void format_latency(char *buf, size_t len, uint64_t ns);

#endif /* MYELON_DEMO_COMMON_H */
