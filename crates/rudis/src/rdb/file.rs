//! Whole RDB files, as Redis 7.0's `rdbSaveRio` writes them and its
//! `rdbLoadRio` reads them: the `REDIS0010` header, auxiliary fields, the
//! function libraries, each database's keys (with their expiry and, under
//! an LRU or LFU policy, their idle time or counter) and a CRC-64 of it
//! all. A file written by Redis 7.0 (or an older version) loads here, and
//! one written here loads in Redis 7.0. A file is checked as a payload is:
//! nothing is trusted that has not been read.

use std::io::{self, Write};

use super::value::{self, Limits};
use super::{put_len, put_string, Reader, CRC, OPCODE_FUNCTION2, RDB_VERSION};
use crate::db::Value;

const OPCODE_FUNCTION_PRE_GA: u8 = 246;
const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

/// Bytes gathered before a write to the file.
const CHUNK: usize = 1 << 20;

/// Writes an RDB file to `out` a chunk at a time, with the checksum of
/// everything written when `checksum` (Redis's `rdbchecksum`; 0 without).
pub struct Writer<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: crc::Digest<'static, u64>,
    checksum: bool,
}

/// What a key carries besides its value.
pub struct KeyMeta {
    /// Unix time in ms, 0 for none.
    pub expire_at: u64,
    /// Seconds since its last access (saved under an LRU policy).
    pub idle: Option<u64>,
    /// Its LFU counter (saved under an LFU policy).
    pub freq: Option<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, checksum: bool) -> Writer<W> {
        let mut w = Writer {
            out,
            buf: Vec::with_capacity(CHUNK + 4096),
            crc: CRC.digest(),
            checksum,
        };
        w.buf
            .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        w
    }

    fn spill(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc.update(&self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn maybe_spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.spill()?;
        }
        Ok(())
    }

    /// An auxiliary field (Redis's `rdbSaveAuxField`).
    pub fn aux(&mut self, key: &str, value: &str) {
        self.buf.push(OPCODE_AUX);
        put_string(&mut self.buf, key.as_bytes());
        put_string(&mut self.buf, value.as_bytes());
    }

    /// A function library's code.
    pub fn library(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(OPCODE_FUNCTION2);
        put_string(&mut self.buf, code);
        self.maybe_spill()
    }

    /// Starts database `db`, of `keys` keys of which `expires` have a TTL.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) {
        self.buf.push(OPCODE_SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(OPCODE_RESIZEDB);
        put_len(&mut self.buf, keys as u64);
        put_len(&mut self.buf, expires as u64);
    }

    /// One key (Redis's `rdbSaveKeyValuePair`).
    pub fn key(&mut self, key: &[u8], v: &Value, meta: KeyMeta) -> io::Result<()> {
        if meta.expire_at != 0 {
            self.buf.push(OPCODE_EXPIRETIME_MS);
            self.buf.extend_from_slice(&meta.expire_at.to_le_bytes());
        }
        if let Some(idle) = meta.idle {
            self.buf.push(OPCODE_IDLE);
            put_len(&mut self.buf, idle);
        }
        if let Some(freq) = meta.freq {
            self.buf.extend_from_slice(&[OPCODE_FREQ, freq]);
        }
        // `put_value` writes the type byte first; the key goes between.
        let at = self.buf.len();
        value::put_value(&mut self.buf, v);
        let kind = self.buf[at];
        let mut head = vec![kind];
        put_string(&mut head, key);
        self.buf.splice(at..at + 1, head);
        self.maybe_spill()
    }

    /// Ends the file: EOF, then the checksum; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(OPCODE_EOF);
        self.spill()?;
        let crc = if self.checksum {
            self.crc.finalize()
        } else {
            0
        };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub meta: KeyMeta,
}

/// Why a file did not load, in Redis's words where it has them.
#[derive(Debug)]
pub struct LoadError(pub String);

fn short() -> LoadError {
    LoadError("Short read or OOM loading DB. Unrecoverable error, aborting now.".into())
}

/// Reads a whole file: function libraries go to `library` (their code),
/// keys to `key`, in file order. `checksum` says whether to check the
/// CRC (Redis's `rdbchecksum`); a file saved without one has 0 there.
pub fn load(
    data: &[u8],
    databases: usize,
    limits: Limits,
    checksum: bool,
    mut library: impl FnMut(Vec<u8>) -> Result<(), LoadError>,
    mut key: impl FnMut(LoadedKey) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err(LoadError(
            "Wrong signature trying to load DB from file".into(),
        ));
    }
    let version: u32 = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !(1..=RDB_VERSION as u32).contains(&version) {
        return Err(LoadError(format!(
            "Can't handle RDB format version {version}"
        )));
    }
    let mut r = Reader::new(&data[9..]);
    let mut db = 0;
    let mut meta = KeyMeta {
        expire_at: 0,
        idle: None,
        freq: None,
    };
    loop {
        let kind = r.byte().ok_or_else(short)?;
        match kind {
            OPCODE_EXPIRETIME => {
                let s = u32::from_le_bytes(r.take(4).ok_or_else(short)?.try_into().unwrap());
                meta.expire_at = s as u64 * 1000;
            }
            OPCODE_EXPIRETIME_MS => {
                meta.expire_at =
                    u64::from_le_bytes(r.take(8).ok_or_else(short)?.try_into().unwrap());
            }
            OPCODE_FREQ => meta.freq = Some(r.byte().ok_or_else(short)?),
            OPCODE_IDLE => meta.idle = Some(r.string_len().ok_or_else(short)?),
            OPCODE_AUX => {
                r.string().ok_or_else(short)?;
                r.string().ok_or_else(short)?;
            }
            OPCODE_RESIZEDB => {
                r.string_len().ok_or_else(short)?;
                r.string_len().ok_or_else(short)?;
            }
            OPCODE_SELECTDB => {
                let n = r.string_len().ok_or_else(short)?;
                if n >= databases as u64 {
                    return Err(LoadError(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                    )));
                }
                db = n as usize;
            }
            OPCODE_FUNCTION2 => library(r.string().ok_or_else(short)?)?,
            OPCODE_FUNCTION_PRE_GA => {
                return Err(LoadError(
                    "Pre-release function format not supported.".into(),
                ))
            }
            OPCODE_MODULE_AUX => {
                return Err(LoadError(
                    "The RDB file contains AUX module data I can't load: no matching module".into(),
                ))
            }
            OPCODE_EOF => break,
            _ => {
                let name = r.string().ok_or_else(short)?;
                let value = value::read_value(&mut r, kind, limits).ok_or_else(|| {
                    LoadError(format!(
                        "Bad data format loading a value of type {kind} (key '{}')",
                        String::from_utf8_lossy(&name)
                    ))
                })?;
                let m = std::mem::replace(
                    &mut meta,
                    KeyMeta {
                        expire_at: 0,
                        idle: None,
                        freq: None,
                    },
                );
                key(LoadedKey {
                    db,
                    key: name,
                    value,
                    meta: m,
                })?;
            }
        }
    }
    if version >= 5 {
        let body_len = data.len() - r.remaining();
        let stored = u64::from_le_bytes(r.take(8).ok_or_else(short)?.try_into().unwrap());
        if checksum && stored != 0 {
            let crc = CRC.checksum(&data[..body_len]);
            if crc != stored {
                return Err(LoadError(format!(
                    "Wrong RDB checksum expected: ({stored:x}) got ({crc:x}). Aborting now."
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Blob;

    fn limits() -> Limits {
        Limits {
            hash: crate::db::hash::Limits {
                entries: 128,
                value: 64,
            },
            zset: crate::db::zset::Limits {
                entries: 128,
                value: 64,
            },
            intset: 512,
        }
    }

    fn load_all(data: &[u8], checksum: bool) -> Result<(Vec<Vec<u8>>, Vec<LoadedKey>), LoadError> {
        let (mut libs, mut keys) = (Vec::new(), Vec::new());
        load(
            data,
            16,
            limits(),
            checksum,
            |l| {
                libs.push(l);
                Ok(())
            },
            |k| {
                keys.push(k);
                Ok(())
            },
        )?;
        Ok((libs, keys))
    }

    #[test]
    fn a_file_round_trips() {
        for checksum in [true, false] {
            let mut w = Writer::new(Vec::new(), checksum);
            w.aux("redis-ver", "7.0.15");
            w.library(b"#!lua name=x\nredis.register_function('f', function() return 1 end)")
                .unwrap();
            w.select_db(3, 2, 1);
            let none = || KeyMeta {
                expire_at: 0,
                idle: None,
                freq: None,
            };
            w.key(b"s", &Value::Str(Blob::new(b"12345")), none())
                .unwrap();
            let meta = KeyMeta {
                expire_at: 4_000_000_000_000,
                idle: Some(7),
                freq: None,
            };
            w.key(b"long", &Value::Str(Blob::new(&[b'z'; 500])), meta)
                .unwrap();
            let file = w.finish().unwrap();
            assert_eq!(&file[..9], b"REDIS0010");
            let (libs, keys) = load_all(&file, true).unwrap();
            assert_eq!(libs.len(), 1);
            assert_eq!(keys.len(), 2);
            assert_eq!((keys[0].db, &keys[0].key[..]), (3, &b"s"[..]));
            assert!(matches!(&keys[0].value, Value::Str(b) if b.as_slice() == b"12345"));
            assert_eq!(keys[1].meta.expire_at, 4_000_000_000_000);
            assert_eq!(keys[1].meta.idle, Some(7));
            if checksum {
                let mut bad = file.clone();
                let at = bad.len() - 1;
                bad[at] ^= 1;
                let e = load_all(&bad, true).err().unwrap();
                assert!(e.0.starts_with("Wrong RDB checksum"), "{}", e.0);
                // With rdbchecksum no, it is not looked at.
                assert!(load_all(&bad, false).is_ok());
            } else {
                assert_eq!(&file[file.len() - 8..], &[0; 8]);
            }
        }
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(load_all(b"", true).is_err());
        assert!(load_all(b"REDIS0011\xff", true)
            .err()
            .unwrap()
            .0
            .contains("version 11"));
        let mut w = Writer::new(Vec::new(), true);
        w.select_db(3, 0, 0);
        let file = w.finish().unwrap();
        for cut in 0..file.len() {
            assert!(load_all(&file[..cut], true).is_err(), "cut at {cut}");
        }
        let e = load(&file, 2, limits(), true, |_| Ok(()), |_| Ok(()))
            .err()
            .unwrap();
        assert!(e.0.contains("more than 2 databases"));
    }
}
