#include "llmgw/feedback/recent_requests.hpp"

#include <algorithm>
#include <functional>

namespace llmgw::feedback {

RecentRequests::RecentRequests(std::size_t capacity)
    : per_shard_(std::max<std::size_t>(1, capacity / kShards)) {}

RecentRequests::Shard& RecentRequests::shard_of(std::string_view id) const {
  return shards_[std::hash<std::string_view>{}(id) % kShards];
}

void RecentRequests::remember(std::string_view request_id, RecentRequest request) {
  auto& shard = shard_of(request_id);
  std::lock_guard lock(shard.mutex);
  auto [it, inserted] = shard.by_id.insert_or_assign(std::string(request_id), std::move(request));
  if (!inserted) {
    return;  // a client-chosen id used again: the newest request is the one rated
  }
  shard.order.push_back(it->first);
  while (shard.order.size() > per_shard_) {
    shard.by_id.erase(shard.order.front());
    shard.order.pop_front();
  }
}

std::optional<RecentRequest> RecentRequests::find(std::string_view request_id) const {
  auto& shard = shard_of(request_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.by_id.find(std::string(request_id));
  if (it == shard.by_id.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::size_t RecentRequests::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.by_id.size();
  }
  return n;
}

}  // namespace llmgw::feedback
