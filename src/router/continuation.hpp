#pragma once
// Mid-stream continuation (SPEC §4 "Streaming"): once part of an answer reached the client, a
// broken upstream stream is continued on another target. StreamTracker follows what the client
// has received (stream id, text, whether a tool call started); ContinuationFilter rewrites the
// next target's events so the client sees one stream: same id/created/model, no second role
// chunk, no text repeated. Chat continues with the partial answer as an assistant turn, legacy
// completions by extending the prompt. Pure string/JSON work in the OpenAI chunk format (the
// ingress format), unit-tested without sockets.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace llmgw::router {

/// The instruction appended (as a user turn, after the partial answer as an assistant turn)
/// when the provider cannot continue an assistant prefill natively.
extern const std::string_view kContinuationInstruction;

class StreamTracker {
public:
  /// Observes the SSE bytes about to be written to the client (complete `data:` events).
  void observe(std::string_view sse_bytes);
  /// Observes one chunk about to go to the client, already parsed.
  void observe_chunk(const nlohmann::json& chunk);
  /// The same from the chunk's JSON text, read by a scan that builds nothing (the path of a
  /// stream whose face relays the bytes as they are).
  void observe_data(std::string_view data);

  /// Sessions: also keep the tool calls of choice 0 (a full parse of each chunk, paid only
  /// by requests that store their answer).
  void keep_tool_calls() { keep_tool_calls_ = true; }
  /// The streamed answer so far as a canonical assistant message (JSON text).
  std::string assistant_message() const;

  bool has_identity() const { return !id_.empty(); }
  const std::string& id() const { return id_; }
  long long created() const { return created_; }
  const std::string& model() const { return model_; }
  const std::string& text() const { return text_; }
  bool tool_call_started() const { return tool_call_; }
  bool finished() const { return finished_; }  // a finish_reason was sent
  const std::string& finish_reason() const { return finish_reason_; }  // the last one sent

private:
  void observe_event(std::string_view data);

  std::string id_;
  long long created_ = 0;
  std::string model_;
  std::string text_;
  bool tool_call_ = false;
  bool finished_ = false;
  std::string finish_reason_;
  void keep_tool_call_deltas(const nlohmann::json& chunk);
  void keep_thinking(const nlohmann::json& delta);
  std::string reasoning_;  // thinking text since the last thinking block closed
  std::shared_ptr<nlohmann::json> thinking_blocks_;
  bool keep_tool_calls_ = false;
  std::shared_ptr<nlohmann::json> tool_calls_;  // an array, by the deltas' index
};

/// How a chat continues: the partial answer as an assistant turn, then an instruction to go
/// on (any provider); or that turn alone, which the provider continues itself (prefill: no
/// preamble, no restated words). Prefill drops the answer's trailing whitespace (Anthropic
/// refuses a final assistant turn that ends with it).
enum class ContinuationForm { instruction, prefill };

/// Adds the partial answer (and, in the instruction form, the instruction) to a chat request
/// body; returns how many messages were appended (so the caller can remove them again).
std::size_t append_continuation(nlohmann::json& body, const std::string& partial_text,
                                ContinuationForm form = ContinuationForm::instruction);
/// The whitespace at the end of `text` that a prefill leaves out.
std::size_t trailing_space(std::string_view text);
void remove_appended(nlohmann::json& body, std::size_t count);

/// Legacy completions continue by prompt extension: the partial answer is appended to the
/// prompt and the model goes on from the last token the client has. Only a single string
/// prompt can be extended (token arrays and several prompts are not continued).
bool can_extend_prompt(const nlohmann::json& body);
/// Appends; returns the original prompt, for restore_prompt.
std::string extend_prompt(nlohmann::json& body, const std::string& partial_text);
void restore_prompt(nlohmann::json& body, std::string original);

class ContinuationFilter {
public:
  /// `left_out_space`: how much trailing whitespace of the sent text the continuation request
  /// left out (prefill); as much leading whitespace of the new text is not sent again.
  explicit ContinuationFilter(const StreamTracker& sent, std::size_t left_out_space = 0);

  /// Rewrites a continuation target's translated SSE bytes (complete events) for the client.
  std::string rewrite(std::string_view sse_bytes);

private:
  std::string rewrite_event(std::string_view data);

  std::string id_;
  long long created_;
  std::string model_;
  std::string tail_;  // the end of the text already sent, to drop a repeated overlap
  bool checked_overlap_ = false;
  std::size_t left_out_space_ = 0;
};

}  // namespace llmgw::router
