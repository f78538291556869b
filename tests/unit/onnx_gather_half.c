/* tests/unit/onnx_gather_half.c — ONNX's Gather of an f16 / bf16 table keeps its dtype.
 *
 * The IR's Gather turns rows of a weight table (blocks, f16, bf16) into f32 (an
 * embedding lookup for the LLM builders); the ONNX reader casts the result back, so an
 * ONNX model gathering from an f16 or bf16 initializer still gives f16 / bf16 rows,
 * bit for bit.  The model is written here with protobuf-c and read, evaluated and run
 * through compiled C. */
#include "../testutil.h"
#include "compiler/driver.h"
#include "onnx.pb-c.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

/* Gather(table [4, 3] of `dt`, ids [2] i64) -> y [2, 3] */
static int write_model(const char *path, int onnx_dt, const uint16_t *table) {
  Onnx__TensorShapeProto__Dimension d2 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, d3 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
  d2.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d2.dim_value = 2;
  d3.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d3.dim_value = 3;
  Onnx__TensorShapeProto__Dimension *din[1] = {&d2}, *dout[2] = {&d2, &d3};
  Onnx__TensorShapeProto sin = ONNX__TENSOR_SHAPE_PROTO__INIT, sout = ONNX__TENSOR_SHAPE_PROTO__INIT;
  sin.n_dim = 1; sin.dim = din;
  sout.n_dim = 2; sout.dim = dout;
  Onnx__TypeProto__Tensor tin = ONNX__TYPE_PROTO__TENSOR__INIT, tout = ONNX__TYPE_PROTO__TENSOR__INIT;
  tin.has_elem_type = 1; tin.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64; tin.shape = &sin;
  tout.has_elem_type = 1; tout.elem_type = onnx_dt; tout.shape = &sout;
  Onnx__TypeProto ty_in = ONNX__TYPE_PROTO__INIT, ty_out = ONNX__TYPE_PROTO__INIT;
  ty_in.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; ty_in.tensor_type = &tin;
  ty_out.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; ty_out.tensor_type = &tout;
  Onnx__ValueInfoProto vin = ONNX__VALUE_INFO_PROTO__INIT, vout = ONNX__VALUE_INFO_PROTO__INIT;
  vin.name = "ids"; vin.type = &ty_in;
  vout.name = "y"; vout.type = &ty_out;
  Onnx__ValueInfoProto *ins[1] = {&vin}, *outs[1] = {&vout};
  int64_t tdims[2] = {4, 3};
  Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
  t.name = "table"; t.n_dims = 2; t.dims = tdims; t.has_data_type = 1; t.data_type = onnx_dt;
  t.has_raw_data = 1; t.raw_data.len = 24; t.raw_data.data = (uint8_t *)table;
  Onnx__TensorProto *inits[1] = {&t};
  char *nin[2] = {"table", "ids"}, *nout[1] = {"y"};
  Onnx__NodeProto nd = ONNX__NODE_PROTO__INIT;
  nd.op_type = "Gather"; nd.name = "gather"; nd.n_input = 2; nd.input = nin; nd.n_output = 1; nd.output = nout;
  Onnx__NodeProto *nodes[1] = {&nd};
  Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
  gp.name = "g"; gp.n_node = 1; gp.node = nodes; gp.n_initializer = 1; gp.initializer = inits;
  gp.n_input = 1; gp.input = ins; gp.n_output = 1; gp.output = outs;
  Onnx__OperatorSetIdProto ops = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  ops.domain = ""; ops.has_version = 1; ops.version = 13;
  Onnx__OperatorSetIdProto *opsv[1] = {&ops};
  Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
  m.has_ir_version = 1; m.ir_version = 8; m.n_opset_import = 1; m.opset_import = opsv; m.graph = &gp;
  size_t n = onnx__model_proto__get_packed_size(&m);
  uint8_t *buf = malloc(n);
  onnx__model_proto__pack(&m, buf);
  int rc = t_write_file(path, buf, n);
  free(buf);
  return rc;
}

int main(void) {
  const char *work = "onnx_gather_half-work";
  t_mkdirs(work);
  for (int k = 0; k < 2; k++) {
    smelt_dtype dt = k ? SMELT_DT_BF16 : SMELT_DT_F16;
    const char *tn = smelt_dtype_name(dt);
    uint16_t table[12];
    for (int i = 0; i < 12; i++) table[i] = k ? sm_f32_to_bf16((float)i / 3 - 1.7f) : sm_f32_to_f16((float)i / 3 - 1.7f);
    table[5] = k ? 0x0001 : 0x0001; /* a subnormal */
    char path[512];
    snprintf(path, sizeof path, "%s/gather_%s.onnx", work, tn);
    CHECK(!write_model(path, k ? ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, table), "cannot write %s", path);
    smelt_ctx *cx = smelt_ctx_new();
    smelt_graph *g = smelt_load_model(cx, path, NULL);
    CHECK(g != NULL, "%s: load: %s", tn, smelt_error_msg(cx));
    if (!g) { smelt_ctx_free(cx); continue; }
    CHECK(g->noutputs == 1 && g->values[g->outputs[0]].dt == dt, "%s: output is %s", tn, smelt_dtype_name(g->values[g->outputs[0]].dt));
    int64_t ids[2] = {1, -1}, dims[1] = {2};
    smelt_tensor in = {.dt = SMELT_DT_I64, .rank = 1, .dims = {2}, .data = ids}, out;
    if (!smelt_eval(g, &in, &out)) {
      CHECK(out.dt == dt && !memcmp(out.data, table + 3, 6) && !memcmp((uint16_t *)out.data + 3, table + 9, 6), "%s: eval rows differ", tn);
      smelt_tensor_free(&out);
    } else CHECK(0, "%s: eval: %s", tn, smelt_error_msg(cx));
    smelt_ctx_free(cx);

    /* through compiled C: the executable writes the output as .npy */
    cx = smelt_ctx_new();
    char dir[512], exe[600], inp[600], odir[600], outp[700];
    snprintf(dir, sizeof dir, "%s/%s", work, tn);
    struct smelt_build_opts bo = {.out_dir = dir, .name = "m", .target = "generic", .emit = SMELT_EMIT_EXE};
    struct smelt_build_info info;
    int rc = smelt_build(cx, path, &bo, &info);
    CHECK(!rc, "%s: build: %s", tn, smelt_error_msg(cx));
    smelt_ctx_free(cx);
    if (rc) continue;
    snprintf(exe, sizeof exe, "%s/m", dir);
    snprintf(inp, sizeof inp, "%s/ids.npy", dir);
    snprintf(odir, sizeof odir, "%s/out", dir);
    t_mkdirs(odir);
    smelt_npy_write(inp, "<i8", 1, dims, ids, sizeof ids);
    const char *argv[] = {exe, inp, "-o", odir, NULL};
    struct t_run r;
    CHECK(!t_run(argv, work, 60, &r) && r.exited && r.code == 0, "%s: run failed: %s", tn, r.err ? r.err : "");
    t_run_free(&r);
    snprintf(outp, sizeof outp, "%s/y.npy", odir);
    struct smelt_npy a;
    const char *e = smelt_npy_read(outp, &a);
    CHECK(!e, "%s: %s: %s", tn, outp, e ? e : "");
    if (!e) {
      CHECK(a.rank == 2 && a.dims[0] == 2 && a.dims[1] == 3 && !memcmp(a.data, table + 3, 6) && !memcmp((uint16_t *)a.data + 3, table + 9, 6),
            "%s: compiled rows differ", tn);
      free(a.data);
    }
  }
  return t_done("onnx_gather_half");
}
