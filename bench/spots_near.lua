-- wrk script: random points over New York City, the same query as bench/spots_near.ts.
local query = "query ($lat: Float!, $lng: Float!) { spotsNear(lat: $lat, lng: $lng, radius: 0.5, first: 10) " ..
  "{ nodes { distance price { amount } spot { rowId } } } }"
local graphql_errors = 0

request = function()
  local body = string.format('{"query":"%s","variables":{"lat":%.6f,"lng":%.6f}}',
    query, 40.6 + math.random() * 0.25, -74.0 + math.random() * 0.15)
  return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json" }, body)
end

response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then graphql_errors = graphql_errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("WRK_RESULT requests=%d rps=%.1f p50=%.3f p99=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, graphql_errors))
end
