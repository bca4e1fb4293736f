#include "shared_limits.hpp"

#include <boost/asio/this_coro.hpp>
#include <charconv>
#include <cstdio>

#include "llmgw/common/strings.hpp"

namespace llmgw::limits {
namespace {

// KEYS: 1 the key's buckets (hash), 2 the sum of its held reservations (hash field "sum"),
// 3 the day's spend, 4 the month's spend, 5 the holds themselves (sorted set: member
// "<id>|<usd>", score = when the hold lapses, so a crashed instance's holds do not stay).
// ARGV: 1 rpm, 2 tpm (0 = none), 3 tokens, 4 day cap, 5 month cap (0 = none), 6 reservation
// (usd), 7 reservation id, 8 hold lapse (ms).
// Returns: refused ("", "requests", "tokens", "day", "month"), wait ms, requests remaining,
// requests reset ms, tokens remaining, tokens reset ms, day spent+held, month spent+held.
constexpr const char* kAdmit = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local day_cap, month_cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local rl, tl = rpm, tpm
if rpm > 0 or tpm > 0 then
  local h = redis.call('HMGET', KEYS[1], 'rl', 'tl', 'at', 'rpm', 'tpm')
  if h[1] and tonumber(h[4]) == rpm and tonumber(h[5]) == tpm then
    local dt = math.max(0, now - tonumber(h[3]))
    rl = math.min(rpm, tonumber(h[1]) + dt * rpm / 60000)
    tl = math.min(tpm, tonumber(h[2]) + dt * tpm / 60000)
  end
end
local refused, wait, day, month = '', 0, 0, 0
local budget = day_cap > 0 or month_cap > 0
if budget then
  -- What admitted requests hold: a running sum, less the holds that lapsed (rare: an instance
  -- that died between admission and settlement), so the cost does not grow with concurrency.
  local held = tonumber(redis.call('HGET', KEYS[2], 'sum') or '0')
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  for _, m in ipairs(lapsed) do
    held = held - (tonumber(string.match(m, '[^|]*$')) or 0)
    redis.call('ZREM', KEYS[5], m)
  end
  if #lapsed > 0 then
    held = math.max(0, held)
    redis.call('HSET', KEYS[2], 'sum', tostring(held))
  end
  day = tonumber(redis.call('GET', KEYS[3]) or '0') + held
  month = tonumber(redis.call('GET', KEYS[4]) or '0') + held
  if day_cap > 0 and day >= day_cap then
    refused = 'day'
  elseif month_cap > 0 and month >= month_cap then
    refused = 'month'
  end
end
if refused == '' and rpm > 0 and rl < 1 then
  refused = 'requests'
  wait = math.ceil((1 - rl) * 60000 / rpm)
end
if refused == '' and tpm > 0 then
  local need = math.min(tokens, tpm)
  if tl < need then
    refused = 'tokens'
    wait = math.ceil((need - tl) * 60000 / tpm)
  end
end
if refused == '' then
  if rpm > 0 then rl = rl - 1 end
  if tpm > 0 then tl = tl - tokens end
  if budget then
    local lapse = tonumber(ARGV[8])
    redis.call('ZADD', KEYS[5], now + lapse, ARGV[7] .. '|' .. ARGV[6])
    redis.call('HINCRBYFLOAT', KEYS[2], 'sum', ARGV[6])
    redis.call('PEXPIRE', KEYS[5], lapse * 2)
    redis.call('PEXPIRE', KEYS[2], lapse * 2)
  end
end
if rpm > 0 or tpm > 0 then
  redis.call('HSET', KEYS[1], 'rl', tostring(rl), 'tl', tostring(tl), 'at', tostring(now),
             'rpm', ARGV[1], 'tpm', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 120000)
end
local function reset(level, cap)
  if cap <= 0 then return 0 end
  return math.ceil(math.max(0, cap - level) * 60000 / cap)
end
return {refused, tostring(wait), tostring(math.max(0, math.floor(rl))), tostring(reset(rl, rpm)),
        tostring(math.max(0, math.floor(tl))), tostring(reset(tl, tpm)), tostring(day),
        tostring(month)}
)lua";

// KEYS as above. ARGV: 1 tpm, 2 tokens to take (negative: give back), 3 the reservation's full
// member ("" = none), 4 cost (usd), 5 day key lifetime (s), 6 month key lifetime (s).
constexpr const char* kSettle = R"lua(
local delta = tonumber(ARGV[2])
if tonumber(ARGV[1]) > 0 and delta ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'tl', tostring(-delta))
end
-- The hold leaves the sum only if it is still there (a lapsed one already left it).
if ARGV[3] ~= '' and redis.call('ZREM', KEYS[5], ARGV[3]) == 1 then
  local amount = tonumber(string.match(ARGV[3], '[^|]*$')) or 0
  local left = redis.call('HINCRBYFLOAT', KEYS[2], 'sum', tostring(-amount))
  if tonumber(left) < 1e-9 then
    redis.call('HSET', KEYS[2], 'sum', '0')
  end
end
if tonumber(ARGV[4]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  redis.call('INCRBYFLOAT', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
return 1
)lua";

constexpr std::chrono::milliseconds kHoldLapse{10 * 60 * 1000};  // longer than any request

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10f", v);
  return buf;
}

std::string integer(std::uint64_t v) { return std::to_string(v); }

double parse_double(const state::RedisReply& r) {
  double v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

std::vector<std::string> key_names(const std::string& key, const Periods& p) {
  const std::string tag = "{" + key + "}";
  return {"llmgw:limits:" + tag, "llmgw:budget:" + tag + ":held_sum",
          "llmgw:budget:" + tag + ":d:" + p.day, "llmgw:budget:" + tag + ":m:" + p.month,
          "llmgw:budget:" + tag + ":held"};
}

std::vector<std::string> eval_command(const std::string& sha, std::vector<std::string> keys,
                                      std::vector<std::string> args) {
  std::vector<std::string> cmd{"EVALSHA", sha, std::to_string(keys.size())};
  cmd.insert(cmd.end(), std::make_move_iterator(keys.begin()),
             std::make_move_iterator(keys.end()));
  cmd.insert(cmd.end(), std::make_move_iterator(args.begin()),
             std::make_move_iterator(args.end()));
  return cmd;
}

// EVALSHA first (the script text is not sent on every request); EVAL once when this Redis
// has not seen the script yet (a restart or SCRIPT FLUSH forgets it), which also caches it.
boost::asio::awaitable<state::RedisResult<state::RedisReply>> run_script(
    state::RedisClient& client, const std::string& script, const std::string& sha,
    std::vector<std::string> keys, std::vector<std::string> args) {
  auto cmd = eval_command(sha, std::move(keys), std::move(args));
  auto copy = cmd;
  auto reply = co_await client.command(std::move(cmd));
  if (reply && reply->is_error() && reply->str.rfind("NOSCRIPT", 0) == 0) {
    copy[0] = "EVAL";
    copy[1] = script;
    auto again = co_await client.command(std::move(copy));
    co_return again;
  }
  co_return reply;
}

Decision decision_of(const state::RedisReply& r, const AdmitInput& in, const Periods& p) {
  Decision d;
  const auto& e = r.elements;
  const std::string& refused = e[0].str;
  d.retry_after = std::chrono::milliseconds(static_cast<std::int64_t>(parse_double(e[1])));
  if (in.key.rate_limit.rpm) {
    d.requests = Window{*in.key.rate_limit.rpm, static_cast<std::uint64_t>(parse_double(e[2])),
                        std::chrono::milliseconds(static_cast<std::int64_t>(parse_double(e[3])))};
  }
  if (in.key.rate_limit.tpm) {
    d.tokens = Window{*in.key.rate_limit.tpm, static_cast<std::uint64_t>(parse_double(e[4])),
                      std::chrono::milliseconds(static_cast<std::int64_t>(parse_double(e[5])))};
  }
  if (refused == "requests") {
    d.refused = Refusal::requests;
  } else if (refused == "tokens") {
    d.refused = Refusal::tokens;
  } else if (refused == "day" && in.key.budget) {
    d.refused = Refusal::budget;
    d.budget = {BudgetPeriod::day, parse_double(e[6]), in.key.budget->usd_per_day, p.day_end};
  } else if (refused == "month" && in.key.budget) {
    d.refused = Refusal::budget;
    d.budget = {BudgetPeriod::month, parse_double(e[7]), in.key.budget->usd_per_month,
                p.month_end};
  }
  return d;
}

bool well_formed(const state::RedisReply& r) {
  if (r.type != state::RedisReply::Type::array || r.elements.size() != 8) {
    return false;
  }
  for (const auto& e : r.elements) {
    if (e.type != state::RedisReply::Type::string) {
      return false;
    }
  }
  return true;
}

std::string where_of(const std::string& url) {
  auto a = state::parse_redis_url(url);
  return a ? "redis " + a->describe() : "redis";
}

}  // namespace

const std::string& admit_script() {
  static const std::string s = kAdmit;
  return s;
}
const std::string& settle_script() {
  static const std::string s = kSettle;
  return s;
}

SharedLimits::SharedLimits(state::RedisOptions options)
    : pool_(options), where_(where_of(options.url)) {}

boost::asio::awaitable<state::RedisResult<Decision>> SharedLimits::admit(
    const AdmitInput& in, const Periods& periods, const std::string& member, bool rate,
    bool budget) {
  static const std::string sha = common::sha1_hex(admit_script());
  auto executor = co_await boost::asio::this_coro::executor;
  auto client = pool_.client(executor);
  const auto& rl = in.key.rate_limit;
  const bool has_budget = budget && in.key.budget;
  std::vector<std::string> args{
      integer(rate && rl.rpm ? *rl.rpm : 0),
      integer(rate && rl.tpm ? *rl.tpm : 0),
      number(in.tokens),
      number(has_budget ? in.key.budget->usd_per_day : 0),
      number(has_budget ? in.key.budget->usd_per_month : 0),
      number(in.usd),
      member,
      std::to_string(kHoldLapse.count())};
  auto keys = key_names(in.key.name, periods);
  auto reply = co_await run_script(*client, admit_script(), sha, std::move(keys), std::move(args));
  if (!reply) {
    co_return common::err(state::RedisError{reply.error().message});
  }
  if (reply->is_error()) {
    co_return common::err(state::RedisError{client->where() + ": " + reply->str});
  }
  if (!well_formed(*reply)) {
    co_return common::err(
        state::RedisError{client->where() + ": unexpected reply to the limits script"});
  }
  co_return decision_of(*reply, in, periods);
}

boost::asio::awaitable<state::RedisResult<bool>> SharedLimits::settle(
    const std::string& key, std::uint64_t tpm, double token_delta, const std::string& member,
    double cost, const Periods& periods) {
  static const std::string sha = common::sha1_hex(settle_script());
  auto executor = co_await boost::asio::this_coro::executor;
  auto client = pool_.client(executor);
  // The spend outlives its period by a little (late settlements, inspection), not forever.
  std::vector<std::string> args{integer(tpm),
                                number(token_delta),
                                member,
                                number(cost),
                                std::to_string(2 * 24 * 3600),
                                std::to_string(32 * 24 * 3600)};
  auto keys = key_names(key, periods);
  auto reply =
      co_await run_script(*client, settle_script(), sha, std::move(keys), std::move(args));
  if (!reply) {
    co_return common::err(state::RedisError{reply.error().message});
  }
  if (reply->is_error()) {
    co_return common::err(state::RedisError{client->where() + ": " + reply->str});
  }
  co_return true;
}

}  // namespace llmgw::limits
