llmgw_unit_test(session_store_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/memory_store_test.cpp
  DEPS llmgw_session)
llmgw_unit_test(session_sqlite_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlite_store_test.cpp
  DEPS llmgw_session)
llmgw_unit_test(session_protocol_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/protocol_test.cpp
  DEPS llmgw_session)
llmgw_unit_test(session_redis_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_store_test.cpp
  DEPS llmgw_session llmgw_state)
