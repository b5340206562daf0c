//! Per-connection state.

use std::net::SocketAddr;
use std::time::Instant;

pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// The selected database.
    pub db: usize,
    /// Set by QUIT (and protocol errors): close once the reply is written.
    pub close_after_reply: bool,
    pub created: Instant,
}

impl Client {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> Client {
        Client {
            id,
            addr,
            laddr,
            db: 0,
            close_after_reply: false,
            created: Instant::now(),
        }
    }
}
