/* tests/unit/map.c — smelt_map, the string -> int map in the ctx arena: absent keys,
 * replacement, growth through many keys checked against a plain array, keys that
 * collide in prefix or differ in one byte, the empty key, and keys copied (the
 * caller's buffer may change afterwards). */
#include "../testutil.h"
#include "ir/ir.h"

int main(void) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_map m;
  smelt_map_init(&m, cx);
  CHECK(smelt_map_get(&m, "x") == -1, "empty map has x");
  CHECK(smelt_map_get(&m, "") == -1, "empty map has the empty key");
  CHECK(!smelt_map_put(&m, "x", 1) && smelt_map_get(&m, "x") == 1, "put/get x");
  CHECK(!smelt_map_put(&m, "x", 7) && smelt_map_get(&m, "x") == 7 && m.n == 1, "replace x");
  CHECK(!smelt_map_put(&m, "", 3) && smelt_map_get(&m, "") == 3, "empty key");
  CHECK(!smelt_map_put(&m, "neg", -5) && smelt_map_get(&m, "neg") == -5, "negative values are stored");
  char buf[32] = "temp";
  smelt_map_put(&m, buf, 11);
  strcpy(buf, "other");
  CHECK(smelt_map_get(&m, "temp") == 11 && smelt_map_get(&m, "other") == -1, "keys are copied");
  CHECK(smelt_map_get(&m, "xx") == -1 && smelt_map_get(&m, "X") == -1, "near keys");

  /* many keys: growth and probing, against a plain array */
  enum { N = 20000 };
  static int want[N];
  smelt_map big;
  smelt_map_init(&big, cx);
  uint64_t r = 88172645463325252ull;
  for (int i = 0; i < N; i++) {
    r ^= r << 13; r ^= r >> 7; r ^= r << 17;
    want[i] = (int)(r & 0x7fffffff);
    char k[32];
    snprintf(k, sizeof k, "v%d", i);
    CHECK(!smelt_map_put(&big, k, want[i]), "put %s", k);
  }
  CHECK(big.n == N && big.cap >= 2 * N && (big.cap & (big.cap - 1)) == 0, "n %d cap %d", big.n, big.cap);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "v%d", i);
    if (smelt_map_get(&big, k) != want[i]) bad++;
    snprintf(k, sizeof k, "w%d", i);
    if (smelt_map_get(&big, k) != -1) bad++;
  }
  CHECK(bad == 0, "%d wrong lookups of %d", bad, 2 * N);
  /* replace every other key; the count stays */
  for (int i = 0; i < N; i += 2) {
    char k[32];
    snprintf(k, sizeof k, "v%d", i);
    smelt_map_put(&big, k, -i);
  }
  bad = 0;
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "v%d", i);
    if (smelt_map_get(&big, k) != (i % 2 ? want[i] : -i)) bad++;
  }
  CHECK(bad == 0 && big.n == N, "%d wrong after replacing, n %d", bad, big.n);
  /* long keys that share a prefix */
  smelt_map lk;
  smelt_map_init(&lk, cx);
  char key[600];
  memset(key, 'a', sizeof key - 1);
  key[sizeof key - 1] = 0;
  for (int i = 0; i < 26; i++) {
    key[sizeof key - 2] = (char)('a' + i);
    smelt_map_put(&lk, key, i);
  }
  for (int i = 0; i < 26; i++) {
    key[sizeof key - 2] = (char)('a' + i);
    CHECK(smelt_map_get(&lk, key) == i, "long key %d", i);
  }
  smelt_ctx_free(cx);
  return t_done("unit_map");
}
