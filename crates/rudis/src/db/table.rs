//! One database's keys within one shard.
//!
//! An insertion-ordered hash map (`KeyIndex`, an `IndexMap` without
//! stored hashes): entries sit in a dense vector, which gives O(1) random picks (RANDOMKEY) and a stable position
//! cursor for SCAN and for the active expiry sweep. Removal swaps the last
//! entry into the hole, so cursors walk positions from the top down: an
//! entry moved by a removal always comes from above the cursor (already
//! visited) or stays below it (still to visit), and a key present for the
//! whole walk is seen at least once.

use rand::Rng;

use super::blob::Blob;
use super::value::{Clock, Entry, Value};

type Map = super::keyindex::KeyIndex;

#[derive(Default)]
pub struct Table {
    map: Map,
    /// Entries with an expiry time.
    expires: usize,
    /// Keys removed because they had expired (lazily or actively).
    expired: u64,
    /// Read lookups that found / did not find their key (INFO's
    /// keyspace_hits and keyspace_misses).
    hits: u64,
    misses: u64,
    /// Where the active expiry sweep resumes: positions below this are
    /// still to visit in the current pass (0: start a new pass at the top).
    sweep: usize,
    /// Bytes of the entry vector's free slots, as last reported to
    /// `crate::alloc::spare_add`.
    spare: usize,
    /// What the table did by itself since the last `take_log`: keys it
    /// reclaimed as expired, and (when notifications want them) keys
    /// created and read misses. Drained by `crate::effects` while the
    /// shard is still locked.
    log: Vec<LogEntry>,
}

/// A logged event, with its place in the order of all events logged on
/// this thread (a command's tables log separately; the sequence merges
/// them back into the order they happened).
pub type LogEntry = (u64, Logged, Blob);

thread_local! {
    static SEQ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn next_seq() -> u64 {
    SEQ.with(|s| {
        let n = s.get() + 1;
        s.set(n);
        n
    })
}

/// An event the keyspace reports by itself (see `Table::take_log`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logged {
    Expired,
    Evicted,
    New,
    Miss,
}

/// Outcome of one step of the active expiry sweep.
#[derive(Debug, Default, Clone, Copy)]
pub struct SweepStep {
    pub sampled: usize,
    pub expired: usize,
    /// The pass over the table is complete.
    pub wrapped: bool,
}

impl Drop for Table {
    fn drop(&mut self) {
        crate::alloc::spare_add(-(self.spare as i64));
    }
}

const SLOT: usize = std::mem::size_of::<(Blob, Entry)>();

impl Table {
    /// Reports a change of the entry vector's free slots (the rounding to
    /// the allocator's size class is not one: no key fits in it).
    fn account(&mut self) {
        let now = (self.map.capacity() - self.map.len()) * SLOT;
        if now != self.spare {
            crate::alloc::spare_add(now as i64 - self.spare as i64);
            self.spare = now;
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Heap bytes of the table's own structure (MEMORY STATS).
    pub fn overhead(&self) -> usize {
        self.map.overhead()
    }

    pub fn expires(&self) -> usize {
        self.expires
    }

    pub fn expired_count(&self) -> u64 {
        self.expired
    }

    /// Position of `key` if it exists and has not expired; an expired key
    /// is deleted on the way (Redis's lazy expiry). A hit counts as an
    /// access unless the clock is quiet.
    pub fn find(&mut self, key: &[u8], now: Clock) -> Option<usize> {
        let i = self.map.get_index_of(key)?;
        if self.map[i].is_expired(now.ms) {
            if !super::expire::suspended(now.ms) {
                self.reclaim(i);
            }
            return None;
        }
        if now.touch {
            self.map[i].touch(now.ms);
        }
        Some(i)
    }

    /// A read lookup: counted in keyspace hits and misses, as Redis's
    /// `lookupKeyRead`. Writers use `find`, which is not counted.
    pub fn get(&mut self, key: &[u8], now: Clock) -> Option<&Entry> {
        let Some(i) = self.find(key, now) else {
            self.misses += 1;
            if crate::effects::wants(crate::effects::class::KEY_MISS) {
                self.log.push((next_seq(), Logged::Miss, Blob::new(key)));
            }
            return None;
        };
        self.hits += 1;
        Some(&self.map[i])
    }

    /// The entry of `key` as it stands, expired or not, uncounted: for a
    /// second look at keys a command has already looked up (and so
    /// expired) under the same lock.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn misses(&self) -> u64 {
        self.misses
    }

    pub fn reset_stats(&mut self) {
        self.hits = 0;
        self.misses = 0;
        self.expired = 0;
    }

    pub fn at(&self, i: usize) -> (&Blob, &Entry) {
        self.map.get_index(i).expect("position in range")
    }

    pub fn at_mut(&mut self, i: usize) -> &mut Entry {
        &mut self.map[i]
    }

    /// Stores `value` under `key` with the given expiry (0: none),
    /// replacing any previous entry. Returns the previous entry.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: u64, now: Clock) -> Option<Entry> {
        let mut entry = Entry::new(value, expire_at, now);
        self.expires += (entry.expire_at() != 0) as usize;
        match self.map.get_index_of(key) {
            Some(i) => {
                if !self.map[i].is_expired(now.ms) {
                    entry.inherit_access(&self.map[i], now);
                }
                let old = std::mem::replace(&mut self.map[i], entry);
                self.expires -= (old.expire_at() != 0) as usize;
                if old.is_expired(now.ms) {
                    // Reclaimed and created again, as Redis's lookup
                    // before its write would have done.
                    super::lazyfree::drop_expired(old);
                    self.expired += 1;
                    self.log.push((next_seq(), Logged::Expired, Blob::new(key)));
                    self.log_new(key);
                    return None;
                }
                Some(old)
            }
            None => {
                self.make_room();
                self.map.insert(Blob::new(key), entry);
                self.account();
                self.log_new(key);
                None
            }
        }
    }

    fn log_new(&mut self, key: &[u8]) {
        if crate::effects::wants(crate::effects::class::NEW) {
            self.log.push((next_seq(), Logged::New, Blob::new(key)));
        }
    }

    /// Deletes the expired entry at `i`, logging its key.
    pub fn reclaim(&mut self, i: usize) {
        let (k, e) = self.remove_at(i);
        super::lazyfree::drop_expired(e);
        self.expired += 1;
        self.log.push((next_seq(), Logged::Expired, k));
    }

    /// Position of `key` as it stands, expired or not: eviction deletes
    /// what is there, as Redis's `dictFind` on its keyspace.
    pub fn index_of(&self, key: &[u8]) -> Option<usize> {
        self.map.get_index_of(key)
    }

    /// Deletes the entry at `i` to free memory (maxmemory), logging its
    /// key.
    pub fn evict_at(&mut self, i: usize) -> (Blob, Entry) {
        let (k, e) = self.remove_at(i);
        self.log
            .push((next_seq(), Logged::Evicted, Blob::new(k.as_slice())));
        (k, e)
    }

    /// A random entry that has an expiry time: a few random probes, then
    /// a walk from a random place, so a table where few keys have one
    /// still yields one.
    pub fn random_volatile(&mut self, rng: &mut impl Rng) -> Option<usize> {
        if self.expires == 0 {
            return None;
        }
        let n = self.map.len();
        for _ in 0..16 {
            let i = rng.gen_range(0..n);
            if self.map[i].expire_at() != 0 {
                return Some(i);
            }
        }
        let start = rng.gen_range(0..n);
        (0..n)
            .map(|j| (start + j) % n)
            .find(|&i| self.map[i].expire_at() != 0)
    }

    /// Takes what the table logged (see `Logged`), oldest first.
    pub fn take_log(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.log)
    }

    /// Whether anything is logged.
    pub fn has_log(&self) -> bool {
        !self.log.is_empty()
    }

    /// Adds `value` without expiry under `key`, which is not in the table
    /// (a writer just looked), and returns its position.
    pub fn add(&mut self, key: &[u8], value: Value, now: Clock) -> usize {
        self.insert_new(Blob::new(key), Entry::new(value, 0, now));
        self.map.len() - 1
    }

    /// Inserts an entry under a key that is not in the table.
    pub fn insert_new(&mut self, key: Blob, entry: Entry) {
        // Under CLIENT PAUSE an expired key may still be here although
        // lookups said it is missing: it goes first.
        if super::expire::any_suspended() {
            if let Some(i) = self.map.get_index_of(key.as_slice()) {
                self.reclaim(i);
            }
        }
        self.expires += (entry.expire_at() != 0) as usize;
        self.make_room();
        self.log_new(key.as_slice());
        self.map.insert(key, entry);
        self.account();
    }

    /// Grows the entry vector by about an eighth when full, to the end of
    /// the allocator's size class (so no rounding is wasted), rather than
    /// doubling it. Growing by an eighth copies each 56-byte slot about 8
    /// times over the table's life, a price paid for memory per key; a
    /// small table grows by a slot or two, since 1,024 shards times 16
    /// databases of mostly small tables would otherwise hold many spare
    /// slots.
    fn make_room(&mut self) {
        let len = self.map.len();
        if len == self.map.capacity() {
            let want = (len + (len / 8).max(1)) * SLOT;
            let target = super::memory::alloc_size(want) / SLOT;
            self.map.reserve_exact(target - len);
        }
    }

    /// Changes the expiry of the entry at `i` (0: persist).
    pub fn set_expire_at(&mut self, i: usize, expire_at: u64) {
        let e = &mut self.map[i];
        let was = e.expire_at() != 0;
        e.set_expire_at(expire_at);
        self.expires = self.expires + (e.expire_at() != 0) as usize - was as usize;
    }

    /// Removes `key` if it exists and has not expired.
    pub fn remove(&mut self, key: &[u8], now: Clock) -> Option<(Blob, Entry)> {
        let i = self.find(key, now)?;
        Some(self.remove_at(i))
    }

    pub fn remove_at(&mut self, i: usize) -> (Blob, Entry) {
        let (k, e) = self.map.swap_remove_index(i).expect("position in range");
        self.expires -= (e.expire_at() != 0) as usize;
        // Give memory back: all of it when the table is empty, and once a
        // quarter of its slots are free (any, for a table of a few), all
        // but an eighth of those left; the cost is amortised over the
        // removals. Most of 1,024 shards' tables are small while a
        // dataset is, and a spare slot in one is no room for a key that
        // belongs to another.
        let (len, cap) = (self.map.len(), self.map.capacity());
        if len == 0 {
            self.map = Map::default();
        } else if cap - len >= (cap / 4).max(1) {
            self.map.shrink_to(len + len / 8);
        }
        self.account();
        (k, e)
    }

    /// Empties the table, returning the old contents (to free elsewhere).
    /// The statistics stay with the table.
    pub fn take(&mut self) -> Table {
        let mut old = std::mem::take(self);
        (self.hits, self.misses, self.expired) = (old.hits, old.misses, old.expired);
        (old.hits, old.misses, old.expired) = (0, 0, 0);
        old
    }

    pub fn swap(&mut self, other: &mut Table) {
        std::mem::swap(self, other)
    }

    pub fn random(&mut self, rng: &mut impl Rng) -> Option<usize> {
        (!self.map.is_empty()).then(|| rng.gen_range(0..self.map.len()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &Entry)> {
        self.map.iter()
    }

    /// One SCAN step over this table. `pos` is the number of positions
    /// still to visit (`None`: start at the top). Visits up to `budget`
    /// positions, calling `f` for each live key, and returns the positions
    /// left to visit (0: the table is done).
    pub fn scan(
        &self,
        pos: Option<usize>,
        budget: usize,
        now: u64,
        mut f: impl FnMut(&Blob, &Entry),
    ) -> (usize, usize) {
        let mut left = pos.unwrap_or(usize::MAX).min(self.map.len());
        let mut visited = 0;
        while left > 0 && visited < budget {
            left -= 1;
            visited += 1;
            let (k, e) = self.at(left);
            if !e.is_expired(now) {
                f(k, e);
            }
        }
        (left, visited)
    }

    /// One step of the active expiry sweep: looks at up to `samples` keys
    /// that have an expiry (visiting at most `visits` positions, to bound
    /// the time spent in tables where few keys have one) and deletes the
    /// expired ones.
    pub fn sweep_expired(&mut self, now: u64, samples: usize, visits: usize) -> SweepStep {
        let mut step = SweepStep::default();
        if self.expires == 0 {
            self.sweep = 0;
            step.wrapped = true;
            return step;
        }
        if self.sweep == 0 || self.sweep > self.map.len() {
            self.sweep = self.map.len();
        }
        let mut visited = 0;
        while self.sweep > 0 && step.sampled < samples && visited < visits {
            self.sweep -= 1;
            visited += 1;
            let e = &self.map[self.sweep];
            if e.expire_at() == 0 {
                continue;
            }
            step.sampled += 1;
            if e.is_expired(now) {
                self.reclaim(self.sweep);
                step.expired += 1;
            }
        }
        step.wrapped = self.sweep == 0;
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> Value {
        Value::Str(Blob::new(v))
    }

    fn at(ms: u64) -> Clock {
        Clock::new(ms)
    }

    #[test]
    fn lazy_expiry_and_counts() {
        let mut t = Table::default();
        t.set(b"a", s(b"1"), 100, at(0));
        t.set(b"b", s(b"2"), 0, at(0));
        assert_eq!(t.expires(), 1);
        assert!(t.get(b"a", at(99)).is_some());
        assert!(t.get(b"a", at(100)).is_none());
        assert_eq!(t.len(), 1);
        assert_eq!(t.expires(), 0);
        assert_eq!(t.expired_count(), 1);
        t.set(b"b", s(b"3"), 50, at(0));
        assert_eq!(t.expires(), 1);
        t.set(b"b", s(b"3"), 0, at(0));
        assert_eq!(t.expires(), 0);
    }

    #[test]
    fn scan_sees_every_stable_key_despite_removals() {
        let mut t = Table::default();
        for i in 0..100u32 {
            t.set(&i.to_be_bytes(), s(b"x"), 0, at(0));
        }
        let mut seen = std::collections::HashSet::new();
        let mut pos = None;
        let mut round = 0u32;
        loop {
            let (left, _) = t.scan(pos, 7, 0, |k, _| {
                seen.insert(k.as_slice().to_vec());
            });
            // Between steps, delete some keys (odd ones) and add new ones.
            let victim = (round * 2 + 1).to_be_bytes();
            t.remove(&victim, at(0));
            t.set(&(1000 + round).to_be_bytes(), s(b"y"), 0, at(0));
            round += 1;
            if left == 0 {
                break;
            }
            pos = Some(left);
        }
        for i in (0..100u32).filter(|i| i % 2 == 0 || *i > 2 * round) {
            assert!(seen.contains(i.to_be_bytes().as_slice()), "missed {i}");
        }
    }

    #[test]
    fn sweep_removes_expired() {
        let mut t = Table::default();
        for i in 0..1000u32 {
            t.set(
                &i.to_be_bytes(),
                s(b"x"),
                if i % 2 == 0 { 10 } else { 0 },
                at(0),
            );
        }
        let mut total = 0;
        loop {
            let st = t.sweep_expired(20, 20, 400);
            total += st.expired;
            if st.wrapped {
                break;
            }
        }
        assert_eq!(total, 500);
        assert_eq!(t.len(), 500);
        assert_eq!(t.expires(), 0);
    }
}
