# cmake -DBUILD_DIR=... -DPREFIX=... [-DCONFIG=...] -P install_to_stage.cmake
cmake_minimum_required(VERSION 3.25)
# Installs a build into an emptied prefix, so no stale file from an earlier run is found.
file(REMOVE_RECURSE "${PREFIX}")
set(_config_args)
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${_config_args}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
foreach(f include/llmscale/llmscale.hpp share/cmake/llmscale/llmscale-config.cmake
          share/cmake/llmscale/llmscale-config-version.cmake share/cmake/llmscale/llmscale-targets.cmake)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "the install lacks ${f}")
  endif()
endforeach()
