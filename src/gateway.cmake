# The gateway's modules (included from src/CMakeLists.txt). Allowed dependencies follow
# docs/architecture.md: only upstream and server include Beast.
llmgw_module(api SOURCES api/errors.cpp api/failure.cpp api/json.cpp api/sse.cpp api/synthetic.cpp
  api/operation.cpp
  DEPS llmgw_common nlohmann_json::nlohmann_json)

llmgw_module(resilience SOURCES resilience/sliding_window.cpp resilience/circuit_breaker.cpp
  resilience/outlier_detector.cpp resilience/retry_budget.cpp resilience/health_threshold.cpp
  resilience/ewma.cpp
  DEPS llmgw_config)

llmgw_module(providers SOURCES providers/adapter.cpp providers/openai/openai_adapter.cpp
  providers/gemini/gemini_adapter.cpp
  providers/anthropic/anthropic_adapter.cpp
  providers/openai/openai_shared.cpp providers/azure/azure_adapter.cpp
  DEPS llmgw_api llmgw_config)

# Exact BPE tokenizers (tiktoken's o200k_base, cl100k_base) over PCRE2.
llmgw_module(tokenizer SOURCES tokenizer/bpe.cpp tokenizer/models.cpp tokenizer/library.cpp
  DEPS nlohmann_json::nlohmann_json PkgConfig::PCRE2)
target_compile_definitions(llmgw_tokenizer PRIVATE
  LLMGW_SOURCE_TOKENIZERS="${PROJECT_SOURCE_DIR}/data/tokenizers")

# Shared state on Redis (sessions; later rate limits, budgets, the cache): one pipelined
# connection per worker; hiredis is used only for its reply parser.
llmgw_module(state SOURCES state/redis_client.cpp state/availability.cpp
  DEPS llmgw_asio llmgw_common)
target_link_libraries(llmgw_state PRIVATE PkgConfig::HIREDIS)  # its headers stay in state/

# The response cache's stores (memory LRU, Redis), its key, and its answer forms (a stream
# joined into an answer, an answer replayed as a stream). The stage lives in llmgw_pipeline.
llmgw_module(cache SOURCES cache/key.cpp cache/cache_control.cpp cache/memory_store.cpp
  cache/redis_store.cpp cache/cache.cpp cache/replay.cpp cache/assembly.cpp
  DEPS llmgw_asio llmgw_common llmgw_config llmgw_state llmgw_api llmgw_metrics
  nlohmann_json::nlohmann_json spdlog::spdlog)

# Conversation sessions: the stores (memory, sqlite, redis) and per-session serialisation.
find_package(SQLite3 REQUIRED)
llmgw_module(session SOURCES session/locks.cpp session/memory_store.cpp session/protocol.cpp
  session/sessions.cpp session/sqlite_store.cpp session/redis_store.cpp
  DEPS llmgw_asio llmgw_common llmgw_config llmgw_state nlohmann_json::nlohmann_json
  SQLite::SQLite3)

# The recent requests user feedback may rate (POST /v1/feedback).
llmgw_module(feedback SOURCES feedback/recent_requests.cpp
  DEPS llmgw_common)

llmgw_module(metrics SOURCES metrics/metrics.cpp metrics/process.cpp
  DEPS prometheus-cpp::core)

llmgw_module(upstream SOURCES upstream/client.cpp upstream/content_decoder.cpp
  DEPS llmgw_asio llmgw_api llmgw_providers llmgw_config ZLIB::ZLIB)

# OpenTelemetry traces: W3C trace context, OTLP/HTTP JSON, the exporter thread.
llmgw_module(tracing SOURCES tracing/trace_context.cpp tracing/otlp_json.cpp
  tracing/exporter.cpp tracing/http_poster.cpp
  DEPS llmgw_upstream llmgw_config llmgw_metrics llmgw_common prometheus-cpp::core
  nlohmann_json::nlohmann_json spdlog::spdlog)
target_compile_definitions(llmgw_tracing PRIVATE LLMGW_VERSION="${PROJECT_VERSION}")

# One exchange with one target (render, send, classify, translate): the router's attempts and,
# without any router, the semantic probes and judge calls.
llmgw_module(exchange SOURCES exchange/exchange.cpp
  DEPS llmgw_upstream llmgw_providers llmgw_config llmgw_api)

llmgw_module(health SOURCES health/target_health.cpp health/active_checker.cpp
  health/probe_check.cpp health/semantic_prober.cpp health/judge.cpp health/live_signals.cpp
  DEPS llmgw_exchange llmgw_resilience llmgw_limits llmgw_upstream llmgw_providers llmgw_api)

llmgw_module(router SOURCES router/route_table.cpp router/model_state.cpp router/router.cpp
  router/attempt.cpp router/attempt_state.cpp router/plan.cpp router/continuation.cpp
  router/balancer.cpp router/model_asker.cpp router/answer_watch.cpp router/canary.cpp
  router/context_fit.cpp router/summarize.cpp router/select.cpp router/token_count.cpp
  router/preview.cpp
  DEPS llmgw_tokenizer llmgw_exchange llmgw_health llmgw_resilience llmgw_upstream llmgw_providers llmgw_metrics
  llmgw_api)

# Ingress faces (api/openai, api/anthropic, api/responses): request decode + validation,
# answer, stream and error encoders. They know the api vocabulary and nothing of routing or
# sockets.
llmgw_module(faces SOURCES api/faces.cpp api/openai/openai_face.cpp
  api/openai/request_validation.cpp
  api/anthropic/anthropic_face.cpp api/anthropic/request_decoder.cpp
  api/anthropic/response_encoder.cpp api/anthropic/stream_encoder.cpp
  api/anthropic/anthropic_sink.cpp api/anthropic/detail.cpp api/face_json.cpp
  api/responses/responses_face.cpp api/responses/request_decoder.cpp
  api/responses/response_encoder.cpp api/responses/stream_encoder.cpp
  DEPS llmgw_asio llmgw_api llmgw_common)

# Rate limits, budgets (include/llmgw/limits): the decisions, in injected time, on this
# instance or as Lua scripts on the shared Redis.
llmgw_module(limits SOURCES limits/rate_limiter.cpp limits/budget.cpp limits/limits.cpp
  limits/shared_limits.cpp
  DEPS llmgw_asio llmgw_common llmgw_config llmgw_state)

# The request pipeline (include/llmgw/pipeline) and its stages, each in its concept's folder:
# limits, prompts (the call, its template stage and its output sink), session, cache.
llmgw_module(pipeline SOURCES pipeline/pipeline.cpp limits/limits_stage.cpp
  prompts/template_stage.cpp prompts/call.cpp prompts/output_sink.cpp
  session/session_stage.cpp session/response_stage.cpp cache/cache_stage.cpp
  cache/request_cache.cpp
  DEPS llmgw_cache llmgw_limits llmgw_session llmgw_tokenizer llmgw_router llmgw_faces
  llmgw_config llmgw_api llmgw_prompts llmgw_metrics spdlog::spdlog)

# The HTTP/1.1 request parser: Beast's basic_parser plus the framing rules a proxy must enforce.
llmgw_module(http SOURCES server/request_parser.cpp
  DEPS llmgw_asio llmgw_common)

llmgw_module(server SOURCES server/listener.cpp server/session.cpp server/api_handler.cpp
  server/admin_handler.cpp server/auth.cpp server/access_log.cpp server/access_line.cpp
  server/trace_tap.cpp server/feedback.cpp
  server/sessions_api.cpp server/prompts_api.cpp server/responses_api.cpp
  server/count_tokens.cpp server/status_view.cpp server/status_page.cpp
  DEPS llmgw_cache llmgw_session llmgw_feedback llmgw_http llmgw_faces llmgw_pipeline llmgw_router llmgw_metrics llmgw_config llmgw_tracing spdlog::spdlog)

llmgw_module(app SOURCES app/app.cpp
  DEPS llmgw_server llmgw_router llmgw_config llmgw_metrics spdlog::spdlog)
target_compile_definitions(llmgw_app PRIVATE LLMGW_VERSION="${PROJECT_VERSION}")

add_executable(llmgw main.cpp)
target_link_libraries(llmgw PRIVATE llmgw_app)
target_include_directories(llmgw PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_definitions(llmgw PRIVATE LLMGW_VERSION="${PROJECT_VERSION}")
llmgw_warnings(llmgw)
