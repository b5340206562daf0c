//! Sorted sets. A small one is one contiguous buffer of members and
//! scores in order (Redis's listpack idea) while it has at most
//! `zset-max-listpack-entries` members of at most
//! `zset-max-listpack-value` bytes; past that it becomes a map from
//! member to score (for ZSCORE, in O(1)) beside a counted B+tree of
//! (score, member) (for rank and range, in O(log n)), as Redis converts
//! to its dict and skiplist, and never goes back by itself. The two forms
//! are two `Value` variants so a value stays 24 bytes.

pub mod tree;

use std::cmp::Ordering;

use super::blob::Blob;
use super::value::Value;
use tree::{cmp, Members, Tree};

/// Conversion thresholds (`zset-max-listpack-entries`, `-value`), of
/// the same shape as a hash's.
pub use super::hash::Limits;

/// A large sorted set: each member's bytes and score once, in `map`
/// (insertion order, for ZSCAN and ZRANDMEMBER by position; ZSCORE in
/// O(1)), and its place in the order in `tree`, which refers to members
/// by their position in `map`.
#[derive(Clone, Debug, Default)]
pub struct SortedSet {
    map: Members,
    tree: Tree,
}

impl SortedSet {
    fn with_capacity(n: usize) -> Self {
        let mut z = SortedSet::default();
        z.map.reserve_exact(n);
        z
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.map.get(member).copied()
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.tree.rank(score, member, &self.map))
    }

    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        let it = self.tree.get(rank)?;
        Some((self.map.key(it.at as usize), it.score))
    }

    /// The member at `i` of the map (insertion order, holes refilled).
    pub fn nth_stored(&self, i: usize) -> Option<(&[u8], f64)> {
        self.map.get_index(i).map(|(m, s)| (m.as_slice(), *s))
    }

    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.tree.count_while(below, &self.map)
    }

    /// Calls `f` on (member, score) from `rank` on, upwards (downwards
    /// with `rev`), until it returns false.
    pub fn walk<'a>(&'a self, rank: usize, rev: bool, f: &mut dyn FnMut(&'a [u8], f64) -> bool) {
        let map = &self.map;
        self.tree
            .walk(rank, rev, &mut |it| f(map.key(it.at as usize), it.score));
    }

    /// Sets `member`'s score, adding it if new; returns its old score.
    pub fn set(&mut self, member: &[u8], score: f64) -> Option<f64> {
        match self.map.get_index_of(member) {
            // An update allocates nothing: the member keeps its bytes.
            Some(i) => {
                let old = self.map[i];
                if old.to_bits() != score.to_bits() {
                    self.tree.remove(old, member, &self.map);
                    self.map[i] = score;
                    self.tree.insert(score, i as u32, &self.map);
                }
                Some(old)
            }
            None => {
                let at = self.map.len() as u32;
                self.map.insert(Blob::new(member), score);
                self.tree.insert(score, at, &self.map);
                None
            }
        }
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let i = self.map.get_index_of(member)?;
        let score = self.map[i];
        self.tree.remove(score, member, &self.map);
        let last = self.map.len() - 1;
        if i != last {
            // The last member moves into the hole: its item follows.
            let (m, s) = (self.map.key(last), self.map[last]);
            self.tree.renumber(s, m, &self.map, i as u32);
        }
        self.map.swap_remove_index(i);
        Some(score)
    }

    /// Heap bytes beyond the members' own (which `members` lists).
    pub fn overhead(&self, alloc: fn(usize) -> usize) -> usize {
        self.map.overhead() + self.tree.heap_size(alloc)
    }

    pub fn members(&self) -> impl Iterator<Item = &Blob> + '_ {
        self.map.iter().map(|(m, _)| m)
    }
}

// The compact form: for each member in order `varint len, bytes, score`,
// the score a tag byte and its payload: an integer from SMALL_MIN to
// SMALL_MAX is the tag itself, larger integers take 2, 4 or 6 bytes more
// (up to 2^47: a Unix time in milliseconds, a common score, fits), 4 for
// 2^31..2^32, anything else the 8 bytes of the double. No count: a small
// set is walked anyway, and five short members then fit 16 bytes.
const F64: u8 = 0;
const I16: u8 = 1;
const I32: u8 = 2;
const U32: u8 = 3;
const I48: u8 = 4;
const SMALL_BASE: u8 = 5;
const SMALL_MIN: i64 = -64;
const SMALL_MAX: i64 = SMALL_MIN + (u8::MAX - SMALL_BASE) as i64;
const I48_LIMIT: i64 = 1 << 47;

fn put_entry(out: &mut Vec<u8>, member: &[u8], score: f64) {
    super::hash::put_varint(out, member.len());
    out.extend_from_slice(member);
    // Integral scores are integers, as in Redis's listpack: -0 becomes 0.
    let int = score as i64;
    if int as f64 != score || !(-I48_LIMIT..I48_LIMIT).contains(&int) {
        out.push(F64);
        out.extend_from_slice(&score.to_le_bytes());
    } else if (SMALL_MIN..=SMALL_MAX).contains(&int) {
        out.push(SMALL_BASE + (int - SMALL_MIN) as u8);
    } else if let Ok(v) = i16::try_from(int) {
        out.push(I16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(int) {
        out.push(I32);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = u32::try_from(int) {
        out.push(U32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(I48);
        out.extend_from_slice(&int.to_le_bytes()[..6]);
    }
}

/// Walks a packed sorted set: (member, score, start, end of the entry).
struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], f64, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        if self.pos >= buf.len() {
            return None;
        }
        let start = self.pos;
        let (member, p) = super::hash::read_at(buf, start);
        let (score, end) = match buf[p] {
            F64 => {
                let b: [u8; 8] = buf[p + 1..p + 9].try_into().expect("8 bytes");
                (f64::from_le_bytes(b), p + 9)
            }
            I16 => (i16::from_le_bytes([buf[p + 1], buf[p + 2]]) as f64, p + 3),
            I32 => {
                let b: [u8; 4] = buf[p + 1..p + 5].try_into().expect("4 bytes");
                (i32::from_le_bytes(b) as f64, p + 5)
            }
            U32 => {
                let b: [u8; 4] = buf[p + 1..p + 5].try_into().expect("4 bytes");
                (u32::from_le_bytes(b) as f64, p + 5)
            }
            I48 => {
                let mut b = [0u8; 8];
                b[..6].copy_from_slice(&buf[p + 1..p + 7]);
                // Sign-extends the 48 bits.
                ((i64::from_le_bytes(b) << 16 >> 16) as f64, p + 7)
            }
            t => ((SMALL_MIN + (t - SMALL_BASE) as i64) as f64, p + 1),
        };
        self.pos = end;
        Some((member, score, start, end))
    }
}

fn pack_iter(buf: &[u8]) -> PackIter<'_> {
    PackIter { buf, pos: 0 }
}

fn pack_count(buf: &[u8]) -> usize {
    pack_iter(buf).count()
}

/// A new empty sorted set, compact.
pub fn new_zset() -> Value {
    Value::ZsetPack(Box::new([]))
}

/// A new empty sorted set in the form Redis's `zsetTypeCreate` picks for
/// `size` members of which the longest has `longest` bytes.
pub fn new_zset_for(size: usize, longest: usize, limits: Limits) -> Value {
    if size <= limits.entries && longest <= limits.value {
        new_zset()
    } else {
        Value::Zset(Box::default())
    }
}

/// A sorted set, read-only, whichever its form.
#[derive(Clone, Copy)]
pub enum ZsetRef<'a> {
    Pack(&'a [u8]),
    Tree(&'a SortedSet),
}

impl<'a> ZsetRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ZsetRef::Pack(b) => pack_count(b),
            ZsetRef::Tree(z) => z.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn is_pack(self) -> bool {
        matches!(self, ZsetRef::Pack(_))
    }

    pub fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            ZsetRef::Pack(b) => pack_iter(b).find(|e| e.0 == member).map(|e| e.1),
            ZsetRef::Tree(z) => z.score(member),
        }
    }

    /// The member's 0-based rank, lowest score first.
    pub fn rank(self, member: &[u8]) -> Option<usize> {
        match self {
            ZsetRef::Pack(b) => pack_iter(b).position(|e| e.0 == member),
            ZsetRef::Tree(z) => z.rank(member),
        }
    }

    /// The member at `rank` and its score.
    pub fn get(self, rank: usize) -> Option<(&'a [u8], f64)> {
        match self {
            ZsetRef::Pack(b) => pack_iter(b).nth(rank).map(|e| (e.0, e.1)),
            ZsetRef::Tree(z) => z.get(rank),
        }
    }

    /// The member at `i` in storage order (rank order when compact,
    /// insertion order of the map otherwise), for random picks and scans.
    pub fn nth_stored(self, i: usize) -> Option<(&'a [u8], f64)> {
        match self {
            ZsetRef::Pack(_) => self.get(i),
            ZsetRef::Tree(z) => z.nth_stored(i),
        }
    }

    /// How many members come before the first that `below` is false of
    /// (`below` must hold for a prefix of the order).
    pub fn count_while(self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZsetRef::Pack(b) => pack_iter(b).take_while(|e| below(e.1, e.0)).count(),
            ZsetRef::Tree(z) => z.count_while(below),
        }
    }

    /// Calls `f` on (member, score) from `rank` on, upwards (downwards
    /// with `rev`), until it returns false.
    pub fn walk(self, rank: usize, rev: bool, mut f: impl FnMut(&'a [u8], f64) -> bool) {
        match self {
            ZsetRef::Pack(b) => {
                if rev {
                    let all: Vec<(&[u8], f64)> =
                        pack_iter(b).take(rank + 1).map(|e| (e.0, e.1)).collect();
                    for (m, s) in all.into_iter().rev() {
                        if !f(m, s) {
                            return;
                        }
                    }
                } else {
                    for e in pack_iter(b).skip(rank) {
                        if !f(e.0, e.1) {
                            return;
                        }
                    }
                }
            }
            ZsetRef::Tree(z) => z.walk(rank, rev, &mut f),
        }
    }

    /// Every (member, score), in order.
    pub fn to_vec(self) -> Vec<(&'a [u8], f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.walk(0, false, |m, s| {
            v.push((m, s));
            true
        });
        v
    }

    /// The longest member's length (for choosing a new set's form).
    pub fn longest(self) -> usize {
        let mut n = 0;
        self.walk(0, false, |m, _| {
            n = n.max(m.len());
            true
        });
        n
    }
}

impl Value {
    pub fn as_zset(&self) -> Option<ZsetRef<'_>> {
        match self {
            Value::ZsetPack(b) => Some(ZsetRef::Pack(b)),
            Value::Zset(z) => Some(ZsetRef::Tree(z)),
            _ => None,
        }
    }

    /// Sets `member`'s score, adding it if new; returns its old score.
    /// Converts to the large form before adding a member too long for the
    /// compact one, and after growing past the entry limit (Redis's
    /// `zsetAdd`).
    pub fn zset_set(&mut self, member: &[u8], score: f64, limits: Limits) -> Option<f64> {
        if member.len() > limits.value {
            self.zset_to_tree();
        }
        let old = match self {
            Value::Zset(z) => z.set(member, score),
            Value::ZsetPack(b) => {
                let found = pack_iter(b).find(|e| e.0 == member);
                let old = found.map(|e| e.1);
                let mut v: Vec<u8> = Vec::with_capacity(b.len() + member.len() + 12);
                let mut placed = false;
                for (m, s, start, end) in pack_iter(b) {
                    if m == member {
                        continue;
                    }
                    if !placed && cmp(s, m, score, member) == Ordering::Greater {
                        put_entry(&mut v, member, score);
                        placed = true;
                    }
                    v.extend_from_slice(&b[start..end]);
                }
                if !placed {
                    put_entry(&mut v, member, score);
                }
                *b = v.into_boxed_slice();
                old
            }
            _ => unreachable!("zset_set on a sorted set"),
        };
        if let Value::ZsetPack(b) = self {
            if pack_count(b) > limits.entries {
                self.zset_to_tree();
            }
        }
        old
    }

    /// Removes `member`; returns its score if it was there.
    pub fn zset_remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            Value::Zset(z) => z.remove(member),
            Value::ZsetPack(b) => {
                let (_, score, start, end) = pack_iter(b).find(|e| e.0 == member)?;
                let mut v = Vec::with_capacity(b.len() - (end - start));
                v.extend_from_slice(&b[..start]);
                v.extend_from_slice(&b[end..]);
                *b = v.into_boxed_slice();
                Some(score)
            }
            _ => None,
        }
    }

    /// Removes the members of ranks `start..end`; returns them in order.
    pub fn zset_remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let Some(z) = self.as_zset() else {
            return Vec::new();
        };
        let mut gone = Vec::with_capacity(end.saturating_sub(start));
        if start < end {
            z.walk(start, false, |m, s| {
                gone.push((m.to_vec(), s));
                gone.len() < end - start
            });
        }
        match self {
            Value::ZsetPack(b) => {
                let entries: Vec<(usize, usize)> = pack_iter(b).map(|e| (e.2, e.3)).collect();
                if gone.is_empty() {
                    return gone;
                }
                let from = entries[start].0;
                let to = entries[start + gone.len() - 1].1;
                let mut v = Vec::with_capacity(b.len() - (to - from));
                v.extend_from_slice(&b[..from]);
                v.extend_from_slice(&b[to..]);
                *b = v.into_boxed_slice();
            }
            Value::Zset(z) => {
                for (m, _) in &gone {
                    z.remove(m);
                }
            }
            _ => {}
        }
        gone
    }

    fn zset_to_tree(&mut self) {
        if let Value::ZsetPack(b) = self {
            let mut z = SortedSet::with_capacity(pack_count(b));
            for (m, s, ..) in pack_iter(b) {
                z.set(m, s);
            }
            *self = Value::Zset(Box::new(z));
        }
    }

    /// Turns a large sorted set that fits the limits back into the
    /// compact form (Redis's `zsetConvertToListpackIfNeeded`, which the
    /// STORE commands apply to what they build).
    pub fn zset_fit(&mut self, limits: Limits) {
        let Some(z) = self.as_zset() else { return };
        if z.is_pack() || z.len() > limits.entries || z.longest() > limits.value {
            return;
        }
        let mut v = Vec::new();
        z.walk(0, false, |m, s| {
            put_entry(&mut v, m, s);
            true
        });
        *self = Value::ZsetPack(v.into_boxed_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        entries: 4,
        value: 8,
    };

    fn items(z: &Value) -> Vec<(Vec<u8>, f64)> {
        z.as_zset()
            .unwrap()
            .to_vec()
            .into_iter()
            .map(|(m, s)| (m.to_vec(), s))
            .collect()
    }

    #[test]
    fn both_forms_keep_the_order() {
        for limits in [
            LIMITS,
            Limits {
                entries: 0,
                value: 0,
            },
        ] {
            let mut z = new_zset();
            assert_eq!(z.zset_set(b"b", 2.0, limits), None);
            assert_eq!(z.zset_set(b"a", 2.0, limits), None);
            assert_eq!(z.zset_set(b"c", -0.5, limits), None);
            assert_eq!(z.zset_set(b"b", 1e300, limits), Some(2.0));
            let want = vec![
                (b"c".to_vec(), -0.5),
                (b"a".to_vec(), 2.0),
                (b"b".to_vec(), 1e300),
            ];
            assert_eq!(items(&z), want);
            let r = z.as_zset().unwrap();
            assert_eq!(r.rank(b"a"), Some(1));
            assert_eq!(r.score(b"b"), Some(1e300));
            assert_eq!(r.get(2), Some((&b"b"[..], 1e300)));
            assert_eq!(r.count_while(|s, _| s < 2.0), 1);
            let mut back = Vec::new();
            r.walk(1, true, |m, _| {
                back.push(m.to_vec());
                true
            });
            assert_eq!(back, [b"a".to_vec(), b"c".to_vec()]);
            assert_eq!(z.zset_remove(b"a"), Some(2.0));
            assert_eq!(z.zset_remove(b"a"), None);
            assert_eq!(z.zset_remove_ranks(0, 1), [(b"c".to_vec(), -0.5)]);
            assert_eq!(items(&z), [(b"b".to_vec(), 1e300)]);
        }
    }

    #[test]
    fn converts_past_the_limits() {
        let mut z = new_zset();
        for (i, m) in [b"1", b"2", b"3", b"4"].iter().enumerate() {
            z.zset_set(*m, i as f64 + 0.25, LIMITS);
        }
        assert_eq!(z.encoding(), "listpack");
        z.zset_set(b"5", 70000.0, LIMITS);
        assert_eq!(z.encoding(), "skiplist");
        z.zset_remove(b"5");
        z.zset_fit(LIMITS);
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(items(&z)[3], (b"4".to_vec(), 3.25));
        z.zset_set(b"123456789", -0.0, LIMITS);
        assert_eq!(z.encoding(), "skiplist");
        let mut p = new_zset();
        p.zset_set(b"x", -0.0, LIMITS);
        assert!(!p.as_zset().unwrap().score(b"x").unwrap().is_sign_negative());
        p.zset_set(b"y", -40000.0, LIMITS);
        assert_eq!(p.as_zset().unwrap().score(b"y"), Some(-40000.0));
    }

    /// Removals move the map's last member into the hole; the tree's
    /// item for it must follow, or ranks and walks name the wrong member.
    #[test]
    fn the_large_form_matches_a_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut z = SortedSet::default();
        let mut model = std::collections::BTreeMap::<Vec<u8>, f64>::new();
        for round in 0..30_000 {
            let member = format!("member:{}", rng.gen_range(0..3000)).into_bytes();
            if rng.gen_bool(0.4) {
                assert_eq!(z.remove(&member), model.remove(&member));
            } else {
                let score = rng.gen_range(0..40) as f64 / 4.0;
                assert_eq!(z.set(&member, score), model.insert(member, score));
            }
            if round % 1499 == 0 {
                let mut want: Vec<(f64, &[u8])> = model.iter().map(|(m, s)| (*s, &m[..])).collect();
                want.sort_by(|a, b| cmp(a.0, a.1, b.0, b.1));
                let mut got = Vec::new();
                z.walk(0, false, &mut |m, s| {
                    got.push((s, m));
                    true
                });
                assert_eq!(got, want);
                for (r, (s, m)) in want.iter().enumerate().step_by(13) {
                    assert_eq!(z.rank(m), Some(r));
                    assert_eq!(z.get(r), Some((*m, *s)));
                    assert_eq!(z.score(m), Some(*s));
                }
            }
        }
    }

    #[test]
    fn packed_scores_of_every_width_read_back() {
        let scores = [
            0.0,
            -64.0,
            186.0,
            187.0,
            -65.0,
            32767.0,
            -32768.0,
            32768.0,
            2147483647.0,
            -2147483648.0,
            2147483648.0,
            4294967295.0,
            4294967296.0,
            -4294967296.0,
            1_733_270_400_000.0,
            -140737488355328.0,
            140737488355327.0,
            140737488355328.0,
            1e300,
            0.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut z = new_zset();
        for (i, s) in scores.iter().enumerate() {
            z.zset_set(
                format!("m{i}").as_bytes(),
                *s,
                Limits {
                    entries: 64,
                    value: 64,
                },
            );
        }
        assert_eq!(z.encoding(), "listpack");
        let r = z.as_zset().unwrap();
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(r.score(format!("m{i}").as_bytes()), Some(*s), "{s}");
        }
        // A millisecond timestamp takes 7 bytes, not a double's 9.
        let mut one = new_zset();
        one.zset_set(b"m", 1_733_270_400_000.0, LIMITS);
        assert!(matches!(&one, Value::ZsetPack(b) if b.len() == 2 + 7));
    }
}
