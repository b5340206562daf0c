//! Clients blocked on keys: lists (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP) and sorted sets (BZPOPMIN, BZPOPMAX, BZMPOP), through one
//! registry and one serving path; each family says, in its own group,
//! when a key is ready for its waiters and how to serve one
//! (`crate::cmd::list::blocking::serve`, `crate::cmd::zset::blocking::serve`).
//!
//! A blocked client costs no thread and holds no lock: its command
//! registers a `Waiter` under each of its keys and the connection's task
//! awaits a one-shot channel. A command that writes a key with waiters
//! notes the key; once that command has released its locks, the writer's
//! thread serves the waiters first come, first served (Redis's
//! `handleClientsBlockedOnKeys`): it locks the key (and a move's
//! destination), lets the family serve the first waiter whose family the
//! key's value belongs to, encodes the reply in that client's protocol
//! and sends it, and goes on while the key has something left. A key that
//! changed type keeps the waiters of the other family waiting; one that
//! is gone ends the round. Whoever takes a waiter out of the registry
//! first — a server, the client's own timeout, CLIENT UNBLOCK, a
//! disconnect — decides its outcome, so each blocked command ends
//! exactly once.
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

use crate::cmd::zset::Where;
use crate::db::list::End;
use crate::db::{shard_of, Blob, Clock, Guards, Table, Value};
use crate::effects::Effects;
use crate::server::Server;

/// What a blocked command does once one of its keys is ready.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// BLPOP / BRPOP (`count: None`: reply `[key, element]`) and BLMPOP
    /// (`count: Some(n)`: reply `[key, [elements]]`).
    Pop { end: End, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH: reply the element.
    Move { dst: Blob, from: End, to: End },
    /// BZPOPMIN / BZPOPMAX (`count: None`: reply `[key, member, score]`)
    /// and BZMPOP (`count: Some(n)`: reply `[key, [[member, score]...]]`).
    ZPop { end: Where, count: Option<usize> },
    /// XREAD (`group: None`) and XREADGROUP: reply `[[key, [entries]]]`
    /// (a map in RESP3) once the key's stream has an entry after the
    /// one for that key in `after` (same order as the waiter's keys), or
    /// for a group after what it last delivered.
    XRead {
        after: Vec<crate::db::stream::StreamId>,
        count: u64,
        group: Option<GroupRead>,
    },
}

/// A blocked XREADGROUP's group, consumer and NOACK.
#[derive(Clone, Debug)]
pub struct GroupRead {
    pub group: Blob,
    pub consumer: Blob,
    pub noack: bool,
}

impl BlockOp {
    /// Whether `v` is what this waiter waits for (Redis serves a key's
    /// waiters of its value's type only).
    fn ready_on(&self, keys: &[Blob], key: &Blob, v: &Value) -> bool {
        match self {
            BlockOp::Pop { .. } | BlockOp::Move { .. } => {
                matches!(v, Value::List(l) if !l.is_empty())
            }
            BlockOp::ZPop { .. } => v.as_zset().is_some_and(|z| !z.is_empty()),
            BlockOp::XRead { after, group, .. } => {
                let Some(s) = v.as_stream() else {
                    return false;
                };
                match group {
                    // A group that is gone is answered with an error.
                    Some(g) => s
                        .groups
                        .get(g.group.as_slice())
                        .is_none_or(|grp| s.last_id > grp.last_id),
                    None => keys
                        .iter()
                        .position(|k| k == key)
                        .is_some_and(|i| s.last_id > after[i]),
                }
            }
        }
    }

    /// A key the serving writes to besides the one waited on.
    fn destination(&self) -> Option<&Blob> {
        match self {
            BlockOp::Move { dst, .. } => Some(dst),
            _ => None,
        }
    }
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
/// that has just finished wrote to.
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
    /// This waiter cannot be served (gone, or the key holds another
    /// family's value).
    Skipped,
    /// The key has nothing left.
    Empty,
}

/// The locked shards of one serving, by key.
pub struct Tables<'g, 'a> {
    guards: &'g mut Guards<'a>,
    db: usize,
}

impl Tables<'_, '_> {
    pub fn get(&mut self, key: &[u8]) -> &mut Table {
        let shard = shard_of(key);
        let i = self
            .guards
            .iter()
            .position(|(s, _)| *s == shard)
            .expect("the served keys' shards are locked");
        &mut self.guards[i].1.dbs[self.db]
    }
}

/// A waiter being served: where its family's code writes the reply and
/// reports what it changed.
pub struct Serving<'s, 'g, 'a> {
    pub server: &'s Server,
    pub client_id: u64,
    pub db: usize,
    pub clock: Clock,
    pub tables: Tables<'g, 'a>,
    pub reply: Reply,
    pub fx: Effects,
    notify: u32,
}

impl Serving<'_, '_, '_> {
    /// Reports a write to `key` as a command's (see `crate::effects`):
    /// watchers, trackers, what the table logged, the event.
    pub fn report(&mut self, key: &Blob, class: u32, event: &'static str) {
        let (server, db, id) = (self.server, self.db, self.client_id);
        let t = self.tables.get(key.as_slice());
        server
            .watches
            .touch(db, key.as_slice(), t.peek(key.as_slice()).is_some());
        server
            .tracking
            .invalidate(server, key.as_slice(), Some(id), &mut self.fx.pending);
        self.fx.drain_table(server, Some(id), db, t);
        self.fx.note(self.notify, class, event, db, key.clone());
    }

    /// An event without a write of its own (a `del` after the last pop).
    pub fn note(&mut self, key: &Blob, class: u32, event: &'static str) {
        self.fx
            .note(self.notify, class, event, self.db, key.clone());
    }
}

/// What a family's serving did.
pub enum Outcome {
    /// Served; a key that may now be ready for others (a move's
    /// destination).
    Served(Option<Blob>),
    /// The command ends with this error (Redis's blocked BLMOVE to a key
    /// of another type); nothing changed.
    Refused(&'static str),
}

const KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";

fn serve_one(server: &Server, db: usize, key: &Blob, w: &Arc<Waiter>, now: u64) -> Served {
    let clock = Clock::new(now);
    let mut shards = vec![shard_of(key.as_slice())];
    if let Some(d) = w.op.destination() {
        shards.push(shard_of(d.as_slice()));
    }
    shards.sort_unstable();
    shards.dedup();
    let Ok(mut guards) = server.store.acquire(shards.iter().copied(), false) else {
        return Served::Skipped;
    };
    let mut tables = Tables {
        guards: &mut guards,
        db,
    };
    let t = tables.get(key.as_slice());
    let found = t.find(key.as_slice(), clock);
    if let BlockOp::XRead { group, .. } = &w.op {
        let stream = found.is_some_and(|p| t.at(p).1.value.as_stream().is_some());
        if !stream {
            // A group reader's key is gone: it is told so. A plain
            // reader waits on, and so may the next waiter.
            if group.is_some() && server.blocking.claim(w) {
                let mut r = Reply::new();
                r.set_resp3(w.resp3);
                r.error(KEY_GONE.as_bytes());
                w.deliver(r.as_bytes().to_vec());
            }
            return Served::Skipped;
        }
    }
    let Some(pos) = found else {
        return Served::Empty;
    };
    let value = &t.at(pos).1.value;
    if !w.op.ready_on(&w.keys, key, value) {
        // Stream readers each wait for their own ID: the next may be
        // ready when this one is not.
        let same_family_empty = match &w.op {
            BlockOp::ZPop { .. } => value.as_zset().is_some(),
            BlockOp::XRead { .. } => false,
            _ => matches!(value, Value::List(_)),
        };
        return if same_family_empty {
            Served::Empty
        } else {
            Served::Skipped
        };
    }
    if !server.blocking.claim(w) {
        return Served::Skipped;
    }
    let mut reply = Reply::new();
    reply.set_resp3(w.resp3);
    let mut s = Serving {
        server,
        client_id: w.client_id,
        db,
        clock,
        tables,
        reply,
        fx: Effects::default(),
        notify: server.hot.notify_keyspace_events(),
    };
    let outcome = match &w.op {
        BlockOp::ZPop { end, count } => {
            crate::cmd::zset::blocking::serve(&mut s, key, *end, *count)
        }
        BlockOp::XRead {
            after,
            count,
            group,
        } => {
            let i = w.keys.iter().position(|k| k == key).unwrap_or(0);
            crate::cmd::stream::blocking::serve(&mut s, key, after[i], *count, group.as_ref())
        }
        op => crate::cmd::list::blocking::serve(&mut s, key, op),
    };
    let Serving { reply, fx, .. } = s;
    drop(guards);
    match outcome {
        Outcome::Refused(msg) => {
            let mut r = Reply::new();
            r.set_resp3(w.resp3);
            r.error(msg.as_bytes());
            w.deliver(r.as_bytes().to_vec());
            Served::Skipped
        }
        Outcome::Served(next) => {
            w.deliver(reply.as_bytes().to_vec());
            // The served client's own invalidations follow its reply.
            crate::tracking::send_pending(server, w.client_id, &fx.pending, None);
            crate::pubsub::publish_notes(server, fx.notes);
            server.tracking.broadcast(server);
            Served::Done(next)
        }
    }
}
