//! Consumer groups: each has the last ID it delivered, how many entries
//! it has read, its pending entries (delivered, not yet acknowledged)
//! and its consumers, each with the pending entries it holds.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;

/// A pending entry: when it was last delivered, how often, to whom.
#[derive(Clone, Debug)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Box<[u8]>,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// When it last read or claimed (Unix ms).
    pub seen_time: u64,
    pub pending: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// `None`: not known (Redis's SCG_INVALID_ENTRIES_READ).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in name order.
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    pub fn heap_size(&self) -> usize {
        self.pel.len() * 64 + self.consumers.len() * 64
    }

    /// The consumer `name`, created if missing (then `true`).
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pending: BTreeSet::new(),
            });
        (c, created)
    }

    /// Removes consumer `name`; its pending entries go with it. Returns
    /// how many it had, `None` if there was none of that name.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pending {
            self.pel.remove(id);
        }
        Some(c.pending.len())
    }

    /// Records `id` as delivered to `consumer` now: a new pending entry,
    /// or one taken over from whoever had it, counted from one again.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: u64) {
        let nack = Nack {
            delivery_time: now,
            delivery_count: 1,
            consumer: consumer.into(),
        };
        if let Some(old) = self.pel.insert(id, nack) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pending.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }

    /// Acknowledges `id`; false if it was not pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(n) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&n.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Hands the pending entry `id` to `consumer` (XCLAIM, XAUTOCLAIM).
    pub fn reassign(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(n) = self.pel.get_mut(&id) else {
            return;
        };
        if *n.consumer != *consumer {
            if let Some(c) = self.consumers.get_mut(&n.consumer) {
                c.pending.remove(&id);
            }
            n.consumer = consumer.into();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }
}
