llmgw_unit_test(health_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/target_health_test.cpp
  DEPS llmgw_health)
