// The config schema, prompts: named templates.
#include "config/schema_loader.hpp"
#include "llmgw/common/strings.hpp"

namespace llmgw::config::schema {

void SchemaLoader::prompt(const Value& v, PromptConfig& p) {
  MapReader m(r_, v, {"name", "version", "model", "system", "template"});
  if (!m.ok()) {
    return;
  }
  name(m, p.name, prompts_, true);
  m.read("version", p.version, 1, kNoMax);
  if (auto at = required_string(m, "model", p.model)) {
    refs_.push_back(Ref{Ref::Kind::model, p.model, *at});
  }
  m.read("system", p.system);
  required_string(m, "template", p.template_text);
}

}  // namespace llmgw::config::schema
