#include "llmgw/config/loader.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>

#include "config/schema_loader.hpp"
#include "config/yaml_reader.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/common/url.hpp"

namespace llmgw::config {
namespace schema {

void SchemaLoader::load(const Value& root, Config& c) {
  if (!root.node.IsNull() && !root.node.IsMap()) {
    r_.error(root, "expected a mapping of sections (server, providers, models, ...) at the top");
    return;
  }
  MapReader m(r_, root,
              {"server", "providers", "probes", "models", "keys", "auth", "sessions", "state",
               "cache", "prompts", "logging", "tracing"});
  if (auto v = m.get("server")) {
    server(*v, c.server);
  }
  list(m, "providers", c.providers, &SchemaLoader::provider);
  list(m, "probes", c.probes, &SchemaLoader::probe);
  list(m, "models", c.models, &SchemaLoader::model);
  list(m, "keys", c.keys, &SchemaLoader::key);
  if (auto v = m.get("auth")) {
    MapReader a(r_, *v, {"required"});
    a.read("required", c.auth.required);
  }
  if (auto v = m.get("sessions")) {
    sessions(*v, c.sessions);
  }
  if (auto v = m.get("state")) {
    state(*v, c.state);
  }
  if (auto v = m.get("cache")) {
    cache_store(*v, c.cache);
  }
  list(m, "prompts", c.prompts, &SchemaLoader::prompt);
  if (auto v = m.get("logging")) {
    logging(*v, c.logging);
  }
  if (auto v = m.get("tracing")) {
    tracing(*v, c.tracing);
  }
  check_references(c);
}

std::optional<Value> SchemaLoader::required_string(const MapReader& m, std::string_view key,
                                                   std::string& out) {
  auto v = m.require(key);
  if (!v) {
    return std::nullopt;
  }
  auto s = detail::read_string(r_, *v);
  if (!s) {
    return std::nullopt;
  }
  if (common::trim(*s).empty()) {
    r_.error(*v, "must not be empty");
    return std::nullopt;
  }
  out = std::move(*s);
  return v;
}

void SchemaLoader::optional_string(const MapReader& m, std::string_view key,
                                   std::optional<std::string>& out) {
  if (auto v = m.get(key)) {
    if (auto s = detail::read_string(r_, *v)) {
      out = std::move(*s);
    }
  }
}

void SchemaLoader::name(const MapReader& m, std::string& out, NameTable& table, bool url_safe) {
  auto v = required_string(m, "name", out);
  if (!v) {
    return;
  }
  if (url_safe && !is_url_safe_name(out)) {
    r_.error(*v, "may contain only letters, digits, '.', '_' and '-'");
  }
  auto [it, inserted] = table.first_line.emplace(out, v->mark.line + 1);
  if (!inserted) {
    r_.error(*v, "duplicate " + std::string(table.what) + " name '" + out +
                     "' (first defined at line " + std::to_string(it->second) + ")");
  }
}

std::vector<std::string> SchemaLoader::name_list(const Value& v, std::optional<Ref::Kind> kind,
                                                std::string_view what, std::string_view self,
                                                std::string_view self_error) {
  std::vector<std::string> out;
  auto items = detail::read_list(r_, v);
  if (!items) {
    return out;
  }
  for (const auto& item : *items) {
    auto s = detail::read_string(r_, item);
    if (!s) {
      continue;
    }
    if (common::trim(*s).empty()) {
      r_.error(item, "must not be empty");
      continue;
    }
    if (!self.empty() && *s == self) {
      r_.error(item, std::string(self_error));
      continue;
    }
    if (std::find(out.begin(), out.end(), *s) != out.end()) {
      r_.error(item, "duplicate " + std::string(what) + " '" + *s + "'");
      continue;
    }
    if (kind) {
      refs_.push_back(Ref{*kind, *s, item});
    }
    out.push_back(std::move(*s));
  }
  return out;
}

void SchemaLoader::no_control_chars(const MapReader& m, std::string_view key,
                                    const std::string& value) {
  if (auto at = m.get(key); at && common::has_control_chars(value)) {
    r_.error(*at,
             "must not contain control characters such as a line break (a trailing "
             "newline from ${VAR} or a key file?)");
  }
}

void SchemaLoader::check_references(const Config& c) {
  std::vector<std::string_view> providers;
  std::vector<std::string_view> models;
  std::vector<std::string_view> probes;
  for (const auto& p : c.providers) {
    providers.push_back(p.name);
  }
  for (const auto& m : c.models) {
    models.push_back(m.name);
  }
  for (const auto& p : c.probes) {
    probes.push_back(p.name);
  }
  for (const auto& ref : refs_) {
    const auto& names = ref.kind == Ref::Kind::provider ? providers
                        : ref.kind == Ref::Kind::model  ? models
                                                        : probes;
    std::string_view what = ref.kind == Ref::Kind::provider ? "provider"
                            : ref.kind == Ref::Kind::model  ? "model"
                                                            : "probe";
    if (std::find(names.begin(), names.end(), ref.name) != names.end()) {
      continue;
    }
    std::string message = "unknown " + std::string(what) + " '" + ref.name + "'";
    if (names.empty()) {
      message += " (no " + std::string(what) + "s are defined)";
    } else if (auto hint = detail::closest_match(ref.name, names); !hint.empty()) {
      message += " (did you mean '" + std::string(hint) + "'?)";
    }
    r_.error(ref.at, std::move(message));
  }
}

}  // namespace schema

namespace {

using detail::Reader;
using detail::Value;
using schema::is_retry_condition;
using schema::SchemaLoader;

// Where the second YAML document of a text starts, if it has one. Counted with the event
// parser, at most two documents: YAML::LoadAll loops forever on some inputs in yaml-cpp 0.7 (a
// lone ",": jbeder/yaml-cpp#1040), producing empty documents without consuming anything.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) {
      second = mark;
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int documents = 0;
  YAML::Mark second;
};

DocumentCounter count_documents(std::string_view yaml) {
  std::stringstream input{std::string(yaml)};
  YAML::Parser parser(input);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
  }
  return counter;
}

// yaml-cpp's message for a tab in the indentation ("illegal map value") does not say why.
std::string tab_hint(std::string_view yaml, const YAML::Mark& mark) {
  if (mark.line < 0) {
    return "";
  }
  std::size_t begin = 0;
  for (int line = 0; line < mark.line && begin != std::string_view::npos; ++line) {
    begin = yaml.find('\n', begin);
    begin = begin == std::string_view::npos ? begin : begin + 1;
  }
  if (begin == std::string_view::npos) {
    return "";
  }
  auto text = yaml.substr(begin, yaml.find('\n', begin) - begin);
  auto indent = text.substr(0, text.find_first_not_of(" \t"));
  return indent.find('\t') != std::string_view::npos ? " (tabs cannot be used for indentation)"
                                                     : "";
}

}  // namespace

std::string ConfigError::to_string() const {
  // An error about the file itself (it cannot be read) has no position: none is made up.
  std::string out = line == 0 ? file + ": "
                              : file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                    ": ";
  // Errors about the file as a whole (unreadable, YAML syntax) have no schema path.
  if (!path.empty()) {
    out += path + ": ";
  }
  return out + message;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string key(name);
    if (const char* value = std::getenv(key.c_str())) {
      return std::string(value);
    }
    return std::nullopt;
  };
}

RetryConditions parse_retry_conditions(const std::vector<std::string>& on) {
  RetryConditions c;
  c.connect = c.timeout = c.status_429 = c.status_4xx = c.status_5xx = false;
  for (const auto& cond : on) {
    if (cond == "connect") {
      c.connect = true;
    } else if (cond == "timeout") {
      c.timeout = true;
    } else if (cond == "429") {
      c.status_429 = true;
    } else if (cond == "4xx") {
      c.status_4xx = true;
    } else if (cond == "5xx") {
      c.status_5xx = true;
    } else if (is_retry_condition(cond)) {
      c.statuses.push_back(std::stoi(cond));
    }
  }
  return c;
}

LoadResult load_string(std::string_view yaml, std::string file_name, const EnvLookup& env) {
  Reader reader(file_name, env);
  auto config = std::make_shared<Config>();
  config->source_path = file_name;
  try {
    auto documents = count_documents(yaml);
    if (documents.documents > 1) {
      reader.error(documents.second, "", "expected one YAML document, found more");
    } else if (documents.documents == 1) {
      auto doc = YAML::Load(std::string(yaml));
      SchemaLoader(reader).load(Value{doc, doc.Mark(), ""}, *config);
    }
  } catch (const YAML::Exception& e) {
    reader.error(e.mark, "", "invalid YAML: " + e.msg + tab_hint(yaml, e.mark));
  } catch (const std::exception& e) {
    // Nothing above is expected to throw; if it does, reject the file rather than the process.
    reader.error(YAML::Mark::null_mark(), "", std::string("internal error: ") + e.what());
  }
  LoadResult result;
  result.errors = reader.take_errors();
  if (result.errors.empty()) {
    result.config = std::move(config);
  }
  return result;
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  auto io_error = [&](int err) {
    LoadResult result;
    result.errors.push_back(ConfigError{
        path, 0, 0, "", "cannot read config file: " + std::generic_category().message(err)});
    return result;
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return io_error(errno);
  }
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    text.append(buffer, n);
  }
  int err = std::ferror(f) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(f);
  if (err != 0) {
    return io_error(err);
  }
  return load_string(text, path, env);
}

}  // namespace llmgw::config
