# llmscale::cuda: the CUDA sampler (include/llmscale/cuda/sampler.cuh), defined when the CUDA
# toolkit is found. Header-only like the rest: a consumer's own .cu files compile it. Its plain
# headers (batch_kv.hpp, sampler.hpp) are part of llmscale::llmscale and need no CUDA.
include_guard(GLOBAL)

find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  message(STATUS "llmscale: no CUDA toolkit found, so llmscale::cuda is not defined")
  return()
endif()

add_library(llmscale_cuda INTERFACE)
add_library(llmscale::cuda ALIAS llmscale_cuda)
set_target_properties(llmscale_cuda PROPERTIES EXPORT_NAME cuda)
file(GLOB LLMSCALE_CUDA_HEADERS CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/include/llmscale/cuda/*.cuh")
target_sources(llmscale_cuda INTERFACE
  FILE_SET HEADERS BASE_DIRS "${PROJECT_SOURCE_DIR}/include" FILES ${LLMSCALE_CUDA_HEADERS})
target_link_libraries(llmscale_cuda INTERFACE llmscale::llmscale CUDA::cudart)
message(STATUS "llmscale: llmscale::cuda defined (CUDA toolkit ${CUDAToolkit_VERSION})")

# llmscale's own CUDA targets (tests, example, benchmark) need the CUDA language: enabled here
# when a CUDA compiler is found, for sm_90 (code and PTX) unless CMAKE_CUDA_ARCHITECTURES says
# otherwise.
if(LLMSCALE_BUILD_TESTS OR LLMSCALE_BUILD_EXAMPLES OR LLMSCALE_BUILD_BENCH)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING
        "CUDA architectures of llmscale's own CUDA targets (90: sm_90 code plus compute_90 PTX)")
    enable_language(CUDA)
    set(LLMSCALE_CUDA_DEV ON)
  else()
    message(STATUS "llmscale: no CUDA compiler found, so the CUDA test, example and benchmark are not built")
  endif()
endif()

# One of llmscale's own CUDA targets: C++17, warnings as errors in device and host code.
function(llmscale_cuda_target target)
  target_link_libraries(${target} PRIVATE llmscale::cuda)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON CUDA_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE
    "$<$<COMPILE_LANGUAGE:CUDA>:SHELL:-Werror all-warnings>"
    "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Werror>")
endfunction()
