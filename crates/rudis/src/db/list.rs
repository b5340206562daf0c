//! Lists: a deque of chunks (Redis's quicklist). Each chunk is one
//! contiguous ring buffer of elements whose strings of up to 22 bytes sit
//! inline; pushing and popping at either end is O(1) without moving other
//! elements, an index walks chunk lengths rather than elements, and
//! growing a long list never copies it whole.
//!
//! The chunks follow Redis's two list directives. `list-max-listpack-size`
//! (alias `list-max-ziplist-size`) bounds a chunk: a positive value by
//! element count (and 8 KB at most), a negative one by size (-1 to -5:
//! 4 to 64 KB, counted as a listpack would hold the elements).
//! `list-compress-depth` N keeps N chunks at each end as they are and
//! compresses the ones between with LZF once they are inner, as Redis's
//! quicklist does: a chunk is serialised (length-prefixed elements) and
//! kept compressed when that saves at least 8 bytes of at least 48. A
//! compressed chunk is expanded for a change and compressed again after
//! it; a read expands a copy.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

use super::blob::Blob;

/// `list-max-listpack-size` and `list-compress-depth`, set from the
/// configuration (one server per process).
static FILL: AtomicI64 = AtomicI64::new(-2);
static DEPTH: AtomicUsize = AtomicUsize::new(0);
/// Elements at least this long get a chunk of their own (Redis's plain
/// quicklist nodes; DEBUG QUICKLIST-PACKED-THRESHOLD, default 1 GB).
static PACKED_THRESHOLD: AtomicUsize = AtomicUsize::new(1 << 30);

/// DEBUG QUICKLIST-PACKED-THRESHOLD: 0 restores the default.
pub fn set_packed_threshold(bytes: usize) {
    PACKED_THRESHOLD.store(if bytes == 0 { 1 << 30 } else { bytes }, Relaxed);
}

fn is_large(b: &Blob) -> bool {
    b.len() >= PACKED_THRESHOLD.load(Relaxed)
}

/// Held by unit tests that set the list directives (they are global), so
/// a test making a server cannot change them under another.
#[cfg(test)]
pub static TEST_CONFIG: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Applies the list directives to lists from now on (existing chunks keep
/// their size; compression is applied as they change).
pub fn configure(fill: i64, depth: usize) {
    FILL.store(fill, Relaxed);
    DEPTH.store(depth, Relaxed);
}

/// Redis's SIZE_SAFETY_LIMIT and SIZE_ESTIMATE_OVERHEAD.
const SAFETY_LIMIT: usize = 8192;
const ESTIMATE_OVERHEAD: usize = 8;
/// Redis's MIN_COMPRESS_BYTES and MIN_COMPRESS_IMPROVE.
const MIN_COMPRESS_BYTES: usize = 48;
const MIN_COMPRESS_IMPROVE: usize = 8;
/// An empty listpack's header and end byte.
const EMPTY_BYTES: usize = 7;

/// What one element adds to a listpack: its bytes, an encoding header
/// and a back-length (Redis's estimate is close enough for sizing).
fn entry_bytes(b: &Blob) -> usize {
    let n = b.len();
    n + if n < 64 {
        2
    } else if n < 4096 {
        4
    } else {
        10
    }
}

/// Whether a chunk of `count` elements taking `bytes` may take one more
/// of `add` bytes (Redis's `_quicklistNodeAllowInsert`).
fn room(count: usize, bytes: usize, add: usize) -> bool {
    let fill = FILL.load(Relaxed);
    let size = bytes + add + ESTIMATE_OVERHEAD;
    if fill >= 0 {
        count < fill as usize && size <= SAFETY_LIMIT
    } else {
        let level = (-fill - 1).min(4) as u32;
        size <= 4096usize << level
    }
}

#[derive(Clone, Debug, Default)]
struct Chunk {
    /// Empty while `packed`.
    items: VecDeque<Blob>,
    /// The elements, serialised and LZF-compressed, with the serialised
    /// length.
    packed: Option<(Box<[u8]>, u32)>,
    count: usize,
    bytes: usize,
    /// Compression was tried since the last change and did not pay.
    incompressible: bool,
    /// Holds one large element and takes no other (a plain node).
    plain: bool,
}

fn serialise(items: &VecDeque<Blob>) -> Vec<u8> {
    let mut raw = Vec::new();
    for b in items {
        let mut n = b.len();
        while n >= 0x80 {
            raw.push((n as u8) | 0x80);
            n >>= 7;
        }
        raw.push(n as u8);
        raw.extend_from_slice(b.as_slice());
    }
    raw
}

fn deserialise(raw: &[u8], count: usize) -> VecDeque<Blob> {
    let mut items = VecDeque::with_capacity(count);
    let mut p = 0;
    while p < raw.len() {
        let (mut n, mut shift) = (0usize, 0);
        while let Some(&b) = raw.get(p) {
            p += 1;
            n |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = (p + n).min(raw.len());
        items.push_back(Blob::new(&raw[p..end]));
        p = end;
    }
    items
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            items: VecDeque::new(),
            bytes: EMPTY_BYTES,
            ..Default::default()
        }
    }

    fn len(&self) -> usize {
        self.count
    }

    /// The elements, expanded if compressed (only this process wrote the
    /// compressed bytes, so they always expand).
    fn expanded(&self) -> VecDeque<Blob> {
        match &self.packed {
            Some((z, raw)) => crate::lzf::decompress(z, *raw as usize)
                .map(|r| deserialise(&r, self.count))
                .unwrap_or_default(),
            None => self.items.clone(),
        }
    }

    /// Ready for a change: expanded in place.
    fn open(&mut self) -> &mut VecDeque<Blob> {
        if self.packed.is_some() {
            self.items = self.expanded();
            self.packed = None;
        }
        self.incompressible = false;
        &mut self.items
    }

    fn compress(&mut self) {
        if self.packed.is_some() || self.incompressible {
            return;
        }
        let raw = serialise(&self.items);
        if raw.len() >= MIN_COMPRESS_BYTES {
            if let Some(z) = crate::lzf::compress(&raw, MIN_COMPRESS_IMPROVE) {
                self.packed = Some((z.into_boxed_slice(), raw.len() as u32));
                self.items = VecDeque::new();
                return;
            }
        }
        self.incompressible = true;
    }

    fn recount(&mut self) {
        self.count = self.items.len();
        self.bytes = EMPTY_BYTES + self.items.iter().map(entry_bytes).sum::<usize>();
    }
}

/// An element as a read sees it: in place, or expanded from a compressed
/// chunk.
pub enum Elem<'a> {
    Ref(&'a Blob),
    Own(Blob),
}

impl Elem<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Elem::Ref(b) => b.as_slice(),
            Elem::Own(b) => b.as_slice(),
        }
    }
}

/// One chunk's elements, front to back or back to front.
enum ChunkIter<'a> {
    Ref(std::collections::vec_deque::Iter<'a, Blob>),
    Own(std::collections::vec_deque::IntoIter<Blob>),
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            ChunkIter::Ref(i) => i.next().map(Elem::Ref),
            ChunkIter::Own(i) => i.next().map(Elem::Own),
        }
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            ChunkIter::Ref(i) => i.next_back().map(Elem::Ref),
            ChunkIter::Own(i) => i.next_back().map(Elem::Own),
        }
    }
}

fn chunk_iter(c: &Chunk, skip: usize) -> ChunkIter<'_> {
    if c.packed.is_some() {
        let mut items = c.expanded();
        items.drain(..skip.min(items.len()));
        ChunkIter::Own(items.into_iter())
    } else {
        ChunkIter::Ref(c.items.range(skip.min(c.items.len())..))
    }
}

#[derive(Clone, Debug, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Left,
    Right,
}

/// What DEBUG OBJECT reports of a list's quicklist.
pub struct Shape {
    pub nodes: usize,
    /// The listpack bytes of every node, uncompressed.
    pub bytes: usize,
    /// `list-max-listpack-size`.
    pub fill: i64,
    pub compressed: bool,
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn quicklist_shape(&self) -> Shape {
        Shape {
            nodes: self.chunks.len(),
            // Each node's listpack: header and end byte, and its elements
            // as a listpack encodes them.
            bytes: 7 * self.chunks.len()
                + self
                    .iter()
                    .map(|e| super::stream::listpack_size(e.as_slice()) as usize)
                    .sum::<usize>(),
            fill: FILL.load(Relaxed),
            compressed: DEPTH.load(Relaxed) != 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Chunks within the compress depth of either end are expanded; the
    /// first one past it at each end is compressed. Enough after a push or
    /// pop at an end, where only those two can change side.
    fn settle_ends(&mut self) {
        let depth = DEPTH.load(Relaxed);
        if depth == 0 {
            return;
        }
        let n = self.chunks.len();
        if n <= 2 * depth {
            // Everything is near an end.
            for i in [depth - 1, n.saturating_sub(depth)] {
                if let Some(c) = self.chunks.get_mut(i) {
                    c.open();
                }
            }
            return;
        }
        self.chunks[depth - 1].open();
        self.chunks[n - depth].open();
        self.chunks[depth].compress();
        self.chunks[n - 1 - depth].compress();
    }

    /// Every chunk on its side of the compress depth: after a change in
    /// the middle, which can shift chunks across it.
    fn settle_all(&mut self) {
        let depth = DEPTH.load(Relaxed);
        if depth == 0 {
            return;
        }
        let n = self.chunks.len();
        for (i, c) in self.chunks.iter_mut().enumerate() {
            if i >= depth && i + depth < n {
                c.compress();
            } else if c.packed.is_some() {
                c.open();
            }
        }
    }

    pub fn push(&mut self, end: End, v: Blob) {
        let add = entry_bytes(&v);
        let at = match end {
            End::Left => 0,
            End::Right => self.chunks.len().saturating_sub(1),
        };
        let large = is_large(&v);
        let fits = !large
            && self
                .chunks
                .get(at)
                .is_some_and(|c| !c.plain && room(c.count, c.bytes, add));
        if self.chunks.is_empty() {
            // Most lists are one chunk: room for just that one (a deque's
            // first growth would make room for four).
            self.chunks.reserve_exact(1);
        }
        if !fits {
            // The end chunk is full and stays so until it is changed:
            // give back the ring buffer's spare room.
            if let Some(full) = self.chunks.get_mut(at) {
                full.items.shrink_to_fit();
            }
            match end {
                End::Left => self.chunks.push_front(Chunk::new()),
                End::Right => self.chunks.push_back(Chunk::new()),
            }
        }
        let at = match end {
            End::Left => 0,
            End::Right => self.chunks.len() - 1,
        };
        let c = &mut self.chunks[at];
        c.plain = large;
        let items = c.open();
        match end {
            End::Left => items.push_front(v),
            End::Right => items.push_back(v),
        }
        c.count += 1;
        c.bytes += add;
        self.len += 1;
        if !fits {
            self.settle_ends();
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Blob> {
        let at = match end {
            End::Left => 0,
            End::Right => self.chunks.len().checked_sub(1)?,
        };
        let c = self.chunks.get_mut(at)?;
        let items = c.open();
        let v = match end {
            End::Left => items.pop_front(),
            End::Right => items.pop_back(),
        }?;
        c.count -= 1;
        c.bytes -= entry_bytes(&v);
        self.len -= 1;
        if c.count == 0 {
            self.chunks.remove(at);
            self.settle_ends();
        }
        Some(v)
    }

    /// (chunk, position in it) of element `i`, walking from the nearer end.
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            let mut left = i;
            for (n, c) in self.chunks.iter().enumerate() {
                if left < c.len() {
                    return Some((n, left));
                }
                left -= c.len();
            }
        } else {
            let mut right = self.len - 1 - i;
            for (n, c) in self.chunks.iter().enumerate().rev() {
                if right < c.len() {
                    return Some((n, c.len() - 1 - right));
                }
                right -= c.len();
            }
        }
        None
    }

    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        let (c, p) = self.locate(i)?;
        let chunk = &self.chunks[c];
        if chunk.packed.is_some() {
            return chunk.expanded().swap_remove_back(p).map(Elem::Own);
        }
        chunk.items.get(p).map(Elem::Ref)
    }

    /// Runs `f` on chunk `c` expanded, then puts the list back in shape
    /// (splitting an overfull chunk, dropping an empty one, compressing).
    fn change<R>(&mut self, c: usize, f: impl FnOnce(&mut VecDeque<Blob>) -> R) -> R {
        let before = self.chunks.len();
        let chunk = &mut self.chunks[c];
        let r = f(chunk.open());
        chunk.recount();
        if chunk.count == 0 {
            self.chunks.remove(c);
        } else if chunk.count > 1 && !room(chunk.count - 1, chunk.bytes, 0) {
            // Overfull after an insert or a longer value: split in two.
            let mut tail = Chunk::new();
            tail.items = chunk.items.split_off(chunk.items.len() / 2);
            chunk.recount();
            tail.recount();
            self.chunks.insert(c + 1, tail);
        }
        let depth = DEPTH.load(Relaxed);
        if self.chunks.len() != before {
            // Chunks after `c` moved: any may have crossed the depth.
            self.settle_all();
        } else if depth > 0 && c >= depth && c + depth < self.chunks.len() {
            self.chunks[c].compress();
        }
        r
    }

    pub fn set(&mut self, i: usize, v: Blob) -> bool {
        if is_large(&v) && i < self.len {
            // A large value takes a chunk of its own in the element's place.
            self.remove(i);
            self.insert(i, v);
            return true;
        }
        match self.locate(i) {
            Some((c, p)) => {
                self.change(c, |items| items[p] = v);
                true
            }
            None => false,
        }
    }

    /// Inserts `v` so that it becomes element `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: Blob) {
        if i == self.len {
            return self.push(End::Right, v);
        }
        let Some((c, p)) = self.locate(i) else {
            return;
        };
        if is_large(&v) {
            return self.insert_plain(c, p, v);
        }
        self.change(c, |items| items.insert(p, v));
        self.chunks[c].plain = false;
        self.len += 1;
    }

    /// Puts a large element in a chunk of its own before position `p` of
    /// chunk `c`, splitting that chunk there.
    fn insert_plain(&mut self, c: usize, p: usize, v: Blob) {
        let mut own = Chunk::new();
        own.items.push_back(v);
        own.recount();
        own.plain = true;
        let chunk = &mut self.chunks[c];
        chunk.open();
        let at = if p == 0 {
            c
        } else {
            let mut tail = Chunk::new();
            tail.items = chunk.items.split_off(p);
            tail.plain = chunk.plain;
            chunk.recount();
            tail.recount();
            if tail.count > 0 {
                self.chunks.insert(c + 1, tail);
            }
            c + 1
        };
        self.chunks.insert(at, own);
        self.len += 1;
        self.settle_all();
    }

    /// Removes element `i`.
    pub fn remove(&mut self, i: usize) -> Option<Blob> {
        let (c, p) = self.locate(i)?;
        let v = self.change(c, |items| items.remove(p));
        self.len -= v.is_some() as usize;
        v
    }

    /// Elements from `from` on, in order.
    pub fn iter_from(&self, from: usize) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        let (c, p) = self.locate(from).unwrap_or((self.chunks.len(), 0));
        self.chunks
            .range(c.min(self.chunks.len())..)
            .enumerate()
            .flat_map(move |(n, chunk)| chunk_iter(chunk, if n == 0 { p } else { 0 }))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        self.chunks.iter().flat_map(|c| chunk_iter(c, 0))
    }

    /// Keeps elements `start..=end` only (both in range, `start <= end`).
    pub fn trim(&mut self, start: usize, end: usize) {
        for _ in 0..start {
            self.pop(End::Left);
        }
        let keep = end - start + 1;
        while self.len > keep {
            self.pop(End::Right);
        }
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Heap bytes of the chunks and their elements (MEMORY USAGE); the
    /// elements' own allocations are sampled (see `memory::sampled`).
    pub fn memory(&self, samples: usize) -> usize {
        use super::memory::{alloc_size, blob_size, sampled};
        let chunks: usize = self
            .chunks
            .iter()
            .map(|c| match &c.packed {
                Some((z, _)) => alloc_size(z.len()),
                None => alloc_size(c.items.capacity() * std::mem::size_of::<Blob>()),
            })
            .sum();
        alloc_size(self.chunks.capacity() * std::mem::size_of::<Chunk>())
            + chunks
            + sampled(self.iter(), self.len, samples, |e| match e {
                Elem::Ref(b) => blob_size(b),
                Elem::Own(_) => 0,
            })
    }

    /// Chunks, and how many are compressed.
    #[cfg(test)]
    fn shape(&self) -> (usize, usize) {
        let packed = self.chunks.iter().filter(|c| c.packed.is_some()).count();
        (self.chunks.len(), packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<u32> {
        l.iter()
            .map(|b| std::str::from_utf8(b.as_slice()).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn matches_a_plain_deque() {
        let mut l = List::default();
        let mut d: VecDeque<u32> = VecDeque::new();
        let b = |n: u32| Blob::new(n.to_string().as_bytes());
        for n in 0..1000u32 {
            if n % 3 == 0 {
                l.push(End::Left, b(n));
                d.push_front(n);
            } else {
                l.push(End::Right, b(n));
                d.push_back(n);
            }
        }
        for i in [0, 1, 127, 128, 500, 998, 999] {
            assert_eq!(l.get(i).unwrap().as_slice(), d[i].to_string().as_bytes());
        }
        l.insert(300, b(5000));
        d.insert(300, 5000);
        for _ in 0..300 {
            l.insert(301, b(6000));
            d.insert(301, 6000);
        }
        assert_eq!(
            l.remove(700).unwrap().as_slice(),
            d.remove(700).unwrap().to_string().as_bytes()
        );
        assert_eq!(items(&l), d.iter().copied().collect::<Vec<_>>());
        let from: Vec<u32> = l
            .iter_from(250)
            .take(100)
            .map(|b| std::str::from_utf8(b.as_slice()).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            from,
            d.iter().skip(250).take(100).copied().collect::<Vec<_>>()
        );
        l.trim(10, 600);
        let kept: Vec<u32> = d.iter().skip(10).take(591).copied().collect();
        assert_eq!(items(&l), kept);
        assert_eq!(l.len(), 591);
        while l.pop(End::Right).is_some() {}
        assert!(l.is_empty());
    }

    /// Every operation under several chunk sizes and compress depths
    /// against a plain deque; chunks near the ends are never compressed,
    /// inner ones are once they pay, chunks respect the fill.
    #[test]
    fn any_fill_and_depth_matches_a_plain_deque() {
        let _config = super::TEST_CONFIG.lock();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        for (fill, depth) in [
            (1, 1),
            (4, 2),
            (16, 1),
            (-1, 3),
            (0, 1),
            (-5, 1),
            (-2, 0),
            (128, 2),
        ] {
            configure(fill, depth);
            let mut l = List::default();
            let mut d: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000 {
                // Compressible values of varied length.
                let v = format!("value-{}-{}", rnd(50), "ab".repeat(rnd(40))).into_bytes();
                match rnd(10) {
                    0..=2 => {
                        l.push(End::Left, Blob::new(&v));
                        d.push_front(v);
                    }
                    3..=5 => {
                        l.push(End::Right, Blob::new(&v));
                        d.push_back(v);
                    }
                    6 => {
                        let e = if rnd(2) == 0 { End::Left } else { End::Right };
                        let got = l.pop(e).map(|b| b.as_slice().to_vec());
                        let want = if e == End::Left {
                            d.pop_front()
                        } else {
                            d.pop_back()
                        };
                        assert_eq!(got, want);
                    }
                    7 => {
                        let i = rnd(d.len() + 1);
                        l.insert(i, Blob::new(&v));
                        d.insert(i, v);
                    }
                    8 if !d.is_empty() => {
                        let i = rnd(d.len());
                        assert_eq!(l.remove(i).map(|b| b.as_slice().to_vec()), d.remove(i));
                    }
                    _ if !d.is_empty() => {
                        let i = rnd(d.len());
                        assert!(l.set(i, Blob::new(&v)));
                        d[i] = v;
                    }
                    _ => {}
                }
                assert_eq!(l.len(), d.len());
                if !d.is_empty() {
                    let i = rnd(d.len());
                    assert_eq!(l.get(i).map(|e| e.as_slice().to_vec()).as_ref(), d.get(i));
                }
                if step % 500 == 499 {
                    let all: Vec<Vec<u8>> = l.iter().map(|e| e.as_slice().to_vec()).collect();
                    assert_eq!(all, d.iter().cloned().collect::<Vec<_>>());
                    let back: Vec<Vec<u8>> =
                        l.iter().rev().map(|e| e.as_slice().to_vec()).collect();
                    assert_eq!(back, d.iter().rev().cloned().collect::<Vec<_>>());
                    let n = l.chunks.len();
                    for (k, c) in l.chunks.iter().enumerate() {
                        assert_eq!(
                            c.len(),
                            if c.packed.is_some() {
                                c.count
                            } else {
                                c.items.len()
                            }
                        );
                        if k < depth || k + depth >= n || depth == 0 {
                            assert!(
                                c.packed.is_none(),
                                "chunk {k} of {n} packed at depth {depth}"
                            );
                        }
                        if fill > 0 {
                            assert!(c.count <= fill as usize, "{} > {fill}", c.count);
                        }
                    }
                }
            }
            for _ in 0..1000 {
                let v = format!("filler-{}", rnd(10)).repeat(3).into_bytes();
                l.push(End::Right, Blob::new(&v));
            }
            let (chunks, packed) = l.shape();
            if depth > 0 && chunks > 2 * depth + 1 {
                assert!(
                    packed > 0,
                    "fill {fill} depth {depth}: {chunks} chunks, none packed"
                );
            }
            l.trim(5, l.len() - 5);
        }
        configure(-2, 0);
    }

    /// Large elements (DEBUG QUICKLIST-PACKED-THRESHOLD) live in chunks
    /// of their own, whatever the operation that brings them.
    #[test]
    fn large_elements_get_chunks_of_their_own() {
        set_packed_threshold(10);
        let mut l = List::default();
        let mut d: VecDeque<Vec<u8>> = VecDeque::new();
        let big = |c: u8| vec![c; 12];
        for c in b"abcd" {
            l.push(End::Left, Blob::new(&big(*c)));
            d.push_front(big(*c));
        }
        l.push(End::Right, Blob::new(b"small"));
        d.push_back(b"small".to_vec());
        for (i, c) in [(1, b'e'), (1, b'f'), (5, b'g'), (0, b'h')] {
            l.insert(i, Blob::new(&big(c)));
            d.insert(i, big(c));
        }
        l.insert(3, Blob::new(b"x"));
        d.insert(3, b"x".to_vec());
        assert!(l.set(4, Blob::new(&big(b'z'))));
        d[4] = big(b'z');
        let all: Vec<Vec<u8>> = l.iter().map(|e| e.as_slice().to_vec()).collect();
        assert_eq!(all, d.iter().cloned().collect::<Vec<_>>());
        assert!(l.chunks.iter().all(|c| !c.plain || c.count == 1));
        assert!(l.chunks.iter().filter(|c| c.plain).count() >= 8);
        while let Some(v) = l.pop(End::Left) {
            assert_eq!(Some(v.as_slice().to_vec()), d.pop_front());
        }
        set_packed_threshold(0);
    }
}
