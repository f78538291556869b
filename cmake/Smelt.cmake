# cmake/Smelt.cmake — smelt_add_model(): a model compiled by smelt as a static library
# target (docs/cmake.md).  Included by SmeltConfig.cmake; needs SMELT_EXECUTABLE.
#
#   smelt_add_model(<target> MODEL <path>
#                   [NAME <c-name>] [TARGET auto|<smelt target>] [QUANT <q>]
#                   [LORA <path>[:<scale>] ...] [ADAPTERS <name>=<path> ...]
#                   [THREADS <n>] [CTX <n>] [OPTIONS <extra smelt build flags> ...])
#
# creates <target>, an imported static library (lib<c-name>.a) with <c-name>.h and the
# runtime headers on its include path, so `target_link_libraries(app PRIVATE <target>)`
# is all an app needs.  smelt runs at build time (never at configure time) through
# add_custom_command with a DEPFILE naming every file it read: touching the checkpoint,
# an adapter or the CMakeLists rebuilds only that model, touching nothing rebuilds
# nothing.  Its compile cache (--cache-dir, default ${CMAKE_BINARY_DIR}/smelt-cache, or
# SMELT_CACHE_DIR) makes a rebuild of an unchanged model cost a hash lookup.
#
# TARGET auto (the default) follows the toolchain: CMAKE_SYSTEM_PROCESSOR and the C flags
# pick x86-64-avx512 / x86-64-avx2 / aarch64-dotprod / aarch64 / cortex-m7 / cortex-m4,
# else generic.  smelt compiles the generated C with the project's C compiler
# (CMAKE_C_COMPILER, with CMAKE_C_COMPILER_TARGET and CMAKE_SYSROOT) and archives it
# with CMAKE_AR, so cross builds work; smelt itself always runs on the build machine.
include_guard(GLOBAL)
# Functions keep the policies in force where they are defined: CMP0116 NEW makes the
# Ninja generators rewrite the depfile's paths to the build tree's (smelt writes absolute
# ones), whatever cmake_minimum_required() the calling project has.
cmake_policy(PUSH)
if(POLICY CMP0116)
  cmake_policy(SET CMP0116 NEW)
endif()

# The smelt --target that the current toolchain compiles for.
function(smelt_auto_target out)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" proc)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
  set(flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${cfg}} ${CMAKE_C_COMPILER_TARGET}")
  get_directory_property(dir_opts COMPILE_OPTIONS)
  string(APPEND flags " ${dir_opts}")
  string(TOLOWER "${flags}" flags)
  set(t generic)
  if(proc MATCHES "^(x86_64|amd64|x64)$")
    if(flags MATCHES "avx512|skylake-avx512|icelake|sapphirerapids|x86-64-v4|znver4")
      set(t x86-64-avx512)
    elseif(flags MATCHES "-mavx2|haswell|broadwell|skylake|alderlake|znver|x86-64-v3")
      set(t x86-64-avx2)
    endif()
  elseif(proc MATCHES "^(aarch64|arm64)")
    if(flags MATCHES "dotprod|armv8\\.[2-9]|armv9|cortex-a(55|65|75|76|77|78|710|715|x)|apple-m")
      set(t aarch64-dotprod)
    else()
      set(t aarch64)
    endif()
  elseif(proc MATCHES "cortex-m7" OR flags MATCHES "cortex-m7")
    set(t cortex-m7)
  elseif(proc MATCHES "cortex-m4" OR flags MATCHES "cortex-m4")
    set(t cortex-m4)
  endif()
  set(${out} ${t} PARENT_SCOPE)
endfunction()

function(smelt_add_model tgt)
  cmake_parse_arguments(PARSE_ARGV 1 SM "" "MODEL;NAME;TARGET;QUANT;THREADS;CTX;CACHE_DIR" "LORA;ADAPTERS;OPTIONS")
  if(SM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "smelt_add_model(${tgt}): unknown arguments ${SM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT SM_MODEL)
    message(FATAL_ERROR "smelt_add_model(${tgt}): MODEL <path> is required")
  endif()
  if(NOT SMELT_EXECUTABLE)
    message(FATAL_ERROR "smelt_add_model(${tgt}): SMELT_EXECUTABLE is not set (find_package(Smelt) first)")
  endif()
  get_filename_component(model "${SM_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "smelt_add_model(${tgt}): MODEL ${model} does not exist")
  endif()
  if(SM_NAME)
    set(name "${SM_NAME}")
  else()
    string(MAKE_C_IDENTIFIER "${tgt}" name)
  endif()
  if(NOT SM_TARGET OR SM_TARGET STREQUAL "auto")
    smelt_auto_target(SM_TARGET)
  endif()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/smelt/${tgt}")
  set(lib "${out}/lib${name}.a")
  set(hdr "${out}/${name}.h")
  set(dep "${out}/${name}.d")
  if(SM_CACHE_DIR)
    set(cache "${SM_CACHE_DIR}")
  elseif(SMELT_CACHE_DIR)
    set(cache "${SMELT_CACHE_DIR}")
  else()
    set(cache "${CMAKE_BINARY_DIR}/smelt-cache")
  endif()
  file(MAKE_DIRECTORY "${out}") # an imported target's include directory must exist

  set(args build "${model}" --emit lib --name "${name}" --target "${SM_TARGET}" -o "${out}" --cache-dir "${cache}")
  # flags other versions of smelt may lack are passed only when asked for
  if(SM_QUANT)
    list(APPEND args --quant "${SM_QUANT}")
  endif()
  foreach(l IN LISTS SM_LORA)
    list(APPEND args --lora "${l}")
  endforeach()
  foreach(a IN LISTS SM_ADAPTERS)
    list(APPEND args --adapter "${a}")
  endforeach()
  if(SM_THREADS)
    list(APPEND args --threads "${SM_THREADS}")
  endif()
  if(SM_CTX)
    list(APPEND args --ctx "${SM_CTX}")
  endif()
  # the project's C compiler compiles the generated C (cross compilers included)
  set(cc "${CMAKE_C_COMPILER}")
  set(cflags "")
  if(CMAKE_C_COMPILER_TARGET)
    string(APPEND cflags " --target=${CMAKE_C_COMPILER_TARGET}")
  endif()
  if(CMAKE_SYSROOT)
    string(APPEND cflags " --sysroot=${CMAKE_SYSROOT}")
  endif()
  list(APPEND args --cc "${cc}")
  if(cflags)
    string(STRIP "${cflags}" cflags)
    list(APPEND args --cflags "${cflags}")
  endif()
  list(APPEND args ${SM_OPTIONS})

  set(depfile_args)
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.20 OR CMAKE_GENERATOR MATCHES "Ninja")
    list(APPEND args --depfile "${dep}")
    set(depfile_args DEPFILE "${dep}")
  endif()
  # files named by LORA / ADAPTERS are dependencies even before the first depfile exists
  set(deps "${model}")
  foreach(l IN LISTS SM_LORA SM_ADAPTERS)
    string(REGEX REPLACE "^[A-Za-z_][A-Za-z0-9_]*=" "" p "${l}")
    string(REGEX REPLACE ":[-+0-9.eE]+$" "" p "${p}")
    get_filename_component(p "${p}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(EXISTS "${p}" AND NOT IS_DIRECTORY "${p}")
      list(APPEND deps "${p}")
    endif()
  endforeach()
  if(NOT IS_DIRECTORY "${model}")
    set(model_dep "${model}")
  else()
    set(model_dep) # a folder: its files come from the depfile
  endif()
  list(REMOVE_ITEM deps "${model}")
  add_custom_command(OUTPUT "${lib}" "${hdr}"
    COMMAND ${CMAKE_COMMAND} -E env "AR=${CMAKE_AR}" "${SMELT_EXECUTABLE}" ${args}
    DEPENDS ${model_dep} ${deps} "${SMELT_EXECUTABLE}"
    ${depfile_args}
    COMMENT "smelt: compiling ${SM_MODEL} for ${SM_TARGET}"
    VERBATIM)
  add_custom_target(${tgt}_smelt DEPENDS "${lib}" "${hdr}")
  add_library(${tgt} STATIC IMPORTED GLOBAL)
  set_target_properties(${tgt} PROPERTIES
    IMPORTED_LOCATION "${lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${out}"
    SMELT_HEADER "${hdr}"
    SMELT_NAME "${name}"
    SMELT_TARGET "${SM_TARGET}")
  set_property(TARGET ${tgt} PROPERTY INTERFACE_LINK_LIBRARIES m) # newlib has libm too
  add_dependencies(${tgt} ${tgt}_smelt)
endfunction()
cmake_policy(POP)
