//! The one path by which other threads send a connection bytes it did
//! not ask for: pub/sub messages, MONITOR lines (and later tracking
//! invalidations). A sender appends the encoded bytes to the client's
//! `Outbox` and wakes its task, which writes them in order with its own
//! replies. Every append is held to the client's output buffer limits
//! (`client-output-buffer-limit`), so a subscriber that stops reading is
//! disconnected instead of growing without bound.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// The client classes of `client-output-buffer-limit`, in Redis's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

/// One class's limits: bytes (0: none) and seconds over the soft limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Redis's defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb
/// 8mb 60.
pub const DEFAULT_LIMITS: [Limit; 3] = [
    Limit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    },
    Limit {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_seconds: 60,
    },
    Limit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_seconds: 60,
    },
];

/// `client-output-buffer-limit` as CONFIG SET parses it: `class hard
/// soft seconds` groups, all or nothing.
pub fn parse_limits(args: &[String], current: [Limit; 3]) -> Result<[Limit; 3], String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut next = current;
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => Class::Normal,
            "slave" | "replica" => Class::Replica,
            "pubsub" => Class::Pubsub,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = crate::config::parse_memory(group[1]).ok_or_else(bad)?;
        let soft = crate::config::parse_memory(group[2]).ok_or_else(bad)?;
        let soft_seconds: i64 = group[3].parse().map_err(|_| bad())?;
        if soft_seconds < 0 {
            return Err(bad().into());
        }
        next[class as usize] = Limit {
            hard,
            soft,
            soft_seconds: soft_seconds as u64,
        };
    }
    Ok(next)
}

/// As CONFIG GET prints the limits.
pub fn format_limits(limits: &[Limit; 3]) -> String {
    ["normal", "slave", "pubsub"]
        .iter()
        .zip(limits)
        .map(|(n, l)| format!("{n} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What other threads have queued for a connection.
#[derive(Default)]
pub struct Outbox {
    queued: Mutex<Vec<u8>>,
    /// Whether `queued` may hold bytes: a connection with nothing pushed
    /// (the common case) checks it without the mutex.
    nonempty: AtomicBool,
    wake: Notify,
    /// Bytes queued plus bytes the connection is writing: what the
    /// limits weigh (Redis's reply list).
    pending: AtomicUsize,
    /// Unix ms when the soft limit was first exceeded (0: it is not).
    soft_since: AtomicU64,
    /// Over a limit: the client is being closed, nothing more is queued.
    closed: AtomicBool,
}

/// Whether an append went through.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The client is over its output buffer limit (or already going):
    /// dropped, and the caller closes the client.
    OverLimit,
}

impl Outbox {
    /// Appends `bytes`, checking `limit` with Redis's rule
    /// (`checkClientOutputBufferLimits`): over the hard limit at once,
    /// or over the soft one for longer than its seconds.
    pub fn push(&self, bytes: &[u8], limit: Limit) -> Pushed {
        if self.closed.load(Relaxed) {
            return Pushed::OverLimit;
        }
        let used = self.pending.load(Relaxed) + bytes.len();
        if over(limit, used as u64, &self.soft_since) {
            self.closed.store(true, Relaxed);
            return Pushed::OverLimit;
        }
        self.queued.lock().extend_from_slice(bytes);
        self.nonempty.store(true, Relaxed);
        self.pending.fetch_add(bytes.len(), Relaxed);
        self.wake.notify_one();
        Pushed::Queued
    }

    /// Whether `extra` bytes of replies on top of what is pending put the
    /// client over `limit` (the same soft-limit clock as pushes).
    pub fn weigh(&self, extra: usize, limit: Limit) -> bool {
        let used = (self.pending.load(Relaxed) + extra) as u64;
        over(limit, used, &self.soft_since)
    }

    /// Takes everything queued (the bytes stay counted as pending until
    /// `written`).
    pub fn take(&self) -> Vec<u8> {
        if !self.nonempty.load(Relaxed) {
            return Vec::new();
        }
        let mut q = self.queued.lock();
        self.nonempty.store(false, Relaxed);
        std::mem::take(&mut *q)
    }

    /// `n` bytes taken with `take` have been written to the socket.
    pub fn written(&self, n: usize) {
        self.pending.fetch_sub(n, Relaxed);
        if self.pending.load(Relaxed) == 0 {
            self.soft_since.store(0, Relaxed);
        }
    }

    /// Wakes the connection without queueing anything.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when something has been queued (or `wake` called) since
    /// it last resolved; kept pinned across waits.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Bytes waiting to reach the client (CLIENT LIST omem).
    pub fn pending(&self) -> usize {
        self.pending.load(Relaxed)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }
}

/// Redis's limit rule for `used` bytes; `soft_since` keeps when the soft
/// limit was first exceeded.
pub fn over(limit: Limit, used: u64, soft_since: &AtomicU64) -> bool {
    if limit.hard > 0 && used >= limit.hard {
        return true;
    }
    if limit.soft > 0 && used >= limit.soft {
        let now = crate::db::now_ms();
        let since = soft_since.load(Relaxed);
        if since == 0 {
            soft_since.store(now, Relaxed);
            return false;
        }
        // Redis compares whole seconds of its clock.
        return now / 1000 - since / 1000 > limit.soft_seconds;
    }
    soft_since.store(0, Relaxed);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print_as_redis() {
        let l = parse_limits(&["pubsub 1mb 512kb 10".into()], DEFAULT_LIMITS).unwrap();
        assert_eq!(
            format_limits(&l),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
        assert!(parse_limits(&["pubsub 1 2".into()], DEFAULT_LIMITS).is_err());
        assert!(parse_limits(&["master 1 2 3".into()], DEFAULT_LIMITS).is_err());
        assert!(parse_limits(&["normal 1 2 -3".into()], DEFAULT_LIMITS).is_err());
    }

    #[test]
    fn the_hard_limit_closes_at_once_and_stays_closed() {
        let o = Outbox::default();
        let limit = Limit {
            hard: 10,
            soft: 0,
            soft_seconds: 0,
        };
        assert_eq!(o.push(b"12345", limit), Pushed::Queued);
        assert_eq!(o.push(b"12345", limit), Pushed::OverLimit);
        assert_eq!(o.push(b"1", limit), Pushed::OverLimit);
        assert_eq!(o.take(), b"12345");
    }

    #[test]
    fn the_soft_limit_needs_time() {
        let o = Outbox::default();
        let limit = Limit {
            hard: 0,
            soft: 4,
            soft_seconds: 0,
        };
        assert_eq!(o.push(b"12345", limit), Pushed::Queued);
        let n = o.take().len();
        o.written(n);
        assert_eq!(o.pending(), 0);
        assert_eq!(o.push(b"1", limit), Pushed::Queued);
    }
}
