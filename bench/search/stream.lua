-- bench/search/stream.lua — send a stream of searches, each once, and time every one.
--
--   STREAM_OUT=OUT STREAM_DONE=DONE wrk -tT -cT -d<max>s -s stream.lua URL -- PATHS T
--
-- PATHS: "<n> <path>" a line (bench/search/stream.py paths).  Run with as many threads as
-- connections (-t = -c = T): each thread then has one connection, so its responses come back
-- in the order of its requests and each can be timed from the moment wrk asked for it.
-- Thread k sends lines k+1, k+1+T, k+1+2T, ... once each and stops when it has sent its
-- share (later requests, which wrk may still ask for, go to /livez and are not recorded),
-- appending a line to the file $STREAM_DONE: bench/search/stream.sh interrupts wrk (which
-- would otherwise sleep out its -d) when every thread has.  $STREAM_OUT gets one line per
-- search: "<n> <status> <start us> <end us>" (CLOCK_MONOTONIC), from which
-- bench/search/stream_report.py computes the latencies per class and the rate.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } yz_timespec;
int clock_gettime(int clk, yz_timespec *ts);
]]
local ts = ffi.new("yz_timespec")
local function now_us()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
local counter = 0
function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

local mine, ids = {}, {}
local i = 0
local pending, t0 = nil, 0
out = {}
local idle
local finished = false

function init(args)
    local nthreads = tonumber(args[2])
    local k = 0
    for line in io.lines(args[1]) do
        local n, path = line:match("^(%d+) (.+)$")
        if n then
            if k % nthreads == tid then
                mine[#mine + 1] = wrk.format("GET", path)
                ids[#ids + 1] = n
            end
            k = k + 1
        end
    end
    idle = wrk.format("GET", "/livez")
end

-- wrk calls request() once on the first thread before any connection is made, to check the
-- request it returns (script_verify_request): that call must not use up a search.
local verified = false
function request()
    if tid == 0 and not verified then
        verified = true
        return idle
    end
    if i >= #mine then
        if not finished then
            finished = true
            local f = assert(io.open(os.getenv("STREAM_DONE"), "a"))
            f:write(tid, "\n")
            f:close()
            wrk.thread:stop()
        end
        pending = nil
        return idle
    end
    i = i + 1
    pending = ids[i]
    t0 = now_us()
    return mine[i]
end

function response(status, headers, body)
    if pending then
        out[#out + 1] = pending .. " " .. status .. " " .. t0 .. " " .. now_us()
        pending = nil
    end
end

function done(summary, latency, requests)
    local f = assert(io.open(os.getenv("STREAM_OUT"), "w"))
    for _, t in ipairs(threads) do
        local o = t:get("out")
        for _, line in ipairs(o) do f:write(line, "\n") end
    end
    f:close()
end
