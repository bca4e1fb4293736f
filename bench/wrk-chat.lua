-- wrk script: POST a small non-streaming chat completion.
-- Optional pacing: WRK_DELAY_MS (per connection) turns wrk into an approximately fixed-rate
-- client so latency can be compared at a given load instead of at saturation.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hello bench"}],"max_tokens":16}'

local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
function delay()
  return pause
end
