# -DLLMGW_FUZZ=ON (scripts/fuzz.sh, fuzz/README.md): every translation unit is compiled with
# libFuzzer's coverage instrumentation plus AddressSanitizer and UndefinedBehaviorSanitizer;
# fuzz/CMakeLists.txt links the fuzz targets with -fsanitize=fuzzer (libFuzzer's main).
# Clang only (Debian's clang-16 + libclang-rt-16-dev, installed by scripts/install-deps.sh).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LLMGW_FUZZ=ON needs clang: configure a fresh build dir with "
                      "CC=clang-16 CXX=clang++-16 (this compiler is ${CMAKE_CXX_COMPILER_ID})")
endif()
if(LLMGW_SANITIZE)
  message(FATAL_ERROR "LLMGW_FUZZ=ON brings its own sanitizers; leave LLMGW_SANITIZE empty")
endif()

# Assertions stay on in every build type: assert(), nlohmann's JSON_ASSERT (e.g. a const
# operator[] with a missing key) and libstdc++'s bounds checks (_GLIBCXX_ASSERTIONS: vector and
# string operator[], front()/back() on empty, ...) turn silent undefined behaviour into a crash
# the fuzzer reports. _GLIBCXX_ASSERTIONS does not change the ABI.
foreach(config RELWITHDEBINFO RELEASE MINSIZEREL)
  string(REPLACE "-DNDEBUG" "" CMAKE_CXX_FLAGS_${config} "${CMAKE_CXX_FLAGS_${config}}")
endforeach()

add_compile_options(
  -fsanitize=fuzzer-no-link,address,undefined
  # Any UBSan report aborts, so libFuzzer records it as a crash with a reproducer.
  -fno-sanitize-recover=all
  -fno-omit-frame-pointer
  -D_GLIBCXX_ASSERTIONS)
add_link_options(-fsanitize=address,undefined)
