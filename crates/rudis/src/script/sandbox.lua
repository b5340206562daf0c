-- The environment scripts run in, as Redis 7.0 builds it, on a stock Lua
-- 5.1 (Redis patches its Lua for read-only tables; here they are views).
-- Runs once per Lua state, with the real globals, before anything else.
-- H: internal slots shared with Rust (H.errmsg: the text of a Rust
-- error value; the functions the sandbox is given).
local H, G = ...

local setmetatable, getmetatable, rawset, rawget = setmetatable, getmetatable, rawset, rawget
local error, type, tostring, select = error, type, tostring, select
local pcall, xpcall, loadstring, getfenv, setfenv = pcall, xpcall, loadstring, getfenv, setfenv
local concat = table.concat
local collectgarbage = collectgarbage

local READONLY = 'Attempt to modify a readonly table'

-- Read-only views: empty tables whose lookups go to the real table and
-- whose assignments fail. `sealed` knows them, so rawset and setmetatable
-- refuse them too; their metatables are views as well.
local sealed = setmetatable({}, { __mode = 'k' })

local function deny()
    error(READONLY, 2)
end

local function seal(t)
    local meta = { __index = t, __newindex = deny }
    local meta_view = setmetatable({}, { __index = meta, __newindex = deny, __metatable = false })
    sealed[meta_view] = true
    meta.__metatable = meta_view
    local view = setmetatable({}, meta)
    sealed[view] = true
    return view
end
H.seal = seal

-- What scripts see as their globals: a view of G, which itself fails on a
-- name it does not have.
local ENV = seal(G)
H.env = ENV
setmetatable(G, {
    __index = function(_, name)
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end,
    __newindex = deny,
})

rawset(G, '_G', ENV)
rawset(G, 'print', nil)
rawset(G, 'dofile', nil)
rawset(G, 'loadfile', nil)

-- As Redis's C functions raise it: without a position.
rawset(G, 'setmetatable', function(t, m)
    if sealed[t] then
        error(READONLY, 0)
    end
    return setmetatable(t, m)
end)

rawset(G, 'rawset', function(t, k, v)
    if sealed[t] then
        error(READONLY, 0)
    end
    return rawset(t, k, v)
end)

-- The thread's own globals are G itself: scripts get the view instead.
rawset(G, 'getfenv', function(f)
    local e
    if f == nil then
        e = getfenv(2)
    elseif type(f) == 'number' and f > 0 then
        e = getfenv(f + 1)
    elseif f == 0 then
        e = ENV
    else
        e = getfenv(f)
    end
    if e == G then
        return ENV
    end
    return e
end)

rawset(G, 'setfenv', function(f, t)
    if f == 0 then
        error(READONLY, 0)
    end
    if type(f) == 'number' then
        return setfenv(f + 1, t)
    end
    return setfenv(f, t)
end)

-- Compiled code runs in the view, and precompiled (binary) chunks are
-- refused: a crafted one can break out of any sandbox.
local function load_text(s, name)
    if type(s) == 'string' and s:byte(1) == 27 then
        return nil, 'attempt to load a binary chunk'
    end
    local f, e = loadstring(s, name)
    if f then
        setfenv(f, ENV)
    end
    return f, e
end
rawset(G, 'loadstring', load_text)
rawset(G, 'load', function(reader, name)
    local parts = {}
    while true do
        local piece = reader()
        if piece == nil or piece == '' then
            break
        end
        if type(piece) ~= 'string' then
            return nil, 'reader function must return a string'
        end
        parts[#parts + 1] = piece
    end
    return load_text(concat(parts), name or '=(load)')
end)

-- Redis's pcall: an error that is a table with an `err` field is given
-- as that text.
local function caught(ok, ...)
    if ok then
        return ok, ...
    end
    local e = ...
    if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
        return false, rawget(e, 'err')
    end
    if type(e) == 'userdata' then
        return false, H.errmsg(e)
    end
    return false, e
end
rawset(G, 'pcall', function(f, ...)
    return caught(pcall(f, ...))
end)

-- The redis table. call and pcall are Rust functions (so the error they
-- raise points at the caller's line even from a tail call) that reach
-- the running script, and refuse outside one.
local R = {}
H.redis = R
R.call, R.pcall = H.call, H.pcall

-- These raise from Rust, so their errors point at the caller's line.
R.setresp = H.setresp
R.set_repl = H.set_repl
R.acl_check_cmd = H.acl_check_cmd
R.sha1hex = H.sha1hex
R.log = H.log

-- Redis's luaPushErrorBuff: "-CODE message" or "message" (code ERR).
local function error_text(s)
    local code, msg
    if s:sub(1, 1) == '-' then
        local space = s:find(' ', 1, true)
        if space then
            code, msg = s:sub(2, space - 1), s:sub(space + 1)
        else
            code, msg = 'ERR', s:sub(2)
        end
    else
        code, msg = 'ERR', s
    end
    msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
    return code .. ' ' .. msg
end
H.error_text = error_text

function R.error_reply(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then
        return { err = 'ERR wrong number or type of arguments' }
    end
    if s:sub(1, 1) ~= '-' then
        s = '-' .. s
    end
    return { err = error_text(s) }
end

function R.status_reply(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then
        return { err = 'ERR wrong number or type of arguments' }
    end
    return { ok = s }
end

function R.replicate_commands()
    return true
end

function R.breakpoint()
    return false
end

function R.debug() end

R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3
R.REDIS_VERSION = H.version
R.REDIS_VERSION_NUM = H.version_num

rawset(G, 'redis', seal(R))

-- Functions (FUNCTION LOAD): a library's code runs in an environment
-- that offers only redis.register_function, redis.log and the versions;
-- the functions it registers keep that environment, which then looks up
-- the full globals (Redis switches the globals' __index the same way).
local LR = {
    register_function = H.no_register,
    log = R.log,
    LOG_DEBUG = R.LOG_DEBUG,
    LOG_VERBOSE = R.LOG_VERBOSE,
    LOG_NOTICE = R.LOG_NOTICE,
    LOG_WARNING = R.LOG_WARNING,
    REDIS_VERSION = R.REDIS_VERSION,
    REDIS_VERSION_NUM = R.REDIS_VERSION_NUM,
}
H.load_redis = LR
-- What a loading library may not use fails as a missing global does.
setmetatable(LR, getmetatable(G))
local LOAD_API = setmetatable({ redis = seal(LR) }, getmetatable(G))
local fenv_meta = { __index = G, __newindex = deny }
fenv_meta.__metatable = setmetatable({}, { __index = fenv_meta, __newindex = deny, __metatable = false })
sealed[fenv_meta.__metatable] = true
local FENV = setmetatable({}, fenv_meta)
sealed[FENV] = true
H.fenv = FENV
H.loading = function(on)
    fenv_meta.__index = on and LOAD_API or G
end

-- Redis's math.random, not libc's: the same sequence for a seed everywhere.
local math = rawget(G, 'math')
math.random = H.random
math.randomseed = H.randomseed

for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack' }) do
    local lib = rawget(G, name)
    if lib then
        rawset(G, name, seal(lib))
    end
end

-- Methods on strings go through the read-only string table too.
local string_meta = getmetatable('')
string_meta.__index = rawget(G, 'string')
string_meta.__metatable = seal(string_meta)

-- The runners: the script under an error handler that gives every error
-- the shape Redis reports; for EVAL with its KEYS and ARGV in place for
-- its length (set here, where a table store costs a few instructions).
H.run = function(f, handler, keys, args)
    rawset(G, 'KEYS', keys)
    rawset(G, 'ARGV', args)
    local ok, v = xpcall(f, handler)
    rawset(G, 'KEYS', nil)
    rawset(G, 'ARGV', nil)
    return ok, v
end
H.run_function = function(f, handler, keys, args)
    return xpcall(function()
        return f(keys, args)
    end, handler)
end
-- Redis's collector step every LUA_GC_CYCLE_PERIOD scripts:
-- lua_gc(LUA_GCSTEP, 50), about 50 KB of allocation paid for.
H.gc_step = function()
    return collectgarbage('step', 50)
end
-- FUNCTION LOAD's run of a library's code.
H.load = function(f, handler)
    return xpcall(f, handler)
end
