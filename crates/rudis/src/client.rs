//! Per-connection state: what only the connection's own thread touches
//! (`Client`), and what other clients may read or act on through CLIENT
//! LIST / KILL (`ClientHandle`, shared through the server's registry).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Where a client is connected: an address and port, or the Unix socket
/// (`unixsocket`), which Redis shows as its path with port 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Ip(SocketAddr),
    Unix(Arc<str>),
}

impl Addr {
    /// Whether the client is on this machine, as Redis's `islocalClient`:
    /// a loopback address, or the Unix socket.
    pub fn is_local(&self) -> bool {
        match self {
            Addr::Ip(a) => a.ip().is_loopback(),
            Addr::Unix(_) => true,
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Addr::Unix(_))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Ip(a) => a.fmt(f),
            Addr::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// Whether replies are sent (CLIENT REPLY), as Redis's three flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ReplyMode {
    /// CLIENT REPLY OFF.
    pub off: bool,
    /// The running command's reply is dropped.
    pub skip: bool,
    /// Set by CLIENT REPLY SKIP: the next command's reply is dropped.
    pub skip_next: bool,
}

impl ReplyMode {
    /// Whether a reply written now is dropped.
    pub fn silent(&self) -> bool {
        self.off || self.skip
    }

    /// Moves on to the next command (Redis's `resetClient`).
    pub fn next(&mut self) {
        self.skip = self.skip_next;
        self.skip_next = false;
    }
}

/// The part of a client other threads may see.
pub struct ClientHandle {
    pub id: u64,
    pub addr: Addr,
    pub laddr: Addr,
    pub fd: i32,
    pub created: Instant,
    /// Unix milliseconds of the last command batch.
    pub last_active: AtomicU64,
    pub db: AtomicUsize,
    /// Statistics index + 1 of the last command (0: none yet).
    pub last_cmd: AtomicUsize,
    pub resp: AtomicU8,
    pub query_buffer: AtomicUsize,
    pub query_capacity: AtomicUsize,
    pub output_buffer: AtomicUsize,
    pub no_evict: AtomicBool,
    /// This client's memory as last reported for maxmemory-clients (see
    /// `crate::evict::client_memory_changed`).
    pub mem: AtomicUsize,
    pub no_touch: AtomicBool,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Vec<u8>>,
    pub lib_ver: Mutex<Vec<u8>>,
    /// The name of the user it is authenticated as (CLIENT LIST `user=`,
    /// CLIENT KILL USER, closing the connections of a deleted user).
    pub user: Mutex<Vec<u8>>,
    /// Set by CLIENT KILL; `kill_signal` wakes the connection.
    pub killed: AtomicBool,
    pub kill_signal: Notify,
    /// The client's blocked command, for CLIENT UNBLOCK.
    pub blocked: Mutex<Option<Arc<crate::blocking::Waiter>>>,
    /// Held back by CLIENT PAUSE.
    pub paused: AtomicBool,
    /// Commands queued by MULTI (-1: not in a transaction), for CLIENT
    /// LIST's `multi=`.
    pub multi: AtomicI64,
    /// The client's WATCH, released when it goes.
    pub watch: Arc<crate::effects::WatchState>,
    /// Its pub/sub subscriptions (only its own thread changes them), and
    /// their total, read by publishers on any thread.
    pub subs: Mutex<Subscriptions>,
    pub sub_count: AtomicUsize,
    /// What other threads send it (pub/sub messages, MONITOR lines).
    pub outbox: crate::push::Outbox,
    /// CLIENT TRACKING: read by the threads that invalidate its keys.
    pub tracking: crate::tracking::ClientTracking,
}

/// Which of a client's subscription sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubSet {
    Channels,
    Patterns,
    Shard,
}

/// A client's channels, patterns and shard channels, in subscription
/// order.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: indexmap::IndexSet<Vec<u8>>,
    pub patterns: indexmap::IndexSet<Vec<u8>>,
    pub shard: indexmap::IndexSet<Vec<u8>>,
}

impl Subscriptions {
    fn set(&mut self, which: SubSet) -> &mut indexmap::IndexSet<Vec<u8>> {
        match which {
            SubSet::Channels => &mut self.channels,
            SubSet::Patterns => &mut self.patterns,
            SubSet::Shard => &mut self.shard,
        }
    }

    /// Adds `name`; false if it was there.
    pub fn add(&mut self, which: SubSet, name: &[u8]) -> bool {
        self.set(which).insert(name.to_vec())
    }

    /// Removes `name`; false if it was not there.
    pub fn remove(&mut self, which: SubSet, name: &[u8]) -> bool {
        self.set(which).shift_remove(name)
    }

    pub fn names(&mut self, which: SubSet) -> Vec<Vec<u8>> {
        self.set(which).iter().cloned().collect()
    }

    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }
}

impl ClientHandle {
    pub fn new(id: u64, addr: Addr, laddr: Addr, fd: i32) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active: AtomicU64::new(crate::db::now_ms()),
            db: AtomicUsize::new(0),
            last_cmd: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            query_buffer: AtomicUsize::new(0),
            query_capacity: AtomicUsize::new(0),
            output_buffer: AtomicUsize::new(0),
            no_evict: AtomicBool::new(false),
            mem: AtomicUsize::new(0),
            no_touch: AtomicBool::new(false),
            name: Mutex::new(None),
            lib_name: Mutex::new(Vec::new()),
            lib_ver: Mutex::new(Vec::new()),
            user: Mutex::new(b"default".to_vec()),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            blocked: Mutex::new(None),
            paused: AtomicBool::new(false),
            multi: AtomicI64::new(-1),
            watch: Arc::default(),
            subs: Mutex::new(Subscriptions::default()),
            sub_count: AtomicUsize::new(0),
            outbox: Default::default(),
            tracking: Default::default(),
        }
    }

    /// Subscriptions of every kind (Redis's CLIENT_PUBSUB when non-zero).
    pub fn subscriptions(&self) -> usize {
        self.sub_count.load(Relaxed)
    }

    /// Closes the connection: its task hears of it waiting for a read
    /// (through the outbox's wake-up) or while writing (`kill_signal`).
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_signal.notify_one();
        self.outbox.wake();
    }

    /// Records activity at `now_ms` (the batch's clock, already read).
    pub fn touch(&self, now_ms: u64) {
        self.last_active.store(now_ms, Relaxed);
    }
}

pub struct Client {
    pub id: u64,
    pub addr: Addr,
    pub laddr: Addr,
    /// The selected database.
    pub db: usize,
    /// Set by QUIT, CLIENT KILL of itself, and protocol errors: close once
    /// the reply is written.
    pub close_after_reply: bool,
    /// Has passed AUTH (or needed none when it connected).
    pub authenticated: bool,
    /// The user whose permissions apply.
    pub user: crate::acl::ClientUser,
    pub reply_mode: ReplyMode,
    /// CLIENT NO-TOUCH: this client's reads do not update access times.
    pub no_touch: bool,
    pub handle: Arc<ClientHandle>,
    /// Set by MONITOR: the lines to stream to this client.
    pub monitor: bool,
    /// Set by a blocking command that found nothing: what the connection
    /// waits for before it reads on.
    pub blocked: Option<Blocked>,
    /// Set by MULTI: the commands queued for EXEC.
    pub multi: Option<Box<crate::cmd::multi::Multi>>,
    /// The last transaction's queue, kept for its allocations.
    pub spare_multi: Option<Box<crate::cmd::multi::Multi>>,
    /// Parts of the running command's reply that are pushes (pub/sub
    /// confirmations): kept under CLIENT REPLY OFF / SKIP, as Redis's
    /// CLIENT_PUSHING.
    pub kept: Vec<std::ops::Range<usize>>,
    /// CLIENT CACHING YES / NO given for the next command (Redis's
    /// CLIENT_TRACKING_CACHING).
    pub caching: bool,
    /// While this client's script runs: whether it has called a read
    /// command (its declared keys are then tracked).
    pub script_read: Option<bool>,
    /// Memory was over maxmemory with nothing to evict when the running
    /// command started (Redis's pre_command_oom_state): a script's first
    /// write that may grow memory is refused.
    pub oom: bool,
}

/// A blocked command: its registration, where its reply will come from,
/// and when it times out (`None`: never).
pub struct Blocked {
    pub waiter: Arc<crate::blocking::Waiter>,
    pub reply: tokio::sync::oneshot::Receiver<Vec<u8>>,
    pub deadline: Option<std::time::Instant>,
    /// The slow log entry the command makes once it is answered (Redis
    /// logs a blocked command when it unblocks), if it is slow enough.
    pub slow: Option<crate::cmd::server::monitor::PendingSlow>,
}

impl Client {
    pub fn new(
        handle: Arc<ClientHandle>,
        authenticated: bool,
        user: crate::acl::ClientUser,
    ) -> Client {
        Client {
            id: handle.id,
            addr: handle.addr.clone(),
            laddr: handle.laddr.clone(),
            db: 0,
            close_after_reply: false,
            authenticated,
            user,
            reply_mode: ReplyMode::default(),
            no_touch: false,
            handle,
            monitor: false,
            blocked: None,
            multi: None,
            spare_multi: None,
            kept: Vec::new(),
            caching: false,
            script_read: None,
            oom: false,
        }
    }

    /// True while this client must authenticate before running commands
    /// (Redis's `authRequired`).
    pub fn must_auth(&self, server_requires: bool) -> bool {
        server_requires && !self.authenticated
    }

    /// Authenticates as `user` (AUTH, HELLO AUTH), or back to the default
    /// user unauthenticated-or-not as a new connection (RESET).
    pub fn set_user(&mut self, acl: &crate::acl::Acl, user: Arc<crate::acl::User>) {
        *self.handle.user.lock() = user.name.clone();
        self.user = crate::acl::ClientUser::new(acl, user);
    }
}
