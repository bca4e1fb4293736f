# Managed prompts: the template (parse, render), the call (body, versions, answer shapes) and
# the sink that reshapes an answer.
llmgw_unit_test(prompts_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/template_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/call_test.cpp
  DEPS llmgw_pipeline)
target_include_directories(prompts_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
