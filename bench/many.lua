-- POST the body in the first file given after `--` to a path picked at random, per request, from the
-- second file (one path a line): mixed traffic over many served models.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local paths = {}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  for line in io.lines(args[2]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + #tostring({}))
end

function request()
  return wrk.format(nil, paths[math.random(#paths)])
end

-- One JSON line at the end, as post.lua prints it.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
