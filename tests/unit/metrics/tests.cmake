llmgw_unit_test(metrics_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/process_test.cpp DEPS llmgw_metrics)
