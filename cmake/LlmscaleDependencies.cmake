# Dependencies. The library itself needs Eigen (>= 3.3) and Boost's headers (Accumulators);
# llmscale's own tests and benchmarks also need doctest and Google Benchmark, its tools CLI11
# (header-only, >= 2.1: the command lines).
#
# Each is looked for on the system first. When it is missing and LLMSCALE_FETCH_DEPENDENCIES is
# ON (the default for a top-level build), FetchContent brings a pinned release: the commit a
# release tag names, or an archive URL with its SHA256. A consumer's build (add_subdirectory,
# FetchContent, an installed package) never fetches anything: it must provide Eigen and Boost.
include_guard(GLOBAL)
include(FetchContent)

set(LLMSCALE_EIGEN_MINIMUM_VERSION 3.3)

# Declares a pinned fallback; FetchContent_MakeAvailable then tries find_package first.
macro(_llmscale_declare_dependencies)
  FetchContent_Declare(Eigen3
    GIT_REPOSITORY https://gitlab.com/libeigen/eigen.git
    GIT_TAG 3147391d946bb4b6c68edd901f2add6ac1f31f8c # 3.4.0
    GIT_SHALLOW FALSE
    FIND_PACKAGE_ARGS CONFIG)  # no version: Eigen 5 exists, checked below instead
  FetchContent_Declare(Boost
    URL https://github.com/boostorg/boost/releases/download/boost-1.84.0/boost-1.84.0.tar.xz
    URL_HASH SHA256=2e64e5d79a738d0fa6fb546c6e5c2bd28f88d268a2a080546f74e5ff98f29d0e
    DOWNLOAD_EXTRACT_TIMESTAMP ON
    EXCLUDE_FROM_ALL
    FIND_PACKAGE_ARGS 1.71 CONFIG)
  FetchContent_Declare(doctest
    GIT_REPOSITORY https://github.com/doctest/doctest.git
    GIT_TAG ae7a13539fb71f270b87eb2e874fbac80bc8dda2 # v2.4.11
    FIND_PACKAGE_ARGS CONFIG)
  FetchContent_Declare(benchmark
    GIT_REPOSITORY https://github.com/google/benchmark.git
    GIT_TAG 344117638c8ff7e239044fd0fa7085839fc03021 # v1.8.3
    FIND_PACKAGE_ARGS CONFIG)
  FetchContent_Declare(CLI11
    GIT_REPOSITORY https://github.com/CLIUtils/CLI11.git
    GIT_TAG 70f8072f9dd2292fd0b9f9e5f58e279f60483ed3 # v2.1.2 (Debian 12's libcli11-dev)
    FIND_PACKAGE_ARGS 2.1 CONFIG)
endmacro()

function(_llmscale_check_eigen_version)
  if(DEFINED Eigen3_VERSION AND NOT "${Eigen3_VERSION}" STREQUAL ""
     AND Eigen3_VERSION VERSION_LESS LLMSCALE_EIGEN_MINIMUM_VERSION)
    message(FATAL_ERROR "llmscale needs Eigen >= ${LLMSCALE_EIGEN_MINIMUM_VERSION}; "
                        "found ${Eigen3_VERSION} at ${Eigen3_DIR}")
  endif()
endfunction()

macro(llmscale_find_library_dependencies)
  if(LLMSCALE_FETCH_DEPENDENCIES)
    _llmscale_declare_dependencies()
    # Eigen's and Boost's own tests stay out of our build when they are fetched.
    set(EIGEN_BUILD_DOC OFF CACHE BOOL "")
    set(EIGEN_BUILD_TESTING OFF CACHE BOOL "")
    set(EIGEN_BUILD_PKGCONFIG OFF CACHE BOOL "")
    set(BOOST_INCLUDE_LIBRARIES accumulators CACHE STRING "")
    if(NOT TARGET Eigen3::Eigen)
      FetchContent_MakeAvailable(Eigen3)
    endif()
    if(NOT TARGET Boost::headers)
      FetchContent_MakeAvailable(Boost)
    endif()
  else()
    if(NOT TARGET Eigen3::Eigen)
      find_package(Eigen3 CONFIG REQUIRED)
    endif()
    if(NOT TARGET Boost::headers)
      find_package(Boost 1.71 CONFIG REQUIRED)
    endif()
  endif()
  _llmscale_check_eigen_version()
endmacro()

macro(llmscale_find_test_dependencies)
  if(LLMSCALE_FETCH_DEPENDENCIES)
    FetchContent_MakeAvailable(doctest)
  else()
    find_package(doctest CONFIG REQUIRED)
  endif()
  # doctest_discover_tests() comes with the package (installed) or its source (fetched).
  find_file(LLMSCALE_DOCTEST_MODULE doctest.cmake
    HINTS "${doctest_DIR}" "${doctest_SOURCE_DIR}/scripts/cmake" NO_DEFAULT_PATH REQUIRED)
  include("${LLMSCALE_DOCTEST_MODULE}")
endmacro()

macro(llmscale_find_bench_dependencies)
  set(BENCHMARK_ENABLE_TESTING OFF CACHE BOOL "")
  set(BENCHMARK_ENABLE_GTEST_TESTS OFF CACHE BOOL "")
  if(LLMSCALE_FETCH_DEPENDENCIES)
    FetchContent_MakeAvailable(benchmark)
  else()
    find_package(benchmark CONFIG REQUIRED)
  endif()
endmacro()

# CLI11 for the tools' command lines (tools/command_line.hpp): CLI11::CLI11.
macro(llmscale_find_tool_dependencies)
  if(NOT TARGET CLI11::CLI11)
    if(LLMSCALE_FETCH_DEPENDENCIES)
      set(CLI11_BUILD_TESTS OFF CACHE BOOL "")
      set(CLI11_BUILD_EXAMPLES OFF CACHE BOOL "")
      set(CLI11_BUILD_DOCS OFF CACHE BOOL "")
      set(CLI11_INSTALL OFF CACHE BOOL "")
      # v2.1.2 asks for CMake 3.4, which CMake >= 4.0 refuses unless told the oldest policy
      # version to assume (ignored by older CMake)
      if(NOT DEFINED CMAKE_POLICY_VERSION_MINIMUM)
        set(CMAKE_POLICY_VERSION_MINIMUM 3.5)
        FetchContent_MakeAvailable(CLI11)
        unset(CMAKE_POLICY_VERSION_MINIMUM)
      else()
        FetchContent_MakeAvailable(CLI11)
      endif()
    else()
      find_package(CLI11 2.1 CONFIG REQUIRED)
    endif()
  endif()
endmacro()
