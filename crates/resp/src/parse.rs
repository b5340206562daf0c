//! Incremental request parser: RESP multibulk and inline commands.
//!
//! The parser never copies a payload: a parsed command is a list of byte
//! ranges into the caller's read buffer. Inline commands are unescaped in
//! place (the unescaped form is never longer than the quoted one), so their
//! arguments are ranges into the same buffer. Nothing is allocated from a
//! size the client declares: the range list grows only as arguments arrive.
//!
//! The accepted grammar and every error mirror Redis 7.0's `networking.c`,
//! quirks included (the two bytes after a bulk payload are skipped unread,
//! as Redis does).

use std::fmt;
use std::ops::Range;

use crate::num::parse_i64;

/// Longest inline request, and longest `*N` / `$N` line, Redis accepts.
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis's caps for clients that have not authenticated yet.
pub const UNAUTH_MULTIBULK_MAX: i64 = 10;
pub const UNAUTH_BULK_MAX: i64 = 16 * 1024;

/// Limits that apply to one connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// True while the client still has to authenticate: Redis then refuses
    /// large multibulk counts and bulk lengths before allocating for them.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// A protocol error. Redis replies with `-ERR <text>` and closes the
/// connection after the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtoError::TooBigInline => f.write_str("too big inline request"),
            ProtoError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtoError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtoError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtoError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtoError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtoError::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", *c as char),
            ProtoError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtoError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// The outcome of one `parse` call.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request of this many bytes was read; its arguments are in
    /// the range list. The list may be empty (an empty inline line, `*0`):
    /// Redis consumes such requests without running anything.
    Command(usize),
    /// More bytes are needed. Call again with the same buffer start and more
    /// data appended; the work done so far is kept.
    Incomplete,
}

/// Parser state carried across partial reads of one request.
#[derive(Debug, Default)]
pub struct Parser {
    /// Arguments still expected by the multibulk in progress (0: none).
    pending: usize,
    /// Resume offset inside the current request.
    pos: usize,
    /// Length of the bulk whose header was read but whose payload was not.
    bulk: Option<usize>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when a request has been started but not finished.
    pub fn in_progress(&self) -> bool {
        self.pending > 0
    }

    /// Parses one request from the start of `buf`. On `Command`, `args`
    /// holds the argument ranges (relative to `buf`). On `Incomplete`, the
    /// next call must pass a buffer that starts at the same byte.
    pub fn parse(
        &mut self,
        buf: &mut [u8],
        args: &mut Vec<Range<usize>>,
        limits: &Limits,
    ) -> Result<Parsed, ProtoError> {
        if self.pending == 0 {
            args.clear();
            self.pos = 0;
            self.bulk = None;
            match buf.first() {
                None => return Ok(Parsed::Incomplete),
                Some(b'*') => {}
                Some(_) => return parse_inline(buf, args),
            }
            let Some((line, next)) = line_at(buf, 0) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtoError::TooBigMultibulkCount);
                }
                return Ok(Parsed::Incomplete);
            };
            let count = match parse_i64(&buf[1..line]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(ProtoError::InvalidMultibulkLength),
            };
            if count > UNAUTH_MULTIBULK_MAX && limits.unauthenticated {
                return Err(ProtoError::UnauthenticatedMultibulkLength);
            }
            if count <= 0 {
                return Ok(Parsed::Command(next));
            }
            self.pending = count as usize;
            self.pos = next;
        }
        self.parse_bulks(buf, args, limits)
    }

    fn parse_bulks(
        &mut self,
        buf: &[u8],
        args: &mut Vec<Range<usize>>,
        limits: &Limits,
    ) -> Result<Parsed, ProtoError> {
        while self.pending > 0 {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let Some((line, next)) = line_at(buf, self.pos) else {
                        if buf.len() - self.pos > INLINE_MAX {
                            return Err(self.fail(ProtoError::TooBigBulkCount));
                        }
                        return Ok(Parsed::Incomplete);
                    };
                    if buf[self.pos] != b'$' {
                        return Err(self.fail(ProtoError::ExpectedDollar(buf[self.pos])));
                    }
                    let len = match parse_i64(&buf[self.pos + 1..line]) {
                        Some(n) if n >= 0 && n <= limits.max_bulk_len => n,
                        _ => return Err(self.fail(ProtoError::InvalidBulkLength)),
                    };
                    if len > UNAUTH_BULK_MAX && limits.unauthenticated {
                        return Err(self.fail(ProtoError::UnauthenticatedBulkLength));
                    }
                    self.pos = next;
                    self.bulk = Some(len as usize);
                    len as usize
                }
            };
            // Redis waits for the payload and two more bytes, and skips
            // those two bytes without checking that they are CRLF.
            if buf.len() - self.pos < len + 2 {
                return Ok(Parsed::Incomplete);
            }
            args.push(self.pos..self.pos + len);
            self.pos += len + 2;
            self.bulk = None;
            self.pending -= 1;
        }
        Ok(Parsed::Command(self.pos))
    }

    fn fail(&mut self, e: ProtoError) -> ProtoError {
        self.pending = 0;
        e
    }

    /// Bytes the request in progress still needs at least, when known: lets
    /// the caller grow its buffer once for a large payload it is receiving.
    pub fn missing(&self, buffered: usize) -> usize {
        match self.bulk {
            Some(len) => (self.pos + len + 2).saturating_sub(buffered),
            None => 0,
        }
    }
}

/// Finds the `\r` that ends the line starting at `from`, as Redis does
/// (`strchr(..., '\r')`, then one more byte present). Returns the offset
/// of `\r` and the offset after the two line-ending bytes.
fn line_at(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let cr = from + find_before_nul(b'\r', &buf[from..])?;
    if cr + 1 >= buf.len() {
        return None;
    }
    Some((cr, cr + 2))
}

/// C's `strchr`: the search ends at the first NUL byte, so a line holding
/// a NUL is never complete for Redis (it waits until the size limit).
fn find_before_nul(needle: u8, hay: &[u8]) -> Option<usize> {
    let i = memchr::memchr2(needle, 0, hay)?;
    (hay[i] == needle).then_some(i)
}

fn parse_inline(buf: &mut [u8], args: &mut Vec<Range<usize>>) -> Result<Parsed, ProtoError> {
    let Some(nl) = find_before_nul(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtoError::TooBigInline);
        }
        return Ok(Parsed::Incomplete);
    };
    let mut end = nl;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    split_args(&mut buf[..end], args)?;
    Ok(Parsed::Command(nl + 1))
}

fn is_space(c: u8) -> bool {
    // C's isspace()
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments with Redis's quoting rules (as for inline
/// commands and configuration files). `None` for unbalanced quotes.
pub fn split_line(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut buf = line.to_vec();
    let mut args = Vec::new();
    split_args(&mut buf, &mut args).ok()?;
    Some(args.into_iter().map(|r| buf[r].to_vec()).collect())
}

/// Redis's `sdssplitargs`, unescaping in place. A NUL byte ends the line,
/// because Redis runs this over a C string.
fn split_args(line: &mut [u8], args: &mut Vec<Range<usize>>) -> Result<(), ProtoError> {
    let n = line.iter().position(|&c| c == 0).unwrap_or(line.len());
    let at = |line: &[u8], i: usize| if i < n { line[i] } else { 0 };
    let mut p = 0;
    loop {
        while p < n && is_space(line[p]) {
            p += 1;
        }
        if p >= n {
            return Ok(());
        }
        let start = p; // the output cursor never passes the input cursor
        let mut w = p;
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = at(line, p);
            if inq {
                if c == b'\\'
                    && at(line, p + 1) == b'x'
                    && hex(at(line, p + 2)).is_some()
                    && hex(at(line, p + 3)).is_some()
                {
                    let v = hex(line[p + 2]).unwrap_or(0) * 16 + hex(line[p + 3]).unwrap_or(0);
                    line[w] = v;
                    w += 1;
                    p += 3;
                } else if c == b'\\' && at(line, p + 1) != 0 {
                    p += 1;
                    line[w] = match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    w += 1;
                } else if c == b'"' {
                    let next = at(line, p + 1);
                    if next != 0 && !is_space(next) {
                        return Err(ProtoError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtoError::UnbalancedQuotes);
                } else {
                    line[w] = c;
                    w += 1;
                }
            } else if insq {
                if c == b'\\' && at(line, p + 1) == b'\'' {
                    p += 1;
                    line[w] = b'\'';
                    w += 1;
                } else if c == b'\'' {
                    let next = at(line, p + 1);
                    if next != 0 && !is_space(next) {
                        return Err(ProtoError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtoError::UnbalancedQuotes);
                } else {
                    line[w] = c;
                    w += 1;
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => {
                        line[w] = c;
                        w += 1;
                    }
                }
            }
            p += 1;
        }
        args.push(start..w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtoError> {
        let mut buf = input.to_vec();
        let mut p = Parser::new();
        let mut args = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            match p.parse(&mut buf[pos..], &mut args, &Limits::default())? {
                Parsed::Command(n) => {
                    let base = pos;
                    out.push(
                        args.iter()
                            .map(|r| buf[base + r.start..base + r.end].to_vec())
                            .collect(),
                    );
                    pos += n;
                }
                Parsed::Incomplete => return Ok(out),
            }
        }
    }

    fn cmd(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![cmd(&["GET", "k"]), cmd(&["PING"])]);
    }

    #[test]
    fn empty_requests_are_consumed() {
        let got = parse_all(b"*0\r\n*-1\r\n\r\n   \r\nPING\r\n").unwrap();
        let non_empty: Vec<_> = got.into_iter().filter(|c| !c.is_empty()).collect();
        assert_eq!(non_empty, vec![cmd(&["PING"])]);
    }

    #[test]
    fn inline_quoting_as_sdssplitargs() {
        let got = parse_all(b"set \"a\\x41\\n\" 'it\\'s' foo\"bar baz\"\r\n").unwrap();
        assert_eq!(got, vec![cmd(&["set", "aA\n", "it's", "foobar baz"])]);
        assert_eq!(parse_all(b"get \"abc\n"), Err(ProtoError::UnbalancedQuotes));
        assert_eq!(
            parse_all(b"get \"abc\"x\n"),
            Err(ProtoError::UnbalancedQuotes)
        );
        assert_eq!(parse_all(b"get 'a\n"), Err(ProtoError::UnbalancedQuotes));
        // \x with a non-hex digit falls back to a plain escaped 'x'
        assert_eq!(parse_all(b"\"\\xZZ\"\n").unwrap(), vec![cmd(&["xZZ"])]);
        // a NUL hides the line end from Redis's strchr(): never complete
        assert_eq!(
            parse_all(b"a b\0c d\n").unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
        assert_eq!(parse_all(b"*\0\r\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
        assert_eq!(
            split_line(b"a b\0c d"),
            Some(vec![b"a".to_vec(), b"b".to_vec()])
        );
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ProtoError::InvalidMultibulkLength)
        );
        assert_eq!(parse_all(b"*\r\n"), Err(ProtoError::InvalidMultibulkLength));
        assert_eq!(
            parse_all(b"*01\r\n"),
            Err(ProtoError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*2147483648\r\n"),
            Err(ProtoError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\nx3\r\n"),
            Err(ProtoError::ExpectedDollar(b'x'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err(ProtoError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$536870913\r\n"),
            Err(ProtoError::InvalidBulkLength)
        );
        let big = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(parse_all(&big), Err(ProtoError::TooBigInline));
        let mut mb = b"*".to_vec();
        mb.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(parse_all(&mb), Err(ProtoError::TooBigMultibulkCount));
        let mut bl = b"*1\r\n$".to_vec();
        bl.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(parse_all(&bl), Err(ProtoError::TooBigBulkCount));
        assert_eq!(
            ProtoError::ExpectedDollar(b'x').to_string(),
            "Protocol error: expected '$', got 'x'"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut p = Parser::new();
        let mut args = Vec::new();
        assert_eq!(
            p.parse(&mut b"*11\r\n".to_vec(), &mut args, &limits),
            Err(ProtoError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            p.parse(&mut b"*1\r\n$16385\r\n".to_vec(), &mut args, &limits),
            Err(ProtoError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn huge_declared_sizes_allocate_nothing() {
        // A client declaring 2^31-1 arguments of 512 MB each gets no memory
        // until it sends them.
        let mut p = Parser::new();
        let mut args = Vec::new();
        let mut buf = b"*2147483647\r\n$536870912\r\nabc".to_vec();
        let r = p.parse(&mut buf, &mut args, &Limits::default()).unwrap();
        assert_eq!(r, Parsed::Incomplete);
        assert_eq!(args.capacity(), 0);
        assert!(p.in_progress());
    }

    #[test]
    fn bulk_trailer_is_skipped_unread() {
        // Redis skips the two bytes after a payload without checking them.
        let got = parse_all(b"*1\r\n$4\r\nPINGXY").unwrap();
        assert_eq!(got, vec![cmd(&["PING"])]);
    }
}
