# tests/cross/env.sh — sourced by the cross tests: finds the aarch64 cross compiler and
# qemu, or exits 77 (SKIPPED) saying which is missing.  Sets XCC (the compiler),
# XCFLAGS (static linking: qemu-user then needs no aarch64 sysroot at run time) and
# XEMU (the emulator command; -cpu max has every extension, dotprod included).
XCC=${SMELT_CROSS_CC:-aarch64-linux-gnu-gcc}
XCFLAGS=${SMELT_CROSS_CFLAGS:--static}
XEMU=${SMELT_CROSS_EMU:-qemu-aarch64 -cpu max}
command -v "$XCC" >/dev/null 2>&1 || { echo "SKIPPED: $XCC is missing (Debian: apt-get install gcc-aarch64-linux-gnu)"; exit 77; }
command -v "${XEMU%% *}" >/dev/null 2>&1 || { echo "SKIPPED: ${XEMU%% *} is missing (Debian: apt-get install qemu-user)"; exit 77; }
# a static hello world must build and run under the emulator, or nothing else will
_probe=${TMPDIR:-/tmp}/smelt-cross-probe.$$
printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' > "$_probe.c"
if ! $XCC $XCFLAGS -o "$_probe" "$_probe.c" 2>/dev/null; then
  rm -f "$_probe" "$_probe.c"; echo "SKIPPED: $XCC $XCFLAGS cannot link a program (libc6-dev-arm64-cross missing?)"; exit 77
fi
if [ "$($XEMU "$_probe" 2>/dev/null)" != ok ]; then
  rm -f "$_probe" "$_probe.c"; echo "SKIPPED: $XEMU cannot run an aarch64 program here"; exit 77
fi
rm -f "$_probe" "$_probe.c"
