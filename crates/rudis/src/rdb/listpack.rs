//! Redis's listpack, the packed list its RDB payloads carry for small
//! hashes, sorted sets, list nodes and stream nodes: a 6-byte header
//! (total bytes, element count), elements each with an encoding byte,
//! its data and its length written backwards, and a 0xFF terminator.
//! Read from client payloads, so every read is bounds-checked.

/// One element: an integer or a string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    pub fn int(self) -> Option<i64> {
        match self {
            Elem::Int(v) => Some(v),
            Elem::Str(s) => resp::num::parse_i64(s),
        }
    }

    /// The element as the bytes a string value holds.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
            Elem::Str(s) => s.to_vec(),
        }
    }
}

/// The bytes the back-length of an element of `len` bytes takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Parses a listpack: its elements, or `None` if it is malformed (its
/// header, an element or the terminator out of place).
pub fn parse(lp: &[u8]) -> Option<Vec<Elem<'_>>> {
    if lp.len() < 7 {
        return None;
    }
    let total = u32::from_le_bytes(lp[..4].try_into().ok()?) as usize;
    if total != lp.len() || *lp.last()? != 0xFF {
        return None;
    }
    let declared = u16::from_le_bytes([lp[4], lp[5]]);
    let mut out = Vec::new();
    let mut at = 6;
    let end = lp.len() - 1;
    while at < end {
        let (elem, len) = element(&lp[at..end])?;
        at += len;
        // The back-length must say the same.
        let back = backlen_size(len);
        let b = lp.get(at..at + back)?;
        if at + back > end || read_backlen(b)? != len {
            return None;
        }
        at += back;
        out.push(elem);
    }
    if at != end || (declared != u16::MAX && declared as usize != out.len()) {
        return None;
    }
    Some(out)
}

/// A back-length: its bytes are read right to left, 7 bits each, the
/// high bit set on all but the leftmost.
fn read_backlen(b: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for (i, &byte) in b.iter().enumerate() {
        let last = i == 0;
        if last == (byte & 0x80 != 0) {
            return None;
        }
        v = (v << 7) | (byte & 0x7F) as usize;
    }
    Some(v)
}

/// The element at the start of `s` and its length without back-length.
fn element(s: &[u8]) -> Option<(Elem<'_>, usize)> {
    let b = *s.first()?;
    let int = |n: usize| -> Option<i64> {
        let d = s.get(1..1 + n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(d);
        // Sign-extend from n bytes.
        let v = i64::from_le_bytes(buf);
        let shift = 64 - 8 * n as u32;
        Some((v << shift) >> shift)
    };
    let string = |head: usize, n: usize| -> Option<(Elem<'_>, usize)> {
        Some((Elem::Str(s.get(head..head.checked_add(n)?)?), head + n))
    };
    match b {
        0x00..=0x7F => Some((Elem::Int(b as i64), 1)),
        0x80..=0xBF => string(1, (b & 0x3F) as usize),
        0xC0..=0xDF => {
            let v = ((b as i64 & 0x1F) << 8) | *s.get(1)? as i64;
            // 13-bit two's complement.
            let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
            Some((Elem::Int(v), 2))
        }
        0xE0..=0xEF => string(2, ((b as usize & 0x0F) << 8) | *s.get(1)? as usize),
        0xF0 => {
            let n = u32::from_le_bytes(s.get(1..5)?.try_into().ok()?) as usize;
            string(5, n)
        }
        0xF1 => Some((Elem::Int(int(2)?), 3)),
        0xF2 => Some((Elem::Int(int(3)?), 4)),
        0xF3 => Some((Elem::Int(int(4)?), 5)),
        0xF4 => Some((Elem::Int(int(8)?), 9)),
        _ => None,
    }
}

/// Builds a listpack as Redis would write it.
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes so far (the terminator not yet counted).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    fn backlen(&mut self, len: usize) {
        let n = backlen_size(len);
        for i in (0..n).rev() {
            let mut byte = ((len >> (7 * i)) & 0x7F) as u8;
            if i != n - 1 {
                byte |= 0x80;
            }
            self.buf.push(byte);
        }
        self.count += 1;
    }

    pub fn int(&mut self, v: i64) {
        let start = self.buf.len();
        match v {
            0..=127 => self.buf.push(v as u8),
            -4096..=4095 => {
                let u = (v & 0x1FFF) as u16;
                self.buf
                    .extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
            }
            -32768..=32767 => {
                self.buf.push(0xF1);
                self.buf.extend_from_slice(&(v as i16).to_le_bytes());
            }
            -8388608..=8388607 => {
                self.buf.push(0xF2);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            -2147483648..=2147483647 => {
                self.buf.push(0xF3);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                self.buf.push(0xF4);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        let len = self.buf.len() - start;
        self.backlen(len);
    }

    /// A string, as an integer when it is one (Redis's `lpAppend`).
    pub fn str(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = resp::num::parse_i64(s) {
                self.int(v);
                return;
            }
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf
                .extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let len = self.buf.len() - start;
        self.backlen(len);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_encoding() {
        let ints = [
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            8388607,
            -8388608,
            1 << 31,
            i64::MIN,
            i64::MAX,
        ];
        let strs: [&[u8]; 4] = [b"", b"abc", &[b'x'; 100], &[b'y'; 5000]];
        let mut w = Writer::new();
        for v in ints {
            w.int(v);
        }
        for s in strs {
            w.str(s);
        }
        let lp = w.finish();
        let got = parse(&lp).expect("valid");
        let mut want: Vec<Elem> = ints.iter().map(|&v| Elem::Int(v)).collect();
        want.extend(strs.iter().map(|s| Elem::Str(s)));
        assert_eq!(got, want);
        // Redis's encoding of ["a", 1]: header, 0x81 'a' backlen 2, 0x01 backlen 1, end.
        let mut w = Writer::new();
        w.str(b"a");
        w.str(b"1");
        assert_eq!(w.finish(), [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xFF]);
    }

    #[test]
    fn rejects_malformed() {
        let mut w = Writer::new();
        w.str(b"hello");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(parse(&lp[..cut]).is_none());
        }
        let mut bad = lp.clone();
        bad[6] = 0x8F; // a longer string than there is
        assert!(parse(&bad).is_none());
        let mut bad = lp.clone();
        bad[4] = 3; // a count that disagrees
        assert!(parse(&bad).is_none());
    }
}
