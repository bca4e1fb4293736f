# Strict warnings on our own targets only; dependencies come in as SYSTEM includes.
function(llmgw_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror)
endfunction()
