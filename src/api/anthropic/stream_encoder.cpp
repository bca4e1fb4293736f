// The Anthropic face's streams: OpenAI chat chunks → the Anthropic event sequence.
#include <algorithm>

#include "api/anthropic/anthropic.hpp"
#include "api/anthropic/detail.hpp"

#include "llmgw/common/strings.hpp"

namespace llmgw::api::anthropic {

using namespace detail;

namespace {

void emit(std::string& out, std::string_view name, const ojson& data) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += dump(data);
  out += "\n\n";
}

// content_block_delta for block `index` carrying `delta` ({type: text_delta, text: ...}, ...).
void emit_delta(std::string& out, int index, std::string_view type, const char* key,
                std::string value) {
  emit(out, "content_block_delta",
       ojson{{"type", "content_block_delta"},
             {"index", index},
             {"delta", ojson{{"type", type}, {key, std::move(value)}}}});
}

void skip_space(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
}

bool skip(std::string_view& s, std::string_view token) {
  skip_space(s);
  if (!s.starts_with(token)) {
    return false;
  }
  s.remove_prefix(token.size());
  return true;
}

// The block type a relayed content_block_start opens, read without parsing the event: the API
// writes the block's "type" first. Empty when it is not found where it should be.
std::string_view started_block_type(std::string_view event) {
  const auto at = event.find("\"content_block\"");
  if (at == std::string_view::npos) {
    return {};
  }
  auto rest = event.substr(at + 15);
  if (!skip(rest, ":") || !skip(rest, "{") || !skip(rest, "\"type\"") || !skip(rest, ":") ||
      !skip(rest, "\"")) {
    return {};
  }
  return rest.substr(0, rest.find('"'));
}

}  // namespace

void AnthropicStreamTranslator::feed(std::string_view bytes, std::string& out) {
  if (done_) {
    return;
  }
  // The router writes whole events; an oversized one can only be a broken stream.
  bool ok = decoder_.feed(bytes, [&](const api::SseEvent& ev) {
    if (ev.has_data && !ev.data.empty()) {
      on_data(ev.data, out);
    }
  });
  if (!ok && !done_) {
    error_event("The stream carried an oversized event.", out);
  }
}

void AnthropicStreamTranslator::feed(const api::StreamEvent& e, std::string& out) {
  if (done_) {
    return;
  }
  if (e.done) {
    end_message(out);
  } else if (e.chunk != nullptr) {
    on_parsed(*e.chunk, out);
  } else {
    feed(e.sse, out);  // not a JSON object: the byte path decides what it is
  }
}

void AnthropicStreamTranslator::relayed(std::string_view native_event) {
  if (!native_event.starts_with("event: ")) {
    return;
  }
  native_event.remove_prefix(7);
  const auto name = native_event.substr(0, native_event.find('\n'));
  if (name == "message_start") {
    started_ = true;
  } else if (name == "content_block_start") {
    // Anthropic numbers its blocks 0, 1, ... as they start. A text block stays open for a
    // continuation's text; any other is closed before the continuation goes on.
    open_ = started_block_type(native_event) == "text" ? Block::text : Block::relayed;
    open_index_ = next_index_++;
  } else if (name == "content_block_stop") {
    open_ = Block::none;
    open_index_ = -1;
  } else if (name == "message_delta") {
    relayed_delta_ = true;
  } else if (name == "message_stop" || name == "error") {
    done_ = true;
  }
}

void AnthropicStreamTranslator::finish(std::string& out) {
  if (done_) {
    return;
  }
  if (relayed_delta_) {
    emit(out, "message_stop", ojson{{"type", "message_stop"}});  // the stop reason went out
    done_ = true;
    return;
  }
  if (started_ && stop_reason_) {
    end_message(out);  // finished, only the [DONE] was missing
    return;
  }
  error_event("The stream ended before the answer finished.", out);
}

void AnthropicStreamTranslator::on_data(std::string_view data, std::string& out) {
  if (done_) {
    return;
  }
  if (data == "[DONE]") {
    end_message(out);
    return;
  }
  auto chunk = parse_relayed(data);
  if (!chunk.is_object()) {
    return;  // not a chunk (nothing an OpenAI client would act on either)
  }
  on_parsed(chunk, out);
}

void AnthropicStreamTranslator::on_parsed(const json& chunk, std::string& out) {
  if (auto e = chunk.find("error"); e != chunk.end() && !e->is_null()) {
    std::string message = "The upstream stream failed.";
    if (e->is_object()) {
      message = string_or(*e, "message", message);
    } else if (e->is_string()) {
      message = e->get<std::string>();
    }
    error_event(std::move(message), out);
    return;
  }
  on_chunk(chunk, out);
}

void AnthropicStreamTranslator::start_message(const json& chunk, std::string& out) {
  started_ = true;
  id_ = strip_openai_id(string_or(chunk, "id", common::random_hex(24)));
  // Usage normally comes last; a stream that reports it on its first chunk has it here.
  ojson message{{"id", id_},
                {"type", "message"},
                {"role", "assistant"},
                {"model", string_or(chunk, "model", "")},
                {"content", ojson::array()},
                {"stop_reason", nullptr},
                {"stop_sequence", nullptr},
                {"usage", ojson{{"input_tokens", input_tokens_}, {"output_tokens", 0}}}};
  emit(out, "message_start", ojson{{"type", "message_start"}, {"message", std::move(message)}});
}

void AnthropicStreamTranslator::close_block(std::string& out) {
  if (open_ == Block::none) {
    return;
  }
  emit(out, "content_block_stop", ojson{{"type", "content_block_stop"}, {"index", open_index_}});
  open_ = Block::none;
  open_index_ = -1;
}

void AnthropicStreamTranslator::open_text(std::string& out) {
  if (open_ == Block::text) {
    return;
  }
  close_block(out);
  open_ = Block::text;
  open_index_ = next_index_++;
  emit(out, "content_block_start",
       ojson{{"type", "content_block_start"},
             {"index", open_index_},
             {"content_block", ojson{{"type", "text"}, {"text", ""}}}});
}

void AnthropicStreamTranslator::open_thinking(std::string& out) {
  if (open_ == Block::thinking && !thinking_signed_) {
    return;
  }
  close_block(out);
  open_ = Block::thinking;
  open_index_ = next_index_++;
  thinking_signed_ = false;
  emit(out, "content_block_start",
       ojson{{"type", "content_block_start"},
             {"index", open_index_},
             {"content_block", ojson{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}}});
}

// The canonical thinking: reasoning_content text as thinking deltas; a thinking_blocks item
// with a signature ends the open thinking block with its signature_delta; a redacted block is
// a whole block of its own.
void AnthropicStreamTranslator::on_thinking(const json& delta, std::string& out) {
  auto reasoning = string_or(delta, "reasoning_content", "");
  if (!reasoning.empty()) {
    open_thinking(out);
    emit_delta(out, open_index_, "thinking_delta", "thinking", std::move(reasoning));
  }
  auto blocks = delta.find("thinking_blocks");
  if (blocks == delta.end() || !blocks->is_array()) {
    return;
  }
  for (const auto& b : *blocks) {
    const auto type = string_or(b, "type", "");
    if (type == "thinking") {
      auto signature = string_or(b, "signature", "");
      if (signature.empty()) {
        continue;
      }
      open_thinking(out);
      emit_delta(out, open_index_, "signature_delta", "signature", std::move(signature));
      thinking_signed_ = true;
    } else if (type == "redacted_thinking") {
      close_block(out);
      const int index = next_index_++;
      emit(out, "content_block_start",
           ojson{{"type", "content_block_start"},
                 {"index", index},
                 {"content_block",
                  ojson{{"type", "redacted_thinking"}, {"data", string_or(b, "data", "")}}}});
      emit(out, "content_block_stop", ojson{{"type", "content_block_stop"}, {"index", index}});
    }
  }
}

void AnthropicStreamTranslator::on_tool_fragment(const json& fragment, std::size_t position,
                                                 std::string& out) {
  if (!fragment.is_object()) {
    return;
  }
  auto key = int_or(fragment, "index", static_cast<std::int64_t>(position));
  const json& function = object_at(fragment, "function");
  int index;
  if (auto found = tool_blocks_.find(key); found != tool_blocks_.end()) {
    index = found->second;
  } else {
    close_block(out);
    open_ = Block::tool;
    open_index_ = index = next_index_++;
    tool_blocks_.emplace(key, index);
    auto id = string_or(fragment, "id", id_ + "_tool_" + std::to_string(key));
    emit(out, "content_block_start",
         ojson{{"type", "content_block_start"},
               {"index", index},
               {"content_block", ojson{{"type", "tool_use"},
                                       {"id", std::move(id)},
                                       {"name", string_or(function, "name", "")},
                                       {"input", ojson::object()}}}});
  }
  // A fragment of a call whose block was already closed (a server interleaving parallel calls)
  // still names that call's block, which is where Anthropic clients accumulate it.
  auto arguments = string_or(function, "arguments", "");
  if (!arguments.empty()) {
    emit_delta(out, index, "input_json_delta", "partial_json", std::move(arguments));
  }
}

void AnthropicStreamTranslator::record_usage(const json& usage) {
  have_usage_ = true;
  auto prompt = token_count(usage, "prompt_tokens");
  cached_tokens_ = std::min(cached_count(usage), prompt);
  input_tokens_ = prompt - cached_tokens_;
  output_tokens_ = token_count(usage, "completion_tokens");
}

void AnthropicStreamTranslator::on_chunk(const json& chunk, std::string& out) {
  if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
    record_usage(*u);  // the usage-only chunk ends here: Anthropic reports it in message_delta
  }
  if (!started_) {
    start_message(chunk, out);
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) {
    return;
  }
  for (const auto& choice : *choices) {
    // An Anthropic request cannot ask for n > 1: only the first choice exists.
    if (!choice.is_object() || int_or(choice, "index", 0) != 0) {
      continue;
    }
    if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
      on_thinking(*d, out);
      for (const char* key : {"content", "refusal"}) {
        auto text = string_or(*d, key, "");
        if (!text.empty()) {
          open_text(out);
          emit_delta(out, open_index_, "text_delta", "text", std::move(text));
        }
      }
      if (auto calls = d->find("tool_calls"); calls != d->end() && calls->is_array()) {
        for (std::size_t i = 0; i < calls->size(); ++i) {
          on_tool_fragment((*calls)[i], i, out);
        }
      }
    }
    if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
      close_block(out);
      stop_reason_ = std::string(anthropic_stop_reason(f->get_ref<const std::string&>()));
    }
  }
}

void AnthropicStreamTranslator::end_message(std::string& out) {
  if (!started_) {
    start_message(json::object(), out);
  }
  close_block(out);
  ojson usage{{"output_tokens", output_tokens_}};
  if (have_usage_) {
    usage["input_tokens"] = input_tokens_;
    usage["cache_read_input_tokens"] = cached_tokens_;
  }
  ojson delta{{"stop_reason", stop_reason_.value_or("end_turn")}, {"stop_sequence", nullptr}};
  emit(out, "message_delta",
       ojson{{"type", "message_delta"}, {"delta", std::move(delta)}, {"usage", std::move(usage)}});
  emit(out, "message_stop", ojson{{"type", "message_stop"}});
  done_ = true;
}

void AnthropicStreamTranslator::fail(const api::GatewayError& e, std::string& out) {
  if (done_) {
    return;
  }
  emit(out, "error", error_json(anthropic_error_type(e.status), e.message, {}));
  done_ = true;
}

void AnthropicStreamTranslator::error_event(std::string message, std::string& out) {
  emit(out, "error", error_json("api_error", std::move(message), {}));
  done_ = true;
}

}  // namespace llmgw::api::anthropic
