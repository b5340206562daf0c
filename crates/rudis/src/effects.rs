//! The effects of writes, on one path.
//!
//! Every write reports the keys it changed and the event it was (Redis's
//! `signalModifiedKey` plus `notifyKeyspaceEvent`): a handler through
//! `Ctx::modified`, the keyspace itself through its tables' logs (keys
//! reclaimed by lazy or active expiry, keys created). The reports are
//! drained in one place, while the shards they concern are still locked,
//! so a watcher can never miss a write that a concurrent EXEC would then
//! not see: to WATCH (`Watches`), to keyspace notifications, to blocked
//! clients (after the locks are released) and to the dirty counter.
//! Tracking, persistence and replication hook in at the same place.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::db::table::{LogEntry, Logged};
use crate::db::{Blob, Table, SHARDS};
use crate::server::Server;

/// Keyspace event classes, Redis's `NOTIFY_*` bits.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const LOADED: u32 = 1 << 12;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but key misses and new keys.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// The flag letters in the order Redis prints them.
    const LETTERS: &[(u8, u32)] = &[
        (b'g', GENERIC),
        (b'$', STRING),
        (b'l', LIST),
        (b's', SET),
        (b'h', HASH),
        (b'z', ZSET),
        (b'x', EXPIRED),
        (b'e', EVICTED),
        (b't', STREAM),
        (b'm', KEY_MISS),
        (b'd', MODULE),
        (b'n', NEW),
    ];

    /// Redis's `keyspaceEventsStringToFlags`: `None` for an unknown letter.
    pub fn parse(s: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for &c in s {
            flags |= match c {
                b'A' => ALL,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                _ => LETTERS.iter().find(|(l, _)| *l == c)?.1,
            };
        }
        Some(flags)
    }

    /// Redis's `keyspaceEventsFlagsToString`, which leaves `n` out
    /// after `A` and prints `m` last.
    pub fn format(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for &(l, f) in LETTERS {
                if f != KEY_MISS && flags & f != 0 {
                    s.push(l as char);
                }
            }
        }
        for (l, f) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
            if flags & f != 0 {
                s.push(l);
            }
        }
        s
    }
}

/// Which events the keyspace logs by itself besides expiries (new keys,
/// read misses). A process-wide switch because a table has no way to the
/// server's configuration, and checking it must cost one load on the
/// paths that create keys.
static LOGGED: AtomicU32 = AtomicU32::new(0);

/// Sets what `wants` answers: the `n` and `m` classes of
/// notify-keyspace-events (only when some channel type is on).
pub fn configure(flags: u32) {
    let on = flags & (class::KEYSPACE | class::KEYEVENT) != 0;
    LOGGED.store(
        if on {
            flags & (class::NEW | class::KEY_MISS)
        } else {
            0
        },
        Relaxed,
    );
}

/// Whether the keyspace logs events of `class` (NEW or KEY_MISS).
pub fn wants(class: u32) -> bool {
    LOGGED.load(Relaxed) & class != 0
}

/// A keyspace event to publish.
pub struct Note {
    pub class: u32,
    pub event: &'static str,
    pub db: usize,
    pub key: Blob,
}

/// What a command's writes leave to do once its handler has returned.
#[derive(Default)]
pub struct Effects {
    /// Keyspace events, in the order they happened.
    pub notes: Vec<Note>,
    /// Keys that may have what blocked clients wait for: served once
    /// the command has released its locks.
    pub ready: Vec<(usize, Blob)>,
    /// Changes, for INFO's rdb_changes_since_last_save.
    pub dirty: u64,
    /// Invalidations for the client that ran the command, sent after its
    /// reply.
    pub pending: crate::tracking::Pending,
}

impl Effects {
    /// Takes a table's log of what the keyspace did by itself (expiries,
    /// new keys, misses). `current`: the client whose command this is.
    pub fn drain_table(
        &mut self,
        server: &Server,
        current: Option<u64>,
        db: usize,
        table: &mut Table,
    ) {
        let entries = table.take_log().into_iter().map(|e| (db, e)).collect();
        self.drain_logged(server, current, entries);
    }

    /// Takes logged events of several tables, `(db, entry)`, in the
    /// order they happened: a reclaimed key touches its watchers and its
    /// trackers, as a write does.
    pub fn drain_logged(
        &mut self,
        server: &Server,
        current: Option<u64>,
        mut entries: Vec<(usize, LogEntry)>,
    ) {
        let notify = server.hot.notify_keyspace_events();
        entries.sort_by_key(|(_, (seq, _, _))| *seq);
        for (db, (_, what, key)) in entries {
            match what {
                Logged::Expired | Logged::Evicted => {
                    // A reclaimed or evicted key is a write: Redis's
                    // signalModifiedKey, then its event.
                    server.watches.touch(db, key.as_slice(), false);
                    server
                        .tracking
                        .invalidate(server, key.as_slice(), current, &mut self.pending);
                    let (c, event) = match what {
                        Logged::Expired => (class::EXPIRED, "expired"),
                        _ => (class::EVICTED, "evicted"),
                    };
                    self.note(notify, c, event, db, key);
                }
                Logged::New => self.note(notify, class::NEW, "new", db, key),
                Logged::Miss => self.note(notify, class::KEY_MISS, "keymiss", db, key),
            }
        }
    }

    /// Queues a notification if `notify` (notify-keyspace-events) wants
    /// `class` on some channel.
    pub fn note(&mut self, notify: u32, class: u32, event: &'static str, db: usize, key: Blob) {
        if notify & class != 0 && notify & (class::KEYSPACE | class::KEYEVENT) != 0 {
            self.notes.push(Note {
                class,
                event,
                db,
                key,
            });
        }
    }
}

/// One client's WATCH: the keys it watches, and whether a write to one
/// of them has dirtied it. The client's own thread changes the keys; the
/// mutex is there for the rare reader on the way out (a disconnect).
#[derive(Default)]
pub struct WatchState {
    dirty: AtomicBool,
    /// Whether `keys` has any: transactions without WATCH (the common
    /// case) then never take the mutex.
    watching: AtomicBool,
    keys: Mutex<Vec<(usize, Blob)>>,
}

impl WatchState {
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Relaxed)
    }

    pub fn set_dirty(&self) {
        self.dirty.store(true, Relaxed);
    }

    /// The watched keys, with their databases.
    pub fn keys(&self) -> Vec<(usize, Blob)> {
        if !self.is_watching() {
            return Vec::new();
        }
        self.keys.lock().clone()
    }

    pub fn is_watching(&self) -> bool {
        self.watching.load(Relaxed)
    }
}

struct Watcher {
    state: Arc<WatchState>,
    /// The key had expired (not yet reclaimed) when WATCH was called.
    expired: bool,
}

type Stripe = HashMap<(usize, Blob), Vec<Watcher>>;

/// Every watched key, striped by the key's shard: a write touches its
/// key's stripe while it holds that shard's lock, so EXEC, which holds
/// the shards of its watched keys while it checks, sees every write that
/// came before it and none that come after.
///
/// Lock order: shard locks, then a stripe (never the other way round).
pub struct Watches {
    stripes: Box<[Mutex<Stripe>]>,
    /// Watched (db, key, client) entries; 0 makes `touch` one load.
    count: AtomicUsize,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            stripes: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            count: AtomicUsize::new(0),
        }
    }
}

impl Watches {
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    fn stripe(&self, key: &[u8]) -> &Mutex<Stripe> {
        &self.stripes[crate::db::shard_of(key)]
    }

    /// Adds a watch of `key` in `db` for `state`; false if it was
    /// already watched by it.
    pub fn watch(&self, state: &Arc<WatchState>, db: usize, key: &[u8], expired: bool) -> bool {
        let mut s = self.stripe(key).lock();
        let list = s.entry((db, Blob::new(key))).or_default();
        if list.iter().any(|w| Arc::ptr_eq(&w.state, state)) {
            return false;
        }
        list.push(Watcher {
            state: state.clone(),
            expired,
        });
        self.count.fetch_add(1, Relaxed);
        state.keys.lock().push((db, Blob::new(key)));
        state.watching.store(true, Relaxed);
        true
    }

    /// Drops every watch of `state` and its dirty mark (Redis's
    /// `unwatchAllKeys` and the flag clearing around it).
    pub fn unwatch_all(&self, state: &Arc<WatchState>) {
        if !state.is_watching() {
            state.dirty.store(false, Relaxed);
            return;
        }
        state.watching.store(false, Relaxed);
        let keys = std::mem::take(&mut *state.keys.lock());
        for (db, key) in keys {
            self.unwatch(state, db, key.as_slice());
        }
        state.dirty.store(false, Relaxed);
    }

    /// Removes `state`'s watch of `key` in `db`.
    fn unwatch(&self, state: &Arc<WatchState>, db: usize, key: &[u8]) {
        let mut s = self.stripe(key).lock();
        let id = (db, Blob::new(key));
        if let Some(list) = s.get_mut(&id) {
            let before = list.len();
            list.retain(|w| !Arc::ptr_eq(&w.state, state));
            self.count.fetch_sub(before - list.len(), Relaxed);
            if list.is_empty() {
                s.remove(&id);
            }
        }
    }

    /// Whether `state` watched `key` while it was already expired.
    pub fn watched_expired(&self, state: &Arc<WatchState>, db: usize, key: &[u8]) -> bool {
        let s = self.stripe(key).lock();
        s.get(&(db, Blob::new(key)))
            .is_some_and(|l| l.iter().any(|w| Arc::ptr_eq(&w.state, state) && w.expired))
    }

    /// A write to `key` in `db` (Redis's `touchWatchedKey`); `exists`:
    /// the key is in the table after the write. A watcher that saw the
    /// key already expired is not dirtied by its reclamation (logically
    /// nothing changed), only cleared of that mark.
    pub fn touch(&self, db: usize, key: &[u8], exists: bool) {
        if !self.any() {
            return;
        }
        let mut s = self.stripe(key).lock();
        let Some(list) = s.get_mut(&(db, Blob::new(key))) else {
            return;
        };
        for w in list.iter_mut() {
            if w.expired {
                if !exists {
                    w.expired = false;
                    continue;
                }
                // Redis stops at such a watcher (the rest of the list is
                // left alone too).
                break;
            }
            w.state.set_dirty();
        }
    }

    /// Database `db` emptied (FLUSHDB, FLUSHALL) or swapped with another
    /// (SWAPDB), Redis's `touchAllWatchedKeysInDb`: `emptied(key)` says
    /// whether the key was in `db` before, `replaced(key)` whether the
    /// database now in its place has it (`Some(expired)`).
    pub fn touch_db(
        &self,
        db: usize,
        emptied: impl Fn(&[u8]) -> bool,
        replaced: impl Fn(&[u8]) -> Option<bool>,
    ) {
        if !self.any() {
            return;
        }
        for s in self.stripes.iter() {
            let mut s = s.lock();
            for ((d, key), list) in s.iter_mut() {
                if *d != db {
                    continue;
                }
                let was = emptied(key.as_slice());
                let now = replaced(key.as_slice());
                if !was && now.is_none() {
                    continue;
                }
                for w in list.iter_mut() {
                    if w.expired {
                        match now {
                            None => {
                                w.expired = false;
                                continue;
                            }
                            Some(true) => continue,
                            Some(false) => {}
                        }
                    } else if !was && now == Some(true) {
                        w.expired = true;
                        continue;
                    }
                    w.state.set_dirty();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(class::format(class::parse(b"KEA").unwrap()), "AKE");
        assert_eq!(class::format(class::parse(b"Elg$").unwrap()), "g$lE");
        assert_eq!(class::format(class::parse(b"KAmn").unwrap()), "AKm");
        assert_eq!(class::format(class::parse(b"nmd").unwrap()), "dnm");
        assert_eq!(class::parse(b"Kq"), None);
        assert_eq!(class::format(0), "");
    }

    #[test]
    fn a_touch_dirties_every_watcher_of_the_key_only() {
        let w = Watches::default();
        let (a, b) = (
            Arc::new(WatchState::default()),
            Arc::new(WatchState::default()),
        );
        assert!(w.watch(&a, 0, b"k", false));
        assert!(!w.watch(&a, 0, b"k", false));
        w.watch(&b, 1, b"k", false);
        w.touch(0, b"k", true);
        assert!(a.is_dirty() && !b.is_dirty());
        w.unwatch_all(&a);
        w.unwatch_all(&b);
        assert!(!w.any() && !a.is_dirty());
    }

    #[test]
    fn reclaiming_a_key_watched_as_expired_changes_nothing() {
        let w = Watches::default();
        let a = Arc::new(WatchState::default());
        w.watch(&a, 0, b"k", true);
        w.touch(0, b"k", false);
        assert!(!a.is_dirty());
        assert!(!w.watched_expired(&a, 0, b"k"));
        w.touch(0, b"k", true);
        assert!(a.is_dirty());
    }
}
