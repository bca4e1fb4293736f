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
# address,undefined by default; long local runs may take `undefined` alone, several times faster
# (fuzz/README.md).
set(LLMGW_FUZZ_SANITIZERS "address,undefined" CACHE STRING "Sanitizers of the fuzz build")

foreach(config RELWITHDEBINFO RELEASE MINSIZEREL)
  string(REPLACE "-DNDEBUG" "" CMAKE_CXX_FLAGS_${config} "${CMAKE_CXX_FLAGS_${config}}")
endforeach()

add_compile_options(
  # Boost's own assertions stay off, as in every build users run: Beast's parse_chunk_header
  # asserts `n >= 5` for a final chunk whose trailer arrives 4 bytes at a time, a condition
  # its code handles (every read stays within the buffer; ASan watches that here).
  -DBOOST_DISABLE_ASSERTS
  -fsanitize=fuzzer-no-link,${LLMGW_FUZZ_SANITIZERS}
  # Any UBSan report aborts, so libFuzzer records it as a crash with a reproducer.
  -fno-sanitize-recover=all
  -fno-omit-frame-pointer
  -D_GLIBCXX_ASSERTIONS)
add_link_options(-fsanitize=${LLMGW_FUZZ_SANITIZERS})
