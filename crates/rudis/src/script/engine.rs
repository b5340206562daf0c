//! The Lua state of the script thread: the sandbox, compiled scripts, and
//! a script's run (its calls into Redis commands, its time limit).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use resp::Reply;

use super::convert;
use super::{Run, Script};
use crate::cmd::{self, flags, Argv, Ctx};
use crate::errors::{CmdResult, Error};
use crate::server::Server;

/// The sandbox's source (ours), run once per Lua state.
const SANDBOX: &str = include_str!("sandbox.lua");
const INTERNAL_CHUNK: &str = "=rudis";

/// The most memory a Lua state may hold: past it, allocations fail and
/// the script ends with Lua's "not enough memory".
pub const LUA_MEMORY_LIMIT: usize = 1 << 30;

/// Runs user code under the memory cap. The cap is on only while Lua
/// code runs: with a cap mlua must guard every call into the Lua API
/// against a failed allocation (on Lua 5.1 a protected call and two new
/// C closures each), which made building KEYS / ARGV and each
/// redis.call's arguments and reply cost more than the script itself.
fn capped<R>(lua: &Lua, f: impl FnOnce() -> R) -> R {
    let _ = lua.set_memory_limit(LUA_MEMORY_LIMIT);
    let r = f();
    let _ = lua.set_memory_limit(0);
    r
}

/// The Rust side of a call from a running script (redis.call / pcall):
/// outside the cap, since what it allocates is bounded by the command's
/// own reply, and unguarded API calls are what makes it cheap.
fn uncapped<R>(lua: &Lua, f: impl FnOnce() -> R) -> R {
    let _ = lua.set_memory_limit(0);
    let r = f();
    let _ = lua.set_memory_limit(LUA_MEMORY_LIMIT);
    r
}

/// How often (in Lua instructions) a running script looks at its clock
/// and at SCRIPT KILL, as Redis's count hook.
const HOOK_EVERY: u32 = 100_000;

const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// An error a Rust function raises in a script as Redis raises its error
/// tables: the text of `err`, and whether the error statistics already
/// counted it.
#[derive(Debug)]
pub struct Raised {
    pub err: Vec<u8>,
    pub counted: bool,
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.err))
    }
}

impl std::error::Error for Raised {}

/// A Lua runtime error that carries no position (Lua raises those from
/// its own operations rather than from a library's line).
pub fn unplaced(msg: &str) -> mlua::Error {
    raise(format!("ERR {msg}").as_bytes(), false)
}

fn raise(err: &[u8], counted: bool) -> mlua::Error {
    mlua::Error::external(Raised {
        err: err.to_vec(),
        counted,
    })
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The Lua state of functions (FUNCTION LOAD, FCALL): apart from the
    /// scripts', as in Redis, so SCRIPT FLUSH and FUNCTION FLUSH each
    /// leave the other alone.
    static FUNCTIONS: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// Redis's `redisLrand48` state (math.random), shared by every script
    /// as in Redis.
    static RAND48: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
    /// While a script runs: whether it asked for RESP3 (redis.setresp).
    static RESP3: Cell<Option<bool>> = const { Cell::new(None) };
    /// While a script runs: its caller's user (redis.acl_check_cmd).
    static USER: RefCell<Option<Arc<crate::acl::User>>> = const { RefCell::new(None) };
}

pub struct Engine {
    lua: Lua,
    generation: u64,
    compiled: HashMap<[u8; 40], Function, ahash::RandomState>,
    globals: Table,
    hidden: Table,
    run_fn: Function,
    run_function: Function,
    load_fn: Function,
    gc_fn: Function,
    scratch: Scratch,
    handler: Function,
    /// The functions' environment and the sandbox's switch of it to the
    /// loading one; the redis table a library sees while it loads.
    fenv: Table,
    loading: Function,
    load_redis: Table,
    no_register: Function,
    /// FCALL's functions by name.
    pub callbacks: HashMap<Vec<u8>, Function, ahash::RandomState>,
    hook_armed: bool,
}

/// Runs `f` with this thread's engine, made (or made anew after SCRIPT
/// FLUSH) on demand.
pub fn with<R>(server: &Server, f: impl FnOnce(&mut Engine) -> R) -> R {
    with_state(
        &ENGINE,
        server.scripts.generation.load(SeqCst),
        |_| {},
        f,
        |e| {
            server
                .scripts
                .lua_memory
                .store(e.lua.used_memory(), Relaxed)
        },
    )
}

/// `with` for the functions' Lua state, made anew after FUNCTION FLUSH
/// or a load of the libraries by another thread (DEBUG RELOAD, the RDB
/// file at start): a new state runs every loaded library's code first.
pub fn with_functions<R>(server: &Server, f: impl FnOnce(&mut Engine) -> R) -> R {
    with_state(
        &FUNCTIONS,
        server.scripts.function_generation.load(SeqCst),
        |e| crate::cmd::function::reinstall(server, e),
        f,
        |e| {
            server
                .scripts
                .functions_memory
                .store(e.lua.used_memory(), Relaxed)
        },
    )
}

fn with_state<R>(
    key: &'static std::thread::LocalKey<RefCell<Option<Engine>>>,
    generation: u64,
    made: impl FnOnce(&mut Engine),
    f: impl FnOnce(&mut Engine) -> R,
    measured: impl FnOnce(&Engine),
) -> R {
    key.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.generation != generation) {
            *slot = None;
            *slot = Some(Engine::new(generation).expect("the Lua sandbox sets up"));
            made(slot.as_mut().expect("made above"));
        }
        let engine = slot.as_mut().expect("made above");
        let r = f(engine);
        measured(engine);
        r
    })
}

/// A function a library registered (redis.register_function).
pub struct Registered {
    pub name: Vec<u8>,
    pub description: Option<Vec<u8>>,
    pub flags: u32,
    pub callback: Function,
}

/// How long a library's code may run while it loads (Redis's
/// LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT_MS: u64 = 500;

/// What a run is: an EVAL script (KEYS and ARGV are globals) or a
/// function (they are its arguments).
pub enum Mode {
    Eval,
    Function,
}

fn lrand48() -> i32 {
    RAND48.with(|s| {
        let x = s.get().wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
        s.set(x);
        (x >> 17) as i32
    })
}

fn srand48(seed: i32) {
    RAND48.with(|s| s.set(((seed as u32 as u64) << 16) | 0x330E));
}

/// Lua's `luaL_checkint` for math.random's bounds.
fn int_arg(v: &Value, pos: usize, name: &str) -> mlua::Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Number(n) => Ok(*n as i64),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| {
                mlua::Error::RuntimeError(format!(
                    "bad argument #{pos} to '{name}' (number expected, got string)"
                ))
            }),
        other => Err(mlua::Error::RuntimeError(format!(
            "bad argument #{pos} to '{name}' (number expected, got {})",
            if other.is_nil() {
                "no value"
            } else {
                other.type_name()
            }
        ))),
    }
}

impl Engine {
    fn new(generation: u64) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        let hidden = lua.create_table()?;
        // redis.call and redis.pcall reach the running script through the
        // entry it lends (`current`); outside a run they refuse.
        for (name, protected) in [("call", false), ("pcall", true)] {
            let f = lua.create_function(move |lua, args: MultiValue| {
                super::current::call(lua, args, protected).unwrap_or_else(|| {
                    Err(raise(
                        b"ERR redis.call/pcall can only be called inside a script invocation",
                        false,
                    ))
                })
            })?;
            hidden.raw_set(name, f)?;
        }
        hidden.raw_set("version", crate::config::REDIS_VERSION)?;
        hidden.raw_set("version_num", redis_version_num())?;
        hidden.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(b"ERR wrong number of arguments", false));
                }
                let v = args.into_iter().next().unwrap_or(Value::Nil);
                let bytes = match &v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(_) | Value::Number(_) => lua
                        .coerce_string(v.clone())?
                        .map(|s| s.as_bytes().to_vec())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                lua.create_string(super::sha1_hex(&bytes))
            })?,
        )?;
        hidden.raw_set(
            "log",
            lua.create_function(|lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                if args.len() < 2 {
                    return Err(raise(
                        b"ERR redis.log() requires two arguments or more.",
                        false,
                    ));
                }
                let Some(level) = number(&args[0]) else {
                    return Err(raise(
                        b"ERR First argument must be a number (log level).",
                        false,
                    ));
                };
                let level = level as i64;
                if !(0..=3).contains(&level) {
                    return Err(raise(b"ERR Invalid debug level.", false));
                }
                let mut parts = Vec::new();
                for a in &args[1..] {
                    if let Some(s) = lua.coerce_string(a.clone())? {
                        parts.push(s.to_string_lossy());
                    }
                }
                let msg = parts.join(" ");
                match level {
                    0 => tracing::debug!("{msg}"),
                    1 | 2 => tracing::info!("{msg}"),
                    _ => tracing::warn!("{msg}"),
                }
                Ok(())
            })?,
        )?;
        hidden.raw_set(
            "setresp",
            lua.create_function(|_, args: MultiValue| {
                if RESP3.get().is_none() {
                    return Err(raise(
                        b"ERR redis.setresp can only be called inside a script invocation",
                        false,
                    ));
                }
                if args.len() != 1 {
                    return Err(raise(b"ERR redis.setresp() requires one argument.", false));
                }
                match args.iter().next().and_then(number).map(|n| n as i64) {
                    Some(2) => RESP3.set(Some(false)),
                    Some(3) => RESP3.set(Some(true)),
                    _ => return Err(raise(b"ERR RESP version must be 2 or 3.", false)),
                }
                Ok(())
            })?,
        )?;
        hidden.raw_set(
            "set_repl",
            lua.create_function(|_, args: MultiValue| {
                if RESP3.get().is_none() {
                    return Err(raise(
                        b"ERR redis.set_repl can only be called inside a script invocation",
                        false,
                    ));
                }
                if args.len() != 1 {
                    return Err(raise(b"ERR redis.set_repl() requires two arguments.", false));
                }
                let flags = args.iter().next().and_then(number).map_or(0, |n| n as i64);
                if flags & !3 != 0 {
                    return Err(raise(
                        b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                        false,
                    ));
                }
                // Nothing is propagated anywhere yet: there is no AOF and
                // there are no replicas.
                Ok(())
            })?,
        )?;
        hidden.raw_set(
            "acl_check_cmd",
            lua.create_function(|_, args: MultiValue| {
                if RESP3.get().is_none() {
                    return Err(raise(
                        b"ERR redis.acl_check_cmd can only be called inside a script invocation",
                        false,
                    ));
                }
                let mut line = Line::default();
                to_argv(args.iter(), &mut line).map_err(|m| {
                    let mut e = b"ERR ".to_vec();
                    e.extend_from_slice(m.as_bytes());
                    raise(&e, false)
                })?;
                let argv = Argv::new(&line.buf, &line.ranges);
                match cmd::resolve(argv) {
                    Some((c, i)) => Ok(USER.with(|u| {
                        u.borrow()
                            .as_ref()
                            .is_some_and(|u| u.check(c, i, argv).is_ok())
                    })),
                    None => Err(raise(
                        b"ERR Invalid command passed to redis.acl_check_cmd()",
                        false,
                    )),
                }
            })?,
        )?;
        hidden.raw_set(
            "errmsg",
            lua.create_function(|_, v: Value| Ok(error_value_text(&v)))?,
        )?;
        hidden.raw_set(
            "random",
            lua.create_function(|_, args: MultiValue| {
                let r = (lrand48() % i32::MAX) as f64 / i32::MAX as f64;
                let args: Vec<Value> = args.into_iter().collect();
                match args.len() {
                    0 => Ok(r),
                    1 => {
                        let u = int_arg(&args[0], 1, "random")?;
                        if u < 1 {
                            return Err(mlua::Error::RuntimeError(
                                "bad argument #1 to 'random' (interval is empty)".into(),
                            ));
                        }
                        Ok((r * u as f64).floor() + 1.0)
                    }
                    2 => {
                        let l = int_arg(&args[0], 1, "random")?;
                        let u = int_arg(&args[1], 2, "random")?;
                        if l > u {
                            return Err(mlua::Error::RuntimeError(
                                "bad argument #2 to 'random' (interval is empty)".into(),
                            ));
                        }
                        Ok((r * (u - l + 1) as f64).floor() + l as f64)
                    }
                    _ => Err(mlua::Error::RuntimeError(
                        "wrong number of arguments".into(),
                    )),
                }
            })?,
        )?;
        hidden.raw_set(
            "randomseed",
            lua.create_function(|_, v: Value| {
                srand48(int_arg(&v, 1, "randomseed")? as i32);
                Ok(())
            })?,
        )?;
        hidden.raw_set(
            "no_register",
            lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
                Err(raise(
                    b"ERR redis.register_function can only be called on FUNCTION LOAD command",
                    false,
                ))
            })?,
        )?;
        globals.raw_set("bit", super::bit::open(&lua)?)?;
        globals.raw_set("cjson", super::cjson::open(&lua)?)?;
        globals.raw_set("cmsgpack", super::cmsgpack::open(&lua)?)?;
        globals.raw_set("struct", super::structlib::open(&lua)?)?;
        lua.load(SANDBOX)
            .set_name(INTERNAL_CHUNK)
            .call::<()>((hidden.clone(), globals.clone()))?;
        let run_fn: Function = hidden.raw_get("run")?;
        let run_function: Function = hidden.raw_get("run_function")?;
        let load_fn: Function = hidden.raw_get("load")?;
        let gc_fn: Function = hidden.raw_get("gc_step")?;
        let fenv: Table = hidden.raw_get("fenv")?;
        let loading: Function = hidden.raw_get("loading")?;
        let load_redis: Table = hidden.raw_get("load_redis")?;
        let no_register: Function = hidden.raw_get("no_register")?;
        let handler = lua.create_function(error_handler)?;
        Ok(Engine {
            run_function,
            load_fn,
            gc_fn,
            scratch: Scratch::default(),
            fenv,
            loading,
            load_redis,
            no_register,
            callbacks: HashMap::default(),
            hook_armed: false,
            lua,
            generation,
            compiled: HashMap::default(),
            globals,
            hidden,
            run_fn,
            handler,
        })
    }

    /// Compiles a script (Redis's `luaCreateFunction`), or finds it
    /// compiled. The error is the whole reply text.
    pub fn compile(&mut self, sha: &[u8; 40], script: &Script) -> Result<Function, Error> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let (_, skip) = super::shebang(&script.body).map_err(|e| Error::Owned(e.into_bytes()))?;
        let env: Table = self
            .hidden
            .raw_get("env")
            .map_err(|e| Error::Owned(format!("ERR {e}").into_bytes()))?;
        let f = self
            .lua
            .load(&script.body[skip..])
            .set_name("@user_script")
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                Error::Owned(
                    format!(
                        "ERR Error compiling script (new function): {}",
                        lua_error_message(&e)
                    )
                    .into_bytes(),
                )
            })?;
        self.compiled.insert(*sha, f.clone());
        Ok(f)
    }

    /// Runs a compiled script (`mode` Eval: KEYS and ARGV as globals) or
    /// a function (its keys and arguments as its two arguments), named
    /// `name` in errors: its commands go through `cmd::call` on the
    /// caller's locks, its return value (or error) is the caller's reply.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        ctx: &mut Ctx,
        f: &Function,
        mode: Mode,
        name: &[u8],
        keys: Argv,
        args: Argv,
        read_only: bool,
    ) -> CmdResult {
        let eval = matches!(mode, Mode::Eval);
        let lua = &self.lua;
        let to_table = |a: Argv| -> mlua::Result<Table> {
            lua.create_sequence_from(
                a.iter()
                    .map(|v| lua.create_string(v))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )
        };
        let fail = |e: mlua::Error| Error::Owned(format!("ERR {e}").into_bytes());
        let keys = to_table(keys).map_err(fail)?;
        let args = to_table(args).map_err(fail)?;

        let server = ctx.server;
        let run = server.scripts.run.clone();
        run.begin(eval, server.hot.busy_reply_threshold());
        if !self.hook_armed {
            arm_hook(lua, &run);
            self.hook_armed = true;
        }

        RESP3.set(Some(false));
        let user = ctx.client.user.current(&server.acl).clone();
        USER.with(|u| *u.borrow_mut() = Some(user));
        let mut st = RunState {
            ctx,
            scratch: &mut self.scratch,
            read_only,
            db: None,
        };
        let mut entry = |lua: &Lua, args: MultiValue, protected: bool| {
            uncapped(lua, || match call_command(lua, &mut st, args)? {
                Ok(v) => Ok(v),
                Err(r) if protected => Ok(Value::Table(raised_table(lua, &r)?)),
                Err(r) => Err(mlua::Error::external(r)),
            })
        };
        let runner = match mode {
            Mode::Eval => &self.run_fn,
            Mode::Function => &self.run_function,
        };
        let result = super::current::lend(&mut entry, || {
            capped(lua, || {
                runner.call::<(bool, Value)>((f, &self.handler, keys, args))
            })
        });
        if result.is_err() {
            // The runner itself failed half way: what it set may stay.
            let _ = self.globals.raw_set("KEYS", Value::Nil);
            let _ = self.globals.raw_set("ARGV", Value::Nil);
        }
        if run.killed.load(SeqCst) {
            // The kill left its every-instruction hook behind.
            self.hook_armed = false;
        }
        if lua.used_memory() > LUA_MEMORY_LIMIT / 2 {
            // A script that ran into the cap (or near it) leaves its
            // garbage behind; the next run must not start out of memory.
            let _ = lua.gc_collect();
        }
        run.end();
        let resp3 = RESP3.replace(None).unwrap_or(false);
        USER.with(|u| u.borrow_mut().take());
        let ctx = st.ctx;
        match result {
            Ok((true, v)) => {
                // Like Redis's call(): a reply holding errors makes a failed
                // call of the script's command.
                let stats = ctx.stats;
                let mut failed = false;
                convert::lua_to_reply(&v, ctx.out, resp3, &mut |e, counted| {
                    if !counted {
                        stats.count_error(e);
                    }
                    failed = true;
                });
                if failed {
                    stats.per_command[cmd::index_of(ctx.cmd)]
                        .failed
                        .fetch_add(1, Relaxed);
                }
                Ok(())
            }
            Ok((false, Value::Table(t))) => Err(script_error(&t, name)),
            Ok((false, Value::Error(e))) if e.downcast_ref::<Raised>().is_some() => {
                Err(killed_error(&e, name, &run, eval))
            }
            Err(e) if e.downcast_ref::<Raised>().is_some() => {
                Err(killed_error(&e, name, &run, eval))
            }
            Ok((false, other)) => Err(running_error(name, &error_value_text(&other))),
            Err(e) => Err(running_error(name, &lua_error_message(&e))),
        }
    }

    /// Runs a library's code (FUNCTION LOAD, the code after its shebang
    /// line) in the loading environment and gives what it registered.
    /// The error is the reply's text.
    pub fn load_library(&mut self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let f = self
            .lua
            .load(code)
            .set_name("@user_function")
            .set_environment(self.fenv.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_message(&e)))?;
        let started = std::time::Instant::now();
        let _ = self.lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |lua, _| {
                if started.elapsed().as_millis() as u64 <= LOAD_TIMEOUT_MS {
                    return Ok(VmState::Continue);
                }
                let _ = lua
                    .set_global_hook(HookTriggers::new().every_nth_instruction(1), |_, _| {
                        Err(raise(b"ERR FUNCTION LOAD timeout", false))
                    });
                Err(raise(b"ERR FUNCTION LOAD timeout", false))
            },
        );
        // The scripts' hook comes back before the next run.
        self.hook_armed = false;
        let found = RefCell::new(Vec::new());
        let _ = self.loading.call::<()>(true);
        let result = self.lua.scope(|scope| {
            let register = scope.create_function(|lua, args: MultiValue| {
                register_function(lua, &mut found.borrow_mut(), args)
            })?;
            self.load_redis.raw_set("register_function", register)?;
            capped(&self.lua, || {
                self.load_fn.call::<(bool, Value)>((f, &self.handler))
            })
        });
        let _ = self
            .load_redis
            .raw_set("register_function", &self.no_register);
        let _ = self.loading.call::<()>(false);
        let _ = self
            .lua
            .set_global_hook(HookTriggers::new(), |_, _| Ok(VmState::Continue));
        let failed = |what: String| Err(format!("Error registering functions: {what}"));
        match result {
            Ok((true, _)) => Ok(found.into_inner()),
            Ok((false, Value::Table(t))) => {
                let err: Option<mlua::LuaString> = t.raw_get("err").ok();
                failed(err.map(|e| e.to_string_lossy()).unwrap_or_default())
            }
            Ok((false, other)) => failed(error_value_text(&other)),
            Err(e) => match e.downcast_ref::<Raised>() {
                Some(r) => failed(String::from_utf8_lossy(&r.err).into_owned()),
                None => failed(lua_error_message(&e)),
            },
        }
    }

    /// Lua's collector, as Redis runs it every LUA_GC_CYCLE_PERIOD
    /// scripts (the sandbox's `gc_step`: one call into Lua, where
    /// mlua's basic step would take fifty).
    pub fn gc_step(&self) {
        let _ = self.gc_fn.call::<bool>(());
    }
}

/// Redis's `functionsVerifyName`: letters, digits and underscores.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// redis.register_function(name, callback) or
/// redis.register_function{function_name=..., callback=..., flags=...,
/// description=...}, while a library loads.
fn register_function(lua: &Lua, found: &mut Vec<Registered>, args: MultiValue) -> mlua::Result<()> {
    let fail = |m: &str| -> mlua::Result<()> { Err(raise(format!("ERR {m}").as_bytes(), false)) };
    let text = |v: &Value| -> Option<Vec<u8>> {
        match v {
            Value::String(_) | Value::Integer(_) | Value::Number(_) => lua
                .coerce_string(v.clone())
                .ok()
                .flatten()
                .map(|s| s.as_bytes().to_vec()),
            _ => None,
        }
    };
    let args: Vec<Value> = args.into_iter().collect();
    let (name, description, flags, callback) = match args.as_slice() {
        [Value::Table(t)] => {
            let (mut name, mut description, mut flags, mut callback) = (None, None, 0, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Some(key) = text(&k) else {
                    return fail("named argument key given to redis.register_function is not a string");
                };
                match key.to_ascii_lowercase().as_slice() {
                    b"function_name" => match text(&v) {
                        Some(n) => name = Some(n),
                        None => {
                            return fail("function_name argument given to redis.register_function must be a string")
                        }
                    },
                    b"description" => match text(&v) {
                        Some(d) => description = Some(d),
                        None => {
                            return fail("description argument given to redis.register_function must be a string")
                        }
                    },
                    b"callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return fail("callback argument given to redis.register_function must be a function")
                        }
                    },
                    b"flags" => {
                        let Value::Table(list) = v else {
                            return fail("flags argument to redis.register_function must be a table representing function flags");
                        };
                        for item in list.sequence_values::<Value>() {
                            let found_flag = match item? {
                                Value::String(s) => super::flag::NAMES.iter().find(|(n, _)| {
                                    n.as_bytes().eq_ignore_ascii_case(&s.as_bytes())
                                }),
                                _ => None,
                            };
                            match found_flag {
                                Some((_, bit)) => flags |= bit,
                                None => return fail("unknown flag given"),
                            }
                        }
                    }
                    _ => return fail("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail("redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return fail("redis.register_function must get a callback argument");
            };
            (name, description, flags, callback)
        }
        [_] => {
            return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
        }
        [n, f] => {
            let Some(name) = text(n) else {
                return fail("first argument to redis.register_function must be a string");
            };
            let Value::Function(callback) = f else {
                return fail("second argument to redis.register_function must be a function");
            };
            (name, None, 0, callback.clone())
        }
        _ => return fail("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    if found.iter().any(|r| r.name == name) {
        return fail("Function already exists in the library");
    }
    found.push(Registered {
        name,
        description,
        flags,
        callback,
    });
    Ok(())
}

/// Redis's reply for a script that failed with something other than an
/// error table.
fn running_error(name: &[u8], what: &str) -> Error {
    Error::Owned(
        format!(
            "ERR Error running script {}, {what:.100} ",
            String::from_utf8_lossy(name)
        )
        .into_bytes(),
    )
}

/// The `{err=...}` table of an error raised from Rust.
fn raised_table(lua: &Lua, r: &Raised) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&r.err)?)?;
    if r.counted {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(t)
}

/// A Rust error raised again outside the message handler (SCRIPT KILL
/// raises at every instruction): worded as the handler would have, at the
/// line the kill stopped.
fn killed_error(e: &mlua::Error, name: &[u8], run: &Run, eval: bool) -> Error {
    let mut msg = e
        .downcast_ref::<Raised>()
        .map(|r| r.err.clone())
        .unwrap_or_default();
    msg.extend_from_slice(b" script: ");
    msg.extend_from_slice(name);
    msg.extend_from_slice(if eval {
        b", on @user_script:"
    } else {
        b", on @user_function:"
    });
    msg.extend_from_slice(run.killed_at.load(SeqCst).to_string().as_bytes());
    msg.push(b'.');
    Error::Owned(msg)
}

fn redis_version_num() -> i64 {
    let mut parts = crate::config::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// The error reply of a script that failed with an error table (Redis's
/// `luaCallFunction`): its text, then where it was raised.
fn script_error(t: &Table, name: &[u8]) -> Error {
    let text = |name: &str| -> Option<Vec<u8>> {
        match t.raw_get::<Value>(name).ok()? {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Integer(i) => Some(i.to_string().into_bytes()),
            Value::Number(n) => Some(convert::truncate(n).to_string().into_bytes()),
            _ => None,
        }
    };
    let counted = matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    );
    let mut msg = text("err").unwrap_or_default();
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
        msg.extend_from_slice(b" script: ");
        msg.extend_from_slice(name);
        msg.extend_from_slice(b", on ");
        msg.extend_from_slice(&source);
        msg.push(b':');
        msg.extend_from_slice(&line);
        msg.push(b'.');
    }
    if counted {
        Error::Counted(msg)
    } else {
        Error::Owned(msg)
    }
}

/// The message of an mlua error as Lua would have put it.
fn lua_error_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        // mlua appends Lua's traceback to errors it caught; Redis's texts
        // have none.
        mlua::Error::RuntimeError(m) => m
            .split_once("\nstack traceback:")
            .map_or(m.as_str(), |(head, _)| head)
            .to_owned(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_message(cause),
        other => other.to_string(),
    }
}

/// The text of an error value that is not an error table.
fn error_value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) if e.downcast_ref::<Raised>().is_some() => e
            .downcast_ref::<Raised>()
            .map(|r| String::from_utf8_lossy(&r.err).into_owned())
            .unwrap_or_default(),
        Value::Error(e) => {
            let m = lua_error_message(e);
            m.strip_prefix("ERR ").map(str::to_owned).unwrap_or(m)
        }
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => {
            let mut out = Vec::new();
            resp::num::write_g(&mut out, *n, 14);
            String::from_utf8_lossy(&out).into_owned()
        }
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()),
    }
}

/// The message handler every script runs under: the error as a table
/// `{err=...}` with the source and line of the script code that raised
/// it (the first Lua frame that is neither C nor the sandbox's own).
fn error_handler(lua: &Lua, e: Value) -> mlua::Result<Value> {
    let t = match e {
        Value::Table(t) => t,
        Value::Error(ref err) if err.downcast_ref::<Raised>().is_some() => {
            raised_table(lua, err.downcast_ref::<Raised>().expect("checked"))?
        }
        Value::Error(ref err) => {
            // As luaL_error words it: where the calling script code is.
            let t = lua.create_table()?;
            let place = user_frame(lua)
                .and_then(|(src, line)| Some(format!("{}:{}: ", src?.strip_prefix('@')?, line?)))
                .unwrap_or_default();
            t.raw_set("err", format!("ERR {place}{}", lua_error_message(err)))?;
            t
        }
        other => {
            let t = lua.create_table()?;
            let text = lua
                .coerce_string(other.clone())?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_else(|| error_value_text(&other).into_bytes());
            let mut m = b"ERR ".to_vec();
            m.extend_from_slice(&text);
            t.raw_set("err", lua.create_string(m)?)?;
            t
        }
    };
    if let Some((source, line)) = user_frame(lua) {
        if let Some(source) = source {
            t.raw_set("source", source)?;
        }
        if let Some(line) = line {
            t.raw_set("line", line)?;
        }
    }
    Ok(Value::Table(t))
}

/// The innermost frame of script code (not C, not the sandbox's own):
/// its source and current line.
fn user_frame(lua: &Lua) -> Option<(Option<String>, Option<usize>)> {
    for level in 1..64 {
        let found = lua.inspect_stack(level, |d| {
            let s = d.source();
            if s.what == "C" || s.source.as_deref() == Some(INTERNAL_CHUNK) {
                None
            } else {
                Some((s.source.map(|s| s.into_owned()), d.current_line()))
            }
        })?;
        if found.is_some() {
            return found;
        }
    }
    None
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The count hook, set once per Lua state (and again after a kill): past
/// the run's threshold the server answers others -BUSY; once killed,
/// every instruction raises, so pcall cannot hold it off.
fn arm_hook(lua: &Lua, run: &Arc<Run>) {
    let run = run.clone();
    let _ = lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, debug| {
            if run.killed.load(SeqCst) {
                let at = run.clone();
                note_line(&at, debug);
                let _ = lua.set_global_hook(
                    HookTriggers::new().every_nth_instruction(1),
                    move |_, debug| {
                        note_line(&at, debug);
                        Err(raise(KILLED.as_bytes(), false))
                    },
                );
                return Err(raise(KILLED.as_bytes(), false));
            }
            let threshold = run.threshold.load(SeqCst);
            if threshold > 0 && run.running.load(SeqCst) && !run.busy.load(SeqCst) {
                let elapsed = now_ms().saturating_sub(run.started.load(SeqCst));
                if elapsed >= threshold {
                    tracing::warn!(
                        "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the SCRIPT KILL command."
                    );
                    run.busy.store(true, SeqCst);
                }
            }
            Ok(VmState::Continue)
        },
    );
}

/// Keeps the line of script code a kill stops at (not the sandbox's).
fn note_line(run: &Run, debug: &mlua::debug::Debug) {
    if matches!(
        debug.source().source.as_deref(),
        Some("@user_script" | "@user_function")
    ) {
        run.killed_at
            .store(debug.current_line().unwrap_or(0), SeqCst);
    }
}

/// What the running script's calls into Redis work with.
struct RunState<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a, 'k>,
    /// The buffers each call reuses.
    scratch: &'c mut Scratch,
    /// EVAL_RO, or a `no-writes` script.
    read_only: bool,
    /// The database the script selected (its own SELECT does not change
    /// the caller's).
    db: Option<usize>,
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// What a script's calls reuse, kept with the engine: the command line
/// and the reply buffer (two allocations a call otherwise).
#[derive(Default)]
pub struct Scratch {
    line: Line,
    reply: Reply,
}

/// A command line's bytes and its arguments' ranges in them.
#[derive(Default)]
struct Line {
    buf: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
}

/// Redis's `luaArgsToRedisArgv`: strings as they are, numbers as
/// `%.17g`, anything else refused. Fills `line` (emptied first).
fn to_argv<'v>(
    args: impl ExactSizeIterator<Item = &'v Value>,
    line: &mut Line,
) -> Result<(), &'static str> {
    if args.len() == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    line.buf.clear();
    line.ranges.clear();
    for a in args {
        let at = line.buf.len();
        match a {
            Value::String(s) => line.buf.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => resp::num::write_g(&mut line.buf, *i as f64, 17),
            Value::Number(n) => resp::num::write_g(&mut line.buf, *n, 17),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
        line.ranges.push(at..line.buf.len());
    }
    Ok(())
}

/// redis.call / redis.pcall (Redis's `scriptCall`): the command's reply
/// as a Lua value, or the error that redis.call raises and redis.pcall
/// returns.
fn call_command(
    lua: &Lua,
    st: &mut RunState,
    args: MultiValue,
) -> mlua::Result<Result<Value, Raised>> {
    let refuse = |msg: &str, counted: bool| {
        Ok(Err(Raised {
            err: format!("ERR {msg}").into_bytes(),
            counted,
        }))
    };
    let scratch = &mut *st.scratch;
    if let Err(m) = to_argv(args.iter(), &mut scratch.line) {
        return refuse(m, false);
    }
    let argv = Argv::new(&scratch.line.buf, &scratch.line.ranges);
    let ctx = &mut *st.ctx;
    let server = ctx.server;
    // A command refused here is counted as Redis's scriptCall counts it:
    // in the error statistics at once (and the command's rejected calls),
    // so the script's own reply of it is not counted again.
    let refused = |index: Option<usize>, msg: &str| {
        let err = if msg.starts_with("OOM ") || msg.starts_with("NOREPLICAS ") {
            msg.as_bytes().to_vec()
        } else {
            format!("ERR {msg}").into_bytes()
        };
        ctx.stats.count_error(&err);
        if let Some(i) = index {
            ctx.stats.per_command[i].rejected.fetch_add(1, Relaxed);
        }
        Ok(Err(Raised { err, counted: true }))
    };
    let Some((command, index)) = cmd::resolve(argv) else {
        return refused(None, "Unknown Redis command called from script");
    };
    let argc = argv.len() as i32;
    if (command.arity > 0 && argc != command.arity) || argc < -command.arity {
        return refused(
            Some(index),
            "Wrong number of args calling Redis command from script",
        );
    }
    if command.flags & flags::NOSCRIPT != 0 && !super::DISABLE_DENY_SCRIPTS.load(Relaxed) {
        return refused(Some(index), "This Redis command is not allowed from script");
    }
    // The caller's permissions apply to every call (Redis's
    // scriptVerifyACL).
    let denied = ctx
        .client
        .user
        .current(&server.acl)
        .check(command, index, argv);
    if let Err(d) = denied {
        let context = crate::acl::log::Context::Lua;
        crate::acl::log_denied(server, ctx.client, d, context, command, argv);
        return refused(Some(index), crate::acl::denied_script_text(d));
    }
    if st.read_only && command.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 {
        return refused(
            Some(index),
            "Write commands are not allowed from read-only scripts.",
        );
    }
    if command.flags & flags::WRITE != 0 && server.hot.not_enough_replicas() {
        return refused(Some(index), crate::errors::NOREPLICAS);
    }
    // Redis's scriptVerifyOOM: over maxmemory when the script started
    // (and it has no allow-oom flag), a command that may grow memory is
    // refused unless the script has written already (it cannot stop
    // half-way).
    if ctx.client.oom
        && command.flags & flags::DENYOOM != 0
        && !server.scripts.run.wrote.load(SeqCst)
    {
        return refused(Some(index), crate::errors::OOM);
    }
    if command.flags & flags::WRITE != 0 {
        server.scripts.run.wrote.store(true, SeqCst);
    }
    ctx.keys.ensure_for(command, argv);
    let out = &mut scratch.reply;
    out.clear();
    out.set_resp3(RESP3.get().unwrap_or(false));
    let caller_db = ctx.client.db;
    ctx.client.db = st.db.unwrap_or(ctx.db);
    super::as_script_call(|| {
        cmd::call(
            server, ctx.stats, ctx.client, out, command, index, argv, ctx.now.ms, ctx.keys, ctx.fx,
            true,
        )
    });
    st.db = Some(ctx.client.db);
    ctx.client.db = caller_db;
    let bytes = out.contiguous();
    let result = if let Some(line) = bytes.strip_prefix(b"-") {
        // The command counted its error already.
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        Err(Raised {
            err: convert::error_text(line),
            counted: true,
        })
    } else {
        Ok(convert::reply_to_lua(lua, &bytes)?)
    };
    drop(bytes);
    if out.len() > 1 << 16 {
        // A big reply does not keep its buffer for the calls after it.
        *out = Reply::new();
    }
    Ok(result)
}
