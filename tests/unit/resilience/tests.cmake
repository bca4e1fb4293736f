llmgw_unit_test(resilience_test SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/sliding_window_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/circuit_breaker_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/outlier_detector_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/retry_budget_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/health_threshold_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ewma_test.cpp
  DEPS llmgw_resilience)
