-- wrk script: POST the sample event with a distinct eventID per request, over
-- wrk's keep-alive connections. Arguments after "--": EVENT_FILE RUN_ID.
-- done() prints key=value lines that bench/run.sh collects.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local prefix, suffix, run

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  local s, e = body:find('"eventID"%s*:%s*"[^"]*"')
  assert(s, "no eventID in " .. args[1])
  local open = body:find('"', body:find(':', s) + 1, true)
  prefix = body:sub(1, open)
  suffix = body:sub(e)
  run = (args[2] or "wrk") .. "-t" .. tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. run .. "-" .. counter .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  local answered = summary.requests - e.status
  io.write(string.format("requests=%d\nnon_2xx=%d\nsocket_errors=%d\n", summary.requests,
    e.status, e.connect + e.read + e.write + e.timeout))
  io.write(string.format("seconds=%.3f\n", summary.duration / 1e6))
  io.write(string.format("accepted_per_s=%.0f\n", answered / (summary.duration / 1e6)))
  io.write(string.format("latency_p50_us=%d\nlatency_p99_us=%d\nlatency_p999_us=%d\n",
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
