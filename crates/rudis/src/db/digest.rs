//! DEBUG DIGEST and DIGEST-VALUE: Redis's SHA-1 digest of a dataset or a
//! value, computed as Redis computes it, so that the same data gives the
//! same digest in both servers. Unordered collections (sets, hashes,
//! sorted sets) combine their elements with XOR, so their order does not
//! matter; lists, strings and streams mix theirs in order.

use super::{Entry, Table, Value};

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// Redis's `xorDigest`: XORs the SHA-1 of `data` into `d`.
fn xor(d: &mut Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(sha1(data)) {
        *a ^= b;
    }
}

/// Redis's `mixDigest`: XOR, then `d` becomes the SHA-1 of itself.
fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(d);
}

/// Redis's type numbers, which the digest mixes in.
fn type_number(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::IntSet(_) | Value::Set(_) => 2,
        Value::ZsetPack(_) | Value::Zset(_) => 3,
        Value::Hash(_) | Value::HashTable(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// A `%.17g` score, as the digest spells it.
fn score_text(s: f64) -> Vec<u8> {
    let mut out = Vec::new();
    resp::num::write_double(&mut out, s);
    out
}

/// Redis's `xorObjectDigest`: a value (and whether it has an expiry)
/// into `d`.
pub fn value_into(d: &mut Digest, e: &Entry) {
    let v = &e.value;
    mix(d, &type_number(v).to_be_bytes());
    match v {
        Value::Str(b) => mix(d, b.as_slice()),
        Value::List(l) => {
            for el in l.iter() {
                mix(d, el.as_slice());
            }
        }
        Value::IntSet(_) | Value::Set(_) => {
            let mut buf = itoa::Buffer::new();
            for m in v.as_set().expect("a set").iter() {
                xor(d, m.bytes(&mut buf));
            }
        }
        Value::ZsetPack(_) | Value::Zset(_) => {
            for (m, s) in v.as_zset().expect("a sorted set").to_vec() {
                let mut el = [0u8; 20];
                mix(&mut el, m);
                mix(&mut el, &score_text(s));
                xor(d, &el);
            }
        }
        Value::Hash(_) | Value::HashTable(_) => {
            for (f, val) in v.as_hash().expect("a hash").iter() {
                let mut el = [0u8; 20];
                mix(&mut el, f);
                mix(&mut el, val);
                xor(d, &el);
            }
        }
        Value::Stream(s) => {
            for e in s.range(
                super::stream::StreamId::MIN,
                super::stream::StreamId::MAX,
                false,
            ) {
                mix(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                for (f, val) in e.fields() {
                    mix(d, f);
                    mix(d, val);
                }
            }
        }
    }
    if e.expire_at() != 0 {
        xor(d, b"!!expire!!");
    }
}

/// The digest of one value, as DIGEST-VALUE reports it.
pub fn of_value(e: &Entry) -> Digest {
    let mut d = [0u8; 20];
    value_into(&mut d, e);
    d
}

/// The part of a database's digest one table adds: the XOR of the SHA-1
/// of each key's digest (the key mixed with its value's).
pub fn of_table(t: &Table) -> Digest {
    let mut acc = [0u8; 20];
    for (k, e) in t.iter() {
        let mut d = [0u8; 20];
        mix(&mut d, k.as_slice());
        value_into(&mut d, e);
        // Redis's xorDigest of the key's digest: its SHA-1.
        xor(&mut acc, &d);
    }
    acc
}

/// Redis's `computeDatasetDigest` from each database's keys' digests
/// (`None`: the database is empty): the database number mixed in, then
/// its keys' XOR.
pub fn of_dataset(dbs: impl Iterator<Item = (usize, Option<Digest>)>) -> Digest {
    let mut fin = [0u8; 20];
    for (db, keys) in dbs {
        let Some(keys) = keys else { continue };
        mix(&mut fin, &(db as u32).to_be_bytes());
        for (a, b) in fin.iter_mut().zip(keys) {
            *a ^= b;
        }
    }
    fin
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
