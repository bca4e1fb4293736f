# -DLLMGW_SANITIZE=address,undefined   (or thread)
set(LLMGW_SANITIZE "" CACHE STRING "Sanitizers to build with (address,undefined | thread)")
if(LLMGW_SANITIZE)
  # -O1: the sanitizers' own advice; at -O0 the byte-split stream tests take minutes.
  add_compile_options(-fsanitize=${LLMGW_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all
    -O1)
  # The instrumentation makes g++ 12 see "maybe uninitialized" members inside libstdc++
  # (std::regex's std::function) that are not: off in sanitizer builds only.
  add_compile_options($<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  add_link_options(-fsanitize=${LLMGW_SANITIZE})
  if(LLMGW_SANITIZE MATCHES "thread")
    # Asio's atomics use std::atomic_thread_fence, which g++ 12 warns TSan cannot see.
    add_compile_options(-Wno-tsan)
  endif()
endif()
