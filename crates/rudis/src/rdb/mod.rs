//! Pieces of Redis's RDB format: lengths, strings (as integers, LZF
//! compressed or raw), and the footer of a DUMP payload (the RDB version
//! and a CRC-64 of everything before it). What FUNCTION DUMP writes
//! RESTORE reads, in rudis and in Redis alike; values are in `value.rs`,
//! the listpacks inside them in `listpack.rs`.

pub mod file;
pub mod listpack;
pub mod value;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// `rdbcompression`: long strings LZF-compressed, in files and in DUMP
/// payloads alike (as Redis's `rdbSaveRawString` reads the one setting).
pub static COMPRESS: AtomicBool = AtomicBool::new(true);
pub mod ziplist;

/// The RDB version Redis 7.0 writes (and the newest it reads).
pub const RDB_VERSION: u16 = 10;
/// RDB_OPCODE_FUNCTION2: a library's code follows as a string.
pub const OPCODE_FUNCTION2: u8 = 245;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

pub(crate) static CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Redis's `rdbSaveLen`.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Redis's `rdbSaveRawString`: a short canonical integer as one, a long
/// string LZF-compressed when that saves at least 4 bytes, otherwise as
/// it is.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = resp::num::parse_i64(s) {
            if let Ok(v) = i8::try_from(v) {
                out.extend_from_slice(&[0xC0 | ENC_INT8, v as u8]);
                return;
            }
            if let Ok(v) = i16::try_from(v) {
                out.push(0xC0 | ENC_INT16);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(v) {
                out.push(0xC0 | ENC_INT32);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if s.len() > 20 && COMPRESS.load(Relaxed) {
        // Redis compresses into at most len - 4 bytes.
        if let Some(packed) = crate::lzf::compress(s, 3) {
            out.push(0xC0 | ENC_LZF);
            put_len(out, packed.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends the DUMP footer: the RDB version, then the CRC-64 of all of
/// `out` so far (both little-endian, as Redis writes them).
pub fn put_footer(out: &mut Vec<u8>) {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC.checksum(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Redis's `verifyDumpPayload`: the body of a payload whose footer names
/// a version this reads and whose checksum matches.
pub fn verify(payload: &[u8]) -> Option<&[u8]> {
    let body_len = payload.len().checked_sub(10)?;
    let (body, footer) = payload.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return None;
    }
    let crc = CRC.checksum(&payload[..body_len + 2]);
    (crc.to_le_bytes() == footer[2..]).then_some(body)
}

/// Reads RDB values off the front of a byte slice.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Some(a)
    }

    pub fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    /// A length, or `Err(encoding)` for a specially encoded string.
    fn len_or_encoding(&mut self) -> Option<Result<u64, u8>> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Ok((b & 0x3F) as u64),
            1 => Ok(((b & 0x3F) as u64) << 8 | self.byte()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Err(b & 0x3F),
        })
    }

    /// A plain length (Redis's `rdbLoadLen`).
    pub fn string_len(&mut self) -> Option<u64> {
        self.len_or_encoding()?.ok()
    }

    /// Redis's `rdbGenericLoadStringObject`.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.len_or_encoding()? {
            Ok(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Err(ENC_INT8) => Some((self.byte()? as i8).to_string().into_bytes()),
            Err(ENC_INT16) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Err(ENC_INT32) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Err(ENC_LZF) => {
                let packed = self.len_or_encoding()?.ok()?;
                let len = self.len_or_encoding()?.ok()?;
                let data = self.take(usize::try_from(packed).ok()?)?;
                crate::lzf::decompress(data, usize::try_from(len).ok()?)
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_s() {
        // Redis's crc64 test vector.
        assert_eq!(CRC.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_round_trip_in_every_encoding() {
        let long =
            b"redis.register_function('f1', function() return 1 end) -- again and again and again"
                .to_vec();
        for s in [
            &b"0"[..],
            b"-128",
            b"300",
            b"-70000",
            b"12345678901",
            b"007",
            b"",
            b"hello",
            &long,
            &[b'a'; 20000][..],
        ] {
            let mut out = Vec::new();
            put_string(&mut out, s);
            let mut r = Reader::new(&out);
            assert_eq!(r.string().as_deref(), Some(s));
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        put_string(&mut out, b"300");
        assert_eq!(out, [0xC1, 0x2C, 0x01]);
    }

    #[test]
    fn a_footer_is_verified() {
        let mut p = vec![OPCODE_FUNCTION2];
        put_string(&mut p, b"code");
        put_footer(&mut p);
        assert_eq!(verify(&p), Some(&p[..6]));
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert_eq!(verify(&bad), None);
        assert_eq!(verify(&p[..5]), None);
    }
}
