llmgw_unit_test(state_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_client_test.cpp
  DEPS llmgw_state)
