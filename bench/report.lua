-- wrk script for `make bench`: optional request method/body from the
-- environment, and one JSON line of results at the end for bench.py.
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
local content_type = os.getenv("BENCH_CONTENT_TYPE")

if method and method ~= "" then wrk.method = method end
if body and body ~= "" then wrk.body = body end
if content_type and content_type ~= "" then wrk.headers["Content-Type"] = content_type end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
