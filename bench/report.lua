-- wrk script for `make bench`: optional request method, body and headers
-- from the environment, and one JSON line of results at the end for
-- bench.py (with the number of 304 answers when BENCH_COUNT_304 is set).
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
local content_type = os.getenv("BENCH_CONTENT_TYPE")
local headers = os.getenv("BENCH_HEADERS")

if method and method ~= "" then wrk.method = method end
if body and body ~= "" then wrk.body = body end
if content_type and content_type ~= "" then wrk.headers["Content-Type"] = content_type end
if headers and headers ~= "" then
  for line in string.gmatch(headers, "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

-- BENCH_PATHS (one per line): each connection's requests go round them in
-- turn, a mixed load on one host (the soak).
local paths = {}
for line in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^\n]+") do
  table.insert(paths, line)
end
if #paths > 0 then
  local i = 0
  request = function()
    i = i % #paths + 1
    return wrk.format(nil, paths[i])
  end
end

-- 304s are counted per thread, in a global of each thread's Lua state
-- (`thread:get` reads only globals), and summed by `done`.
local threads = {}
counted = 0

setup = function(thread)
  table.insert(threads, thread)
end

if os.getenv("BENCH_COUNT_304") then
  response = function(status, headers, body)
    if status == 304 then counted = counted + 1 end
  end
end

done = function(summary, latency, requests)
  local not_modified = 0
  for _, thread in ipairs(threads) do
    not_modified = not_modified + (thread:get("counted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"not_modified":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, not_modified))
end
