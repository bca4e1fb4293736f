#pragma once
// The limits and budgets of every instance, in Redis: one Lua script admits a request (token
// buckets for requests and tokens, the budget check and the cost reservation) in one round
// trip with no read-modify-write race between instances; another settles it after the answer.
// The scripts read Redis's own clock (TIME), so instances whose clocks differ still agree on
// the buckets. Keys carry the key name as a hash tag ({name}): a key's data stays together.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "llmgw/limits/limits.hpp"
#include "llmgw/state/redis.hpp"

namespace llmgw::limits {

class SharedLimits {
public:
  explicit SharedLimits(state::RedisOptions options);

  /// Runs the admission script; `member` names the reservation (unique per request).
  boost::asio::awaitable<state::RedisResult<Decision>> admit(const AdmitInput& in,
                                                             const Periods& periods,
                                                             const std::string& member,
                                                             bool rate, bool budget);
  /// Gives back or takes `token_delta` tokens, drops the reservation `member` (may be empty)
  /// and spends `cost` in the periods of `periods`.
  boost::asio::awaitable<state::RedisResult<bool>> settle(const std::string& key,
                                                          std::uint64_t tpm, double token_delta,
                                                          const std::string& member,
                                                          double cost, const Periods& periods);

  /// "redis 127.0.0.1:6379": for messages (no credentials).
  const std::string& where() const { return where_; }

private:
  state::RedisPool pool_;
  std::string where_;
};

/// Exposed for the tests: the scripts' text.
const std::string& admit_script();
const std::string& settle_script();

}  // namespace llmgw::limits
