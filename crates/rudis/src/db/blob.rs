//! `Blob`: the byte string used for keys and string values. Short strings
//! (up to 22 bytes, which covers most cache keys and many values) live
//! inline in the 24-byte value itself, so an entry needs no allocation of
//! its own for them; longer ones take one exact-size allocation.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

pub const INLINE_CAP: usize = 22;
/// Set in an inline blob's length byte: the string is not a candidate for
/// Redis's `int` encoding even if it reads as an integer (Redis leaves the
/// results of INCRBYFLOAT and HINCRBYFLOAT as `embstr`).
const PLAIN: u8 = 0x80;

#[derive(Clone)]
pub enum Blob {
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Boxed(Box<[u8]>),
    /// A string that was appended to: keeps spare capacity so repeated
    /// APPEND / SETRANGE stay amortised O(1), at one more indirection.
    Growable(Box<Vec<u8>>),
    /// A large value that kept the read buffer it arrived in, so SET of a
    /// megabyte copies nothing (the buffer holds little besides it).
    Shared(Box<Bytes>),
}

impl Blob {
    pub fn new(b: &[u8]) -> Blob {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Blob::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Blob::Boxed(b.into())
        }
    }

    pub fn from_shared(b: Bytes) -> Blob {
        Blob::Shared(Box::new(b))
    }

    /// A short string that OBJECT ENCODING reports as `embstr` even when
    /// it is an integer.
    pub fn new_plain(b: &[u8]) -> Blob {
        match Blob::new(b) {
            Blob::Inline { len, buf } => Blob::Inline {
                len: len | PLAIN,
                buf,
            },
            other => other,
        }
    }

    /// See `new_plain`.
    pub fn is_plain(&self) -> bool {
        matches!(self, Blob::Inline { len, .. } if len & PLAIN != 0)
    }

    pub fn from_i64(v: i64) -> Blob {
        Blob::new(itoa::Buffer::new().format(v).as_bytes())
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Blob::Inline { len, buf } => &buf[..(*len & !PLAIN) as usize],
            Blob::Boxed(b) => b,
            Blob::Growable(v) => v,
            Blob::Shared(b) => b,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A vector to modify in place, switching to the growable form.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Blob::Growable(_)) {
            *self = Blob::Growable(Box::new(self.as_slice().to_vec()));
        }
        match self {
            Blob::Growable(v) => v,
            _ => unreachable!("just converted"),
        }
    }

    /// Bytes of heap memory this blob owns (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Blob::Inline { .. } => 0,
            Blob::Boxed(b) => b.len(),
            Blob::Growable(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
            Blob::Shared(b) => b.len() + std::mem::size_of::<Bytes>(),
        }
    }
}

impl Hash for Blob {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly as `[u8]` does, so lookups by `&[u8]` work.
        self.as_slice().hash(state)
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Blob {}

impl Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_boxed() {
        assert_eq!(std::mem::size_of::<Blob>(), 24);
        let short = Blob::new(b"key:000000000001");
        assert!(matches!(short, Blob::Inline { .. }));
        assert_eq!(short.as_slice(), b"key:000000000001");
        let long = Blob::new(&[7u8; 23]);
        assert!(matches!(long, Blob::Boxed(_)));
        assert_eq!(long.len(), 23);
        let mut g = Blob::new(b"ab");
        g.make_mut().extend_from_slice(b"cd");
        assert_eq!(g.as_slice(), b"abcd");
        assert_eq!(g, Blob::new(b"abcd"));
        let plain = Blob::new_plain(b"12");
        assert!(plain.is_plain() && !Blob::new(b"12").is_plain());
        assert_eq!(plain.as_slice(), b"12");
    }
}
