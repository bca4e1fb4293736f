// The config schema, prompts: managed prompt templates (POST /v1/prompts/{name}), each a
// (name, version) pair, with the chat request's sampling defaults.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/prompts/template.hpp"

namespace llmgw::config::schema {

namespace {

// OpenAI's own limit on stop sequences; a longer list would be refused by the face anyway.
constexpr std::size_t kMaxStops = 4;

}  // namespace

void SchemaLoader::prompt(const Value& v, PromptConfig& p) {
  MapReader m(r_, v,
              {"name", "version", "model", "system", "template", "temperature", "top_p",
               "max_tokens", "stop", "response_format"});
  if (!m.ok()) {
    return;
  }
  auto name_at = required_string(m, "name", p.name);
  if (name_at && !is_url_safe_name(p.name)) {
    r_.error(*name_at, "may contain only letters, digits, '.', '_' and '-'");
  }
  m.read("version", p.version, 1, kNoMax);
  if (name_at) {
    // Versions of one prompt live side by side: only the pair must be unique.
    auto [it, inserted] =
        prompt_versions_.emplace(std::pair{p.name, p.version}, name_at->mark.line + 1);
    if (!inserted) {
      r_.error(*name_at, "duplicate prompt '" + p.name + "' version " +
                             std::to_string(p.version) + " (first defined at line " +
                             std::to_string(it->second) + ")");
    }
  }
  if (auto at = required_string(m, "model", p.model)) {
    refs_.push_back(Ref{Ref::Kind::model, p.model, *at});
  }
  m.read("system", p.system);
  if (auto at = required_string(m, "template", p.template_text)) {
    if (auto parsed = prompts::parse(p.template_text); !parsed) {
      r_.error(*at, "prompt '" + p.name + "' version " + std::to_string(p.version) + ": " +
                        parsed.error());
    }
  }
  m.read("temperature", p.temperature, 0.0, 2.0);
  m.read("top_p", p.top_p, 0.0, 1.0);
  m.read("max_tokens", p.max_tokens, 1, 2147483647);  // the face's own bound (INT32_MAX)
  if (auto sv = m.get("stop"); sv && !sv->node.IsNull()) {
    std::vector<Value> items;
    if (sv->node.IsSequence()) {
      if (auto list = detail::read_list(r_, *sv)) {
        items = std::move(*list);
      }
      if (items.empty() || items.size() > kMaxStops) {
        r_.error(*sv, "must list 1 to " + std::to_string(kMaxStops) + " stop sequences");
      }
    } else {
      items.push_back(*sv);
    }
    for (const auto& item : items) {
      if (auto s = detail::read_string(r_, item)) {
        if (s->empty()) {
          r_.error(item, "must not be empty");
        } else {
          p.stop.push_back(std::move(*s));
        }
      }
    }
  }
  if (auto rf = m.get("response_format"); rf && !rf->node.IsNull()) {
    if (auto s = detail::read_choice(r_, *rf, detail::kResponseFormats, "response_format")) {
      p.response_format = std::move(*s);
    }
  }
}

}  // namespace llmgw::config::schema
