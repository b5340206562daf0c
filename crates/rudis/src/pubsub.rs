//! Publish/subscribe: who listens to which channel or pattern, and
//! delivery through each subscriber's `push::Outbox`.
//!
//! The registry is shared by every thread behind read/write locks: a
//! PUBLISH (and every keyspace notification) takes the read side, so
//! publishers on different threads never wait for each other;
//! subscribing takes the write side briefly. A message is encoded once
//! per protocol and copied into each subscriber's outbox; the
//! subscriber's own thread writes it. A subscriber over its output
//! buffer limit is closed (Redis's `closeClientOnOutputBufferLimitReached`).
//!
//! Lock order: shard locks (notifications of a command may be published
//! while its shards are held), then the registry, then an outbox.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use parking_lot::RwLock;
use resp::Reply;

use crate::client::ClientHandle;
use crate::db::Blob;
use crate::effects::{class, Note};
use crate::glob::Pattern;
use crate::push::{Class, Pushed};
use crate::server::Server;

/// The channels of one kind (plain or shard): channel to subscribers,
/// in subscription order.
type Channels = HashMap<Blob, Vec<Arc<ClientHandle>>>;

struct PatternSubs {
    pattern: Blob,
    matcher: Pattern,
    clients: Vec<Arc<ClientHandle>>,
}

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<Channels>,
    shard_channels: RwLock<Channels>,
    patterns: RwLock<Vec<PatternSubs>>,
}

/// Plain channels or shard channels (SSUBSCRIBE / SPUBLISH).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Plain,
    Shard,
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<Channels> {
        match kind {
            Kind::Plain => &self.channels,
            Kind::Shard => &self.shard_channels,
        }
    }

    pub fn subscribe(&self, kind: Kind, channel: &[u8], client: &Arc<ClientHandle>) {
        self.map(kind)
            .write()
            .entry(Blob::new(channel))
            .or_default()
            .push(client.clone());
    }

    pub fn unsubscribe(&self, kind: Kind, channel: &[u8], id: u64) {
        let mut map = self.map(kind).write();
        let key = Blob::new(channel);
        if let Some(list) = map.get_mut(&key) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                // Gone when nobody listens, so channels cannot pile up.
                map.remove(&key);
            }
        }
    }

    pub fn psubscribe(&self, pattern: &[u8], client: &Arc<ClientHandle>) {
        let mut all = self.patterns.write();
        match all.iter_mut().find(|p| p.pattern.as_slice() == pattern) {
            Some(p) => p.clients.push(client.clone()),
            None => all.push(PatternSubs {
                pattern: Blob::new(pattern),
                matcher: Pattern::new(pattern, false),
                clients: vec![client.clone()],
            }),
        }
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) {
        let mut all = self.patterns.write();
        if let Some(i) = all.iter().position(|p| p.pattern.as_slice() == pattern) {
            all[i].clients.retain(|c| c.id != id);
            if all[i].clients.is_empty() {
                all.swap_remove(i);
            }
        }
    }

    /// The active channels matching `pattern` (all without one).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Blob> {
        let m = pattern.map(|p| Pattern::new(p, false));
        self.map(kind)
            .read()
            .keys()
            .filter(|c| m.as_ref().is_none_or(|m| m.matches(c.as_slice())))
            .cloned()
            .collect()
    }

    /// Subscribers of `channel`. A client already killed (over its output
    /// limit) but not yet gone is left out, as PUBLISH leaves it out: in
    /// Redis it is freed before the next command runs.
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind)
            .read()
            .get(&Blob::new(channel))
            .map_or(0, |list| {
                list.iter().filter(|c| !c.killed.load(Relaxed)).count()
            })
    }

    /// Distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Channel counts for INFO (channels, patterns, shard channels).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.channels.read().len(),
            self.numpat(),
            self.shard_channels.read().len(),
        )
    }
}

/// A message encoded once per protocol, on first need.
struct Encoded<'a> {
    parts: &'a [&'a [u8]],
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl<'a> Encoded<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Encoded {
            parts,
            resp2: None,
            resp3: None,
        }
    }

    fn for_client(&mut self, resp3: bool) -> &[u8] {
        let parts = self.parts;
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let mut r = Reply::new();
            r.set_resp3(resp3);
            r.push(parts.len());
            for p in parts {
                r.bulk(p);
            }
            r.as_bytes().to_vec()
        })
    }
}

/// Queues `bytes` for `client`, closing it if that puts it over its
/// output buffer limit.
pub fn deliver(server: &Server, client: &ClientHandle, bytes: &[u8]) {
    let class = if client.subscriptions() > 0 {
        Class::Pubsub
    } else {
        Class::Normal
    };
    if client.outbox.push(bytes, server.hot.obuf_limit(class)) == Pushed::OverLimit {
        close_over_limit(server, client);
    } else {
        // A subscriber that does not read grows here, not in its own
        // loop.
        crate::evict::client_memory_changed(server, client);
    }
}

/// Closes a client whose output went over its limit (once).
pub fn close_over_limit(server: &Server, client: &ClientHandle) {
    let _ = server;
    if !client.killed.swap(true, Relaxed) {
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            client.id,
            client.addr
        );
        client.kill_signal.notify_one();
        client.outbox.wake();
    }
}

/// PUBLISH / SPUBLISH: delivers `message` to the channel's subscribers
/// (and, for plain channels, to every matching pattern's) and returns
/// how many received it. A killed client that has not left yet receives
/// nothing: Redis frees it at once.
pub fn publish(server: &Server, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    let ps = &server.pubsub;
    let mut receivers = 0;
    let word: &[u8] = match kind {
        Kind::Plain => b"message",
        Kind::Shard => b"smessage",
    };
    if let Some(list) = ps.map(kind).read().get(&Blob::new(channel)) {
        let parts = [word, channel, message];
        let mut msg = Encoded::new(&parts);
        for c in list.iter().filter(|c| !c.killed.load(Relaxed)) {
            deliver(server, c, msg.for_client(c.resp.load(Relaxed) == 3));
            receivers += 1;
        }
    }
    if kind == Kind::Shard {
        return receivers;
    }
    for p in ps.patterns.read().iter() {
        if !p.matcher.matches(channel) {
            continue;
        }
        let parts = [&b"pmessage"[..], p.pattern.as_slice(), channel, message];
        let mut msg = Encoded::new(&parts);
        for c in p.clients.iter().filter(|c| !c.killed.load(Relaxed)) {
            deliver(server, c, msg.for_client(c.resp.load(Relaxed) == 3));
            receivers += 1;
        }
    }
    receivers
}

/// Publishes keyspace notifications (Redis's `notifyKeyspaceEvent`):
/// `__keyspace@<db>__:<key> <event>` and `__keyevent@<db>__:<event>
/// <key>`, as notify-keyspace-events asks.
pub fn publish_notes(server: &Server, notes: Vec<Note>) {
    if notes.is_empty() {
        return;
    }
    let flags = server.hot.notify_keyspace_events();
    let mut chan = Vec::new();
    for n in notes {
        let db = itoa::Buffer::new().format(n.db).to_owned();
        let (key, event) = (n.key.as_slice(), n.event.as_bytes());
        for (on, kind, name, message) in [
            (class::KEYSPACE, &b"__keyspace@"[..], key, event),
            (class::KEYEVENT, &b"__keyevent@"[..], event, key),
        ] {
            if flags & on != 0 {
                chan.clear();
                chan.extend_from_slice(kind);
                chan.extend_from_slice(db.as_bytes());
                chan.extend_from_slice(b"__:");
                chan.extend_from_slice(name);
                publish(server, Kind::Plain, &chan, message);
            }
        }
    }
}
