//! The keyspace's map: entries in a dense vector (positions for SCAN, the
//! expiry sweep and random picks, as `IndexMap` gives) and a hash index of
//! positions. Unlike `IndexMap` it stores no hash per entry and uses `u16`
//! positions while the map holds fewer than 65,535 entries (every table
//! of a keyspace spread over 1,024 shards, up to 67M keys), `u32` beyond:
//! 8 + ~10 bytes less per key. Hashes are recomputed from the (mostly
//! inline, short) keys when the index grows. Large sorted sets keep their
//! members and scores in one too.

use std::ops::{Index, IndexMut};

use hashbrown::HashTable;

use super::blob::Blob;
use super::value::Entry;

#[derive(Clone, Debug)]
pub struct KeyIndex<V = Entry> {
    entries: Vec<(Blob, V)>,
    slots: Slots,
    hasher: ahash::RandomState,
}

impl<V> Default for KeyIndex<V> {
    fn default() -> Self {
        KeyIndex {
            entries: Vec::new(),
            slots: Slots::Small(HashTable::new()),
            hasher: ahash::RandomState::default(),
        }
    }
}

/// A position in the entry vector as the index stores it.
trait Pos: Copy {
    fn at(self) -> usize;
    fn of(i: usize) -> Self;
}

impl Pos for u16 {
    fn at(self) -> usize {
        self as usize
    }
    fn of(i: usize) -> u16 {
        i as u16
    }
}

impl Pos for u32 {
    fn at(self) -> usize {
        self as usize
    }
    fn of(i: usize) -> u32 {
        i as u32
    }
}

/// Up to this many entries the positions are `u16`.
const SMALL_MAX: usize = u16::MAX as usize;
/// A `u32` index is made `u16` again when a shrink leaves fewer entries
/// than this (well below `SMALL_MAX`, so a map that hovers there does not
/// convert back and forth).
const SMALL_AGAIN: usize = SMALL_MAX / 2;

#[derive(Clone, Debug)]
enum Slots {
    Small(HashTable<u16>),
    Large(HashTable<u32>),
}

/// Runs `$body` with `$t` bound to the index table, whichever its width.
macro_rules! slots {
    ($slots:expr, $t:ident => $body:expr) => {
        match $slots {
            Slots::Small($t) => $body,
            Slots::Large($t) => $body,
        }
    };
}

fn rehash<P: Pos, Q: Pos>(
    from: &HashTable<P>,
    keys: &[(Blob, impl Sized)],
    hasher: &ahash::RandomState,
    capacity: usize,
) -> HashTable<Q> {
    let mut to = HashTable::with_capacity(capacity);
    let rehash = |j: &Q| hasher.hash_one(keys[j.at()].0.as_slice());
    for p in from.iter() {
        let h = hasher.hash_one(keys[p.at()].0.as_slice());
        to.insert_unique(h, Q::of(p.at()), rehash);
    }
    to
}

impl<V> KeyIndex<V> {
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Heap bytes of the map itself: the entry vector and the index.
    pub fn overhead(&self) -> usize {
        use super::memory::{alloc_size, buckets_for, hash_table_size};
        let (capacity, width) = match &self.slots {
            Slots::Small(t) => (t.capacity(), 2),
            Slots::Large(t) => (t.capacity(), 4),
        };
        alloc_size(self.entries.capacity() * std::mem::size_of::<(Blob, V)>())
            + hash_table_size(buckets_for(capacity), width)
    }

    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        let h = self.hash(key);
        slots!(&self.slots, t => t
            .find(h, |i| entries[i.at()].0.as_slice() == key)
            .map(|i| i.at()))
    }

    /// Makes the index `u32` wide before the map outgrows `u16`
    /// positions.
    fn widen_for(&mut self, len: usize) {
        if let Slots::Small(t) = &self.slots {
            if len > SMALL_MAX {
                let cap = len.max(t.capacity());
                self.slots = Slots::Large(rehash(t, &self.entries, &self.hasher, cap));
            }
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_index_of(key).map(|i| &self.entries[i].1)
    }

    pub fn get_index(&self, i: usize) -> Option<(&Blob, &V)> {
        self.entries.get(i).map(|(k, e)| (k, e))
    }

    /// The key at `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        self.entries[i].0.as_slice()
    }

    /// Adds an entry under a key that is not in the map.
    pub fn insert(&mut self, key: Blob, entry: V) {
        self.widen_for(self.entries.len() + 1);
        let h = self.hash(key.as_slice());
        let i = self.entries.len();
        let (entries, hasher) = (&self.entries, &self.hasher);
        slots!(&mut self.slots, t => {
            t.insert_unique(h, Pos::of(i), |j| hasher.hash_one(entries[j.at()].0.as_slice()));
        });
        self.entries.push((key, entry));
    }

    /// Removes the entry at `i`, moving the last entry into its place.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<(Blob, V)> {
        let h = self.hash(self.entries.get(i)?.0.as_slice());
        let last = self.entries.len() - 1;
        // The last entry moves into the hole: its position changes.
        let moved = (i != last).then(|| self.hash(self.entries[last].0.as_slice()));
        slots!(&mut self.slots, t => {
            if let Ok(slot) = t.find_entry(h, |j| j.at() == i) {
                slot.remove();
            }
            if let Some(hl) = moved {
                if let Some(slot) = t.find_mut(hl, |j| j.at() == last) {
                    *slot = Pos::of(i);
                }
            }
        });
        Some(self.entries.swap_remove(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &V)> + '_ {
        self.entries.iter().map(|(k, e)| (k, e))
    }

    /// Room for exactly `additional` more entries.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.entries.reserve_exact(additional);
        self.widen_for(self.entries.len() + additional);
        let (entries, hasher) = (&self.entries, &self.hasher);
        slots!(&mut self.slots, t => t.reserve(additional, |j| {
            hasher.hash_one(entries[j.at()].0.as_slice())
        }));
    }

    pub fn shrink_to(&mut self, min: usize) {
        self.entries.shrink_to(min);
        let (entries, hasher) = (&self.entries, &self.hasher);
        if let Slots::Large(t) = &self.slots {
            if entries.len().max(min) < SMALL_AGAIN {
                let cap = entries.len().max(min);
                self.slots = Slots::Small(rehash(t, entries, hasher, cap));
                return;
            }
        }
        slots!(&mut self.slots, t => t
            .shrink_to(min, |j| hasher.hash_one(entries[j.at()].0.as_slice())));
    }
}

impl<V> Index<usize> for KeyIndex<V> {
    type Output = V;

    fn index(&self, i: usize) -> &V {
        &self.entries[i].1
    }
}

impl<V> IndexMut<usize> for KeyIndex<V> {
    fn index_mut(&mut self, i: usize) -> &mut V {
        &mut self.entries[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Clock, Value};

    #[test]
    fn insert_find_remove() {
        let mut m = KeyIndex::default();
        let e = || Entry::new(Value::Str(Blob::new(b"v")), 0, Clock::new(1));
        for i in 0..1000 {
            m.insert(Blob::new(format!("k{i}").as_bytes()), e());
        }
        assert_eq!(m.len(), 1000);
        for i in (0..1000).step_by(3) {
            let at = m.get_index_of(format!("k{i}").as_bytes()).unwrap();
            let (k, _) = m.swap_remove_index(at).unwrap();
            assert_eq!(k.as_slice(), format!("k{i}").as_bytes());
        }
        for i in 0..1000 {
            let found = m.get_index_of(format!("k{i}").as_bytes());
            assert_eq!(found.is_some(), i % 3 != 0, "k{i}");
            if let Some(at) = found {
                assert_eq!(
                    m.get_index(at).unwrap().0.as_slice(),
                    format!("k{i}").as_bytes()
                );
            }
        }
        m.shrink_to(0);
        assert_eq!(m.len(), 666);
        assert!(m.get(b"k1").is_some());
    }

    /// Positions are 2 bytes while they fit, 4 past 65,535 entries, and 2
    /// again once a shrink leaves few: every key is found throughout.
    #[test]
    fn the_index_widens_and_narrows_with_the_map() {
        let mut m: KeyIndex<u32> = KeyIndex::default();
        let key = |i: u32| format!("key:{i:012}");
        for i in 0..70_000u32 {
            if i == 1000 {
                assert!(matches!(m.slots, Slots::Small(_)));
                // 1,000 entries: 2,048 buckets of 2 bytes and their
                // control bytes (7 KB as allocated), where 4-byte
                // positions take 12 KB.
                let entries =
                    crate::db::memory::alloc_size(m.capacity() * size_of::<(Blob, u32)>());
                assert!(
                    m.overhead() - entries <= 8_192,
                    "{}",
                    m.overhead() - entries
                );
            }
            m.insert(Blob::new(key(i).as_bytes()), i);
        }
        assert!(matches!(m.slots, Slots::Large(_)));
        for i in (0..70_000u32).step_by(7) {
            assert_eq!(m.get(key(i).as_bytes()), Some(&i));
        }
        while m.len() > 20_000 {
            let at = m.len() / 2;
            m.swap_remove_index(at);
        }
        m.shrink_to(0);
        assert!(matches!(m.slots, Slots::Small(_)));
        let mut found = 0;
        for i in 0..70_000u32 {
            if let Some(&v) = m.get(key(i).as_bytes()) {
                assert_eq!(v, i);
                found += 1;
            }
        }
        assert_eq!(found, 20_000);
        for i in 0..m.len() {
            let (k, &v) = m.get_index(i).unwrap();
            assert_eq!(k.as_slice(), key(v).as_bytes());
            assert_eq!(m.get_index_of(k.as_slice()), Some(i));
        }
        // Room for 80,000 widens the index at once; nothing is lost.
        m.reserve_exact(60_000);
        assert!(matches!(m.slots, Slots::Large(_)));
        for i in 0..m.len() {
            let (k, _) = m.get_index(i).unwrap();
            assert_eq!(m.get_index_of(k.as_slice()), Some(i));
        }
    }
}
