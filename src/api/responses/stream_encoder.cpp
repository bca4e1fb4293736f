// The Responses face's streams: canonical chat chunks → the `response.*` event sequence.
// A chat stream has one choice whose delta mixes reasoning, text and tool-call fragments; the
// Responses stream has output items that open, grow and close one after another. Reasoning
// and text each make one item while they last; every tool call is its own function_call item,
// closed when the choice finishes (a server may interleave the fragments of parallel calls).
#include <algorithm>

#include "api/face_json.hpp"
#include "api/responses/responses.hpp"

namespace llmgw::api::responses {

using namespace face_json;

void StreamTranslator::emit(std::string& out, std::string_view type, ojson data) {
  ojson event{{"type", type}, {"sequence_number", seq_++}};
  for (auto& [key, value] : data.items()) {
    event[key] = std::move(value);
  }
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += dump(event);
  out += "\n\n";
}

ojson StreamTranslator::response_json(std::string_view status) const {
  auto r = response_object(*turn_, model_, output_, finish_reason_, usage_);
  if (status != "final") {
    r["status"] = status;
    r["incomplete_details"] = nullptr;
  }
  return r;
}

void StreamTranslator::feed(std::string_view bytes, std::string& out) {
  if (done_) {
    return;
  }
  bool ok = decoder_.feed(bytes, [&](const api::SseEvent& ev) {
    if (ev.has_data && !ev.data.empty()) {
      on_data(ev.data, out);
    }
  });
  if (!ok && !done_) {
    fail(api::GatewayError{502, "upstream_error", "server_error",
                           "The stream carried an oversized event.", {}},
         out);
  }
}

void StreamTranslator::feed(const api::StreamEvent& e, std::string& out) {
  if (done_) {
    return;
  }
  if (e.done) {
    complete(out);
  } else if (e.chunk != nullptr) {
    on_chunk(*e.chunk, out);
  } else {
    feed(e.sse, out);
  }
}

void StreamTranslator::on_data(std::string_view data, std::string& out) {
  if (data == "[DONE]") {
    complete(out);
    return;
  }
  auto chunk = parse_relayed(data);
  if (chunk.is_object()) {
    on_chunk(chunk, out);
  }
}

void StreamTranslator::start(const json& chunk, std::string& out) {
  started_ = true;
  model_ = string_or(chunk, "model", "");
  emit(out, "response.created", ojson{{"response", response_json("in_progress")}});
  emit(out, "response.in_progress", ojson{{"response", response_json("in_progress")}});
}

void StreamTranslator::open_reasoning(std::string& out) {
  if (open_ == Item::reasoning) {
    return;
  }
  close_item(out);
  open_ = Item::reasoning;
  open_index_ = output_.size() + calls_.size();
  open_id_ = item_id("rs_");
  text_.clear();
  emit(out, "response.output_item.added",
       ojson{{"output_index", open_index_}, {"item", reasoning_item(open_id_, "")}});
  emit(out, "response.reasoning_summary_part.added",
       ojson{{"item_id", open_id_},
             {"output_index", open_index_},
             {"summary_index", 0},
             {"part", ojson{{"type", "summary_text"}, {"text", ""}}}});
}

void StreamTranslator::open_message(std::string& out) {
  if (open_ == Item::message) {
    return;
  }
  close_item(out);
  open_ = Item::message;
  open_index_ = output_.size() + calls_.size();
  open_id_ = item_id("msg_");
  text_.clear();
  auto item = message_item(open_id_, "", false, "in_progress");
  item["content"] = ojson::array();
  emit(out, "response.output_item.added",
       ojson{{"output_index", open_index_}, {"item", std::move(item)}});
  emit(out, "response.content_part.added",
       ojson{{"item_id", open_id_},
             {"output_index", open_index_},
             {"content_index", 0},
             {"part", ojson{{"type", "output_text"},
                            {"text", ""},
                            {"annotations", ojson::array()},
                            {"logprobs", ojson::array()}}}});
}

void StreamTranslator::close_item(std::string& out) {
  if (open_ == Item::reasoning) {
    emit(out, "response.reasoning_summary_text.done",
         ojson{{"item_id", open_id_},
               {"output_index", open_index_},
               {"summary_index", 0},
               {"text", text_}});
    emit(out, "response.reasoning_summary_part.done",
         ojson{{"item_id", open_id_},
               {"output_index", open_index_},
               {"summary_index", 0},
               {"part", ojson{{"type", "summary_text"}, {"text", text_}}}});
    auto item = reasoning_item(open_id_, text_);
    emit(out, "response.output_item.done", ojson{{"output_index", open_index_}, {"item", item}});
    output_.push_back(std::move(item));
  } else if (open_ == Item::message) {
    emit(out, "response.output_text.done",
         ojson{{"item_id", open_id_},
               {"output_index", open_index_},
               {"content_index", 0},
               {"text", text_},
               {"logprobs", ojson::array()}});
    auto item = message_item(open_id_, text_, false, "completed");
    emit(out, "response.content_part.done",
         ojson{{"item_id", open_id_},
               {"output_index", open_index_},
               {"content_index", 0},
               {"part", item["content"][0]}});
    emit(out, "response.output_item.done", ojson{{"output_index", open_index_}, {"item", item}});
    output_.push_back(std::move(item));
  }
  open_ = Item::none;
  text_.clear();
}

void StreamTranslator::on_tool_fragment(const json& fragment, std::size_t position,
                                        std::string& out) {
  if (!fragment.is_object()) {
    return;
  }
  const auto key = int_or(fragment, "index", static_cast<std::int64_t>(position));
  const json& function = object_at(fragment, "function");
  auto found = calls_.find(key);
  if (found == calls_.end()) {
    close_item(out);
    Call call;
    call.output_index = output_.size() + calls_.size();
    call.id = item_id("fc_");
    call.call_id = string_or(fragment, "id", item_id("call_"));
    call.name = string_or(function, "name", "");
    found = calls_.emplace(key, std::move(call)).first;
    const auto& c = found->second;
    emit(out, "response.output_item.added",
         ojson{{"output_index", c.output_index},
               {"item", function_call_item(c.id, c.call_id, c.name, "", "in_progress")}});
  }
  auto& call = found->second;
  auto arguments = string_or(function, "arguments", "");
  if (!arguments.empty()) {
    call.arguments += arguments;
    emit(out, "response.function_call_arguments.delta",
         ojson{{"item_id", call.id}, {"output_index", call.output_index}, {"delta", arguments}});
  }
}

void StreamTranslator::on_chunk(const json& chunk, std::string& out) {
  if (auto e = chunk.find("error"); e != chunk.end() && !e->is_null()) {
    std::string message = "The upstream stream failed.";
    if (e->is_object()) {
      message = string_or(*e, "message", message);
    } else if (e->is_string()) {
      message = e->get<std::string>();
    }
    fail(api::GatewayError{502, "upstream_error", "server_error", std::move(message), {}}, out);
    return;
  }
  if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
    usage_ = read_usage(*u);
  }
  if (!started_) {
    start(chunk, out);
  }
  if (model_.empty()) {
    model_ = string_or(chunk, "model", "");
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) {
    return;
  }
  for (const auto& choice : *choices) {
    if (!choice.is_object() || int_or(choice, "index", 0) != 0) {
      continue;  // a Responses request cannot ask for n > 1
    }
    if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
      auto reasoning = string_or(*d, "reasoning_content", "");
      if (!reasoning.empty()) {
        open_reasoning(out);
        text_ += reasoning;
        emit(out, "response.reasoning_summary_text.delta",
             ojson{{"item_id", open_id_},
                   {"output_index", open_index_},
                   {"summary_index", 0},
                   {"delta", std::move(reasoning)}});
      }
      for (const char* key : {"content", "refusal"}) {
        auto text = string_or(*d, key, "");
        if (!text.empty()) {
          open_message(out);
          text_ += text;
          emit(out, "response.output_text.delta",
               ojson{{"item_id", open_id_},
                     {"output_index", open_index_},
                     {"content_index", 0},
                     {"delta", std::move(text)},
                     {"logprobs", ojson::array()}});
        }
      }
      if (auto calls = d->find("tool_calls"); calls != d->end() && calls->is_array()) {
        for (std::size_t i = 0; i < calls->size(); ++i) {
          on_tool_fragment((*calls)[i], i, out);
        }
      }
    }
    if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
      finish_reason_ = f->get<std::string>();
    }
  }
}

// The answer is whole: close what is open (function calls in output order), then the
// response with everything in it.
void StreamTranslator::complete(std::string& out) {
  if (done_) {
    return;
  }
  if (!started_) {
    start(json::object(), out);
  }
  close_item(out);
  std::vector<Call*> open_calls;
  for (auto& [key, call] : calls_) {
    open_calls.push_back(&call);
  }
  std::sort(open_calls.begin(), open_calls.end(),
            [](const Call* a, const Call* b) { return a->output_index < b->output_index; });
  std::vector<std::pair<std::size_t, ojson>> items;
  for (auto* call : open_calls) {
    emit(out, "response.function_call_arguments.done",
         ojson{{"item_id", call->id},
               {"output_index", call->output_index},
               {"name", call->name},
               {"arguments", call->arguments}});
    auto item =
        function_call_item(call->id, call->call_id, call->name, call->arguments, "completed");
    emit(out, "response.output_item.done",
         ojson{{"output_index", call->output_index}, {"item", item}});
    items.emplace_back(call->output_index, std::move(item));
  }
  // Output in output_index order: the message and reasoning items already in output_ took
  // the indexes the calls did not.
  ojson ordered = ojson::array();
  std::size_t next_plain = 0;
  std::size_t next_call = 0;
  for (std::size_t index = 0; index < output_.size() + items.size(); ++index) {
    if (next_call < items.size() && items[next_call].first == index) {
      ordered.push_back(std::move(items[next_call++].second));
    } else if (next_plain < output_.size()) {
      ordered.push_back(std::move(output_[next_plain++]));
    }
  }
  output_ = std::move(ordered);
  calls_.clear();
  auto response = response_json("final");
  const bool incomplete = response["status"] == "incomplete";
  turn_->response = dump(response);
  emit(out, incomplete ? "response.incomplete" : "response.completed",
       ojson{{"response", std::move(response)}});
  done_ = true;
}

void StreamTranslator::finish(std::string& out) {
  if (done_) {
    return;
  }
  if (started_ && finish_reason_) {
    complete(out);  // finished, only the [DONE] was missing
    return;
  }
  fail(api::GatewayError{502, "upstream_error", "server_error",
                         "The stream ended before the answer finished.", {}},
       out);
}

void StreamTranslator::fail(const api::GatewayError& e, std::string& out) {
  if (done_) {
    return;
  }
  out += stream_error_event(e, seq_++);
  done_ = true;
}

}  // namespace llmgw::api::responses
