//! Snapshots of the dataset in an RDB file (`dbfilename` in `dir`, the
//! working directory, which Redis's `dir` changes too): SAVE, SHUTDOWN
//! SAVE and DEBUG RELOAD write one, the server loads it at start and
//! DEBUG RELOAD loads it back (Redis's `rdbSave` and `rdbLoad`). The file
//! is written to `temp-<pid>.rdb` and renamed over the old one only once
//! complete and synced, so a failed save never leaves a partial file.
//!
//! BGSAVE and the `save` points write the file from a forked child
//! (`crate::fork`), as Redis does; the expiry thread's cron reaps it and
//! starts the saves the points call for.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

use crate::db::{self, Blob, Clock, Entry, Shard};
use crate::rdb::file::{self, KeyMeta, LoadError, LoadedKey};
use crate::server::Server;

/// What INFO persistence and LASTSAVE show.
pub struct Persist {
    /// Unix seconds of the last successful save (the start time before).
    pub last_save: AtomicU64,
    /// The dirty counter's total when the dataset was last saved or
    /// loaded: changes since then are `rdb_changes_since_last_save`.
    pub dirty_at_save: AtomicU64,
    /// Whether the last background save worked (`rdb_last_bgsave_status`;
    /// no BGSAVE yet, so a successful SAVE is all that sets it).
    pub last_ok: AtomicBool,
    pub saves: AtomicU64,
    pub loaded_keys: AtomicU64,
    pub expired_on_load: AtomicU64,
    child: Mutex<Option<Child>>,
    /// Seconds the last background save took (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Unix seconds of the last background save started (or tried).
    last_try: AtomicU64,
    /// BGSAVE SCHEDULE or a BGSAVE in a transaction: the cron starts it.
    scheduled: AtomicBool,
}

/// A running background save.
struct Child {
    pid: i32,
    started: Instant,
    /// The dirty counter at the fork: what the file holds.
    dirty_at_fork: u64,
}

/// Whether `save` has points (for SHUTDOWN's scope, which sees only its
/// command line).
pub static SAVE_POINTS: AtomicBool = AtomicBool::new(true);

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed background save the
/// points wait this long before trying again.
const RETRY_DELAY: u64 = 5;

fn now_secs() -> u64 {
    db::now_ms() / 1000
}

impl Persist {
    pub fn new(start_unix: u64) -> Persist {
        Persist {
            last_save: AtomicU64::new(start_unix),
            dirty_at_save: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            saves: AtomicU64::new(0),
            loaded_keys: AtomicU64::new(0),
            expired_on_load: AtomicU64::new(0),
            child: Mutex::new(None),
            last_bgsave_secs: AtomicI64::new(-1),
            last_try: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
        }
    }

    /// Seconds the running background save has taken, if one runs.
    pub fn bgsave_running_secs(&self) -> Option<u64> {
        self.child
            .lock()
            .as_ref()
            .map(|c| c.started.elapsed().as_secs())
    }

    pub fn schedule(&self) {
        self.scheduled.store(true, Relaxed);
    }

    /// Changes since the last save.
    pub fn changes_since_save(&self, server: &Server) -> u64 {
        server
            .dirty()
            .saturating_sub(self.dirty_at_save.load(Relaxed))
    }
}

/// What a snapshot needs besides the shards, read before it starts (a
/// forked child must take no lock another thread may hold).
struct Plan {
    path: String,
    checksum: bool,
    delay: i64,
    libraries: Vec<Vec<u8>>,
    policy: crate::evict::Policy,
    databases: usize,
    oom: (crate::oom::Mode, [i32; 3]),
}

fn plan(server: &Server) -> Plan {
    let c = server.config.read();
    Plan {
        path: c.dbfilename.clone(),
        checksum: c.rdbchecksum,
        delay: c.rdb_key_save_delay,
        libraries: server.scripts.library_codes(),
        policy: server.hot.maxmemory_policy(),
        databases: server.store.databases(),
        oom: (c.oom_score_adj, c.oom_score_adj_values),
    }
}

fn temp_name() -> String {
    format!("temp-{}.rdb", std::process::id())
}

/// Writes every database of `shards` (all of them, locked by the caller)
/// to `dbfilename` (Redis's rdbSave). Errors are logged as Redis logs
/// them, and returned. Only SAVE itself counts in `rdb_saves`, and
/// BGSAVE (as in Redis, not the saves of FLUSHALL, SHUTDOWN or DEBUG
/// RELOAD).
pub fn save(server: &Server, shards: &[&Shard]) -> io::Result<()> {
    kill_child(server);
    let plan = plan(server);
    let temp = temp_name();
    let result = write_file(&plan, shards, &temp).and_then(|()| fs::rename(&temp, &plan.path));
    let p = &server.persist;
    match &result {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            p.dirty_at_save.store(server.dirty(), Relaxed);
            p.last_save.store(now_secs(), Relaxed);
            p.last_ok.store(true, Relaxed);
        }
        // A failed SAVE leaves rdb_last_bgsave_status alone, as Redis.
        Err(e) => {
            let _ = fs::remove_file(&temp);
            tracing::warn!("Write error saving DB on disk: {e}");
        }
    }
    result
}

/// Starts a background save of `shards` (all of them, locked by the
/// caller across the fork); Redis's rdbSaveBackground.
pub fn bgsave(server: &Server, shards: &[&Shard]) -> io::Result<()> {
    let p = &server.persist;
    let plan = plan(server);
    let dirty = server.dirty();
    p.last_try.store(now_secs(), Relaxed);
    let forked = crate::fork::spawn(|| {
        // The child's own class of `oom-score-adj-values`, as Redis's.
        let _ = crate::oom::apply(plan.oom.0, plan.oom.1, crate::oom::CHILD);
        let temp = temp_name();
        match write_file(&plan, shards, &temp).and_then(|()| fs::rename(&temp, &plan.path)) {
            Ok(()) => 0,
            Err(_) => {
                let _ = fs::remove_file(&temp);
                1
            }
        }
    });
    match forked {
        Ok(pid) => {
            tracing::info!("Background saving started by pid {pid}");
            // Counted when it starts, as Redis's rdb_saves.
            p.saves.fetch_add(1, Relaxed);
            *p.child.lock() = Some(Child {
                pid,
                started: Instant::now(),
                dirty_at_fork: dirty,
            });
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Can't save in background: fork: {e}");
            p.last_ok.store(false, Relaxed);
            Err(e)
        }
    }
}

/// Stops a running background save and removes its temporary file
/// (Redis's killRDBChild); not a save error.
pub fn kill_child(server: &Server) {
    let Some(c) = server.persist.child.lock().take() else {
        return;
    };
    tracing::warn!("Killing running RDB child: {}", c.pid);
    crate::fork::kill(c.pid);
    let _ = fs::remove_file(format!("temp-{}.rdb", c.pid));
}

/// The expiry thread's turn at persistence, each cron tick (Redis's
/// serverCron): a background save that ended is accounted; otherwise a
/// scheduled one, or one a save point calls for, starts.
pub fn cron(server: &Server) {
    let mut child = server.persist.child.lock();
    let Some(pid) = child.as_ref().map(|c| c.pid) else {
        drop(child);
        return start_if_due(server);
    };
    if let Some(end) = crate::fork::reap(pid) {
        let c = child.take().expect("there");
        drop(child);
        finished(server, c, end);
    }
}

fn finished(server: &Server, c: Child, end: crate::fork::Ended) {
    use crate::fork::Ended;
    let p = &server.persist;
    match end {
        Ended::Code(0) => {
            tracing::info!("Background saving terminated with success");
            p.dirty_at_save.store(c.dirty_at_fork, Relaxed);
            p.last_save.store(now_secs(), Relaxed);
            p.last_ok.store(true, Relaxed);
        }
        Ended::Code(_) => {
            tracing::warn!("Background saving error");
            p.last_ok.store(false, Relaxed);
        }
        Ended::Signal(sig) => {
            tracing::warn!("Background saving terminated by signal {sig}");
            let _ = fs::remove_file(format!("temp-{}.rdb", c.pid));
            if sig != libc::SIGUSR1 {
                p.last_ok.store(false, Relaxed);
            }
        }
    }
    p.last_bgsave_secs
        .store(c.started.elapsed().as_secs() as i64, Relaxed);
}

fn start_if_due(server: &Server) {
    let p = &server.persist;
    let now = now_secs();
    let may_retry =
        p.last_ok.load(Relaxed) || now.saturating_sub(p.last_try.load(Relaxed)) > RETRY_DELAY;
    if !may_retry {
        return;
    }
    let changes = p.changes_since_save(server);
    let since = now.saturating_sub(p.last_save.load(Relaxed));
    let point = server
        .config
        .read()
        .save_points
        .iter()
        .copied()
        .find(|&(secs, n)| changes >= n && since > secs);
    let scheduled = p.scheduled.load(Relaxed);
    if point.is_none() && !scheduled {
        return;
    }
    if let Some((secs, n)) = point {
        tracing::info!("{n} changes in {secs} seconds. Saving...");
    }
    let Ok(guards) = server.store.acquire(0..db::SHARDS, false) else {
        return;
    };
    let shards: Vec<&Shard> = guards.iter().map(|(_, g)| &**g).collect();
    if bgsave(server, &shards).is_ok() {
        p.scheduled.store(false, Relaxed);
    }
}

/// Whether a shutdown with these flags (SHUTDOWN's, or a signal's)
/// saves: SAVE, or save points without NOSAVE.
pub fn shutdown_saves(flags: u8) -> bool {
    use crate::config::shutdown::{NOSAVE, SAVE};
    flags & SAVE != 0 || (flags & NOSAVE == 0 && SAVE_POINTS.load(Relaxed))
}

/// A SIGTERM or SIGINT, with the flags `shutdown-on-sigterm` /
/// `-sigint` give it (as SHUTDOWN's): with save points or SAVE, and
/// without NOSAVE, the dataset is saved before the server goes (a running
/// background save is stopped first); false when that save failed
/// without FORCE, and the server stays up, as Redis's prepareForShutdown.
pub fn save_on_signal(server: &Server, flags: u8) -> bool {
    kill_child(server);
    if !shutdown_saves(flags) {
        return true;
    }
    tracing::warn!("Saving the final RDB snapshot before exiting.");
    let saved = match server.store.acquire(0..db::SHARDS, false) {
        Ok(guards) => {
            let shards: Vec<&Shard> = guards.iter().map(|(_, g)| &**g).collect();
            save(server, &shards).is_ok()
        }
        Err(_) => false,
    };
    if saved {
        return true;
    }
    if flags & crate::config::shutdown::FORCE != 0 {
        tracing::warn!("Error trying to save the DB. Exit anyway.");
        return true;
    }
    tracing::warn!("Error trying to save the DB, can't exit.");
    false
}

/// Redis's debugDelay: `usec` µs, or for a negative -N, 1 µs once in N.
fn key_delay(usec: i64) {
    let usec = if usec < 0 {
        rand::random::<u64>().is_multiple_of(usec.unsigned_abs()) as u64
    } else {
        usec as u64
    };
    if usec > 0 {
        std::thread::sleep(std::time::Duration::from_micros(usec));
    }
}

fn write_file(plan: &Plan, shards: &[&Shard], temp: &str) -> io::Result<()> {
    let f = fs::File::create(temp).map_err(|e| {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        io::Error::new(
            e.kind(),
            format!("Failed opening the temp RDB file {temp} (in server root dir {cwd}) for saving: {e}"),
        )
    })?;
    let mut w = file::Writer::new(io::BufWriter::with_capacity(1 << 16, f), plan.checksum);
    let now = db::now_ms();
    w.aux("redis-ver", crate::config::REDIS_VERSION);
    w.aux("redis-bits", "64");
    w.aux("ctime", &(now / 1000).to_string());
    w.aux("used-mem", &crate::alloc::used().to_string());
    w.aux("aof-base", "0");
    for code in &plan.libraries {
        w.library(code)?;
    }
    let policy = plan.policy;
    for dbi in 0..plan.databases {
        let (keys, expires) = shards.iter().fold((0, 0), |(k, e), s| {
            (k + s.dbs[dbi].len(), e + s.dbs[dbi].expires())
        });
        if keys == 0 {
            continue;
        }
        w.select_db(dbi, keys, expires);
        for s in shards {
            for (key, e) in s.dbs[dbi].iter() {
                let meta = KeyMeta {
                    expire_at: e.expire_at(),
                    idle: policy.is_lru().then(|| e.idle_seconds(now)),
                    freq: policy.is_lfu().then(|| e.lfu_count(now)),
                };
                w.key(key.as_slice(), &e.value, meta)?;
                if plan.delay != 0 {
                    key_delay(plan.delay);
                }
            }
        }
    }
    let out = w.finish()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// How a load treats a key that is there already.
#[derive(Clone, Copy, PartialEq)]
pub enum Duplicates {
    /// A failed load (Redis's default).
    Refuse,
    /// The file's value replaces it (DEBUG RELOAD MERGE).
    Replace,
}

/// Loads `dbfilename` into `shards` (indexed by shard number, locked by
/// the caller); the function libraries in it go to `libraries`. A missing
/// file is no error at start (`Ok(false)`).
pub fn load(
    server: &Server,
    shards: &mut [&mut Shard],
    dups: Duplicates,
    libraries: &mut Vec<Vec<u8>>,
) -> Result<bool, LoadError> {
    let (path, checksum, delay) = {
        let c = server.config.read();
        (c.dbfilename.clone(), c.rdbchecksum, c.key_load_delay)
    };
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(LoadError(format!(
                "Fatal error loading the DB: {e}. Exiting."
            )))
        }
    };
    let limits = crate::rdb::value::Limits {
        hash: server.hot.hash_limits(),
        zset: server.hot.zset_limits(),
        intset: server.hot.set_max_intset_entries(),
    };
    let now = db::now_ms();
    let (mut loaded, mut expired) = (0u64, 0u64);
    file::load(
        &data,
        server.store.databases(),
        limits,
        checksum,
        |code| {
            libraries.push(code);
            Ok(())
        },
        |k: LoadedKey| {
            let at = k.meta.expire_at;
            if at != 0 && at < now {
                expired += 1;
                return Ok(());
            }
            let t = &mut shards[db::shard_of(&k.key)].dbs[k.db];
            if t.index_of(&k.key).is_some() {
                if dups == Duplicates::Refuse {
                    return Err(LoadError(format!(
                        "RDB has duplicated key '{}' in DB {}",
                        String::from_utf8_lossy(&k.key),
                        k.db
                    )));
                }
                t.remove(&k.key, Clock::new(now).quiet());
            }
            let mut entry = Entry::new(k.value, at, Clock::new(now));
            if let Some(secs) = k.meta.idle {
                entry.set_idle(secs, now);
            }
            if let Some(f) = k.meta.freq {
                entry.set_lfu(f, now);
            }
            t.insert_new(Blob::new(&k.key), entry);
            loaded += 1;
            if delay != 0 {
                key_delay(delay);
            }
            Ok(())
        },
    )?;
    // Loaded keys are no keyspace events (Redis's dbAddRDBLoad).
    for s in shards.iter_mut() {
        for (_, t) in s.dbs.existing_mut() {
            if t.has_log() {
                t.take_log();
            }
        }
    }
    let p = &server.persist;
    p.loaded_keys.store(loaded, Relaxed);
    p.expired_on_load.store(expired, Relaxed);
    p.dirty_at_save.store(server.dirty(), Relaxed);
    Ok(true)
}

/// Loads the file at start, before any client is served: every shard is
/// locked here, and the libraries are installed afterwards.
pub fn load_at_start(server: &Server) -> Result<(), String> {
    let start = std::time::Instant::now();
    let mut guards = server
        .store
        .acquire(0..db::SHARDS, false)
        .map_err(|_| "busy".to_string())?;
    let mut shards: Vec<&mut Shard> = guards.iter_mut().map(|(_, g)| &mut **g).collect();
    let mut libraries = Vec::new();
    let found = load(server, &mut shards, Duplicates::Refuse, &mut libraries).map_err(|e| e.0)?;
    drop(shards);
    drop(guards);
    if !found {
        return Ok(());
    }
    crate::cmd::function::restore_libraries(server, &libraries, false, false).map_err(|e| {
        format!(
            "Failed loading the RDB's functions: {}",
            String::from_utf8_lossy(e.as_bytes())
        )
    })?;
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
