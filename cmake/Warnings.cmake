# Strict warnings on our own targets only; dependencies come in as SYSTEM includes.
function(llmgw_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror
    # g++ 12 false positive on every Asio coroutine frame (GCC bug 109224).
    -Wno-mismatched-new-delete)
endfunction()
