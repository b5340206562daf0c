//! State shared by every thread: configuration, the keyspace, counters.

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};
use std::time::Instant;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{watch, Notify};

use crate::client::ClientHandle;
use crate::config::Config;
use crate::db::Store;
use crate::stats::WorkerStats;

/// Settings read on the request path, kept as atomics so that reading
/// them costs a plain load, not a lock. Written when the configuration
/// changes.
pub struct Hot {
    proto_max_bulk_len: AtomicI64,
    query_buffer_limit: AtomicU64,
    hll_sparse_max_bytes: AtomicU64,
    hash_max_listpack_entries: AtomicU64,
    hash_max_listpack_value: AtomicU64,
    zset_max_listpack_entries: AtomicU64,
    zset_max_listpack_value: AtomicU64,
    set_max_intset_entries: AtomicU64,
    timeout: AtomicU64,
    maxclients: AtomicU32,
    hz: AtomicU32,
    /// `hz` as the cron last adapted it (`dynamic-hz`).
    current_hz: AtomicU32,
    dynamic_hz: AtomicBool,
    stop_writes_on_bgsave_error: AtomicBool,
    protected_mode: AtomicBool,
    tcp_keepalive: AtomicU64,
    /// The default user has a password: new clients must authenticate.
    slowlog_slower_than: AtomicI64,
    slowlog_max_len: AtomicUsize,
    latency_threshold: AtomicU64,
    latency_tracking: AtomicBool,
    lazy_user_del: AtomicBool,
    lazy_user_flush: AtomicBool,
    lazy_eviction: AtomicBool,
    maxmemory: AtomicU64,
    maxmemory_policy: std::sync::atomic::AtomicU8,
    maxmemory_samples: AtomicU32,
    maxmemory_clients: AtomicI64,
    maxmemory_eviction_tenacity: AtomicU32,
    active_expire_effort: AtomicU32,
    busy_reply_threshold: AtomicU64,
    /// min-replicas-to-write and min-replicas-max-lag are both set.
    replicas_required: AtomicBool,
    notify_keyspace_events: AtomicU32,
    tracking_table_max_keys: AtomicU64,
    /// client-output-buffer-limit: (hard, soft, seconds) per class.
    obuf_limits: [[AtomicU64; 3]; 3],
}

fn replicas_required(c: &Config) -> bool {
    c.min_replicas_to_write > 0 && c.min_replicas_max_lag > 0
}

impl Hot {
    fn from(c: &Config) -> Hot {
        crate::effects::configure(c.notify_keyspace_events);
        crate::rdb::COMPRESS.store(c.rdbcompression, Relaxed);
        crate::persist::SAVE_POINTS.store(!c.save_points.is_empty(), Relaxed);
        crate::alloc::set_background_thread(c.jemalloc_bg_thread);
        crate::db::list::configure(c.list_max_listpack_size, c.list_compress_depth);
        crate::db::stream::configure(c.stream_node_max_bytes, c.stream_node_max_entries);
        crate::db::value::configure_access(
            c.maxmemory_policy.is_lfu(),
            c.lfu_log_factor,
            c.lfu_decay_time,
        );
        Hot {
            lazy_eviction: AtomicBool::new(c.lazyfree_lazy_eviction),
            maxmemory: AtomicU64::new(c.maxmemory),
            maxmemory_policy: std::sync::atomic::AtomicU8::new(c.maxmemory_policy as u8),
            maxmemory_samples: AtomicU32::new(c.maxmemory_samples),
            maxmemory_clients: AtomicI64::new(c.maxmemory_clients),
            maxmemory_eviction_tenacity: AtomicU32::new(c.maxmemory_eviction_tenacity),
            proto_max_bulk_len: AtomicI64::new(c.proto_max_bulk_len),
            query_buffer_limit: AtomicU64::new(c.client_query_buffer_limit),
            hll_sparse_max_bytes: AtomicU64::new(c.hll_sparse_max_bytes),
            hash_max_listpack_entries: AtomicU64::new(c.hash_max_listpack_entries),
            hash_max_listpack_value: AtomicU64::new(c.hash_max_listpack_value),
            zset_max_listpack_entries: AtomicU64::new(c.zset_max_listpack_entries),
            zset_max_listpack_value: AtomicU64::new(c.zset_max_listpack_value),
            set_max_intset_entries: AtomicU64::new(c.set_max_intset_entries),
            timeout: AtomicU64::new(c.timeout),
            maxclients: AtomicU32::new(c.maxclients),
            hz: AtomicU32::new(c.hz),
            current_hz: AtomicU32::new(c.hz),
            dynamic_hz: AtomicBool::new(c.dynamic_hz),
            stop_writes_on_bgsave_error: AtomicBool::new(c.stop_writes_on_bgsave_error),
            protected_mode: AtomicBool::new(c.protected_mode),
            tcp_keepalive: AtomicU64::new(c.tcp_keepalive),
            slowlog_slower_than: AtomicI64::new(c.slowlog_log_slower_than),
            slowlog_max_len: AtomicUsize::new(c.slowlog_max_len),
            latency_threshold: AtomicU64::new(c.latency_monitor_threshold),
            latency_tracking: AtomicBool::new(c.latency_tracking),
            lazy_user_del: AtomicBool::new(c.lazyfree_lazy_user_del),
            lazy_user_flush: AtomicBool::new(c.lazyfree_lazy_user_flush),
            active_expire_effort: AtomicU32::new(c.active_expire_effort),
            busy_reply_threshold: AtomicU64::new(c.busy_reply_threshold),
            replicas_required: AtomicBool::new(replicas_required(c)),
            notify_keyspace_events: AtomicU32::new(c.notify_keyspace_events),
            tracking_table_max_keys: AtomicU64::new(c.tracking_table_max_keys),
            obuf_limits: c.client_output_buffer_limit.map(|l| {
                [
                    AtomicU64::new(l.hard),
                    AtomicU64::new(l.soft),
                    AtomicU64::new(l.soft_seconds),
                ]
            }),
        }
    }

    /// `latency-monitor-threshold` in milliseconds (0: off).
    pub fn latency_threshold(&self) -> u64 {
        self.latency_threshold.load(Relaxed)
    }

    /// `latency-tracking`: per-command latency histograms are kept.
    pub fn latency_tracking(&self) -> bool {
        self.latency_tracking.load(Relaxed)
    }
    /// `lazyfree-lazy-user-del`: DEL frees as UNLINK does.
    pub fn lazy_user_del(&self) -> bool {
        self.lazy_user_del.load(Relaxed)
    }
    /// `lazyfree-lazy-user-flush`: FLUSHDB/FLUSHALL without a mode are ASYNC.
    pub fn lazy_user_flush(&self) -> bool {
        self.lazy_user_flush.load(Relaxed)
    }

    /// `active-expire-effort`, 1..=10.
    pub fn active_expire_effort(&self) -> u32 {
        self.active_expire_effort.load(Relaxed)
    }

    /// `busy-reply-threshold` in milliseconds (0: none).
    pub fn busy_reply_threshold(&self) -> u64 {
        self.busy_reply_threshold.load(Relaxed)
    }

    /// Whether writes are refused for want of good replicas (Redis's
    /// `checkGoodReplicasStatus`): rudis has no replicas, so whenever
    /// min-replicas-to-write and min-replicas-max-lag are both set.
    pub fn not_enough_replicas(&self) -> bool {
        self.replicas_required.load(Relaxed)
    }

    /// `notify-keyspace-events` as `crate::effects::class` bits.
    pub fn notify_keyspace_events(&self) -> u32 {
        self.notify_keyspace_events.load(Relaxed)
    }

    /// The output buffer limit of a client class.
    pub fn obuf_limit(&self, class: crate::push::Class) -> crate::push::Limit {
        let [hard, soft, secs] = &self.obuf_limits[class as usize];
        crate::push::Limit {
            hard: hard.load(Relaxed),
            soft: soft.load(Relaxed),
            soft_seconds: secs.load(Relaxed),
        }
    }

    /// `tracking-table-max-keys` (0: no limit).
    pub fn tracking_table_max_keys(&self) -> usize {
        self.tracking_table_max_keys.load(Relaxed) as usize
    }

    pub fn store(&self, c: &Config) {
        self.lazy_eviction.store(c.lazyfree_lazy_eviction, Relaxed);
        crate::db::lazyfree::LAZY_EXPIRE.store(c.lazyfree_lazy_expire, Relaxed);
        self.maxmemory.store(c.maxmemory, Relaxed);
        self.maxmemory_policy
            .store(c.maxmemory_policy as u8, Relaxed);
        self.maxmemory_samples.store(c.maxmemory_samples, Relaxed);
        self.maxmemory_clients.store(c.maxmemory_clients, Relaxed);
        self.maxmemory_eviction_tenacity
            .store(c.maxmemory_eviction_tenacity, Relaxed);
        crate::db::value::configure_access(
            c.maxmemory_policy.is_lfu(),
            c.lfu_log_factor,
            c.lfu_decay_time,
        );
        self.tracking_table_max_keys
            .store(c.tracking_table_max_keys, Relaxed);
        for (l, a) in c.client_output_buffer_limit.iter().zip(&self.obuf_limits) {
            a[0].store(l.hard, Relaxed);
            a[1].store(l.soft, Relaxed);
            a[2].store(l.soft_seconds, Relaxed);
        }
        self.notify_keyspace_events
            .store(c.notify_keyspace_events, Relaxed);
        crate::effects::configure(c.notify_keyspace_events);
        self.active_expire_effort
            .store(c.active_expire_effort, Relaxed);
        self.busy_reply_threshold
            .store(c.busy_reply_threshold, Relaxed);
        self.replicas_required.store(replicas_required(c), Relaxed);
        self.latency_tracking.store(c.latency_tracking, Relaxed);
        self.lazy_user_del.store(c.lazyfree_lazy_user_del, Relaxed);
        self.lazy_user_flush
            .store(c.lazyfree_lazy_user_flush, Relaxed);
        self.latency_threshold
            .store(c.latency_monitor_threshold, Relaxed);
        crate::db::list::configure(c.list_max_listpack_size, c.list_compress_depth);
        crate::db::stream::configure(c.stream_node_max_bytes, c.stream_node_max_entries);
        self.proto_max_bulk_len.store(c.proto_max_bulk_len, Relaxed);
        self.query_buffer_limit
            .store(c.client_query_buffer_limit, Relaxed);
        self.timeout.store(c.timeout, Relaxed);
        self.hll_sparse_max_bytes
            .store(c.hll_sparse_max_bytes, Relaxed);
        self.hash_max_listpack_entries
            .store(c.hash_max_listpack_entries, Relaxed);
        self.hash_max_listpack_value
            .store(c.hash_max_listpack_value, Relaxed);
        self.zset_max_listpack_entries
            .store(c.zset_max_listpack_entries, Relaxed);
        self.zset_max_listpack_value
            .store(c.zset_max_listpack_value, Relaxed);
        self.set_max_intset_entries
            .store(c.set_max_intset_entries, Relaxed);
        self.maxclients.store(c.maxclients, Relaxed);
        self.hz.store(c.hz, Relaxed);
        self.dynamic_hz.store(c.dynamic_hz, Relaxed);
        self.protected_mode.store(c.protected_mode, Relaxed);
        self.tcp_keepalive.store(c.tcp_keepalive, Relaxed);
        self.slowlog_slower_than
            .store(c.slowlog_log_slower_than, Relaxed);
        self.slowlog_max_len.store(c.slowlog_max_len, Relaxed);
        crate::rdb::COMPRESS.store(c.rdbcompression, Relaxed);
        crate::persist::SAVE_POINTS.store(!c.save_points.is_empty(), Relaxed);
        crate::alloc::set_background_thread(c.jemalloc_bg_thread);
        self.stop_writes_on_bgsave_error
            .store(c.stop_writes_on_bgsave_error, Relaxed);
    }

    /// `maxmemory` in bytes (0: no limit).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }
    pub fn maxmemory_policy(&self) -> crate::evict::Policy {
        crate::evict::Policy::from_u8(self.maxmemory_policy.load(Relaxed))
    }
    /// What all clients together may use (Redis's
    /// `getClientEvictionLimit`): maxmemory-clients in bytes, or its
    /// percentage of maxmemory, at least 128 KB; 0: no client eviction.
    pub fn client_eviction_limit(&self) -> u64 {
        let v = self.maxmemory_clients.load(Relaxed);
        let max = self.maxmemory();
        let limit = match v {
            0 => return 0,
            v if v < 0 && max > 0 => (max as f64 * (-v) as f64 / 100.0) as u64,
            v if v < 0 => return 0,
            v => v as u64,
        };
        limit.max(128 * 1024)
    }
    pub fn maxmemory_samples(&self) -> u32 {
        self.maxmemory_samples.load(Relaxed)
    }
    pub fn maxmemory_eviction_tenacity(&self) -> u32 {
        self.maxmemory_eviction_tenacity.load(Relaxed)
    }
    /// `lazyfree-lazy-eviction`.
    pub fn lazy_eviction(&self) -> bool {
        self.lazy_eviction.load(Relaxed)
    }
    pub fn proto_max_bulk_len(&self) -> i64 {
        self.proto_max_bulk_len.load(Relaxed)
    }
    pub fn query_buffer_limit(&self) -> u64 {
        self.query_buffer_limit.load(Relaxed)
    }
    pub fn hash_limits(&self) -> crate::db::hash::Limits {
        crate::db::hash::Limits {
            entries: self.hash_max_listpack_entries.load(Relaxed) as usize,
            value: self.hash_max_listpack_value.load(Relaxed) as usize,
        }
    }
    pub fn zset_limits(&self) -> crate::db::zset::Limits {
        crate::db::zset::Limits {
            entries: self.zset_max_listpack_entries.load(Relaxed) as usize,
            value: self.zset_max_listpack_value.load(Relaxed) as usize,
        }
    }
    pub fn set_max_intset_entries(&self) -> usize {
        self.set_max_intset_entries.load(Relaxed) as usize
    }
    pub fn hll_sparse_max_bytes(&self) -> u64 {
        self.hll_sparse_max_bytes.load(Relaxed)
    }
    pub fn timeout(&self) -> u64 {
        self.timeout.load(Relaxed)
    }
    pub fn maxclients(&self) -> u32 {
        self.maxclients.load(Relaxed)
    }
    /// Whether writes get MISCONF now (Redis's
    /// writeCommandsDeniedByDiskError): the last background save failed,
    /// save points are set and stop-writes-on-bgsave-error says so.
    pub fn refuses_writes(&self, persist: &crate::persist::Persist) -> bool {
        self.stop_writes_on_bgsave_error.load(Relaxed)
            && crate::persist::SAVE_POINTS.load(Relaxed)
            && !persist.last_ok.load(Relaxed)
    }

    pub fn hz(&self) -> u32 {
        self.hz.load(Relaxed)
    }

    /// The cron's frequency now: `hz`, doubled (up to 500) while there
    /// are more than 200 clients per tick under `dynamic-hz`, as Redis's
    /// serverCron adapts it; INFO's `hz` shows it.
    pub fn adapt_hz(&self, clients: usize) -> u32 {
        let mut hz = self.hz().max(1);
        if self.dynamic_hz.load(Relaxed) {
            while clients / hz as usize > 200 {
                hz = (hz * 2).min(500);
                if hz == 500 {
                    break;
                }
            }
        }
        self.current_hz.store(hz, Relaxed);
        hz
    }

    pub fn current_hz(&self) -> u32 {
        self.current_hz.load(Relaxed)
    }
    pub fn slowlog_slower_than(&self) -> i64 {
        self.slowlog_slower_than.load(Relaxed)
    }
    pub fn slowlog_max_len(&self) -> usize {
        self.slowlog_max_len.load(Relaxed)
    }
    pub fn tcp_keepalive(&self) -> u64 {
        self.tcp_keepalive.load(Relaxed)
    }
    pub fn protected_mode(&self) -> bool {
        self.protected_mode.load(Relaxed)
    }
}

#[derive(Default)]
pub struct Stats {
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub connected_clients: AtomicUsize,
    /// Commands that ended in a panic (a bug): INFO rudis_command_panics.
    pub command_panics: AtomicU64,
    /// Clients whose next command CLIENT PAUSE holds back.
    pub paused_clients: AtomicUsize,
    /// Time spent in active expiry cycles, and cycles that ran out of time.
    pub expire_cycle_micros: AtomicU64,
    pub expire_time_cap_reached: AtomicU64,
}

/// An active CLIENT PAUSE.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    pub until: Instant,
    /// ALL (every command) rather than WRITE (write commands only).
    pub all: bool,
}

pub struct Server {
    /// MONITOR clients and the slow log.
    pub observers: crate::cmd::server::monitor::Observers,
    /// Every connected client, by id (CLIENT LIST, KILL).
    pub clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// CLIENT PAUSE: the pause, a fast flag, and a wake-up for its end.
    pause: Mutex<Option<Pause>>,
    paused: AtomicBool,
    unpaused: Notify,
    /// Every worker's counters, for INFO.
    pub workers: Mutex<Vec<Arc<WorkerStats>>>,
    /// 40 hex characters, new at each start (INFO run_id).
    pub run_id: String,
    /// Unix seconds at start.
    pub start_unix: u64,
    /// Snapshots: the last save, the changes since.
    pub persist: crate::persist::Persist,
    /// Allocated bytes once started: the part that is not data.
    pub memory_startup: AtomicU64,
    memory_peak: AtomicU64,
    /// (when, commands, input bytes, output bytes) samples for the
    /// instantaneous rates INFO shows.
    ops_samples: Mutex<VecDeque<(Instant, [u64; 3])>>,
    pub config: RwLock<Config>,
    pub hot: Hot,
    /// Users and their permissions.
    pub acl: crate::acl::Acl,
    pub store: Store,
    pub scripts: crate::script::Scripts,
    /// Clients blocked on list keys.
    pub blocking: crate::blocking::Blocking,
    /// Every WATCHed key.
    pub watches: crate::effects::Watches,
    /// maxmemory's eviction.
    pub evictor: crate::evict::Evictor,
    /// Pub/sub channels and patterns.
    pub pubsub: crate::pubsub::PubSub,
    /// Client-side caching: who may have cached which key.
    pub tracking: crate::tracking::Tracking,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the background expiry cycle runs.
    pub active_expire: AtomicBool,
    /// DEBUG PAUSE-CRON: the background cycle (expiry, save points,
    /// tracking table limit, ...) skips its work.
    pub cron_paused: AtomicBool,
    /// MIGRATE's connections kept for the next MIGRATE.
    pub migrate: crate::cmd::migrate::Links,
    /// LATENCY's event time series.
    pub latency: crate::cmd::server::latency::Monitor,
    pub stats: Stats,
    next_client_id: AtomicU64,
    /// Becomes true when the server starts shutting down.
    pub shutdown: watch::Sender<bool>,
    /// The acceptor's requests: listen anew after CONFIG SET port / bind.
    pub relisten:
        parking_lot::Mutex<Option<tokio::sync::mpsc::UnboundedSender<crate::net::Relisten>>>,
    pub started: Instant,
}

impl Server {
    pub fn new(config: Config) -> Server {
        let store = Store::new(config.databases);
        let scripts = crate::script::Scripts::new(store.gate.busy.clone());
        Server {
            scripts,
            observers: Default::default(),
            watches: Default::default(),
            pubsub: Default::default(),
            evictor: Default::default(),
            tracking: Default::default(),
            clients: Mutex::new(BTreeMap::new()),
            pause: Mutex::new(None),
            paused: AtomicBool::new(false),
            unpaused: Notify::new(),
            workers: Mutex::new(Vec::new()),
            run_id: (0..40)
                .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
                .collect(),
            start_unix: crate::db::now_ms() / 1000,
            persist: crate::persist::Persist::new(crate::db::now_ms() / 1000),
            memory_startup: AtomicU64::new(0),
            memory_peak: AtomicU64::new(0),
            ops_samples: Mutex::new(VecDeque::new()),
            hot: Hot::from(&config),
            acl: Default::default(),
            store,
            blocking: Default::default(),
            latency: Default::default(),
            migrate: Default::default(),
            active_expire: AtomicBool::new(true),
            cron_paused: AtomicBool::new(false),
            config: RwLock::new(config),
            stats: Stats::default(),
            next_client_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
            relisten: parking_lot::Mutex::new(None),
            started: Instant::now(),
        }
    }

    /// The dirty counter: changes made since the start, all threads'.
    pub fn dirty(&self) -> u64 {
        self.workers
            .lock()
            .iter()
            .map(|w| w.dirty.load(Relaxed))
            .sum()
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Relaxed)
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// CLIENT PAUSE: holds commands back until `until` (a longer pause
    /// wins over a shorter one, ALL over WRITE, as in Redis).
    pub fn pause(&self, until: Instant, all: bool) {
        let mut p = self.pause.lock();
        let next = match *p {
            Some(old) => Pause {
                until: old.until.max(until),
                all: old.all || all,
            },
            None => Pause { until, all },
        };
        *p = Some(next);
        self.paused.store(true, Relaxed);
        let left = next.until.saturating_duration_since(Instant::now());
        crate::db::expire::suspend_until(crate::db::now_ms() + left.as_millis() as u64);
    }

    pub fn unpause(&self) {
        *self.pause.lock() = None;
        crate::db::expire::suspend_until(0);
        self.paused.store(false, Relaxed);
        self.unpaused.notify_waiters();
    }

    /// Whether an active pause holds this command back.
    pub fn pause_holds(&self, argv: crate::cmd::Argv, client: &crate::client::Client) -> bool {
        if !self.paused.load(Relaxed) {
            return false;
        }
        let Some(p) = *self.pause.lock() else {
            return false;
        };
        if Instant::now() >= p.until {
            self.unpause();
            return false;
        }
        // Commands refused before they would run (unknown, wrong arity)
        // get their error at once, as Redis checks those first.
        let Some(c) = crate::cmd::lookup(argv.get(0).unwrap_or_default()) else {
            return false;
        };
        let c = if c.subcommands.is_empty() {
            c
        } else {
            c.subcommand(argv.get(1).unwrap_or_default()).unwrap_or(c)
        };
        let argc = argv.len() as i32;
        if (c.arity > 0 && argc != c.arity) || argc < -c.arity {
            return false;
        }
        if p.all {
            return true;
        }
        let write = |c: &crate::cmd::Command, argv| crate::script::may_write(self, c, argv);
        // EXEC is held as its queue would be.
        write(c, argv)
            || (c.name == "exec"
                && client
                    .multi
                    .as_ref()
                    .is_some_and(|m| m.iter().any(|(q, a)| write(q, a))))
    }

    /// Resolves when the current pause ends (UNPAUSE or its deadline).
    pub async fn pause_ended(&self) {
        let until = self.pause.lock().map(|p| p.until);
        let Some(until) = until else { return };
        let woken = self.unpaused.notified();
        let _ = tokio::time::timeout_at(until.into(), woken).await;
    }

    /// A new worker's counters, registered for INFO.
    pub fn register_worker(&self) -> Arc<WorkerStats> {
        let w = Arc::new(WorkerStats::new(crate::cmd::table::command_count()));
        self.workers.lock().push(w.clone());
        w
    }

    /// The highest allocation seen, given the current one.
    pub fn memory_peak(&self, now: u64) -> u64 {
        self.memory_peak.fetch_max(now, Relaxed).max(now)
    }

    /// Called about every 100 ms: one sample of the counters behind the
    /// instantaneous rates.
    pub fn sample_ops(&self) {
        let workers = self.workers.lock().clone();
        let now = [
            crate::stats::sum(&workers, |w| &w.commands),
            crate::stats::sum(&workers, |w| &w.net_input),
            crate::stats::sum(&workers, |w| &w.net_output),
        ];
        let mut s = self.ops_samples.lock();
        s.push_back((Instant::now(), now));
        while s.len() > 16 {
            s.pop_front();
        }
    }

    /// Per-second rates of (commands, input bytes, output bytes) over the
    /// last samples (Redis averages 16 samples taken every 100 ms).
    pub fn rates(&self) -> [f64; 3] {
        let s = self.ops_samples.lock();
        match (s.front(), s.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let secs = (b.0 - a.0).as_secs_f64();
                [0, 1, 2].map(|i| b.1[i].saturating_sub(a.1[i]) as f64 / secs)
            }
            _ => [0.0; 3],
        }
    }

    pub fn record_expire_cycle(&self, r: crate::db::expire::CycleReport) {
        self.stats.expire_cycle_micros.fetch_add(r.micros, Relaxed);
        if r.capped {
            self.stats.expire_time_cap_reached.fetch_add(1, Relaxed);
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self, keys: &mut crate::cmd::Locked) {
        for w in self.workers.lock().iter() {
            w.reset();
        }
        for s in 0..crate::db::SHARDS {
            for (_, t) in keys.shard(&self.store, s).dbs.existing_mut() {
                t.reset_stats();
            }
        }
        self.stats.total_connections.store(0, Relaxed);
        self.stats.rejected_connections.store(0, Relaxed);
        self.stats.expire_time_cap_reached.store(0, Relaxed);
        self.evictor.reset_stats();
        crate::db::lazyfree::FREED.store(0, Relaxed);
        self.ops_samples.lock().clear();
    }
}
