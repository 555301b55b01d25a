# cmake -DSOURCE_DIR=... -P readme_example.cmake
cmake_minimum_required(VERSION 3.25)
# The README's embedding example must be examples/embedding.cpp word for word: the README shows
# the block after the marker line "<!-- example: examples/embedding.cpp -->".
file(READ "${SOURCE_DIR}/README.md" readme)
file(READ "${SOURCE_DIR}/examples/embedding.cpp" example)
set(marker "<!-- example: examples/embedding.cpp -->\n```cpp\n")
string(FIND "${readme}" "${marker}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md has no block after the marker ${marker}")
endif()
string(LENGTH "${marker}" marker_length)
math(EXPR start "${at} + ${marker_length}")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} block)
if(NOT block STREQUAL example)
  message(FATAL_ERROR "README.md's embedding example differs from examples/embedding.cpp:\n"
                      "--- README\n${block}--- examples/embedding.cpp\n${example}")
endif()
string(REGEX MATCHALL "\n" lines "${example}")
list(LENGTH lines n)
message(STATUS "README example matches examples/embedding.cpp (${n} lines)")
