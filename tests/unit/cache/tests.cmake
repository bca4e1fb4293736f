llmgw_unit_test(cache_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/key_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_store_test.cpp ${CMAKE_CURRENT_LIST_DIR}/forms_test.cpp
  DEPS llmgw_cache)
llmgw_unit_test(cache_redis_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_store_test.cpp
  DEPS llmgw_cache llmgw_state)
llmgw_unit_test(cache_stage_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cache_stage_test.cpp
  DEPS llmgw_pipeline llmgw_cache)
