/* myelon-demo --remote K: the last K workers run on other "hosts", each
 * behind a myelon-bridge link, with the same topology and the same checks.
 *
 * A host is a network, IPC and mount namespace with a private tmpfs on
 * /dev/shm (as tests/bridge/two_hosts.sh builds them), so every host has
 * its own rings, and a ring reaches another host only through a bridge:
 *
 *   host A (the scheduler and the local workers; namespaces of its own)
 *     request ring --egress (consumer "w<i>")--> 10.218.<i>.2:5555
 *     response ring i <--ingress-- 10.218.<i>.1:5556
 *   host B<i> (worker i)
 *     ingress --> request ring (same name) --> worker i (consumer "w<i>")
 *     worker i --> response ring i --egress--> host A
 *
 * joined by a veth pair va<i>/vb<i> (10.218.<i>.1 and .2/30). The
 * scheduler's rendezvous sees "w<i>" on its request ring (the egress, which
 * attaches once B<i>'s ingress accepted the link, itself waiting for the
 * worker to attach there) and gathers from response ring i on A (the
 * ingress republishes worker i's answers): neither side can tell that the
 * other is remote. The links are plain TCP (--insecure) on the private
 * veth; nothing leaves the namespaces. Needs root (namespaces, veth) and
 * myelon-bridge next to myelon-demo. */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_common.h"

static char bridge_tool[PATH_MAX];
static pid_t a_bridges[2 * MYELON_WORKERS_MAX];
static int n_a_bridges;

/* One `ip` command line (through sh); 0 or -1, the command named on failure. */
__attribute__((format(printf, 1, 2))) static int run_cmd(const char *fmt, ...)
{
  char cmd[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  if (st != 0) {
    fprintf(stderr, "myelon-demo: --remote: '%s' failed (status %d)\n", cmd, st);
    return -1;
  }
  return 0;
}

int remote_check(const struct opts *o)
{
  if (geteuid() != 0) {
    fprintf(stderr, "myelon-demo: --remote needs root: it runs each remote worker on its own \"host\" (a network, "
            "IPC and mount namespace joined by a veth pair); run it as root, or without --remote\n");
    return -1;
  }
  if (o->backend != DMP_BACKEND_SHM) {
    fprintf(stderr, "myelon-demo: --remote runs on the shm backend only (each host has its own /dev/shm)\n");
    return -1;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "myelon-demo: --remote: cannot read /proc/self/exe: %s\n", strerror(errno));
    return -1;
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  *slash = '\0';
  if (snprintf(bridge_tool, sizeof bridge_tool, "%.*s/myelon-bridge", (int)(sizeof bridge_tool - 16), self) >=
          (int)sizeof bridge_tool ||
      access(bridge_tool, X_OK) != 0) {
    fprintf(stderr, "myelon-demo: --remote needs myelon-bridge next to myelon-demo (%s: %s; it is built only "
            "when libzmq is found)\n", bridge_tool, strerror(errno));
    return -1;
  }
  if (system("ip -V >/dev/null 2>&1") != 0) {
    fprintf(stderr, "myelon-demo: --remote needs the ip command (iproute2)\n");
    return -1;
  }
  return 0;
}

/* Make the calling process a host: namespaces of its own, a private /dev/shm. */
static int become_host(void)
{
  if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) != 0) {
    fprintf(stderr, "myelon-demo: --remote: unshare(net, ipc, mount): %s\n", strerror(errno));
    return -1;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g") != 0) {
    fprintf(stderr, "myelon-demo: --remote: a private /dev/shm: %s\n", strerror(errno));
    return -1;
  }
  return run_cmd("ip link set lo up");
}

int remote_enter_host_a(void)
{
  return become_host();
}

/* Start myelon-bridge with `args` (NULL-terminated, args[0] the mode). */
static pid_t spawn_bridge(char *const *args)
{
  char *argv[40];
  int n = 0;
  argv[n++] = "myelon-bridge";
  for (; *args && n < 39; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* no bridge outlives its host */
    if (getppid() != parent)
      _exit(127);
    execv(bridge_tool, argv);
    fprintf(stderr, "myelon-demo: cannot exec %s: %s\n", bridge_tool, strerror(errno));
    _exit(127);
  }
  return pid;
}

/* SIGTERM, then wait up to `ms` (then SIGKILL). */
static void stop_pid(pid_t pid, int ms)
{
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  for (int i = 0; i < ms; i++) {
    if (waitpid(pid, NULL, WNOHANG) != 0)
      return;
    usleep(1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

struct geometry {
  char req[MYELON_LAYOUT_PATH_MAX], resp[MYELON_LAYOUT_PATH_MAX], wid[MYELON_LAYOUT_ID_MAX];
  char req_cap[24], resp_cap[24], fcap[24], maxmsg[24];
  char ring_bytes[24]; /* "" for slot rings; else every ring's bytes (--ring-bytes) */
};

/* An ingress's ring geometry, as A's ring has it (the bridge refuses any
 * other, naming the field): `capacity` frames of the session's frame
 * capacity, or, with --ring-bytes, a framed byte ring of that many bytes
 * (the default block, as the topology makes it). `args` takes 5 entries:
 * four and the NULL that ends the command line. */
static void ingress_shape(const struct geometry *g, const char *capacity, char **args)
{
  int n = 0;
  if (g->ring_bytes[0]) {
    args[n++] = "--format";
    args[n++] = "bytes";
    args[n++] = "--ring-bytes";
    args[n++] = (char *)g->ring_bytes;
  } else {
    args[n++] = "--capacity";
    args[n++] = (char *)capacity;
    args[n++] = "--frame-capacity";
    args[n++] = (char *)g->fcap;
  }
  args[n] = NULL;
}

static int geometry(const struct opts *o, uint32_t index, struct geometry *g)
{
  struct myelon_topology_config cfg;
  struct myelon_layout l;
  if (topology_config(o, &cfg) < 0)
    return -1;
  cfg.layout.workers = o->workers;
  if (myelon_layout_make(&cfg.layout, &l) < 0 || myelon_layout_request_name(&l, g->req, sizeof g->req) < 0 ||
      myelon_layout_response_name(&l, index, g->resp, sizeof g->resp) < 0 ||
      myelon_layout_worker_id(&l, index, g->wid, sizeof g->wid) < 0) {
    fprintf(stderr, "myelon-demo: --remote: ring names: %s\n", dmp_last_error());
    return -1;
  }
  snprintf(g->req_cap, sizeof g->req_cap, "%" PRIu64, l.request_depth);
  snprintf(g->resp_cap, sizeof g->resp_cap, "%" PRIu64, l.response_depth);
  snprintf(g->fcap, sizeof g->fcap, "%u", cfg.frame_capacity);
  snprintf(g->maxmsg, sizeof g->maxmsg, "%zu", cfg.max_message);
  g->ring_bytes[0] = '\0';
  if (cfg.format == MYELON_FRAME_BYTES)
    snprintf(g->ring_bytes, sizeof g->ring_bytes, "%" PRIu64, cfg.ring_bytes);
  return 0;
}

/* Host B<i>: its end of the veth, the two bridges, the worker; exits as
 * the worker did. */
static void host_b(uint32_t i, const struct geometry *g, char *const *worker_argv, int go_fd)
{
  char c;
  if (read(go_fd, &c, 1) != 1) /* the veth is ours once host A says so */
    _exit(126);
  if (run_cmd("ip addr add 10.218.%u.2/30 dev vb%u && ip link set vb%u up", i, i, i) != 0)
    _exit(126);
  char bind[64], connect[64];
  snprintf(bind, sizeof bind, "tcp://10.218.%u.2:5555", i);
  snprintf(connect, sizeof connect, "tcp://10.218.%u.1:5556", i);
  char *ing[] = {"ingress", "--ring", (char *)g->req, "--bind", bind, "--insecure", "--quiet", "--max-message",
                 (char *)g->maxmsg, "--wait-readers", "1", NULL, NULL, NULL, NULL, NULL};
  ingress_shape(g, g->req_cap, &ing[11]);
  char *eg[] = {"egress", "--ring", (char *)g->resp, "--connect", connect, "--insecure", "--quiet", "--once",
                "--max-message", (char *)g->maxmsg, "--attach-timeout", "30", NULL};
  pid_t pi = spawn_bridge(ing), pe = spawn_bridge(eg);
  pid_t pw = fork();
  if (pw == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv("/proc/self/exe", worker_argv);
    _exit(127);
  }
  int st = 0;
  if (pw < 0 || waitpid(pw, &st, 0) != pw)
    st = 127 << 8;
  /* The worker's last answers leave with the egress (--once: it ends when
   * they are acknowledged); the ingress is told to stop. */
  for (int k = 0; k < 5000 && pe > 0 && waitpid(pe, NULL, WNOHANG) == 0; k++)
    usleep(1000);
  stop_pid(pe, 1);
  stop_pid(pi, 2000);
  if (WIFSIGNALED(st)) {
    signal(WTERMSIG(st), SIG_DFL);
    raise(WTERMSIG(st));
  }
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

pid_t remote_spawn_worker(const struct opts *o, uint32_t i, char *const *worker_argv)
{
  struct geometry g;
  if (geometry(o, i, &g) < 0)
    return -1;
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0)
    return -1;
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* no host outlives the scheduler */
    if (getppid() != parent)
      _exit(127);
    close(ready[0]);
    close(go[1]);
    if (become_host() != 0)
      _exit(126);
    if (write(ready[1], "r", 1) != 1)
      _exit(126);
    host_b(i, &g, worker_argv, go[0]);
  }
  close(ready[1]);
  close(go[0]);
  char c;
  int rc = pid > 0 && read(ready[0], &c, 1) == 1 ? 0 : -1;
  rc = rc ? rc
          : run_cmd("ip link add va%u type veth peer name vb%u netns %d && ip addr add 10.218.%u.1/30 dev va%u && "
                    "ip link set va%u up", i, i, (int)pid, i, i, i);
  if (rc == 0 && write(go[1], "g", 1) != 1)
    rc = -1;
  close(ready[0]);
  close(go[1]);
  if (rc != 0) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    return -1;
  }
  char bind[64], connect[64];
  snprintf(connect, sizeof connect, "tcp://10.218.%u.2:5555", i);
  snprintf(bind, sizeof bind, "tcp://10.218.%u.1:5556", i);
  char *eg[] = {"egress", "--ring", g.req, "--id", g.wid, "--connect", connect, "--insecure", "--quiet", "--once",
                "--max-message", g.maxmsg, NULL};
  char *ing[] = {"ingress", "--ring", g.resp, "--bind", bind, "--insecure", "--quiet", "--max-message", g.maxmsg,
                 "--wait-readers", "1", NULL, NULL, NULL, NULL, NULL};
  ingress_shape(&g, g.resp_cap, &ing[11]);
  a_bridges[n_a_bridges++] = spawn_bridge(eg);
  a_bridges[n_a_bridges++] = spawn_bridge(ing);
  return pid;
}

void remote_stop(void)
{
  for (int k = 0; k < n_a_bridges; k++)
    stop_pid(a_bridges[k], 2000);
  n_a_bridges = 0;
}
