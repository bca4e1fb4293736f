llmgw_unit_test(common_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/common_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_head_test.cpp DEPS llmgw_common)
