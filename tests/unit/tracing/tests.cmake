llmgw_unit_test(tracing_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_context_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/exporter_test.cpp DEPS llmgw_tracing)
