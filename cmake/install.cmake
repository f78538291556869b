# cmake/install.cmake — what `cmake --install` puts in place (included by CMakeLists.txt):
#   bin/smelt                            the compiler
#   include/smelt/*.h                    the runtime headers generated models include
#   lib/cmake/Smelt/                     SmeltConfig.cmake, SmeltConfigVersion.cmake, Smelt.cmake
#   lib/pkgconfig/smelt.pc               for plain Makefiles
#   share/doc/smelt/                     docs/
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
# smelt links LLVM's shared library from outside the default search path
set_target_properties(smelt PROPERTIES INSTALL_RPATH "${LLVM_LIBDIR}")
install(TARGETS smelt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
file(GLOB SMELT_RUNTIME_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/*.h)
install(FILES ${SMELT_RUNTIME_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/smelt)
set(SMELT_INSTALL_BINDIR ${CMAKE_INSTALL_BINDIR})
set(SMELT_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/smelt)
set(SMELT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Smelt)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/SmeltConfig.cmake.in ${CMAKE_BINARY_DIR}/SmeltConfig.cmake
  INSTALL_DESTINATION ${SMELT_CMAKE_DIR} PATH_VARS SMELT_INSTALL_BINDIR SMELT_INSTALL_INCLUDEDIR)
# ARCH_INDEPENDENT: a 32-bit (Cortex-M) or cross build uses the same host compiler
write_basic_package_version_file(${CMAKE_BINARY_DIR}/SmeltConfigVersion.cmake VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_BINARY_DIR}/SmeltConfig.cmake ${CMAKE_BINARY_DIR}/SmeltConfigVersion.cmake ${CMAKE_SOURCE_DIR}/cmake/Smelt.cmake
  DESTINATION ${SMELT_CMAKE_DIR})
file(RELATIVE_PATH SMELT_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${CMAKE_SOURCE_DIR}/cmake/smelt.pc.in ${CMAKE_BINARY_DIR}/smelt.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/smelt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
