/* Strict decimal number parsing for the tools (see tool_parse.h). Written
 * out rather than through strtoull()/strtod(), which accept a sign, leading
 * white space, octal or hex prefixes and exponents. */
#include "tool_parse.h"

#include <string.h>

/* Digits at *s into *v, advancing *s; false on no digit or overflow. */
static bool digits(const char **s, uint64_t *v)
{
  const char *p = *s;
  uint64_t n = 0;
  if (*p < '0' || *p > '9')
    return false;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (n > (UINT64_MAX - d) / 10)
      return false;
    n = n * 10 + d;
  }
  *s = p;
  *v = n;
  return true;
}

bool tool_parse_u64(const char *s, uint64_t *out)
{
  uint64_t v;
  if (!s || !digits(&s, &v) || *s)
    return false;
  *out = v;
  return true;
}

static unsigned suffix_shift(char c)
{
  switch (c) {
  case 'k': case 'K': return 10;
  case 'm': case 'M': return 20;
  case 'g': case 'G': return 30;
  case 't': case 'T': return 40;
  default: return 0;
  }
}

bool tool_parse_size(const char *s, uint64_t *out)
{
  uint64_t v;
  if (!s || !digits(&s, &v))
    return false;
  unsigned shift = *s ? suffix_shift(*s) : 0;
  if (*s && (shift == 0 || s[1]))
    return false;
  if (v > UINT64_MAX >> shift)
    return false;
  *out = v << shift;
  return true;
}

/* A decimal with an optional fraction at *s into *out, advancing *s. */
static bool decimal_prefix(const char **s, double *out)
{
  uint64_t whole, frac = 0;
  double scale = 1.0;
  if (!digits(s, &whole))
    return false;
  if (**s == '.') {
    const char *f = ++*s;
    if (!digits(s, &frac) || *s - f > 18) /* 18 digits always fit */
      return false;
    for (const char *p = f; p < *s; p++)
      scale *= 10.0;
  }
  *out = (double)whole + (double)frac / scale;
  return true;
}

bool tool_parse_decimal(const char *s, double *out)
{
  double v;
  if (!s || !decimal_prefix(&s, &v) || *s)
    return false;
  *out = v;
  return true;
}

bool tool_parse_duration(const char *s, int64_t unit_ns, int64_t *ns)
{
  static const struct {
    const char *name;
    double ns;
  } units[] = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double v, mult = (double)unit_ns;
  if (!s || !decimal_prefix(&s, &v))
    return false;
  if (*s) {
    size_t i = 0;
    while (i < sizeof units / sizeof units[0] && strcmp(s, units[i].name) != 0)
      i++;
    if (i == sizeof units / sizeof units[0])
      return false;
    mult = units[i].ns;
  }
  double total = v * mult;
  if (total > 4e18) /* about 127 years: keeps the sum with a clock reading in range */
    return false;
  *ns = (int64_t)(total + 0.5);
  return true;
}

bool tool_parse_seconds(const char *s, int64_t *ns)
{
  double v;
  if (!tool_parse_decimal(s, &v) || v > 1e9)
    return false;
  *ns = (int64_t)(v * 1e9 + 0.5);
  return true;
}

int tool_parse_choice(const char *s, const char *const *names, int n)
{
  for (int i = 0; s && i < n; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return -1;
}
