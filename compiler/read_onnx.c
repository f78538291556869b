#include "compiler/read.h"
smelt_graph *smelt_read_onnx(smelt_ctx *cx, const char *path, const struct smelt_load_opts *o) { (void)o; smelt_errorf(cx, "%s: not yet", path); return NULL; }
int smelt_onnx_read_tensor_file(smelt_ctx *cx, const char *path, smelt_tensor *t) { (void)t; return smelt_errorf(cx, "%s: not yet", path); }
