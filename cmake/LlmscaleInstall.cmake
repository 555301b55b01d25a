# Install and export rules: a relocatable CMake package (config, version and targets files)
# plus a build-tree export, so `find_package(llmscale)` works from an install prefix and from
# this build directory alike.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Header-only and architecture-independent: the package goes under share/.
set(LLMSCALE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/llmscale"
    CACHE STRING "Where llmscale's CMake package files are installed, relative to the prefix")

install(TARGETS llmscale EXPORT llmscale-targets FILE_SET HEADERS)
install(EXPORT llmscale-targets NAMESPACE llmscale:: DESTINATION "${LLMSCALE_INSTALL_CMAKEDIR}")
if(TARGET llmscale_cuda)
  # its own export set: the config loads it (and finds CUDAToolkit) only for COMPONENTS cuda
  install(TARGETS llmscale_cuda EXPORT llmscale-cuda-targets FILE_SET HEADERS)
  install(EXPORT llmscale-cuda-targets NAMESPACE llmscale:: DESTINATION "${LLMSCALE_INSTALL_CMAKEDIR}")
endif()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/llmscale-config.cmake.in"
  "${PROJECT_BINARY_DIR}/llmscale-config.cmake"
  INSTALL_DESTINATION "${LLMSCALE_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/llmscale-config-version.cmake"
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/llmscale-config.cmake"
              "${PROJECT_BINARY_DIR}/llmscale-config-version.cmake"
        DESTINATION "${LLMSCALE_INSTALL_CMAKEDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/llmscale")

# The build tree is a package too: -Dllmscale_DIR=<this build directory>.
export(EXPORT llmscale-targets NAMESPACE llmscale::
       FILE "${PROJECT_BINARY_DIR}/llmscale-targets.cmake")
if(TARGET llmscale_cuda)
  export(EXPORT llmscale-cuda-targets NAMESPACE llmscale::
         FILE "${PROJECT_BINARY_DIR}/llmscale-cuda-targets.cmake")
endif()
