llmgw_unit_test(upstream_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/content_decoder_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/client_test.cpp DEPS llmgw_upstream)
