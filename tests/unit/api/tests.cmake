llmgw_unit_test(api_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sse_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/failure_test.cpp ${CMAKE_CURRENT_LIST_DIR}/errors_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_test.cpp
  DEPS llmgw_api)

# The ingress faces (api/openai, api/anthropic, api/responses).
llmgw_unit_test(faces_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/openai/request_validation_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/anthropic/anthropic_face_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responses/responses_face_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/faces_test.cpp
  DEPS llmgw_faces)
target_include_directories(faces_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
