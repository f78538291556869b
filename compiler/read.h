/* compiler/read.h — the checkpoint readers.  Each treats its input as hostile and
 * returns a verified graph or NULL with one diagnostic naming the file and place. */
#ifndef SMELT_READ_H
#define SMELT_READ_H

#include "compiler/driver.h"

smelt_graph *smelt_read_onnx(smelt_ctx *cx, const char *path, const struct smelt_load_opts *o);
/* An ONNX TensorProto file (the conformance tests' .pb inputs and outputs). */
int smelt_onnx_read_tensor_file(smelt_ctx *cx, const char *path, smelt_tensor *t);
/* The ONNX operator types the reader lowers, in dispatch order, each once: stores up
 * to max names (static strings) and returns how many there are. */
int smelt_onnx_ops(const char **names, int max);
/* What an ONNX operator becomes (compiler/onnx_notes.c): the IR ops its lowering
 * builds and a note on its limits (either may be NULL); NULL when the operator has
 * no row, which means it becomes the IR op of the same name if there is one. */
struct smelt_onnx_note { const char *op, *ir, *note; };
const struct smelt_onnx_note *smelt_onnx_note(const char *op);

#endif
