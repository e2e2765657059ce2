/**
 * @file lines_pp.c
 * @brief lines-pp: what decides a large round trip between two cores
 * (issue 20; bench/README.md, "Issue 20: what decides a large round trip").
 *
 * Two processes pinned to cores 0 and 1 (fork, one MAP_SHARED mapping)
 * play a ping-pong of `--size` bytes: the client copies its message from a
 * private buffer into shared memory and raises a flag, the server copies
 * it out into its own buffer, copies that into shared memory and raises
 * the other flag, the client copies the reply out. What varies is where in
 * shared memory the two copies land and how they are made, one VARIANT per
 * argument, `layout:slots:write:read[:touch]`:
 *
 *   layout 1  one buffer for both directions (the one-line `floor`: the
 *             server writes its reply into the lines it just read)
 *          2  one buffer per direction (`floor-2line`)
 *          3  a ring of `slots` buffers per direction, message n in slot
 *             n % slots (a byte ring of a few messages)
 *          4  as 2, each copy made in `slots` chunks, a flag store after
 *             each, the reader copying each chunk once its flag shows it
 *          5  as 1, in chunks as 4
 *   write, read  the copy into / out of shared memory: memcpy (glibc's),
 *             rep (REP MOVSB), nt (32-byte non-temporal stores, then
 *             SFENCE), avx (32-byte aligned stores), pfw (PREFETCHW of the
 *             whole destination, then memcpy), pfr (PREFETCH of the whole
 *             source, then memcpy)
 *   touch     after raising its flag each side 1: PREFETCHWs, 2: loads and
 *             stores back one byte of each line of, the slot its next
 *             message goes to (layouts 2, 3)
 *
 * The variants run in alternating blocks of `--per` round trips (two
 * warm-up rounds, then `--blocks` rounds), so all of them see the same
 * neighbours; per variant the medians of the round trip and of each copy
 * (client write, server read, server write, client read; TSC, calibrated
 * against CLOCK_MONOTONIC) and the round trip over the first variant's.
 * Every wait is bounded (10 s, then exit 3); the server dies with the
 * client (PR_SET_PDEATHSIG). Nothing is created in /dev/shm. x86-64 only
 * (exit 77 elsewhere); nt and avx need AVX2 (refused without it).
 *
 *   lines-pp 1:1:memcpy:memcpy 2:1:memcpy:memcpy 3:16:memcpy:memcpy 4:4:memcpy:memcpy
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
  fputs("lines-pp: x86-64 only\n", stderr);
  return 77;
}
#else
#include <immintrin.h>
#include <x86intrin.h>

#define MAXV 16
#define WAIT_NS INT64_C(10000000000)
#define DONE 255u /* flag low byte: the whole message is there */

typedef void (*copy_fn)(void *, const void *, size_t);

static void c_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }

static void c_rep(void *d, const void *s, size_t n)
{
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

__attribute__((target("avx2"))) static void c_nt(void *d, const void *s, size_t n)
{
  for (size_t i = 0; i < n; i += 32)
    _mm256_stream_si256((__m256i *)((char *)d + i), _mm256_loadu_si256((const __m256i *)((const char *)s + i)));
  _mm_sfence();
}

__attribute__((target("avx2"))) static void c_avx(void *d, const void *s, size_t n)
{
  for (size_t i = 0; i < n; i += 32)
    _mm256_store_si256((__m256i *)((char *)d + i), _mm256_loadu_si256((const __m256i *)((const char *)s + i)));
}

static void c_pfw(void *d, const void *s, size_t n)
{
  for (size_t i = 0; i < n; i += 64)
    __builtin_prefetch((char *)d + i, 1, 3);
  memcpy(d, s, n);
}

static void c_pfr(void *d, const void *s, size_t n)
{
  for (size_t i = 0; i < n; i += 64)
    __builtin_prefetch((const char *)s + i, 0, 3);
  memcpy(d, s, n);
}

static const struct {
  const char *name;
  copy_fn f;
  bool avx2;
} copies[] = {{"memcpy", c_memcpy, false}, {"rep", c_rep, false}, {"nt", c_nt, true},
              {"avx", c_avx, true},        {"pfw", c_pfw, false}, {"pfr", c_pfr, false}};
#define NCOPIES (sizeof copies / sizeof copies[0])

struct variant {
  int layout, slots, touch;
  unsigned w, r; /* index into copies */
  const char *spec;
};

struct ctl {
  _Alignas(64) _Atomic uint64_t req;  /* (message << 8) | chunks done, or DONE */
  _Alignas(64) _Atomic uint64_t resp; /* the same, for the reply */
  _Alignas(64) _Atomic int v;         /* the variant of the next message */
  _Atomic int stop;
  _Atomic int failed;
};

static struct variant V[MAXV];
static int nv;
static size_t size = 65536, stride, per_dir;
static struct ctl *ctl;
static uint8_t *area;

static inline uint64_t tick(void)
{
  unsigned aux;
  return __rdtscp(&aux);
}

static int64_t mono_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spin until `*f` is at least (or, with `exact`, equal to) `want`; false
 * after WAIT_NS or once the other side has failed. The clock is read every
 * 4096 spins only. */
static bool wait_flag(_Atomic uint64_t *f, uint64_t want, bool exact)
{
  int64_t deadline = 0;
  for (uint32_t k = 1;; k++) {
    /* W1: acquire load of the flag; pairs with W2 (the bytes it covers). */
    uint64_t v = atomic_load_explicit(f, memory_order_acquire);
    if (exact ? v == want : v >= want)
      return true;
    if ((k & 4095) == 0) {
      int64_t now = mono_ns();
      if (!deadline)
        deadline = now + WAIT_NS;
      else if (now > deadline || atomic_load_explicit(&ctl->failed, memory_order_relaxed))
        return false;
    }
  }
}

static uint8_t *slot(const struct variant *v, int dir, uint64_t n)
{
  if (v->layout == 1 || v->layout == 5)
    return area;
  if (v->layout == 3)
    return area + (size_t)dir * per_dir + (size_t)(n % (uint64_t)v->slots) * stride;
  return area + (size_t)dir * per_dir;
}

/* Write message n (in chunks for layouts 4, 5), then flag it whole. */
static void put(const struct variant *v, _Atomic uint64_t *f, uint64_t n, uint8_t *dst, const uint8_t *src)
{
  int chunks = v->layout >= 4 ? v->slots : 1;
  size_t ch = size / (size_t)chunks;
  for (int c = 0; c < chunks; c++) {
    copies[v->w].f(dst + (size_t)c * ch, src + (size_t)c * ch, ch);
    /* W2: release store of the flag; pairs with W1. */
    atomic_store_explicit(f, n << 8 | (c + 1 == chunks ? DONE : (uint64_t)(c + 1)), memory_order_release);
  }
}

/* Read message n as put() writes it. */
static bool get(const struct variant *v, _Atomic uint64_t *f, uint64_t n, uint8_t *dst, const uint8_t *src)
{
  int chunks = v->layout >= 4 ? v->slots : 1;
  size_t ch = size / (size_t)chunks;
  for (int c = 0; c < chunks; c++) {
    if (!wait_flag(f, c + 1 == chunks ? (n << 8 | DONE) : (n << 8 | (uint64_t)(c + 1)), c + 1 == chunks))
      return false;
    copies[v->r].f(dst + (size_t)c * ch, src + (size_t)c * ch, ch);
  }
  return true;
}

static void touch_next(const struct variant *v, int dir, uint64_t n)
{
  if (!v->touch || v->layout < 2 || v->layout > 3)
    return;
  uint8_t *d = slot(v, dir, n + 1);
  for (size_t i = 0; i < size; i += 64) {
    if (v->touch == 1) {
      __builtin_prefetch(d + i, 1, 3);
    } else {
      volatile uint8_t *q = d + i;
      *q = *q; /* the slot is this side's to write: no reader is on it */
    }
  }
}

static void pin(int cpu)
{
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s) != 0)
    fprintf(stderr, "lines-pp: cannot pin to core %d (%s): figures are not comparable\n", cpu, strerror(errno));
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *a, size_t n)
{
  qsort(a, n, sizeof *a, cmp_u64);
  return n ? a[n / 2] : 0;
}

static bool parse_variant(const char *spec, struct variant *v)
{
  char w[16], r[16];
  int used = 0;
  v->touch = 0;
  v->spec = spec;
  int got = sscanf(spec, "%d:%d:%15[a-z]:%15[a-z]%n", &v->layout, &v->slots, w, r, &used);
  if (got != 4)
    return false;
  if (spec[used] == ':') {
    int more = 0;
    if (sscanf(spec + used, ":%d%n", &v->touch, &more) != 1 || spec[used + more] != '\0' || v->touch < 0 ||
        v->touch > 2)
      return false;
  } else if (spec[used] != '\0') {
    return false;
  }
  if (v->layout < 1 || v->layout > 5 || v->slots < 1 || v->slots > 254)
    return false;
  if (v->layout >= 4 && (size % (size_t)v->slots || (size / (size_t)v->slots) % 64))
    return false; /* chunks of whole lines */
  v->w = v->r = NCOPIES;
  for (unsigned k = 0; k < NCOPIES; k++) {
    if (!strcmp(w, copies[k].name))
      v->w = k;
    if (!strcmp(r, copies[k].name))
      v->r = k;
  }
  if (v->w == NCOPIES || v->r == NCOPIES)
    return false;
  if ((copies[v->w].avx2 || copies[v->r].avx2) && !__builtin_cpu_supports("avx2")) {
    fprintf(stderr, "lines-pp: '%s' needs AVX2, which this CPU lacks\n", spec);
    return false;
  }
  return true;
}

static int usage(void)
{
  fputs("usage: lines-pp [--size BYTES] [--blocks N] [--per N] LAYOUT:SLOTS:WRITE:READ[:TOUCH]...\n"
        "  (bench/src/lines_pp.c: layouts 1-5, copies memcpy rep nt avx pfw pfr, touch 0-2)\n",
        stderr);
  return 2;
}

/* The server: echo every message of every variant until told to stop. */
static void serve(uint64_t *samples, size_t cap)
{
  uint8_t *buf = aligned_alloc(4096, size);
  if (!buf)
    _exit(1);
  memset(buf, 2, size);
  uint64_t n = 0;
  size_t cnt[MAXV] = {0};
  for (;;) {
    uint64_t r;
    int64_t deadline = mono_ns() + WAIT_NS;
    uint32_t k = 0;
    /* W1 (as wait_flag): a new message number in the request flag. */
    while (((r = atomic_load_explicit(&ctl->req, memory_order_acquire)) >> 8) == n) {
      if (atomic_load_explicit(&ctl->stop, memory_order_acquire))
        _exit(0);
      if ((++k & 4095) == 0 && mono_ns() > deadline)
        goto fail;
    }
    n = r >> 8;
    int vi = atomic_load_explicit(&ctl->v, memory_order_relaxed); /* stored before W2 of the request */
    const struct variant *v = &V[vi];
    uint64_t t0 = tick();
    if (!get(v, &ctl->req, n, buf, slot(v, 0, n)))
      goto fail;
    uint64_t t1 = tick();
    put(v, &ctl->resp, n, slot(v, 1, n), buf);
    uint64_t t2 = tick();
    touch_next(v, 1, n);
    if (cnt[vi] < cap) {
      samples[((size_t)vi * cap + cnt[vi]) * 2] = t1 - t0;
      samples[((size_t)vi * cap + cnt[vi]) * 2 + 1] = t2 - t1;
      cnt[vi]++;
    }
  }
fail:
  atomic_store_explicit(&ctl->failed, 1, memory_order_relaxed);
  _exit(3);
}

int main(int argc, char **argv)
{
  long blocks = 20, per = 200;
  int a = 1;
  for (; a + 1 < argc && argv[a][0] == '-' && argv[a][1] == '-'; a += 2) {
    char *end;
    long x = strtol(argv[a + 1], &end, 10);
    if (*end || x < 1)
      return usage();
    if (!strcmp(argv[a], "--size"))
      size = (size_t)x;
    else if (!strcmp(argv[a], "--blocks"))
      blocks = x;
    else if (!strcmp(argv[a], "--per"))
      per = x;
    else
      return usage();
  }
  if (size < 64 || size % 64 || size > ((size_t)1 << 30) || blocks > 100000 || per > 100000)
    return usage();
  for (; a < argc; a++) {
    if (nv == MAXV || !parse_variant(argv[a], &V[nv])) {
      fprintf(stderr, "lines-pp: bad or too many variants at '%s'\n", argv[a]);
      return usage();
    }
    nv++;
  }
  if (!nv)
    return usage();
  int maxslots = 1;
  for (int i = 0; i < nv; i++)
    if (V[i].layout == 3 && V[i].slots > maxslots)
      maxslots = V[i].slots;
  stride = size + 64; /* a line between slots, as a byte ring's header */
  per_dir = stride * (size_t)maxslots;
  size_t n_samples = (size_t)blocks * (size_t)per;
  ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  area = mmap(NULL, 2 * per_dir, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  /* the server's per-message copy times, per variant, read after it exits */
  size_t srv_cap = n_samples + 2 * (size_t)per;
  uint64_t *srv = mmap(NULL, (size_t)nv * srv_cap * 2 * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  uint8_t *priv = aligned_alloc(4096, 2 * size);
  uint64_t *s = calloc((size_t)nv * 3 * n_samples, sizeof *s);
  if (ctl == MAP_FAILED || area == MAP_FAILED || srv == MAP_FAILED || !priv || !s) {
    fputs("lines-pp: out of memory\n", stderr);
    return 1;
  }
  memset(priv, 1, 2 * size);
  int64_t m0 = mono_ns();
  uint64_t k0 = tick();
  struct timespec nap = {0, 100000000};
  nanosleep(&nap, NULL);
  double tsc_ns = (double)(mono_ns() - m0) / (double)(tick() - k0);

  pid_t parent = getpid(), pid = fork();
  if (pid < 0) {
    perror("lines-pp: fork");
    return 1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    pin(1);
    serve(srv, srv_cap);
  }
  pin(0);
  uint8_t *out = priv, *in = priv + size;
  uint64_t n = 0;
  size_t cnt[MAXV] = {0};
  int rc = 0;
  for (long blk = -2; blk < blocks && rc == 0; blk++)
    for (int vi = 0; vi < nv && rc == 0; vi++) {
      const struct variant *v = &V[vi];
      atomic_store_explicit(&ctl->v, vi, memory_order_relaxed); /* published by W2 of the request */
      for (long i = 0; i < per; i++) {
        n++;
        uint64_t t0 = tick();
        put(v, &ctl->req, n, slot(v, 0, n), out);
        uint64_t t1 = tick();
        touch_next(v, 0, n);
        /* Whole messages: the reply's flag first, so that c_read is the
         * copy alone; chunked ones: the copy overlaps the wait. */
        if (v->layout < 4 && !wait_flag(&ctl->resp, n << 8 | DONE, true)) {
          rc = 3;
          break;
        }
        uint64_t t2 = tick();
        if (!get(v, &ctl->resp, n, in, slot(v, 1, n))) {
          rc = 3;
          break;
        }
        uint64_t t3 = tick();
        if (blk >= 0) {
          size_t c = (size_t)vi * 3 * n_samples + cnt[vi]++;
          s[c] = t3 - t0;
          s[c + n_samples] = t1 - t0;
          s[c + 2 * n_samples] = v->layout >= 4 ? 0 : t3 - t2; /* chunked: the read overlaps the wait */
        }
      }
    }
  atomic_store_explicit(&ctl->stop, 1, memory_order_release);
  if (rc) {
    atomic_store_explicit(&ctl->failed, 1, memory_order_relaxed);
    kill(pid, SIGKILL);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (rc || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fputs("lines-pp: a wait ran past 10 s or the server failed\n", stderr);
    return 3;
  }
  printf("%-24s %9s %9s %9s %9s %9s  (ns, medians; size %zu, %ld x %ld round trips; c_read 0: chunked)\n", "variant",
         "rtt", "c_write", "s_read", "s_write", "c_read", size, blocks, per);
  double base = 0;
  for (int vi = 0; vi < nv; vi++) {
    size_t m = cnt[vi], off = (size_t)vi * 3 * n_samples;
    /* the server's samples: its last m messages of this variant (after the warm-up) */
    uint64_t *sr = calloc(m + 1, sizeof *sr), *sw = calloc(m + 1, sizeof *sw);
    if (!sr || !sw)
      return 1;
    for (size_t i = 0; i < m; i++) {
      size_t j = (size_t)vi * srv_cap + 2 * (size_t)per + i;
      sr[i] = srv[j * 2];
      sw[i] = srv[j * 2 + 1];
    }
    double rtt = (double)median(s + off, m) * tsc_ns;
    if (vi == 0)
      base = rtt;
    printf("%-24s %9.0f %9.0f %9.0f %9.0f %9.0f  %.3fx\n", V[vi].spec, rtt,
           (double)median(s + off + n_samples, m) * tsc_ns, (double)median(sr, m) * tsc_ns,
           (double)median(sw, m) * tsc_ns, (double)median(s + off + 2 * n_samples, m) * tsc_ns,
           base > 0 ? rtt / base : 0.0);
    free(sr);
    free(sw);
  }
  return 0;
}
#endif
