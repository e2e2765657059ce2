/* OpenMetrics text of the rings (see prom.h). Each family is written for
 * every ring before the next family starts: OpenMetrics forbids
 * interleaving the samples of two families. */
#include "prom.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* A label value: \\, \" and \n escaped; bytes outside printable ASCII (a
 * hostile or corrupted segment may hold any) become '?', so the text stays
 * valid UTF-8. */
static void label_value(FILE *f, const char *s)
{
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\\' || *p == '"')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else
      fputc(*p >= 0x20 && *p <= 0x7e ? *p : '?', f);
  }
  fputc('"', f);
}

static void family(FILE *f, const char *name, const char *help)
{
  fprintf(f, "# TYPE %s gauge\n# HELP %s %s\n", name, name, help);
}

static void ring_labels(FILE *f, const struct prom_ring *r)
{
  fputs("ring=", f);
  label_value(f, r->name);
  fprintf(f, ",backend=\"%s\"", dmp_backend_name(r->backend));
}

/* name{ring="..",backend=".."} value */
static void ring_sample(FILE *f, const char *name, const struct prom_ring *r, const char *value)
{
  fprintf(f, "%s{", name);
  ring_labels(f, r);
  fprintf(f, "} %s\n", value);
}

enum ring_field { R_CAPACITY, R_SLOT, R_MAXC, R_CREATED, R_ALIVE, R_POS, R_PUB, R_MIN, R_FULL };

static void ring_value(const struct dmp_ring_stat *s, enum ring_field k, char *buf, size_t len)
{
  switch (k) {
  case R_CAPACITY: snprintf(buf, len, "%" PRIu64, s->capacity); return;
  case R_SLOT: snprintf(buf, len, "%u", s->slot_size); return;
  case R_MAXC: snprintf(buf, len, "%u", s->max_consumers); return;
  case R_CREATED:
    snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, s->created_ns / 1000000000u, s->created_ns % 1000000000u);
    return;
  case R_ALIVE: snprintf(buf, len, "%d", s->producer_alive ? 1 : 0); return;
  case R_POS: snprintf(buf, len, "%" PRId64, s->position); return;
  case R_PUB: snprintf(buf, len, "%" PRIu64, s->published); return;
  case R_MIN: snprintf(buf, len, "%" PRId64, s->min_gating); return;
  case R_FULL: snprintf(buf, len, "%d", s->full ? 1 : 0); return;
  }
}

static void ring_families(FILE *f, const struct prom_ring *rings, size_t n)
{
  static const struct {
    enum ring_field k;
    const char *name, *help;
  } fams[] = {
      {R_CAPACITY, "dmp_ring_capacity", "Slots in the ring."},
      {R_SLOT, "dmp_ring_slot_size_bytes", "Bytes per slot."},
      {R_MAXC, "dmp_ring_max_consumers", "Entries in the consumer table."},
      {R_CREATED, "dmp_ring_created_timestamp_seconds", "When the ring was created (CLOCK_REALTIME)."},
      {R_ALIVE, "dmp_producer_alive", "1 while the producer holds its liveness lock."},
      {R_POS, "dmp_producer_position", "Last published sequence (-1: nothing published)."},
      {R_PUB, "dmp_producer_published", "Events published (position + 1); monotonic."},
      {R_MIN, "dmp_ring_min_gating_position", "Position of the slowest gating consumer."},
      {R_FULL, "dmp_ring_full", "1 when the slowest consumer blocks the producer."},
  };
  char v[48];
  family(f, "dmp_ring_up", "1 if the ring could be read, 0 if not (see dmp-stat's errors).");
  for (size_t i = 0; i < n; i++)
    ring_sample(f, "dmp_ring_up", &rings[i], rings[i].st ? "1" : "0");
  for (size_t k = 0; k < sizeof fams / sizeof fams[0]; k++) {
    family(f, fams[k].name, fams[k].help);
    for (size_t i = 0; i < n; i++) {
      if (!rings[i].st)
        continue;
      ring_value(rings[i].st, fams[k].k, v, sizeof v);
      ring_sample(f, fams[k].name, &rings[i], v);
    }
  }
}

static void consumer_labels(FILE *f, const struct prom_ring *r, const struct dmp_consumer_stat *c)
{
  ring_labels(f, r);
  fputs(",consumer=", f);
  label_value(f, c->id);
  fprintf(f, ",entry=\"%u\"", c->index);
}

enum consumer_field { C_POS, C_CONSUMED, C_LAG, C_GATING, C_GEN };

static void consumer_families(FILE *f, const struct prom_ring *rings, size_t n)
{
  static const struct {
    enum consumer_field k;
    const char *name, *help;
  } fams[] = {
      {C_POS, "dmp_consumer_position", "Last released sequence (-1: none)."},
      {C_CONSUMED, "dmp_consumer_consumed", "Events consumed (position + 1); monotonic while attached."},
      {C_LAG, "dmp_consumer_lag", "Producer position minus consumer position."},
      {C_GATING, "dmp_consumer_gating", "1 if this consumer holds the producer back."},
      {C_GEN, "dmp_consumer_generation", "Attaches of this table entry."},
  };
  for (size_t k = 0; k < sizeof fams / sizeof fams[0]; k++) {
    family(f, fams[k].name, fams[k].help);
    for (size_t i = 0; i < n; i++) {
      const struct dmp_ring_stat *s = rings[i].st;
      for (uint32_t j = 0; s && j < s->n_consumers; j++) {
        const struct dmp_consumer_stat *c = &s->consumers[j];
        fprintf(f, "%s{", fams[k].name);
        consumer_labels(f, &rings[i], c);
        fputs("} ", f);
        switch (fams[k].k) {
        case C_POS: fprintf(f, "%" PRId64 "\n", c->position); break;
        case C_CONSUMED: fprintf(f, "%" PRIu64 "\n", c->consumed); break;
        case C_LAG: fprintf(f, "%" PRId64 "\n", c->lag); break;
        case C_GATING: fprintf(f, "%d\n", c->gating ? 1 : 0); break;
        case C_GEN: fprintf(f, "%u\n", c->generation); break;
        }
      }
    }
  }
  /* States: one sample per possible state, 1 for the current one, so that
   * a query can select or count by state. */
  static const char *const entry_states[] = {"active", "idle"};
  static const char *const peer_states[] = {"alive", "stalled", "dead", "idle"};
  family(f, "dmp_consumer_state", "Table entry state: 1 for the current one (active: attached; idle: detached).");
  for (size_t i = 0; i < n; i++) {
    const struct dmp_ring_stat *s = rings[i].st;
    for (uint32_t j = 0; s && j < s->n_consumers; j++)
      for (int k = 0; k < 2; k++) {
        fputs("dmp_consumer_state{", f);
        consumer_labels(f, &rings[i], &s->consumers[j]);
        fprintf(f, ",state=\"%s\"} %d\n", entry_states[k],
                (s->consumers[j].state == DMP_ENTRY_ACTIVE) == (k == 0));
      }
  }
  family(f, "dmp_consumer_liveness", "Liveness: 1 for the current one (alive, stalled, dead, idle).");
  for (size_t i = 0; i < n; i++) {
    const struct dmp_ring_stat *s = rings[i].st;
    for (uint32_t j = 0; s && j < s->n_consumers; j++)
      for (int k = 0; k < 4; k++) {
        fputs("dmp_consumer_liveness{", f);
        consumer_labels(f, &rings[i], &s->consumers[j]);
        fprintf(f, ",liveness=\"%s\"} %d\n", peer_states[k], (int)s->consumers[j].liveness == k);
      }
  }
}

static void counter_families(FILE *f, const struct prom_ring *rings, size_t n)
{
  family(f, "dmp_counters_present", "1 if the ring's counters segment could be read.");
  for (size_t i = 0; i < n; i++)
    if (rings[i].st)
      ring_sample(f, "dmp_counters_present", &rings[i], rings[i].st->counters_rc == 0 ? "1" : "0");
  family(f, "dmp_counter", "Every shared-memory counter of the ring (counters.h), by id, type and label.");
  for (size_t i = 0; i < n; i++) {
    const struct dmp_ring_stat *s = rings[i].st;
    for (uint32_t j = 0; s && s->counters_rc == 0 && j < s->n_counters; j++) {
      const struct dmp_counter_stat *c = &s->counters[j];
      fputs("dmp_counter{", f);
      ring_labels(f, &rings[i]);
      fprintf(f, ",id=\"%u\",type=", c->index);
      label_value(f, dmp_counter_type_name(c->type));
      fputs(",label=", f);
      label_value(f, c->label);
      fprintf(f, "} %" PRIu64 "\n", c->value);
    }
  }
  family(f, "dmp_counters_registrations_refused", "Counter registrations refused because the region was full.");
  for (size_t i = 0; i < n; i++)
    if (rings[i].st && rings[i].st->counters_rc == 0) {
      char v[24];
      snprintf(v, sizeof v, "%" PRIu64, rings[i].st->registrations_failed);
      ring_sample(f, "dmp_counters_registrations_refused", &rings[i], v);
    }
  /* The distinct-error log, summed per error code: several entries of one
   * code (different texts) would otherwise repeat a label set. */
  family(f, "dmp_errors", "Errors recorded in the ring's distinct-error log, per code; monotonic.");
  for (size_t i = 0; i < n; i++) {
    const struct dmp_ring_stat *s = rings[i].st;
    for (uint32_t j = 0; s && s->counters_rc == 0 && j < s->n_errors; j++) {
      bool seen = false;
      uint64_t sum = 0;
      for (uint32_t k = 0; k < s->n_errors; k++) {
        seen = seen || (k < j && s->errors[k].code == s->errors[j].code);
        sum += s->errors[k].code == s->errors[j].code ? s->errors[k].count : 0;
      }
      if (seen)
        continue;
      fputs("dmp_errors{", f);
      ring_labels(f, &rings[i]);
      fputs(",code=", f);
      label_value(f, s->errors[j].code ? dmp_err_name(s->errors[j].code) : "none");
      fprintf(f, "} %" PRIu64 "\n", sum);
    }
  }
}

void prom_write(FILE *f, const struct prom_ring *rings, size_t n)
{
  ring_families(f, rings, n);
  consumer_families(f, rings, n);
  counter_families(f, rings, n);
  fputs("# EOF\n", f);
}
