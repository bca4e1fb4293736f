#include "faults.hpp"

#include <array>
#include <charconv>

namespace llmgw::sim {
namespace {

using Json = nlohmann::ordered_json;

// Bounds the `deep` answer's size (two bytes per level) well below what a client would buffer.
constexpr std::int64_t kMaxDepth = 8'000'000;

constexpr std::array<std::pair<FaultMode, std::string_view>, 19> kModes{{
    {FaultMode::none, "none"},
    {FaultMode::error, "error"},
    {FaultMode::hang, "hang"},
    {FaultMode::slow_first_byte, "slow_first_byte"},
    {FaultMode::slow_chunks, "slow_chunks"},
    {FaultMode::die_after, "die_after"},
    {FaultMode::garbage, "garbage"},
    {FaultMode::refuse, "refuse"},
    {FaultMode::flap, "flap"},
    {FaultMode::reset, "reset"},
    {FaultMode::gzip, "gzip"},
    {FaultMode::empty, "empty"},
    {FaultMode::wrong_shape, "wrong_shape"},
    {FaultMode::truncated, "truncated"},
    {FaultMode::deep, "deep"},
    {FaultMode::empty_answer, "empty_answer"},
    {FaultMode::repetition, "repetition"},
    {FaultMode::refusal, "refusal"},
    {FaultMode::bad_json, "bad_json"},
}};

}  // namespace

Wrong wrong_of(FaultMode mode) {
  switch (mode) {
    case FaultMode::garbage: return Wrong::off_by_one;
    case FaultMode::empty_answer: return Wrong::empty_text;
    case FaultMode::repetition: return Wrong::repetition;
    case FaultMode::refusal: return Wrong::refusal;
    case FaultMode::bad_json: return Wrong::bad_json;
    default: return Wrong::none;
  }
}

namespace {

// Integers may arrive as numbers or numeric strings (shell-written JSON often quotes them).
bool read_integer(const Json& json, const char* key, std::int64_t& out, std::string& error) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return true;
  }
  if (it->is_number_integer() || it->is_number_unsigned()) {
    out = it->get<std::int64_t>();
  } else if (it->is_number_float()) {
    out = static_cast<std::int64_t>(it->get<double>());
  } else if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    auto result = std::from_chars(text.data(), text.data() + text.size(), out);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
      error = std::string("'") + key + "' must be an integer";
      return false;
    }
  } else {
    error = std::string("'") + key + "' must be an integer";
    return false;
  }
  if (out < 0) {
    error = std::string("'") + key + "' must not be negative";
    return false;
  }
  return true;
}

bool read_string(const Json& json, const char* key, std::string& out, std::string& error) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return true;
  }
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (it->is_number()) {
    // retry_after: 2 is as natural as "2"; headers are text either way.
    out = it->dump();
  } else {
    error = std::string("'") + key + "' must be a string";
    return false;
  }
  return true;
}

Json string_or_null(const std::string& value) {
  return value.empty() ? Json(nullptr) : Json(value);
}

}  // namespace

std::string_view fault_mode_name(FaultMode mode) {
  for (const auto& [value, name] : kModes) {
    if (value == mode) {
      return name;
    }
  }
  return "none";
}

bool FaultSpec::applies_to(std::string_view path) const {
  if (paths.empty()) {
    return true;
  }
  for (const auto& prefix : paths) {
    // "/v1/models" also covers "/v1/models/{id}"; "/v1beta/models/gemini-x" covers its
    // ":generateContent", ":streamGenerateContent", ... methods.
    if (path == prefix ||
        (path.starts_with(prefix) && path.size() > prefix.size() &&
         (prefix.ends_with('/') || path[prefix.size()] == '/' || path[prefix.size()] == ':'))) {
      return true;
    }
  }
  return false;
}

Json FaultSpec::to_json() const {
  Json out;
  out["mode"] = fault_mode_name(mode);
  if (mode == FaultMode::none) {
    return out;
  }
  out["status"] = status;
  out["error_type"] = string_or_null(error_type);
  out["error_code"] = string_or_null(error_code);
  out["message"] = string_or_null(message);
  out["retry_after"] = string_or_null(retry_after);
  out["retry_after_ms"] = string_or_null(retry_after_ms);
  out["delay_ms"] = delay_ms < 0 ? Json(nullptr) : Json(delay_ms);
  out["chunk_delay_ms"] = chunk_delay_ms;
  out["after_chunks"] = after_chunks;
  out["period_ms"] = period_ms;
  out["depth"] = depth;
  out["count"] = count ? Json(*count) : Json(nullptr);
  out["paths"] = paths;
  return out;
}

std::optional<FaultSpec> FaultSpec::parse(const Json& json, std::string& error) {
  if (!json.is_object()) {
    error = "fault must be a JSON object";
    return std::nullopt;
  }
  FaultSpec spec;
  auto mode = json.find("mode");
  if (mode != json.end()) {
    if (!mode->is_string()) {
      error = "'mode' must be a string";
      return std::nullopt;
    }
    bool known = false;
    for (const auto& [value, name] : kModes) {
      if (*mode == name) {
        spec.mode = value;
        known = true;
      }
    }
    if (!known) {
      error = "unknown mode '" + mode->get<std::string>() + "'";
      return std::nullopt;
    }
  }
  std::int64_t status = spec.status;
  std::int64_t count = -1;
  if (!read_integer(json, "status", status, error) ||
      !read_integer(json, "delay_ms", spec.delay_ms, error) ||
      !read_integer(json, "chunk_delay_ms", spec.chunk_delay_ms, error) ||
      !read_integer(json, "after_chunks", spec.after_chunks, error) ||
      !read_integer(json, "period_ms", spec.period_ms, error) ||
      !read_integer(json, "depth", spec.depth, error) ||
      !read_integer(json, "count", count, error) ||
      !read_string(json, "error_type", spec.error_type, error) ||
      !read_string(json, "error_code", spec.error_code, error) ||
      !read_string(json, "message", spec.message, error) ||
      !read_string(json, "retry_after", spec.retry_after, error) ||
      !read_string(json, "retry_after_ms", spec.retry_after_ms, error)) {
    return std::nullopt;
  }
  if (status < 200 || status > 599) {
    error = "'status' must be an HTTP status between 200 and 599";
    return std::nullopt;
  }
  spec.status = static_cast<unsigned>(status);
  if (spec.period_ms == 0) {
    error = "'period_ms' must be positive";
    return std::nullopt;
  }
  if (spec.depth < 1 || spec.depth > kMaxDepth) {
    error = "'depth' must be between 1 and " + std::to_string(kMaxDepth);
    return std::nullopt;
  }
  if (count >= 0) {
    spec.count = count;
  }
  if (auto paths = json.find("paths"); paths != json.end() && !paths->is_null()) {
    if (!paths->is_array()) {
      error = "'paths' must be an array of strings";
      return std::nullopt;
    }
    for (const auto& path : *paths) {
      if (!path.is_string()) {
        error = "'paths' must be an array of strings";
        return std::nullopt;
      }
      spec.paths.push_back(path.get<std::string>());
    }
  }
  if (spec.count && *spec.count == 0) {
    spec.mode = FaultMode::none;
  }
  return spec;
}

FaultState::FaultState()
    : spec_(std::make_shared<const FaultSpec>()), since_(std::chrono::steady_clock::now()) {}

std::uint64_t FaultState::set(FaultSpec spec) {
  std::lock_guard lock(mutex_);
  remaining_ = spec.count;
  active_.store(spec.mode != FaultMode::none, std::memory_order_release);
  spec_ = std::make_shared<const FaultSpec>(std::move(spec));
  since_ = std::chrono::steady_clock::now();
  return ++generation_;
}

FaultDecision FaultState::decide(std::string_view path) {
  if (!active_.load(std::memory_order_acquire)) {
    return {};
  }
  std::lock_guard lock(mutex_);
  if (spec_->mode == FaultMode::none || !spec_->applies_to(path)) {
    return {};
  }
  FaultDecision decision{spec_->mode, spec_};
  if (spec_->mode == FaultMode::flap) {
    // Starts failing: the first half-period after the fault was set is the failing one.
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - since_)
                             .count();
    decision.mode = (elapsed / spec_->period_ms) % 2 == 0 ? FaultMode::error : FaultMode::none;
  }
  if (spec_->mode != FaultMode::refuse && remaining_) {
    if (--*remaining_ <= 0) {
      // This request still gets the fault; the next one finds a healthy server.
      spec_ = std::make_shared<const FaultSpec>();
      remaining_.reset();
      active_.store(false, std::memory_order_release);
      ++generation_;
    }
  }
  return decision;
}

void FaultState::expire(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation == generation_) {
    spec_ = std::make_shared<const FaultSpec>();
    remaining_.reset();
    active_.store(false, std::memory_order_release);
    ++generation_;
  }
}

Json FaultState::to_json() const {
  std::lock_guard lock(mutex_);
  auto out = spec_->to_json();
  if (remaining_ && spec_->mode != FaultMode::none) {
    out["count"] = *remaining_;
  }
  return out;
}

void Stats::record(std::shared_ptr<const ApiRequest> request) {
  std::lock_guard lock(mutex_);
  ++requests_;
  auto it = by_path_.find(request->path);
  if (it == by_path_.end()) {
    by_path_.emplace(request->path, 1);
  } else {
    ++it->second;
  }
  last_ = std::move(request);
}

void Stats::clear() {
  std::lock_guard lock(mutex_);
  requests_ = 0;
  by_path_.clear();
  last_.reset();
}

Json Stats::to_json() const {
  std::shared_ptr<const ApiRequest> last;
  Json out;
  {
    std::lock_guard lock(mutex_);
    out["requests"] = requests_;
    Json by_path = Json::object();
    for (const auto& [path, n] : by_path_) {
      by_path[path] = n;
    }
    out["by_path"] = std::move(by_path);
    last = last_;
  }
  if (!last) {
    out["last_request"] = nullptr;
    return out;
  }
  Json request;
  request["method"] = last->method;
  request["path"] = last->path;
  if (!last->query.empty()) {
    request["query"] = last->query;
  }
  Json headers = Json::object();
  for (const auto& [name, value] : last->headers) {
    headers[name] = value;
  }
  request["headers"] = std::move(headers);
  // Bounded like every request parse: the last request may be the hostile one.
  auto body = parse_untrusted(last->body);
  request["body"] = body ? std::move(*body) : Json(last->body);
  out["last_request"] = std::move(request);
  return out;
}

}  // namespace llmgw::sim
