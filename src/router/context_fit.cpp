#include "router/context_fit.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace llmgw::router {
namespace {

using nlohmann::json;

// The chat format's cost per message and for priming the reply (OpenAI's published rule for
// its chat models; the estimates use it too).
constexpr std::uint64_t kPerMessage = 3;
constexpr std::uint64_t kReplyPriming = 3;
// An image part: OpenAI's high-detail cost of a 512 px tile grid of a typical photo. The
// gateway does not fetch images, so every image counts this much.
constexpr std::uint64_t kImageTokens = 765;

// Estimates for models without a public tokenizer, as multiples of an o200k_base count, set
// so they over-count English and code (llmgw_token_estimate_error_ratio shows the live error):
// Claude's tokenizer yields more tokens than o200k for the same text, Gemini's about as many.
constexpr double kAnthropicFactor = 1.25;
constexpr double kGeminiFactor = 1.10;
constexpr double kOtherFactor = 1.15;

const std::string* string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

// Calls f(text) for every text a message carries, and g() for every image part.
template <class F, class G>
void each_text(const json& m, F&& f, G&& g) {
  if (!m.is_object()) {
    return;
  }
  if (const auto* role = string_at(m, "role")) {
    f(*role);
  }
  if (const auto* name = string_at(m, "name")) {
    f(*name);
  }
  if (auto c = m.find("content"); c != m.end()) {
    if (c->is_string()) {
      f(c->get_ref<const std::string&>());
    } else if (c->is_array()) {
      for (const auto& part : *c) {
        if (!part.is_object()) {
          continue;
        }
        if (const auto* text = string_at(part, "text")) {
          f(*text);
        } else if (part.contains("image_url") || part.contains("image")) {
          g();
        } else if (const auto* data = string_at(part, "data")) {
          f(*data);
        }
      }
    }
  }
  if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
    for (const auto& call : *calls) {
      auto fn = call.is_object() ? call.find("function") : call.end();
      if (!call.is_object() || fn == call.end() || !fn->is_object()) {
        continue;
      }
      if (const auto* name = string_at(*fn, "name")) {
        f(*name);
      }
      if (const auto* args = string_at(*fn, "arguments")) {
        f(*args);
      }
    }
  }
  if (const auto* id = string_at(m, "tool_call_id")) {
    f(*id);
  }
}

}  // namespace

std::uint64_t TokenCounter::count(std::string_view text) const {
  if (!encoding) {
    return (text.size() + 3) / 4;  // no tokenizer data: the usual four bytes a token
  }
  auto n = static_cast<double>(encoding->count(text));
  return static_cast<std::uint64_t>(std::ceil(n * factor));
}

std::uint64_t TokenCounter::message(const json& m) const {
  std::uint64_t total = kPerMessage;
  each_text(
      m, [&](const std::string& text) { total += count(text); },
      [&] { total += kImageTokens; });
  return total;
}

TokenCounter counter_for(const tokenizer::Library* library, config::ProviderKind kind,
                         std::string_view model) {
  TokenCounter c;
  if (!library) {
    c.method = "bytes";
    return c;
  }
  const bool openai_kind = kind == config::ProviderKind::openai ||
                           kind == config::ProviderKind::azure ||
                           kind == config::ProviderKind::openai_compatible;
  if (openai_kind) {
    if (const auto* exact = library->exact_for(model)) {
      c.encoding = exact;
      c.exact = true;
      c.method = exact == &library->o200k() ? "o200k_base" : "cl100k_base";
      return c;
    }
  }
  c.encoding = &library->o200k();
  switch (kind) {
    case config::ProviderKind::anthropic:
      c.factor = kAnthropicFactor;
      c.method = "estimate_anthropic";
      break;
    case config::ProviderKind::gemini:
      c.factor = kGeminiFactor;
      c.method = "estimate_gemini";
      break;
    default:
      c.factor = kOtherFactor;
      c.method = "estimate_o200k";
      break;
  }
  return c;
}

std::uint64_t upper_bound(const json& messages, const TokenCounter& counter) {
  std::uint64_t bytes = 0;
  std::uint64_t fixed = kReplyPriming;
  if (!messages.is_array()) {
    return 0;
  }
  for (const auto& m : messages) {
    fixed += kPerMessage;
    each_text(
        m, [&](const std::string& text) { bytes += text.size() + 1; },
        [&] { fixed += kImageTokens; });
  }
  const double scale = counter.encoding ? std::max(1.0, counter.factor) : 1.0;
  return fixed + static_cast<std::uint64_t>(std::ceil(static_cast<double>(bytes) * scale));
}

FitDecision plan_fit(const std::vector<MessageInfo>& messages, std::uint64_t budget) {
  FitDecision d;
  d.before = kReplyPriming;
  for (const auto& m : messages) {
    d.before += m.tokens;
  }
  d.after = d.before;
  if (d.before <= budget) {
    return d;
  }
  std::size_t last_user = messages.size();
  for (std::size_t i = messages.size(); i-- > 0;) {
    if (messages[i].user) {
      last_user = i;
      break;
    }
  }
  // Turns before the last user message, oldest first; a turn ends where the next user
  // message begins, so an assistant's tool calls and their results go together.
  std::size_t i = 0;
  while (i < last_user && d.after > budget) {
    std::size_t end = i + 1;
    while (end < last_user && !messages[end].user) {
      ++end;
    }
    for (std::size_t k = i; k < end; ++k) {
      if (!messages[k].system) {
        d.drop.push_back(k);
        d.after -= messages[k].tokens;
      }
    }
    i = end;
  }
  if (d.after > budget) {
    d.fits = false;
    d.drop.clear();
    d.after = d.before;
  }
  return d;
}

}  // namespace llmgw::router

#include "llmgw/router/router.hpp"
#include "router/plan.hpp"

namespace llmgw::router {

Fitted fit_for_target(const CallRequest& req, const PlannedTarget& p) {
  Fitted out;
  if (req.op != providers::Operation::chat || !p.target->context_window || !req.body) {
    return out;
  }
  const auto& messages = (*req.body)["messages"];
  if (!messages.is_array()) {
    return out;
  }
  const std::uint64_t window = *p.target->context_window;
  const auto& context = p.model->context;
  const std::uint64_t reserve = req.max_output_tokens ? req.max_output_tokens
                                                      : context.reserve_output;
  const std::uint64_t budget = window > reserve ? window - reserve : 0;
  const auto counter = counter_for(req.tokenizers, p.provider->config->kind, p.target->model);
  if (upper_bound(messages, counter) <= budget) {
    return out;  // fits whatever the exact count: nothing is tokenized
  }
  std::vector<MessageInfo> infos;
  infos.reserve(messages.size());
  for (const auto& m : messages) {
    MessageInfo info;
    info.tokens = counter.message(m);
    const auto* role = m.is_object() ? string_at(m, "role") : nullptr;
    info.system = role && (*role == "system" || *role == "developer");
    info.user = role && *role == "user";
    infos.push_back(info);
  }
  auto decision = plan_fit(infos, budget);
  out.counted = decision.before;
  if (decision.before <= budget) {
    return out;
  }
  const bool truncating = context.overflow == config::Overflow::truncate_oldest ||
                          context.overflow == config::Overflow::summarize;
  if (context.overflow == config::Overflow::summarize && decision.fits) {
    // Room for the summary note too, when there is any: else plain truncation.
    auto room = plan_fit(infos, budget > kSummaryTokens ? budget - kSummaryTokens : 0);
    if (room.fits) {
      decision = std::move(room);
      out.summarize = true;
    }
  }
  if (truncating && decision.fits) {
    json fitted = *req.body;
    auto& kept = fitted["messages"];
    json rest = json::array();
    std::size_t next = 0;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (next < decision.drop.size() && decision.drop[next] == i) {
        ++next;
        continue;
      }
      rest.push_back(std::move(kept[i]));
    }
    kept = std::move(rest);
    out.body = std::move(fitted);
    out.counted = decision.after;
    out.dropped = decision.drop.size();
    out.drop = std::move(decision.drop);
    out.action = "truncated";
    return out;
  }
  out.action = truncating ? "unfittable"
               : context.overflow == config::Overflow::reject ? "rejected"
                                                               : "skipped_target";
  api::Failure f;
  f.cls = api::FailureClass::context_length;
  f.status = 400;
  f.message = "The request needs " + std::to_string(decision.before) + " prompt tokens (" +
              std::string(counter.exact ? "counted with " : "estimated with ") +
              std::string(counter.method) + ") plus " + std::to_string(reserve) +
              " reserved for the answer, more than the " + std::to_string(window) +
              "-token context window of " + p.target->model +
              (truncating ? ", even with every earlier turn dropped." : ".");
  out.failure = std::move(f);
  return out;
}

}  // namespace llmgw::router
