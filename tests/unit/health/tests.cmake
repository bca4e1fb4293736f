llmgw_unit_test(health_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/target_health_test.cpp
  DEPS llmgw_health)
llmgw_unit_test(semantic_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/semantic_test.cpp
  DEPS llmgw_health)
target_include_directories(semantic_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
llmgw_unit_test(judge_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/judge_test.cpp
  DEPS llmgw_health)
llmgw_unit_test(live_signals_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/live_signals_test.cpp
  DEPS llmgw_health)
