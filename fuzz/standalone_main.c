/* Replay driver: runs a fuzz target's LLVMFuzzerTestOneInput() over files,
 * so the same target code builds with any compiler as a plain program.
 *
 *   fuzz-<name>-replay PATH...
 *
 * Each PATH is a file (one input) or a directory (every regular file in
 * it, recursively, in name order; names starting with '.' are skipped).
 * Exit status 0 when every input ran; 1 if a path could not be read; a
 * bug aborts the process (FUZZ_CHECK, a sanitizer), which the test
 * harness reports as a failure. The fuzz-regress test suite runs this over
 * fuzz/corpus/<name>/ and fuzz/regress/<name>/. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

/* 64 MiB: far above any corpus file; a bigger one is a mistake. */
#define REPLAY_MAX_INPUT (64u << 20)

static int run_file(const char *path, size_t *count)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *buf = malloc(REPLAY_MAX_INPUT);
  size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
  int bad = !buf || ferror(f) || !feof(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: unreadable or larger than %u bytes\n", path, REPLAY_MAX_INPUT);
    free(buf);
    return -1;
  }
  /* An exact-size copy, as libFuzzer passes it: an overread of the input
   * hits the end of the allocation (reported under a sanitizer). */
  uint8_t *in = malloc(n ? n : 1);
  if (!in) {
    free(buf);
    return -1;
  }
  if (n)
    memcpy(in, buf, n);
  free(buf);
  fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  (*count)++;
  return 0;
}

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, size_t *count);

static int run_dir(const char *path, size_t *count)
{
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **more = realloc(names, cap * sizeof *more);
      if (!more) {
        rc = -1;
        break;
      }
      names = more;
    }
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    if ((names[n] = malloc(len)) == NULL) {
      rc = -1;
      break;
    }
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0 && run_path(names[i], count) < 0)
      rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

static int run_path(const char *path, size_t *count)
{
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  return S_ISDIR(st.st_mode) ? run_dir(path, count) : run_file(path, count);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++)
    if (run_path(argv[i], &count) < 0)
      rc = 1;
  fprintf(stderr, "%zu inputs replayed%s\n", count, rc ? " (some paths failed)" : "");
  return rc;
}
