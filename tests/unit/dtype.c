/* tests/unit/dtype.c — the dtype table of ir/dtypes.def as the rest of smelt sees it:
 * names unique and parsed back, sizes equal to the C storage type, flags
 * consistent (exactly one of float / int / bool), numpy descriptors matching the
 * size and kind, and out-of-range lookups harmless. */
#include "../testutil.h"
#include "ir/ir.h"

int main(void) {
  CHECK(SMELT_DT_COUNT >= 13, "only %d dtypes", SMELT_DT_COUNT);
  /* what the C storage type says, per row */
  static const struct { const char *name; int bytes; } ctype_size[] = {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) {name, (int)sizeof(ctype)},
#include "ir/dtypes.def"
#undef DT
  };
  for (int d = 0; d < SMELT_DT_COUNT; d++) {
    smelt_dtype dt = (smelt_dtype)d, back;
    const char *nm = smelt_dtype_name(dt);
    CHECK(nm && *nm && strcmp(nm, "?"), "dtype %d has no name", d);
    CHECK(!smelt_dtype_parse(nm, &back) && back == dt, "'%s' does not parse back to itself", nm);
    for (int e = 0; e < d; e++) CHECK(strcmp(nm, smelt_dtype_name((smelt_dtype)e)), "two dtypes named '%s'", nm);
    if (smelt_dtype_is_block(dt)) { /* ggml blocks: uint8_t storage, whole blocks per row */
      CHECK(smelt_dtype_blk(dt) == 32 || smelt_dtype_blk(dt) == 256, "%s: block of %d", nm, smelt_dtype_blk(dt));
      CHECK(smelt_dtype_nbytes(dt, 2 * smelt_dtype_blk(dt)) == 2 * smelt_dtype_bytes(dt), "%s: nbytes", nm);
      CHECK(!smelt_dtype_is_float(dt), "%s: a block type is not a float type for elementwise ops", nm);
      continue;
    }
    CHECK(smelt_dtype_blk(dt) == 1, "%s: scalar type with block %d", nm, smelt_dtype_blk(dt));
    int b = smelt_dtype_bytes(dt);
    CHECK(b == ctype_size[d].bytes, "%s: %d bytes but its C type has %d", nm, b, ctype_size[d].bytes);
    CHECK(b == 1 || b == 2 || b == 4 || b == 8, "%s: %d bytes", nm, b);
    unsigned f = smelt_dtype_flags(dt);
    int kinds = !!(f & DTF_FLOAT) + !!(f & DTF_INT) + !!(f & DTF_BOOL);
    CHECK(kinds == 1, "%s: flags %#x are not exactly one of float/int/bool", nm, f);
    CHECK(!(f & DTF_HALF) || ((f & DTF_FLOAT) && b == 2), "%s: half flag on a non-16-bit float", nm);
    CHECK(!(f & DTF_FLOAT) || (f & DTF_SIGNED), "%s: float without the signed flag", nm);
    CHECK(smelt_dtype_is_float(dt) == !!(f & DTF_FLOAT), "%s: smelt_dtype_is_float", nm);
    /* numpy descriptor: byte order, kind, size */
    const char *np = smelt_dtype_npy(dt);
    CHECK(np && strlen(np) == 3, "%s: npy descriptor '%s'", nm, np ? np : "(null)");
    if (np && strlen(np) == 3) {
      CHECK(np[0] == (b == 1 ? '|' : '<'), "%s: npy byte order '%c'", nm, np[0]);
      CHECK(np[2] - '0' == b, "%s: npy size %c for %d bytes", nm, np[2], b);
      char want = (f & DTF_BOOL) ? 'b' : dt == SMELT_DT_BF16 ? 'u' : (f & DTF_FLOAT) ? 'f' : (f & DTF_SIGNED) ? 'i' : 'u';
      CHECK(np[1] == want, "%s: npy kind '%c', expected '%c'", nm, np[1], want);
    }
    const char *ct = smelt_dtype_ctype(dt);
    CHECK(ct && *ct, "%s: no C type text", nm);
  }
  /* named rows the code relies on */
  smelt_dtype dt;
  CHECK(!smelt_dtype_parse("f32", &dt) && dt == SMELT_DT_F32 && smelt_dtype_bytes(dt) == 4, "f32");
  CHECK(!smelt_dtype_parse("bf16", &dt) && dt == SMELT_DT_BF16, "bf16");
  CHECK(!smelt_dtype_parse("bool", &dt) && dt == SMELT_DT_BOOL && smelt_dtype_bytes(dt) == 1, "bool");
  CHECK(!strcmp(smelt_dtype_ctype(SMELT_DT_I64), "int64_t"), "i64 C type");
  /* bad names and out-of-range values */
  CHECK(smelt_dtype_parse("", &dt) == SMELT_ERR, "empty name parses");
  CHECK(smelt_dtype_parse("f", &dt) == SMELT_ERR, "'f' parses");
  CHECK(smelt_dtype_parse("f32 ", &dt) == SMELT_ERR, "'f32 ' parses");
  CHECK(smelt_dtype_parse("F32", &dt) == SMELT_ERR, "'F32' parses");
  CHECK(smelt_dtype_parse("string", &dt) == SMELT_ERR, "'string' parses");
  CHECK(!strcmp(smelt_dtype_name((smelt_dtype)SMELT_DT_COUNT), "?"), "name of an out-of-range dtype");
  CHECK(!strcmp(smelt_dtype_name((smelt_dtype)-1), "?"), "name of dtype -1");
  return t_done("unit_dtype");
}
