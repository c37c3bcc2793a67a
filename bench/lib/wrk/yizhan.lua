-- bench/lib/wrk/yizhan.lua — the one wrk script of bench/run.sh; the mode and its
-- arguments come after "--":
--
--   wrk ... -s yizhan.lua URL -- get TEMPLATE LO HI DIST
--       GET TEMPLATE with "{id}" replaced by an integer in [LO, HI] drawn by DIST:
--       "uniform", "zipf:S" (rank r = id LO + r - 1 weighs 1/r^S, as pgbench's
--       random_zipfian) or "one" (always LO); 4,096 requests built per thread in
--       init, then sent in turn
--   wrk ... -s yizhan.lua URL -- paths FILE
--       GET each line of FILE (a path with query) in turn, each thread from
--       its own offset
--   wrk ... -s yizhan.lua URL -- post PATH BODYFILE TOKEN
--       POST the JSON body of BODYFILE with "Authorization: Bearer TOKEN"
--   wrk ... -s yizhan.lua URL -- register LO HI NTHREADS TOKEN
--       POST /api/v1/contracts/{id}/register for ids LO..HI, each id once
--       across the NTHREADS threads; past HI the id is 0 (404: the run
--       fails, telling that the pool of submitted contracts ran out)
--   wrk ... -s yizhan.lua URL -- mix GET_TEMPLATE LO HI DIST PATHSFILE BODYFILE TOKEN RLO RHI NTHREADS OFFICER_TOKEN
--       the soak mix, in a cycle of 20 requests: 16 GET result (random id),
--       2 search (from PATHSFILE), 1 POST /api/v1/results, 1 registration
--   wrk ... -s yizhan.lua URL -- rush GET_TEMPLATE LO HI DIST PATHSFILE BODYFILE TOKEN RLO RHI NTHREADS OFFICER_TOKEN
--                                    MEMBER_PATH CONTRACT_BODYFILE
--       the year-end rush (issue #23), in a cycle of 40 requests (RUSH below):
--       22 anonymous GET result, 8 searches and browses (PATHSFILE), 7 member
--       reads (GET MEMBER_PATH with TOKEN), 1 POST /api/v1/results, 1 contract
--       application (POST /api/v1/contracts, CONTRACT_BODYFILE), 1 registration
--       by the officer; bench/run.sh gives pgbench the same weights
--
-- Non-2xx responses are counted by wrk itself ("Non-2xx or 3xx responses").

local cycle, gi, pi = 0, 0, 0

local tid_counter = 0
function setup(thread)
    thread:set("tid", tid_counter)
    tid_counter = tid_counter + 1
end

local mode
local reqs = {}
local n, i = 0, 0
local lo, hi, step, next_id
local token, officer
local mix_get, mix_paths, mix_post
local rush_member, rush_contract

-- the year-end rush's cycle: g = GET result, s = search, m = member read,
-- p = POST result, c = contract application, r = registration (22/8/7/1/1/1)
local RUSH = "gmgsggmgspgmgsggmgscgmgsggmgsrgmgsggggsg"
assert(#RUSH == 40)

local function read_file(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

local function read_lines(path)
    local t = {}
    for line in io.lines(path) do
        if line ~= "" then t[#t + 1] = line end
    end
    return t
end

local function sampler(a, b, dist)
    if dist == "one" then return function() return a end end
    local s = dist and tonumber(dist:match("^zipf:([0-9.]+)$"))
    if not s then return function() return math.random(a, b) end end
    local cum, acc = {}, 0.0
    for r = 1, b - a + 1 do
        acc = acc + 1.0 / r ^ s
        cum[r] = acc
    end
    return function()
        local u, lo, hi = math.random() * acc, 1, #cum
        while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            if cum[mid] < u then lo = mid + 1 else hi = mid end
        end
        return a + lo - 1
    end
end

local function gets(template, a, b, dist, count)
    local t, draw = {}, sampler(a, b, dist)
    for k = 1, count do
        t[k] = wrk.format("GET", (template:gsub("{id}", tostring(draw()))))
    end
    return t
end

local function paths(file)
    local t = {}
    for _, p in ipairs(read_lines(file)) do t[#t + 1] = wrk.format("GET", p) end
    return t
end

local function post(path, body, tok)
    return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tok}, body)
end

local function register_next()
    local id = next_id
    next_id = next_id + step
    if id > hi then id = 0 end
    return wrk.format("POST", "/api/v1/contracts/" .. id .. "/register", {["Authorization"] = "Bearer " .. officer})
end

function init(args)
    mode = args[1]
    math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
    if mode == "get" then
        reqs = gets(args[2], tonumber(args[3]), tonumber(args[4]), args[5], 4096)
    elseif mode == "paths" then
        reqs = paths(args[2])
        i = (tid or 0) * 7 % #reqs
    elseif mode == "post" then
        reqs = {post(args[2], read_file(args[3]), args[4])}
    elseif mode == "register" then
        lo, hi, step, officer = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), args[5]
        next_id = lo + (tid or 0)
    elseif mode == "mix" then
        mix_get = gets(args[2], tonumber(args[3]), tonumber(args[4]), args[5], 4096)
        mix_paths = paths(args[6])
        mix_post = post("/api/v1/results", read_file(args[7]), args[8])
        lo, hi, step, officer = tonumber(args[9]), tonumber(args[10]), tonumber(args[11]), args[12]
        next_id = lo + (tid or 0)
    elseif mode == "rush" then
        mix_get = gets(args[2], tonumber(args[3]), tonumber(args[4]), args[5], 4096)
        mix_paths = paths(args[6])
        mix_post = post("/api/v1/results", read_file(args[7]), args[8])
        lo, hi, step, officer = tonumber(args[9]), tonumber(args[10]), tonumber(args[11]), args[12]
        next_id = lo + (tid or 0)
        rush_member = wrk.format("GET", args[13], {["Authorization"] = "Bearer " .. args[8]})
        rush_contract = post("/api/v1/contracts", read_file(args[14]), args[8])
        -- each thread starts at another point of the cycle
        cycle = ((tid or 0) * 13) % #RUSH
    else
        error("yizhan.lua: unknown mode " .. tostring(mode))
    end
    n = #reqs
end


function request()
    if mode == "register" then return register_next() end
    if mode == "mix" then
        cycle = cycle % 20 + 1
        if cycle == 5 or cycle == 15 then
            pi = pi % #mix_paths + 1
            return mix_paths[pi]
        elseif cycle == 10 then
            return mix_post
        elseif cycle == 20 then
            return register_next()
        end
        gi = gi % #mix_get + 1
        return mix_get[gi]
    end
    if mode == "rush" then
        cycle = cycle % #RUSH + 1
        local k = RUSH:sub(cycle, cycle)
        if k == "s" then
            pi = pi % #mix_paths + 1
            return mix_paths[pi]
        elseif k == "m" then
            return rush_member
        elseif k == "p" then
            return mix_post
        elseif k == "c" then
            return rush_contract
        elseif k == "r" then
            return register_next()
        end
        gi = gi % #mix_get + 1
        return mix_get[gi]
    end
    i = i % n + 1
    return reqs[i]
end
