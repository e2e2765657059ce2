/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for the journal
 * (journal.h): table-driven software version (slicing by 8) and, on x86-64
 * CPUs with SSE4.2, the CRC32 instruction, chosen once at run time. Both
 * compute the same function; tests/journal compares them on random input.
 *
 * The `crc` argument and the result are the *finished* CRC (final XOR
 * applied), so calls chain: crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
#include <myelon/journal.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define POLY UINT32_C(0x82F63B78)

/* Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero
 * bytes. Built once (pthread_once: its completion happens before every
 * return from it, so readers see the whole table). */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; b++)
    for (int k = 1; k < 8; k++)
      table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

static inline uint64_t load_le64(const uint8_t *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

uint32_t myelon_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
  pthread_once(&table_once, build_table);
  const uint8_t *p = buf;
  uint32_t c = ~crc;
  while (len && ((uintptr_t)p & 7u)) {
    c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    len--;
  }
  while (len >= 8) {
    uint64_t v = load_le64(p) ^ c;
    c = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
        table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
        table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
    p += 8;
    len -= 8;
  }
  while (len--)
    c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
  return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

#define HAVE_HW_CRC 1

/* The CRC32 instruction has a latency of 3 cycles and a throughput of 1,
 * so three independent streams over three blocks run about three times as
 * fast as one; their CRCs are then combined by "shifting" a CRC over the
 * length of the blocks that follow it (multiplying by x^(8 len) modulo the
 * polynomial), which for a fixed length is four table lookups. This is the
 * method of Mark Adler's crc32c.c (zlib licence ideas, written anew here). */
#define LONG_BLOCK 8192u
#define SHORT_BLOCK 256u

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
  uint32_t sum = 0;
  for (; vec; vec >>= 1, mat++)
    if (vec & 1)
      sum ^= *mat;
  return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
  for (int n = 0; n < 32; n++)
    square[n] = gf2_times(mat, mat[n]);
}

/* Operator that appends `len` zero bytes to a CRC register (len a power of two). */
static void zeros_op(uint32_t *even, size_t len)
{
  uint32_t odd[32];
  odd[0] = POLY; /* one zero bit */
  for (int n = 1; n < 32; n++)
    odd[n] = UINT32_C(1) << (n - 1);
  gf2_square(even, odd); /* two zero bits */
  gf2_square(odd, even); /* four */
  for (;;) {             /* one zero byte, two, four, ... */
    gf2_square(even, odd);
    len >>= 1;
    if (len == 0)
      return;
    gf2_square(odd, even);
    len >>= 1;
    if (len == 0)
      break;
  }
  memcpy(even, odd, sizeof odd);
}

static void zeros_table(uint32_t t[4][256], size_t len)
{
  uint32_t op[32];
  zeros_op(op, len);
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 0; k < 4; k++)
      t[k][n] = gf2_times(op, n << (8 * k));
}

static void build_shifts(void)
{
  zeros_table(shift_long, LONG_BLOCK);
  zeros_table(shift_short, SHORT_BLOCK);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t crc)
{
  return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Three streams over 3 x `block` bytes at a time while they last. */
__attribute__((target("sse4.2"))) static uint64_t crc_blocks(uint64_t c0, const uint8_t **pp, size_t *lenp, size_t block,
                                                             uint32_t t[4][256])
{
  const uint8_t *p = *pp;
  size_t len = *lenp;
  while (len >= 3 * block) {
    uint64_t c1 = 0, c2 = 0;
    for (const uint8_t *end = p + block; p < end; p += 8) {
      c0 = _mm_crc32_u64(c0, load64(p));
      c1 = _mm_crc32_u64(c1, load64(p + block));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * block));
    }
    c0 = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
    c0 = shift(t, (uint32_t)c0) ^ (uint32_t)c2;
    p += 2 * block;
    len -= 3 * block;
  }
  *pp = p;
  *lenp = len;
  return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  uint64_t c = ~crc;
  while (len && ((uintptr_t)p & 7u)) {
    c = _mm_crc32_u8((uint32_t)c, *p++);
    len--;
  }
  if (len >= 3 * SHORT_BLOCK) {
    pthread_once(&shift_once, build_shifts);
    c = crc_blocks(c, &p, &len, LONG_BLOCK, shift_long);
    c = crc_blocks(c, &p, &len, SHORT_BLOCK, shift_short);
  }
  while (len >= 8) {
    c = _mm_crc32_u64(c, load64(p));
    p += 8;
    len -= 8;
  }
  while (len--)
    c = _mm_crc32_u8((uint32_t)c, *p++);
  return ~(uint32_t)c;
}
#endif

/* -1 unknown, 0 software, 1 hardware. Relaxed is enough: every thread
 * computes the same answer from the CPU, so any value it reads is right. */
static atomic_int use_hw = -1;

bool myelon_crc32c_hw(void)
{
  int v = atomic_load_explicit(&use_hw, memory_order_relaxed);
  if (v < 0) {
#ifdef HAVE_HW_CRC
    __builtin_cpu_init();
    v = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    v = 0;
#endif
    atomic_store_explicit(&use_hw, v, memory_order_relaxed);
  }
  return v == 1;
}

uint32_t myelon_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_HW_CRC
  if (myelon_crc32c_hw())
    return crc32c_hw(crc, buf, len);
#endif
  return myelon_crc32c_sw(crc, buf, len);
}
