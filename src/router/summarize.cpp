#include "router/summarize.hpp"

#include "llmgw/health/judge.hpp"
#include "llmgw/router/model_asker.hpp"

namespace llmgw::router {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::string_view kInstruction =
    "Summarise the conversation below for the assistant who continues it. Keep every fact, "
    "name, number, decision and open question; leave out greetings and filler. Write at most "
    "300 words of plain prose.";

std::string transcript_of(const json& dropped) {
  std::string out;
  for (const auto& m : dropped) {
    if (!m.is_object()) {
      continue;
    }
    std::string role = m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>()
                                                                    : "unknown";
    std::string text;
    if (auto c = m.find("content"); c != m.end() && c->is_string()) {
      text = c->get<std::string>();
    } else if (c != m.end() && c->is_array()) {
      for (const auto& part : *c) {
        if (part.is_object() && part.contains("text") && part["text"].is_string()) {
          text += part["text"].get<std::string>();
        }
      }
    }
    if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
      for (const auto& call : *calls) {
        if (call.is_object() && call.contains("function")) {
          text += (text.empty() ? "" : " ") + std::string("[calls ") + call["function"].dump() +
                  "]";
        }
      }
    }
    out += role + ": " + text + "\n";
  }
  return out;
}

}  // namespace

json summary_request(const std::string& model, const json& dropped,
                     std::string_view previous_summary) {
  std::string user;
  if (!previous_summary.empty()) {
    user += "Summary so far: " + std::string(previous_summary) + "\n\n";
  }
  user += "Conversation:\n" + transcript_of(dropped);
  return json{{"model", model},
              {"messages",
               {json{{"role", "system"}, {"content", kInstruction}},
                json{{"role", "user"}, {"content", std::move(user)}}}},
              {"max_tokens", 400},
              {"temperature", 0}};
}

json dropped_messages(const json& body, const std::vector<std::size_t>& drop) {
  json out = json::array();
  const auto& messages = body["messages"];
  for (auto i : drop) {
    if (i < messages.size()) {
      out.push_back(messages[i]);
    }
  }
  return out;
}

void insert_summary(json& body, std::string_view summary) {
  auto& messages = body["messages"];
  const auto is_system = [](const json& m) {
    auto role = m.is_object() ? m.find("role") : m.end();
    return m.is_object() && role != m.end() && role->is_string() && *role == "system";
  };
  std::size_t at = 0;
  while (at < messages.size() && is_system(messages[at])) {
    // The session's stored summary (session::summary_note): the new one takes its place, as
    // it already takes in what the old one said.
    auto content = messages[at].find("content");
    if (content != messages[at].end() && content->is_string() &&
        content->get_ref<const std::string&>().starts_with(kSummaryPrefix)) {
      *content = std::string(kSummaryPrefix) + std::string(summary);
      return;
    }
    ++at;
  }
  json note{{"role", "system"}, {"content", std::string(kSummaryPrefix) + std::string(summary)}};
  messages.insert(messages.begin() + static_cast<std::ptrdiff_t>(at), std::move(note));
}

asio::awaitable<std::optional<std::string>> summarize(upstream::Transport& transport,
                                                      const common::Clock& clock,
                                                      const RouteTable& table, std::string model,
                                                      json body, upstream::Deadline deadline,
                                                      std::string& error) {
  // The table outlives the request; the asker only needs to see it for this call.
  const std::shared_ptr<const RouteTable> view(std::shared_ptr<const RouteTable>(), &table);
  RoutedModelAsker asker(transport, clock, [view] { return view; });
  std::string avoid;  // any provider may summarise
  auto answer = co_await asker.ask(std::move(model), providers::Operation::chat,
                                   std::move(body), std::move(avoid), deadline);
  if (!answer) {
    error = answer.error().message;
    co_return std::nullopt;
  }
  auto text = health::answer_text(answer->body);
  if (text.empty()) {
    error = "the summarizer's answer was empty";
    co_return std::nullopt;
  }
  co_return text;
}

}  // namespace llmgw::router
