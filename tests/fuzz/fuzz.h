/* tests/fuzz/fuzz.h — shared by the libFuzzer harnesses: the input bytes as a file
 * (a memfd reached through /proc/self/fd, so the readers run exactly as on disk),
 * and a check that aborts (a finding for libFuzzer) when an invariant fails. */
#ifndef SMELT_FUZZ_H
#define SMELT_FUZZ_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond, ...)                                                 \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz invariant failed: %s: ", #cond);                  \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
      abort();                                                                \
    }                                                                         \
  } while (0)

/* Writes the input to one reusable memfd and returns a path that opens it. */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("smelt-fuzz", 0);
    if (fd < 0) { perror("memfd_create"); abort(); }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) { perror("memfd write"); abort(); }
  return path;
}

#endif
