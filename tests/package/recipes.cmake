# cmake -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=... -DVERSION=... -P recipes.cmake
cmake_minimum_required(VERSION 3.25)
#
# Neither vcpkg nor Conan can be installed on llmscale's build machines, so this test does what
# each recipe asks of llmscale's CMake: configure and install with exactly the options the
# recipe passes (read from the recipe itself), then build and run Conan's test_package against
# the installed result.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
endfunction()

# The options each recipe passes to llmscale's configure step.
file(READ "${SOURCE_DIR}/ports/llmscale/portfile.cmake" portfile)
string(REGEX MATCHALL "-DLLMSCALE_[A-Z_]+=(ON|OFF)" vcpkg_options "${portfile}")
file(READ "${SOURCE_DIR}/conanfile.py" conanfile)
string(REGEX MATCHALL "cache_variables\\[\"LLMSCALE_[A-Z_]+\"\\] = (True|False)" conan_lines "${conanfile}")
set(conan_options)
foreach(line IN LISTS conan_lines)
  string(REGEX REPLACE "cache_variables\\[\"(LLMSCALE_[A-Z_]+)\"\\] = (True|False)" "\\1;\\2" kv "${line}")
  list(GET kv 0 key)
  list(GET kv 1 value)
  if(value STREQUAL "True")
    list(APPEND conan_options "-D${key}=ON")
  else()
    list(APPEND conan_options "-D${key}=OFF")
  endif()
endforeach()
foreach(recipe vcpkg conan)
  foreach(required -DLLMSCALE_BUILD_TESTS=OFF -DLLMSCALE_BUILD_EXAMPLES=OFF -DLLMSCALE_BUILD_BENCH=OFF
                   -DLLMSCALE_BUILD_TOOLS=OFF)
    if(NOT required IN_LIST ${recipe}_options)
      message(FATAL_ERROR "the ${recipe} recipe does not pass ${required} (it passes: ${${recipe}_options})")
    endif()
  endforeach()
endforeach()

# The recipes agree with the version in include/llmscale/core/version.hpp.
file(READ "${SOURCE_DIR}/ports/llmscale/vcpkg.json" manifest)
string(JSON vcpkg_version GET "${manifest}" version)
if(NOT vcpkg_version STREQUAL VERSION)
  message(FATAL_ERROR "ports/llmscale/vcpkg.json says version ${vcpkg_version}; the headers say ${VERSION}")
endif()
foreach(needle "package_type = \"header-library\"" "self.info.clear()" "core/version.hpp")
  string(FIND "${conanfile}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "conanfile.py lacks ${needle}")
  endif()
endforeach()

foreach(recipe vcpkg conan)
  set(build "${WORK_DIR}/${recipe}/build")
  set(prefix "${WORK_DIR}/${recipe}/prefix")
  file(REMOVE_RECURSE "${WORK_DIR}/${recipe}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DCMAKE_BUILD_TYPE=Release ${${recipe}_options})
  run("${CMAKE_COMMAND}" --build "${build}")
  if(EXISTS "${build}/tests" OR EXISTS "${build}/examples" OR EXISTS "${build}/bench")
    message(FATAL_ERROR "the ${recipe} options still configured llmscale's development targets")
  endif()
  run("${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/test_package" -B "${WORK_DIR}/${recipe}/test_package"
      -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}")
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}/${recipe}/test_package")
  run("${WORK_DIR}/${recipe}/test_package/test_package")
  message(STATUS "${recipe}: configured with ${${recipe}_options}; installed; test_package ran")
endforeach()
message("recipes ok")
