-- wrk script for scripts/bench.sh: asks blackbox_exporter to probe each connection's Get Connection URL in
-- turn (one URL a line in $TARGETS) and prints how many probes answered and how many succeeded. wrk runs for
-- its whole -d duration whatever a thread does (wrk.thread:stop() ends the thread's requests, not the run),
-- so the run is timed and its probes counted.
local targets = {}
for line in io.lines(os.getenv("TARGETS")) do targets[#targets + 1] = line end
local module = os.getenv("MODULE") or "leen_connection"
local position = 0
-- Globals, so done() can read them from the thread (thread:get).
answered, succeeded = 0, 0

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function request()
  position = position % #targets + 1
  return wrk.format("GET", "/probe?module=" .. module .. "&target=" .. targets[position])
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 and body:find("\nprobe_success 1\n", 1, true) then succeeded = succeeded + 1 end
end

function done(summary, latency, requests)
  local a, s = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("answered")
    s = s + thread:get("succeeded")
  end
  io.write(string.format("probes=%d succeeded=%d\n", a, s))
end
