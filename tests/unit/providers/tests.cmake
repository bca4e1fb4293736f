llmgw_unit_test(providers_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/openai_adapter_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/anthropic_adapter_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemini_adapter_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/azure_adapter_test.cpp
  DEPS llmgw_providers)
