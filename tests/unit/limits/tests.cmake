llmgw_unit_test(limits_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/budget_test.cpp ${CMAKE_CURRENT_LIST_DIR}/limits_test.cpp
  DEPS llmgw_limits)
