# Helpers for llmscale's own tests, examples, tools and benchmarks (never for consumers).
include_guard(GLOBAL)

# Strict warnings on one of llmscale's own targets when LLMSCALE_DEV_WARNINGS is ON (the dev
# presets turn it on). The llmscale INTERFACE target never carries warning flags.
function(llmscale_dev_target target)
  if(LLMSCALE_DEV_WARNINGS)
    if(MSVC)
      target_compile_options(${target} PRIVATE /W4 /WX /permissive-)
    else()
      target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
    endif()
  endif()
endfunction()
