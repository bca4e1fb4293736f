# Strict warnings on our own targets only; dependencies come in as SYSTEM includes.
# Errors in CI and scripts/ (LLMGW_WERROR=ON); a user's plain `cmake` build must not fail on a
# newer compiler's new warning.
option(LLMGW_WERROR "Treat warnings as errors" OFF)
function(llmgw_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    $<$<BOOL:${LLMGW_WERROR}>:-Werror>
    # g++ 12 false positive on every Asio coroutine frame (GCC bug 109224).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
    # g++ 12 at -O3 flags ordinary std::string assign/append as overlapping memcpy (GCC bugs
    # 105329, 105651); fixed in 13. Each workaround in code only moved the false positive.
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
endfunction()
