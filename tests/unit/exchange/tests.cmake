llmgw_unit_test(exchange_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/exchange_test.cpp
  DEPS llmgw_exchange)
target_include_directories(exchange_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
