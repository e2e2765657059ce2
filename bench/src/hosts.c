/* Two "hosts" on one machine: namespaces, a veth pair, keys (hosts.h). */
#define _GNU_SOURCE
#include "hosts.h"
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

#define STEP_MS 10000 /* each step of making the hosts */
#define NET_PREFIX "10.219.0."

static const char *const addrs[2] = {NET_PREFIX "1", NET_PREFIX "2"};
static const char *const devs[2] = {"va", "vb"};

/* Orchestrator: the holders of the current case's hosts. */
static pid_t holders[2] = {-1, -1};
/* Role process: the holders it read, and the host it entered. */
static pid_t known[2] = {-1, -1};
static enum bench_host current = BENCH_HOST_A;

unsigned bench_hosts_mode(const struct bench_case *c)
{
  unsigned caps = 0;
  const struct bench_subject *s = bench_subject_find(c->subject);
  const struct bench_subject *p = c->pair[0] ? bench_subject_find(c->pair) : NULL;
  caps |= s ? s->caps : 0;
  caps |= p ? p->caps : 0;
  if (caps & BENCH_CAP_HOSTS)
    return BENCH_CAP_HOSTS;
  return caps & BENCH_CAP_HOSTS_LOCAL;
}

int bench_hosts_probe(char *why, size_t n)
{
  static int cached = 1; /* 1: not probed yet */
  static char reason[200];
  if (cached == 1) {
    cached = 0;
    if (geteuid() != 0) {
      snprintf(reason, sizeof reason, "not root: the two hosts are network, IPC and mount namespaces joined by a "
               "veth pair, which needs root");
      cached = -1;
    } else if (system("ip -V >/dev/null 2>&1") != 0) {
      snprintf(reason, sizeof reason, "the ip command (iproute2) is missing: it makes the veth pair");
      cached = -1;
    } else {
      pid_t pid = fork();
      if (pid == 0)
        _exit(unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) == 0 ? 0 : 1);
      int st = 0;
      if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(reason, sizeof reason, "unshare(net, ipc, mount) is refused here (a container without "
                 "CAP_SYS_ADMIN?)");
        cached = -1;
      }
    }
  }
  if (cached < 0)
    snprintf(why, n, "%s", reason);
  return cached;
}

const char *bench_bridge_tool(void)
{
#ifdef BENCH_BRIDGE_TOOL
  return BENCH_BRIDGE_TOOL;
#else
  return "";
#endif
}

const char *bench_hosts_addr(enum bench_host h) { return addrs[h]; }

enum bench_host bench_hosts_current(void) { return current; }

void bench_hosts_key(const struct bench_case *c, enum bench_host h, bool secret, char *out, size_t n)
{
  snprintf(out, n, "%s/%c.%s", c->tmpdir, h == BENCH_HOST_A ? 'a' : 'b', secret ? "key" : "pub");
}

unsigned bench_hosts_port(const struct bench_case *c, unsigned base, unsigned dir)
{
  size_t len = strlen(c->tag);
  bool b_side = len > 0 && c->tag[len - 1] == 'b';
  return base + dir + (b_side ? 2u : 0u);
}

/* ---- orchestrator: make and end the hosts -------------------------------- */

/* A holder: namespaces of its own, a private /dev/shm, lo up; reports '1'
 * (or 'E'), waits for its end of the veth, brings it up, reports '2', and
 * then only holds the namespaces until it is killed. */
static void holder_main(enum bench_host h, int up_w, int go_r, pid_t parent)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the hosts never outlive the orchestrator */
  if (getppid() != parent)
    _exit(1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_IGN);
  char st = '1';
  if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) != 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=4g") != 0 ||
      system("ip link set lo up") != 0) {
    fprintf(stderr, "myelon-bench: host %c: %s\n", 'A' + h, strerror(errno));
    st = 'E';
  }
  if (write(up_w, &st, 1) != 1 || st == 'E')
    _exit(1);
  char go;
  if (read(go_r, &go, 1) != 1)
    _exit(1);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "ip addr add %s/24 dev %s && ip link set %s up", addrs[h], devs[h], devs[h]);
  st = system(cmd) == 0 ? '2' : 'E';
  if (write(up_w, &st, 1) != 1 || st == 'E')
    _exit(1);
  for (;;)
    pause();
}

/* Read one status byte from `fd` within STEP_MS; true if it is `want`. */
static bool expect(int fd, char want)
{
  struct pollfd p = {.fd = fd, .events = POLLIN};
  char c = 0;
  return poll(&p, 1, STEP_MS) == 1 && read(fd, &c, 1) == 1 && c == want;
}

#ifdef BENCH_HAVE_ZMQ
static int write_key(const char *path, const char *z85, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  char line[42];
  memcpy(line, z85, 40);
  line[40] = '\n';
  int rc = write(fd, line, 41) == 41 ? 0 : -EIO;
  close(fd);
  return rc;
}
#endif

static int make_keys(const struct bench_case *c)
{
#ifdef BENCH_HAVE_ZMQ
  for (int h = 0; h < 2; h++) {
    char pub[41], sec[41], path[BENCH_PATH_MAX + 16];
    if (zmq_curve_keypair(pub, sec) != 0)
      return -ENOTSUP;
    bench_hosts_key(c, (enum bench_host)h, true, path, sizeof path);
    int rc = write_key(path, sec, 0600);
    bench_hosts_key(c, (enum bench_host)h, false, path, sizeof path);
    if (rc == 0)
      rc = write_key(path, pub, 0644);
    if (rc < 0)
      return rc;
  }
#else
  (void)c;
#endif
  return 0;
}

int bench_hosts_create(const struct bench_case *c, char *why, size_t n)
{
  bench_hosts_destroy();
  int up[2][2] = {{-1, -1}, {-1, -1}}, go[2][2] = {{-1, -1}, {-1, -1}};
  int rc = -1;
  for (int h = 0; h < 2; h++)
    if (pipe2(up[h], O_CLOEXEC) != 0 || pipe2(go[h], O_CLOEXEC) != 0) {
      snprintf(why, n, "pipe: %s", strerror(errno));
      goto out;
    }
  pid_t self = getpid();
  for (int h = 0; h < 2; h++) {
    holders[h] = fork();
    if (holders[h] == 0)
      holder_main((enum bench_host)h, up[h][1], go[h][0], self);
    if (holders[h] < 0) {
      snprintf(why, n, "fork: %s", strerror(errno));
      goto out;
    }
  }
  for (int h = 0; h < 2; h++)
    if (!expect(up[h][0], '1')) {
      snprintf(why, n, "host %c: cannot make its namespaces and private /dev/shm", 'A' + h);
      goto out;
    }
  char cmd[200];
  snprintf(cmd, sizeof cmd, "ip link add name va netns %d type veth peer name vb netns %d", (int)holders[0],
           (int)holders[1]);
  if (system(cmd) != 0) {
    snprintf(why, n, "'%s' failed", cmd);
    goto out;
  }
  for (int h = 0; h < 2; h++)
    if (write(go[h][1], "g", 1) != 1 || !expect(up[h][0], '2')) {
      snprintf(why, n, "host %c: cannot bring up %s with %s/24", 'A' + h, devs[h], addrs[h]);
      goto out;
    }
  if (make_keys(c) < 0) {
    snprintf(why, n, "cannot write the CURVE keys in %s", c->tmpdir);
    goto out;
  }
  char path[BENCH_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/hosts", c->tmpdir);
  FILE *f = fopen(path, "w");
  if (!f || fprintf(f, "%d %d\n", (int)holders[0], (int)holders[1]) < 0) {
    snprintf(why, n, "cannot write %s", path);
    if (f)
      fclose(f);
    goto out;
  }
  fclose(f);
  rc = 0;
out:
  for (int h = 0; h < 2; h++)
    for (int k = 0; k < 2; k++) {
      if (up[h][k] >= 0)
        close(up[h][k]);
      if (go[h][k] >= 0)
        close(go[h][k]);
    }
  if (rc < 0)
    bench_hosts_destroy();
  return rc;
}

void bench_hosts_destroy(void)
{
  for (int h = 0; h < 2; h++)
    if (holders[h] > 0) {
      kill(holders[h], SIGKILL);
      waitpid(holders[h], NULL, 0); /* SIGKILL: bounded */
      holders[h] = -1;
    }
}

/* ---- role processes ------------------------------------------------------ */

static int read_holders(const struct bench_case *c)
{
  if (known[0] > 0)
    return 0;
  char path[BENCH_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/hosts", c->tmpdir);
  FILE *f = fopen(path, "r");
  int a = 0, b = 0;
  bool ok = f && fscanf(f, "%d %d", &a, &b) == 2 && a > 0 && b > 0;
  if (f)
    fclose(f);
  if (!ok) {
    bench_log("no hosts for this case (%s): the orchestrator makes them", path);
    return -ENOENT;
  }
  known[0] = a;
  known[1] = b;
  return 0;
}

/* setns() into host h's network, IPC and mount namespaces (the caller is
 * single-threaded: a mount namespace can be entered only so). */
static int enter(enum bench_host h)
{
  static const char *const ns[3] = {"net", "ipc", "mnt"};
  int fd[3] = {-1, -1, -1}, rc = 0;
  for (int k = 0; k < 3 && rc == 0; k++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)known[h], ns[k]);
    if ((fd[k] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      rc = -errno;
  }
  for (int k = 0; k < 3 && rc == 0; k++)
    if (setns(fd[k], 0) != 0)
      rc = -errno;
  for (int k = 0; k < 3; k++)
    if (fd[k] >= 0)
      close(fd[k]);
  if (rc == 0)
    current = h;
  return rc;
}

static void unpin(void)
{
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int i = 0; i < CPU_SETSIZE && i < bench_ncpus(); i++)
    CPU_SET(i, &all);
  sched_setaffinity(0, sizeof all, &all);
}

int bench_hosts_enter(const struct bench_case *c, const char *role)
{
  unsigned mode = bench_hosts_mode(c);
  if (!mode)
    return 0;
  int rc = read_holders(c);
  if (rc < 0)
    return rc;
  bool far = mode == BENCH_CAP_HOSTS && (strcmp(role, "server") == 0 || strcmp(role, "consumer") == 0);
  if ((rc = enter(far ? BENCH_HOST_B : BENCH_HOST_A)) < 0) {
    bench_log("cannot enter host %c: %s", far ? 'B' : 'A', strerror(-rc));
    return rc;
  }
  if (mode == BENCH_CAP_HOSTS)
    unpin();
  /* Between paired blocks, wait without holding a core: the bridge's and
   * ZeroMQ's processes and threads need it. */
  bench_ctl_polite = true;
  return 0;
}

int bench_hosts_spawn(const struct bench_case *c, enum bench_host h, char *const argv[], const char *log, pid_t *pid)
{
  int rc = read_holders(c);
  if (rc < 0)
    return rc;
  pid_t parent = getpid();
  pid_t p = fork();
  if (p < 0)
    return -errno;
  if (p == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the role that started it */
    if (getppid() != parent)
      _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGALRM, SIG_DFL);
    if (h != current && enter(h) < 0)
      _exit(126);
    unpin();
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (err >= 0) {
      dup2(err, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
    }
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  *pid = p;
  return 0;
}

bool bench_hosts_exited(pid_t pid, const char *what)
{
  int st;
  if (pid <= 0 || waitpid(pid, &st, WNOHANG) != pid)
    return false;
  if (WIFEXITED(st))
    bench_log("%s exited with status %d (its log is in the case's temp dir)", what, WEXITSTATUS(st));
  else
    bench_log("%s was killed by signal %d", what, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return true;
}

int bench_hosts_stop(pid_t pid)
{
  if (pid <= 0)
    return 0;
  int st = 0;
  kill(pid, SIGTERM);
  for (int i = 0; i < 3000; i++) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD))
      return r == pid ? st : 0;
    bench_sleep_ns(1000000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}
