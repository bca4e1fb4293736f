#pragma once
// The session protocol's pure parts (docs/sessions.md): the system context the gateway adds,
// how a request is joined to its stored history (overlap detection, so a client that sends
// the whole conversation itself is not doubled), what is stored after the answer, and the
// transcript GET /v1/sessions/{id} answers. No I/O: the stage in src/session drives them.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <optional>
#include <utility>
#include <vector>

#include "llmgw/session/store.hpp"

namespace llmgw::session {

/// Session ids: 1..128 characters of [A-Za-z0-9._:-] (they become store keys and log fields).
bool valid_session_id(std::string_view id);

/// The key a session is stored under: ids are scoped to the key that uses them (the same id
/// from another key is another session, so nobody can take or probe another team's id).
std::string store_key(std::string_view owner, std::string_view id);

/// The gateway's part of the system context, in this order: sessions.system_prompt, the key's
/// persona, the x-llmgw-user profile; empty parts are left out; joined by blank lines.
std::string gateway_system(std::string_view system_prompt, std::string_view persona,
                           std::string_view profile);

/// The text of a message's content: a string, or its text parts joined (other parts skipped).
std::string content_text(const nlohmann::json& message);

/// Whether two canonical messages are the same turn (content as a string or as text parts
/// counts the same; null members are ignored).
bool same_turn(const nlohmann::json& a, const nlohmann::json& b);

struct Joined {
  std::vector<std::string> to_store;  // the request's new turns, JSON texts, to store later
  std::size_t history_begin = 0;      // where they start in body.messages
  std::size_t history = 0;            // stored turns placed in the request
  std::size_t overlap = 0;            // of the client's turns that were already stored
  // Where each history turn is in the stored list, and the session's system message with its
  // place: a compaction (summarize) drops stored turns by position and keeps that one.
  std::vector<std::size_t> history_at;
  std::optional<std::pair<std::size_t, std::string>> last_system;
};

/// The store change that replaces the first `summarized` history turns with a summary: it
/// drops them (and anything stored before them) from the front and appends again the system
/// messages among them. Adds `new_turns` after.
Append compaction(const Joined& joined, std::size_t summarized, std::string summary,
                  std::vector<std::string> new_turns);

/// How a summary of dropped turns starts, as a system message of its own.
inline constexpr std::string_view kSummaryPrefix = "Summary of the earlier conversation: ";
nlohmann::json summary_note(std::string_view summary);

/// Rewrites `body.messages` for a session request: one leading system message (the gateway's
/// context, then the session's system text: the one the request sends, else the last one
/// stored), the stored summary as a system note of its own, the stored turns, then the
/// client's turns that are not stored yet (a client that sends the whole conversation, or its
/// own window of it, is not doubled). `stored` may be null (a new session).
Joined join_history(nlohmann::json& body, const Session* stored, std::string_view gateway);

/// Outside sessions: merges the gateway's system context in front of the client's leading
/// system message (or adds one).
void inject_system(nlohmann::json& body, std::string_view gateway);

/// GET /v1/sessions/{id}: the transcript in OpenAI message shape and the metadata.
std::string transcript(std::string_view id, const Session& s);

}  // namespace llmgw::session
