# Runs one llmscale-size command line and checks its exit status and output.
#   cmake -DEXE=... -DARGS=a;b;c -DEXPECT_RC=n -DEXPECT=regex [-DNEEDS=path] -P cli_check.cmake
if(DEFINED NEEDS AND NOT EXISTS "${NEEDS}")
  message("skipped: no ../shared/data")
  return()
endif()
execute_process(COMMAND "${EXE}" ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "exit status ${rc}, want ${EXPECT_RC}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "output does not match '${EXPECT}'\nstdout: ${out}\nstderr: ${err}")
endif()
