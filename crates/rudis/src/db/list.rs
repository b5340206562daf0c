//! Lists: a deque of chunks (Redis's quicklist idea). Each chunk is one
//! contiguous ring buffer of up to `CHUNK` elements, whose strings of up
//! to 22 bytes sit inline; pushing and popping at either end is O(1)
//! without moving other elements, an index walks chunk lengths rather than
//! elements, and growing a long list never copies it whole.

use std::collections::VecDeque;

use super::blob::Blob;

const CHUNK: usize = 128;

#[derive(Clone, Debug, Default)]
pub struct List {
    chunks: VecDeque<VecDeque<Blob>>,
    len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Left,
    Right,
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, end: End, v: Blob) {
        match end {
            End::Left => {
                if self.chunks.front().is_none_or(|c| c.len() >= CHUNK) {
                    self.chunks.push_front(VecDeque::with_capacity(8));
                }
                if let Some(c) = self.chunks.front_mut() {
                    c.push_front(v);
                }
            }
            End::Right => {
                if self.chunks.back().is_none_or(|c| c.len() >= CHUNK) {
                    self.chunks.push_back(VecDeque::with_capacity(8));
                }
                if let Some(c) = self.chunks.back_mut() {
                    c.push_back(v);
                }
            }
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Blob> {
        let v = match end {
            End::Left => {
                let c = self.chunks.front_mut()?;
                let v = c.pop_front();
                if c.is_empty() {
                    self.chunks.pop_front();
                }
                v
            }
            End::Right => {
                let c = self.chunks.back_mut()?;
                let v = c.pop_back();
                if c.is_empty() {
                    self.chunks.pop_back();
                }
                v
            }
        };
        self.len -= v.is_some() as usize;
        v
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

    pub fn get(&self, i: usize) -> Option<&Blob> {
        let (c, p) = self.locate(i)?;
        self.chunks[c].get(p)
    }

    pub fn set(&mut self, i: usize, v: Blob) -> bool {
        match self.locate(i) {
            Some((c, p)) => {
                self.chunks[c][p] = v;
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
        let chunk = &mut self.chunks[c];
        chunk.insert(p, v);
        self.len += 1;
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(c + 1, tail);
        }
    }

    /// Removes element `i`.
    pub fn remove(&mut self, i: usize) -> Option<Blob> {
        let (c, p) = self.locate(i)?;
        let v = self.chunks[c].remove(p);
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
        }
        self.len -= v.is_some() as usize;
        v
    }

    /// Elements from `from` on, in order.
    pub fn iter_from(&self, from: usize) -> impl DoubleEndedIterator<Item = &Blob> + '_ {
        let (c, p) = self.locate(from).unwrap_or((self.chunks.len(), 0));
        self.chunks
            .range(c.min(self.chunks.len())..)
            .enumerate()
            .flat_map(move |(n, chunk)| chunk.range(if n == 0 { p } else { 0 }..))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Blob> + '_ {
        self.chunks.iter().flatten()
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
}
