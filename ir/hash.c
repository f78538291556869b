/* ir/hash.c — XXH3-64 content hashes (xxHash from libxxhash-dev).
 *
 * Constants are deduplicated by hash; generated headers record the checkpoint's hash
 * so a build can be traced to its input and a compile cache can key on it. */
#include "ir.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <xxhash.h>

uint64_t smelt_hash(const void *data, size_t n) { return XXH3_64bits(data, n); }

/* Hashes a whole file in 1 MiB reads; *err is set non-zero when it cannot be read. */
uint64_t smelt_hash_file(const char *path, int *err) {
  *err = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) { *err = 1; return 0; }
  XXH3_state_t *st = XXH3_createState();
  if (!st) { close(fd); *err = 1; return 0; }
  XXH3_64bits_reset(st);
  static const size_t bufsz = 1 << 20;
  unsigned char *buf = malloc(bufsz);
  ssize_t r = 0;
  while (buf && (r = read(fd, buf, bufsz)) > 0) XXH3_64bits_update(st, buf, (size_t)r);
  if (!buf || r < 0) *err = 1;
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  free(buf);
  close(fd);
  return h;
}
