llmgw_unit_test(session_store_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/memory_store_test.cpp
  DEPS llmgw_session)
