//! maxmemory: keys are evicted before a command runs while the memory in
//! use is over the limit, as Redis's `performEvictions`.
//!
//! Candidates are sampled across shards, one shard locked at a time and
//! never while a command holds any, so eviction needs no global lock: a
//! sample takes a random non-empty shard and one random key of each of
//! its databases that has keys (only keys with a TTL for `volatile-*`).
//! LRU, LFU and TTL policies keep Redis's pool of the 16 best candidates
//! seen so far (sampling quality builds up over evictions); the random
//! policies take their sample at once. An eviction reports the key
//! through the tables' log, so WATCH, tracking and the `evicted` event go
//! down the same path as every other write.
//!
//! A cycle stops after the time `maxmemory-eviction-tenacity` allows;
//! when memory is still over the limit, the eviction thread goes on in
//! the background (Redis's eviction time event) while commands run.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Condvar};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use crate::db::{Blob, SHARDS};
use crate::effects::Effects;
use crate::server::Server;

/// `maxmemory-policy`, in the order Redis's config table lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

pub const POLICIES: [(&str, Policy); 8] = [
    ("volatile-lru", Policy::VolatileLru),
    ("volatile-lfu", Policy::VolatileLfu),
    ("volatile-random", Policy::VolatileRandom),
    ("volatile-ttl", Policy::VolatileTtl),
    ("allkeys-lru", Policy::AllkeysLru),
    ("allkeys-lfu", Policy::AllkeysLfu),
    ("allkeys-random", Policy::AllkeysRandom),
    ("noeviction", Policy::NoEviction),
];

impl Policy {
    pub fn name(self) -> &'static str {
        POLICIES[self as usize].0
    }

    pub fn from_u8(v: u8) -> Policy {
        POLICIES.get(v as usize).map_or(Policy::NoEviction, |p| p.1)
    }

    /// Under an LFU policy the access bits of a key hold a frequency
    /// counter rather than a time.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    pub fn is_lru(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::AllkeysLru)
    }

    fn allkeys(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }
}

/// What `perform` found (Redis's EVICT_OK, EVICT_RUNNING, EVICT_FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is within the limit (or eviction may not run now).
    Ok,
    /// Still over, and the background goes on evicting.
    Running,
    /// Over the limit with nothing left to evict: writes that may grow
    /// memory are refused.
    Fail,
}

/// Redis's EVPOOL_SIZE.
const POOL: usize = 16;

struct Candidate {
    /// Higher is a better victim.
    score: u64,
    db: usize,
    key: Blob,
}

#[derive(Default)]
pub struct Evictor {
    /// Ascending by score: the best candidate is last.
    pool: Mutex<Vec<Candidate>>,
    /// Where the random policies look for a database next.
    next_db: AtomicU64,
    /// INFO evicted_keys.
    pub evicted_keys: AtomicU64,
    /// INFO evicted_clients.
    pub evicted_clients: AtomicU64,
    /// The memory of every client, while maxmemory-clients is set.
    clients_mem: std::sync::atomic::AtomicI64,
    /// One client eviction at a time: two would close more than needed.
    evicting_clients: Mutex<()>,
    /// Since when memory has been over the limit (INFO
    /// current_eviction_exceeded_time), and the total of such periods
    /// that ended (total_eviction_exceeded_time).
    exceeded_since: Mutex<Option<Instant>>,
    /// Whether `exceeded_since` is set: the common case (within the
    /// limit, and it was) then takes no lock.
    exceeded: AtomicBool,
    exceeded_total_us: AtomicU64,
    /// The background eviction is asked for or running.
    running: AtomicBool,
    wake: Arc<(std::sync::Mutex<bool>, Condvar)>,
    /// The last policy the pool was filled under: its scores mean
    /// nothing under another.
    pool_policy: AtomicU8,
}

/// Redis's `evictionTimeLimitUs`: how long one cycle may evict.
fn time_limit(tenacity: u32) -> Duration {
    let us = match tenacity {
        0..=10 => 50 * tenacity as u64,
        11..=99 => (500.0 * 1.15f64.powf(tenacity as f64 - 10.0)) as u64,
        _ => u64::MAX,
    };
    Duration::from_micros(us)
}

impl Evictor {
    /// (microseconds over the limit in ended periods, in the current one).
    pub fn exceeded_us(&self) -> (u64, u64) {
        let current = self
            .exceeded_since
            .lock()
            .map_or(0, |t| t.elapsed().as_micros() as u64);
        (self.exceeded_total_us.load(Relaxed), current)
    }

    pub fn reset_stats(&self) {
        self.evicted_keys.store(0, Relaxed);
        self.evicted_clients.store(0, Relaxed);
        self.exceeded_total_us.store(0, Relaxed);
        *self.exceeded_since.lock() = None;
        self.exceeded.store(false, Relaxed);
    }

    fn update_metrics(&self, outcome: Outcome) {
        if (outcome == Outcome::Ok) != self.exceeded.load(Relaxed) {
            return;
        }
        let mut since = self.exceeded_since.lock();
        match (outcome, *since) {
            (Outcome::Ok, Some(t)) => {
                self.exceeded_total_us
                    .fetch_add(t.elapsed().as_micros() as u64, Relaxed);
                *since = None;
                self.exceeded.store(false, Relaxed);
            }
            (Outcome::Running | Outcome::Fail, None) => {
                *since = Some(Instant::now());
                self.exceeded.store(true, Relaxed);
            }
            _ => {}
        }
    }

    /// Asks the eviction thread to evict until memory is within the
    /// limit (after CONFIG SET maxmemory, or a cycle that ran out of
    /// time).
    pub fn kick(&self) {
        self.running.store(true, Relaxed);
        let (m, cv) = &*self.wake;
        *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
    }
}

/// The eviction thread: runs cycles while `kick` asked for them, until
/// memory is within the limit or nothing is left to evict.
pub fn background(server: Arc<Server>) {
    let wake = server.evictor.wake.clone();
    while !server.shutting_down() {
        {
            let (m, cv) = &*wake;
            let mut asked = m.lock().unwrap_or_else(|e| e.into_inner());
            while !*asked && !server.shutting_down() {
                asked = cv
                    .wait_timeout(asked, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            *asked = false;
        }
        while server.evictor.running.load(Relaxed) && !server.shutting_down() {
            server.evictor.running.store(false, Relaxed);
            match cycle(&server, None).0 {
                Outcome::Running => std::thread::sleep(Duration::from_micros(100)),
                Outcome::Ok | Outcome::Fail => {}
            }
        }
    }
}

/// The memory maxmemory limits: what is in use, less the slots the
/// tables hold free for new keys (see `crate::alloc::spare`).
pub fn counted() -> u64 {
    crate::alloc::used_less_spare()
}

/// Evicts before a command of client `current` runs; see `Outcome`. The
/// invalidations for `current` of the keys evicted are returned, to go
/// before its reply.
pub fn perform(server: &Server, current: Option<u64>) -> (Outcome, crate::tracking::Pending) {
    if server.hot.maxmemory() == 0 {
        return (Outcome::Ok, Default::default());
    }
    cycle(server, current)
}

fn cycle(server: &Server, current: Option<u64>) -> (Outcome, crate::tracking::Pending) {
    let limit = server.hot.maxmemory();
    // Nothing changes in the dataset while clients are paused or a
    // script is past its busy threshold (Redis's
    // isSafeToPerformEvictions).
    if limit == 0 || crate::db::expire::any_suspended() || server.scripts.busy_error().is_some() {
        return (Outcome::Ok, Default::default());
    }
    let ev = &server.evictor;
    let used = counted();
    if used <= limit {
        ev.update_metrics(Outcome::Ok);
        return (Outcome::Ok, Default::default());
    }
    let policy = server.hot.maxmemory_policy();
    if policy == Policy::NoEviction {
        ev.update_metrics(Outcome::Fail);
        return (Outcome::Fail, Default::default());
    }
    let tofree = (used - limit) as i64;
    let budget = time_limit(server.hot.maxmemory_eviction_tenacity());
    let run = Run {
        policy,
        volatile: !policy.allkeys(),
        lazy: server.hot.lazy_eviction(),
        current,
    };
    let lazy = run.lazy;
    let start = Instant::now();
    let mut fx = Effects::default();
    let mut freed = 0i64;
    let mut keys = 0u64;
    let mut outcome = loop {
        if freed >= tofree {
            break Outcome::Ok;
        }
        match evict_one(server, &run, &mut fx) {
            Some(bytes) => freed += bytes,
            None => break Outcome::Fail,
        }
        keys += 1;
        if keys.is_multiple_of(16) {
            // The lazy-free thread frees on its own time: look at the
            // real figure now and then.
            if lazy && counted() <= limit {
                break Outcome::Ok;
            }
            if start.elapsed() > budget {
                ev.kick();
                break Outcome::Running;
            }
        }
    };
    if outcome == Outcome::Ok && ev.running.load(Relaxed) {
        outcome = Outcome::Running;
    }
    if outcome == Outcome::Fail {
        // What the lazy-free thread is still freeing may be enough.
        while crate::db::lazyfree::PENDING.load(Relaxed) > 0 && start.elapsed() < budget {
            if counted() <= limit {
                outcome = Outcome::Ok;
                break;
            }
            std::thread::sleep(budget.min(Duration::from_millis(1)));
        }
    }
    if !fx.notes.is_empty() {
        crate::pubsub::publish_notes(server, fx.notes);
    }
    if server.tracking.active() {
        server.tracking.broadcast(server);
    }
    server
        .latency
        .sample_if_needed(server, "eviction-cycle", start.elapsed().as_millis() as u64);
    ev.update_metrics(outcome);
    (outcome, fx.pending)
}

/// What one cycle evicts by.
struct Run {
    policy: Policy,
    /// Only keys with a TTL are candidates.
    volatile: bool,
    /// lazyfree-lazy-eviction.
    lazy: bool,
    /// The client whose command the cycle runs before.
    current: Option<u64>,
}

/// Picks a victim and deletes it: the bytes that freed, or `None` when
/// nothing can be evicted.
fn evict_one(server: &Server, run: &Run, fx: &mut Effects) -> Option<i64> {
    let (policy, volatile) = (run.policy, run.volatile);
    // A victim can vanish between its sampling and its deletion (another
    // thread's write); so many in a row mean eviction is not possible.
    const TRIES: usize = 64;
    if policy.random() {
        for _ in 0..TRIES {
            let (shard, db, key) = random_pick(server, volatile)?;
            if let Some(freed) = delete(server, run, (shard, db, key.as_slice()), fx) {
                return Some(freed);
            }
        }
        return None;
    }
    let ev = &server.evictor;
    let mut pool = ev.pool.lock();
    if ev.pool_policy.swap(policy as u8, Relaxed) != policy as u8 {
        pool.clear();
    }
    for _ in 0..TRIES {
        if !populate(server, policy, &mut pool) {
            return None;
        }
        while let Some(c) = pool.pop() {
            let shard = crate::db::shard_of(c.key.as_slice());
            if let Some(freed) = delete(server, run, (shard, c.db, c.key.as_slice()), fx) {
                return Some(freed);
            }
            // A ghost (deleted since it was sampled): the next one.
        }
    }
    None
}

/// Deletes `key` of `db` if it is still there (with a TTL for a volatile
/// policy): the bytes freed.
fn delete(
    server: &Server,
    run: &Run,
    (shard, db, key): (usize, usize, &[u8]),
    fx: &mut Effects,
) -> Option<i64> {
    let before = crate::alloc::thread_net();
    let mut g = server.store.acquire(std::iter::once(shard), true).ok()?;
    let t = &mut g.first_mut()?.1.dbs[db];
    let i = t.index_of(key)?;
    if run.volatile && t.at(i).1.expire_at() == 0 {
        return None;
    }
    let (k, e) = t.evict_at(i);
    let mut estimate = 0;
    if run.lazy && e.value.costly_to_free() {
        estimate = crate::db::memory::key_usage(&k, &e, 5) as i64;
        crate::db::lazyfree::free_later(e);
    } else {
        drop(e);
    }
    drop(k);
    fx.drain_table(server, run.current, db, t);
    drop(g);
    server.evictor.evicted_keys.fetch_add(1, Relaxed);
    Some(before - crate::alloc::thread_net() + estimate)
}

/// A random non-empty shard (one with keys that have a TTL, for
/// `volatile`), starting from a random one: `None` when there is none.
fn find_shard(server: &Server, volatile: bool, rng: &mut impl Rng) -> Option<usize> {
    let start = rng.gen_range(0..SHARDS);
    (0..SHARDS).map(|i| (start + i) % SHARDS).find(|&s| {
        let g = server.store.lock(s);
        let found = g.dbs.iter().any(|t| {
            if volatile {
                t.expires() > 0
            } else {
                !t.is_empty()
            }
        });
        found
    })
}

/// The random policies' victim: a random key of a random shard, from the
/// databases in turn (Redis's `next_db`).
fn random_pick(server: &Server, volatile: bool) -> Option<(usize, usize, Blob)> {
    let mut rng = rand::thread_rng();
    let shard = find_shard(server, volatile, &mut rng)?;
    let mut g = server.store.lock(shard);
    let n = g.dbs.len();
    let first = server.evictor.next_db.fetch_add(1, Relaxed) as usize;
    for j in 0..n {
        let db = (first + j) % n;
        if g.dbs[db].is_empty() {
            continue;
        }
        let t = &mut g.dbs[db];
        let pick = if volatile {
            t.random_volatile(&mut rng)
        } else {
            t.random(&mut rng)
        };
        if let Some(i) = pick {
            return Some((shard, db, t.at(i).0.clone()));
        }
    }
    None
}

/// Adds `maxmemory-samples` sampled keys to the pool (Redis's
/// `evictionPoolPopulate`); false when there are no keys to sample.
fn populate(server: &Server, policy: Policy, pool: &mut Vec<Candidate>) -> bool {
    let volatile = !policy.allkeys();
    let samples = server.hot.maxmemory_samples();
    let now = crate::db::now_ms();
    let mut rng = rand::thread_rng();
    for _ in 0..samples {
        let Some(shard) = find_shard(server, volatile, &mut rng) else {
            return !pool.is_empty();
        };
        let mut g = server.store.lock(shard);
        for (db, t) in g.dbs.existing_mut() {
            let pick = if volatile {
                t.random_volatile(&mut rng)
            } else {
                t.random(&mut rng)
            };
            let Some(i) = pick else { continue };
            let (k, e) = t.at(i);
            let score = match policy {
                Policy::VolatileTtl => u64::MAX - e.expire_at(),
                p if p.is_lfu() => 255 - e.lfu_count(now) as u64,
                _ => e.idle_seconds(now),
            };
            insert(pool, score, db, k);
        }
    }
    true
}

/// Redis's pool insertion: ascending by score, at most `POOL` entries;
/// a full pool drops its worst to take a better one.
fn insert(pool: &mut Vec<Candidate>, score: u64, db: usize, key: &Blob) {
    if pool
        .iter()
        .any(|c| c.db == db && c.key.as_slice() == key.as_slice())
    {
        return;
    }
    let at = pool.partition_point(|c| c.score < score);
    if pool.len() == POOL {
        if at == 0 {
            return;
        }
        pool.remove(0);
        pool.insert(
            at - 1,
            Candidate {
                score,
                db,
                key: key.clone(),
            },
        );
    } else {
        pool.insert(
            at,
            Candidate {
                score,
                db,
                key: key.clone(),
            },
        );
    }
}

// Client eviction (maxmemory-clients): once all clients together use
// more than the limit, the largest evictable ones are closed, as Redis's
// `evictClients`. A client reports its memory when it changes (after each
// batch it runs, after each write, when something is pushed to it); the
// total is kept only while a limit is set, and taken anew when one is.

/// A client's memory: its buffers and its state (CLIENT LIST tot-mem).
pub fn client_memory(h: &crate::client::ClientHandle) -> usize {
    h.query_capacity.load(Relaxed)
        + h.output_buffer.load(Relaxed)
        + h.outbox.pending()
        + std::mem::size_of::<crate::client::ClientHandle>()
}

/// Reports `h`'s memory as it is now, and evicts clients if all of them
/// are over the limit.
pub fn client_memory_changed(server: &Server, h: &crate::client::ClientHandle) {
    let limit = server.hot.client_eviction_limit();
    if limit == 0 || h.killed.load(Relaxed) {
        return;
    }
    let ev = &server.evictor;
    let now = client_memory(h);
    let old = h.mem.swap(now, Relaxed);
    let total = if now != old {
        ev.clients_mem.fetch_add(now as i64 - old as i64, Relaxed) + now as i64 - old as i64
    } else {
        ev.clients_mem.load(Relaxed)
    };
    if total >= limit as i64 {
        evict_clients(server, limit);
    }
}

/// A client that is going: its memory leaves the total.
pub fn client_gone(server: &Server, h: &crate::client::ClientHandle) {
    let old = h.mem.swap(0, Relaxed);
    if old != 0 {
        server.evictor.clients_mem.fetch_sub(old as i64, Relaxed);
    }
}

/// Takes every client's memory anew (a limit was just set or changed).
pub fn recount_clients(server: &Server) {
    let clients: Vec<_> = server.clients.lock().values().cloned().collect();
    let mut total = 0i64;
    for c in clients.iter().filter(|c| !c.killed.load(Relaxed)) {
        let m = client_memory(c);
        c.mem.store(m, Relaxed);
        total += m as i64;
    }
    server.evictor.clients_mem.store(total, Relaxed);
    let limit = server.hot.client_eviction_limit();
    if limit != 0 && total >= limit as i64 {
        evict_clients(server, limit);
    }
}

/// Closes the largest evictable clients until the total is under
/// `limit` (Redis evicts from its largest memory bucket down).
fn evict_clients(server: &Server, limit: u64) {
    let ev = &server.evictor;
    let _one_at_a_time = ev.evicting_clients.lock();
    let mut clients: Vec<_> = server
        .clients
        .lock()
        .values()
        .filter(|c| !c.no_evict.load(Relaxed) && !c.killed.load(Relaxed))
        .cloned()
        .collect();
    clients.sort_by_key(|c| std::cmp::Reverse(c.mem.load(Relaxed)));
    for c in clients {
        if ev.clients_mem.load(Relaxed) < limit as i64 {
            return;
        }
        tracing::info!(
            "Evicting client: {}",
            crate::cmd::client::client_line(&c, 0).trim_end()
        );
        c.kill();
        client_gone(server, &c);
        ev.evicted_clients.fetch_add(1, Relaxed);
    }
    if ev.clients_mem.load(Relaxed) >= limit as i64 {
        tracing::warn!("Over client maxmemory after evicting all evictable clients");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_follow_tenacity_as_redis() {
        assert_eq!(time_limit(0), Duration::ZERO);
        assert_eq!(time_limit(10), Duration::from_micros(500));
        assert_eq!(time_limit(11), Duration::from_micros(575));
        assert_eq!(time_limit(100), Duration::from_micros(u64::MAX));
    }

    #[test]
    fn the_pool_keeps_the_best_sixteen() {
        let mut pool = Vec::new();
        for s in [5u64, 1, 9, 3] {
            insert(&mut pool, s, 0, &Blob::new(s.to_string().as_bytes()));
        }
        insert(&mut pool, 9, 0, &Blob::new(b"9"));
        let scores: Vec<u64> = pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1, 3, 5, 9]);
        for s in 10..30u64 {
            insert(&mut pool, s, 0, &Blob::new(s.to_string().as_bytes()));
        }
        assert_eq!(pool.len(), POOL);
        assert_eq!(pool[0].score, 14);
        assert_eq!(pool.last().map(|c| c.score), Some(29));
        insert(&mut pool, 2, 0, &Blob::new(b"low"));
        assert_eq!(pool[0].score, 14);
    }
}
