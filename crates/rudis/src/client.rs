//! Per-connection state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::stats::WorkerStats;

pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// The selected database.
    pub db: usize,
    /// Set by QUIT (and protocol errors): close once the reply is written.
    pub close_after_reply: bool,
    /// Has passed AUTH (or needed none when it connected).
    pub authenticated: bool,
    /// Set by HELLO SETNAME / CLIENT SETNAME.
    pub name: Option<Vec<u8>>,
    pub created: Instant,
    /// The counters of the worker thread this client lives on.
    pub stats: Arc<WorkerStats>,
}

impl Client {
    /// True while this client must authenticate before running commands
    /// (Redis's `authRequired`).
    pub fn must_auth(&self, server_requires: bool) -> bool {
        server_requires && !self.authenticated
    }

    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        authenticated: bool,
        stats: Arc<WorkerStats>,
    ) -> Client {
        Client {
            id,
            addr,
            laddr,
            db: 0,
            close_after_reply: false,
            authenticated,
            name: None,
            created: Instant::now(),
            stats,
        }
    }
}
