-- wrk script: steady-state P2PCF polls, the request a client makes between heartbeats:
-- POST {r, k, d, t, x} (no p, so nothing is written) with content-type application/json.
-- Env: ROOM (the seeded room), EXPECT_PEERS (entries seeded there).
-- Every answer is checked: it must be 200 and list EXPECT_PEERS peers with an empty pk.

local room = os.getenv("ROOM") or "bench-room"
local expect_peers = tonumber(os.getenv("EXPECT_PEERS") or "3")
local t = os.time() * 1000

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"r":"%s","k":"bench-poller","d":["bench-poller-session","bench-poller-client",false,' ..
  '"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",1700000000000,["198.51.100.1"]],' ..
  '"t":%d,"x":120000}', room, t)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  invalid = 0
  sample = nil
end

function response(status, headers, body)
  local _, peers = string.gsub(body, '%["session%-', '')
  if status ~= 200 or peers ~= expect_peers or not string.find(body, '"pk":%[%]', 1) then
    invalid = invalid + 1
    if sample == nil then sample = status .. " " .. string.sub(body, 1, 200) end
  end
end

function done(summary, latency, requests)
  local invalid_total, sample_any = 0, nil
  for _, thread in ipairs(threads) do
    invalid_total = invalid_total + thread:get("invalid")
    sample_any = sample_any or thread:get("sample")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "non2xx=%d invalid=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, invalid_total, e.connect, e.read, e.write, e.timeout))
  if sample_any then io.write("FIRST_INVALID " .. sample_any .. "\n") end
end
