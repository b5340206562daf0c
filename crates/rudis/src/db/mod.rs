//! The keyspace: shards of tables, with expiry. No protocol code here.
//!
//! The keyspace is split into `SHARDS` shards, each behind its own mutex.
//! A key's shard is its Redis Cluster hash slot (CRC16 of the key, or of
//! its `{hash tag}`) modulo `SHARDS`: keys sharing a hash tag always share
//! a shard, and a shard is a union of whole cluster slots. Each shard holds
//! one table per database, so the same key name in every database lives in
//! the same shard: MOVE and COPY ... DB lock one shard, and SWAPDB swaps
//! tables shard by shard under all shard locks.

pub mod blob;
pub mod digest;
pub mod expire;
pub mod hash;
mod keyindex;
pub mod lazyfree;
pub mod list;
pub mod memory;
pub mod set;
pub mod stream;
pub mod table;
pub mod value;
pub mod zset;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

pub use blob::Blob;
pub use table::Table;
pub use value::{Clock, Entry, Value};

/// Number of shards: a power of two that divides the 16384 cluster slots.
pub const SHARDS: usize = 1024;

/// One shard: a table per database.
pub struct Shard {
    pub dbs: Dbs,
}

impl Shard {
    fn new(databases: usize) -> Shard {
        Shard {
            dbs: Dbs::new(databases),
        }
    }
}

/// A shard's tables, one per database, made on first write: 1,024 shards
/// of 16 databases would otherwise hold 16,384 tables (2.6 MB that
/// maxmemory counts) for databases nobody uses. Reading a database that
/// has no table yet sees an empty one.
pub struct Dbs {
    tables: Box<[Option<Box<Table>>]>,
}

/// The table of a database never written to.
fn no_table() -> &'static Table {
    static EMPTY: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Table::default)
}

impl Dbs {
    fn new(databases: usize) -> Dbs {
        Dbs {
            tables: (0..databases).map(|_| None).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The table of database `db` (out of range: `None`).
    pub fn get(&self, db: usize) -> Option<&Table> {
        self.tables
            .get(db)
            .map(|t| t.as_deref().unwrap_or(no_table()))
    }

    /// Every database's table in order, empty ones for those never
    /// written.
    pub fn iter(&self) -> impl Iterator<Item = &Table> {
        self.tables
            .iter()
            .map(|t| t.as_deref().unwrap_or(no_table()))
    }

    /// The tables that exist, with their database.
    pub fn existing_mut(&mut self) -> impl Iterator<Item = (usize, &mut Table)> {
        self.tables
            .iter_mut()
            .enumerate()
            .filter_map(|(db, t)| Some((db, &mut **t.as_mut()?)))
    }

    /// SWAPDB, within this shard.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.tables.swap(a, b);
    }
}

impl std::ops::Index<usize> for Dbs {
    type Output = Table;
    fn index(&self, db: usize) -> &Table {
        self.tables[db].as_deref().unwrap_or(no_table())
    }
}

impl std::ops::IndexMut<usize> for Dbs {
    fn index_mut(&mut self, db: usize) -> &mut Table {
        self.tables[db].get_or_insert_with(Box::default)
    }
}

pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    databases: usize,
    /// What tells lock waiters to step back (see `acquire`).
    pub gate: Gate,
}

/// Signals from the one holder that may take locks out of order (the
/// script thread) to everyone waiting for a lock.
#[derive(Default)]
pub struct Gate {
    /// The script thread waits for a shard while holding others out of
    /// order: a waiter that holds shards releases them and starts over,
    /// so the two can never wait for each other.
    escalating: AtomicBool,
    /// A script has run past `busy-reply-threshold`: waiters stop waiting
    /// and get `-BUSY`.
    pub busy: std::sync::Arc<AtomicBool>,
}

/// Waiting for a lock was given up because a script is busy.
#[derive(Debug)]
pub struct Busy;

pub type Guards<'a> = Vec<(usize, MutexGuard<'a, Shard>)>;

/// How long a waiter sleeps on a lock before it looks at the gate again.
const WAIT_STEP: Duration = Duration::from_micros(200);

impl Store {
    pub fn new(databases: usize) -> Store {
        Store {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::new(databases)))
                .collect(),
            databases,
            gate: Gate::default(),
        }
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        self.shards[shard].lock()
    }

    /// Locks `shards` (ascending, without repeats) for a command. Waiting
    /// while holding some is safe against every other command, which
    /// locks in the same order; against the script thread, which may
    /// lock out of order (`escalate`), a waiter holding shards backs off
    /// and starts over. With `give_up`, waiting ends in `Busy` once a
    /// script is past its busy threshold.
    pub fn acquire(
        &self,
        shards: impl Iterator<Item = usize> + Clone,
        give_up: bool,
    ) -> Result<Guards<'_>, Busy> {
        'again: loop {
            let mut held: Guards<'_> = Vec::with_capacity(shards.size_hint().0);
            for s in shards.clone() {
                let m = &self.shards[s];
                let g = match m.try_lock() {
                    Some(g) => g,
                    None => loop {
                        if let Some(g) = m.try_lock_for(WAIT_STEP) {
                            break g;
                        }
                        if give_up && self.gate.busy.load(SeqCst) {
                            return Err(Busy);
                        }
                        if !held.is_empty() && self.gate.escalating.load(SeqCst) {
                            drop(held);
                            while self.gate.escalating.load(SeqCst) {
                                std::thread::sleep(WAIT_STEP);
                            }
                            continue 'again;
                        }
                    },
                };
                held.push((s, g));
            }
            return Ok(held);
        }
    }

    /// Locks one more shard for the script thread, whatever it holds
    /// already (a script may touch keys it did not declare). Only the
    /// script thread calls this, so there is one such holder at a time,
    /// and every other waiter that holds shards backs off while it waits
    /// (see `acquire`).
    pub fn escalate(&self, shard: usize) -> MutexGuard<'_, Shard> {
        let m = &self.shards[shard];
        if let Some(g) = m.try_lock() {
            return g;
        }
        self.gate.escalating.store(true, SeqCst);
        let g = m.lock();
        self.gate.escalating.store(false, SeqCst);
        g
    }
}

/// The shard that holds `key`.
pub fn shard_of(key: &[u8]) -> usize {
    key_slot(key) as usize % SHARDS
}

/// Redis Cluster's `keyHashSlot`: CRC16 of the key, or of the part between
/// the first `{` and the next `}` when that part is not empty.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = memchr::memchr(b'{', key).and_then(|open| {
        let rest = &key[open + 1..];
        memchr::memchr(b'}', rest)
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) & 0x3FFF
}

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

/// CRC16-CCITT (XMODEM), the variant Redis Cluster uses.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_slots() {
        // Values from Redis's CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }
}
