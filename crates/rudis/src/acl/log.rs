//! ACL LOG: the most recent refusals, newest first, a repeat of the same
//! refusal within a minute counted on its entry (Redis's
//! `addACLLogEntry`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use resp::Reply;

/// Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA.
const GROUPING_MS: u64 = 60_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Context {
    TopLevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::TopLevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

struct Entry {
    count: u64,
    reason: &'static str,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
    /// Unix milliseconds of the last occurrence.
    at_ms: u64,
    client_info: String,
}

pub struct Log {
    entries: Mutex<VecDeque<Entry>>,
    /// `acllog-max-len`.
    pub max_len: AtomicUsize,
}

impl Default for Log {
    fn default() -> Log {
        Log {
            entries: Mutex::new(VecDeque::new()),
            max_len: AtomicUsize::new(128),
        }
    }
}

impl Log {
    pub fn add(
        &self,
        reason: &'static str,
        context: Context,
        object: &[u8],
        username: &[u8],
        client_info: String,
    ) {
        let now = crate::db::now_ms();
        let mut entries = self.entries.lock();
        // Only the ten newest are looked at, as Redis.
        let same = entries.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.saturating_sub(e.at_ms) <= GROUPING_MS
        });
        let entry = match same.and_then(|i| entries.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.at_ms = now;
                e.client_info = client_info;
                e
            }
            None => Entry {
                count: 1,
                reason,
                context,
                object: object.to_vec(),
                username: username.to_vec(),
                at_ms: now,
                client_info,
            },
        };
        entries.push_front(entry);
        entries.truncate(self.max_len.load(Relaxed));
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Trims to a lowered `acllog-max-len`.
    pub fn trim(&self) {
        let max = self.max_len.load(Relaxed);
        self.entries.lock().truncate(max);
    }

    /// ACL LOG's reply: the `count` newest entries.
    pub fn reply(&self, out: &mut Reply, count: usize) {
        let now = crate::db::now_ms();
        let entries = self.entries.lock();
        let n = entries.len().min(count);
        out.array(n);
        for e in entries.iter().take(n) {
            out.map(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(e.reason.as_bytes());
            out.bulk(b"context");
            out.bulk(e.context.name().as_bytes());
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(&e.username);
            out.bulk(b"age-seconds");
            out.double(now.saturating_sub(e.at_ms) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(e.client_info.trim_end().as_bytes());
        }
    }
}
