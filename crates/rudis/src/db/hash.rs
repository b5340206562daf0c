//! Hashes. A small hash is one contiguous buffer of length-prefixed
//! fields and values in insertion order (Redis's listpack idea: no
//! allocation per field, a few bytes of overhead per string); past
//! `hash-max-listpack-entries` pairs or `hash-max-listpack-value` bytes in
//! a field or value it becomes a hash table, as Redis converts, and never
//! goes back.

use indexmap::IndexMap;

use super::blob::Blob;
use super::value::Value;

pub type Map = IndexMap<Blob, Blob, ahash::RandomState>;

/// Conversion thresholds (`hash-max-listpack-entries`, `-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// A hash, read-only, whichever its form. The forms are two variants of
/// `Value` (`Hash` compact, `HashTable`), not one nested enum, so a value
/// stays 24 bytes.
#[derive(Clone, Copy)]
pub enum HashRef<'a> {
    /// A pair count (u16, little endian) then `varint len, bytes` for
    /// each field and value in turn; exactly sized.
    Pack(&'a [u8]),
    Table(&'a Map),
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_pair(out: &mut Vec<u8>, field: &[u8], value: &[u8]) {
    put_varint(out, field.len());
    out.extend_from_slice(field);
    put_varint(out, value.len());
    out.extend_from_slice(value);
}

/// Reads the string at `pos`: (its bytes, the position after it).
pub(super) fn read_at(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = buf[pos];
        pos += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + len], pos + len)
}

/// Walks a packed hash: (field, value, start of the pair, end of the pair).
struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], &'a [u8], usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (f, p) = read_at(self.buf, start);
        let (v, end) = read_at(self.buf, p);
        self.pos = end;
        Some((f, v, start, end))
    }
}

fn pack_iter(buf: &[u8]) -> PackIter<'_> {
    PackIter { buf, pos: 2 }
}

fn pack_count(buf: &[u8]) -> usize {
    u16::from_le_bytes([buf[0], buf[1]]) as usize
}

/// A new empty hash, compact.
pub fn new_hash() -> Value {
    Value::Hash(Box::new([0, 0]))
}

/// `pack` with `range` replaced by `with` and the pair count changed by
/// `delta`, exactly sized.
fn rebuilt(pack: &[u8], range: std::ops::Range<usize>, with: &[u8], delta: isize) -> Box<[u8]> {
    let mut v = Vec::with_capacity(pack.len() - range.len() + with.len());
    let n = (pack_count(pack) as isize + delta) as u16;
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&pack[2..range.start]);
    v.extend_from_slice(with);
    v.extend_from_slice(&pack[range.end..]);
    v.into_boxed_slice()
}

impl<'a> HashRef<'a> {
    pub fn len(self) -> usize {
        match self {
            HashRef::Pack(b) => pack_count(b),
            HashRef::Table(m) => m.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn encoding(self) -> &'static str {
        match self {
            HashRef::Pack(_) => "listpack",
            HashRef::Table(_) => "hashtable",
        }
    }

    pub fn is_table(self) -> bool {
        matches!(self, HashRef::Table(_))
    }

    pub fn get(self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Pack(b) => pack_iter(b).find(|(f, ..)| *f == field).map(|(_, v, ..)| v),
            HashRef::Table(m) => m.get(field).map(Blob::as_slice),
        }
    }

    /// Every pair: insertion order while compact, table order after.
    pub fn iter(self) -> Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a> {
        match self {
            HashRef::Pack(b) => Box::new(pack_iter(b).map(|(f, v, ..)| (f, v))),
            HashRef::Table(m) => Box::new(m.iter().map(|(f, v)| (f.as_slice(), v.as_slice()))),
        }
    }

    /// The `i`-th pair in iteration order.
    pub fn nth(self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            HashRef::Pack(b) => pack_iter(b).nth(i).map(|(f, v, ..)| (f, v)),
            HashRef::Table(m) => m.get_index(i).map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }
}

impl Value {
    pub fn as_hash(&self) -> Option<HashRef<'_>> {
        match self {
            Value::Hash(b) => Some(HashRef::Pack(b)),
            Value::HashTable(m) => Some(HashRef::Table(m)),
            _ => None,
        }
    }

    /// Sets `field` to `value` in this hash; true if the field is new.
    /// Converts to a table first if either string is too long for the
    /// compact form, and after if there are now too many pairs (Redis's
    /// `hashTypeSet`).
    pub fn hash_set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if field.len() > limits.value || value.len() > limits.value {
            self.hash_to_table();
        }
        let new = match self {
            Value::HashTable(m) => m.insert(Blob::new(field), Blob::new(value)).is_none(),
            Value::Hash(b) => {
                let found = pack_iter(b)
                    .find(|(f, ..)| *f == field)
                    .map(|(.., s, e)| s..e);
                let mut pair = Vec::with_capacity(field.len() + value.len() + 4);
                put_pair(&mut pair, field, value);
                let end = b.len();
                *b = match &found {
                    Some(r) => rebuilt(b, r.clone(), &pair, 0),
                    None => rebuilt(b, end..end, &pair, 1),
                };
                found.is_none()
            }
            _ => unreachable!("hash_set on a hash"),
        };
        if self.as_hash().is_some_and(|h| h.len() > limits.entries) {
            self.hash_to_table();
        }
        new
    }

    /// Removes `field` from this hash; true if it existed.
    pub fn hash_remove(&mut self, field: &[u8]) -> bool {
        match self {
            Value::HashTable(m) => m.swap_remove(field).is_some(),
            Value::Hash(b) => {
                let Some((.., start, end)) = pack_iter(b).find(|(f, ..)| *f == field) else {
                    return false;
                };
                *b = rebuilt(b, start..end, &[], -1);
                true
            }
            _ => false,
        }
    }

    fn hash_to_table(&mut self) {
        if let Value::Hash(b) = self {
            let mut m = Map::with_capacity_and_hasher(pack_count(b), Default::default());
            for (f, v, ..) in pack_iter(b) {
                m.insert(Blob::new(f), Blob::new(v));
            }
            *self = Value::HashTable(Box::new(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        entries: 4,
        value: 8,
    };

    fn pairs(h: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.as_hash()
            .unwrap()
            .iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn compact_until_a_limit() {
        let mut h = new_hash();
        assert!(h.hash_set(b"a", b"1", LIMITS));
        assert!(h.hash_set(b"b", b"2", LIMITS));
        assert!(!h.hash_set(b"a", b"one", LIMITS));
        assert_eq!(h.as_hash().unwrap().get(b"a"), Some(&b"one"[..]));
        assert_eq!(
            pairs(&h),
            [
                (b"a".to_vec(), b"one".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert!(h.hash_remove(b"a") && !h.hash_remove(b"a"));
        assert_eq!(h.as_hash().unwrap().len(), 1);
        assert_eq!(h.encoding(), "listpack");
        h.hash_set(b"long", b"123456789", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = new_hash();
        for f in [b"1", b"2", b"3", b"4"] {
            h.hash_set(f, f, LIMITS);
        }
        assert_eq!(h.encoding(), "listpack");
        h.hash_set(b"5", b"5", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.as_hash().unwrap().len(), 5);
        assert_eq!(h.as_hash().unwrap().get(b"3"), Some(&b"3"[..]));
    }

    #[test]
    fn exact_size_and_long_strings() {
        let big = vec![7u8; 300];
        let mut h = new_hash();
        let limits = Limits {
            entries: 10,
            value: 1000,
        };
        h.hash_set(&big, b"x", limits);
        h.hash_set(b"y", &big, limits);
        assert_eq!(h.as_hash().unwrap().get(&big), Some(&b"x"[..]));
        assert_eq!(h.as_hash().unwrap().get(b"y"), Some(&big[..]));
        let Value::Hash(b) = &h else { panic!() };
        // count + (2-byte length + 300 + 1 + 1) + (1 + 1 + 2 + 300)
        assert_eq!(b.len(), 2 + 304 + 304);
    }
}
