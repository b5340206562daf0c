//! Hash commands.

use rand::Rng;

use super::flags::*;
use super::keys::{parse_cursor, scan_window, ScanOpts};
use super::{acl, is, row, Args, Command, Ctx, KeySpec};
use crate::db::hash::{new_hash, HashRef};
use crate::db::{Clock, Table, Value};
use crate::effects::class::{GENERIC, HASH};
use crate::errors::{self, CmdResult, Error};
use crate::ldouble::LongDouble;

const ORDER: &[&str] = &["nondeterministic_output_order"];

pub static COMMANDS: &[Command] = &[
    row("hset", -4, WRITE | DENYOOM | FAST, hset)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("hmset", -4, WRITE | DENYOOM | FAST, hset)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("hget", 3, READONLY | FAST, hget)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hmget", -3, READONLY | FAST, hmget)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hdel", -3, WRITE | FAST, hdel)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("hlen", 2, READONLY | FAST, hlen)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("hstrlen", 3, READONLY | FAST, hstrlen)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("hexists", 3, READONLY | FAST, hexists)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("hkeys", 2, READONLY, hkeys)
        .acl(acl::HASH)
        .tips(ORDER)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hvals", 2, READONLY, hvals)
        .acl(acl::HASH)
        .tips(ORDER)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hgetall", 2, READONLY, hgetall)
        .acl(acl::HASH)
        .tips(ORDER)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hincrby", 4, WRITE | DENYOOM | FAST, hincrby)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat)
        .acl(acl::HASH)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("hrandfield", -2, READONLY, hrandfield)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("hscan", -3, READONLY, hscan)
        .acl(acl::HASH)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
];

/// The hash at `key` for reading (a counted lookup): `None` if missing,
/// WRONGTYPE if another type.
pub fn hash_at<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<Option<HashRef<'t>>, Error> {
    match t.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(v) => v
            .as_hash()
            .map(Some)
            .ok_or(Error::Static(errors::WRONGTYPE)),
    }
}

/// The position of the hash at `key` for a writer.
fn find_hash(t: &mut Table, key: &[u8], now: Clock) -> Result<Option<usize>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    match t.at(i).1.value.as_hash() {
        Some(_) => Ok(Some(i)),
        None => Err(errors::WRONGTYPE.into()),
    }
}

/// The hash at position `i` (checked by `find_hash`), as the value to
/// change with `Value::hash_set` and `hash_remove`.
fn hash_mut(t: &mut Table, i: usize) -> &mut Value {
    &mut t.at_mut(i).value
}

/// The hash at `key` for writing, created empty if missing (Redis's
/// `hashTypeLookupWriteOrCreate`: the key exists from here on).
fn hash_or_new<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<&'t mut Value, Error> {
    let i = match find_hash(t, key, now)? {
        Some(i) => i,
        None => t.add(key, new_hash(), now),
    };
    Ok(hash_mut(t, i))
}

/// HSET key field value [field value ...] (and HMSET)
fn hset(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(errors::wrong_arity(ctx.cmd.name));
    }
    let (now, limits) = (ctx.now, ctx.server.hot.hash_limits());
    let h = hash_or_new(ctx.table(key), key, now)?;
    let mut created = 0;
    let mut it = pairs.iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        created += h.hash_set(f, v, limits) as i64;
    }
    ctx.modified(key, HASH, "hset");
    if ctx.cmd.name == "hmset" {
        ctx.out.ok();
    } else {
        ctx.out.int(created);
    }
    Ok(())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field, value) = (args.arg(), args.arg(), args.arg());
    let (now, limits) = (ctx.now, ctx.server.hot.hash_limits());
    let h = hash_or_new(ctx.table(key), key, now)?;
    let set = h.as_hash().is_some_and(|h| h.get(field).is_none());
    if set {
        h.hash_set(field, value, limits);
        ctx.modified(key, HASH, "hset");
    }
    ctx.out.int(set as i64);
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field) = (args.arg(), args.arg());
    let now = ctx.now;
    match hash_at(ctx.keys.table(ctx.db, key), key, now)?.and_then(|h| h.get(field)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let fields = args.rest();
    let now = ctx.now;
    let h = hash_at(ctx.keys.table(ctx.db, key), key, now)?;
    ctx.out.array(fields.len());
    for f in fields.iter() {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let fields = args.rest();
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(i) = find_hash(t, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let h = hash_mut(t, i);
    let mut deleted = 0;
    let empty = |h: &Value| h.as_hash().is_none_or(HashRef::is_empty);
    for f in fields.iter() {
        deleted += h.hash_remove(f) as i64;
        if empty(h) {
            break;
        }
    }
    let gone = empty(h);
    if gone {
        t.remove_at(i);
    }
    if deleted > 0 {
        ctx.modified(key, HASH, "hdel");
        if gone {
            ctx.notify(key, GENERIC, "del");
        }
    }
    ctx.out.int(deleted);
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let n = hash_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(0, HashRef::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field) = (args.arg(), args.arg());
    let now = ctx.now;
    let h = hash_at(ctx.keys.table(ctx.db, key), key, now)?;
    let n = h.and_then(|h| h.get(field)).map_or(0, <[u8]>::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field) = (args.arg(), args.arg());
    let now = ctx.now;
    let h = hash_at(ctx.keys.table(ctx.db, key), key, now)?;
    ctx.out
        .int(h.is_some_and(|h| h.get(field).is_some()) as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Fields,
    Values,
    Both,
}

fn get_all(ctx: &mut Ctx, args: &mut Args, parts: Parts) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let h = hash_at(ctx.keys.table(ctx.db, key), key, now)?;
    let n = h.map_or(0, HashRef::len);
    if parts == Parts::Both {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    for (f, v) in h.into_iter().flat_map(HashRef::iter) {
        if parts != Parts::Values {
            ctx.out.bulk(f);
        }
        if parts != Parts::Fields {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    get_all(ctx, args, Parts::Fields)
}

/// HVALS key
fn hvals(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    get_all(ctx, args, Parts::Values)
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    get_all(ctx, args, Parts::Both)
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field) = (args.arg(), args.arg());
    let by = args.int()?;
    let (now, limits) = (ctx.now, ctx.server.hot.hash_limits());
    let h = hash_or_new(ctx.table(key), key, now)?;
    let old = match h.as_hash().and_then(|h| h.get(field)) {
        Some(v) => resp::num::parse_i64(v).ok_or(Error::Static(errors::HASH_NOT_INTEGER))?,
        None => 0,
    };
    let new = old.checked_add(by).ok_or(Error::Static(errors::OVERFLOW))?;
    h.hash_set(field, itoa::Buffer::new().format(new).as_bytes(), limits);
    ctx.modified(key, HASH, "hincrby");
    ctx.out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, field) = (args.arg(), args.arg());
    let by = LongDouble::parse(args.arg()).ok_or(Error::Static(errors::NOT_FLOAT))?;
    if !by.is_finite() {
        return Err(errors::NAN_OR_INFINITY_ARG.into());
    }
    let (now, limits) = (ctx.now, ctx.server.hot.hash_limits());
    let h = hash_or_new(ctx.table(key), key, now)?;
    let old = match h.as_hash().and_then(|h| h.get(field)) {
        Some(v) => LongDouble::parse(v).ok_or(Error::Static(errors::HASH_NOT_FLOAT))?,
        None => LongDouble::ZERO,
    };
    let sum = old + by;
    if !sum.is_finite() {
        return Err(errors::NAN_OR_INFINITY.into());
    }
    let text = sum.to_human();
    h.hash_set(field, &text, limits);
    ctx.modified(key, HASH, "hincrbyfloat");
    ctx.out.bulk(&text);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let Some(count) = args.next_arg() else {
        match hash_at(ctx.keys.table(ctx.db, key), key, now)? {
            Some(h) => {
                let i = rand::thread_rng().gen_range(0..h.len());
                ctx.out.bulk(h.nth(i).map_or(&[][..], |(f, _)| f));
            }
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let count = super::parse_int_in(count, -i64::MAX, i64::MAX, None)?;
    let with_values = match args.remaining() {
        0 => false,
        1 if is(args.arg(), "withvalues") => {
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
                return Err(errors::VALUE_OUT_OF_RANGE.into());
            }
            true
        }
        _ => return Err(errors::SYNTAX.into()),
    };
    let resp3 = ctx.out.resp3();
    let Some(h) = hash_at(ctx.keys.table(ctx.db, key), key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let size = h.len();
    let n = count.unsigned_abs() as usize;
    let mut rng = rand::thread_rng();
    let pairs = with_values && !resp3;
    if count < 0 || n == 1 {
        // Picks with repetition: produced one by one, never reserved, from
        // the pairs listed once (finding a compact hash's n-th pair walks it).
        let reply = super::Generated::start(
            ctx.server,
            ctx.out,
            n as u64,
            if with_values { 2 } else { 1 },
        )?;
        let listed: Vec<(&[u8], &[u8])> = if h.is_table() {
            Vec::new()
        } else {
            h.iter().collect()
        };
        ctx.out.array(n * if pairs { 2 } else { 1 });
        for _ in 0..n {
            reply.check(ctx.out)?;
            let i = rng.gen_range(0..size);
            let pair = if h.is_table() {
                h.nth(i)
            } else {
                listed.get(i).copied()
            };
            let (f, v) = pair.unwrap_or_default();
            if with_values && resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(f);
            if with_values {
                ctx.out.bulk(v);
            }
        }
        return Ok(());
    }
    // Which pairs, by position: distinct ones.
    let picks: Vec<usize> = if count == 0 {
        Vec::new()
    } else if n >= size {
        (0..size).collect()
    } else {
        let mut p = rand::seq::index::sample(&mut rng, size, n).into_vec();
        if !h.is_table() {
            // Redis samples a compact hash in its stored order.
            p.sort_unstable();
        }
        p
    };
    ctx.out
        .array(picks.len() * if with_values && !resp3 { 2 } else { 1 });
    for i in picks {
        let (f, v) = h.nth(i).unwrap_or_default();
        if with_values && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if with_values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A compact hash is returned whole in one call, as Redis does; a table
/// is walked by position from the top down (see `Table::scan` for why a
/// field present for the whole scan is always returned), the cursor
/// holding how many positions are left.
fn hscan(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let cursor = parse_cursor(args.arg())?;
    let now = ctx.now;
    let h = hash_at(ctx.keys.table(ctx.db, key), key, now)?;
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let mut next = 0;
    // As in Redis, the options are read only for an existing hash.
    let opts = match h {
        Some(_) => Some(ScanOpts::parse(args, false)?),
        None => None,
    };
    if let (Some(h), Some(opts)) = (h, &opts) {
        if h.is_table() {
            let (positions, after) = scan_window(h.len(), cursor, opts.count);
            found.extend(positions.filter_map(|i| h.nth(i)));
            next = after;
        } else {
            found.extend(h.iter());
        }
    }
    if let Some(opts) = &opts {
        found.retain(|(f, _)| opts.matches(f));
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
