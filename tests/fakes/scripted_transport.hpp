#pragma once
// An upstream::Transport that answers from a script, in simulated time (manual_time.hpp):
// per endpoint (host:port of the provider's base_url) a queue of replies, each a failure
// before the header, a hang, or a status with headers and a body in timed slices that may
// break mid-way. It records every request and every exchange cancelled while it waited.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/manual_time.hpp"
#include "llmgw/common/header.hpp"
#include "llmgw/common/strings.hpp"
#include "llmgw/upstream/client.hpp"

namespace llmgw::fakes {

struct Slice {
  std::chrono::milliseconds after{0};  // wait before this slice
  std::string bytes;
};

struct Reply {
  std::optional<upstream::Error> error;       // fails before any header
  bool hang = false;                          // no header until the attempt's deadline
  std::chrono::milliseconds header_after{0};  // time to the header
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Slice> body;
  std::optional<upstream::Error> break_after_body;  // the connection dies after the slices

  static Reply json(int status, std::string body) {
    Reply r;
    r.status = status;
    r.headers.emplace_back("content-type", "application/json");
    r.body.push_back({std::chrono::milliseconds(0), std::move(body)});
    return r;
  }
  /// This reply with its header (or its failure) `delay` after the request.
  Reply after(std::chrono::milliseconds delay) && {
    header_after = delay;
    return std::move(*this);
  }
  static Reply fail(api::FailureClass cls, std::string message) {
    Reply r;
    r.error = upstream::Error{cls, std::move(message)};
    return r;
  }
  static Reply hanging() {
    Reply r;
    r.hang = true;
    return r;
  }
  /// A server-sent event stream, one slice per event, `gap` apart.
  static Reply sse(const std::vector<std::string>& events,
                   std::chrono::milliseconds gap = std::chrono::milliseconds(10)) {
    Reply r;
    r.headers.emplace_back("content-type", "text/event-stream");
    for (const auto& e : events) {
      r.body.push_back({gap, "data: " + e + "\n\n"});
    }
    return r;
  }
};

struct SentRequest {
  std::string authority;  // host:port
  std::string target;
  std::string body;
  ManualTime::time_point at;
  std::vector<common::Header> headers;
  std::string_view header(std::string_view name) const {
    for (const auto& h : headers) {
      if (common::iequals(h.name, name)) {
        return h.value;
      }
    }
    return {};
  }
};

class ScriptedTransport final : public upstream::Transport {
public:
  explicit ScriptedTransport(ManualTime& time) : time_(time) {}

  /// Queues replies for the provider at `authority` ("127.0.0.1:1"), served in order; the last
  /// one repeats once the queue is down to it.
  void script(const std::string& authority, std::vector<Reply> replies) {
    auto& q = scripts_[authority];
    for (auto& r : replies) {
      q.push_back(std::move(r));
    }
  }

  /// Replaces whatever is still queued for `authority` (an upstream that changes its ways).
  void rescript(const std::string& authority, std::vector<Reply> replies) {
    scripts_[authority].clear();
    script(authority, std::move(replies));
  }

  const std::vector<SentRequest>& sent() const { return sent_; }
  std::size_t sent_to(const std::string& authority) const {
    std::size_t n = 0;
    for (const auto& s : sent_) {
      n += s.authority == authority ? 1 : 0;
    }
    return n;
  }
  /// Exchanges abandoned while waiting for the header or a slice (a lost hedge race, a client
  /// that hung up).
  std::size_t cancelled() const { return cancelled_; }

  boost::asio::awaitable<upstream::Result<upstream::Response>> send(
      const upstream::Endpoint& endpoint, const providers::UpstreamRequest& request,
      upstream::Deadline deadline) override {
    auto authority = endpoint.url.authority();
    sent_.push_back({authority, request.target, request.body, time_.now(), request.headers});
    Reply reply = next(authority);
    auto wait = reply.hang ? deadline - time_.now()
                           : std::min<std::chrono::nanoseconds>(reply.header_after,
                                                                deadline - time_.now());
    if (wait > std::chrono::nanoseconds::zero()) {
      // (Named result: g++ 12 miscompiles a co_await inside a condition.)
      const bool waited = co_await time_.sleep_for(wait);
      if (!waited) {
        ++cancelled_;
        co_return common::err(upstream::Error{api::FailureClass::cancelled, "cancelled"});
      }
    }
    if (reply.hang || time_.now() >= deadline) {
      co_return common::err(upstream::Error{api::FailureClass::timeout, "no response header"});
    }
    if (reply.error) {
      co_return common::err(*reply.error);
    }
    co_return upstream::Response(std::make_unique<Source>(*this, std::move(reply), deadline));
  }

  boost::asio::awaitable<upstream::Result<bool>> probe_connect(const upstream::Endpoint&,
                                                               upstream::Deadline) override {
    co_return true;
  }

private:
  class Source final : public upstream::Response::Source {
  public:
    Source(ScriptedTransport& t, Reply r, upstream::Deadline d)
        : t_(t), reply_(std::move(r)), deadline_(d) {}

    int status() const override { return reply_.status; }
    std::string_view header(std::string_view name) const override {
      for (const auto& [k, v] : reply_.headers) {
        if (common::iequals(k, name)) {
          return v;
        }
      }
      return {};
    }
    bool body_done() const override {
      return next_ == reply_.body.size() && !reply_.break_after_body;
    }
    boost::asio::awaitable<upstream::Result<std::string_view>> read_some() override {
      if (next_ == reply_.body.size()) {
        if (reply_.break_after_body) {
          co_return common::err(*reply_.break_after_body);
        }
        co_return std::string_view{};
      }
      const auto& slice = reply_.body[next_];
      if (slice.after > std::chrono::milliseconds::zero()) {
        if (t_.time_.now() + slice.after > deadline_) {
          co_await t_.time_.sleep_for(deadline_ - t_.time_.now());
          co_return common::err(upstream::Error{api::FailureClass::timeout, "deadline"});
        }
        const bool waited = co_await t_.time_.sleep_for(slice.after);
        if (!waited) {
          ++t_.cancelled_;
          co_return common::err(upstream::Error{api::FailureClass::cancelled, "cancelled"});
        }
      }
      ++next_;
      co_return std::string_view(slice.bytes);
    }

  private:
    ScriptedTransport& t_;
    Reply reply_;
    upstream::Deadline deadline_;
    std::size_t next_ = 0;
  };

  Reply next(const std::string& authority) {
    auto it = scripts_.find(authority);
    if (it == scripts_.end() || it->second.empty()) {
      return Reply::fail(api::FailureClass::connect, "nothing scripted for " + authority);
    }
    auto& q = it->second;
    if (q.size() == 1) {
      return q.front();
    }
    Reply r = std::move(q.front());
    q.pop_front();
    return r;
  }

  ManualTime& time_;
  std::map<std::string, std::deque<Reply>> scripts_;
  std::vector<SentRequest> sent_;
  std::size_t cancelled_ = 0;
};

}  // namespace llmgw::fakes
