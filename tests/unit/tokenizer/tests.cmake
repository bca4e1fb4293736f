llmgw_unit_test(tokenizer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/bpe_test.cpp
  DEPS llmgw_tokenizer)
