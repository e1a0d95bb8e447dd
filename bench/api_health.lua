-- wrk script: GET /health, counting answers that are not 200.
local errors = 0

response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("WRK_RESULT requests=%d rps=%.1f p50=%.3f p99=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
