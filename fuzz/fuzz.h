/* Shared helpers of the fuzz targets (fuzz/README.md).
 *
 * Every target defines LLVMFuzzerTestOneInput() and nothing else with
 * external linkage, so the same file links either with libFuzzer
 * (-fsanitize=fuzzer: clang builds with -Dfuzz=true) or with
 * standalone_main.c (a plain program that replays files: the fuzz-regress
 * test suite of every build). */
#ifndef MYELON_FUZZ_H
#define MYELON_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** The libFuzzer entry point each fuzz_<name>.c defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** An oracle: a property the library promises. Its failure is a bug, so it
 * aborts, which libFuzzer and the replay driver both report as a crash. */
#define FUZZ_CHECK(cond)                                                                                  \
  do {                                                                                                    \
    if (!(cond)) {                                                                                        \
      fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", __FILE__, __LINE__, #cond);                     \
      abort();                                                                                            \
    }                                                                                                     \
  } while (0)

/** Consumes the fuzz input front to back; reads past the end give zeros. */
struct fuzz_in {
  const uint8_t *p;
  size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
  uint16_t lo = fuzz_u8(in);
  return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
  uint32_t lo = fuzz_u16(in);
  return lo | (uint32_t)fuzz_u16(in) << 16;
}

/** Copy up to `n` bytes into `dst`, zero-filling what the input lacks. */
static inline void fuzz_bytes(struct fuzz_in *in, void *dst, size_t n)
{
  size_t k = n < in->left ? n : in->left;
  if (k)
    memcpy(dst, in->p, k);
  memset((uint8_t *)dst + k, 0, n - k);
  in->p += k;
  in->left -= k;
}

/** Read every byte of [p, p + n): a sanitizer reports an overread, and the
 * empty asm that consumes the result keeps the compiler from dropping the
 * loads. */
static inline void fuzz_touch(const void *p, size_t n)
{
  const uint8_t *b = p;
  uint8_t x = 0;
  for (size_t i = 0; i < n; i++)
    x ^= b[i];
  __asm__ __volatile__("" : : "r"(x));
}

/** A heap copy of exactly `n` bytes (at least 1 allocated), `align`ed as a
 * mapping or slot would be, so an overread runs into the redzone. */
static inline uint8_t *fuzz_dup(const void *src, size_t n, size_t align)
{
  void *p = NULL;
  if (posix_memalign(&p, align, n ? n : 1) != 0)
    abort(); /* a harness failure, not a finding */
  if (n)
    memcpy(p, src, n);
  return p;
}

#endif /* MYELON_FUZZ_H */
