//! Snapshots of the dataset in an RDB file (`dbfilename` in `dir`, the
//! working directory, which Redis's `dir` changes too): SAVE, SHUTDOWN
//! SAVE and DEBUG RELOAD write one, the server loads it at start and
//! DEBUG RELOAD loads it back (Redis's `rdbSave` and `rdbLoad`). The file
//! is written to `temp-<pid>.rdb` and renamed over the old one only once
//! complete and synced, so a failed save never leaves a partial file.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

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
        }
    }

    /// Changes since the last save.
    pub fn changes_since_save(&self, server: &Server) -> u64 {
        server
            .dirty()
            .saturating_sub(self.dirty_at_save.load(Relaxed))
    }
}

/// Writes every database of `shards` (all of them, locked by the caller)
/// to `dbfilename`. Errors are logged as Redis logs them, and returned.
pub fn save(server: &Server, shards: &[&Shard]) -> io::Result<()> {
    let (path, checksum) = {
        let c = server.config.read();
        (c.dbfilename.clone(), c.rdbchecksum)
    };
    let temp = format!("temp-{}.rdb", std::process::id());
    let result =
        write_file(server, shards, &temp, checksum).and_then(|()| fs::rename(&temp, &path));
    let p = &server.persist;
    match &result {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            p.dirty_at_save.store(server.dirty(), Relaxed);
            p.last_save.store(db::now_ms() / 1000, Relaxed);
            p.last_ok.store(true, Relaxed);
            p.saves.fetch_add(1, Relaxed);
        }
        // A failed SAVE leaves rdb_last_bgsave_status alone, as Redis.
        Err(e) => {
            let _ = fs::remove_file(&temp);
            tracing::warn!("Write error saving DB on disk: {e}");
        }
    }
    result
}

fn write_file(server: &Server, shards: &[&Shard], temp: &str, checksum: bool) -> io::Result<()> {
    let f = fs::File::create(temp).map_err(|e| {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        io::Error::new(
            e.kind(),
            format!("Failed opening the temp RDB file {temp} (in server root dir {cwd}) for saving: {e}"),
        )
    })?;
    let mut w = file::Writer::new(io::BufWriter::with_capacity(1 << 16, f), checksum);
    let now = db::now_ms();
    w.aux("redis-ver", crate::config::REDIS_VERSION);
    w.aux("redis-bits", "64");
    w.aux("ctime", &(now / 1000).to_string());
    w.aux("used-mem", &crate::alloc::used().to_string());
    w.aux("aof-base", "0");
    for lib in server.scripts.libraries.lock().libs.values() {
        w.library(&lib.code)?;
    }
    let policy = server.hot.maxmemory_policy();
    for dbi in 0..server.store.databases() {
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
    let (path, checksum) = {
        let c = server.config.read();
        (c.dbfilename.clone(), c.rdbchecksum)
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
            Ok(())
        },
    )?;
    // Loaded keys are no keyspace events (Redis's dbAddRDBLoad).
    for s in shards.iter_mut() {
        for t in s.dbs.iter_mut() {
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
