// fuzz_config: config::load_string on a YAML document, with an environment where no variable
// is set and one where every variable is set; on success the redacted JSON for
// GET /admin/config must be JSON, and the config's strings go where the gateway sends them:
// each target's upstream request, each provider's health request, each degrade answer. Config files are operator
// input, but a reload must never take the daemon down (SIGHUP/inotify reloads run in-process).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "llmgw/api/synthetic.hpp"
#include "llmgw/config/loader.hpp"
#include "support.hpp"

namespace {

using llmgw::providers::Operation;

// Where a loaded config's strings go: every target's request rendered by its provider's adapter
// (base_url path, api_version, headers, api_key, the target's model), every provider's active
// health request, and every degrade message as the synthetic answer the router writes.
void use(const llmgw::config::Config& cfg) {
  const nlohmann::json body = {{"model", "m"},
                               {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                               {"stream", true}};
  for (const auto& m : cfg.models) {
    for (const auto& t : m.targets) {
      const auto* p = cfg.find_provider(t.provider);
      if (p == nullptr) {
        llmgw::fuzz::fail("a loaded config's target names a provider it does not have", t.provider);
      }
      auto adapter = llmgw::providers::make_adapter(p->kind);
      if (!adapter || !adapter->supports(Operation::chat)) {
        continue;
      }
      llmgw::providers::RequestOptions options;
      options.stream = true;
      nlohmann::json copy = body;
      if (!adapter->unsupported(Operation::chat, copy, *p, t)) {
        auto req = adapter->build_request(Operation::chat, copy, *p, t, options);
        llmgw::fuzz::check_rendered("config: target " + p->name + "/" + t.model, req);
      }
    }
    if (m.degrade) {
      auto answer = llmgw::api::synthetic_chat_completion(m.name, m.degrade->message);
      if (!llmgw::fuzz::is_json(answer)) {
        llmgw::fuzz::fail("the degrade answer is not JSON", answer);
      }
      llmgw::fuzz::check_sse_json(llmgw::api::synthetic_chat_stream(m.name, m.degrade->message),
                                  false, "the degrade stream");
      auto text = llmgw::api::synthetic_text_completion(m.name, m.degrade->message);
      if (!llmgw::fuzz::is_json(text)) {
        llmgw::fuzz::fail("the degrade text completion is not JSON", text);
      }
    }
  }
  for (const auto& p : cfg.providers) {
    auto adapter = llmgw::providers::make_adapter(p.kind);
    if (adapter && p.health.active &&
        p.health.active->kind == llmgw::config::ActiveHealthConfig::Kind::http) {
      llmgw::fuzz::check_rendered("config: health check of " + p.name,
                                  adapter->build_health_request(p, *p.health.active));
    }
  }
}

void load(std::string_view yaml, const llmgw::config::EnvLookup& env) {
  auto r = llmgw::config::load_string(yaml, "fuzz.yaml", env);
  if (r.ok() != r.errors.empty()) {
    llmgw::fuzz::fail("load_string: config and errors disagree");
  }
  for (const auto& e : r.errors) {
    auto line = e.to_string();
    if (line.empty()) {
      llmgw::fuzz::fail("load_string: an error prints as nothing");
    }
  }
  if (r.ok()) {
    use(*r.config);  // what every request does with it, before any GET /admin/config
    auto redacted = llmgw::config::to_redacted_json(*r.config);
    if (!llmgw::fuzz::is_json(redacted)) {
      llmgw::fuzz::fail("to_redacted_json wrote something that is not JSON", redacted);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml = llmgw::fuzz::as_text(data, size);
  load(yaml, [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  load(yaml, [](std::string_view name) -> std::optional<std::string> {
    // Values that are valid in many places (port, duration, URL) and one that looks like a
    // reference itself: expansion must not recurse.
    if (name.ends_with("URL")) {
      return std::string("http://127.0.0.1:8000/v1");
    }
    if (name.ends_with("PORT")) {
      return std::string("8080");
    }
    return std::string("${") + std::string(name) + "}";
  });
  return 0;
}
