// The YAML loader: every error is checked as the exact line a user would see from
// `llmgw --check-config`, i.e. `FILE:LINE:COL: path: message`.
//
// Documented format choices (see docs/configuration.md):
//  - errors about the file as a whole (unreadable file, YAML syntax) have no schema path and print
//    as `FILE:LINE:COL: message`; an unreadable file reports line and column 0;
//  - unknown keys and missing required keys name the key itself as the path;
//  - auth.required with no keys is valid (every request is then refused with 401).
#include "llmgw/config/loader.hpp"
#include "llmgw/config/probe_template.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace llmgw::config {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

EnvLookup fake_env(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Strings errors_of(std::string_view yaml, const EnvLookup& env = fake_env()) {
  auto result = load_string(yaml, "t.yaml", env);
  Strings out;
  for (const auto& e : result.errors) {
    out.push_back(e.to_string());
  }
  EXPECT_EQ(result.ok(), out.empty());
  return out;
}

std::shared_ptr<const Config> load_ok(std::string_view yaml, const EnvLookup& env = fake_env()) {
  auto result = load_string(yaml, "t.yaml", env);
  for (const auto& e : result.errors) {
    ADD_FAILURE() << e.to_string();
  }
  return result.config;
}

// The smallest provider + model pair, for tests about other sections.
constexpr std::string_view kBase = R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
models:
  - name: smart
    targets: [ { provider: openai, model: gpt-4o } ]
)";

TEST(ConfigError, PrintsFileLineColumnPathMessage) {
  ConfigError e{"llmgw.yaml", 3, 5, "providers[1].timeouts.connect", "must be greater than 0"};
  EXPECT_EQ(e.to_string(), "llmgw.yaml:3:5: providers[1].timeouts.connect: must be greater than 0");
  ConfigError whole_file{"llmgw.yaml", 2, 1, "", "invalid YAML: illegal map value"};
  EXPECT_EQ(whole_file.to_string(), "llmgw.yaml:2:1: invalid YAML: illegal map value");
}

TEST(Loader, EmptyFileIsAllDefaults) {
  for (std::string_view yaml : {"", "# nothing here\n", "server:\n", "server:\nproviders:\n"}) {
    auto config = load_ok(yaml);
    ASSERT_TRUE(config) << yaml;
    EXPECT_EQ(config->server.listen, "0.0.0.0:8080");
    EXPECT_EQ(config->server.admin_listen, "127.0.0.1:9901");
    EXPECT_EQ(config->server.max_body_bytes, 8ull << 20);
    EXPECT_EQ(config->server.request_timeout, milliseconds{600000});
    EXPECT_FALSE(config->server.tls.has_value());
    EXPECT_TRUE(config->providers.empty());
    EXPECT_TRUE(config->auth.required);
    EXPECT_EQ(config->logging.level, "info");
    EXPECT_EQ(config->source_path, "t.yaml");
  }
}

TEST(Loader, UnknownKeyAtTopLevel) {
  EXPECT_EQ(errors_of("sever:\n  listen: 0.0.0.0:8080\n"),
            Strings{"t.yaml:1:1: sever: unknown key 'sever' (did you mean 'server'?)"});
  EXPECT_EQ(errors_of("upstreams: []\n"),
            Strings{"t.yaml:1:1: upstreams: unknown key 'upstreams'"});
}

TEST(Loader, UnknownKeyNestedInListItem) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    health:
      active:
        intervall: 5s
    timeout: { connect: 1s }
)"),
            (Strings{"t.yaml:7:9: providers[0].health.active.intervall: unknown key 'intervall' "
                     "(did you mean 'interval'?)",
                     "t.yaml:8:5: providers[0].timeout: unknown key 'timeout' (did you mean "
                     "'timeouts'?)"}));
}

TEST(Loader, WrongTypes) {
  EXPECT_EQ(errors_of(R"(server:
  threads: many
  tls: yes
models: smart
auth: { required: maybe }
providers:
  - just-a-string
)"),
            (Strings{
                "t.yaml:2:12: server.threads: expected an integer, got 'many'",
                "t.yaml:3:8: server.tls: expected a mapping",
                "t.yaml:4:9: models: expected a list",
                "t.yaml:5:19: auth.required: expected a boolean (true or false), got 'maybe'",
                "t.yaml:7:5: providers[0]: expected a mapping",
            }));
}

TEST(Loader, NumbersAndRanges) {
  std::string yaml = std::string(kBase) + R"(    retry: { budget: lots }
    canary: { target: openai, percent: 150 }
server:
  threads: -1
prompts: [ { name: p, model: smart, template: x, version: 0 } ]
)";
  EXPECT_EQ(errors_of(yaml),
            (Strings{
                "t.yaml:8:22: models[0].retry.budget: expected a number, got 'lots'",
                "t.yaml:9:40: models[0].canary.percent: must be between 0 and 100",
                "t.yaml:11:12: server.threads: must be between 0 and 1024",
                "t.yaml:12:59: prompts[0].version: must be at least 1",
            }));
}

TEST(Loader, BadDurations) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    timeouts: { connect: 2, first_byte: 30x, total: 0s }
)"),
            (Strings{
                "t.yaml:5:26: providers[0].timeouts.connect: duration needs a unit (e.g. 2s or "
                "2ms)",
                "t.yaml:5:41: providers[0].timeouts.first_byte: invalid duration '30x' (expected "
                "e.g. 250ms, 2s, 5m, 1h, 1d)",
                "t.yaml:5:53: providers[0].timeouts.total: must be greater than 0",
            }));
}

TEST(Loader, BadEnums) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: opneai
    base_url: https://api.openai.com/v1
models:
  - name: smart
    strategy: fastest
    targets: [ { provider: openai, model: gpt-4o } ]
sessions: { store: postgres }
logging: { level: verbose, format: xml }
)"),
            (Strings{
                "t.yaml:3:11: providers[0].kind: unknown kind 'opneai' (expected one of: openai, "
                "azure, anthropic, gemini, openai_compatible)",
                "t.yaml:7:15: models[0].strategy: unknown strategy 'fastest' (expected one of: "
                "priority, weighted, round_robin, least_latency, least_cost, least_busy)",
                "t.yaml:9:20: sessions.store: unknown store 'postgres' (expected one of: memory, "
                "sqlite, redis)",
                "t.yaml:10:19: logging.level: unknown level 'verbose' (expected one of: trace, "
                "debug, info, warn, error)",
                "t.yaml:10:36: logging.format: unknown format 'xml' (expected one of: text, json)",
            }));
}

TEST(Loader, MissingRequiredKeys) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: openai
models:
  - name: smart
keys:
  - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
prompts:
  - { name: p, model: smart, template: "" }
)"),
            (Strings{
                "t.yaml:2:5: providers[0].base_url: missing required key 'base_url'",
                "t.yaml:5:5: models[0].targets: missing required key 'targets'",
                "t.yaml:7:5: keys[0].name: missing required key 'name'",
                "t.yaml:9:40: prompts[0].template: must not be empty",
            }));
}

TEST(Loader, EmptyTargetListIsAnError) {
  EXPECT_EQ(errors_of("models:\n  - name: smart\n    targets: []\n"),
            Strings{"t.yaml:3:14: models[0].targets: must list at least one target"});
}

TEST(Loader, DanglingReferences) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: anthropic-b
    kind: anthropic
    base_url: https://api.anthropic.com/v1
    health:
      semantic: { model: claude-haiku, probes: [ arithmetic ] }
models:
  - name: smart
    targets:
      - { provider: anthropic-x, model: claude }
    fallbacks: [ cheap, smart ]
    canary: { target: openai, percent: 5 }
keys:
  - name: team-a
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    models: [ smrt ]
prompts:
  - { name: sentiment, model: cheap, template: "{{text}}" }
)"),
            (Strings{
                "t.yaml:6:50: providers[0].health.semantic.probes[0]: unknown probe 'arithmetic' "
                "(no probes are defined)",
                "t.yaml:10:21: models[0].targets[0].provider: unknown provider 'anthropic-x' (did "
                "you mean 'anthropic-b'?)",
                "t.yaml:11:18: models[0].fallbacks[0]: unknown model 'cheap'",
                "t.yaml:11:25: models[0].fallbacks[1]: a model cannot fall back to itself",
                "t.yaml:12:23: models[0].canary.target: canary target 'openai' is not the provider "
                "of one of this model's targets (expected one of: 'anthropic-x')",
                "t.yaml:16:15: keys[0].models[0]: unknown model 'smrt' (did you mean 'smart'?)",
                "t.yaml:18:31: prompts[0].model: unknown model 'cheap'",
            }));
}

TEST(Loader, DuplicateNames) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
models:
  - { name: smart, targets: [ { provider: openai, model: a } ] }
  - { name: smart, targets: [ { provider: openai, model: b }, { provider: openai, model: b } ] }
keys:
  - { name: a, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }
  - { name: b, sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08 }
)"),
            (Strings{
                "t.yaml:5:11: providers[1].name: duplicate provider name 'openai' (first defined "
                "at line 2)",
                "t.yaml:10:13: models[1].name: duplicate model name 'smart' (first defined at line "
                "9)",
                "t.yaml:10:63: models[1].targets[1]: duplicate target (provider 'openai', model "
                "'b')",
                "t.yaml:13:24: keys[1].sha256: same sha256 as key 'a' (line 12)",
            }));
}

TEST(Loader, DuplicateNamesInAList) {
  EXPECT_EQ(errors_of(R"(providers:
  - { name: openai, kind: openai, base_url: "https://api.openai.com/v1" }
models:
  - name: smart
    targets: [ { provider: openai, model: a } ]
    fallbacks: [ cheap, cheap ]
  - { name: cheap, targets: [ { provider: openai, model: b } ] }
keys:
  - name: a
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    models: [ smart, cheap, smart ]
)"),
            (Strings{
                "t.yaml:6:25: models[0].fallbacks[1]: duplicate fallback 'cheap'",
                "t.yaml:11:29: keys[0].models[2]: duplicate model 'smart'",
            }));
}

TEST(Loader, DuplicateKeyInOneMapping) {
  EXPECT_EQ(errors_of("server:\n  threads: 2\n  threads: 4\n"),
            Strings{"t.yaml:3:3: server.threads: duplicate key 'threads' (first at line 2)"});
}

TEST(Loader, EnvExpansionWithDefaultsAndOverrides) {
  constexpr std::string_view yaml = R"(server:
  threads: ${THREADS:-4}
providers:
  - name: openai
    kind: openai
    base_url: ${BASE:-https://api.openai.com/v1}
    api_key: ${OPENAI_API_KEY}
    region: "${REGION:-us-east}"
    headers: { X-Org: "org-${ORG:-none}-${TEAM:-x}" }
)";
  auto config = load_ok(yaml, fake_env({{"OPENAI_API_KEY", "sk-test"}, {"TEAM", "core"}}));
  ASSERT_TRUE(config);
  const auto& p = config->providers.at(0);
  EXPECT_EQ(config->server.threads, 4u);
  EXPECT_EQ(p.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(p.url.host, "api.openai.com");
  EXPECT_EQ(p.api_key, "sk-test");
  EXPECT_EQ(p.region, "us-east");
  EXPECT_EQ(p.headers.at("X-Org"), "org-none-core");

  // Set values win over defaults; ":-" also replaces a set-but-empty value, as in the shell.
  config = load_ok(
      yaml,
      fake_env({{"OPENAI_API_KEY", ""}, {"REGION", "eu-west"}, {"THREADS", "8"}, {"ORG", ""}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server.threads, 8u);
  EXPECT_EQ(config->providers.at(0).api_key, "");
  EXPECT_EQ(config->providers.at(0).region, "eu-west");
  EXPECT_EQ(config->providers.at(0).headers.at("X-Org"), "org-none-x");
}

TEST(Loader, EnvExpansionErrors) {
  constexpr std::string_view yaml = R"(server:
  threads: ${THREADS}
providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    region: ${1BAD}
    api_version: ${OOPS
)";
  EXPECT_EQ(errors_of(yaml, fake_env({{"THREADS", "lots"}})),
            (Strings{
                "t.yaml:2:12: server.threads: expected an integer, got 'lots'",
                "t.yaml:7:14: providers[0].api_key: environment variable 'OPENAI_API_KEY' is not "
                "set (write ${OPENAI_API_KEY:-} to allow that)",
                "t.yaml:8:13: providers[0].region: invalid environment variable name '1BAD'",
                "t.yaml:9:18: providers[0].api_version: unterminated '${' (expected ${NAME} or "
                "${NAME:-default})",
            }));
}

TEST(Loader, Sizes) {
  auto config = load_ok("server:\n  max_body_bytes: 512KiB\n  max_header_bytes: 32768\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server.max_body_bytes, 512u * 1024);
  EXPECT_EQ(config->server.max_header_bytes, 32768u);
  config = load_ok("server: { max_body_bytes: 1MB, max_header_bytes: 1MiB }\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server.max_body_bytes, 1000000u);
  EXPECT_EQ(config->server.max_header_bytes, 1u << 20);

  EXPECT_EQ(errors_of("server:\n  max_body_bytes: 8 parsecs\n  max_header_bytes: 100\n"),
            (Strings{
                "t.yaml:2:19: server.max_body_bytes: invalid size '8 parsecs' (expected e.g. "
                "8MiB, 512KiB, 1GB or a byte count)",
                "t.yaml:3:21: server.max_header_bytes: must be between 1KiB and 1MiB",
            }));
}

TEST(Loader, CollectsEveryErrorInFileOrder) {
  EXPECT_EQ(errors_of(R"(server:
  listen: nowhere
providers:
  - name: openai
    kind: openai
    base_url: ftp://files.example.com
    max_connections: 0
models:
  - name: smart
    targets: [ { provider: openai, model: gpt-4o, weight: 0 } ]
    retry: { attempts: 0, on: [ connect, teapot ] }
keys:
  - name: team-a
    sha256: abc
)"),
            (Strings{
                "t.yaml:2:11: server.listen: invalid address 'nowhere': expected host:port",
                "t.yaml:6:15: providers[0].base_url: invalid URL: scheme must be http or https",
                "t.yaml:7:22: providers[0].max_connections: must be between 1 and 100000",
                "t.yaml:10:59: models[0].targets[0].weight: must be between 1 and 1000000",
                "t.yaml:11:24: models[0].retry.attempts: must be between 1 and 100",
                "t.yaml:11:42: models[0].retry.on[1]: unknown retry condition 'teapot' (expected "
                "connect, timeout, 429, 5xx, 4xx or an HTTP status such as 503)",
                "t.yaml:14:13: keys[0].sha256: expected 64 hex characters, the SHA-256 of the key "
                "(e.g. from `printf %s \"$KEY\" | sha256sum`)",
            }));
}

TEST(Loader, YamlSyntaxErrorHasPositionButNoPath) {
  EXPECT_EQ(errors_of("server:\n  listen: a: b\n"),
            Strings{"t.yaml:2:12: invalid YAML: illegal map value"});
  EXPECT_EQ(errors_of("server:\n\tlisten: 0.0.0.0:8080\n"),
            Strings{"t.yaml:2:8: invalid YAML: illegal map value (tabs cannot be used for "
                    "indentation)"});
  EXPECT_EQ(errors_of("- just\n- a list\n"),
            Strings{"t.yaml:1:1: expected a mapping of sections (server, providers, models, ...) "
                    "at the top"});
}

TEST(Loader, UnreadableFile) {
  auto result = load_file("/nonexistent/llmgw.yaml", fake_env());
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].to_string(),
            "/nonexistent/llmgw.yaml: cannot read config file: No such file or directory");
}

TEST(Loader, ServerChecks) {
  EXPECT_EQ(errors_of(R"(server:
  listen: 0.0.0.0:9000
  admin_listen: 127.0.0.1:9000
  tls: { cert: /etc/llmgw/tls.crt }
)"),
            (Strings{
                "t.yaml:3:17: server.admin_listen: listen and admin_listen must not use the same "
                "address",
                "t.yaml:4:8: server.tls.key: missing required key 'key'",
            }));
}

TEST(Loader, RetryHedgeAndHealthChecks) {
  std::string yaml = std::string(kBase) +
                     R"(    retry: { backoff: { base: 2s, max: 1s, jitter: half } }
    hedge: { after: p100 }
  - name: other
    targets: [ { provider: openai, model: gpt-4o-mini } ]
    hedge: { after: 1500ms }
    retry: { on: [ 503, 4xx, 42 ] }
)";
  EXPECT_EQ(errors_of(yaml),
            (Strings{
                "t.yaml:8:40: models[0].retry.backoff.max: must be at least backoff.base (2s)",
                "t.yaml:8:52: models[0].retry.backoff.jitter: unknown jitter 'half' (expected one "
                "of: full, equal, none)",
                "t.yaml:9:21: models[0].hedge.after: expected a percentile of the target's time to "
                "first byte (p1 to p99.9, e.g. p95) or a duration (e.g. 2s)",
                "t.yaml:13:30: models[1].retry.on[2]: unknown retry condition '42' (expected "
                "connect, timeout, 429, 5xx, 4xx or an HTTP status such as 503)",
            }));
}

TEST(Loader, ProbesAreValidated) {
  EXPECT_EQ(errors_of(R"(probes:
  - name: arithmetic
    prompt: "What is 17 + 25?"
    response_format: yaml
    expect: { regex: '^(42', min_chars: 10, max_chars: 5, judge: { rubric: r } }
)"),
            (Strings{
                "t.yaml:4:22: probes[0].response_format: unknown response_format 'yaml' (expected "
                "one of: text, json_object)",
                "t.yaml:5:22: probes[0].expect.regex: invalid regex: Mismatched '(' and ')' in "
                "regular expression",
                "t.yaml:5:56: probes[0].expect.max_chars: must be at least min_chars (10)",
                "t.yaml:5:66: probes[0].expect.judge.model: missing required key 'model'",
            }));
}

TEST(Loader, LiveSignalsNeedNoProbes) {
  auto c = load_ok(R"(providers:
  - name: p
    kind: openai_compatible
    base_url: "http://127.0.0.1:1/v1"
    health:
      semantic:
        on_bad_answer: retry_elsewhere
        signals: { window: 2m, min_answers: 5, action: eject, refusal: 0.1 }
models:
  - name: m
    targets: [ { provider: p, model: x } ]
)");
  const auto& sem = *c->providers[0].health.semantic;
  EXPECT_TRUE(sem.probes.empty());
  ASSERT_TRUE(sem.signals);
  EXPECT_EQ(sem.signals->window, std::chrono::milliseconds(120000));
  EXPECT_EQ(sem.signals->min_answers, 5u);
  EXPECT_EQ(sem.signals->action, config::LiveSignalsConfig::Action::eject);
  EXPECT_DOUBLE_EQ(sem.signals->refusal, 0.1);
  EXPECT_DOUBLE_EQ(sem.signals->empty, 0.2) << "the default";
  EXPECT_EQ(sem.on_bad_answer, config::OnBadAnswer::retry_elsewhere);
  EXPECT_EQ(errors_of(R"(providers:
  - name: p
    kind: openai_compatible
    base_url: "http://127.0.0.1:1/v1"
    health:
      semantic: { interval: 10s }
models:
  - name: m
    targets: [ { provider: p, model: x } ]
)"),
            (Strings{
                "t.yaml:6:17: providers[0].health.semantic.probes: missing required key 'probes'",
                "t.yaml:6:17: providers[0].health.semantic.model: missing required key 'model'",
            }));
  EXPECT_EQ(errors_of(R"(providers:
  - name: p
    kind: openai_compatible
    base_url: "http://127.0.0.1:1/v1"
    health:
      semantic: { model: x, probes: [ q ], on_bad_answer: retry_elsewhere }
probes:
  - { name: q, prompt: p, expect: { contains: a } }
models:
  - name: m
    targets: [ { provider: p, model: x } ]
)"),
            (Strings{
                "t.yaml:6:59: providers[0].health.semantic.on_bad_answer: retry_elsewhere needs "
                "signals (answers are judged by the live-traffic signals)",
            }));
}

TEST(Loader, SimilarToAndJudgeScales) {
  EXPECT_EQ(errors_of(R"(probes:
  - name: capital
    prompt: "What is the capital of France?"
    expect:
      similar_to: { text: "Paris {{c}}", min_cosine: 1.5 }
      judge: { model: m, rubric: r, min_score: 11 }
models:
  - name: m
    targets: [ { provider: p, model: x } ]
providers:
  - { name: p, kind: openai_compatible, base_url: "http://127.0.0.1:1/v1" }
)"),
            (Strings{
                "t.yaml:5:19: probes[0].expect.similar_to.model: missing required key 'model'",
                "t.yaml:5:27: probes[0].expect.similar_to.text: unknown template value '{{c}}' "
                "(expected {{a}}, {{b}}, {{a+b}}, {{a-b}} or {{a*b}})",
                "t.yaml:5:54: probes[0].expect.similar_to.min_cosine: must be between -1 and 1",
                "t.yaml:6:48: probes[0].expect.judge.min_score: must be between 0 and 10",
            }));
}

TEST(Loader, ProbeSettingsAndRequiredKeys) {
  auto cfg = load_ok(R"(probes:
  - name: j
    prompt: p
    system: "You are terse."
    max_tokens: 20
    temperature: 0.5
    response_format: json_object
    expect: { json: true, required_keys: [ ok, why ] }
)");
  ASSERT_TRUE(cfg);
  const auto& p = cfg->probes.at(0);
  EXPECT_EQ(p.system, "You are terse.");
  EXPECT_EQ(p.max_tokens, 20u);
  EXPECT_DOUBLE_EQ(p.temperature, 0.5);
  EXPECT_EQ(p.expect.required_keys, (Strings{"ok", "why"}));
  EXPECT_EQ(errors_of(R"(probes:
  - name: j
    prompt: p
    max_tokens: 0
    expect: { required_keys: [ ok ] }
)"),
            (Strings{
                "t.yaml:4:17: probes[0].max_tokens: must be between 1 and 100000",
                "t.yaml:5:30: probes[0].expect.required_keys: needs json: true",
            }));
}

TEST(Loader, TemplatedProbesAreCheckedAsTheyWillBeSent) {
  auto cfg = load_ok(R"(probes:
  - name: rotating
    prompt: "What is {{a}} + {{b}}? Reply with the number only."
    expect: { regex: '^\s*{{a+b}}\s*$', not_contains: "{{a*b}}" }
)");
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(is_templated(cfg->probes.at(0)));
  EXPECT_EQ(errors_of(R"(probes:
  - name: r
    prompt: "What is {{a}} + {{c}}?"
    expect: { contains: "{{a/b}}", regex: '^{{a+b}\s*$' }
  - name: s
    prompt: "What is {{a+b}}?"
)"),
            (Strings{
                "t.yaml:3:13: probes[0].prompt: unknown template value '{{c}}' (expected {{a}} "
                "or {{b}} in a prompt)",
                "t.yaml:4:25: probes[0].expect.contains: unknown template value '{{a/b}}' "
                "(expected {{a}}, {{b}}, {{a+b}}, {{a-b}} or {{a*b}})",
                "t.yaml:4:43: probes[0].expect.regex: '{{' without its closing '}}'",
                "t.yaml:6:13: probes[1].prompt: unknown template value '{{a+b}}' (expected {{a}} "
                "or {{b}} in a prompt)",
            }));
}

TEST(ProbeTemplate, RendersEachValue) {
  TemplateValues v{12, 30};
  EXPECT_EQ(render_template("{{a}}+{{ b }}={{a+b}}, {{a-b}}, {{a*b}}", v), "12+30=42, -18, 360");
  ProbeConfig p;
  p.prompt = "What is {{a}} + {{b}}?";
  p.expect.regex = R"(^\s*{{a+b}}\s*$)";
  p.expect.contains = "{{a+b}}";
  auto sent = instantiate(p, v);
  EXPECT_EQ(sent.prompt, "What is 12 + 30?");
  EXPECT_EQ(*sent.expect.regex, R"(^\s*42\s*$)");
  EXPECT_EQ(*sent.expect.contains, "42");
  ProbeConfig fixed;
  fixed.prompt = "What is 17 + 25?";
  EXPECT_FALSE(is_templated(fixed));
}

// std::regex overflows a long on a huge repeat count or backreference (fuzz_config found it):
// such a pattern is refused before it is compiled.
TEST(Loader, ProbeRegexesStayWithinWhatStdRegexCompilesSafely) {
  EXPECT_EQ(errors_of(R"(probes:
  - name: a
    prompt: p
    expect: { regex: '^\9999999999999999999 42$' }
  - name: b
    prompt: p
    expect: { regex: 'x{1,12345678901234567890}' }
)"),
            (Strings{
                "t.yaml:4:22: probes[0].expect.regex: invalid regex: a number of more than 6 "
                "digits (a repeat count or backreference)",
                "t.yaml:7:22: probes[1].expect.regex: invalid regex: a number of more than 6 "
                "digits (a repeat count or backreference)",
            }));
}

// `&a { <<: *a }` made the loader recurse until the stack overflowed (fuzz_config).
TEST(Loader, AnAnchorThatMergesItselfIsAnErrorNotAnEndlessLoop) {
  auto errors = errors_of(R"(providers:
  - name: a
    kind: openai_compatible
    base_url: http://127.0.0.1:8000/v1
    timeouts: &fast { connect: 500ms, <<: *fast }
)");
  ASSERT_FALSE(errors.empty());
  bool named = false;
  for (const auto& e : errors) {
    named = named || e.find("merge keys (<<) nest too deep") != std::string::npos;
  }
  EXPECT_TRUE(named) << errors.front();
}

TEST(Loader, HeadersAreValidated) {
  EXPECT_EQ(errors_of(R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    headers:
      Host: example.com
      "Bad Header": x
      X-Trace: a
      x-trace: b
)"),
            (Strings{
                "t.yaml:6:7: providers[0].headers.Host: header 'Host' is set by the gateway and "
                "cannot be configured",
                "t.yaml:7:7: providers[0].headers.Bad Header: invalid header name 'Bad Header'",
                "t.yaml:9:7: providers[0].headers.x-trace: duplicate header 'x-trace' (header "
                "names ignore case; first at line 8)",
            }));
}

TEST(Loader, FlowStyleAndMergeKeys) {
  // An anchor holder is still an unknown key: anchors go on a value that is used.
  EXPECT_EQ(errors_of("common_timeouts: &t { connect: 1s, total: 90s }\n"),
            Strings{"t.yaml:1:1: common_timeouts: unknown key 'common_timeouts'"});

  auto config = load_ok(R"(providers:
  - name: a
    kind: openai_compatible
    base_url: http://127.0.0.1:8000/v1
    timeouts: &fast { connect: 500ms, first_byte: 5s }
  - name: b
    kind: openai_compatible
    base_url: http://127.0.0.1:8001/v1
    timeouts: { <<: *fast, first_byte: 7s }
models:
  - { name: local, strategy: round_robin,
      targets: [ { provider: a, model: m }, { provider: b, model: m } ] }
)");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->providers[1].timeouts.connect, milliseconds{500});
  EXPECT_EQ(config->providers[1].timeouts.first_byte, milliseconds{7000});
  EXPECT_EQ(config->providers[1].timeouts.total, milliseconds{300000});
  EXPECT_EQ(config->models[0].strategy, Strategy::round_robin);
  EXPECT_EQ(config->models[0].targets.size(), 2u);
}

TEST(Loader, AuthRequiredWithoutKeysIsValid) {
  auto config = load_ok("auth: { required: true }\n");
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->keys.empty());
}

constexpr std::string_view kFull = R"(server:
  listen: 0.0.0.0:8443
  admin_listen: 127.0.0.1:9902
  threads: 4
  max_body_bytes: 4MiB
  max_header_bytes: 32KiB
  request_timeout: 120s
  drain_timeout: 10s
  read_timeout: 15s
  idle_timeout: 60s
  tls: { cert: /etc/llmgw/tls.crt, key: /etc/llmgw/tls.key }
providers:
  - name: openai-primary
    kind: openai
    base_url: https://api.openai.com/v1/
    api_key: ${OPENAI_API_KEY}
    region: us-east
    max_connections: 256
    timeouts: { connect: 2s, first_byte: 30s, idle_between_chunks: 20s, total: 5m }
    health:
      active: { kind: tcp, path: /models, interval: 10s, timeout: 2s, healthy_after: 2,
                unhealthy_after: 3, expected_status: 204, unhealthy_interval: 1s }
      passive: { consecutive_failures: 5, failure_rate: 0.5, min_requests: 20, window: 30s,
                 eject_for: 30s, max_eject_for: 5m, max_ejected_percent: 30 }
      semantic: { interval: 60s, model: gpt-4o-mini, probes: [ arithmetic, json_mode ],
                  unhealthy_after: 2 }
    circuit_breaker: { open_after_failure_rate: 0.4, min_requests: 10, window: 10s,
                       open_for: 30s, half_open_probes: 3 }
    limits: { rpm: 10000, tpm: 2000000 }
    ca_file: /etc/ssl/private-ca.pem
    tls_verify: true
    headers: { OpenAI-Organization: org-123, X-Api-Token: tok-secret }
  - name: anthropic-b
    kind: anthropic
    base_url: https://api.anthropic.com/v1
    api_key: ${ANTHROPIC_API_KEY:-}
    api_version: "2023-06-01"
    health:
      passive:
  - name: local-vllm
    kind: openai_compatible
    base_url: http://127.0.0.1:8000/v1
probes:
  - name: arithmetic
    prompt: "What is 17 + 25? Reply with the number only."
    expect: { regex: '^\s*42\s*$', max_latency: 10s }
  - name: json_mode
    prompt: "Return a JSON object with key ok set to true."
    response_format: json_object
    expect: { json: true, contains: '"ok"', not_contains: sorry, min_chars: 5, max_chars: 200,
              judge: { model: cheap, rubric: "Is it JSON?", min_score: 7.5 } }
models:
  - name: smart
    strategy: weighted
    targets:
      - { provider: openai-primary, model: gpt-4o, weight: 90, context_window: 128000,
          price: { input_per_mtok: 2.5, output_per_mtok: 10 } }
      - { provider: anthropic-b, model: claude-sonnet-4, weight: 10, context_window: 200000,
          price: { input_per_mtok: 3, output_per_mtok: 15 } }
    fallbacks: [ cheap ]
    retry: { attempts: 4, backoff: { base: 50ms, max: 2s, jitter: equal },
             on: [ connect, timeout, 429, 5xx, 529 ], budget: 0.1 }
    hedge: { after: p95, max: 1 }
    cache: { ttl: 10m, serve_stale_on_outage: true, allow_nonzero_temperature: true }
    context: { overflow: summarize, summarizer: cheap, reserve_output: 2048 }
    canary: { target: anthropic-b, percent: 5,
              rollback_on: { error_rate: 0.2, semantic_failures: 2 } }
  - name: cheap
    strategy: least_cost
    targets: [ { provider: local-vllm, model: qwen2.5-7b-instruct } ]
    degrade: { message: "The assistant is busy right now; please try again shortly." }
keys:
  - name: team-a
    sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
    models: [ smart, cheap ]
    rate_limit: { rpm: 600, tpm: 200000 }
    budget: { usd_per_day: 50 }
    persona: "The user is a cardiologist."
  - name: ops
    sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
auth: { required: true }
sessions:
  store: redis
  sqlite: { path: /tmp/sessions.db }
  redis: { url: "redis://:hunter2@redis:6379/1" }
  ttl: 12h
  system_prompt: "You are a helpful assistant."
  inject_everywhere: true
  busy_wait: 2s
  max_sessions: 5000
  max_bytes: 64MiB
  profiles: { alice: "Alice prefers metric units.", bob: "Bob is a novice." }
state:
  backend: redis
  redis: { url: "redis://gw:s3cret@redis:6379/0" }
prompts:
  - name: sentiment
    version: 3
    model: cheap
    system: "Classify the sentiment."
    template: "{{text}}"
logging: { level: debug, format: json, access_log: /var/log/llmgw/access.log }
)";

TEST(Loader, FullConfigParsesEverySection) {
  auto config = load_ok(kFull, fake_env({{"OPENAI_API_KEY", "sk-live-abcdef"}}));
  ASSERT_TRUE(config);
  const auto& c = *config;

  EXPECT_EQ(c.server.listen, "0.0.0.0:8443");
  EXPECT_EQ(c.server.threads, 4u);
  EXPECT_EQ(c.server.max_body_bytes, 4u << 20);
  EXPECT_EQ(c.server.max_header_bytes, 32u << 10);
  EXPECT_EQ(c.server.request_timeout, milliseconds{120000});
  EXPECT_EQ(c.server.idle_timeout, milliseconds{60000});
  ASSERT_TRUE(c.server.tls);
  EXPECT_EQ(c.server.tls->key, "/etc/llmgw/tls.key");

  ASSERT_EQ(c.providers.size(), 3u);
  const auto* p = c.find_provider("openai-primary");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->kind, ProviderKind::openai);
  EXPECT_EQ(p->url.host, "api.openai.com");
  EXPECT_EQ(p->url.port, 443);
  EXPECT_EQ(p->url.path, "/v1");
  EXPECT_EQ(p->api_key, "sk-live-abcdef");
  EXPECT_EQ(p->max_connections, 256u);
  EXPECT_EQ(p->timeouts.total, milliseconds{300000});
  EXPECT_EQ(p->timeouts.idle_between_chunks, milliseconds{20000});
  ASSERT_TRUE(p->health.active);
  EXPECT_EQ(p->health.active->kind, ActiveHealthConfig::Kind::tcp);
  EXPECT_EQ(p->health.active->expected_status, 204u);
  ASSERT_TRUE(p->health.passive);
  EXPECT_DOUBLE_EQ(p->health.passive->max_ejected_percent, 30);
  ASSERT_TRUE(p->health.semantic);
  EXPECT_EQ(p->health.semantic->probes, (Strings{"arithmetic", "json_mode"}));
  ASSERT_TRUE(p->circuit_breaker);
  EXPECT_DOUBLE_EQ(p->circuit_breaker->open_after_failure_rate, 0.4);
  EXPECT_EQ(p->limits.rpm, 10000u);
  EXPECT_EQ(p->headers.at("OpenAI-Organization"), "org-123");
  EXPECT_EQ(p->pos.line, 13);
  EXPECT_EQ(p->pos.column, 5);

  const auto* b = c.find_provider("anthropic-b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->api_key, "");
  EXPECT_EQ(b->api_version, "2023-06-01");
  // An empty `passive:` switches the check on with every default.
  ASSERT_TRUE(b->health.passive);
  EXPECT_EQ(b->health.passive->consecutive_failures, 5u);
  EXPECT_FALSE(b->health.active);
  EXPECT_FALSE(b->circuit_breaker);
  EXPECT_FALSE(b->limits.rpm);
  EXPECT_EQ(c.find_provider("local-vllm")->url.port, 8000);
  EXPECT_EQ(c.find_provider("nope"), nullptr);

  ASSERT_EQ(c.probes.size(), 2u);
  EXPECT_EQ(c.probes[0].expect.regex, R"(^\s*42\s*$)");
  EXPECT_EQ(c.probes[0].expect.max_latency, milliseconds{10000});
  EXPECT_EQ(c.probes[1].response_format, "json_object");
  EXPECT_EQ(c.probes[1].expect.contains, "\"ok\"");
  ASSERT_TRUE(c.probes[1].expect.judge);
  EXPECT_DOUBLE_EQ(c.probes[1].expect.judge->min_score, 7.5);

  const auto* smart = c.find_model("smart");
  ASSERT_NE(smart, nullptr);
  EXPECT_EQ(smart->strategy, Strategy::weighted);
  ASSERT_EQ(smart->targets.size(), 2u);
  EXPECT_EQ(smart->targets[0].weight, 90u);
  EXPECT_EQ(smart->targets[1].context_window, 200000u);
  EXPECT_DOUBLE_EQ(smart->targets[1].price.output_per_mtok, 15);
  EXPECT_EQ(smart->targets[1].pos.line, 58);
  EXPECT_EQ(smart->targets[1].pos.column, 9);
  EXPECT_EQ(smart->fallbacks, Strings{"cheap"});
  EXPECT_EQ(smart->retry.attempts, 4u);
  EXPECT_EQ(smart->retry.backoff.base, milliseconds{50});
  EXPECT_EQ(smart->retry.backoff.jitter, Jitter::equal);
  EXPECT_EQ(smart->retry.on, (Strings{"connect", "timeout", "429", "5xx", "529"}));
  // Parsed at load, not per request.
  EXPECT_TRUE(smart->retry.when.connect && smart->retry.when.status_5xx);
  EXPECT_FALSE(smart->retry.when.status_4xx);
  EXPECT_EQ(smart->retry.when.statuses, std::vector<int>{529});
  ASSERT_TRUE(smart->hedge);
  EXPECT_EQ(smart->hedge->after, "p95");
  ASSERT_TRUE(smart->hedge->after_quantile);
  EXPECT_DOUBLE_EQ(*smart->hedge->after_quantile, 0.95);
  EXPECT_FALSE(smart->hedge->after_delay);
  ASSERT_TRUE(smart->cache);
  EXPECT_EQ(smart->cache->ttl, milliseconds{600000});
  EXPECT_TRUE(smart->cache->any_temperature);
  EXPECT_EQ(smart->context.overflow, Overflow::summarize);
  EXPECT_EQ(smart->context.summarizer, "cheap");
  EXPECT_EQ(smart->context.reserve_output, 2048u);
  ASSERT_TRUE(smart->canary);
  EXPECT_EQ(smart->canary->rollback_on.semantic_failures, 2u);
  EXPECT_EQ(smart->pos.line, 53);

  const auto* cheap = c.find_model("cheap");
  ASSERT_NE(cheap, nullptr);
  // Defaults for what the file leaves out.
  EXPECT_EQ(cheap->retry.attempts, 3u);
  EXPECT_EQ(cheap->retry.on, (Strings{"connect", "timeout", "429", "5xx"}));
  EXPECT_FALSE(cheap->hedge);
  EXPECT_FALSE(cheap->cache);
  ASSERT_TRUE(cheap->degrade);

  ASSERT_EQ(c.keys.size(), 2u);
  EXPECT_EQ(c.keys[0].sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ(c.keys[0].models, (Strings{"smart", "cheap"}));
  EXPECT_EQ(c.keys[0].rate_limit.tpm, 200000u);
  ASSERT_TRUE(c.keys[0].budget);
  EXPECT_DOUBLE_EQ(c.keys[0].budget->usd_per_day, 50);
  EXPECT_FALSE(c.keys[1].models);  // omitted: every model
  EXPECT_FALSE(c.keys[1].budget);

  EXPECT_EQ(c.sessions.store, SessionStoreKind::redis);
  EXPECT_EQ(c.sessions.sqlite_path, "/tmp/sessions.db");
  EXPECT_EQ(c.sessions.ttl, milliseconds{12 * 3600 * 1000});
  EXPECT_TRUE(c.sessions.inject_everywhere);
  EXPECT_EQ(c.sessions.busy_wait, milliseconds{2000});
  EXPECT_EQ(c.sessions.max_sessions, 5000u);
  EXPECT_EQ(c.sessions.max_bytes, 64u << 20);
  EXPECT_EQ(c.sessions.profiles.at("bob"), "Bob is a novice.");
  EXPECT_EQ(c.keys[0].persona, "The user is a cardiologist.");
  EXPECT_EQ(c.state.backend, StateBackend::redis);
  ASSERT_EQ(c.prompts.size(), 1u);
  EXPECT_EQ(c.prompts[0].version, 3u);
  EXPECT_EQ(c.prompts[0].template_text, "{{text}}");
  EXPECT_EQ(c.logging.level, "debug");
  EXPECT_EQ(c.logging.format, LogFormat::json);
  EXPECT_EQ(to_string(ProviderKind::openai_compatible), "openai_compatible");
  EXPECT_EQ(to_string(Strategy::least_busy), "least_busy");
}

TEST(Loader, RedactedJsonHidesSecrets) {
  auto config = load_ok(kFull, fake_env({{"OPENAI_API_KEY", "sk-live-abcdef"}}));
  ASSERT_TRUE(config);
  auto json = to_redacted_json(*config);
  for (const char* secret : {"sk-live-abcdef", "hunter2", "s3cret", "tok-secret",
                             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}) {
    EXPECT_EQ(json.find(secret), std::string::npos) << secret << " leaked:\n" << json;
  }
  EXPECT_NE(json.find(R"("api_key": "<redacted>")"), std::string::npos);
  EXPECT_NE(json.find(R"("url": "redis://:<redacted>@redis:6379/1")"), std::string::npos);
  EXPECT_NE(json.find(R"("url": "redis://gw:<redacted>@redis:6379/0")"), std::string::npos);
  EXPECT_NE(json.find(R"("X-Api-Token": "<redacted>")"), std::string::npos);
  EXPECT_NE(json.find(R"("OpenAI-Organization": "org-123")"), std::string::npos);
  EXPECT_NE(json.find(R"("connect": "2s")"), std::string::npos);
  EXPECT_NE(json.find(R"("max_body_bytes": "4MiB")"), std::string::npos);
  // An empty key stays visibly empty: "not configured" is useful, not secret.
  EXPECT_NE(json.find(R"("api_key": "")"), std::string::npos);
}

TEST(Loader, ShippedConfigsAreValid) {
  // With an empty environment: the shipped files must validate on a machine without secrets.
  for (const char* file : {"/config/llmgw.example.yaml", "/config/demo.yaml"}) {
    auto path = std::string(LLMGW_SOURCE_DIR) + file;
    auto result = load_file(path, fake_env());
    for (const auto& e : result.errors) {
      ADD_FAILURE() << e.to_string();
    }
    ASSERT_TRUE(result.ok()) << path;
    EXPECT_EQ(result.config->source_path, path);
    EXPECT_FALSE(result.config->providers.empty()) << path;
  }
  auto example = load_file(LLMGW_SOURCE_DIR "/config/llmgw.example.yaml", fake_env());
  ASSERT_TRUE(example.ok());
  EXPECT_EQ(example.config->providers.size(), 3u);
  EXPECT_EQ(example.config->find_provider("local-vllm")->kind, ProviderKind::openai_compatible);
}

}  // namespace
}  // namespace llmgw::config

namespace llmgw::config {
namespace {

// Hardening (issue 7): what the fuzzer found in the loader, and the new server keys.
TEST(LoaderHardening, ValuesBoundForHeadersRefuseLineBreaks) {
  // The usual cause: ${VAR} or a key file with a trailing newline.
  auto env = fake_env({{"KEY", "sk-abc\n"}});
  std::string yaml = R"(providers:
  - name: openai
    kind: openai
    base_url: https://api.openai.com/v1
    api_key: ${KEY}
models:
  - name: smart
    targets: [ { provider: openai, model: "gpt-4o\rX-Injected: 1" } ]
)";
  auto errors = errors_of(yaml, env);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("t.yaml:5:14: providers[0].api_key: must not contain control characters"),
            std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("models[0].targets[0].model: must not contain control characters"),
            std::string::npos) << errors[1];
  EXPECT_FALSE(errors_of(std::string(kBase).replace(kBase.find("https://api.openai.com/v1"), 25,
                                                    "https://api.openai.com/v 1"))
                   .empty());
}

TEST(LoaderHardening, NonUtf8StringsAreRefused) {
  std::string yaml(kBase);
  yaml.replace(yaml.find("gpt-4o"), 6, "gpt-\xff\xfe");
  auto errors = errors_of(yaml);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("is not valid UTF-8"), std::string::npos) << errors[0];
}

TEST(LoaderHardening, YamlCppLoadAllLoopIsAvoided) {
  // yaml-cpp 0.7's LoadAll never returns on this input (the test's timeout would catch it).
  auto comma = load_string(",", "t.yaml", fake_env());
  EXPECT_EQ(comma.ok(), comma.errors.empty());
  EXPECT_FALSE(errors_of(std::string(kBase) + "---\nserver: {}\n").empty());
}

TEST(LoaderHardening, JsonDepthAndAdminToken) {
  auto cfg = load_ok(std::string(kBase) + "server: { max_json_depth: 64 }\n");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->server.max_json_depth, 64u);
  EXPECT_EQ(load_ok(kBase)->server.max_json_depth, 128u);
  auto off_loopback = errors_of(std::string(kBase) + "server: { admin_listen: 0.0.0.0:9901 }\n");
  ASSERT_EQ(off_loopback.size(), 1u);
  EXPECT_NE(off_loopback[0].find("server.admin_listen: admin_listen '0.0.0.0:9901' is not a loopback address: set server.admin_token"),
            std::string::npos) << off_loopback[0];
  EXPECT_TRUE(load_ok(std::string(kBase) +
                      "server: { admin_listen: 0.0.0.0:9901, admin_token: 0123456789abcdef0123 }\n"));
  EXPECT_TRUE(load_ok(std::string(kBase) + "server: { admin_listen: 127.0.0.2:9901 }\n"));
  EXPECT_FALSE(errors_of(std::string(kBase) + "server: { admin_token: short }\n").empty());
  auto redacted = to_redacted_json(*load_ok(std::string(kBase) +
                                            "server: { admin_token: 0123456789abcdef0123 }\n"));
  EXPECT_EQ(redacted.find("0123456789abcdef0123"), std::string::npos);
  EXPECT_NE(redacted.find("\"admin_token\": \"<redacted>\""), std::string::npos) << redacted;
}

}  // namespace
}  // namespace llmgw::config

namespace llmgw::config {
namespace {

TEST(Loader, SummarizeNeedsASummarizerThatExists) {
  std::string yaml(kBase);
  EXPECT_EQ(errors_of(yaml + "    context: { overflow: summarize }\n"),
            Strings{"t.yaml:8:14: models[0].context: context.overflow: summarize needs "
                    "context.summarizer (a model name)"});
  auto errors = errors_of(yaml + "    context: { overflow: summarize, summarizer: tiny }\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("tiny"), std::string::npos) << errors[0];
  EXPECT_TRUE(load_ok(yaml + "    context: { overflow: summarize, summarizer: smart }\n"));
}

}  // namespace
}  // namespace llmgw::config

namespace llmgw::config {
namespace {

TEST(Loader, PromptsKeepVersionsSideBySideWithSamplingDefaults) {
  auto cfg = load_ok(std::string(kBase) + R"(prompts:
  - { name: greet, model: smart, template: "Hi {{name}}" }
  - name: greet
    version: 2
    model: smart
    system: "Be brief."
    template: "Hello {{ name }}, you are {{age}}."
    temperature: 0.3
    top_p: 0.9
    max_tokens: 200
    stop: "END"
    response_format: json_object
  - { name: other, model: smart, template: "x", stop: [ a, b ], response_format: text }
)");
  ASSERT_TRUE(cfg);
  ASSERT_EQ(cfg->prompts.size(), 3u);
  const auto& v1 = cfg->prompts[0];
  EXPECT_EQ(v1.version, 1u);
  EXPECT_FALSE(v1.temperature);
  EXPECT_FALSE(v1.top_p);
  EXPECT_FALSE(v1.max_tokens);
  EXPECT_TRUE(v1.stop.empty());
  EXPECT_EQ(v1.response_format, "");
  const auto& v2 = cfg->prompts[1];
  EXPECT_EQ(v2.version, 2u);
  EXPECT_EQ(v2.system, "Be brief.");
  EXPECT_EQ(v2.template_text, "Hello {{ name }}, you are {{age}}.");
  EXPECT_EQ(v2.temperature, 0.3);
  EXPECT_EQ(v2.top_p, 0.9);
  EXPECT_EQ(v2.max_tokens, 200u);
  EXPECT_EQ(v2.stop, Strings{"END"});
  EXPECT_EQ(v2.response_format, "json_object");
  EXPECT_EQ(cfg->prompts[2].stop, (Strings{"a", "b"}));
  EXPECT_EQ(cfg->prompts[2].response_format, "text");
  EXPECT_EQ(cfg->find_prompt("greet"), &v2) << "no version: the highest";
  EXPECT_EQ(cfg->find_prompt("greet", 1), &v1);
  EXPECT_EQ(cfg->find_prompt("greet", 3), nullptr);
  auto redacted = to_redacted_json(*cfg);
  EXPECT_NE(redacted.find(R"("temperature": 0.3)"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find(R"("response_format": "json_object")"), std::string::npos) << redacted;
}

TEST(Loader, APromptNameAndVersionPairIsUnique) {
  EXPECT_EQ(errors_of(std::string(kBase) + R"(prompts:
  - { name: greet, model: smart, template: a }
  - { name: greet, version: 2, model: smart, template: b }
  - { name: greet, version: 1, model: smart, template: c }
  - { name: "greet now", model: smart, template: d }
)"),
            (Strings{
                "t.yaml:11:13: prompts[2].name: duplicate prompt 'greet' version 1 (first "
                "defined at line 9)",
                "t.yaml:12:13: prompts[3].name: may contain only letters, digits, '.', '_' and "
                "'-'",
            }));
}

TEST(Loader, AMalformedTemplateIsAnErrorNamingThePrompt) {
  EXPECT_EQ(errors_of(std::string(kBase) + R"(prompts:
  - { name: greet, model: smart, template: "Hi {{name" }
  - { name: greet, version: 2, model: smart, template: "Hi {{first-name}}" }
  - { name: ok, model: smart, template: "{{ a }} {b} }}" }
)"),
            (Strings{
                "t.yaml:9:44: prompts[0].template: prompt 'greet' version 1: unclosed '{{' at "
                "character 4 (expected {{name}})",
                "t.yaml:10:56: prompts[1].template: prompt 'greet' version 2: invalid placeholder "
                "'{{first-name}}' at character 4 (a variable name is letters, digits and '_', "
                "not starting with a digit)",
            }));
}

TEST(Loader, PromptSamplingDefaultsAreChecked) {
  EXPECT_EQ(errors_of(std::string(kBase) + R"(prompts:
  - name: p
    model: smart
    template: x
    temperature: 3
    top_p: -0.5
    max_tokens: 0
    stop: [ ]
    response_format: yaml
  - { name: q, model: smart, template: x, stop: [ a, b, c, d, e ] }
  - { name: r, model: smart, template: x, stop: "" }
  - { name: s, model: smart, template: x, stop: [ a, { b: 1 } ] }
)"),
            (Strings{
                "t.yaml:12:18: prompts[0].temperature: must be between 0 and 2",
                "t.yaml:13:12: prompts[0].top_p: must be between 0 and 1",
                "t.yaml:14:17: prompts[0].max_tokens: must be between 1 and 2147483647",
                "t.yaml:15:11: prompts[0].stop: must list 1 to 4 stop sequences",
                "t.yaml:16:22: prompts[0].response_format: unknown response_format 'yaml' "
                "(expected one of: text, json_object)",
                "t.yaml:17:49: prompts[1].stop: must list 1 to 4 stop sequences",
                "t.yaml:18:49: prompts[2].stop: must not be empty",
                "t.yaml:19:54: prompts[3].stop[1]: expected a string",
            }));
}

TEST(Loader, ResponseCacheKeysAndTheirStore) {
  // any_temperature is the documented name; allow_nonzero_temperature is its alias.
  auto cfg = load_ok(R"(providers:
  - { name: openai, kind: openai, base_url: https://api.openai.com/v1 }
models:
  - name: a
    targets: [ { provider: openai, model: gpt-4o } ]
    cache: { ttl: 1h, any_temperature: true }
  - name: b
    targets: [ { provider: openai, model: gpt-4o } ]
    cache: { allow_nonzero_temperature: true, serve_stale_on_outage: true }
  - name: c
    targets: [ { provider: openai, model: gpt-4o } ]
    cache: { }
cache: { max_bytes: 8MiB, max_entries: 10, max_entry_bytes: 64KiB, max_stale: 30m }
)");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->models[0].cache->ttl, std::chrono::hours(1));
  EXPECT_TRUE(cfg->models[0].cache->any_temperature);
  EXPECT_TRUE(cfg->models[1].cache->any_temperature);
  EXPECT_TRUE(cfg->models[1].cache->serve_stale_on_outage);
  EXPECT_FALSE(cfg->models[2].cache->any_temperature);
  EXPECT_EQ(cfg->models[2].cache->ttl, std::chrono::minutes(10));
  EXPECT_EQ(cfg->cache.max_bytes, 8u << 20);
  EXPECT_EQ(cfg->cache.max_entries, 10u);
  EXPECT_EQ(cfg->cache.max_entry_bytes, 64u << 10);
  EXPECT_EQ(cfg->cache.max_stale, std::chrono::minutes(30));
  auto defaults = load_ok(kBase);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->cache.max_bytes, 64u << 20);
  EXPECT_EQ(defaults->cache.max_stale, std::chrono::hours(24));

  // Too small, zero entries, and a model's key in the store's section.
  auto errors =
      errors_of(std::string(kBase) + "cache: { max_bytes: 10, max_entries: 0, ttl: 1m }\n");
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
}

}  // namespace
}  // namespace llmgw::config

namespace llmgw::config {
namespace {

TEST(Loader, SelectRules) {
  auto cfg = load_ok(std::string(kBase) + R"(  - name: small
    targets: [ { provider: openai, model: gpt-4o-mini } ]
  - name: auto
    targets: [ { provider: openai, model: gpt-4o } ]
    select:
      - when: { max_prompt_tokens: 500, tools: false, headers: { X-LLMGW-Tier: free } }
        use: small
)");
  ASSERT_TRUE(cfg);
  const auto& rule = cfg->find_model("auto")->select.at(0);
  EXPECT_EQ(rule.max_prompt_tokens, 500u);
  EXPECT_EQ(rule.tools, false);
  EXPECT_FALSE(rule.images);
  ASSERT_EQ(rule.headers.size(), 1u);
  EXPECT_EQ(rule.headers[0].first, "x-llmgw-tier");  // names lowercase
  EXPECT_EQ(rule.use, "small");
}

TEST(Loader, SelectRuleErrorsNameTheKey) {
  const auto errors = errors_of(std::string(kBase) + R"(  - name: auto
    targets: [ { provider: openai, model: gpt-4o } ]
    select:
      - when: { headers: { x-tier: free } }
        use: nowhere
      - when: {}
        use: auto
      - when: { headers: { x-llmgw-user: alice } }
        use: smart
)");
  EXPECT_EQ(errors,
            (Strings{"t.yaml:11:36: models[1].select[0].when.headers.x-tier: select headers must "
                     "be named x-llmgw-... (the gateway keeps no other request headers)",
                     "t.yaml:12:14: models[1].select[0].use: unknown model 'nowhere'",
                     "t.yaml:13:15: models[1].select[1].when: a select rule needs at least one "
                     "condition (max_prompt_tokens, min_prompt_tokens, tools, images, headers)",
                     "t.yaml:14:14: models[1].select[1].use: a rule cannot select its own model",
                     "t.yaml:15:42: models[1].select[2].when.headers.x-llmgw-user: the gateway "
                     "reads x-llmgw-user itself; a select rule cannot test it"}));
}

}  // namespace
}  // namespace llmgw::config
