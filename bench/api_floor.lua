-- wrk script: the trivial GraphQL query of bench/api_floor.ts, as a guest.
wrk.method = "POST"
wrk.body = '{"query":"{ currentUser { id } }"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local graphql_errors = 0

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"currentUser":null', 1, true) then graphql_errors = graphql_errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("WRK_RESULT requests=%d rps=%.1f p50=%.3f p99=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, graphql_errors + summary.errors.status))
end
