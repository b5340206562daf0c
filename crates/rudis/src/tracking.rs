//! Client-side caching (CLIENT TRACKING): which clients may have cached
//! which keys, and the invalidation messages when those keys change.
//!
//! The tracking table is striped by the key's shard, like WATCH's: a
//! reader records its keys while it still holds their shard locks (in
//! `cmd::call`, right after the command), and a writer invalidates them
//! from the write-effects path under the same locks, so no write can slip
//! between a read and its registration. Entries are keyed by key name
//! only (every database), as Redis's. A client that disconnects leaves
//! dead entries behind (skipped, and gone at the key's next change), as
//! Redis leaves its ids.
//!
//! Invalidations for another client go to its outbox (`crate::push`),
//! or to the client it redirects to: as a RESP3 push, or as a message on
//! `__redis__:invalidate` for a RESP2 subscriber. Those for the client
//! running the command are held back and written after its reply.
//! BCAST clients get every change under their prefixes instead, gathered
//! per command.
//!
//! Lock order: shard locks, then a stripe or the prefix table, then an
//! outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use resp::Reply;

use crate::client::ClientHandle;
use crate::db::{Blob, SHARDS};
use crate::server::Server;

/// A client's tracking flags (Redis's CLIENT_TRACKING_*).
pub mod flag {
    pub const ON: u32 = 1 << 0;
    pub const BCAST: u32 = 1 << 1;
    pub const OPTIN: u32 = 1 << 2;
    pub const OPTOUT: u32 = 1 << 3;
    pub const NOLOOP: u32 = 1 << 4;
    pub const BROKEN_REDIR: u32 = 1 << 5;
}

/// What other threads need of a client's tracking: its flags, where its
/// invalidations go (0: to itself), its BCAST prefixes (sorted).
#[derive(Default)]
pub struct ClientTracking {
    pub flags: AtomicU32,
    pub redirect: AtomicU64,
    pub prefixes: Mutex<Vec<Vec<u8>>>,
}

impl ClientTracking {
    pub fn on(&self) -> bool {
        self.flags.load(Relaxed) & flag::ON != 0
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags.load(Relaxed) & f != 0
    }
}

type Holders = Vec<(u64, Weak<ClientHandle>)>;

/// A BCAST prefix: its clients and the keys changed under it since the
/// last broadcast, each with the id of the client that changed it last
/// (for NOLOOP), sorted as Redis's radix tree sends them.
#[derive(Default)]
struct Prefix {
    clients: Vec<Arc<ClientHandle>>,
    keys: BTreeMap<Vec<u8>, u64>,
}

pub struct Tracking {
    stripes: Box<[Mutex<HashMap<Blob, Holders>>]>,
    /// Keys in the table, and (key, client) pairs.
    keys: AtomicUsize,
    items: AtomicUsize,
    /// Clients with tracking on: 0 makes every hook one load.
    clients: AtomicUsize,
    prefixes: Mutex<BTreeMap<Vec<u8>, Prefix>>,
    prefix_count: AtomicUsize,
    /// Consecutive times the table was found over its limit.
    over_limit: AtomicU64,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            stripes: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
            prefixes: Mutex::new(BTreeMap::new()),
            prefix_count: AtomicUsize::new(0),
            over_limit: AtomicU64::new(0),
        }
    }
}

/// The value part of an invalidation message.
pub enum Invalid<'a> {
    Key(&'a [u8]),
    /// Everything (a flush): a null in the tracking client's protocol.
    All,
    /// A prebuilt array of keys (BCAST).
    Keys(&'a [u8]),
}

/// What a command's writes leave for the client that ran it: its own
/// invalidations, sent after its reply.
#[derive(Default)]
pub struct Pending {
    pub keys: Vec<Blob>,
    pub all: bool,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.all
    }
}

impl Tracking {
    #[inline]
    pub fn active(&self) -> bool {
        self.clients.load(Relaxed) > 0
    }

    /// INFO's tracking_clients, tracking_total_keys, _items, _prefixes.
    pub fn counts(&self) -> [usize; 4] {
        [
            self.clients.load(Relaxed),
            self.keys.load(Relaxed),
            self.items.load(Relaxed),
            self.prefix_count.load(Relaxed),
        ]
    }

    /// CLIENT TRACKING ON with its checked options.
    pub fn enable(
        &self,
        client: &Arc<ClientHandle>,
        redirect: u64,
        options: u32,
        prefixes: &[&[u8]],
    ) {
        let t = &client.tracking;
        let old = t.flags.load(Relaxed);
        if old & flag::ON == 0 {
            self.clients.fetch_add(1, Relaxed);
        }
        t.redirect.store(redirect, Relaxed);
        if options & flag::BCAST != 0 {
            let mut table = self.prefixes.lock();
            let mut mine = t.prefixes.lock();
            let all: &[&[u8]] = if prefixes.is_empty() {
                &[b""]
            } else {
                prefixes
            };
            for p in all {
                let entry = table.entry(p.to_vec()).or_insert_with(|| {
                    self.prefix_count.fetch_add(1, Relaxed);
                    Prefix::default()
                });
                if !entry.clients.iter().any(|c| Arc::ptr_eq(c, client)) {
                    entry.clients.push(client.clone());
                    mine.push(p.to_vec());
                }
            }
            mine.sort();
        }
        let keep = old & (flag::OPTIN | flag::OPTOUT);
        t.flags.store(flag::ON | options | keep, Relaxed);
    }

    /// CLIENT TRACKING OFF, RESET, a disconnect.
    pub fn disable(&self, client: &ClientHandle) {
        let t = &client.tracking;
        let mine = std::mem::take(&mut *t.prefixes.lock());
        if !mine.is_empty() {
            let mut table = self.prefixes.lock();
            for p in mine {
                if let Some(entry) = table.get_mut(&p) {
                    entry.clients.retain(|c| c.id != client.id);
                    if entry.clients.is_empty() {
                        table.remove(&p);
                        self.prefix_count.fetch_sub(1, Relaxed);
                    }
                }
            }
        }
        if t.flags.swap(0, Relaxed) & flag::ON != 0 {
            self.clients.fetch_sub(1, Relaxed);
        }
        t.redirect.store(0, Relaxed);
    }

    /// Records that `client` read `key` (Redis's `trackingRememberKeys`).
    /// Called with the key's shard locked.
    pub fn remember(&self, client: &Arc<ClientHandle>, key: &[u8]) {
        let mut s = self.stripes[crate::db::shard_of(key)].lock();
        let holders = match s.get_mut(key) {
            Some(h) => h,
            None => {
                self.keys.fetch_add(1, Relaxed);
                s.entry(Blob::new(key)).or_default()
            }
        };
        if !holders.iter().any(|(id, _)| *id == client.id) {
            holders.push((client.id, Arc::downgrade(client)));
            self.items.fetch_add(1, Relaxed);
        }
    }

    /// `key` changed (Redis's `trackingInvalidateKey`): its holders are
    /// told and forgotten, and BCAST prefixes note it. `current` is the
    /// client whose command made the change, if any: its own
    /// invalidations wait in `pending`.
    pub fn invalidate(
        &self,
        server: &Server,
        key: &[u8],
        current: Option<u64>,
        pending: &mut Pending,
    ) {
        if !self.active() {
            return;
        }
        if self.prefix_count.load(Relaxed) > 0 {
            let mut table = self.prefixes.lock();
            for (p, entry) in table.iter_mut() {
                if key.starts_with(p) {
                    entry.keys.insert(key.to_vec(), current.unwrap_or(0));
                }
            }
        }
        let holders = {
            let mut s = self.stripes[crate::db::shard_of(key)].lock();
            match s.remove(key) {
                Some(h) => h,
                None => return,
            }
        };
        self.keys.fetch_sub(1, Relaxed);
        self.items.fetch_sub(holders.len(), Relaxed);
        for (id, weak) in holders {
            let Some(target) = weak.upgrade() else {
                continue;
            };
            let f = target.tracking.flags.load(Relaxed);
            // A client that switched to BCAST gets no message for keys it
            // read before.
            if f & flag::ON == 0 || f & flag::BCAST != 0 {
                continue;
            }
            if Some(id) == current {
                if f & flag::NOLOOP == 0 {
                    pending.keys.push(Blob::new(key));
                }
                continue;
            }
            send(server, &target, Invalid::Key(key), None);
        }
    }

    /// Every database flushed or swapped: every tracking client is told
    /// that everything is invalid, and the table is emptied.
    pub fn invalidate_all(&self, server: &Server, current: Option<u64>, pending: &mut Pending) {
        if self.active() {
            let clients: Vec<Arc<ClientHandle>> = server.clients.lock().values().cloned().collect();
            for c in clients.iter().filter(|c| c.tracking.on()) {
                if Some(c.id) == current {
                    pending.all = true;
                } else {
                    send(server, c, Invalid::All, None);
                }
            }
        }
        for s in self.stripes.iter() {
            s.lock().clear();
        }
        self.keys.store(0, Relaxed);
        self.items.store(0, Relaxed);
    }

    /// Sends BCAST clients the keys changed under their prefixes since
    /// the last call (Redis does it once per event loop; here once per
    /// command that changed any).
    pub fn broadcast(&self, server: &Server) {
        if self.prefix_count.load(Relaxed) == 0 {
            return;
        }
        let mut table = self.prefixes.lock();
        for entry in table.values_mut() {
            if entry.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut entry.keys);
            let all = keys_array(&keys, None);
            for c in &entry.clients {
                if c.tracking.has(flag::NOLOOP) {
                    if let Some(own) = keys_array(&keys, Some(c.id)) {
                        send(server, c, Invalid::Keys(&own), None);
                    }
                } else if let Some(all) = &all {
                    send(server, c, Invalid::Keys(all), None);
                }
            }
        }
    }

    /// Redis's `trackingLimitUsedSlots`: over `tracking-table-max-keys`,
    /// keys are invalidated (their holders told) until under it again,
    /// with more effort each time the table is still found over it.
    pub fn limit(&self, server: &Server, max: usize) {
        if max == 0 || self.keys.load(Relaxed) <= max {
            self.over_limit.store(0, Relaxed);
            return;
        }
        let mut effort = 100 * (self.over_limit.load(Relaxed) + 1);
        let mut pending = Pending::default();
        let start = rand::random::<usize>() % SHARDS;
        for i in 0..SHARDS {
            if effort == 0 {
                break;
            }
            let stripe = &self.stripes[(start + i) % SHARDS];
            let victims: Vec<Blob> = stripe
                .lock()
                .keys()
                .take(effort as usize)
                .cloned()
                .collect();
            for k in victims {
                effort -= 1;
                self.invalidate(server, k.as_slice(), None, &mut pending);
                if self.keys.load(Relaxed) <= max {
                    self.over_limit.store(0, Relaxed);
                    return;
                }
            }
        }
        self.over_limit.fetch_add(1, Relaxed);
    }
}

/// `*N` of bulk keys, without those last changed by `skip` (NOLOOP);
/// `None` if that leaves nothing.
fn keys_array(keys: &BTreeMap<Vec<u8>, u64>, skip: Option<u64>) -> Option<Vec<u8>> {
    let chosen: Vec<&Vec<u8>> = keys
        .iter()
        .filter(|(_, w)| skip != Some(**w))
        .map(|(k, _)| k)
        .collect();
    if chosen.is_empty() {
        return None;
    }
    let mut r = Reply::new();
    r.array(chosen.len());
    for k in chosen {
        r.bulk(k);
    }
    Some(r.as_bytes().to_vec())
}

/// Redis's `sendTrackingMessage`: the invalidation for `client`, to the
/// client it redirects to if any. With `out` (the running command's
/// client writing its own pending invalidations), the message is
/// appended there instead of to an outbox.
pub fn send(server: &Server, client: &Arc<ClientHandle>, what: Invalid, out: Option<&mut Reply>) {
    let resp3 = client.resp.load(Relaxed) == 3;
    let null: &[u8] = if resp3 { b"_\r\n" } else { b"$-1\r\n" };
    let redirect = client.tracking.redirect.load(Relaxed);
    let mut out = out;
    let target = if redirect != 0 {
        let found = server.clients.lock().get(&redirect).cloned();
        match found {
            Some(t) => {
                if t.id != client.id {
                    out = None;
                }
                t
            }
            None => {
                client.tracking.flags.fetch_or(flag::BROKEN_REDIR, Relaxed);
                if resp3 {
                    let mut r = Reply::new();
                    r.set_resp3(true);
                    r.push(2);
                    r.bulk(b"tracking-redir-broken");
                    r.int(redirect as i64);
                    emit(server, client, r.as_bytes(), out);
                }
                return;
            }
        }
    } else {
        client.clone()
    };
    let mut r = Reply::new();
    if target.resp.load(Relaxed) == 3 {
        r.set_resp3(true);
        r.push(2);
        r.bulk(b"invalidate");
    } else if redirect != 0 && target.subscriptions() > 0 {
        r.array(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
        // A RESP2 connection without redirection has no way to get it.
        return;
    }
    match what {
        Invalid::Key(k) => {
            r.array(1);
            r.bulk(k);
        }
        Invalid::All => r.encoded(null),
        Invalid::Keys(proto) => r.encoded(proto),
    }
    emit(server, &target, r.as_bytes(), out);
}

/// Sends client `id` its own invalidations a command left pending
/// (Redis's `trackingHandlePendingKeyInvalidations`): into `out` when
/// that is the client's own reply buffer, else through its outbox.
pub fn send_pending(server: &Server, id: u64, pending: &Pending, mut out: Option<&mut Reply>) {
    if pending.keys.is_empty() && !pending.all {
        return;
    }
    let Some(client) = server.clients.lock().get(&id).cloned() else {
        return;
    };
    for k in &pending.keys {
        send(
            server,
            &client,
            Invalid::Key(k.as_slice()),
            out.as_deref_mut(),
        );
    }
    if pending.all {
        send(server, &client, Invalid::All, out);
    }
}

fn emit(server: &Server, to: &ClientHandle, bytes: &[u8], out: Option<&mut Reply>) {
    match out {
        Some(out) => out.encoded(bytes),
        None => crate::pubsub::deliver(server, to, bytes),
    }
}
