/* libmyelon_bridge: CURVE key files (bridge.h, "Security"): reading a
 * Z85 key written by myelon_bridge_keygen(), and writing a new pair. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read one Z85 key (40 characters, surrounding white space allowed) into
 * its 32 binary bytes. A secret key file must not be readable by others. */
int bridge_read_key(struct myelon_bridge *b, const char *path, bool secret, uint8_t key[32], char z85[41])
{
  if (path == NULL)
    return bridge_fail(b, -EACCES, "%s key file not given (CURVE needs --key and --peer-key on tcp://, or --insecure)",
                       secret ? "secret" : "peer public");
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return bridge_fail(b, -EACCES, "%s key file %s: %s", secret ? "secret" : "peer public", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return bridge_fail(b, -EACCES, "key file %s: not a regular file", path);
  }
  if (secret && (sb.st_mode & 077) != 0) {
    close(fd);
    return bridge_fail(b, -EACCES, "secret key file %s is readable by others (mode %03o): chmod 600 it", path,
                       (unsigned)(sb.st_mode & 0777));
  }
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0)
    return bridge_fail(b, -EACCES, "key file %s: %s", path, strerror(errno));
  buf[n] = '\0';
  char *s = buf;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  size_t len = 0;
  while (s[len] != '\0' && s[len] != ' ' && s[len] != '\t' && s[len] != '\n' && s[len] != '\r')
    len++;
  for (size_t i = len; s[i] != '\0'; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      len = 0; /* more than one word: not a key file */
  if (len != 40)
    return bridge_fail(b, -EACCES, "key file %s does not hold one 40-character Z85 key", path);
  s[40] = '\0';
  if (zmq_z85_decode(key, s) == NULL)
    return bridge_fail(b, -EACCES, "key file %s: not a valid Z85 key", path);
  if (z85 != NULL)
    memcpy(z85, s, 41);
  return 0;
}

static int write_key_file(const char *path, const char *z85, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return -errno;
  char line[42];
  memcpy(line, z85, 40);
  line[40] = '\n';
  ssize_t n = write(fd, line, 41);
  int rc = n == 41 ? 0 : (n < 0 ? -errno : -EIO);
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc != 0)
    unlink(path);
  return rc;
}

MYELON_API int myelon_bridge_keygen(const char *prefix)
{
  if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) > 4000)
    return -EINVAL;
  if (!zmq_has("curve"))
    return -ENOTSUP;
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return -ENOTSUP;
  char path_sec[4100], path_pub[4100];
  snprintf(path_sec, sizeof path_sec, "%s.key", prefix);
  snprintf(path_pub, sizeof path_pub, "%s.pub", prefix);
  int rc = write_key_file(path_sec, sec, 0600);
  if (rc != 0)
    return rc;
  rc = write_key_file(path_pub, pub, 0644);
  if (rc != 0)
    unlink(path_sec);
  explicit_bzero(sec, sizeof sec);
  return rc;
}
