-- wrk script for bench/loadgen.py: cycles through the request paths listed in the file named
-- by the first script argument (one per line) and prints the run's summary as one JSON line
-- from done(), so nothing is read back from wrk's text table. Latencies are in microseconds.

local threads = 0

function setup(thread)
   thread:set("id", threads)
   threads = threads + 1
end

local prepared = {}
local index = 0

function init(args)
   for path in io.lines(args[1]) do
      prepared[#prepared + 1] = wrk.format("GET", path)
   end
   -- Threads start at spread-out places in the cycle rather than all on the first path.
   index = math.floor(id * 0.6180339887 * #prepared) % #prepared
end

function request()
   index = index % #prepared + 1
   return prepared[index]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'wrk-json {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"timeout": %d, "status": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d, '
         .. '"max": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
end
