#pragma once
// The half every SSE-upstream stream translator shares: decode the upstream's events, hand each
// to on_event(), stop at the first failure, complete a last event the upstream cut at EOF
// (recordings and some proxies drop the final blank line; the official SDKs still deliver it),
// and keep usage, content and the failure. A dialect writes on_event() and on_end().
#include <optional>
#include <string>
#include <string_view>

#include "llmgw/api/sse.hpp"
#include "llmgw/providers/adapter.hpp"

namespace llmgw::providers {

class SseStreamTranslator : public StreamTranslator {
public:
  bool feed(std::string_view bytes, std::string& out) final;
  bool finish(std::string& out) final;
  const Usage& usage() const final { return usage_; }
  bool has_content() const final { return has_content_; }
  const std::optional<api::Failure>& failure() const final { return failure_; }
  void relay_native(std::string* native) final { native_ = native; }

protected:
  /// One upstream event; appends what it means to the client to `out`, or sets failure_.
  virtual void on_event(const api::SseEvent& event, std::string& out) = 0;
  /// The upstream ended before done_: whether the answer is complete anyway (appending what
  /// the client is still owed), or the failure (set failure_, return false).
  virtual bool on_end(std::string& out) = 0;

  Usage usage_;
  std::optional<api::Failure> failure_;
  bool done_ = false;         // the answer is complete; later events are ignored
  bool has_content_ = false;  // see StreamTranslator::has_content
  bool at_eof_ = false;       // on_event() is completing an event cut at EOF
  // The event's type when the upstream wrote no `event:` line (a dialect whose data names it
  // sets it in on_event): a native relay always names its events.
  std::string unnamed_type_;

private:
  void accept(const api::SseEvent& event, std::string& out);

  api::SseDecoder decoder_;
  std::string* native_ = nullptr;
};

}  // namespace llmgw::providers
