# samples/cortex-m4/arm-none-eabi-cortex-m4.cmake — a CMake toolchain file for a bare-metal
# Cortex-M4F with Debian's gcc-arm-none-eabi and newlib (libnewlib-arm-none-eabi).
# The flags are smelt's cortex-m4 target's (compiler/targets.c): hard float, FPv4-SP.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m4)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY) # no OS: test programs cannot link
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -ffunction-sections -fdata-sections")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH) # SmeltConfig.cmake lives in the host prefix
