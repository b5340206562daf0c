//! Redis's ziplist, the packed list of RDB payloads before Redis 7.0
//! (lists, hashes and sorted sets dumped by 6.2 and older): a header
//! (total bytes, offset of the last entry, count), entries each with the
//! previous entry's length, an encoding and data, and a 0xFF end. Only
//! read, never written; bounds-checked, as it comes from a client.

use super::listpack::Elem;

/// Parses a ziplist: its elements, or `None` if it is malformed.
pub fn parse(zl: &[u8]) -> Option<Vec<Elem<'_>>> {
    if zl.len() < 11 {
        return None;
    }
    let total = u32::from_le_bytes(zl[..4].try_into().ok()?) as usize;
    if total != zl.len() || *zl.last()? != 0xFF {
        return None;
    }
    let tail = u32::from_le_bytes(zl[4..8].try_into().ok()?) as usize;
    let declared = u16::from_le_bytes([zl[8], zl[9]]);
    let end = zl.len() - 1;
    let mut last = 10;
    let mut at = 10;
    let mut prev_len = 0usize;
    let mut out = Vec::new();
    while at < end {
        let start = at;
        last = start;
        // The previous entry's length: checked against what it was.
        let prev = match *zl.get(at)? {
            0xFE => {
                let v = u32::from_le_bytes(zl.get(at + 1..at + 5)?.try_into().ok()?) as usize;
                at += 5;
                v
            }
            0xFF => return None,
            b => {
                at += 1;
                b as usize
            }
        };
        if prev != prev_len {
            return None;
        }
        let b = *zl.get(at)?;
        let (elem, len) = match b >> 6 {
            0 => str_at(zl, at, 1, (b & 0x3F) as usize)?,
            1 => str_at(
                zl,
                at,
                2,
                ((b as usize & 0x3F) << 8) | *zl.get(at + 1)? as usize,
            )?,
            2 if b == 0x80 => {
                let n = u32::from_be_bytes(zl.get(at + 1..at + 5)?.try_into().ok()?) as usize;
                str_at(zl, at, 5, n)?
            }
            2 => return None,
            _ => {
                let int = |n: usize| -> Option<i64> {
                    let d = zl.get(at + 1..at + 1 + n)?;
                    let mut buf = [0u8; 8];
                    buf[..n].copy_from_slice(d);
                    let shift = 64 - 8 * n as u32;
                    Some((i64::from_le_bytes(buf) << shift) >> shift)
                };
                match b {
                    0xC0 => (Elem::Int(int(2)?), 3),
                    0xD0 => (Elem::Int(int(4)?), 5),
                    0xE0 => (Elem::Int(int(8)?), 9),
                    0xF0 => (Elem::Int(int(3)?), 4),
                    0xFE => (Elem::Int(int(1)?), 2),
                    0xF1..=0xFD => (Elem::Int((b & 0x0F) as i64 - 1), 1),
                    _ => return None,
                }
            }
        };
        at += len;
        if at > end {
            return None;
        }
        prev_len = at - start;
        out.push(elem);
    }
    // The header's offset of the last entry must be right.
    if at != end || tail != last || (declared != u16::MAX && declared as usize != out.len()) {
        return None;
    }
    Some(out)
}

/// The string of `n` bytes after an encoding of `head` bytes at `at`,
/// and the length of both.
fn str_at(zl: &[u8], at: usize, head: usize, n: usize) -> Option<(Elem<'_>, usize)> {
    let from = at + head;
    let s = zl.get(from..from.checked_add(n)?)?;
    Some((Elem::Str(s), head + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist as Redis writes one, of strings and small integers.
    fn build(items: &[Elem]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut last = 0u32;
        for it in items {
            let start = body.len();
            last = start as u32;
            body.push(prev as u8);
            match *it {
                Elem::Str(s) => {
                    body.push(s.len() as u8);
                    body.extend_from_slice(s);
                }
                Elem::Int(v) if (0..=12).contains(&v) => body.push(0xF1 + v as u8),
                Elem::Int(v) => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
            }
            prev = body.len() - start;
        }
        let total = 10 + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(10 + last).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    #[test]
    fn reads_a_payload_redis_restores() {
        // "a" "b" "c" 7, as a hash's ziplist (Redis 7.0.15 restores it).
        let zl = [
            0x16, 0, 0, 0, 0x13, 0, 0, 0, 4, 0, 0, 1, 0x61, 3, 1, 0x62, 3, 1, 0x63, 3, 0xf8, 0xff,
        ];
        assert_eq!(
            parse(&zl),
            Some(vec![
                Elem::Str(b"a"),
                Elem::Str(b"b"),
                Elem::Str(b"c"),
                Elem::Int(7)
            ])
        );
    }

    #[test]
    fn reads_redis_s_encodings() {
        let items = [
            Elem::Str(b"field"),
            Elem::Int(7),
            Elem::Int(-300),
            Elem::Str(b""),
        ];
        let zl = build(&items);
        assert_eq!(parse(&zl), Some(items.to_vec()));
        for cut in 0..zl.len() {
            assert!(parse(&zl[..cut]).is_none());
        }
        let mut bad = zl.clone();
        bad[10] = 9; // a wrong previous length
        assert!(parse(&bad).is_none());
    }
}
