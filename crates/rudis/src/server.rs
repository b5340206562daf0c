//! State shared by every thread: configuration, the keyspace, counters.

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};
use std::time::Instant;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::config::Config;
use crate::db::Store;

/// Settings read on the request path, kept as atomics so that reading
/// them costs a plain load, not a lock. Written when the configuration
/// changes.
pub struct Hot {
    proto_max_bulk_len: AtomicI64,
    query_buffer_limit: AtomicU64,
    timeout: AtomicU64,
    maxclients: AtomicU32,
    hz: AtomicU32,
    protected_mode: AtomicBool,
    tcp_keepalive: AtomicU64,
    /// The default user has a password: new clients must authenticate.
    auth_required: AtomicBool,
}

impl Hot {
    fn from(c: &Config) -> Hot {
        Hot {
            proto_max_bulk_len: AtomicI64::new(c.proto_max_bulk_len),
            query_buffer_limit: AtomicU64::new(c.client_query_buffer_limit),
            timeout: AtomicU64::new(c.timeout),
            maxclients: AtomicU32::new(c.maxclients),
            hz: AtomicU32::new(c.hz),
            protected_mode: AtomicBool::new(c.protected_mode),
            tcp_keepalive: AtomicU64::new(c.tcp_keepalive),
            auth_required: AtomicBool::new(!c.requirepass.is_empty()),
        }
    }

    pub fn store(&self, c: &Config) {
        self.proto_max_bulk_len.store(c.proto_max_bulk_len, Relaxed);
        self.query_buffer_limit
            .store(c.client_query_buffer_limit, Relaxed);
        self.timeout.store(c.timeout, Relaxed);
        self.maxclients.store(c.maxclients, Relaxed);
        self.hz.store(c.hz, Relaxed);
        self.protected_mode.store(c.protected_mode, Relaxed);
        self.tcp_keepalive.store(c.tcp_keepalive, Relaxed);
        self.auth_required.store(!c.requirepass.is_empty(), Relaxed);
    }

    pub fn proto_max_bulk_len(&self) -> i64 {
        self.proto_max_bulk_len.load(Relaxed)
    }
    pub fn query_buffer_limit(&self) -> u64 {
        self.query_buffer_limit.load(Relaxed)
    }
    pub fn timeout(&self) -> u64 {
        self.timeout.load(Relaxed)
    }
    pub fn maxclients(&self) -> u32 {
        self.maxclients.load(Relaxed)
    }
    pub fn hz(&self) -> u32 {
        self.hz.load(Relaxed)
    }
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
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
}

pub struct Server {
    pub config: RwLock<Config>,
    pub hot: Hot,
    pub store: Store,
    pub stats: Stats,
    next_client_id: AtomicU64,
    /// Becomes true when the server starts shutting down.
    pub shutdown: watch::Sender<bool>,
    pub started: Instant,
}

impl Server {
    pub fn new(config: Config) -> Server {
        Server {
            hot: Hot::from(&config),
            store: Store::new(config.databases),
            config: RwLock::new(config),
            stats: Stats::default(),
            next_client_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
            started: Instant::now(),
        }
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Relaxed)
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
