/* An outside program on libmyelon: this process creates a framed ring and
 * publishes N messages of varying length (some longer than a frame, so
 * they travel in fragments); a second process (this program again,
 * "consume") receives and checks each one. Every wait is bounded. Exit 0:
 * every message arrived whole in the other process. */
#define _GNU_SOURCE
#include <myelon/myelon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define MESSAGES 2000
#define FRAME 256
#define SEC INT64_C(1000000000)

static size_t len_of(int i)
{
  return (size_t)(i * 37 % (3 * FRAME)) + 1; /* 1 .. 3 frames */
}

static void fill(unsigned char *buf, size_t len, int i)
{
  for (size_t k = 0; k < len; k++)
    buf[k] = (unsigned char)(i * 131 + (int)k * 7);
}

static int fail(const char *what, int rc)
{
  fprintf(stderr, "msg_app: %s: %s (%s)\n", what, myelon_strerror(rc), dmp_last_error());
  return 1;
}

static int consume(const char *name)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = name;
  cc.ring.id = "outside";
  cc.frame_capacity = FRAME;
  struct myelon_consumer *c = NULL;
  int rc = myelon_consumer_attach_timeout(&cc, 10 * SEC, &c);
  if (rc < 0)
    return fail("attach", rc);
  unsigned char want[3 * FRAME];
  for (int i = 0; i < MESSAGES; i++) {
    struct myelon_msg m;
    if ((rc = myelon_consumer_recv(c, &m, 10 * SEC)) < 0) {
      myelon_consumer_close(c);
      return fail("recv", rc);
    }
    fill(want, len_of(i), i);
    if (m.len != len_of(i) || m.kind != (uint8_t)(i % 200) || memcmp(m.data, want, m.len) != 0) {
      fprintf(stderr, "msg_app: message %d: %zu bytes, kind %u, want %zu bytes\n", i, m.len, m.kind, len_of(i));
      myelon_consumer_close(c);
      return 1;
    }
    myelon_consumer_release(c);
  }
  myelon_consumer_close(c);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "consume") == 0)
    return consume(argv[2]);
  char name[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("outmsg", name, sizeof name);
  if (rc < 0)
    return fail("name", rc);
  pid_t pid = driver_spawn(argv[0], name);
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = name;
  pc.ring.capacity = 64;
  pc.ring.wait_consumers = 1; /* the consumer attaches before the first message */
  pc.ring.wait_timeout_ns = 10 * SEC;
  pc.frame_capacity = FRAME;
  struct myelon_producer *p = NULL;
  if ((rc = myelon_producer_create(&pc, &p)) < 0) {
    driver_reap("msg_app", pid, 15);
    return fail("create", rc);
  }
  unsigned char buf[3 * FRAME];
  for (int i = 0; i < MESSAGES && rc >= 0; i++) {
    fill(buf, len_of(i), i);
    rc = myelon_producer_publish(p, buf, len_of(i), (uint8_t)(i % 200), 10 * SEC);
  }
  int st = driver_reap("msg_app", pid, 30);
  myelon_producer_close(p);
  if (rc < 0)
    return fail("publish", rc);
  if (st != 0)
    return 1;
  printf("msg_app: myelon %s: %d messages from pid %d to pid %d, all whole\n", myelon_version(), MESSAGES,
         (int)getpid(), (int)pid);
  return 0;
}
