-- wrk script for bench/web_load.py: cycles through the paths in a file (one a line), each of
-- wrk's threads taking every n-th one so no path is asked twice before all have been; POSTs
-- send RFC 8058's one-click body. Prints one JSON line of figures at the end.
local paths = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  method = args[2] or "GET"
  stride = tonumber(args[3] or "1")
  counter = id or 0
end

function request()
  local path = paths[(counter % #paths) + 1]
  counter = counter + stride
  if method == "POST" then
    return wrk.format("POST", path,
      {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
