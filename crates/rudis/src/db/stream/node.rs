//! One node of a stream: the field names of its first entry, then its
//! entries packed one after another (see `mod.rs`).
//!
//! An entry: a flag byte (`DELETED`, `SAME_FIELDS`), the ID's distance
//! in milliseconds from the node's first ID and its sequence number (two
//! LEB128 varints), then, unless it has the node's field names, the
//! number of fields and each name before its value; each string is a
//! varint length and its bytes.

use super::StreamId;

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

#[derive(Clone, Debug)]
pub struct Node {
    data: Vec<u8>,
    /// Where the entries begin (the field names come first).
    entries_at: u32,
    master_fields: u32,
    pub live: u32,
    pub deleted: u32,
    /// The size Redis's listpack for this node would have, less its two
    /// counters (which `lp_bytes` adds).
    lp: u64,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = data[*at];
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn get_str<'d>(data: &'d [u8], at: &mut usize) -> &'d [u8] {
    let n = get_varint(data, at) as usize;
    let s = &data[*at..*at + n];
    *at += n;
    s
}

fn skip_str(data: &[u8], at: &mut usize) {
    let n = get_varint(data, at) as usize;
    *at += n;
}

/// The bytes a listpack spends on an integer element (encoding and
/// back-length).
fn lp_int(v: i64) -> u64 {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    };
    enc + 1
}

/// The bytes a listpack spends on a string element: as an integer when
/// it is one.
pub fn lp_str(s: &[u8]) -> u64 {
    if s.len() <= 20 {
        if let Some(v) = resp::num::parse_i64(s) {
            return lp_int(v);
        }
    }
    let n = s.len() as u64;
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    let back = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    enc + back
}

impl Node {
    /// A node whose field names are those of `pairs` (field, value, ...).
    pub fn new(pairs: &[&[u8]]) -> Node {
        Node::with_names(pairs.iter().step_by(2).copied())
    }

    /// A node whose entries are compared with the field names `names`.
    pub fn with_names<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> Node {
        let mut data = Vec::new();
        let n = names.len();
        put_varint(&mut data, n as u64);
        let mut lp = 7 + lp_int(n as i64) + lp_int(0);
        for f in names {
            put_str(&mut data, f);
            lp += lp_str(f);
        }
        Node {
            entries_at: data.len() as u32,
            data,
            master_fields: n as u32,
            live: 0,
            deleted: 0,
            lp,
        }
    }

    pub fn lp_bytes(&self) -> u64 {
        self.lp + lp_int(self.live as i64) + lp_int(self.deleted as i64)
    }

    pub fn shrink(&mut self) {
        self.data.shrink_to_fit();
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity() + std::mem::size_of::<Node>()
    }

    /// The field names entries are compared with.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.master_names()
    }

    /// Every entry, deleted ones too, in order.
    pub fn all_entries(&self, master: StreamId) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let mut at = self.entries_at as usize;
        std::iter::from_fn(move || {
            if at >= self.data.len() {
                return None;
            }
            let e = self.entry(master, at);
            at = self.skip(at);
            Some(e)
        })
    }

    /// Appends an entry already flagged deleted (a payload's), counted
    /// as such.
    pub fn push_deleted(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let at = self.data.len();
        self.push(master, id, pairs);
        self.mark(at);
    }

    fn master_names(&self) -> MasterNames<'_> {
        let mut at = 0;
        let left = get_varint(&self.data, &mut at) as usize;
        MasterNames {
            data: &self.data,
            at,
            left,
        }
    }

    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        pairs.len() / 2 == self.master_fields as usize
            && self
                .master_names()
                .zip(pairs.iter().step_by(2))
                .all(|(a, b)| a == *b)
    }

    /// Appends an entry (its ID above every other in the node).
    pub fn push(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let flags = if same { SAME_FIELDS } else { 0 };
        let d = &mut self.data;
        d.push(flags);
        let ms = id.ms.wrapping_sub(master.ms);
        put_varint(d, ms);
        put_varint(d, id.seq);
        let n = pairs.len() / 2;
        let mut lp = lp_int(flags as i64)
            + lp_int(ms as i64)
            + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        let mut pieces = 3 + n as i64;
        if same {
            for v in pairs.iter().skip(1).step_by(2) {
                put_str(d, v);
                lp += lp_str(v);
            }
        } else {
            put_varint(d, n as u64);
            lp += lp_int(n as i64);
            pieces += n as i64 + 1;
            for p in pairs {
                put_str(d, p);
                lp += lp_str(p);
            }
        }
        self.lp += lp + lp_int(pieces);
        self.live += 1;
    }

    /// The end of the entry at `off`.
    fn skip(&self, mut at: usize) -> usize {
        let d = &self.data;
        let flags = d[at];
        at += 1;
        get_varint(d, &mut at);
        get_varint(d, &mut at);
        let strings = if flags & SAME_FIELDS != 0 {
            self.master_fields as usize
        } else {
            2 * get_varint(d, &mut at) as usize
        };
        for _ in 0..strings {
            skip_str(d, &mut at);
        }
        at
    }

    /// Where the first entry is, and where the entries end.
    pub fn entries(&self) -> (usize, usize) {
        (self.entries_at as usize, self.data.len())
    }

    /// Where the entry after the one at `at` is.
    pub fn next_offset(&self, at: usize) -> usize {
        self.skip(at)
    }

    /// The offsets of every entry, deleted ones too, in order.
    pub fn offsets(&self, out: &mut Vec<usize>) {
        let mut at = self.entries_at as usize;
        while at < self.data.len() {
            out.push(at);
            at = self.skip(at);
        }
    }

    pub fn entry(&self, master: StreamId, off: usize) -> EntryRef<'_> {
        let d = &self.data;
        let mut at = off;
        let flags = d[at];
        at += 1;
        let ms = master.ms.wrapping_add(get_varint(d, &mut at));
        let seq = get_varint(d, &mut at);
        EntryRef {
            id: StreamId::new(ms, seq),
            flags,
            node: self,
            at,
        }
    }

    /// The ID of the last entry, deleted or not.
    pub fn last_id(&self, master: StreamId) -> StreamId {
        let mut at = self.entries_at as usize;
        let mut last = master;
        while at < self.data.len() {
            last = self.entry(master, at).id;
            at = self.skip(at);
        }
        last
    }

    /// Flags the entry `id` deleted; false if it is not here.
    pub fn delete(&mut self, master: StreamId, id: StreamId) -> bool {
        let mut at = self.entries_at as usize;
        while at < self.data.len() {
            let e = self.entry(master, at);
            if e.id == id {
                if e.deleted() {
                    return false;
                }
                self.mark(at);
                return true;
            }
            if e.id > id {
                return false;
            }
            at = self.skip(at);
        }
        false
    }

    fn mark(&mut self, at: usize) {
        self.data[at] |= DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    /// Flags entries from the head deleted until `stop(id, length)`;
    /// `length` is the stream's, kept current. Returns how many.
    pub fn trim_head(
        &mut self,
        master: StreamId,
        length: &mut u64,
        stop: impl Fn(StreamId, u64) -> bool,
    ) -> u64 {
        let mut removed = 0;
        let mut at = self.entries_at as usize;
        while at < self.data.len() {
            let e = self.entry(master, at);
            if stop(e.id, *length) {
                break;
            }
            let deleted = e.deleted();
            let next = self.skip(at);
            if !deleted {
                self.mark(at);
                *length -= 1;
                removed += 1;
            }
            at = next;
        }
        removed
    }
}

struct MasterNames<'n> {
    data: &'n [u8],
    at: usize,
    left: usize,
}

impl ExactSizeIterator for MasterNames<'_> {}

impl<'n> Iterator for MasterNames<'n> {
    type Item = &'n [u8];

    fn next(&mut self) -> Option<&'n [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(get_str(self.data, &mut self.at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// An entry as it lies in its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'n> {
    pub id: StreamId,
    flags: u8,
    node: &'n Node,
    /// Just past the ID.
    at: usize,
}

impl<'n> EntryRef<'n> {
    pub fn deleted(&self) -> bool {
        self.flags & DELETED != 0
    }

    /// Whether its field names are the node's (Redis's SAMEFIELDS flag).
    pub fn same_fields(&self) -> bool {
        self.flags & SAME_FIELDS != 0
    }

    pub fn field_count(&self) -> usize {
        if self.flags & SAME_FIELDS != 0 {
            self.node.master_fields as usize
        } else {
            let mut at = self.at;
            get_varint(&self.node.data, &mut at) as usize
        }
    }

    /// Its (field, value) pairs.
    pub fn fields(&self) -> Fields<'n> {
        let mut at = self.at;
        let (names, left) = if self.flags & SAME_FIELDS != 0 {
            (
                Some(self.node.master_names()),
                self.node.master_fields as usize,
            )
        } else {
            let n = get_varint(&self.node.data, &mut at) as usize;
            (None, n)
        };
        Fields {
            data: &self.node.data,
            at,
            names,
            left,
        }
    }
}

pub struct Fields<'n> {
    data: &'n [u8],
    at: usize,
    names: Option<MasterNames<'n>>,
    left: usize,
}

impl<'n> Iterator for Fields<'n> {
    type Item = (&'n [u8], &'n [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let name = match &mut self.names {
            Some(names) => names.next()?,
            None => get_str(self.data, &mut self.at),
        };
        let value = get_str(self.data, &mut self.at);
        Some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_sizes_as_redis() {
        assert_eq!(lp_int(0), 2);
        assert_eq!(lp_int(128), 3);
        assert_eq!(lp_int(-1), 3);
        assert_eq!(lp_int(1 << 40), 10);
        assert_eq!(lp_str(b"12"), 2);
        assert_eq!(lp_str(b"012"), 5);
        assert_eq!(lp_str(&[b'a'; 63]), 65);
        assert_eq!(lp_str(&[b'a'; 126]), 130);
        // A new node with one field: header, counters, names, terminator.
        let n = Node::new(&[b"item", b"1"]);
        assert_eq!(n.lp_bytes(), 7 + 2 + 2 + 2 + 6 + 2);
    }
}
