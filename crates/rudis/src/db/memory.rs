//! What a key really costs in rudis (MEMORY USAGE): its slot in the
//! keyspace, the key's and the value's heap allocations rounded up to the
//! allocator's size classes, and for collections their own tables and
//! elements. Large collections are sampled: the first `samples` elements
//! (all for 0) stand for the rest, as Redis's `objectComputeSize`.

use std::mem::size_of;

use super::blob::Blob;
use super::value::{Entry, Value};

/// The bytes jemalloc hands out for a request of `n` (its size classes:
/// 8, 16, 32, 48, 64, 80..., then four classes per doubling); 0 for 0.
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=16 => 16,
        _ => {
            let spacing =
                (1usize << (usize::BITS - 1 - (n - 1).leading_zeros()).saturating_sub(2)).max(16);
            n.div_ceil(spacing) * spacing
        }
    }
}

/// A string's heap bytes (an inline one has none).
pub fn blob_size(b: &Blob) -> usize {
    match b {
        Blob::Inline { .. } => 0,
        Blob::Boxed(x) => alloc_size(x.len()),
        Blob::Growable(v) => alloc_size(size_of::<Vec<u8>>()) + alloc_size(v.capacity()),
        // The buffer the value arrived in; its payload is most of it.
        Blob::Shared(x) => alloc_size(size_of::<bytes::Bytes>()) + alloc_size(x.len()),
    }
}

/// The average of `f` over the first `samples` of `items` (all for 0),
/// times how many there are.
pub fn sampled<T>(
    items: impl Iterator<Item = T>,
    len: usize,
    samples: usize,
    f: impl Fn(T) -> usize,
) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let total: usize = items.take(take).map(f).sum();
    total * len / take
}

/// A hashbrown table of `buckets` slots of `slot` bytes: slots plus one
/// control byte each, and 16 more (its group width).
pub fn hash_table_size(buckets: usize, slot: usize) -> usize {
    if buckets == 0 {
        0
    } else {
        alloc_size(buckets * (slot + 1) + 16)
    }
}

/// Buckets hashbrown uses for `capacity` entries (7/8 load, powers of 2).
pub fn buckets_for(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        c => (c * 8 / 7).next_power_of_two(),
    }
}

/// An IndexMap/IndexSet of `capacity` entries of `entry` bytes each (plus
/// the stored hash) and its index of positions.
fn index_map_size(capacity: usize, entry: usize) -> usize {
    alloc_size(capacity * (entry + 8)) + hash_table_size(buckets_for(capacity), 8)
}

/// The bytes `value` takes beyond the 24 bytes in its entry.
pub fn value_size(value: &Value, samples: usize) -> usize {
    match value {
        Value::Str(b) => blob_size(b),
        Value::Hash(pack) => alloc_size(pack.len()),
        Value::HashTable(m) => {
            alloc_size(size_of::<super::hash::Map>())
                + index_map_size(m.capacity(), 2 * size_of::<Blob>())
                + sampled(m.iter(), m.len(), samples, |(f, v)| {
                    blob_size(f) + blob_size(v)
                })
        }
        Value::IntSet(v) => alloc_size(v.len() * 8),
        Value::Set(m) => {
            alloc_size(size_of::<super::set::SetMap>())
                + index_map_size(m.capacity(), size_of::<Blob>())
                + sampled(m.iter(), m.len(), samples, blob_size)
        }
        Value::List(l) => alloc_size(size_of::<super::list::List>()) + l.memory(samples),
        Value::ZsetPack(pack) => alloc_size(pack.len()),
        Value::Zset(z) => {
            // A member's bytes are held once, in the map; the tree
            // (and its separators) is the overhead.
            alloc_size(size_of::<super::zset::SortedSet>())
                + z.overhead(alloc_size)
                + sampled(z.members(), z.len(), samples, blob_size)
        }
        Value::Stream(st) => alloc_size(size_of::<super::stream::Stream>()) + st.heap_size(),
    }
}

/// MEMORY USAGE of a key: its keyspace slot (the entry, and about 4 bytes
/// of index: a 2-byte position and its control byte at hashbrown's load),
/// the key's heap bytes and the value's.
pub fn key_usage(key: &Blob, entry: &Entry, samples: usize) -> usize {
    size_of::<(Blob, Entry)>() + 4 + blob_size(key) + value_size(&entry.value, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemallocs() {
        let got: Vec<usize> = [1, 8, 9, 17, 33, 49, 65, 100, 129, 160, 161, 1000, 4097]
            .iter()
            .map(|&n| alloc_size(n))
            .collect();
        assert_eq!(
            got,
            [8, 8, 16, 32, 48, 64, 80, 112, 160, 160, 192, 1024, 5120]
        );
    }
}
