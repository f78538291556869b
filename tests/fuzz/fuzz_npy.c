/* tests/fuzz/fuzz_npy.c — libFuzzer harness for the tensor-file readers: the .npy
 * reader of runtime/smelt_npy.h (the generated executables' and `smelt eval`'s) and
 * the ONNX TensorProto reader (.pb files for --const).  What they accept must be
 * consistent: rank <= 8, element count = product of the dims, data present. */
#include "fuzz.h"
#include "compiler/read.h"
#include "runtime/smelt_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  struct smelt_npy a;
  const char *e = smelt_npy_read(path, &a);
  if (!e) {
    int64_t n = 1;
    for (int i = 0; i < a.rank; i++) n *= a.dims[i];
    FUZZ_CHECK(a.rank >= 0 && a.rank <= 8 && n == a.elems && a.data, "npy: rank %d, %lld elements", a.rank, (long long)a.elems);
    free(a.data);
  } else {
    FUZZ_CHECK(!a.data, "npy: data left after '%s'", e);
  }
  smelt_ctx *cx = smelt_ctx_new();
  smelt_tensor t;
  if (!smelt_onnx_read_tensor_file(cx, path, &t)) {
    FUZZ_CHECK(t.rank >= 0 && t.rank <= 8 && t.data, "pb: rank %d", t.rank);
    smelt_tensor_free(&t);
  } else {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, path, strlen(path)), "pb: rejected without a diagnostic naming the file: %s", m ? m : "(none)");
  }
  smelt_ctx_free(cx);
  return 0;
}
