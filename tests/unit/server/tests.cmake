llmgw_unit_test(server_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/auth_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/request_parser_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/access_log_test.cpp ${CMAKE_CURRENT_LIST_DIR}/status_page_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/access_line_test.cpp ${CMAKE_CURRENT_LIST_DIR}/trace_tap_test.cpp
  DEPS llmgw_server)
