llmgw_unit_test(pipeline_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pipeline_test.cpp
  DEPS llmgw_pipeline)
