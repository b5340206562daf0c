//! Set commands. Multi-key operations see every key under its shard lock
//! at once (the row's key specs lock them all), so they are atomic.

use rand::Rng;

use super::flags::*;
use super::keys::{parse_cursor, scan_window, ScanOpts};
use super::{acl, is, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use crate::db::set::{new_set_for, Member, SetRef};
use crate::db::{Clock, Table, Value};
use crate::effects::class::{GENERIC, SET};
use crate::errors::{self, CmdResult, Error};

const ORDER: &[&str] = &["nondeterministic_output_order"];
const RANDOM: &[&str] = &["nondeterministic_output"];
const ALL_KEYS: Find = Find::Range(-1, 1, 0);

pub static COMMANDS: &[Command] = &[
    row("sadd", -3, WRITE | DENYOOM | FAST, sadd)
        .acl(acl::SET)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("srem", -3, WRITE | FAST, srem)
        .acl(acl::SET)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("scard", 2, READONLY | FAST, scard)
        .acl(acl::SET)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("sismember", 3, READONLY | FAST, sismember)
        .acl(acl::SET)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("smismember", -3, READONLY | FAST, smismember)
        .acl(acl::SET)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("smembers", 2, READONLY, sinter)
        .acl(acl::SET)
        .tips(ORDER)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("spop", -2, WRITE | FAST, spop)
        .acl(acl::SET)
        .tips(RANDOM)
        .keys(&[KeySpec::at(1, &["RW", "access", "delete"])]),
    row("srandmember", -2, READONLY, srandmember)
        .acl(acl::SET)
        .tips(RANDOM)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("smove", 4, WRITE | FAST, smove).acl(acl::SET).keys(&[
        KeySpec::at(1, &["RW", "access", "delete"]),
        KeySpec::at(2, &["RW", "insert"]),
    ]),
    row("sinter", -2, READONLY, sinter)
        .acl(acl::SET)
        .tips(ORDER)
        .keys(&[KeySpec::new(&["RO", "access"], Begin::Index(1), ALL_KEYS)]),
    row("sintercard", -3, READONLY, sintercard)
        .acl(acl::SET)
        .keys(&[KeySpec::new(
            &["RO", "access"],
            Begin::Index(1),
            Find::Keynum(0, 1, 1),
        )]),
    row("sinterstore", -3, WRITE | DENYOOM, sinterstore)
        .acl(acl::SET)
        .keys(&[
            KeySpec::at(1, &["RW", "update"]),
            KeySpec::new(&["RO", "access"], Begin::Index(2), ALL_KEYS),
        ]),
    row("sunion", -2, READONLY, sunion)
        .acl(acl::SET)
        .tips(ORDER)
        .keys(&[KeySpec::new(&["RO", "access"], Begin::Index(1), ALL_KEYS)]),
    row("sunionstore", -3, WRITE | DENYOOM, sunionstore)
        .acl(acl::SET)
        .keys(&[
            KeySpec::at(1, &["OW", "update"]),
            KeySpec::new(&["RO", "access"], Begin::Index(2), ALL_KEYS),
        ]),
    row("sdiff", -2, READONLY, sdiff)
        .acl(acl::SET)
        .tips(ORDER)
        .keys(&[KeySpec::new(&["RO", "access"], Begin::Index(1), ALL_KEYS)]),
    row("sdiffstore", -3, WRITE | DENYOOM, sdiffstore)
        .acl(acl::SET)
        .keys(&[
            KeySpec::at(1, &["OW", "update"]),
            KeySpec::new(&["RO", "access"], Begin::Index(2), ALL_KEYS),
        ]),
    row("sscan", -3, READONLY, sscan)
        .acl(acl::SET)
        .tips(RANDOM)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
];

/// The set at `key` for reading (a counted lookup).
fn set_at<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<Option<SetRef<'t>>, Error> {
    match t.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(v) => v.as_set().map(Some).ok_or(Error::Static(errors::WRONGTYPE)),
    }
}

/// The position of the set at `key` for a writer.
fn find_set(t: &mut Table, key: &[u8], now: Clock) -> Result<Option<usize>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    match t.at(i).1.value.as_set() {
        Some(_) => Ok(Some(i)),
        None => Err(errors::WRONGTYPE.into()),
    }
}

fn write_member(ctx: &mut Ctx, m: Member) {
    ctx.out.bulk(m.bytes(&mut itoa::Buffer::new()));
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let members = args.rest();
    let (now, max) = (ctx.now, ctx.server.hot.set_max_intset_entries());
    let t = ctx.table(key);
    let i = match find_set(t, key, now)? {
        Some(i) => i,
        None => t.add(key, new_set_for(members.get(0).unwrap_or_default()), now),
    };
    let v = &mut t.at_mut(i).value;
    let added = members.iter().filter(|m| v.set_add(m, max)).count();
    if added > 0 {
        ctx.modified(key, SET, "sadd");
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let members = args.rest();
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(i) = find_set(t, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let v = &mut t.at_mut(i).value;
    let removed = members.iter().filter(|m| v.set_remove(m)).count();
    let gone = v.as_set().is_none_or(SetRef::is_empty);
    if gone {
        t.remove_at(i);
    }
    if removed > 0 {
        ctx.modified(key, SET, "srem");
        if gone {
            ctx.notify(key, GENERIC, "del");
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let n = set_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(0, SetRef::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, member) = (args.arg(), args.arg());
    let now = ctx.now;
    let s = set_at(ctx.keys.table(ctx.db, key), key, now)?;
    ctx.out.int(s.is_some_and(|s| s.contains(member)) as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let members = args.rest();
    let now = ctx.now;
    let s = set_at(ctx.keys.table(ctx.db, key), key, now)?;
    ctx.out.array(members.len());
    for m in members.iter() {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// Looks every key up (counted, in order, type-checked as Redis does:
/// a missing key does not stop later keys from being checked), then
/// returns the sets found, `None` for a missing key.
fn sets_of<'c>(ctx: &'c mut Ctx, keys: Argv) -> Result<Vec<Option<SetRef<'c>>>, Error> {
    let now = ctx.now;
    let mut exists = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        exists.push(set_at(ctx.keys.table(ctx.db, key), key, now)?.is_some());
    }
    let keys_ref = &*ctx.keys;
    Ok(keys
        .iter()
        .zip(exists)
        .map(|(key, e)| {
            e.then(|| keys_ref.table_ref(ctx.db, key).peek(key))
                .flatten()
                .and_then(|entry| entry.value.as_set())
        })
        .collect())
}

/// The intersection of `keys`, in the order of the smallest set (Redis's
/// `sinterGenericCommand`), stopping at `limit` members (0: none).
fn intersection(sets: &[Option<SetRef>], limit: usize) -> Vec<Vec<u8>> {
    let mut sets: Vec<SetRef> = match sets.iter().copied().collect::<Option<Vec<_>>>() {
        Some(s) => s,
        None => return Vec::new(),
    };
    // Stable, as glibc's qsort is for these sizes: ties keep key order.
    sets.sort_by_key(|s| s.len());
    let mut out = Vec::new();
    let mut buf = itoa::Buffer::new();
    for m in sets[0].iter() {
        let bytes = m.bytes(&mut buf);
        if sets[1..].iter().all(|s| s.contains(bytes)) {
            out.push(bytes.to_vec());
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

/// Union or difference into a new set value, as Redis's
/// `sunionDiffGenericCommand` builds it (an intset while it can be).
fn combine(sets: &[Option<SetRef>], op: Op, max_intset: usize) -> Value {
    let mut dst = Value::IntSet(Box::new([]));
    let mut buf = itoa::Buffer::new();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    dst.set_add(m.bytes(&mut buf), max_intset);
                }
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                for m in first.iter() {
                    let bytes = m.bytes(&mut buf);
                    if !sets[1..].iter().flatten().any(|s| s.contains(bytes)) {
                        dst.set_add(bytes, max_intset);
                    }
                }
            }
        }
    }
    dst
}

fn reply_members(ctx: &mut Ctx, members: &[Vec<u8>]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn reply_set_value(ctx: &mut Ctx, v: &Value) {
    let s = v.as_set().expect("a set");
    ctx.out.set(s.len());
    for m in s.iter() {
        write_member(ctx, m);
    }
}

/// Stores `v` at `dest` (replacing whatever was there, TTL included) or
/// deletes `dest` if `v` is empty; replies with the size.
fn store(ctx: &mut Ctx, dest: &[u8], v: Value, event: &'static str) {
    let n = v.as_set().map_or(0, SetRef::len);
    let now = ctx.now;
    let t = ctx.table(dest);
    if n > 0 {
        t.set(dest, v, 0, now);
        ctx.modified(dest, SET, event);
    } else if t.remove(dest, now).is_some() {
        ctx.modified(dest, GENERIC, "del");
    }
    ctx.out.int(n as i64);
}

/// SINTER key [key ...] (and SMEMBERS key)
fn sinter(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let keys = args.rest();
    let members = intersection(&sets_of(ctx, keys)?, 0);
    reply_members(ctx, &members);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let numkeys = super::parse_int_in(args.arg(), 1, i64::MAX, Some(errors::NUMKEYS_POSITIVE))?;
    if numkeys as usize > args.remaining() {
        return Err(errors::NUMKEYS_TOO_MANY.into());
    }
    let all = args.rest();
    let keys = all.first(numkeys as usize);
    let mut opts = Args::new(all, numkeys as usize);
    let mut limit = 0;
    while let Some(opt) = opts.next_arg() {
        if is(opt, "limit") && opts.remaining() > 0 {
            limit = super::parse_int_in(opts.arg(), 0, i64::MAX, Some(errors::LIMIT_NEGATIVE))?;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let n = intersection(&sets_of(ctx, keys)?, limit as usize).len();
    ctx.out.int(n as i64);
    Ok(())
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let dest = args.arg();
    let keys = args.rest();
    let max = ctx.server.hot.set_max_intset_entries();
    let members = intersection(&sets_of(ctx, keys)?, 0);
    let mut v = Value::IntSet(Box::new([]));
    for m in &members {
        v.set_add(m, max);
    }
    store(ctx, dest, v, "sinterstore");
    Ok(())
}

fn union_diff(ctx: &mut Ctx, args: &mut Args, op: Op, stored: bool) -> CmdResult {
    let dest = stored.then(|| args.arg());
    let keys = args.rest();
    let max = ctx.server.hot.set_max_intset_entries();
    let v = combine(&sets_of(ctx, keys)?, op, max);
    match dest {
        Some(dest) => {
            let event = match op {
                Op::Union => "sunionstore",
                Op::Diff => "sdiffstore",
            };
            store(ctx, dest, v, event)
        }
        None => reply_set_value(ctx, &v),
    }
    Ok(())
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    union_diff(ctx, args, Op::Union, false)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    union_diff(ctx, args, Op::Union, true)
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    union_diff(ctx, args, Op::Diff, false)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    union_diff(ctx, args, Op::Diff, true)
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst, member) = (args.arg(), args.arg(), args.arg());
    let (now, max) = (ctx.now, ctx.server.hot.set_max_intset_entries());
    // Redis looks both keys up first; a missing source answers 0 before
    // the destination's type is checked.
    let Some(si) = ctx.table(src).find(src, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let src_is_set = ctx.table(src).at(si).1.value.as_set().is_some();
    let dst_ok = match ctx.table(dst).find(dst, now) {
        Some(di) => ctx.table(dst).at(di).1.value.as_set().is_some(),
        None => true,
    };
    if !src_is_set || !dst_ok {
        return Err(errors::WRONGTYPE.into());
    }
    if src == dst {
        let has = ctx
            .table(src)
            .at(si)
            .1
            .value
            .as_set()
            .is_some_and(|s| s.contains(member));
        ctx.out.int(has as i64);
        return Ok(());
    }
    let t = ctx.table(src);
    // Looked up again: reclaiming an expired destination may have moved
    // the source within the table.
    let si = t.find(src, now).unwrap_or(si);
    let v = &mut t.at_mut(si).value;
    if !v.set_remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let gone = v.as_set().is_none_or(SetRef::is_empty);
    if gone {
        t.remove_at(si);
    }
    ctx.modified(src, SET, "srem");
    if gone {
        ctx.notify(src, GENERIC, "del");
    }
    let t = ctx.table(dst);
    let di = match t.find(dst, now) {
        Some(di) => di,
        None => t.add(dst, new_set_for(member), now),
    };
    if t.at_mut(di).value.set_add(member, max) {
        ctx.modified(dst, SET, "sadd");
    }
    ctx.out.int(1);
    Ok(())
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let count = match args.remaining() {
        0 => None,
        1 => Some(super::parse_int_in(
            args.arg(),
            0,
            i64::MAX,
            Some(errors::MUST_BE_POSITIVE),
        )?),
        _ => return Err(errors::SYNTAX.into()),
    };
    let t = ctx.table(key);
    let Some(i) = find_set(t, key, now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let size = t.at(i).1.value.as_set().map_or(0, SetRef::len);
    let Some(count) = count else {
        let pick = rand::thread_rng().gen_range(0..size);
        let m = t.at_mut(i).value.set_take(pick).unwrap_or_default();
        if size == 1 {
            t.remove_at(i);
        }
        ctx.modified(key, SET, "spop");
        if size == 1 {
            ctx.notify(key, GENERIC, "del");
        }
        ctx.out.bulk(&m);
        return Ok(());
    };
    let count = count as usize;
    if count >= size {
        // The whole set, in its own order, and the key is gone.
        let (_, entry) = t.remove_at(i);
        ctx.modified(key, SET, "spop");
        ctx.notify(key, GENERIC, "del");
        ctx.fx.dirty += size as u64 - 1;
        reply_set_value(ctx, &entry.value);
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    let v = &mut t.at_mut(i).value;
    let mut popped = Vec::with_capacity(count);
    for left in (size - count + 1..=size).rev() {
        if let Some(m) = v.set_take(rng.gen_range(0..left)) {
            popped.push(m);
        }
    }
    if count > 0 {
        ctx.modified(key, SET, "spop");
        ctx.fx.dirty += count as u64 - 1;
    }
    reply_members(ctx, &popped);
    Ok(())
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let count = match args.remaining() {
        0 => None,
        1 => Some(super::parse_int_in(args.arg(), -i64::MAX, i64::MAX, None)?),
        _ => return Err(errors::SYNTAX.into()),
    };
    let Some(s) = set_at(ctx.keys.table(ctx.db, key), key, now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    let size = s.len();
    let mut rng = rand::thread_rng();
    let picks: Vec<usize> = match count {
        None => vec![rng.gen_range(0..size)],
        Some(c) if c < 0 => {
            // Picks with repetition: produced one by one, never reserved.
            let n = c.unsigned_abs();
            let reply = super::Generated::start(ctx.server, ctx.out, n, 1)?;
            ctx.out.array(n as usize);
            let mut buf = itoa::Buffer::new();
            for _ in 0..n {
                reply.check(ctx.out)?;
                let m = s.nth(rng.gen_range(0..size)).unwrap_or(Member::Bytes(b""));
                ctx.out.bulk(m.bytes(&mut buf));
            }
            return Ok(());
        }
        Some(c) if c as usize >= size => (0..size).collect(),
        Some(c) => rand::seq::index::sample(&mut rng, size, c as usize).into_vec(),
    };
    if count.is_some() {
        ctx.out.array(picks.len());
    }
    for i in picks {
        let m = s.nth(i).unwrap_or(Member::Bytes(b""));
        ctx.out.bulk(m.bytes(&mut itoa::Buffer::new()));
    }
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// An intset is returned whole in one call, as Redis does; a table is
/// walked by position from the top down, as HSCAN.
fn sscan(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let cursor = parse_cursor(args.arg())?;
    let now = ctx.now;
    let s = set_at(ctx.keys.table(ctx.db, key), key, now)?;
    let opts = match s {
        Some(_) => Some(ScanOpts::parse(args, false)?),
        None => None,
    };
    let mut found: Vec<Member> = Vec::new();
    let mut next = 0;
    if let (Some(s), Some(opts)) = (s, &opts) {
        if s.is_ints() {
            found.extend(s.iter());
        } else {
            let (positions, after) = scan_window(s.len(), cursor, opts.count);
            found.extend(positions.filter_map(|i| s.nth(i)));
            next = after;
        }
    }
    let mut buf = itoa::Buffer::new();
    let kept: Vec<Vec<u8>> = found
        .into_iter()
        .map(|m| m.bytes(&mut buf).to_vec())
        .filter(|m| opts.as_ref().is_none_or(|o| o.matches(m)))
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(kept.len());
    for m in &kept {
        ctx.out.bulk(m);
    }
    Ok(())
}
