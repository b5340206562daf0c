//! Streams: entries in compact nodes, each holding up to
//! `stream-node-max-entries` entries and about `stream-node-max-bytes`
//! bytes, kept in an ordered map by the ID of their first entry (Redis's
//! listpacks under a radix tree). An entry is packed in its node's bytes
//! as a flag byte, its ID's distance from the node's first ID, and its
//! values; the field names are left out when they are those of the
//! node's first entry, as they are for most streams. A deleted entry is
//! only flagged until its node has none left, which is what makes
//! trimming by whole nodes (`~`) and the node counts XINFO reports come
//! out as Redis's do. Node sizes are reckoned in listpack bytes so that
//! nodes split where Redis's do.
//!
//! Consumer groups are in `group.rs`.

pub mod group;
mod node;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use group::{Consumer, Group, Nack};
pub use node::{lp_str as listpack_size, EntryRef, Fields, Node};

/// An entry's ID: milliseconds and a sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID, or `None` past the last one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `ms-seq`, as replies spell it.
    pub fn text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }

    /// Parses `ms[-seq]` as Redis's `streamGenericParseIDOrReply`: `-`
    /// and `+` are the extremes unless `strict`; a missing sequence is
    /// `missing_seq`; with `star_seq`, `ms-*` parses with `seq_given`
    /// false. `None`: invalid.
    pub fn parse(a: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
        Self::parse_full(a, missing_seq, strict, false).map(|(id, _)| id)
    }

    /// `parse`, also saying whether the sequence was given (not `*`).
    pub fn parse_full(
        a: &[u8],
        missing_seq: u64,
        strict: bool,
        star_seq: bool,
    ) -> Option<(StreamId, bool)> {
        if a.len() > 127 {
            return None;
        }
        match a {
            b"-" if !strict => return Some((StreamId::MIN, true)),
            b"+" if !strict => return Some((StreamId::MAX, true)),
            b"-" | b"+" => return None,
            _ => {}
        }
        // C string semantics: what follows a NUL is not seen.
        let a = a.split(|&b| b == 0).next().unwrap_or_default();
        let (ms, seq) = match a.iter().position(|&b| b == b'-') {
            Some(i) => (&a[..i], Some(&a[i + 1..])),
            None => (a, None),
        };
        let ms = string2ull(ms)?;
        match seq {
            None => Some((StreamId::new(ms, missing_seq), true)),
            Some(b"*") if star_seq => Some((StreamId::new(ms, 0), false)),
            Some(s) => Some((StreamId::new(ms, string2ull(s)?), true)),
        }
    }
}

/// Redis's `string2ull`: a canonical integer that is not negative, or
/// else what C's `strtoull` takes whole (leading spaces, a sign; a
/// negative one wraps).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = resp::num::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let (i, neg) = crate::double::c_number_start(s);
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

static NODE_MAX_BYTES: AtomicU64 = AtomicU64::new(4096);
static NODE_MAX_ENTRIES: AtomicU64 = AtomicU64::new(100);

/// `stream-node-max-bytes` and `stream-node-max-entries`.
pub fn configure(max_bytes: u64, max_entries: u64) {
    NODE_MAX_BYTES.store(max_bytes, Relaxed);
    NODE_MAX_ENTRIES.store(max_entries, Relaxed);
}

pub fn node_max_entries() -> u64 {
    NODE_MAX_ENTRIES.load(Relaxed)
}

/// The largest node Redis lets a listpack grow to (its
/// STREAM_LISTPACK_MAX_SIZE), also the limit on one entry's bytes.
pub const LISTPACK_MAX: u64 = 1 << 30;

/// Why an entry could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not above the stream's last one.
    NotGreater,
    /// Its fields and values are over `LISTPACK_MAX` bytes.
    TooLarge,
}

/// How a trim bounds the stream.
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    /// The first entry's ID (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    /// By name, in name order (XINFO GROUPS lists them so).
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The number of nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// XINFO's radix-tree-nodes: Redis counts the nodes of its radix
    /// tree, which rudis does not have; this is the ordered map's
    /// entries plus its root, an approximation.
    pub fn tree_nodes(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Bytes held by the nodes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.values().map(Node::heap_size).sum();
        let groups: usize = self.groups.values().map(Group::heap_size).sum();
        nodes + self.nodes.len() * 64 + groups
    }

    /// The nodes, by the ID they start at.
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &Node)> + '_ {
        self.nodes.iter().map(|(k, n)| (*k, n))
    }

    /// Adds a node read from a payload, starting at `master`; the caller
    /// checks that it comes after the others and sets the counters.
    pub fn push_node(&mut self, master: StreamId, node: Node) {
        self.nodes.insert(master, node);
    }

    pub fn set_len(&mut self, n: u64) {
        self.length = n;
    }

    /// The ID a `*` gives: the time, or past the last ID in the same
    /// millisecond (or a clock that went back). `None`: no ID is left.
    pub fn next_id(&self, now_ms: u64) -> Option<StreamId> {
        if self.last_id.ms < now_ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.incr()
        }
    }

    /// Adds an entry with `id`, which must be above the last one.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]]) -> Result<(), AddError> {
        if id <= self.last_id {
            return Err(AddError::NotGreater);
        }
        let total: u64 = pairs.iter().map(|p| p.len() as u64).sum();
        if total > LISTPACK_MAX {
            return Err(AddError::TooLarge);
        }
        let mut max_bytes = NODE_MAX_BYTES.load(Relaxed);
        if max_bytes == 0 || max_bytes > LISTPACK_MAX {
            max_bytes = LISTPACK_MAX;
        }
        let max_entries = NODE_MAX_ENTRIES.load(Relaxed);
        let fits = self.nodes.last_key_value().is_some_and(|(_, n)| {
            n.lp_bytes() + total < max_bytes
                && (max_entries == 0 || ((n.live + n.deleted) as u64) < max_entries)
        });
        if let (true, Some(mut last)) = (fits, self.nodes.last_entry()) {
            let master = *last.key();
            last.get_mut().push(master, id, pairs);
        } else {
            // A full node takes no more entries: drop its spare room (as
            // Redis shrinks a full listpack).
            if let Some(mut last) = self.nodes.last_entry() {
                last.get_mut().shrink();
            }
            let mut node = Node::new(pairs);
            node.push(id, id, pairs);
            self.nodes.insert(id, node);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(())
    }

    /// The entries from `start` to `end` (inclusive), in order or
    /// reversed.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        Range::new(self, start, end, rev)
    }

    /// The entry with `id`, if it is there.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        self.range(id, id, false).next()
    }

    /// The first or last entry left.
    pub fn edge(&self, last: bool) -> Option<EntryRef<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, last).next()
    }

    /// The last entry's ID, or 0-0 (Redis's `streamLastValidID`).
    pub fn last_valid_id(&self) -> StreamId {
        self.edge(true).map_or(StreamId::MIN, |e| e.id)
    }

    /// Deletes the entry `id`; false if it is not there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        if !node.delete(master, id) {
            return false;
        }
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        true
    }

    fn refresh_first(&mut self) {
        self.first_id = self.edge(false).map_or(StreamId::MIN, |e| e.id);
    }

    /// Redis's `streamTrim`: removes entries from the head down to
    /// `trim`, whole nodes only when `approx`, at most `limit` entries
    /// (0: no limit; counted by nodes). Returns how many it removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut entry) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let master = *entry.key();
            let node = entry.get_mut();
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let whole = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last_id(master) < min,
            };
            if whole {
                entry.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            deleted += node.trim_head(master, &mut self.length, |id, length| match trim {
                Trim::MaxLen(max) => length <= max,
                Trim::MinId(min) => id >= min,
            });
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.refresh_first();
        }
        deleted
    }

    /// Whether an entry between `start` and the end may have been
    /// deleted (Redis's `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// How many entries were added up to `id` (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`), if that can be known.
    pub fn entries_before(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        } else if id > self.last_id {
            return None;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            } else if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag (`None`: unknown), as XINFO GROUPS reports it.
    pub fn lag(&self, g: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id) {
                return Some(self.entries_added.saturating_sub(read));
            }
        }
        self.entries_before(g.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Records that a group delivered `id` (its read counter and last
    /// ID), as Redis's `streamReplyWithRange` does.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        match g.entries_read {
            Some(n) if !self.range_has_tombstones(id) => g.entries_read = Some(n + 1),
            _ if self.entries_added > 0 => g.entries_read = self.entries_before(id),
            _ => {}
        }
        g.last_id = id;
    }
}

/// An iterator over a stream's entries in a range.
pub struct Range<'s> {
    nodes: std::collections::btree_map::Range<'s, StreamId, Node>,
    current: Option<(StreamId, &'s Node)>,
    /// Walking forward: the next entry's offset and the node's end.
    cursor: (usize, usize),
    /// Walking backward: the current node's entries not yet given, last
    /// one on top.
    pending: Vec<usize>,
    start: StreamId,
    end: StreamId,
    rev: bool,
    done: bool,
}

impl<'s> Range<'s> {
    fn new(s: &'s Stream, start: StreamId, end: StreamId, rev: bool) -> Range<'s> {
        // The node holding the first ID of the walk is the last one that
        // begins at or before it.
        let from = if rev { end } else { start };
        let first = s
            .nodes
            .range(..=from)
            .next_back()
            .map(|(k, _)| *k)
            .or_else(|| s.nodes.first_key_value().map(|(k, _)| *k));
        let nodes = match (first, rev) {
            (None, _) => s.nodes.range(StreamId::MAX..StreamId::MAX),
            (Some(k), false) => s.nodes.range(k..),
            (Some(k), true) => s.nodes.range(..=k),
        };
        Range {
            nodes,
            current: None,
            cursor: (0, 0),
            pending: Vec::new(),
            start,
            end,
            rev,
            done: start > end,
        }
    }

    /// The next entry of the current node, in the walk's direction.
    fn next_in_node(&mut self, node: &'s Node) -> Option<usize> {
        if self.rev {
            return self.pending.pop();
        }
        let (at, end) = self.cursor;
        if at >= end {
            return None;
        }
        self.cursor.0 = node.next_offset(at);
        Some(at)
    }
}

impl<'s> Iterator for Range<'s> {
    type Item = EntryRef<'s>;

    fn next(&mut self) -> Option<EntryRef<'s>> {
        while !self.done {
            if let Some((master, node)) = self.current {
                while let Some(off) = self.next_in_node(node) {
                    let e = node.entry(master, off);
                    if e.deleted() {
                        continue;
                    }
                    if self.rev {
                        if e.id < self.start {
                            self.done = true;
                            return None;
                        }
                        if e.id <= self.end {
                            return Some(e);
                        }
                    } else {
                        if e.id > self.end {
                            self.done = true;
                            return None;
                        }
                        if e.id >= self.start {
                            return Some(e);
                        }
                    }
                }
                self.current = None;
            }
            let next = if self.rev {
                self.nodes.next_back()
            } else {
                self.nodes.next()
            };
            let Some((master, node)) = next else {
                self.done = true;
                return None;
            };
            if self.rev {
                self.pending.clear();
                node.offsets(&mut self.pending);
            } else {
                self.cursor = node.entries();
            }
            self.current = Some((*master, node));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &Stream, a: StreamId, b: StreamId, rev: bool) -> Vec<StreamId> {
        s.range(a, b, rev).map(|e| e.id).collect()
    }

    #[test]
    fn nodes_split_and_walk_both_ways() {
        configure(4096, 10);
        let mut s = Stream::new();
        for i in 1..=95u64 {
            let v = i.to_string();
            if i % 7 == 0 {
                s.append(StreamId::new(i, 0), &[b"other", v.as_bytes()])
                    .unwrap();
            } else {
                s.append(StreamId::new(i, 0), &[b"item", v.as_bytes()])
                    .unwrap();
            }
        }
        assert_eq!(s.node_count(), 10);
        assert_eq!(s.len(), 95);
        let all = ids(&s, StreamId::MIN, StreamId::MAX, false);
        assert_eq!(all.len(), 95);
        let mut rev = ids(&s, StreamId::MIN, StreamId::MAX, true);
        rev.reverse();
        assert_eq!(all, rev);
        assert_eq!(
            ids(&s, StreamId::new(15, 0), StreamId::new(17, 0), false).len(),
            3
        );
        let e = s.get(StreamId::new(14, 0)).unwrap();
        let f: Vec<_> = e.fields().collect();
        assert_eq!(f, vec![(&b"other"[..], &b"14"[..])]);
        assert!(s.delete(StreamId::new(14, 0)));
        assert!(!s.delete(StreamId::new(14, 0)));
        assert!(s.get(StreamId::new(14, 0)).is_none());
        // Whole nodes of 10, 9 (one deleted), 10, 10; the next would
        // leave 45.
        assert_eq!(s.trim(Trim::MaxLen(50), true, 0), 39);
        assert_eq!(s.len(), 55);
        assert_eq!(s.trim(Trim::MaxLen(50), false, 0), 5);
        assert_eq!(s.first_id, StreamId::new(46, 0));
        configure(4096, 100);
    }

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(StreamId::parse(b"5", 7, true), Some(StreamId::new(5, 7)));
        assert_eq!(StreamId::parse(b"5-3", 7, true), Some(StreamId::new(5, 3)));
        assert_eq!(StreamId::parse(b"-", 0, false), Some(StreamId::MIN));
        assert_eq!(StreamId::parse(b"-", 0, true), None);
        assert_eq!(StreamId::parse(b"5-x", 0, true), None);
        assert_eq!(StreamId::parse(b"-1", 0, true), None);
        assert_eq!(
            StreamId::parse_full(b"5-*", 0, true, true),
            Some((StreamId::new(5, 0), false))
        );
        assert_eq!(
            StreamId::parse(b"18446744073709551615-18446744073709551615", 0, true),
            Some(StreamId::MAX)
        );
        assert_eq!(StreamId::parse(b"18446744073709551616", 0, true), None);
    }
}
