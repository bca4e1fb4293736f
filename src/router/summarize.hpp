#pragma once
// context.overflow: summarize. The turns fitting dropped go to the model's `summarizer` (a
// cheap model, routed over the live table like the prober's judge calls), whose answer stands
// in for them as one system note. With a session the note is stored in place of those turns,
// so a conversation pays for it once; when the summarizer cannot answer, the request goes on
// truncated.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "llmgw/common/clock.hpp"
#include "llmgw/router/route_table.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::router {

/// The summarizer's chat request for `dropped` (canonical messages), taking in the summary
/// they already carried.
nlohmann::json summary_request(const std::string& model, const nlohmann::json& dropped,
                               std::string_view previous_summary);

/// How a summary note starts (the same text as session::kSummaryPrefix, which a session's
/// stored summary is sent with).
inline constexpr std::string_view kSummaryPrefix = "Summary of the earlier conversation: ";

/// The messages at `drop` (indices into body.messages).
nlohmann::json dropped_messages(const nlohmann::json& body, const std::vector<std::size_t>& drop);

/// Puts the summary's system note in a fitted body: in place of the session's stored summary
/// note, else after the leading system messages.
void insert_summary(nlohmann::json& body, std::string_view summary);

/// Asks the summarizer; nullopt (and why, in `error`) when it could not answer.
boost::asio::awaitable<std::optional<std::string>> summarize(
    upstream::Transport& transport, const common::Clock& clock, const RouteTable& table,
    std::string model, nlohmann::json body, upstream::Deadline deadline, std::string& error);

}  // namespace llmgw::router
