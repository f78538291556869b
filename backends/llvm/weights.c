/* backends/llvm/weights.c — writes a model's large constants as an object file for
 * the target triple through the LLVM C API (LLVM >= 14), instead of multi-megabyte C
 * array literals that compilers digest slowly.
 *
 * Each weight becomes an external, hidden, 64-byte-aligned constant byte array named
 * as the C backend declared it (NAME_w<k>).  No code is generated, so the object
 * costs little more than writing the bytes.  The file appears atomically. */
#include "backends/backend.h"

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int smelt_llvm_emit_weights(smelt_ctx *cx, const char *path, const char *triple, const struct smelt_weight *w, int n) {
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  char *host = NULL;
  if (!triple) triple = host = LLVMGetDefaultTargetTriple();
  int rc = SMELT_ERR;
  char *err = NULL;
  LLVMTargetRef target;
  LLVMContextRef lc = LLVMContextCreate();
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("smelt_weights", lc);
  LLVMTargetMachineRef tm = NULL;
  char *tmp = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    smelt_errorf(cx, "llvm: no target for triple '%s': %s", triple, err ? err : "?");
    goto done;
  }
  /* bare metal ("-none-"): no dynamic linker, absolute data like the C compiler's */
  int bare = strstr(triple, "-none-") != NULL;
  tm = LLVMCreateTargetMachine(target, triple, "generic", "", LLVMCodeGenLevelNone, bare ? LLVMRelocStatic : LLVMRelocPIC, LLVMCodeModelDefault);
  if (!tm) { smelt_errorf(cx, "llvm: cannot create a target machine for '%s'", triple); goto done; }
  LLVMSetTarget(mod, triple);
  size_t tl = strlen(triple);
  if (tl > 6 && !strcmp(triple + tl - 6, "eabihf")) {
    /* GNU ld refuses to link an object without Tag_ABI_VFP_args into a hard-float
     * program, and the LLVM C API cannot set the float ABI that makes LLVM write it:
     * the attribute is stated in module assembly (needs the target's asm parser). */
    static const char attr[] = ".eabi_attribute 28, 1\n"; /* Tag_ABI_VFP_args: VFP registers */
    LLVMInitializeAllAsmParsers();
    LLVMSetModuleInlineAsm2(mod, attr, sizeof attr - 1);
  }
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
  for (int i = 0; i < n; i++) {
    if (w[i].nbytes > 0xffffffffu) { smelt_errorf(cx, "llvm: weight '%s' is over 4 GiB", w[i].sym); goto done; }
    LLVMValueRef init = LLVMConstStringInContext(lc, (const char *)w[i].data, (unsigned)w[i].nbytes, 1);
    LLVMValueRef gv = LLVMAddGlobal(mod, LLVMTypeOf(init), w[i].sym);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMExternalLinkage);
    LLVMSetVisibility(gv, LLVMHiddenVisibility);
    LLVMSetAlignment(gv, 64);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
  }
  size_t pl = strlen(path);
  tmp = malloc(pl + 32);
  if (!tmp) { smelt_errorf(cx, "out of memory"); goto done; }
  snprintf(tmp, pl + 32, "%s.tmp%ld", path, (long)getpid());
  if (LLVMTargetMachineEmitToFile(tm, mod, tmp, LLVMObjectFile, &err)) {
    smelt_errorf(cx, "%s: llvm could not write the weights object: %s", path, err ? err : "?");
    remove(tmp);
    goto done;
  }
  if (rename(tmp, path)) { smelt_errorf(cx, "%s: cannot rename the weights object into place", path); remove(tmp); goto done; }
  rc = 0;
done:
  if (err) LLVMDisposeMessage(err);
  free(tmp);
  if (tm) LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(mod);
  LLVMContextDispose(lc);
  if (host) LLVMDisposeMessage(host);
  return rc;
}
