llmgw_unit_test(router_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/plan_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/balancer_test.cpp ${CMAKE_CURRENT_LIST_DIR}/continuation_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attempt_loop_test.cpp ${CMAKE_CURRENT_LIST_DIR}/model_state_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attempt_state_test.cpp ${CMAKE_CURRENT_LIST_DIR}/model_asker_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/canary_test.cpp ${CMAKE_CURRENT_LIST_DIR}/context_fit_test.cpp
  DEPS llmgw_router)
target_include_directories(router_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
