#pragma once
// The OpenAI Responses API face (POST /v1/responses) as the rest of the gateway sees it: the
// turn a request keeps (its response id, the stored conversation it continues, whether its
// answer is stored) and the stored form of a response. The face itself (src/api/responses)
// decodes a Responses body into the canonical chat request and renders chat answers and
// streams as Responses objects and events.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmgw/api/face.hpp"

namespace llmgw::api::responses {

inline constexpr std::string_view kPath = "/v1/responses";

/// One Responses request's turn (RequestFacts::face_state of the responses face).
struct Turn final : FaceState {
  std::string id;              // "resp_<hex>", the id the client sees and continues from
  std::int64_t created_at = 0;  // Unix seconds
  std::string previous_response_id;  // the stored conversation this request continues
  bool store = true;           // the answer is kept for previous_response_id and GET
  std::string echo;            // the request fields the response object repeats (JSON object)
  // The canonical messages that came from `input`: the last ones of the request's messages
  // (instructions, and whatever system context the gateway adds, go before them). Only they and
  // the answer carry over to a response that continues this one (instructions do not: the
  // Responses API's rule).
  std::size_t input_messages = 0;
  // Set by the face's sink when the answer completed: the response object the client got.
  std::string response;
};

/// The turn of a request decoded by the responses face, else null.
Turn* turn_of(const RequestFacts& facts);

/// Where a stored response lives in the session store: a name no x-session-id can take ('/'
/// is not allowed there), scoped by the key like sessions.
std::string store_name(std::string_view response_id);

/// A stored response is a session whose messages are the whole conversation in canonical form
/// and then one record holding the response object: the record's message text, and back.
std::string record_message(std::string_view response_object);
/// The response object of a stored record message, or empty when `message` is not a record.
std::string record_response(std::string_view message);

/// A valid response id as this gateway mints them ("resp_" + 48 hex digits).
bool valid_response_id(std::string_view id);

}  // namespace llmgw::api::responses
