//! The reply writer. Handlers say what a reply *is* (a map, a double, a
//! null...) and this is the one place that decides how it looks in RESP2
//! or RESP3, following Redis 7.0's `addReply*` functions.

use bytes::Bytes;

use crate::num::write_double;

/// A connection's output buffer plus the protocol version it speaks.
#[derive(Debug, Default)]
pub struct Reply {
    buf: Vec<u8>,
    resp3: bool,
    /// Large payloads sent from where they are stored, not copied into
    /// `buf`: each goes out after `buf[..offset]` (see `bulk_shared`).
    shared: Vec<(usize, Bytes)>,
}

/// Where a reply whose length is not known yet begins.
#[derive(Debug, Clone, Copy)]
pub struct Deferred(usize);

/// The aggregate kinds whose header can be deferred.
#[derive(Debug, Clone, Copy)]
pub enum Aggregate {
    Array,
    Map,
    Set,
}

impl Reply {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, on: bool) {
        self.resp3 = on;
    }

    /// The encoded replies, for a reply known to hold no shared payload
    /// (`bulk_shared`); a connection writes `segments()` instead.
    pub fn as_bytes(&self) -> &[u8] {
        debug_assert!(
            self.shared.is_empty(),
            "as_bytes on a reply with shared payloads"
        );
        &self.buf
    }

    /// The bytes to send, in order: pieces of the buffer and the shared
    /// payloads between them.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut from = 0;
        let mut parts = Vec::with_capacity(self.shared.len() * 2 + 1);
        for (at, b) in &self.shared {
            parts.push(&self.buf[from..*at]);
            parts.push(&b[..]);
            from = *at;
        }
        parts.push(&self.buf[from..]);
        parts.into_iter().filter(|p| !p.is_empty())
    }

    /// All the bytes in one piece: borrowed when nothing is shared,
    /// copied together otherwise.
    pub fn contiguous(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.shared.is_empty() {
            return std::borrow::Cow::Borrowed(&self.buf);
        }
        std::borrow::Cow::Owned(self.segments().flatten().copied().collect())
    }

    /// Bytes written so far, shared payloads included.
    pub fn len(&self) -> usize {
        self.buf.len() + self.shared.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.shared.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.shared.clear();
    }

    /// A bulk string whose payload is sent from `payload` itself, without
    /// a copy (a large stored value): Redis copies it into its reply
    /// buffer, this only bumps a reference count.
    pub fn bulk_shared(&mut self, payload: Bytes) {
        self.header(b'$', payload.len() as i64);
        self.shared.push((self.buf.len(), payload));
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends a reply already encoded (for this connection's protocol)
    /// elsewhere: a blocked command's, written by the thread that served it.
    pub fn encoded(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops everything written after `len` (a length from `len()` taken
    /// before the reply that must not be sent).
    pub fn truncate(&mut self, len: usize) {
        let mut keep = len;
        let mut n = 0;
        for (at, b) in &self.shared {
            if *at + b.len() > keep || *at > keep {
                break;
            }
            keep -= b.len();
            n += 1;
        }
        self.shared.truncate(n);
        self.buf.truncate(keep);
    }

    /// Releases memory after an unusually large reply.
    pub fn shrink(&mut self, keep: usize) {
        if self.buf.capacity() > keep {
            self.buf = Vec::with_capacity(keep);
        }
    }

    fn header(&mut self, tag: u8, n: i64) {
        // Most lengths are short: one copy of a fixed-size line (Redis
        // keeps shared headers for the same reason).
        if (0..10).contains(&n) {
            self.buf
                .extend_from_slice(&[tag, b'0' + n as u8, b'\r', b'\n']);
            return;
        }
        if (10..100).contains(&n) {
            let (t, u) = (n as u8 / 10, n as u8 % 10);
            self.buf
                .extend_from_slice(&[tag, b'0' + t, b'0' + u, b'\r', b'\n']);
            return;
        }
        self.buf.push(tag);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// An error reply. `msg` starts with its code (`ERR`, `WRONGTYPE`...).
    /// Line breaks become spaces, as Redis does, so the reply stays valid.
    pub fn error(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string of an integer's decimal digits.
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// Redis's `addReplyNull`: a missing string.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Redis's `addReplyNullArray`: a missing aggregate.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs; a flat array of `2n` elements in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// An out-of-band message (pub/sub, invalidation).
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// An attribute of `n` pairs before the next reply; RESP3 only (a
    /// RESP2 client has no such type: the caller leaves it out).
    pub fn attribute(&mut self, n: usize) {
        debug_assert!(self.resp3, "attributes exist in RESP3 only");
        self.header(b'|', n as i64);
    }

    pub fn double(&mut self, v: f64) {
        if self.resp3 {
            self.buf.push(b',');
            write_double(&mut self.buf, v);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            let mut tmp = Vec::with_capacity(24);
            write_double(&mut tmp, v);
            self.bulk(&tmp);
        }
    }

    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A big number given as its decimal digits.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// Verbatim text with its three-letter format (`txt`, `mkd`).
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(format);
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Starts an aggregate whose length is known only after its elements
    /// are written.
    pub fn defer(&self) -> Deferred {
        Deferred(self.buf.len())
    }

    /// Inserts the header of a deferred aggregate with `n` elements (pairs,
    /// for a map).
    pub fn finish(&mut self, at: Deferred, kind: Aggregate, n: usize) {
        let (tag, count) = match (kind, self.resp3) {
            (Aggregate::Array, _) => (b'*', n),
            (Aggregate::Map, true) => (b'%', n),
            (Aggregate::Map, false) => (b'*', 2 * n),
            (Aggregate::Set, true) => (b'~', n),
            (Aggregate::Set, false) => (b'*', n),
        };
        let mut head = vec![tag];
        head.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        head.extend_from_slice(b"\r\n");
        self.buf.splice(at.0..at.0, head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Reply)) -> (String, String) {
        let mut r2 = Reply::new();
        f(&mut r2);
        let mut r3 = Reply::new();
        r3.set_resp3(true);
        f(&mut r3);
        (
            String::from_utf8_lossy(r2.as_bytes()).into_owned(),
            String::from_utf8_lossy(r3.as_bytes()).into_owned(),
        )
    }

    #[test]
    fn downgrades_in_one_place() {
        assert_eq!(both(|r| r.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|r| r.set(3)), ("*3\r\n".into(), "~3\r\n".into()));
        assert_eq!(both(|r| r.push(1)), ("*1\r\n".into(), ">1\r\n".into()));
        assert_eq!(
            both(|r| r.boolean(true)),
            (":1\r\n".into(), "#t\r\n".into())
        );
        assert_eq!(
            both(|r| r.double(1.5)),
            ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into())
        );
        assert_eq!(
            both(|r| r.double(f64::INFINITY)),
            ("$3\r\ninf\r\n".into(), ",inf\r\n".into())
        );
        assert_eq!(
            both(|r| r.big_number(b"123")),
            ("$3\r\n123\r\n".into(), "(123\r\n".into())
        );
        assert_eq!(
            both(|r| r.verbatim(b"txt", b"hi")),
            ("$2\r\nhi\r\n".into(), "=6\r\ntxt:hi\r\n".into())
        );
    }

    #[test]
    fn scalars() {
        let (r2, _) = both(|r| {
            r.ok();
            r.int(-5);
            r.bulk(b"");
            r.bulk_int(42);
            r.error(b"ERR bad\r\nthing");
            r.simple(b"PONG");
        });
        assert_eq!(
            r2,
            "+OK\r\n:-5\r\n$0\r\n\r\n$2\r\n42\r\n-ERR bad  thing\r\n+PONG\r\n"
        );
    }

    #[test]
    fn headers_at_each_width() {
        let (r2, _) = both(|r| {
            for n in [0, 9, 10, 99, 100, 12345] {
                r.array(n);
            }
            r.int(-1);
            r.int(i64::MIN);
        });
        assert_eq!(
            r2,
            "*0\r\n*9\r\n*10\r\n*99\r\n*100\r\n*12345\r\n:-1\r\n:-9223372036854775808\r\n"
        );
    }

    #[test]
    fn deferred_headers() {
        let (r2, r3) = both(|r| {
            let d = r.defer();
            r.bulk(b"a");
            r.bulk(b"b");
            r.finish(d, Aggregate::Map, 1);
        });
        assert_eq!(r2, "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(r3, "%1\r\n$1\r\na\r\n$1\r\nb\r\n");
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    fn flat(r: &Reply) -> Vec<u8> {
        r.segments().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn shared_payloads_go_out_in_place_and_truncate_by_total_length() {
        let mut r = Reply::new();
        r.simple(b"OK");
        let mark = r.len();
        r.bulk_shared(Bytes::from_static(b"hello"));
        r.int(7);
        assert_eq!(flat(&r), b"+OK\r\n$5\r\nhello\r\n:7\r\n");
        assert_eq!(r.len(), flat(&r).len());
        let after = r.len();
        r.bulk_shared(Bytes::from_static(b"xy"));
        r.truncate(after);
        assert_eq!(flat(&r), b"+OK\r\n$5\r\nhello\r\n:7\r\n");
        r.truncate(mark);
        assert_eq!(flat(&r), b"+OK\r\n");
        r.clear();
        assert!(r.is_empty());
    }
}
