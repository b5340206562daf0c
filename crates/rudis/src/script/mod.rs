//! Lua scripting: the script cache, the state of the running script, and
//! the script thread that runs every script.
//!
//! Scripts run on one thread of their own, one at a time, as Redis runs
//! them: a connection whose next command is a script (EVAL, EVALSHA,
//! SCRIPT LOAD, or an EXEC that queued one) hands that command to the
//! script thread and waits, while its event-loop thread goes on serving
//! its other connections. That is what lets every other client get
//! `-BUSY` while a script runs long, and run SCRIPT KILL, whatever thread
//! it is on; the Lua state lives on that one thread and never moves.
//!
//! A script locks the shards of the keys it declares before it starts,
//! and the shard of any other key the moment it touches it
//! (`cmd::Locked::ensure_for`), keeping every lock to its end: nothing
//! else sees the keyspace half way through a script. Commands on shards
//! the script has not touched run on in parallel.

mod bit;
mod cjson;
mod cmsgpack;
pub mod convert;
mod current;
pub mod engine;
pub mod functions;
mod luaarg;
mod structlib;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;
use resp::Reply;

use crate::client::Client;
use crate::server::Server;

/// Shebang flags (`#!lua flags=...`), as Redis's `SCRIPT_FLAG_*`.
pub mod flag {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// No shebang: the script runs as before 7.0 (Redis's
    /// SCRIPT_FLAG_EVAL_COMPAT_MODE).
    pub const EVAL_COMPAT: u32 = 1 << 4;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

    pub const NAMES: [(&str, u32); 5] = [
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];
}

/// A cached script: its source and its shebang flags.
pub struct Script {
    pub body: Vec<u8>,
    pub flags: u32,
}

/// The scripts loaded (SCRIPT LOAD, EVAL) and what runs now.
pub struct Scripts {
    cache: Mutex<HashMap<[u8; 40], Arc<Script>, ahash::RandomState>>,
    /// Bytes of the cached sources (INFO used_memory_scripts_eval).
    cache_bytes: AtomicUsize,
    /// Bumped by SCRIPT FLUSH: the script thread then starts a new Lua
    /// state, as Redis does.
    pub generation: AtomicU64,
    pub run: Arc<Run>,
    /// The Lua state's memory (INFO used_memory_lua), kept by the script
    /// thread.
    pub lua_memory: AtomicUsize,
    /// The loaded libraries (FUNCTION LOAD).
    pub libraries: Mutex<functions::Libraries>,
    /// Bumped by FUNCTION FLUSH: the functions' Lua state is made anew.
    pub function_generation: AtomicU64,
    /// The functions' Lua state's memory (INFO used_memory_vm_functions).
    pub functions_memory: AtomicUsize,
    /// Scripts run so far (the collector steps every so many).
    pub runs: AtomicU64,
    queue: Queue,
}

/// The script thread's jobs. A plain queue and a park flag, not a
/// channel: std's mpsc channel took four or five futex calls a job (its
/// waker's lock is contended between the two threads); here a job costs
/// one wake-up, and only when the script thread sleeps.
#[derive(Default)]
struct Queue {
    jobs: Mutex<std::collections::VecDeque<Job>>,
    sleeping: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Queue {
    fn push(&self, job: Job) {
        self.jobs.lock().push_back(job);
        if self.sleeping.load(SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    /// Moves every job queued into `batch`, waiting for one when there
    /// is none (both buffers stay: no allocation per job).
    fn take(&self, batch: &mut std::collections::VecDeque<Job>) {
        loop {
            let mut jobs = self.jobs.lock();
            if !jobs.is_empty() {
                batch.append(&mut jobs);
                return;
            }
            drop(jobs);
            // Said before looking again, so a push that comes after the
            // look sees it and wakes this thread.
            self.sleeping.store(true, SeqCst);
            if self.jobs.lock().is_empty() {
                std::thread::park();
            }
            self.sleeping.store(false, SeqCst);
        }
    }
}

/// A running function's name and command line.
pub type RunningFunction = (Vec<u8>, Vec<Vec<u8>>);

/// The running script, seen from every thread.
#[derive(Default)]
pub struct Run {
    pub running: AtomicBool,
    /// EVAL rather than FCALL (which KILL applies, which BUSY text).
    pub eval: AtomicBool,
    /// It has written: SCRIPT KILL refuses.
    pub wrote: AtomicBool,
    pub killed: AtomicBool,
    /// The running function's name and command line (FUNCTION STATS).
    pub function: Mutex<Option<RunningFunction>>,
    /// The line it was running when SCRIPT KILL ended it.
    pub killed_at: AtomicUsize,
    /// When it started (Unix ms).
    pub started: AtomicU64,
    /// `busy-reply-threshold` when it started.
    pub threshold: AtomicU64,
    /// Past `busy-reply-threshold`: the store's gate flag, so lock
    /// waiters see it too.
    pub busy: Arc<AtomicBool>,
}

impl Run {
    pub fn begin(&self, eval: bool, threshold: u64) {
        self.eval.store(eval, SeqCst);
        self.wrote.store(false, SeqCst);
        self.killed.store(false, SeqCst);
        self.threshold.store(threshold, SeqCst);
        self.started.store(engine::now_ms(), SeqCst);
        self.running.store(true, SeqCst);
    }

    pub fn end(&self) {
        self.running.store(false, SeqCst);
        self.killed.store(false, SeqCst);
        self.busy.store(false, SeqCst);
    }
}

impl Scripts {
    pub fn new(busy: Arc<AtomicBool>) -> Scripts {
        Scripts {
            cache: Default::default(),
            cache_bytes: Default::default(),
            generation: Default::default(),
            run: Arc::new(Run {
                busy,
                ..Default::default()
            }),
            lua_memory: Default::default(),
            runs: Default::default(),
            libraries: Default::default(),
            function_generation: Default::default(),
            functions_memory: Default::default(),
            queue: Default::default(),
        }
    }

    pub fn get(&self, sha: &[u8; 40]) -> Option<Arc<Script>> {
        self.cache.lock().get(sha).cloned()
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        let Ok(sha) = <[u8; 40]>::try_from(sha) else {
            return false;
        };
        self.cache
            .lock()
            .contains_key(&sha.map(|b| b.to_ascii_lowercase()))
    }

    pub fn insert(&self, sha: [u8; 40], script: Script) -> Arc<Script> {
        let mut cache = self.cache.lock();
        if let Some(s) = cache.get(&sha) {
            return s.clone();
        }
        self.cache_bytes.fetch_add(script.body.len() + 40, SeqCst);
        let s = Arc::new(script);
        cache.insert(sha, s.clone());
        s
    }

    /// Every loaded library's code (FUNCTION LOAD's argument).
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        let libs = self.libraries.lock();
        libs.libs.values().map(|l| l.code.clone()).collect()
    }

    pub fn count(&self) -> usize {
        self.cache.lock().len()
    }

    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes.load(SeqCst)
    }

    /// SCRIPT FLUSH: forgets every script; the Lua state is replaced
    /// before the next one runs.
    pub fn flush(&self) {
        let old = std::mem::take(&mut *self.cache.lock());
        self.cache_bytes.store(0, SeqCst);
        self.generation.fetch_add(1, SeqCst);
        drop(old);
    }

    /// Whether a script is past `busy-reply-threshold` (other clients get
    /// -BUSY), and which text they get.
    pub fn busy_error(&self) -> Option<&'static str> {
        if !self.run.busy.load(SeqCst) {
            return None;
        }
        Some(if self.run.eval.load(SeqCst) {
            crate::errors::BUSY_EVAL
        } else {
            crate::errors::BUSY_FUNCTION
        })
    }
}

/// A command line for the script thread, with what it runs on: the
/// connection's client state and output, moved there and back.
pub struct Work {
    pub client: Client,
    pub out: Reply,
    /// The bytes of the command lines, one after the other.
    pub line: Bytes,
    /// Their arguments' ranges in `line`, all the lines' in turn...
    pub ranges: Vec<Range<usize>>,
    /// ...this many for each line.
    pub commands: Vec<usize>,
    pub now: u64,
}

struct Job {
    work: Work,
    done: tokio::sync::oneshot::Sender<Work>,
}

/// Runs one command line on the script thread; gives back the client and
/// the output with the reply added.
pub async fn run_on_script_thread(server: &Server, work: Work) -> Work {
    let (done, back) = tokio::sync::oneshot::channel();
    server.scripts.queue.push(Job { work, done });
    // The script thread always answers: it ends a script that runs on
    // (SCRIPT KILL, SHUTDOWN) and never drops a job.
    back.await
        .expect("the script thread answers every command it is given")
}

/// Starts the script thread.
pub fn start(server: Arc<Server>) -> std::io::Result<()> {
    // The thread lives as long as the process.
    std::thread::Builder::new()
        .name("rudis-script".into())
        // Room for Lua's and the libraries' recursion, bounded as they are.
        .stack_size(64 << 20)
        .spawn({
            let server = server.clone();
            move || {
                // Known before this thread first sleeps, so whoever sees
                // it sleeping can wake it.
                let _ = server.scripts.queue.thread.set(std::thread::current());
                let stats = server.register_worker();
                let mut batch = std::collections::VecDeque::new();
                loop {
                    server.scripts.queue.take(&mut batch);
                    while let Some(Job { mut work, done }) = batch.pop_front() {
                        let mut at = 0;
                        for &argc in &work.commands {
                            let argv =
                                crate::cmd::Argv::new(&work.line, &work.ranges[at..at + argc]);
                            at += argc;
                            let mark = work.out.len();
                            crate::cmd::execute(
                                &server,
                                &stats,
                                &mut work.client,
                                &mut work.out,
                                argv,
                                work.now,
                                true,
                            );
                            crate::net::conn::apply_reply_mode(
                                &mut work.client,
                                &mut work.out,
                                mark,
                            );
                            if work.client.close_after_reply {
                                break;
                            }
                        }
                        let _ = done.send(work);
                    }
                }
            }
        })?;
    Ok(())
}

thread_local! {
    /// A script's `redis.call` is running a command on this thread.
    static CALLING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the command running on this thread was called by a script
/// (Redis's CLIENT_SCRIPT on the caller).
/// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call `noscript` commands
/// (Redis's script_disable_deny_script, for tests).
pub static DISABLE_DENY_SCRIPTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub fn calling() -> bool {
    CALLING.with(|c| c.get())
}

/// Runs `f` as a script's call (see `calling`).
pub fn as_script_call<R>(f: impl FnOnce() -> R) -> R {
    CALLING.with(|c| c.set(true));
    let r = f();
    CALLING.with(|c| c.set(false));
    r
}

/// Whether a checked command must run on the script thread: a script,
/// or a transaction that queued one.
pub fn needs_script_thread(cmd: &crate::cmd::Command, client: &Client) -> bool {
    use crate::cmd::flags::SCRIPT_THREAD;
    if cmd.flags & SCRIPT_THREAD != 0 {
        return true;
    }
    cmd.name == "exec"
        && client
            .multi
            .as_ref()
            .is_some_and(|m| m.iter().any(|(c, _)| c.flags & SCRIPT_THREAD != 0))
}

/// The shebang flags of the script an EVAL, EVALSHA or FCALL line (and
/// their _RO forms) would run, as Redis's `evalGetCommandFlags` and
/// `fcallGetCommandFlags` find them before the call; `None` for other
/// commands and unknown scripts.
pub fn flags_of(server: &Server, cmd: &crate::cmd::Command, argv: crate::cmd::Argv) -> Option<u32> {
    let arg = argv.get(1)?;
    match cmd.name {
        "eval" | "eval_ro" => shebang(arg).ok().map(|(f, _)| f),
        "evalsha" | "evalsha_ro" => {
            let sha: [u8; 40] = arg.try_into().ok()?;
            server
                .scripts
                .get(&sha.map(|b| b.to_ascii_lowercase()))
                .map(|s| s.flags)
        }
        "fcall" | "fcall_ro" => server
            .scripts
            .libraries
            .lock()
            .function(arg)
            .map(|f| f.flags),
        _ => None,
    }
}

/// What a script's declared flags say of writing: `None` for a command
/// that is no script, or a script without a shebang (judged by its
/// command's own flags, Redis's eval compatibility mode).
fn declares_writes(
    server: &Server,
    cmd: &crate::cmd::Command,
    argv: crate::cmd::Argv,
) -> Option<bool> {
    match flags_of(server, cmd, argv) {
        Some(f) if f & flag::EVAL_COMPAT == 0 => Some(f & flag::NO_WRITES == 0),
        _ => None,
    }
}

/// Whether a command line writes, or may (a pause on writes holds it):
/// a write or may-replicate command, or a script whose shebang does not
/// say `no-writes` (Redis's `scriptFlagsToCmdFlags`).
pub fn may_write(server: &Server, cmd: &crate::cmd::Command, argv: crate::cmd::Argv) -> bool {
    use crate::cmd::flags::{MAY_REPLICATE, WRITE};
    declares_writes(server, cmd, argv).unwrap_or(cmd.flags & (WRITE | MAY_REPLICATE) != 0)
}

/// Whether a command line is a write in Redis's `getCommandFlags` sense
/// (what min-replicas-to-write refuses): a write command, or a script
/// whose shebang does not say `no-writes`.
pub fn writes(server: &Server, cmd: &crate::cmd::Command, argv: crate::cmd::Argv) -> bool {
    declares_writes(server, cmd, argv).unwrap_or(cmd.flags & crate::cmd::flags::WRITE != 0)
}

/// Whether a script with these shebang flags may grow memory (Redis's
/// `scriptFlagsToCmdFlags`): one that declared flags without `allow-oom`
/// or `no-writes`. Scripts without a shebang are checked command by
/// command instead.
pub fn denies_oom(flags: u32) -> bool {
    flags & flag::EVAL_COMPAT == 0 && flags & (flag::ALLOW_OOM | flag::NO_WRITES) == 0
}

/// Redis's `evalExtractShebangFlags`: the flags of a `#!lua` first line
/// and where the code after it starts (the line feed is kept, so line
/// numbers stay the user's).
pub fn shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((flag::EVAL_COMPAT, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(engine) = parts.first() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for p in &parts[1..] {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(',') {
            match flag::NAMES.iter().find(|(n, _)| *n == f) {
                Some((_, bit)) => flags |= bit,
                None => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}

/// SHA1 of a script, as 40 lower-case hex digits.
pub fn sha1_hex(body: &[u8]) -> [u8; 40] {
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Feeds `data` to the decoders of the Lua libraries scripts get
/// (cjson.decode, cmsgpack.unpack, struct.unpack with a format taken from
/// the data up to its first NUL, bit.tohex), and what they decode back to
/// the encoders: errors are expected, a panic or a crash is a bug. For
/// `fuzz/` (cargo fuzz run lua_libs) and the tests that feed garbage.
pub fn exercise_lua_libs(data: &[u8]) {
    use mlua::{Function, Lua, Table, Value};
    let lua = Lua::new();
    let call = |lib: &Table, name: &str, args: mlua::MultiValue| -> Option<mlua::MultiValue> {
        let f: Function = lib.get(name).ok()?;
        f.call(args).ok()
    };
    let Ok(s) = lua.create_string(data) else {
        return;
    };
    let one = |v: Value| mlua::MultiValue::from_iter([v]);
    if let Ok(cjson) = cjson::open(&lua) {
        if let Some(decoded) = call(&cjson, "decode", one(Value::String(s.clone()))) {
            call(&cjson, "encode", decoded);
        }
    }
    if let Ok(mp) = cmsgpack::open(&lua) {
        if let Some(decoded) = call(&mp, "unpack", one(Value::String(s.clone()))) {
            call(&mp, "pack", decoded);
        }
    }
    if let Ok(st) = structlib::open(&lua) {
        let cut = memchr::memchr(0, data).unwrap_or(data.len());
        let (fmt, rest) = (&data[..cut], data.get(cut + 1..).unwrap_or_default());
        if let (Ok(f), Ok(r)) = (lua.create_string(fmt), lua.create_string(rest)) {
            if let Some(values) = call(
                &st,
                "unpack",
                mlua::MultiValue::from_iter([Value::String(f.clone()), Value::String(r)]),
            ) {
                let mut args: Vec<Value> = vec![Value::String(f.clone())];
                // unpack returns the values then the next position.
                let n = values.len().saturating_sub(1);
                args.extend(values.into_iter().take(n));
                call(&st, "pack", mlua::MultiValue::from_iter(args));
            }
            call(&st, "size", one(Value::String(f)));
        }
    }
    if let Ok(bit) = bit::open(&lua) {
        let n = data
            .iter()
            .fold(0i64, |v, &b| v.wrapping_mul(31).wrapping_add(b as i64));
        call(
            &bit,
            "tohex",
            mlua::MultiValue::from_iter([Value::Integer(n), Value::Integer(n % 20)]),
        );
    }
}

#[cfg(test)]
mod garbage_tests {
    use rand::{Rng, SeedableRng};

    /// Random bytes and mutations of valid encodings through every
    /// decoder: nothing panics.
    #[test]
    fn the_lua_libraries_take_garbage() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let seeds: [&[u8]; 6] = [
            b"{\"a\":[1,2.5,\"x\",null,true,{\"b\":{}}]}",
            b"[[[[[[[[[[1]]]]]]]]]]",
            b"\x93\x01\xa1a\x81\xa1k\xc3",
            b"\xdc\x00\x03\x01\x02\x03\xcb@\t!\xfbTD-\x18",
            b"<i4>h!8Bc0s\x00\x01\x02\x03\x04\x05\x06\x07\x08",
            b"i10\x00aaaaaaaaaaaaaaaaaaaa",
        ];
        for round in 0..3000 {
            let mut data = if round % 2 == 0 {
                (0..rng.gen_range(0..64))
                    .map(|_| rng.gen())
                    .collect::<Vec<u8>>()
            } else {
                seeds[round % seeds.len()].to_vec()
            };
            for _ in 0..rng.gen_range(0..4) {
                if data.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..data.len());
                match rng.gen_range(0..3) {
                    0 => data[i] = rng.gen(),
                    1 => {
                        data.remove(i);
                    }
                    _ => data.insert(i, rng.gen()),
                }
            }
            super::exercise_lua_libs(&data);
        }
    }
}
