/* Where segments live and whom to trust (config.h, "Permissions"):
 * opening and creating the files of both backends without following a
 * symbolic link, never in a world-writable directory (MMAP), giving a new
 * segment its owner-only or group-shared access, and refusing to map a
 * segment that another user owns or could have written.
 *
 * Every decision is taken on an open descriptor (fstat of the file, of its
 * directory), never on a path looked up a second time, so a name swapped
 * between the check and the use changes nothing: the MMAP file is opened
 * with openat() relative to the directory that was checked. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


/* The final component of an MMAP path (the whole path if it has no '/'). */
static const char *base_of(const char *path)
{
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int dmp_impl_dir_open(enum dmp_backend backend, const char *path, int *dirfd, char *why, size_t whylen)
{
  *dirfd = -1;
  if (backend == DMP_BACKEND_SHM)
    return 0; /* shm_open resolves names in /dev/shm itself */
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  size_t len = slash ? (size_t)(slash - path) : 0;
  if (!slash)
    memcpy(dir, ".", 2);
  else if (len == 0)
    memcpy(dir, "/", 2);
  else if (len >= sizeof dir)
    return DMP_WHY(-DMP_E_BADNAME, "directory of '%.64s...' is longer than %zu bytes", path, sizeof dir - 1);
  else {
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  /* O_PATH: only search permission is needed to work in the directory, as
   * with a plain open() of the full path. Symlinks in the directory path
   * are followed: the directory we end up in is the one checked below, and
   * everything after works relative to this very descriptor. */
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return DMP_WHY(-errno, "cannot open directory '%s': %s", dir, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int rc = DMP_WHY(-errno, "fstat of directory '%s': %s", dir, strerror(errno));
    close(fd);
    return rc;
  }
  /* In a directory every user may write, another user can pre-create the
   * name, or remove and replace our file unless the sticky bit stops them:
   * squatting and confusion at best. Ring files belong in a private place. */
  if (st.st_mode & S_IWOTH) {
    close(fd);
    return DMP_WHY(-EACCES, "directory '%s' is writable by every user (mode %04o); put ring files in a private "
               "directory (e.g. from mkdtemp(3) or $XDG_RUNTIME_DIR)", dir, (unsigned)(st.st_mode & 07777));
  }
  *dirfd = fd;
  return 0;
}

int dmp_impl_file_open(enum dmp_backend backend, int dirfd, const char *path, int flags, mode_t mode, char *why,
                       size_t whylen)
{
  const char *verb = (flags & O_CREAT) ? "create" : "open";
  int fd;
  if (backend == DMP_BACKEND_SHM) {
    fd = shm_open(path, flags, mode); /* glibc adds O_NOFOLLOW | O_CLOEXEC */
  } else {
    /* O_NONBLOCK: opening a FIFO planted under the name must not hang us;
     * it changes nothing for a regular file. */
    fd = openat(dirfd, base_of(path), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
  }
  if (fd >= 0)
    return fd;
  if (errno == ELOOP)
    return DMP_WHY(-ELOOP, "'%s' is a symbolic link; segments are never opened through one", path);
  if (errno == EEXIST)
    return DMP_WHY(-EEXIST, "'%s' exists", path); /* create loops handle it */
  return DMP_WHY(-errno, "cannot %s '%s': %s", verb, path, strerror(errno));
}

int dmp_impl_file_open_path(enum dmp_backend backend, const char *path, int flags, char *why, size_t whylen)
{
  int dirfd;
  int rc = dmp_impl_dir_open(backend, path, &dirfd, why, whylen);
  if (rc < 0)
    return rc;
  int fd = dmp_impl_file_open(backend, dirfd, path, flags, 0, why, whylen);
  if (dirfd >= 0)
    close(dirfd);
  return fd;
}

int dmp_impl_file_unlink(enum dmp_backend backend, int dirfd, const char *path)
{
  int rc;
  if (backend == DMP_BACKEND_SHM)
    rc = shm_unlink(path);
  else if (dirfd >= 0)
    rc = unlinkat(dirfd, base_of(path), 0);
  else
    rc = unlink(path);
  return rc == 0 ? 0 : -errno;
}

int dmp_impl_file_stat(enum dmp_backend backend, int dirfd, const char *path, struct stat *st)
{
  int rc;
  if (backend == DMP_BACKEND_SHM) {
    char fs_path[PATH_MAX + 16];
    snprintf(fs_path, sizeof fs_path, "/dev/shm%s", path);
    rc = fstatat(AT_FDCWD, fs_path, st, AT_SYMLINK_NOFOLLOW);
  } else if (dirfd >= 0) {
    rc = fstatat(dirfd, base_of(path), st, AT_SYMLINK_NOFOLLOW);
  } else {
    rc = fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
  }
  return rc == 0 ? 0 : -errno;
}

int dmp_impl_file_share(int fd, const char *path, uint32_t mode, bool share, uint32_t gid, char *why, size_t whylen)
{
  if (share) {
    mode |= 0060;
    /* The kernel lets an unprivileged owner give a file only to a group
     * it is a member of: its EPERM is the membership check. */
    if (fchown(fd, (uid_t)-1, (gid_t)gid) != 0)
      return DMP_WHY(-errno, "cannot give '%s' to group %u: %s%s", path, gid, strerror(errno),
                 errno == EPERM ? " (the creating process must be a member of that group)" : "");
  }
  /* Explicitly, so that the umask neither widens nor narrows it. */
  if (fchmod(fd, (mode_t)mode) != 0)
    return DMP_WHY(-errno, "fchmod '%s' to %04o: %s", path, mode, strerror(errno));
  return 0;
}

/* Whether the calling process has `gid` as its effective or a supplementary
 * group (the sets the kernel checks group permission bits against). */
static bool in_group(gid_t gid)
{
  if (getegid() == gid)
    return true;
  int n = getgroups(0, NULL);
  if (n <= 0)
    return false;
  gid_t *list = calloc((size_t)n, sizeof *list);
  if (!list)
    return false; /* refusing is the safe answer */
  n = getgroups(n, list);
  bool found = false;
  for (int i = 0; i < n && !found; i++)
    found = list[i] == gid;
  free(list);
  return found;
}

int dmp_impl_file_trust(int fd, const char *path, bool allow_group, struct stat *st, char *why, size_t whylen)
{
  if (fstat(fd, st) != 0)
    return DMP_WHY(-errno, "fstat '%s': %s", path, strerror(errno));
  unsigned mode = (unsigned)(st->st_mode & 07777);
  unsigned uid = (unsigned)st->st_uid, gid = (unsigned)st->st_gid, me = (unsigned)geteuid();
  /* Memory every user may open could have been written by anyone. */
  if (mode & 0007)
    return DMP_WHY(-EACCES, "'%s' is accessible to every user (mode %04o); refusing to trust it", path, mode);
  /* Root is not special here: the question is whose memory this is, not
   * whether we could open it. */
  if (st->st_uid == geteuid())
    return 0;
  if (!allow_group)
    return DMP_WHY(-EACCES, "'%s' is owned by uid %u, not by us (uid %u); refusing another user's memory. To share, "
               "create with DMP_RING_SHARE_GROUP and attach with DMP_CONSUMER_ALLOW_GROUP", path, uid, me);
  if ((mode & 0060) != 0060)
    return DMP_WHY(-EACCES, "'%s' is owned by uid %u and not shared with its group (mode %04o)", path, uid, mode);
  if (!in_group(st->st_gid))
    return DMP_WHY(-EACCES, "'%s' is owned by uid %u and shared with group %u, which we are not a member of", path,
               uid, gid);
  return 0;
}
