/* Permissions (config.h, "Permissions"; issue 10): segments are private by
 * default, shared with a group only on request, another user's segment is
 * refused (to root as well), symlinks and world-writable directories are
 * refused by the mmap backend, and space that cannot be reserved is an error
 * at create time, never a SIGBUS later - with nothing left behind.
 *
 * The cross-user cases need root (CI runs as root): a forked child drops to
 * nobody (65534) to own a ring, or stays uid 0 with other groups to attach.
 * Run as another user, those cases are skipped with a message. Forked
 * children always leave through _exit(), so the test support's atexit
 * cleanup runs in the test process only. */
#include "unit.h"

#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define NOBODY ((uid_t)65534)
#define NOGROUP ((gid_t)65534)
#define SHARED_GID ((gid_t)61234) /* a group only these tests use (it need not exist) */
#define CHILD_MS 5000

/* What a child reports: a return code, a flag, and the error detail. */
struct outcome {
  int rc;
  int extra;
  char detail[512];
};

/* A ring owned by another user: a child process that holds its producer
 * until `release` is closed (or the test process is gone). */
static pid_t foreign_pid;
static int foreign_release = -1;
/* A directory owned by nobody, for that child's mmap rings. */
static char foreign_dir[128];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

static void perm_fini(void)
{
  if (foreign_release >= 0)
    close(foreign_release);
  foreign_release = -1;
  if (foreign_pid > 0) {
    kill(foreign_pid, SIGKILL);
    waitpid(foreign_pid, NULL, 0);
  }
  foreign_pid = 0;
  if (foreign_dir[0])
    nftw(foreign_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  foreign_dir[0] = '\0';
  umask(022);
  ut_fini();
}

TestSuite(permissions, .fini = perm_fini, .timeout = UT_TIMEOUT);

static void need_root(void)
{
  if (geteuid() != 0)
    cr_skip("needs root to act as two users (uid %u); CI runs it as root", (unsigned)geteuid());
}

static unsigned file_mode(const char *path)
{
  struct stat st;
  cr_assert(eq(int, lstat(path, &st), 0), "lstat %s: %s", path, strerror(errno));
  return (unsigned)(st.st_mode & 07777);
}

static unsigned file_gid(const char *path)
{
  struct stat st;
  cr_assert(eq(int, lstat(path, &st), 0), "lstat %s: %s", path, strerror(errno));
  return (unsigned)st.st_gid;
}

static const char *cnt_path(enum dmp_backend b, const char *name, char *buf, size_t len)
{
  char ring[400];
  snprintf(buf, len, "%s%s", ut_seg_path(b, name, ring, sizeof ring), DMP_COUNTERS_SUFFIX);
  return buf;
}

static bool has(const char *detail, const char *what)
{
  return strstr(detail, what) != NULL;
}

/* For the mmap backend: a fresh path in the directory owned by nobody. */
static const char *foreign_name(enum dmp_backend b, const char *tag)
{
  if (b == DMP_BACKEND_SHM)
    return ut_fresh_name(b, tag);
  if (!foreign_dir[0]) {
    snprintf(foreign_dir, sizeof foreign_dir, "%s/dmpperm-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert(ne(ptr, mkdtemp(foreign_dir), NULL), "mkdtemp: %s", strerror(errno));
    cr_assert(eq(int, chown(foreign_dir, NOBODY, NOGROUP), 0), "chown %s: %s", foreign_dir, strerror(errno));
  }
  static char paths[8][200];
  static int n;
  char *p = paths[n++ % 8];
  snprintf(p, sizeof paths[0], "%s/%s-%d.ring", foreign_dir, tag, n);
  return p;
}

/* read() exactly `len` bytes within `timeout_ms`. */
static bool read_bounded(int fd, void *buf, size_t len, int timeout_ms)
{
  size_t got = 0;
  int64_t deadline = ts_now_ns() + (int64_t)timeout_ms * 1000000;
  while (got < len) {
    int left = (int)((deadline - ts_now_ns()) / 1000000);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0)
      return false;
    int r = poll(&p, 1, left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    got += (size_t)n;
  }
  return true;
}

static int become(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
  if (setgroups((size_t)ngroups, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
    return -errno;
  return 0;
}

typedef void (*as_fn)(const void *arg, struct outcome *o);

/* Run `fn` in a child with the given credentials; its outcome. */
static struct outcome run_as(uid_t uid, gid_t gid, const gid_t *groups, int ngroups, as_fn fn, const void *arg)
{
  int p[2];
  cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    close(p[0]);
    struct outcome o;
    memset(&o, 0, sizeof o);
    o.rc = become(uid, gid, groups, ngroups);
    if (o.rc == 0)
      fn(arg, &o);
    else
      snprintf(o.detail, sizeof o.detail, "cannot become uid %u: %s", (unsigned)uid, strerror(-o.rc));
    (void)!write(p[1], &o, sizeof o);
    _exit(0);
  }
  close(p[1]);
  struct outcome o;
  memset(&o, 0, sizeof o);
  bool got = read_bounded(p[0], &o, sizeof o, ts_timeout_ms(CHILD_MS));
  close(p[0]);
  int status = ts_wait(pid, ts_timeout_ms(CHILD_MS));
  cr_assert(got, "the child (uid %u) reported nothing", (unsigned)uid);
  cr_assert(eq(int, status, 0), "the child (uid %u) exited with %d", (unsigned)uid, status);
  return o;
}

static void create_fn(const void *arg, struct outcome *o)
{
  struct dmp_producer *p = NULL;
  o->rc = dmp_producer_create(arg, &p);
  snprintf(o->detail, sizeof o->detail, "%s", dmp_last_error());
  dmp_producer_close(p);
}

/* Start a producer of `cfg` owned by nobody (with supplementary `groups`). */
static void start_foreign(const struct dmp_producer_config *cfg, const gid_t *groups, int ngroups)
{
  int ready[2], release[2];
  cr_assert(eq(int, pipe2(ready, O_CLOEXEC), 0));
  cr_assert(eq(int, pipe2(release, O_CLOEXEC), 0));
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    struct outcome o;
    memset(&o, 0, sizeof o);
    struct dmp_producer *p = NULL;
    o.rc = become(NOBODY, NOGROUP, groups, ngroups);
    if (o.rc == 0)
      o.rc = dmp_producer_create(cfg, &p);
    snprintf(o.detail, sizeof o.detail, "%s", dmp_last_error());
    (void)!write(ready[1], &o, sizeof o);
    char c;
    (void)!read(release[0], &c, 1); /* EOF: the test is done with us, or gone */
    dmp_producer_close(p);
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  foreign_pid = pid;
  foreign_release = release[1];
  struct outcome o;
  memset(&o, 0, sizeof o);
  bool got = read_bounded(ready[0], &o, sizeof o, ts_timeout_ms(CHILD_MS));
  close(ready[0]);
  cr_assert(got, "the producer child reported nothing");
  cr_assert(eq(int, o.rc, 0), "create as nobody: %s / %s", dmp_err_name(o.rc), o.detail);
}

static void stop_foreign(void)
{
  close(foreign_release);
  foreign_release = -1;
  int status = ts_wait(foreign_pid, ts_timeout_ms(CHILD_MS));
  foreign_pid = 0;
  cr_assert(eq(int, status, 0), "the producer child exited with %d", status);
}

static int try_attach(const struct dmp_producer_config *pc, uint32_t flags, struct dmp_consumer **out)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, "c0");
  cc.flags = flags;
  *out = NULL;
  return dmp_consumer_attach(&cc, out);
}

/* ---- private by default, group on request ------------------------------------ */

Test(permissions, segment_and_counters_are_0600_by_default)
{
  umask(0); /* nothing from the umask may widen it */
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "def");
    struct dmp_producer *p = ut_create(&cfg);
    char ring[512], cnt[512];
    cr_assert(eq(u32, file_mode(ut_seg_path(ut_backends[b], cfg.name, ring, sizeof ring)), 0600u), "%s", ring);
    cr_assert(eq(u32, file_mode(cnt_path(ut_backends[b], cfg.name, cnt, sizeof cnt)), 0600u), "%s", cnt);
    dmp_producer_close(p);
  }
}

/* A group of ours other than the effective one (so that the result cannot
 * come from the default group of new files); root may use any. */
static bool pick_own_group(gid_t *out)
{
  if (geteuid() == 0) {
    *out = SHARED_GID;
    return true;
  }
  gid_t list[256];
  int n = getgroups(256, list);
  for (int i = 0; i < n; i++)
    if (list[i] != getegid()) {
      *out = list[i];
      return true;
    }
  return false;
}

Test(permissions, share_group_gives_ring_and_counters_0660_and_the_group)
{
  gid_t gid;
  if (!pick_own_group(&gid))
    cr_skip("this process has no supplementary group to share with");
  umask(077); /* nor narrow it */
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "grp");
    cfg.flags = DMP_RING_SHARE_GROUP;
    cfg.share_gid = gid;
    struct dmp_producer *p = ut_create(&cfg);
    char ring[512], cnt[512];
    ut_seg_path(ut_backends[b], cfg.name, ring, sizeof ring);
    cnt_path(ut_backends[b], cfg.name, cnt, sizeof cnt);
    cr_assert(eq(u32, file_mode(ring), 0660u), "%s", ring);
    cr_assert(eq(u32, file_gid(ring), (unsigned)gid), "%s", ring);
    cr_assert(eq(u32, file_mode(cnt), 0660u), "%s", cnt);
    cr_assert(eq(u32, file_gid(cnt), (unsigned)gid), "%s", cnt);
    /* The owner's own consumers attach as ever. */
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(ne(ptr, dmp_consumer_counters(c), NULL), "%s: own group-shared counters not joined", ring);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

static bool in_groups(gid_t gid)
{
  gid_t list[256];
  int n = getgroups(256, list);
  for (int i = 0; i < n; i++)
    if (list[i] == gid)
      return true;
  return gid == getegid();
}

/* A group this (unprivileged) process is not a member of. */
static gid_t foreign_group(void)
{
  for (gid_t g = SHARED_GID; g < SHARED_GID + 1000; g++)
    if (!in_groups(g))
      return g;
  cr_skip("this process is in every group tried");
}

Test(permissions, sharing_with_a_group_we_are_not_in_is_eperm_and_leaves_nothing)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "nog");
    cfg.flags = DMP_RING_SHARE_GROUP | DMP_RING_KEEP; /* KEEP must not keep a failed create */
    cfg.share_gid = SHARED_GID;
    struct outcome o;
    if (geteuid() == 0) {
      cfg.name = foreign_name(ut_backends[b], "nog"); /* nobody can create there */
      o = run_as(NOBODY, NOGROUP, NULL, 0, create_fn, &cfg);
    } else {
      cfg.share_gid = foreign_group();
      create_fn(&cfg, &o);
    }
    cr_assert(eq(int, o.rc, -EPERM), "%s: %s / %s", ut_backend_name(ut_backends[b]), dmp_err_name(o.rc), o.detail);
    cr_assert(has(o.detail, "member"), "detail: %s", o.detail);
    cr_assert(eq(int, ut_seg_leftovers(ut_backends[b], cfg.name), 0), "%s: a failed create left files",
              ut_backend_name(ut_backends[b]));
  }
}

Test(permissions, modes_open_to_other_users_are_refused_at_create)
{
  static const uint32_t modes[] = {0604, 0644, 0660 | 0001, 0666};
  for (int b = 0; b < UT_NBACKENDS; b++)
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
      struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "mod");
      cfg.mode = modes[i];
      struct dmp_producer *p = NULL;
      int rc = dmp_producer_create(&cfg, &p);
      cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "mode %o: %s / %s", modes[i], dmp_err_name(rc), dmp_last_error());
      cr_assert(has(dmp_last_error(), "other users"), "detail: %s", dmp_last_error());
      cr_assert(eq(int, ut_seg_exists(ut_backends[b], cfg.name), 0));
    }
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "mod");
  cfg.share_gid = 5; /* without DMP_RING_SHARE_GROUP: a mistake, not a wish */
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&cfg, &p), -DMP_E_BADCONFIG), "%s", dmp_last_error());
}

/* ---- another user's segment ---------------------------------------------------- */

Test(permissions, another_users_ring_is_refused_even_to_root)
{
  need_root();
  for (int b = 0; b < UT_NBACKENDS; b++) {
    const char *bn = ut_backend_name(ut_backends[b]);
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "fgn");
    cfg.name = foreign_name(ut_backends[b], "fgn");
    cfg.flags = DMP_RING_KEEP;
    start_foreign(&cfg, NULL, 0);

    struct dmp_consumer *c;
    int rc = try_attach(&cfg, 0, &c);
    cr_assert(eq(int, rc, -EACCES), "%s attach: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "owned by uid 65534"), "detail: %s", dmp_last_error());
    cr_assert(has(dmp_last_error(), "DMP_CONSUMER_ALLOW_GROUP"), "detail: %s", dmp_last_error());
    cr_assert(eq(ptr, c, NULL));
    /* The opt-in alone is not enough: the ring is not shared with a group. */
    rc = try_attach(&cfg, DMP_CONSUMER_ALLOW_GROUP, &c);
    cr_assert(eq(int, rc, -EACCES), "%s attach (group): %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "not shared with its group"), "detail: %s", dmp_last_error());

    struct dmp_inspect *in = NULL;
    rc = dmp_inspect_open(ut_backends[b], cfg.name, &in);
    cr_assert(eq(int, rc, -EACCES), "%s inspect: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(eq(ptr, in, NULL));
    struct dmp_counters *set = NULL;
    rc = dmp_counters_open(ut_backends[b], cfg.name, &set);
    cr_assert(eq(int, rc, -EACCES), "%s counters: %s / %s", bn, dmp_err_name(rc), dmp_last_error());

    /* Its producer gone, the kept ring is stale: still not ours to reclaim. */
    stop_foreign();
    char ring[512];
    ut_seg_path(ut_backends[b], cfg.name, ring, sizeof ring);
    struct stat before, after;
    cr_assert(eq(int, lstat(ring, &before), 0));
    struct dmp_producer_config mine = cfg;
    mine.flags = 0;
    struct dmp_producer *p = NULL;
    rc = dmp_producer_create(&mine, &p);
    cr_assert(eq(int, rc, -EACCES), "%s reclaim: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "owned by uid 65534"), "detail: %s", dmp_last_error());
    cr_assert(eq(int, lstat(ring, &after), 0), "%s: another user's stale ring was removed", bn);
    cr_assert(eq(u64, (uint64_t)after.st_ino, (uint64_t)before.st_ino), "%s: the stale ring was replaced", bn);
    cr_assert(eq(u32, (unsigned)after.st_uid, (unsigned)NOBODY));

    /* Nor ours to garbage-collect: only a ring's owner removes it. */
    rc = dmp_ring_gc(ut_backends[b], cfg.name);
    cr_assert(eq(int, rc, -EACCES), "%s gc: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "owned by uid 65534"), "detail: %s", dmp_last_error());
    cr_assert(eq(int, lstat(ring, &after), 0), "%s: another user's stale ring was removed by gc", bn);
  }
}

struct group_attach {
  const struct dmp_producer_config *pc;
  uint32_t flags;
};

static void attach_fn(const void *arg, struct outcome *o)
{
  const struct group_attach *ga = arg;
  struct dmp_consumer_config cc = ut_ccfg(ga->pc, "g0");
  cc.flags = ga->flags;
  struct dmp_consumer *c = NULL;
  o->rc = dmp_consumer_attach(&cc, &c);
  snprintf(o->detail, sizeof o->detail, "%s", dmp_last_error());
  if (o->rc < 0)
    return;
  o->extra = dmp_consumer_counters(c) != NULL; /* its counters were trusted too */
  struct dmp_inspect *in = NULL;
  int rc = dmp_inspect_open_flags(ga->pc->backend, ga->pc->name, DMP_INSPECT_ALLOW_GROUP, &in);
  const struct dmp_ring_stat *s = NULL;
  if (rc == 0)
    rc = dmp_inspect_sample(in, &s);
  if (rc == 0 && s->counters_rc != 0)
    rc = s->counters_rc;
  if (rc < 0) {
    o->rc = rc;
    snprintf(o->detail, sizeof o->detail, "inspect: %s", dmp_last_error());
  }
  dmp_inspect_close(in);
  dmp_consumer_close(c);
}

Test(permissions, a_group_shared_ring_needs_the_opt_in_and_the_group)
{
  need_root();
  static const gid_t shared[] = {SHARED_GID};
  for (int b = 0; b < UT_NBACKENDS; b++) {
    const char *bn = ut_backend_name(ut_backends[b]);
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "shg");
    cfg.name = foreign_name(ut_backends[b], "shg");
    cfg.flags = DMP_RING_SHARE_GROUP;
    cfg.share_gid = SHARED_GID;
    start_foreign(&cfg, shared, 1);

    /* In the group and opted in: attached, counters and inspector too. */
    struct group_attach ga = {.pc = &cfg, .flags = DMP_CONSUMER_ALLOW_GROUP};
    struct outcome o = run_as(0, 0, shared, 1, attach_fn, &ga);
    cr_assert(eq(int, o.rc, 0), "%s in group, opted in: %s / %s", bn, dmp_err_name(o.rc), o.detail);
    cr_assert(eq(int, o.extra, 1), "%s: the group-shared counters were not joined", bn);
    /* In the group, not opted in. */
    ga.flags = 0;
    o = run_as(0, 0, shared, 1, attach_fn, &ga);
    cr_assert(eq(int, o.rc, -EACCES), "%s in group, no opt-in: %s / %s", bn, dmp_err_name(o.rc), o.detail);
    cr_assert(has(o.detail, "owned by uid 65534"), "detail: %s", o.detail);
    /* Opted in, not in the group (this process: root, group 0 only). */
    ga.flags = DMP_CONSUMER_ALLOW_GROUP;
    o = run_as(0, 0, NULL, 0, attach_fn, &ga);
    cr_assert(eq(int, o.rc, -EACCES), "%s opted in, not in group: %s / %s", bn, dmp_err_name(o.rc), o.detail);
    cr_assert(has(o.detail, "not a member"), "detail: %s", o.detail);
    /* Open to every user as well: refused however we ask. */
    char ring[512];
    cr_assert(eq(int, chmod(ut_seg_path(ut_backends[b], cfg.name, ring, sizeof ring), 0666), 0));
    o = run_as(0, 0, shared, 1, attach_fn, &ga);
    cr_assert(eq(int, o.rc, -EACCES), "%s mode 0666: %s / %s", bn, dmp_err_name(o.rc), o.detail);
    cr_assert(has(o.detail, "every user"), "detail: %s", o.detail);
    stop_foreign();
  }
}

Test(permissions, a_ring_open_to_every_user_is_refused_even_to_its_owner)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "ww");
    struct dmp_producer *p = ut_create(&cfg);
    char ring[512];
    ut_seg_path(ut_backends[b], cfg.name, ring, sizeof ring);
    cr_assert(eq(int, chmod(ring, 0602), 0)); /* someone else could have written it */
    struct dmp_consumer *c;
    int rc = try_attach(&cfg, DMP_CONSUMER_ALLOW_GROUP, &c);
    cr_assert(eq(int, rc, -EACCES), "%s: %s / %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc),
              dmp_last_error());
    cr_assert(has(dmp_last_error(), "every user"), "detail: %s", dmp_last_error());
    struct dmp_inspect *in = NULL;
    cr_assert(eq(int, dmp_inspect_open(ut_backends[b], cfg.name, &in), -EACCES), "%s", dmp_last_error());
    cr_assert(eq(int, chmod(ring, 0600), 0)); /* the mode, nothing else, was the reason */
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    dmp_consumer_close(ut_attach(&cc));
    dmp_producer_close(p);
  }
}

/* ---- the mmap backend's files ------------------------------------------------------- */

/* A name next to `name` for a symlink (registered for cleanup). */
static const char *link_name(enum dmp_backend b, const char *tag)
{
  return ut_fresh_name(b, tag);
}

static void make_symlink(enum dmp_backend b, const char *target_name, const char *link)
{
  char target[512], at[512];
  ut_seg_path(b, target_name, target, sizeof target);
  ut_seg_path(b, link, at, sizeof at);
  cr_assert(eq(int, symlink(target, at), 0), "symlink %s -> %s: %s", at, target, strerror(errno));
}

Test(permissions, symlinks_are_refused_for_create_and_attach)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    enum dmp_backend be = ut_backends[b];
    const char *bn = ut_backend_name(be);
    struct dmp_producer_config cfg = ut_pcfg(be, "real");
    struct dmp_producer *p = ut_create(&cfg);
    uint64_t epoch = ut_header_read(be, cfg.name).epoch;

    /* Attach and inspect through a link to a live ring. */
    struct dmp_producer_config via = cfg;
    via.name = link_name(be, "lnk");
    make_symlink(be, cfg.name, via.name);
    struct dmp_consumer *c;
    int rc = try_attach(&via, 0, &c);
    cr_assert(eq(int, rc, -ELOOP), "%s attach: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "symbolic link"), "detail: %s", dmp_last_error());
    struct dmp_inspect *in = NULL;
    rc = dmp_inspect_open(be, via.name, &in);
    cr_assert(eq(int, rc, -ELOOP), "%s inspect: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    /* Create over it: neither reclaimed through the link nor replaced. */
    struct dmp_producer *q = NULL;
    rc = dmp_producer_create(&via, &q);
    cr_assert(eq(int, rc, -ELOOP), "%s create over a link: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(eq(u64, ut_header_read(be, cfg.name).epoch, epoch), "%s: the ring behind the link changed", bn);
    char at[512];
    struct stat st;
    cr_assert(eq(int, lstat(ut_seg_path(be, via.name, at, sizeof at), &st), 0));
    bool still_link = S_ISLNK(st.st_mode);
    cr_assert(still_link, "%s: the link was replaced", bn);
    /* Stale checks do not look through it either (the ring behind it is
     * live: followed, they would answer "left alone"). */
    rc = dmp_ring_gc(be, via.name);
    cr_assert(eq(int, rc, -ELOOP), "%s gc via a link: %s / %s", bn, dmp_err_name(rc), dmp_last_error());

    /* A dangling link: creating must not create its target. */
    const char *target = link_name(be, "tgt");
    struct dmp_producer_config dang = cfg;
    dang.name = link_name(be, "dng");
    make_symlink(be, target, dang.name);
    rc = dmp_producer_create(&dang, &q);
    cr_assert(eq(int, rc, -ELOOP), "%s create on a dangling link: %s / %s", bn, dmp_err_name(rc), dmp_last_error());
    cr_assert(eq(int, ut_seg_exists(be, target), 0), "%s: the link's target was created", bn);
    dmp_producer_close(p);
  }
}

/* A fresh directory in the private temp dir, with `mode`. */
static const char *make_dir(unsigned mode)
{
  const char *dir = ut_fresh_name(DMP_BACKEND_MMAP, "dir");
  cr_assert(eq(int, mkdir(dir, 0700), 0), "mkdir %s: %s", dir, strerror(errno));
  cr_assert(eq(int, chmod(dir, mode), 0));
  return dir;
}

static int dir_entries(const char *dir)
{
  DIR *d = opendir(dir);
  cr_assert(ne(ptr, d, NULL), "opendir %s: %s", dir, strerror(errno));
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

Test(permissions, world_writable_directories_are_refused)
{
  static const unsigned modes[] = {0777, 01777, 0703};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    const char *dir = make_dir(modes[i]);
    char name[400];
    snprintf(name, sizeof name, "%s/r.ring", dir);
    struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "wwd");
    cfg.name = name;
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, -EACCES), "mode %o: %s / %s", modes[i], dmp_err_name(rc), dmp_last_error());
    cr_assert(has(dmp_last_error(), "writable by every user"), "detail: %s", dmp_last_error());
    cr_assert(eq(int, dir_entries(dir), 0), "mode %o: the refused create left files", modes[i]);
  }
  /* A ring whose directory became world-writable is not attached either. */
  const char *dir = make_dir(0700);
  char name[400];
  snprintf(name, sizeof name, "%s/r.ring", dir);
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "wwd");
  cfg.name = name;
  struct dmp_producer *p = ut_create(&cfg);
  cr_assert(eq(int, chmod(dir, 01777), 0));
  struct dmp_consumer *c;
  int rc = try_attach(&cfg, 0, &c);
  cr_assert(eq(int, rc, -EACCES), "attach: %s / %s", dmp_err_name(rc), dmp_last_error());
  cr_assert(has(dmp_last_error(), "writable by every user"), "detail: %s", dmp_last_error());
  struct dmp_inspect *in = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_MMAP, name, &in), -EACCES), "%s", dmp_last_error());
  cr_assert(eq(int, chmod(dir, 0700), 0));
  dmp_producer_close(p);
  cr_assert(eq(int, dir_entries(dir), 0), "close left files");
}

Test(permissions, symlinks_in_the_directory_path_are_followed)
{
  const char *dir = make_dir(0700);
  const char *link = ut_fresh_name(DMP_BACKEND_MMAP, "dl");
  cr_assert(eq(int, symlink(dir, link), 0));
  char name[400];
  snprintf(name, sizeof name, "%s/r.ring", link);
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "dl");
  cfg.name = name;
  struct dmp_producer *p = ut_create(&cfg);
  struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
  dmp_consumer_close(ut_attach(&cc));
  cr_assert(eq(int, dir_entries(dir), 2), "the ring and its counters live in the link's target");
  dmp_producer_close(p);
  cr_assert(eq(int, dir_entries(dir), 0), "close left files");
}

/* ---- space that cannot be reserved ---------------------------------------------------- */

Test(permissions, space_that_cannot_be_reserved_fails_the_create_and_leaves_nothing)
{
  /* RLIMIT_FSIZE stands in for a full /dev/shm or disk (shrinking a tmpfs
   * needs root and a mount namespace): posix_fallocate() past the limit
   * fails with EFBIG, as past the end of the space it fails with ENOSPC. */
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, small = {.rlim_cur = 64 * 1024, .rlim_max = RLIM_INFINITY};
  cr_assert(eq(int, getrlimit(RLIMIT_FSIZE, &old), 0));
  small.rlim_max = old.rlim_max;
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "big");
    cfg.capacity = 1u << 16; /* 512 KiB of slots */
    cfg.flags = DMP_RING_KEEP; /* which must not keep a failed create */
    struct dmp_producer *p = NULL;
    cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &small), 0));
    int rc = dmp_producer_create(&cfg, &p);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", dmp_last_error());
    cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &old), 0));
    cr_assert(eq(int, rc, -EFBIG), "%s: %s / %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc), detail);
    cr_assert(has(detail, "cannot reserve"), "detail: %s", detail);
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, ut_seg_leftovers(ut_backends[b], cfg.name), 0), "%s: a failed create left files",
              ut_backend_name(ut_backends[b]));
  }
}
