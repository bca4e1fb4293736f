llmgw_unit_test(feedback_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/recent_requests_test.cpp
  DEPS llmgw_feedback)
