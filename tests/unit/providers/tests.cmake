llmgw_unit_test(providers_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/openai_adapter_test.cpp
  DEPS llmgw_providers)
