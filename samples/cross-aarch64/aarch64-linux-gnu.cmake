# samples/cross-aarch64/aarch64-linux-gnu.cmake — a CMake toolchain file for 64-bit Arm
# Linux with Debian's cross compiler (gcc-aarch64-linux-gnu).  Programs are linked
# statically so qemu-aarch64 runs them without an aarch64 sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # host tools (smelt) come from the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)   # SmeltConfig.cmake lives in the host prefix
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# what runs the cross-built programs here (ctest, add_custom_command with the target)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max)
