-- wrk script of the benchmark: replays a prepared list of requests.
--
--   wrk -t THREADS ... -s requests.lua <url> -- FILE THREADS
--
-- FILE has one request a line: METHOD <tab> PATH <tab> TOKEN <tab> BODY, with
-- "-" for no token or no body, and optionally <tab> "key": the request then
-- carries an Idempotency-Key of its own each time it is sent (formatted per
-- request, so that a cycled list never replays). Thread t of n takes lines t, t+n, t+2n, ...
-- (so a sequence written for one thread, such as join then leave of the same
-- seat, stays in order on that thread) and cycles through them. Requests are
-- formatted once, in init, so the per-request Lua cost is one table index.
-- wrk calls the first thread's request() once to check the script and does
-- not send that request. done() prints one JSON line the benchmark reads:
-- requests, duration, errors and latency percentiles in microseconds.

local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
end

local reqs, n, i, keyed, run_id

function init(args)
   local file = args[1]
   local nthreads = tonumber(args[2]) or 1
   reqs, n = {}, 0
   local line_no = 0
   local f = assert(io.open(file, "r"))
   for line in f:lines() do
      if line ~= "" then
         if line_no % nthreads == tid then
            local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
            local key = false
            if body:sub(-4) == "\tkey" then
               body, key = body:sub(1, -5), true
            end
            local headers = {}
            if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
            if body == "-" then
               body = nil
            else
               headers["Content-Type"] = "application/json"
            end
            n = n + 1
            if key then
               reqs[n] = {method, path, headers, body}
            else
               reqs[n] = wrk.format(method, path, headers, body)
            end
         end
         line_no = line_no + 1
      end
   end
   f:close()
   assert(n > 0, "no requests for thread " .. tid .. " in " .. file)
   i, keyed, run_id = 0, 0, os.time()
end

function request()
   i = i % n + 1
   local r = reqs[i]
   if type(r) == "string" then
      return r
   end
   keyed = keyed + 1
   r[3]["Idempotency-Key"] = string.format("bench-%d-%d-%d", run_id, tid, keyed)
   return wrk.format(r[1], r[2], r[3], r[4])
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '@@RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
