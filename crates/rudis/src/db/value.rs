//! The values a key can hold: every type is a variant here, so TYPE,
//! WRONGTYPE and OBJECT ENCODING have one place to look.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use super::blob::Blob;
use super::hash;
use super::list::List;
use super::set;
use super::stream::Stream;
use super::zset::SortedSet;

#[derive(Clone, Debug)]
pub enum Value {
    Str(Blob),
    /// A small hash, compact (see `hash.rs`).
    Hash(Box<[u8]>),
    HashTable(Box<hash::Map>),
    /// A small set of integers, sorted (see `set.rs`).
    IntSet(Box<[i64]>),
    Set(Box<set::SetMap>),
    List(Box<List>),
    /// A small sorted set, compact (see `zset/mod.rs`).
    ZsetPack(Box<[u8]>),
    Zset(Box<SortedSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) | Value::HashTable(_) => "hash",
            Value::IntSet(_) | Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZsetPack(_) | Value::Zset(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis would for the same
    /// value: a string that is a canonical integer is `int`, a short one
    /// `embstr`, an appended-to or long one `raw`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(Blob::Growable(_)) => "raw",
            Value::Str(b) if b.is_plain() => "embstr",
            Value::Str(b) if b.len() <= 20 && resp::num::parse_i64(b.as_slice()).is_some() => "int",
            Value::Str(b) if b.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::Hash(_) | Value::ZsetPack(_) => "listpack",
            Value::Zset(_) => "skiplist",
            Value::HashTable(_) | Value::Set(_) => "hashtable",
            Value::IntSet(_) => "intset",
            // Redis 7.0 keeps every list as a quicklist.
            Value::List(_) => "quicklist",
            Value::Stream(_) => "stream",
        }
    }

    /// An integer Redis keeps as a shared object (0..9999).
    pub fn is_shared_integer(&self) -> bool {
        match self {
            Value::Str(Blob::Growable(_)) => false,
            Value::Str(b) if b.is_plain() => false,
            Value::Str(b) => {
                resp::num::parse_i64(b.as_slice()).is_some_and(|v| (0..10000).contains(&v))
            }
            _ => false,
        }
    }

    /// Whether freeing this value is worth handing to the lazy-free thread
    /// (Redis's `lazyfreeGetFreeEffort` over its threshold of 64): a
    /// collection of many elements, or a large string. O(1).
    pub fn costly_to_free(&self) -> bool {
        const MANY: usize = 64;
        match self {
            Value::Str(b) => b.heap_size() >= super::lazyfree::LAZYFREE_THRESHOLD,
            Value::Hash(_) | Value::IntSet(_) | Value::ZsetPack(_) => false,
            Value::Zset(z) => z.len() > MANY,
            Value::HashTable(m) => m.len() > MANY,
            Value::Set(m) => m.len() > MANY,
            Value::List(l) => l.len() > MANY,
            // Redis counts a stream's tree nodes, and its groups as many
            // times the first one's pending entries.
            Value::Stream(s) => {
                let first_pel = s.groups.values().next().map_or(0, |g| g.pel.len());
                s.tree_nodes() + s.groups.len() * (1 + first_pel) > MANY
            }
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&Blob> {
        match self {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_stream(&self) -> Option<&Stream> {
        match self {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_stream_mut(&mut self) -> Option<&mut Stream> {
        match self {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut Blob> {
        match self {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }
}

/// When a command runs, and whether its lookups count as accesses
/// (Redis's LOOKUP_NOTOUCH and CLIENT NO-TOUCH turn that off).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Unix milliseconds.
    pub ms: u64,
    pub touch: bool,
}

impl Clock {
    pub fn new(ms: u64) -> Clock {
        Clock { ms, touch: true }
    }

    /// The same time, without updating access times.
    pub fn quiet(self) -> Clock {
        Clock {
            touch: false,
            ..self
        }
    }
}

const EXPIRE_BITS: u32 = 42;
/// The latest expiry an entry can hold: 2^42 - 1 ms, early in 2109.
pub const EXPIRE_MAX: u64 = (1 << EXPIRE_BITS) - 1;
/// The access clock: seconds, wrapping every 2^22 s (48.5 days).
const LRU_MASK: u64 = (1 << (64 - EXPIRE_BITS)) - 1;
/// Under an LFU policy the same 22 bits hold, as Redis's 24, a time of
/// last decrement in minutes (14 bits here, wrapping every 11.4 days;
/// Redis's 16 wrap every 45) above an 8-bit logarithmic counter.
const LFU_MINUTES_MASK: u64 = (1 << 14) - 1;
/// Redis's LFU_INIT_VAL: a new key's counter, so it can gather a few
/// accesses before it is a candidate.
const LFU_INIT: u64 = 5;

/// How the access bits are kept: a process-wide switch, because an
/// entry has no way to the server's configuration and touching it must
/// cost one load. Set from `maxmemory-policy`, `lfu-log-factor` and
/// `lfu-decay-time`.
static LFU: AtomicBool = AtomicBool::new(false);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

pub fn configure_access(lfu: bool, log_factor: u32, decay_time: u32) {
    LFU.store(lfu, Relaxed);
    LFU_LOG_FACTOR.store(log_factor, Relaxed);
    LFU_DECAY_TIME.store(decay_time, Relaxed);
}

fn lfu_minutes(now_ms: u64) -> u64 {
    (now_ms / 60_000) & LFU_MINUTES_MASK
}

/// A key's value, its absolute expiry (Unix ms, 0: none; Redis never
/// stores a non-positive one) and its last access time (or LFU state),
/// the latter two packed in one word so an entry stays 32 bytes.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    meta: u64,
}

impl Entry {
    pub fn new(value: Value, expire_at: u64, now: Clock) -> Entry {
        let mut e = Entry { value, meta: 0 };
        e.set_expire_at(expire_at);
        if LFU.load(Relaxed) {
            e.set_access(lfu_minutes(now.ms) << 8 | LFU_INIT);
        } else {
            e.set_access((now.ms / 1000) & LRU_MASK);
        }
        e
    }

    pub fn expire_at(&self) -> u64 {
        self.meta & EXPIRE_MAX
    }

    /// Sets the expiry; times after `EXPIRE_MAX` are stored as it.
    pub fn set_expire_at(&mut self, at: u64) {
        self.meta = (self.meta & !EXPIRE_MAX) | at.min(EXPIRE_MAX);
    }

    pub fn is_expired(&self, now: u64) -> bool {
        let at = self.expire_at();
        at != 0 && at <= now
    }

    fn access(&self) -> u64 {
        self.meta >> EXPIRE_BITS
    }

    /// The access clock or LFU state as stored (DEBUG OBJECT's lru).
    pub fn access_bits(&self) -> u64 {
        self.access()
    }

    fn set_access(&mut self, bits: u64) {
        self.meta = (self.meta & EXPIRE_MAX) | ((bits & LRU_MASK) << EXPIRE_BITS);
    }

    /// Records an access at `now_ms`: the time under LRU, under LFU the
    /// counter decayed then incremented (Redis's `updateLFU`).
    pub fn touch(&mut self, now_ms: u64) {
        if LFU.load(Relaxed) {
            let c = lfu_log_incr(self.lfu_count(now_ms));
            self.set_access(lfu_minutes(now_ms) << 8 | c as u64);
        } else {
            self.set_access((now_ms / 1000) & LRU_MASK);
        }
    }

    /// A new value for a key that had `old`: under LFU it keeps the old
    /// counter, touched by the write's lookup (Redis's `dbOverwrite`).
    pub fn inherit_access(&mut self, old: &Entry, now: Clock) {
        if LFU.load(Relaxed) {
            self.set_access(old.access());
            if now.touch {
                self.touch(now.ms);
            }
        }
    }

    /// RESTORE's IDLETIME: last accessed `secs` ago. Only an LRU or no
    /// policy keeps access times (as Redis's `objectSetLRUOrLFU`).
    pub fn set_idle(&mut self, secs: u64, now_ms: u64) {
        if !LFU.load(Relaxed) {
            self.set_access((now_ms / 1000).wrapping_sub(secs) & LRU_MASK);
        }
    }

    /// RESTORE's FREQ: the LFU counter, under an LFU policy only.
    pub fn set_lfu(&mut self, freq: u8, now_ms: u64) {
        if LFU.load(Relaxed) {
            self.set_access(lfu_minutes(now_ms) << 8 | freq as u64);
        }
    }

    /// Seconds since the last access, as Redis's `estimateObjectIdleTime`
    /// (the clock wraps; an idle time longer than a wrap reads short).
    pub fn idle_seconds(&self, now_ms: u64) -> u64 {
        let clock = (now_ms / 1000) & LRU_MASK;
        let lru = self.access();
        if clock >= lru {
            clock - lru
        } else {
            clock + (LRU_MASK - lru)
        }
    }

    /// The LFU counter with the decay since its last decrement applied
    /// (Redis's `LFUDecrAndReturn`; the entry is left as it is).
    pub fn lfu_count(&self, now_ms: u64) -> u8 {
        let bits = self.access();
        let (ldt, counter) = (bits >> 8, bits & 255);
        let now = lfu_minutes(now_ms);
        let elapsed = if now >= ldt {
            now - ldt
        } else {
            LFU_MINUTES_MASK - ldt + now
        };
        let decay = LFU_DECAY_TIME.load(Relaxed) as u64;
        let periods = elapsed.checked_div(decay).unwrap_or(0);
        counter.saturating_sub(periods) as u8
    }
}

/// Redis's `LFULogIncr`: the higher the counter, the less likely an
/// access raises it; it saturates at 255.
fn lfu_log_incr(counter: u8) -> u8 {
    if counter == 255 {
        return 255;
    }
    let r: f64 = rand::random();
    let base = (counter as f64 - LFU_INIT as f64).max(0.0);
    let p = 1.0 / (base * LFU_LOG_FACTOR.load(Relaxed) as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_expiry_and_access_time() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        let now = 1_795_000_000_123;
        let mut e = Entry::new(Value::Str(Blob::new(b"v")), now + 5000, Clock::new(now));
        assert_eq!(e.expire_at(), now + 5000);
        assert_eq!(e.idle_seconds(now + 61_000), 61);
        e.set_expire_at(0);
        assert_eq!(e.expire_at(), 0);
        assert_eq!(e.idle_seconds(now + 61_000), 61);
        e.touch(now + 61_000);
        assert_eq!(e.idle_seconds(now + 61_500), 0);
        e.set_expire_at(u64::MAX);
        assert_eq!(e.expire_at(), EXPIRE_MAX);
    }
}
