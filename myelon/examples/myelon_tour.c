/* myelon-tour: libmyelon in two processes. `receive` attaches (waiting up
 * to 10 s for each ring), `send` creates the rings and publishes:
 *   1. Layer 1: messages of any length, as bytes (framed);
 *   2. Layers 2-3: a C struct as msgpack, through a field table (typed).
 * The receiver reads until the sender has closed the ring and nothing is
 * left (-DMP_E_OWNERDEAD), then checks it got every message.
 *
 *   cc -std=c11 -o myelon-tour myelon_tour.c $(pkg-config --cflags --libs myelon)
 *   ./myelon-tour receive tour &    # process 1
 *   ./myelon-tour send tour         # process 2
 */
#include <myelon/myelon.h>
#include <stdio.h>
#include <string.h>

#define SECOND INT64_C(1000000000)
#define COUNT 3

/* The typed message and its field table (myelon/msgpack_codec.h). */
struct greeting {
  int64_t n;
  char text[32];
};
static const struct myelon_mp_field greeting_fields[] = {
  MYELON_MP_NUM(struct greeting, n),
  MYELON_MP_STR(struct greeting, text),
};
static const struct myelon_mp_struct greeting_desc = MYELON_MP_STRUCT(struct greeting, greeting_fields);
static const struct myelon_mp_type greeting_type = MYELON_MP_TYPE_DESC(greeting_desc);

static int fail(const char *what, int rc)
{
  fprintf(stderr, "myelon-tour: %s: %s (%s)\n", what, myelon_strerror(rc), dmp_last_error());
  return 1;
}

static int sender(const char *framed, const char *typed)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);  /* defaults for every field ... */
  pc.ring.name = framed;             /* ... but the name, which is required */
  pc.ring.wait_consumers = 1;        /* create returns once the receiver is attached */
  pc.ring.wait_timeout_ns = 10 * SECOND;
  struct myelon_producer *p;
  int rc = myelon_producer_create(&pc, &p);
  if (rc < 0)
    return fail("create the framed ring", rc);
  for (int i = 0; i < COUNT && rc >= 0; i++) {
    char text[64];
    int len = snprintf(text, sizeof text, "hello #%d over a framed ring", i);
    rc = myelon_producer_publish(p, text, (size_t)len + 1, /* kind */ 1, SECOND);
  }
  myelon_producer_close(p);          /* the receiver still reads what is left */
  if (rc < 0)
    return fail("publish", rc);

  struct myelon_codec codec;
  if ((rc = myelon_msgpack_codec_init(&codec, &greeting_type)) < 0)
    return fail("codec", rc);
  pc.ring.name = typed;
  struct myelon_typed_producer *tp;
  if ((rc = myelon_typed_producer_create(&pc, &codec, &tp)) < 0)
    return fail("create the typed ring", rc);
  for (int i = 0; i < COUNT && rc >= 0; i++) {
    struct greeting g = {.n = i};
    snprintf(g.text, sizeof g.text, "greeting #%d", i);
    rc = myelon_typed_producer_publish(tp, &g, /* kind */ 2, SECOND); /* encoded as msgpack */
  }
  myelon_typed_producer_close(tp);
  return rc < 0 ? fail("typed publish", rc) : 0;
}

static int receiver(const char *framed, const char *typed)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = framed;             /* required: */
  cc.ring.id = "tour";               /* the ring and this consumer's id */
  struct myelon_consumer *c;
  int rc = myelon_consumer_attach_timeout(&cc, 10 * SECOND, &c);
  if (rc < 0)
    return fail("attach to the framed ring", rc);
  int got = 0;
  struct myelon_msg m;
  while ((rc = myelon_consumer_recv(c, &m, 10 * SECOND)) == 0) {
    printf("framed: %s (%zu bytes, kind %u)\n", (const char *)m.data, m.len, m.kind);
    myelon_consumer_release(c);
    got++;
  }
  myelon_consumer_close(c);
  if (rc != -DMP_E_OWNERDEAD || got != COUNT)  /* OWNERDEAD: closed, all read */
    return fail("framed receive", rc);

  struct myelon_codec codec;
  if ((rc = myelon_msgpack_codec_init(&codec, &greeting_type)) < 0)
    return fail("codec", rc);
  cc.ring.name = typed;
  struct myelon_typed_consumer *tc;
  if ((rc = myelon_typed_consumer_attach_timeout(&cc, &codec, 10 * SECOND, &tc)) < 0)
    return fail("attach to the typed ring", rc);
  struct greeting *g;
  for (got = 0; (rc = myelon_typed_consumer_recv(tc, (void **)&g, NULL, 10 * SECOND)) == 0; got++) {
    printf("typed:  {n: %lld, text: \"%s\"}\n", (long long)g->n, g->text);
    myelon_codec_free(&codec, g);    /* an owned, decoded copy */
  }
  myelon_typed_consumer_close(tc);
  if (rc != -DMP_E_OWNERDEAD || got != COUNT)
    return fail("typed receive", rc);
  printf("received %d framed and %d typed messages\n", COUNT, COUNT);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc != 3 || (strcmp(argv[1], "send") != 0 && strcmp(argv[1], "receive") != 0)) {
    fprintf(stderr, "usage: myelon-tour send|receive NAME\n");
    return 2;
  }
  char framed[64], typed[64];
  snprintf(framed, sizeof framed, "/%s-framed", argv[2]);
  snprintf(typed, sizeof typed, "/%s-typed", argv[2]);
  return strcmp(argv[1], "send") == 0 ? sender(framed, typed) : receiver(framed, typed);
}
