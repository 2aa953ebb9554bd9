# Writes Armature's CMake package files into a C tarball's lib/cmake/armature (ci/release):
#   cmake -DOUT=<dir> -DVERSION=<x.y.z> -DSONAME=<libarmature.so.N> -DNATIVE_LIBS=<a;b;c> -P write-package.cmake
# The version file is CMake's own (SameMinorVersion: before 1.0 a minor release may change the
# ABI, as the soname says).
include(CMakePackageConfigHelpers)
foreach(var OUT VERSION SONAME NATIVE_LIBS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "write-package.cmake: -D${var}=... is required")
  endif()
endforeach()
set(ARMATURE_SONAME "${SONAME}")
set(ARMATURE_NATIVE_LIBS "${NATIVE_LIBS}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/armatureConfig.cmake.in" "${OUT}/armatureConfig.cmake" @ONLY)
write_basic_package_version_file("${OUT}/armatureConfigVersion.cmake"
  VERSION "${VERSION}" COMPATIBILITY SameMinorVersion)
