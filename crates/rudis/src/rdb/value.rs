//! Values in Redis's RDB format, as DUMP writes them and RESTORE reads
//! them: what rudis writes Redis 7.0 restores, and rudis restores what
//! Redis 7.0 (and older versions) dump, in every encoding they use for
//! a value. A payload comes from a client: nothing here trusts a length
//! or an element it has not checked, and a payload that does not make a
//! valid value is refused whole.

use super::listpack::{self, Elem};
use super::ziplist;
use super::{put_len, put_string, Reader};
use crate::db::list::{End, List};
use crate::db::stream::{Group, Nack, Node, Stream, StreamId};
use crate::db::{hash, set, zset, Blob, Value};

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Quicklist node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// A list node is closed when its listpack reaches this many bytes
/// (Redis's default `list-max-listpack-size -2`).
const LIST_NODE_BYTES: usize = 8192;

/// The stream entry flags of Redis's listpacks.
const ENTRY_DELETED: i64 = 1;
const ENTRY_SAME_FIELDS: i64 = 2;

/// How large collections may stay compact, for the values a payload
/// makes (the server's configuration).
#[derive(Clone, Copy)]
pub struct Limits {
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    pub intset: usize,
}

/// Writes `v`'s type byte and body.
pub fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(b) => {
            out.push(TYPE_STRING);
            put_string(out, b.as_slice());
        }
        Value::List(l) => put_list(out, l),
        Value::IntSet(_) | Value::Set(_) => {
            let s = v.as_set().expect("a set");
            out.push(TYPE_SET);
            put_len(out, s.len() as u64);
            let mut buf = itoa::Buffer::new();
            for m in s.iter() {
                put_string(out, m.bytes(&mut buf));
            }
        }
        Value::Hash(_) | Value::HashTable(_) => {
            let h = v.as_hash().expect("a hash");
            out.push(TYPE_HASH);
            put_len(out, h.len() as u64);
            for (f, val) in h.iter() {
                put_string(out, f);
                put_string(out, val);
            }
        }
        Value::ZsetPack(_) | Value::Zset(_) => {
            let z = v.as_zset().expect("a sorted set");
            out.push(TYPE_ZSET_2);
            put_len(out, z.len() as u64);
            for (m, score) in z.to_vec() {
                put_string(out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Stream(s) => put_stream(out, s),
    }
}

fn put_list(out: &mut Vec<u8>, l: &List) {
    out.push(TYPE_LIST_QUICKLIST_2);
    let mut nodes = Vec::new();
    let mut w = listpack::Writer::new();
    for e in l.iter() {
        let e = e.as_slice();
        if !w.is_empty() && w.bytes() + e.len() > LIST_NODE_BYTES {
            nodes.push(std::mem::take(&mut w).finish());
        }
        w.str(e);
    }
    if !w.is_empty() {
        nodes.push(w.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in nodes {
        put_len(out, NODE_PACKED);
        put_string(out, &n);
    }
}

fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

fn key_id(k: &[u8]) -> Option<StreamId> {
    let k: &[u8; 16] = k.try_into().ok()?;
    Some(StreamId::new(
        u64::from_be_bytes(k[..8].try_into().ok()?),
        u64::from_be_bytes(k[8..].try_into().ok()?),
    ))
}

/// A stream node as Redis's listpack: the master entry (live count,
/// deleted count, field names, 0), then each entry's flags, ID deltas,
/// fields or values, and its element count.
fn node_listpack(master: StreamId, node: &Node) -> Vec<u8> {
    let mut w = listpack::Writer::new();
    w.int(node.live as i64);
    w.int(node.deleted as i64);
    w.int(node.names().len() as i64);
    for n in node.names() {
        w.str(n);
    }
    w.int(0);
    for e in node.all_entries(master) {
        let mut flags = 0;
        if e.deleted() {
            flags |= ENTRY_DELETED;
        }
        if e.same_fields() {
            flags |= ENTRY_SAME_FIELDS;
        }
        w.int(flags);
        w.int(e.id.ms.wrapping_sub(master.ms) as i64);
        w.int(e.id.seq.wrapping_sub(master.seq) as i64);
        let n = e.field_count();
        let mut pieces = 3 + n;
        if e.same_fields() {
            for (_, v) in e.fields() {
                w.str(v);
            }
        } else {
            w.int(n as i64);
            for (f, v) in e.fields() {
                w.str(f);
                w.str(v);
            }
            pieces += n + 1;
        }
        w.int(pieces as i64);
    }
    w.finish()
}

fn put_stream(out: &mut Vec<u8>, s: &Stream) {
    out.push(TYPE_STREAM_LISTPACKS_2);
    put_len(out, s.node_count() as u64);
    for (master, node) in s.nodes() {
        put_string(out, &id_key(master));
        put_string(out, &node_listpack(master, node));
    }
    for n in [
        s.len(),
        s.last_id.ms,
        s.last_id.seq,
        s.first_id.ms,
        s.first_id.seq,
        s.max_deleted_id.ms,
        s.max_deleted_id.seq,
        s.entries_added,
    ] {
        put_len(out, n);
    }
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        // An unknown count is Redis's -1.
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id_key(*id));
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pending.len() as u64);
            for id in &c.pending {
                out.extend_from_slice(&id_key(*id));
            }
        }
    }
}

/// Reads a value of type `kind` off `r`; `None` if the bytes are not one.
pub fn read_value(r: &mut Reader, kind: u8, limits: Limits) -> Option<Value> {
    let v = match kind {
        TYPE_STRING => Value::Str(Blob::new(&r.string()?)),
        TYPE_LIST => {
            let n = r.string_len()?;
            let mut l = List::default();
            for _ in 0..n {
                l.push(End::Right, Blob::new(&r.string()?));
            }
            Value::List(Box::new(l))
        }
        TYPE_LIST_QUICKLIST_2 => read_quicklist(r)?,
        TYPE_LIST_QUICKLIST | TYPE_LIST_ZIPLIST => {
            // Before 7.0: ziplist nodes (14), or one ziplist (10).
            let nodes = if kind == TYPE_LIST_ZIPLIST {
                1
            } else {
                r.string_len()?
            };
            let mut l = List::default();
            for _ in 0..nodes {
                for e in ziplist::parse(&r.string()?)? {
                    l.push(End::Right, Blob::new(&e.to_vec()));
                }
            }
            if l.is_empty() {
                return None;
            }
            Value::List(Box::new(l))
        }
        TYPE_SET => {
            let n = r.string_len()?;
            let mut v: Option<Value> = None;
            for _ in 0..n {
                let m = r.string()?;
                let s = v.get_or_insert_with(|| {
                    if n as usize <= limits.intset {
                        set::new_set_for(&m)
                    } else {
                        Value::Set(Box::default())
                    }
                });
                if !s.set_add(&m, limits.intset) {
                    return None;
                }
            }
            v?
        }
        TYPE_SET_INTSET => read_intset(&r.string()?, limits)?,
        TYPE_HASH => {
            let n = r.string_len()?;
            let mut h = hash::new_hash();
            for _ in 0..n {
                let (f, v) = (r.string()?, r.string()?);
                if !h.hash_set(&f, &v, limits.hash) {
                    return None;
                }
            }
            h
        }
        TYPE_HASH_LISTPACK | TYPE_HASH_ZIPLIST => {
            let lp = r.string()?;
            let elems = packed(&lp, kind == TYPE_HASH_ZIPLIST)?;
            if elems.is_empty() || elems.len() % 2 != 0 {
                return None;
            }
            let mut h = hash::new_hash();
            for p in elems.chunks(2) {
                if !h.hash_set(&p[0].to_vec(), &p[1].to_vec(), limits.hash) {
                    return None;
                }
            }
            h
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.string_len()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let m = r.string()?;
                let score = if kind == TYPE_ZSET_2 {
                    f64::from_le_bytes(r.take(8)?.try_into().ok()?)
                } else {
                    read_text_double(r)?
                };
                pairs.push((m, score));
            }
            zset_of(pairs, limits)?
        }
        TYPE_ZSET_LISTPACK | TYPE_ZSET_ZIPLIST => {
            let lp = r.string()?;
            let elems = packed(&lp, kind == TYPE_ZSET_ZIPLIST)?;
            if elems.is_empty() || elems.len() % 2 != 0 {
                return None;
            }
            let mut pairs = Vec::new();
            for p in elems.chunks(2) {
                let score = match p[1] {
                    Elem::Int(v) => v as f64,
                    Elem::Str(s) => parse_score(s)?,
                };
                pairs.push((p[0].to_vec(), score));
            }
            zset_of(pairs, limits)?
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            Value::Stream(Box::new(read_stream(r, kind == TYPE_STREAM_LISTPACKS_2)?))
        }
        _ => return None,
    };
    Some(v)
}

/// The elements of a listpack, or of a ziplist (older payloads).
fn packed(data: &[u8], zip: bool) -> Option<Vec<Elem<'_>>> {
    if zip {
        ziplist::parse(data)
    } else {
        listpack::parse(data)
    }
}

fn parse_score(s: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// RDB_TYPE_ZSET's scores: a length byte (253 NaN, 254 +inf, 255 -inf)
/// and the number as text.
fn read_text_double(r: &mut Reader) -> Option<f64> {
    match r.byte()? {
        253 => None,
        254 => Some(f64::INFINITY),
        255 => Some(f64::NEG_INFINITY),
        n => parse_score(r.take(n as usize)?),
    }
}

fn zset_of(pairs: Vec<(Vec<u8>, f64)>, limits: Limits) -> Option<Value> {
    if pairs.is_empty() {
        return None;
    }
    let longest = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = zset::new_zset_for(pairs.len(), longest, limits.zset);
    for (m, s) in pairs {
        if s.is_nan() || z.zset_set(&m, s, limits.zset).is_some() {
            return None;
        }
    }
    Some(z)
}

fn read_intset(blob: &[u8], limits: Limits) -> Option<Value> {
    let width = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let n = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + n.checked_mul(width)? || n == 0 {
        return None;
    }
    let mut v: Option<Value> = None;
    let mut last: Option<i64> = None;
    for c in blob[8..].chunks(width) {
        let x = match width {
            2 => i16::from_le_bytes(c.try_into().ok()?) as i64,
            4 => i32::from_le_bytes(c.try_into().ok()?) as i64,
            _ => i64::from_le_bytes(c.try_into().ok()?),
        };
        // Sorted, no repeats.
        if last.is_some_and(|l| l >= x) {
            return None;
        }
        last = Some(x);
        let m = itoa::Buffer::new().format(x).as_bytes().to_vec();
        let s = v.get_or_insert_with(|| set::new_set_for(&m));
        s.set_add(&m, limits.intset);
    }
    v
}

fn read_quicklist(r: &mut Reader) -> Option<Value> {
    let nodes = r.string_len()?;
    let mut l = List::default();
    for _ in 0..nodes {
        let container = r.string_len()?;
        let data = r.string()?;
        match container {
            NODE_PLAIN => l.push(End::Right, Blob::new(&data)),
            NODE_PACKED => {
                // An empty node is skipped, as Redis does.
                for e in listpack::parse(&data)? {
                    l.push(End::Right, Blob::new(&e.to_vec()));
                }
            }
            _ => return None,
        }
    }
    (!l.is_empty()).then(|| Value::List(Box::new(l)))
}

/// One node's listpack into a node: checks Redis's layout as it goes
/// (counts, flags, IDs rising from `master` and past `after`).
fn read_node(master: StreamId, lp: &[u8], after: StreamId) -> Option<(Node, StreamId)> {
    let elems = listpack::parse(lp)?;
    let mut it = elems.into_iter();
    let next_int = |it: &mut std::vec::IntoIter<Elem>| it.next()?.int();
    let live = next_int(&mut it)?;
    let deleted = next_int(&mut it)?;
    let nfields = usize::try_from(next_int(&mut it)?).ok()?;
    if nfields == 0 || nfields > lp.len() {
        return None;
    }
    let names: Vec<Vec<u8>> = (0..nfields)
        .map(|_| it.next().map(Elem::to_vec))
        .collect::<Option<_>>()?;
    if next_int(&mut it)? != 0 {
        return None;
    }
    let mut node = Node::with_names(names.iter().map(Vec::as_slice));
    let mut last = after;
    let mut first = true;
    while let Some(flags) = it.next() {
        let flags = flags.int()?;
        if !(0..=3).contains(&flags) {
            return None;
        }
        let ms = master.ms.wrapping_add(next_int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(next_int(&mut it)? as u64);
        let id = StreamId::new(ms, seq);
        if id <= last {
            return None;
        }
        if first && id != master {
            return None;
        }
        first = false;
        last = id;
        let mut pairs: Vec<Vec<u8>> = Vec::new();
        if flags & ENTRY_SAME_FIELDS != 0 {
            for n in &names {
                pairs.push(n.clone());
                pairs.push(it.next()?.to_vec());
            }
        } else {
            let n = usize::try_from(next_int(&mut it)?).ok()?;
            if n == 0 || n > lp.len() {
                return None;
            }
            for _ in 0..2 * n {
                pairs.push(it.next()?.to_vec());
            }
        }
        let count = next_int(&mut it)?;
        let want = 3
            + pairs.len() / 2
            + if flags & ENTRY_SAME_FIELDS != 0 {
                0
            } else {
                pairs.len() / 2 + 1
            };
        if count != want as i64 {
            return None;
        }
        let refs: Vec<&[u8]> = pairs.iter().map(Vec::as_slice).collect();
        if flags & ENTRY_DELETED != 0 {
            node.push_deleted(master, id, &refs);
        } else {
            node.push(master, id, &refs);
        }
    }
    if node.live as i64 != live || node.deleted as i64 != deleted || node.live + node.deleted == 0 {
        return None;
    }
    Some((node, last))
}

fn read_ms(r: &mut Reader) -> Option<u64> {
    Some(u64::from_le_bytes(r.take(8)?.try_into().ok()?))
}

fn read_stream(r: &mut Reader, v2: bool) -> Option<Stream> {
    let mut s = Stream::new();
    let nodes = r.string_len()?;
    let mut last = StreamId::MIN;
    let mut any = false;
    let mut live = 0u64;
    for _ in 0..nodes {
        let master = key_id(&r.string()?)?;
        let lp = r.string()?;
        if any && master <= last {
            return None;
        }
        let (node, node_last) = read_node(master, &lp, if any { last } else { StreamId::MIN })?;
        any = true;
        last = node_last;
        live += node.live as u64;
        s.push_node(master, node);
    }
    let length = r.string_len()?;
    if length != live {
        return None;
    }
    s.set_len(length);
    s.last_id = StreamId::new(r.string_len()?, r.string_len()?);
    if any && s.last_id < last {
        return None;
    }
    if v2 {
        s.first_id = StreamId::new(r.string_len()?, r.string_len()?);
        s.max_deleted_id = StreamId::new(r.string_len()?, r.string_len()?);
        s.entries_added = r.string_len()?;
    } else {
        s.entries_added = length;
        s.first_id = s.edge(false).map_or(StreamId::MIN, |e| e.id);
    }
    let groups = r.string_len()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = StreamId::new(r.string_len()?, r.string_len()?);
        let read = if v2 {
            // Redis's -1 is "not known".
            Some(r.string_len()?).filter(|&n| n != u64::MAX)
        } else {
            s.entries_before(last_id)
        };
        let mut g = Group::new(last_id, read);
        let pel = r.string_len()?;
        for _ in 0..pel {
            let id = key_id(r.take(16)?)?;
            let delivery_time = read_ms(r)?;
            let delivery_count = r.string_len()?;
            let nack = Nack {
                delivery_time,
                delivery_count,
                consumer: Box::from(&b""[..]),
            };
            if g.pel.insert(id, nack).is_some() {
                return None;
            }
        }
        let consumers = r.string_len()?;
        for _ in 0..consumers {
            let cname = r.string()?;
            let seen = read_ms(r)?;
            let (c, created) = g.consumer(&cname, seen);
            if !created {
                return None;
            }
            c.seen_time = seen;
            let n = r.string_len()?;
            let mut ids = Vec::new();
            for _ in 0..n {
                ids.push(key_id(r.take(16)?)?);
            }
            for id in ids {
                // Each of its entries is one of the group's, held by no
                // one else.
                let nack = g.pel.get_mut(&id)?;
                if !nack.consumer.is_empty() {
                    return None;
                }
                nack.consumer = cname.as_slice().into();
                g.consumers.get_mut(cname.as_slice())?.pending.insert(id);
            }
        }
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return None;
        }
        if s.groups.insert(name.into(), g).is_some() {
            return None;
        }
    }
    Some(s)
}

/// Reads `data` as a type byte and a value, with small limits (for the
/// fuzz target and the garbage test): it must never panic.
pub fn exercise(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        hash: hash::Limits {
            entries: 8,
            value: 16,
        },
        zset: zset::Limits {
            entries: 8,
            value: 16,
        },
        intset: 8,
    };
    let mut r = Reader::new(body);
    if let Some(v) = read_value(&mut r, kind, limits) {
        // What was read writes out and reads back.
        let mut out = Vec::new();
        put_value(&mut out, &v);
        let mut r = Reader::new(&out[1..]);
        assert!(read_value(&mut r, out[0], limits).is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::hash::HashRef;

    fn limits() -> Limits {
        Limits {
            hash: hash::Limits {
                entries: 128,
                value: 64,
            },
            zset: zset::Limits {
                entries: 128,
                value: 64,
            },
            intset: 512,
        }
    }

    fn round_trip(v: &Value) -> Value {
        let mut out = Vec::new();
        put_value(&mut out, v);
        let mut r = Reader::new(&out[1..]);
        let back = read_value(&mut r, out[0], limits()).expect("reads back");
        assert!(r.is_empty());
        back
    }

    #[test]
    fn every_type_round_trips() {
        let s = Value::Str(Blob::new(b"hello"));
        assert_eq!(round_trip(&s).as_str().unwrap().as_slice(), b"hello");

        let mut l = List::default();
        for i in 0..3000 {
            l.push(End::Right, Blob::new(format!("element-{i}").as_bytes()));
        }
        let back = round_trip(&Value::List(Box::new(l)));
        let Value::List(back) = back else {
            panic!("a list")
        };
        assert_eq!(back.len(), 3000);
        assert_eq!(back.get(2999).unwrap().as_slice(), b"element-2999");

        let mut h = hash::new_hash();
        h.hash_set(b"f", b"v", limits().hash);
        h.hash_set(b"n", b"12", limits().hash);
        let back = round_trip(&h);
        assert_eq!(back.as_hash().map(HashRef::len), Some(2));
        assert_eq!(back.as_hash().unwrap().get(b"n"), Some(&b"12"[..]));

        let mut z = zset::new_zset();
        z.zset_set(b"a", 1.5, limits().zset);
        z.zset_set(b"b", f64::NEG_INFINITY, limits().zset);
        let back = round_trip(&z);
        assert_eq!(back.as_zset().unwrap().score(b"b"), Some(f64::NEG_INFINITY));

        let mut st = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let f: &[u8] = if i % 10 == 0 { b"other" } else { b"item" };
            st.append(StreamId::new(i, 0), &[f, v.as_bytes()]).unwrap();
        }
        st.delete(StreamId::new(5, 0));
        let mut g = Group::new(StreamId::new(3, 0), Some(3));
        g.consumer(b"alice", 42);
        g.deliver(StreamId::new(2, 0), b"alice", 40);
        st.groups.insert(Box::from(&b"g"[..]), g);
        let Value::Stream(back) = round_trip(&Value::Stream(Box::new(st.clone()))) else {
            panic!("a stream")
        };
        assert_eq!(back.len(), 249);
        assert_eq!(back.node_count(), st.node_count());
        assert!(back.get(StreamId::new(5, 0)).is_none());
        let e = back.get(StreamId::new(10, 0)).unwrap();
        assert_eq!(
            e.fields().collect::<Vec<_>>(),
            vec![(&b"other"[..], &b"10"[..])]
        );
        let g = &back.groups[&b"g"[..]];
        assert_eq!(g.pel[&StreamId::new(2, 0)].consumer.as_ref(), b"alice");
        assert_eq!(g.consumers[&b"alice"[..]].seen_time, 42);
    }

    #[test]
    fn random_and_mutated_payloads_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(20261202);
        let mut seeds = Vec::new();
        for v in [
            Value::Str(Blob::new(b"12345")),
            {
                let mut h = hash::new_hash();
                h.hash_set(b"f", b"v", limits().hash);
                h
            },
            {
                let mut st = Stream::new();
                st.append(StreamId::new(1, 1), &[b"a", b"1"]).unwrap();
                st.append(StreamId::new(2, 0), &[b"b", b"2", b"c", b"3"])
                    .unwrap();
                Value::Stream(Box::new(st))
            },
        ] {
            let mut out = Vec::new();
            put_value(&mut out, &v);
            seeds.push(out);
        }
        for _ in 0..3000 {
            let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..data.len());
                data[i] = rng.gen();
            }
            exercise(&data);
            let n = rng.gen_range(0..64);
            let noise: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            exercise(&noise);
        }
    }

    #[test]
    fn garbage_is_refused_not_trusted() {
        let mut st = Stream::new();
        st.append(StreamId::new(1, 0), &[b"f", b"v"]).unwrap();
        let mut out = Vec::new();
        put_value(&mut out, &Value::Stream(Box::new(st)));
        // Every cut and every single-byte change either reads a stream
        // or is refused; none panics.
        for cut in 1..out.len() {
            let mut r = Reader::new(&out[1..cut]);
            assert!(read_value(&mut r, out[0], limits()).is_none() || cut == out.len());
        }
        for i in 1..out.len() {
            for b in [0u8, 1, 0x7F, 0x80, 0xFF] {
                let mut bad = out.clone();
                bad[i] = b;
                let mut r = Reader::new(&bad[1..]);
                let _ = read_value(&mut r, bad[0], limits());
            }
        }
    }
}
