//! LZF, the compression Redis uses for quicklist nodes and RDB strings,
//! in liblzf's format so that what one side compresses the other reads:
//! a control byte below 32 starts a run of that many plus one literal
//! bytes; otherwise its top three bits are a back reference's length
//! minus two (7: one more length byte follows) and its low five bits with
//! the next byte are the distance minus one (up to 8 KB back).

const HASH_BITS: u32 = 14;
const MAX_DISTANCE: usize = 1 << 13;
const MAX_MATCH: usize = 7 + 255 + 2;
const MAX_LITERALS: usize = 32;

fn hash(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for run in lit.chunks(MAX_LITERALS) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

/// A thread's hash table of positions, kept across calls so a short
/// string does not pay for clearing 64 KB (an RDB save compresses every
/// string over 20 bytes): each call stores positions above a base of its
/// own, and a slot holding a lower one is from an earlier call, so empty.
struct Table {
    slots: Vec<u32>,
    base: u32,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = const {
        std::cell::RefCell::new(Table { slots: Vec::new(), base: 0 })
    };
}

/// Compresses `input`; `None` unless the result is smaller than
/// `input.len() - min_saving` (Redis keeps such data uncompressed).
pub fn compress(input: &[u8], min_saving: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let limit = n.checked_sub(min_saving.max(1))?;
    // Positions are 32-bit, as liblzf's.
    let span = u32::try_from(n).ok()?.checked_add(1)?;
    TABLE.with(|t| {
        let t = &mut *t.borrow_mut();
        if t.slots.is_empty() {
            t.slots = vec![0; 1 << HASH_BITS];
        }
        if t.base.checked_add(span).is_none() {
            t.slots.fill(0);
            t.base = 0;
        }
        let base = t.base;
        t.base += span;
        compress_with(input, limit, &mut t.slots, base)
    })
}

fn compress_with(input: &[u8], limit: usize, table: &mut [u32], base: u32) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(limit);
    let (mut i, mut lit) = (0, 0);
    while i + 2 < n {
        let h = hash(&input[i..]);
        let stored = table[h];
        table[h] = base + i as u32 + 1;
        if stored > base {
            let r = (stored - base - 1) as usize;
            let distance = i - r - 1;
            if distance < MAX_DISTANCE && input[r..r + 3] == input[i..i + 3] {
                let longest = MAX_MATCH.min(n - i);
                let mut len = 3;
                while len < longest && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_literals(&mut out, &input[lit..i]);
                let code = len - 2;
                let high = (distance >> 8) as u8;
                if code < 7 {
                    out.push(high | (code as u8) << 5);
                } else {
                    out.push(high | 7 << 5);
                    out.push((code - 7) as u8);
                }
                out.push(distance as u8);
                i += len;
                lit = i;
                if out.len() >= limit {
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    flush_literals(&mut out, &input[lit..]);
    (out.len() < limit).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `len` bytes;
/// `None` for data that is not valid LZF (it may come from a client).
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    // A declared length beyond what the input can expand to (88 times:
    // three bytes of back reference copy 264) is never allocated.
    if len > input.len().saturating_mul(88) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut p = 0;
    while p < input.len() {
        let ctrl = input[p] as usize;
        p += 1;
        if ctrl < 32 {
            let run = input.get(p..p + ctrl + 1)?;
            if out.len() + run.len() > len {
                return None;
            }
            out.extend_from_slice(run);
            p += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(p)? as usize;
                p += 1;
            }
            let back = ((ctrl & 0x1f) << 8 | *input.get(p)? as usize) + 1;
            p += 1;
            let from = out.len().checked_sub(back)?;
            if out.len() + n + 2 > len {
                return None;
            }
            // Byte by byte: the reference may overlap what it writes.
            for k in 0..n + 2 {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            (0..5000u32)
                .flat_map(|i| (i % 97).to_string().into_bytes())
                .collect(),
            b"hello world hello world hello world, said the list node".repeat(40),
        ];
        for s in samples {
            let c = compress(&s, 8).expect("compressible");
            assert!(c.len() + 8 <= s.len());
            assert_eq!(decompress(&c, s.len()).unwrap(), s);
        }
        // Random bytes do not compress.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(compress(&noise, 8).is_none());
    }

    /// The table is kept between calls: what an earlier input left in it
    /// must never be taken for a match in a later one.
    #[test]
    fn calls_in_a_row_stay_independent() {
        let inputs: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| {
                let len = 21 + (i as usize * 37) % 700;
                (0..len)
                    .map(|j| b"abcab"[(j + i as usize) % 5] ^ (j / 97) as u8)
                    .collect()
            })
            .collect();
        for input in &inputs {
            if let Some(z) = compress(input, 1) {
                assert_eq!(decompress(&z, input.len()).as_deref(), Some(&input[..]));
            }
        }
        // The base wraps around: the table is cleared, nothing breaks.
        TABLE.with(|t| t.borrow_mut().base = u32::MAX - 30);
        for input in inputs.iter().take(5) {
            let z = compress(input, 1).unwrap();
            assert_eq!(decompress(&z, input.len()).as_deref(), Some(&input[..]));
        }
    }

    #[test]
    fn reads_liblzf_output() {
        // DUMP of a 30-byte "aaa..." string on Redis 7.0.15: two literals,
        // a reference of length 26 at distance 1, two literals.
        let c = [0x01, b'a', b'a', 0xe0, 0x11, 0x00, 0x01, b'a', b'a'];
        assert_eq!(decompress(&c, 30).unwrap(), vec![b'a'; 30]);
    }

    #[test]
    fn rejects_corrupt_input() {
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        assert!(decompress(&[0x20, 0x05], 3).is_none());
        assert!(decompress(&[0x00, b'a', 0xe0, 0xff, 0x00], 20).is_none());
        assert!(decompress(&[0x00, b'a'], 2).is_none());
    }
}
