llmgw_unit_test(config_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/loader_test.cpp ${CMAKE_CURRENT_LIST_DIR}/units_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tracing_section_test.cpp
  DEPS llmgw_config)
