llmgw_unit_test(api_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sse_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/failure_test.cpp ${CMAKE_CURRENT_LIST_DIR}/errors_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_test.cpp
  DEPS llmgw_api)
