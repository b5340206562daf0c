//! Clients blocked on list keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP).
//!
//! A blocked client costs no thread and holds no lock: its command
//! registers a `Waiter` under each of its keys and the connection's task
//! awaits a one-shot channel. A command that pushes to a key with waiters
//! notes the key; once that command has released its locks, the pusher's
//! thread serves the waiters first come, first served (Redis's
//! `handleClientsBlockedOnKeys`): it locks the key (and a move's
//! destination), pops for the first waiter, encodes the reply in that
//! client's protocol and sends it, and goes on while the list has
//! elements. Whoever takes a waiter out of the registry first — a server,
//! the client's own timeout, CLIENT UNBLOCK, a disconnect — decides its
//! outcome, so each blocked command ends exactly once.
//!
//! Lock order: shard locks, then the registry's mutex (held briefly, never
//! while waiting for a shard).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use parking_lot::Mutex;
use resp::Reply;
use tokio::sync::oneshot;

use crate::cmd::list::{pop_event, push_event};
use crate::db::list::End;
use crate::db::{shard_of, Blob, Clock, Value};
use crate::effects::class::{GENERIC, LIST};
use crate::effects::Effects;
use crate::server::Server;

/// What a blocked command does once one of its keys has elements.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// BLPOP / BRPOP (`count: None`: reply `[key, element]`) and BLMPOP
    /// (`count: Some(n)`: reply `[key, [elements]]`).
    Pop { end: End, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH: reply the element.
    Move { dst: Blob, from: End, to: End },
}

pub struct Waiter {
    pub client_id: u64,
    /// Has a timeout (INFO clients_in_timeout_table).
    pub timed: bool,
    pub db: usize,
    pub keys: Vec<Blob>,
    pub op: BlockOp,
    pub resp3: bool,
    claimed: AtomicBool,
    tx: Mutex<Option<oneshot::Sender<Vec<u8>>>>,
}

impl Waiter {
    pub fn new(
        client_id: u64,
        timed: bool,
        db: usize,
        keys: Vec<Blob>,
        op: BlockOp,
        resp3: bool,
    ) -> (Arc<Waiter>, oneshot::Receiver<Vec<u8>>) {
        let (tx, rx) = oneshot::channel();
        let w = Waiter {
            client_id,
            timed,
            db,
            keys,
            op,
            resp3,
            claimed: AtomicBool::new(false),
            tx: Mutex::new(Some(tx)),
        };
        (Arc::new(w), rx)
    }

    /// Sends the blocked command's reply (after a successful `claim`).
    pub fn deliver(&self, reply: Vec<u8>) {
        if let Some(tx) = self.tx.lock().take() {
            let _ = tx.send(reply);
        }
    }

    /// The reply of a blocked command that timed out: a null array.
    pub fn timeout_reply(&self) -> Vec<u8> {
        let mut r = Reply::new();
        r.set_resp3(self.resp3);
        r.null_array();
        r.as_bytes().to_vec()
    }
}

/// The waiters on each (database, key), oldest first.
type Queues = HashMap<(usize, Blob), VecDeque<Arc<Waiter>>>;

#[derive(Default)]
pub struct Blocking {
    queues: Mutex<Queues>,
    /// Blocked clients (INFO's blocked_clients), and those of them with
    /// a timeout (clients_in_timeout_table).
    count: AtomicUsize,
    timed: AtomicUsize,
}

impl Blocking {
    pub fn count(&self) -> usize {
        self.count.load(Relaxed)
    }

    pub fn timed(&self) -> usize {
        self.timed.load(Relaxed)
    }

    /// Whether pushes need to note their keys at all.
    pub fn any(&self) -> bool {
        self.count() > 0
    }

    pub fn register(&self, w: Arc<Waiter>) {
        let mut q = self.queues.lock();
        for k in &w.keys {
            q.entry((w.db, k.clone())).or_default().push_back(w.clone());
        }
        self.count.fetch_add(1, Relaxed);
        self.timed.fetch_add(w.timed as usize, Relaxed);
    }

    /// The waiters on a key, oldest first.
    fn waiters(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let q = self.queues.lock();
        q.get(&(db, Blob::new(key)))
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys waited on in database `db`.
    pub fn keys_in(&self, db: usize) -> Vec<Blob> {
        if !self.any() {
            return Vec::new();
        }
        let q = self.queues.lock();
        q.keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    pub fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        self.any() && self.queues.lock().contains_key(&(db, Blob::new(key)))
    }

    /// Takes `w` out of the registry; false if someone already did.
    pub fn claim(&self, w: &Arc<Waiter>) -> bool {
        let mut q = self.queues.lock();
        if w.claimed.swap(true, Relaxed) {
            return false;
        }
        for k in &w.keys {
            let id = (w.db, k.clone());
            if let Some(list) = q.get_mut(&id) {
                list.retain(|x| !Arc::ptr_eq(x, w));
                if list.is_empty() {
                    q.remove(&id);
                }
            }
        }
        self.count.fetch_sub(1, Relaxed);
        self.timed.fetch_sub(w.timed as usize, Relaxed);
        true
    }
}

/// Serves the clients blocked on `keys` of database `db`, which a command
/// that has just finished pushed to.
pub fn serve(server: &Server, db: usize, keys: Vec<Blob>, now: u64) {
    let mut ready: VecDeque<Blob> = keys.into();
    while let Some(key) = ready.pop_front() {
        for w in server.blocking.waiters(db, key.as_slice()) {
            match serve_one(server, db, &key, &w, now) {
                Served::Done(Some(dst)) => ready.push_back(dst),
                Served::Done(None) | Served::Skipped => {}
                Served::Empty => break,
            }
        }
    }
}

enum Served {
    /// The waiter got its reply; a move names its destination, which may
    /// have waiters of its own now.
    Done(Option<Blob>),
    /// This waiter cannot be served (gone, or a move to a non-list).
    Skipped,
    /// The list has nothing left.
    Empty,
}

fn serve_one(server: &Server, db: usize, key: &Blob, w: &Arc<Waiter>, now: u64) -> Served {
    let clock = Clock::new(now);
    let dst = match &w.op {
        BlockOp::Move { dst, .. } => Some(dst.clone()),
        BlockOp::Pop { .. } => None,
    };
    let mut shards = vec![shard_of(key.as_slice())];
    if let Some(d) = &dst {
        shards.push(shard_of(d.as_slice()));
    }
    shards.sort_unstable();
    shards.dedup();
    let Ok(mut guards) = server.store.acquire(shards.iter().copied(), false) else {
        return Served::Skipped;
    };
    let table = |k: &[u8]| {
        shards
            .iter()
            .position(|&s| s == shard_of(k))
            .expect("locked above")
    };
    let ki = table(key.as_slice());
    let Some(pos) = guards[ki].1.dbs[db].find(key.as_slice(), clock) else {
        return Served::Empty;
    };
    match &guards[ki].1.dbs[db].at(pos).1.value {
        Value::List(l) if !l.is_empty() => {}
        _ => return Served::Empty,
    }
    if let Some(d) = &dst {
        let di = table(d.as_slice());
        let t = &mut guards[di].1.dbs[db];
        if let Some(p) = t.find(d.as_slice(), clock) {
            if !matches!(t.at(p).1.value, Value::List(_)) {
                // Redis ends the blocked move with the type error and
                // leaves the element where it was.
                if server.blocking.claim(w) {
                    drop(guards);
                    let mut r = Reply::new();
                    r.set_resp3(w.resp3);
                    r.error(crate::errors::WRONGTYPE.as_bytes());
                    w.deliver(r.as_bytes().to_vec());
                }
                return Served::Skipped;
            }
        }
    }
    if !server.blocking.claim(w) {
        return Served::Skipped;
    }
    let mut reply = Reply::new();
    reply.set_resp3(w.resp3);
    let t = &mut guards[ki].1.dbs[db];
    let Value::List(list) = &mut t.at_mut(pos).value else {
        unreachable!("checked above")
    };
    let mut moved = None;
    match &w.op {
        BlockOp::Pop { end, count: None } => {
            let v = list.pop(*end).unwrap_or_else(|| Blob::new(b""));
            reply.array(2);
            reply.bulk(key.as_slice());
            reply.bulk(v.as_slice());
        }
        BlockOp::Pop {
            end,
            count: Some(n),
        } => {
            let n = (*n).min(list.len());
            reply.array(2);
            reply.bulk(key.as_slice());
            reply.array(n);
            for _ in 0..n {
                if let Some(v) = list.pop(*end) {
                    reply.bulk(v.as_slice());
                }
            }
        }
        BlockOp::Move { from, .. } => {
            let v = list.pop(*from).unwrap_or_else(|| Blob::new(b""));
            reply.bulk(v.as_slice());
            moved = Some(v);
        }
    }
    let emptied = list.is_empty();
    if emptied {
        t.remove_at(pos);
    }
    // The write's effects, as a command's (see `crate::effects`): a move
    // reports its push first, as Redis.
    let notify = server.hot.notify_keyspace_events();
    let mut fx = Effects::default();
    if let (Some(v), BlockOp::Move { dst, to, .. }) = (moved, &w.op) {
        let di = table(dst.as_slice());
        let t = &mut guards[di].1.dbs[db];
        let p = match t.find(dst.as_slice(), clock) {
            Some(p) => p,
            None => t.add(dst.as_slice(), Value::List(Box::default()), clock),
        };
        if let Value::List(l) = &mut t.at_mut(p).value {
            l.push(*to, v);
        }
        server.watches.touch(db, dst.as_slice(), true);
        server
            .tracking
            .invalidate(server, dst.as_slice(), Some(w.client_id), &mut fx.pending);
        fx.drain_table(server, Some(w.client_id), db, t);
        fx.note(notify, LIST, push_event(*to), db, dst.clone());
    }
    let end = match &w.op {
        BlockOp::Pop { end, .. } => *end,
        BlockOp::Move { from, .. } => *from,
    };
    let t = &mut guards[ki].1.dbs[db];
    server.watches.touch(db, key.as_slice(), !emptied);
    server
        .tracking
        .invalidate(server, key.as_slice(), Some(w.client_id), &mut fx.pending);
    fx.drain_table(server, Some(w.client_id), db, t);
    fx.note(notify, LIST, pop_event(end), db, key.clone());
    if emptied {
        fx.note(notify, GENERIC, "del", db, key.clone());
    }
    drop(guards);
    w.deliver(reply.as_bytes().to_vec());
    // The served client's own invalidations follow its reply.
    crate::tracking::send_pending(server, w.client_id, &fx.pending, None);
    crate::pubsub::publish_notes(server, fx.notes);
    server.tracking.broadcast(server);
    Served::Done(dst)
}
