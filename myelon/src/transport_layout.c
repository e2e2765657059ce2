/* Transport layout: ring names for one scheduler and N workers derived from a
 * session label (transport_layout.h). Pure computation plus two cold
 * helpers that touch the system: the worker rendezvous and unlink. */
#include <myelon/error.h>
#include <myelon/transport_layout.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <disruptor_mp/discovery.h>
#include <disruptor_mp/error.h>
#include <disruptor_mp/inspect.h>

#include "topology_internal.h"


void myelon_layout_config_init(struct myelon_layout_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->prefix = MYELON_LAYOUT_DEFAULT_PREFIX;
  cfg->request_depth = MYELON_DEFAULT_REQUEST_DEPTH;
  cfg->response_depth = MYELON_DEFAULT_RESPONSE_DEPTH;
  cfg->backend = DMP_BACKEND_SHM;
}

/* ---- session tag ---------------------------------------------------------- */

/* FNV-1a/64 over every byte of the label, then the murmur3 finaliser: FNV
 * alone mixes its last bytes into the high bits poorly, and the tag keeps
 * the value modulo 36^12, i.e. mostly the low bits. */
static uint64_t label_hash(const char *label)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const unsigned char *p = (const unsigned char *)label; *p; p++) {
    h ^= *p;
    h *= UINT64_C(0x100000001b3);
  }
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

int myelon_layout_session_tag(const char *label, char *out, size_t outlen)
{
  if (!label || !out)
    return dmp_error_set(__func__, "label or out is NULL"), -EINVAL;
  if (label[0] == '\0')
    return TOPO_FAIL(__func__, "cfg.label must not be empty");
  if (outlen < MYELON_SESSION_TAG_LEN + 1)
    return dmp_error_set(__func__, "buffer of %zu bytes, need %u", outlen, MYELON_SESSION_TAG_LEN + 1), -ENOSPC;
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  uint64_t h = label_hash(label);
  for (int i = (int)MYELON_SESSION_TAG_LEN - 1; i >= 0; i--) {
    out[i] = digits[h % 36];
    h /= 36;
  }
  out[MYELON_SESSION_TAG_LEN] = '\0';
  return (int)MYELON_SESSION_TAG_LEN;
}

/* ---- validation ------------------------------------------------------------ */

static bool is_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int check_prefix(const char *prefix)
{
  const char *fn = "myelon_layout_make";
  if (!prefix || prefix[0] == '\0')
    return TOPO_FAIL(fn, "cfg.prefix must not be empty");
  size_t len = strnlen(prefix, MYELON_LAYOUT_PREFIX_MAX + 1);
  if (len > MYELON_LAYOUT_PREFIX_MAX)
    return TOPO_FAIL(fn, "cfg.prefix '%.40s' is longer than %u characters", prefix, MYELON_LAYOUT_PREFIX_MAX);
  for (size_t i = 0; i < len; i++)
    if (!is_alnum(prefix[i]))
      return TOPO_FAIL(fn, "cfg.prefix '%s' must be ASCII alphanumeric: 0x%02x at %zu", prefix,
                       (unsigned char)prefix[i], i);
  return 0;
}

static int check_depth(const char *field, uint64_t depth)
{
  if (depth == 0)
    return TOPO_FAIL("myelon_layout_make", "%s must be greater than zero", field);
  if ((depth & (depth - 1)) != 0)
    return TOPO_FAIL("myelon_layout_make", "%s %llu is not a power of two", field, (unsigned long long)depth);
  return 0;
}

static int check_backend(const struct myelon_layout_config *cfg)
{
  const char *fn = "myelon_layout_make";
  if (cfg->backend == DMP_BACKEND_SHM)
    return 0;
  if (cfg->backend != DMP_BACKEND_MMAP)
    return TOPO_FAIL(fn, "cfg.backend %d is neither SHM nor MMAP", (int)cfg->backend);
  if (!cfg->dir || cfg->dir[0] == '\0')
    return TOPO_FAIL(fn, "cfg.dir must be set for the MMAP backend");
  if (strnlen(cfg->dir, MYELON_LAYOUT_DIR_MAX + 1) > MYELON_LAYOUT_DIR_MAX)
    return TOPO_FAIL(fn, "cfg.dir '%.40s...' is longer than %u characters", cfg->dir, MYELON_LAYOUT_DIR_MAX);
  return 0;
}

static int check_config(const struct myelon_layout_config *cfg)
{
  const char *fn = "myelon_layout_make";
  int rc = MYELON_RESERVED_CHECK(cfg, fn, "cfg.reserved");
  if (rc < 0)
    return rc;
  if (!cfg->label || cfg->label[0] == '\0')
    return TOPO_FAIL(fn, "cfg.label must not be empty");
  rc = check_prefix(cfg->prefix);
  if (rc < 0)
    return rc;
  if (cfg->workers == 0 || cfg->workers > MYELON_WORKERS_MAX)
    return TOPO_FAIL(fn, "cfg.workers %u is not in 1..%u", cfg->workers, MYELON_WORKERS_MAX);
  if ((rc = check_depth("cfg.request_depth", cfg->request_depth)) < 0 ||
      (rc = check_depth("cfg.response_depth", cfg->response_depth)) < 0)
    return rc;
  return check_backend(cfg);
}

/* Every derived name must be a valid Layer 0 name: by construction it is,
 * this guards the construction. */
static int check_names(const struct myelon_layout *l)
{
  char name[MYELON_LAYOUT_NAME_MAX + 1];
  for (uint32_t r = 0; r <= l->workers + 1; r++) { /* ranks, the request ring, the gather ring */
    int n = r == l->workers + 1 ? myelon_layout_gather_segment(l, name, sizeof name)
            : r == l->workers   ? myelon_layout_request_segment(l, name, sizeof name)
                                : myelon_layout_response_segment(l, r, name, sizeof name);
    if (n < 0 || dmp_name_validate(name) < 0)
      return TOPO_FAIL("myelon_layout_make", "derived name '%s' is not a valid segment name: %s", name,
                       dmp_last_error());
  }
  return 0;
}

int myelon_layout_make(const struct myelon_layout_config *cfg, struct myelon_layout *out)
{
  if (!cfg || !out)
    return dmp_error_set(__func__, "cfg or out is NULL"), -EINVAL;
  int rc = check_config(cfg);
  if (rc < 0)
    return rc;
  struct myelon_layout l;
  memset(&l, 0, sizeof l);
  l.backend = cfg->backend;
  l.workers = cfg->workers;
  l.request_depth = cfg->request_depth;
  l.response_depth = cfg->response_depth;
  snprintf(l.prefix, sizeof l.prefix, "%s", cfg->prefix);
  myelon_layout_session_tag(cfg->label, l.tag, sizeof l.tag);
  if (l.backend == DMP_BACKEND_MMAP)
    snprintf(l.dir, sizeof l.dir, "%s", cfg->dir);
  if ((rc = check_names(&l)) < 0)
    return rc;
  *out = l;
  return 0;
}

/* ---- names ----------------------------------------------------------------- */

static int check_rank(const struct myelon_layout *l, uint32_t rank, const char *fn)
{
  if (rank >= l->workers)
    return TOPO_FAIL(fn, "rank %u is out of range for %u worker%s", rank, l->workers, l->workers == 1 ? "" : "s");
  return 0;
}

/* Format into out[0..outlen); -ENOSPC if it does not fit. */
static int put(const char *fn, size_t outlen, int n)
{
  if (n < 0 || (size_t)n >= outlen)
    return dmp_error_set(fn, "buffer of %zu bytes is too small", outlen), -ENOSPC;
  return n;
}

int myelon_layout_request_segment(const struct myelon_layout *l, char *out, size_t outlen)
{
  if (!l || !out)
    return dmp_error_set(__func__, "layout or out is NULL"), -EINVAL;
  return put(__func__, outlen, snprintf(out, outlen, "%s%sp", l->prefix, l->tag));
}

int myelon_layout_response_segment(const struct myelon_layout *l, uint32_t rank, char *out, size_t outlen)
{
  if (!l || !out)
    return dmp_error_set(__func__, "layout or out is NULL"), -EINVAL;
  int rc = check_rank(l, rank, __func__);
  if (rc < 0)
    return rc;
  return put(__func__, outlen, snprintf(out, outlen, "%s%sr%x", l->prefix, l->tag, rank));
}

int myelon_layout_gather_segment(const struct myelon_layout *l, char *out, size_t outlen)
{
  if (!l || !out)
    return dmp_error_set(__func__, "layout or out is NULL"), -EINVAL;
  return put(__func__, outlen, snprintf(out, outlen, "%s%sg", l->prefix, l->tag));
}

/* "/<seg>" for SHM, "<dir>/<seg>" for MMAP. */
static int locate(const struct myelon_layout *l, const char *seg, char *out, size_t outlen, const char *fn)
{
  if (l->backend == DMP_BACKEND_MMAP)
    return put(fn, outlen, snprintf(out, outlen, "%s/%s", l->dir, seg));
  return put(fn, outlen, snprintf(out, outlen, "/%s", seg));
}

int myelon_layout_request_name(const struct myelon_layout *l, char *out, size_t outlen)
{
  char seg[MYELON_LAYOUT_NAME_MAX + 1];
  int rc = myelon_layout_request_segment(l, seg, sizeof seg);
  if (rc < 0)
    return rc;
  return out ? locate(l, seg, out, outlen, __func__) : (dmp_error_set(__func__, "out is NULL"), -EINVAL);
}

int myelon_layout_response_name(const struct myelon_layout *l, uint32_t rank, char *out, size_t outlen)
{
  char seg[MYELON_LAYOUT_NAME_MAX + 1];
  int rc = myelon_layout_response_segment(l, rank, seg, sizeof seg);
  if (rc < 0)
    return rc;
  return out ? locate(l, seg, out, outlen, __func__) : (dmp_error_set(__func__, "out is NULL"), -EINVAL);
}

int myelon_layout_gather_name(const struct myelon_layout *l, char *out, size_t outlen)
{
  char seg[MYELON_LAYOUT_NAME_MAX + 1];
  int rc = myelon_layout_gather_segment(l, seg, sizeof seg);
  if (rc < 0)
    return rc;
  return out ? locate(l, seg, out, outlen, __func__) : (dmp_error_set(__func__, "out is NULL"), -EINVAL);
}

int myelon_layout_worker_id(const struct myelon_layout *l, uint32_t rank, char *out, size_t outlen)
{
  if (!l || !out)
    return dmp_error_set(__func__, "layout or out is NULL"), -EINVAL;
  int rc = check_rank(l, rank, __func__);
  if (rc < 0)
    return rc;
  return put(__func__, outlen, snprintf(out, outlen, "w%u", rank));
}

/* ---- coordination ------------------------------------------------------------ */

void myelon_impl_format_ranks(char *out, size_t outlen, const uint32_t *ranks, size_t n)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    size_t j = i; /* runs of three or more print as "wA..wB" */
    while (j + 1 < n && ranks[j + 1] == ranks[j] + 1)
      j++;
    if (j < i + 2)
      j = i;
    const char *sep = used ? ", " : "";
    int w = j > i ? snprintf(out + used, outlen - used, "%sw%u..w%u", sep, ranks[i], ranks[j])
                  : snprintf(out + used, outlen - used, "%sw%u", sep, ranks[i]);
    if (w < 0 || (size_t)w >= outlen - used - 4) { /* keep room for " ..." */
      snprintf(out + used, outlen - used, " ...");
      return;
    }
    used += (size_t)w;
    i = j;
  }
}

int myelon_impl_wait_ids(struct dmp_producer *p, uint32_t n, int64_t timeout_ns, const char *fn,
                         const char *what)
{
  char ids[MYELON_WORKERS_MAX][MYELON_LAYOUT_ID_MAX];
  const char *ptrs[MYELON_WORKERS_MAX] = {NULL};
  for (uint32_t i = 0; i < n; i++) {
    snprintf(ids[i], sizeof ids[i], "w%u", i);
    ptrs[i] = ids[i];
  }
  int rc = dmp_producer_wait_for_ids(p, ptrs, n, timeout_ns);
  if (rc != -ETIMEDOUT)
    return rc;
  uint32_t missing[MYELON_WORKERS_MAX];
  size_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    struct dmp_consumer_info info;
    if (dmp_producer_consumer_info(p, ids[i], &info) < 0 || info.state != DMP_ENTRY_ACTIVE)
      missing[m++] = i;
  }
  char list[160];
  myelon_impl_format_ranks(list, sizeof list, missing, m);
  dmp_error_set(fn, "%zu of %u %s not attached to '%s' after %lld ms: %s", m, n, what, dmp_producer_name(p),
                (long long)(timeout_ns / 1000000), list);
  return -ETIMEDOUT;
}

int myelon_layout_wait_workers(const struct myelon_layout *l, struct dmp_producer *requests, int64_t timeout_ns)
{
  if (!l || !requests)
    return dmp_error_set(__func__, "layout or producer is NULL"), -EINVAL;
  return myelon_impl_wait_ids(requests, l->workers, timeout_ns, __func__, "workers");
}

/* ---- cleanup ------------------------------------------------------------------ */

int myelon_layout_gc(const struct myelon_layout *l)
{
  if (!l)
    return dmp_error_set(__func__, "layout is NULL"), -EINVAL;
  char path[MYELON_LAYOUT_PATH_MAX];
  int removed = 0;
  for (uint32_t r = 0; r <= l->workers + 1; r++) { /* ranks, the request ring, the gather ring */
    int rc = r == l->workers + 1 ? myelon_layout_gather_name(l, path, sizeof path)
             : r == l->workers   ? myelon_layout_request_name(l, path, sizeof path)
                                 : myelon_layout_response_name(l, r, path, sizeof path);
    if (rc >= 0 && dmp_ring_gc(l->backend, path) == 1)
      removed++;
  }
  return removed;
}
