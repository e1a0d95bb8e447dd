-- wrk script: guest reservations through the reserve mutation, the same draw
-- as sql/bench/booking.sql (random spot of SPOTS from SPOT_BASE+1, random slot).
-- bench/booking.ts writes the constants line above this text.
-- Each booking its own guest email and client address (X-Forwarded-For; the
-- bench's API trusts one proxy hop), as pgbench's booking.sql draws them: an
-- email holds at most 3 reservations at once and an address 10 (SMB12).
local mutation = "mutation ($spotId: BigInt, $startsAt: Datetime, $d: Int, $email: String) { reserve(input: { spotId: $spotId, " ..
  "startsAt: $startsAt, durationMinutes: $d, email: $email }) { result { reservation { rowId } } } }"
ok, taken, other = 0, 0, 0  -- globals: done() reads them with thread:get()

request = function()
  local spot = SPOT_BASE + math.random(1, SPOTS)
  local starts = os.date("!%Y-%m-%dT%H:%M:%SZ", BASE + math.random(0, SLOTS - 1) * SLOT_MINUTES * 60)
  local body = string.format('{"query":"%s","variables":{"spotId":"%d","startsAt":"%s","d":%d,"email":"bench%d@example.test"}}',
    mutation, spot, starts, SLOT_MINUTES, math.random(1, 1000000000))
  local address = math.random(0, 16777215)
  local forwarded = string.format("10.%d.%d.%d", math.floor(address / 65536), math.floor(address / 256) % 256, address % 256)
  return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = forwarded }, body)
end

response = function(status, headers, body)
  if status == 200 and string.find(body, '"rowId"', 1, true) then ok = ok + 1
  elseif string.find(body, '"SMB01"', 1, true) then taken = taken + 1
  else other = other + 1 end
end

-- request/response run in each thread's Lua state, done() in the main one:
-- the counts come back through the thread objects setup() kept.
local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local ok_n, taken_n, other_n = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_n = ok_n + t:get("ok"); taken_n = taken_n + t:get("taken"); other_n = other_n + t:get("other")
  end
  io.write(string.format("WRK_RESULT requests=%d rps=%.1f p50=%.3f p99=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, other_n))
  io.write(string.format("WRK_OUTCOMES ok=%d taken=%d other=%d non2xx=%d\n", ok_n, taken_n, other_n, summary.errors.status))
end
