//! The keyspace's map: entries in a dense vector (positions for SCAN, the
//! expiry sweep and random picks, as `IndexMap` gives) and a hash index of
//! 4-byte positions. Unlike `IndexMap` it stores no hash per entry and
//! uses `u32` positions, 8 + ~8 bytes less per key: hashes are recomputed
//! from the (mostly inline, short) keys when the index grows. Large
//! sorted sets keep their members and scores in one too.

use std::ops::{Index, IndexMut};

use hashbrown::HashTable;

use super::blob::Blob;
use super::value::Entry;

#[derive(Clone, Debug)]
pub struct KeyIndex<V = Entry> {
    entries: Vec<(Blob, V)>,
    slots: HashTable<u32>,
    hasher: ahash::RandomState,
}

impl<V> Default for KeyIndex<V> {
    fn default() -> Self {
        KeyIndex {
            entries: Vec::new(),
            slots: HashTable::new(),
            hasher: ahash::RandomState::default(),
        }
    }
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
        alloc_size(self.entries.capacity() * std::mem::size_of::<(Blob, V)>())
            + hash_table_size(buckets_for(self.slots.capacity()), 4)
    }

    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.slots
            .find(self.hash(key), |&i| entries[i as usize].0.as_slice() == key)
            .map(|&i| i as usize)
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
        let h = self.hash(key.as_slice());
        let i = self.entries.len() as u32;
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.slots
            .insert_unique(h, i, |&j| hasher.hash_one(entries[j as usize].0.as_slice()));
        self.entries.push((key, entry));
    }

    /// Removes the entry at `i`, moving the last entry into its place.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<(Blob, V)> {
        let h = self.hash(self.entries.get(i)?.0.as_slice());
        if let Ok(slot) = self.slots.find_entry(h, |&j| j as usize == i) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if i != last {
            let hl = self.hash(self.entries[last].0.as_slice());
            if let Some(slot) = self.slots.find_mut(hl, |&j| j as usize == last) {
                *slot = i as u32;
            }
        }
        Some(self.entries.swap_remove(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &V)> + '_ {
        self.entries.iter().map(|(k, e)| (k, e))
    }

    /// Room for exactly `additional` more entries.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.entries.reserve_exact(additional);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.slots.reserve(additional, |&j| {
            hasher.hash_one(entries[j as usize].0.as_slice())
        });
    }

    pub fn shrink_to(&mut self, min: usize) {
        self.entries.shrink_to(min);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.slots
            .shrink_to(min, |&j| hasher.hash_one(entries[j as usize].0.as_slice()));
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
}
