//! List commands; the blocking ones are in `blocking`.

pub mod blocking;

use super::flags::*;
use super::{acl, is, parse_int_in, row, Args, Begin, Command, Ctx, Find, KeySpec};
use crate::db::list::{Elem, End, List};
use crate::db::{Blob, Clock, Table, Value};
use crate::effects::class::{GENERIC, LIST};
use crate::errors::{self, CmdResult, Error};

pub static COMMANDS: &[Command] = &[
    row("lpush", -3, WRITE | DENYOOM | FAST, lpush)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("rpush", -3, WRITE | DENYOOM | FAST, rpush)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("lpushx", -3, WRITE | DENYOOM | FAST, lpushx)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("rpushx", -3, WRITE | DENYOOM | FAST, rpushx)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("lpop", -2, WRITE | FAST, lpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "access", "delete"])]),
    row("rpop", -2, WRITE | FAST, rpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "access", "delete"])]),
    row("llen", 2, READONLY | FAST, llen)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("lrange", 4, READONLY, lrange)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("lindex", 3, READONLY, lindex)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("lset", 4, WRITE | DENYOOM, lset)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("linsert", 5, WRITE | DENYOOM, linsert)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("lrem", 4, WRITE, lrem)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("ltrim", 4, WRITE, ltrim)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("lpos", -3, READONLY, lpos)
        .acl(acl::LIST)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("lmove", 5, WRITE | DENYOOM, lmove)
        .acl(acl::LIST)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "delete"]),
            KeySpec::at(2, &["RW", "insert"]),
        ]),
    row("rpoplpush", 3, WRITE | DENYOOM, rpoplpush)
        .acl(acl::LIST)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "delete"]),
            KeySpec::at(2, &["RW", "insert"]),
        ]),
    row("lmpop", -4, WRITE, lmpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::new(
            &["RW", "access", "delete"],
            Begin::Index(1),
            Find::Keynum(0, 1, 1),
        )]),
];

/// The list at `key` for reading (a counted lookup).
pub fn list_at<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<Option<&'t List>, Error> {
    match t.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE.into()),
    }
}

/// The position of the list at `key` for a writer.
pub fn find_list(t: &mut Table, key: &[u8], now: Clock) -> Result<Option<usize>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    match &t.at(i).1.value {
        Value::List(_) => Ok(Some(i)),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

pub fn list_mut(t: &mut Table, i: usize) -> &mut List {
    match &mut t.at_mut(i).value {
        Value::List(l) => l,
        _ => unreachable!("find_list checked the type"),
    }
}

/// Reads `LEFT | RIGHT`.
pub fn parse_end(a: &[u8]) -> Result<End, Error> {
    if is(a, "left") {
        Ok(End::Left)
    } else if is(a, "right") {
        Ok(End::Right)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Pushes `elements` at `end` of the list at `key`, creating it unless
/// `only_existing`; replies with the new length (0: no list).
fn push(ctx: &mut Ctx, args: &mut Args, end: End, only_existing: bool) -> CmdResult {
    let key = args.arg();
    let elements = args.rest();
    let now = ctx.now;
    let t = ctx.table(key);
    let i = match find_list(t, key, now)? {
        Some(i) => i,
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => t.add(key, Value::List(Box::default()), now),
    };
    let l = list_mut(t, i);
    for e in elements.iter() {
        l.push(end, Blob::new(e));
    }
    let len = l.len();
    ctx.modified(key, LIST, push_event(end));
    ctx.key_ready(key);
    ctx.out.int(len as i64);
    Ok(())
}

/// The event of a push at `end`.
pub fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event of a pop at `end`.
pub fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Reports a pop from `key` (and its deletion, if it emptied).
pub fn popped(ctx: &mut Ctx, key: &[u8], end: End, emptied: bool) {
    ctx.modified(key, LIST, pop_event(end));
    if emptied {
        ctx.notify(key, GENERIC, "del");
    }
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    push(ctx, args, End::Left, false)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    push(ctx, args, End::Right, false)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    push(ctx, args, End::Left, true)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    push(ctx, args, End::Right, true)
}

/// Pops up to `n` elements from `end` of the list at `key` (position
/// `i`), deleting the key if it empties, and reports the pop.
pub fn pop_n(ctx: &mut Ctx, key: &[u8], i: usize, end: End, n: usize) -> Vec<Blob> {
    let t = ctx.table(key);
    let l = list_mut(t, i);
    let taken: Vec<Blob> = (0..n.min(l.len())).filter_map(|_| l.pop(end)).collect();
    let emptied = l.is_empty();
    if emptied {
        t.remove_at(i);
    }
    if !taken.is_empty() {
        popped(ctx, key, end, emptied);
    }
    taken
}

fn pop(ctx: &mut Ctx, args: &mut Args, end: End) -> CmdResult {
    let key = args.arg();
    let count = match args.remaining() {
        0 => None,
        1 => Some(parse_int_in(
            args.arg(),
            0,
            i64::MAX,
            Some(errors::MUST_BE_POSITIVE),
        )?),
        _ => return Err(errors::wrong_arity(ctx.cmd.name)),
    };
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(i) = find_list(t, key, now)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    match count {
        None => {
            let v = pop_n(ctx, key, i, end, 1);
            ctx.out.bulk(v.first().map_or(&[][..], Blob::as_slice));
        }
        Some(n) => {
            let v = pop_n(ctx, key, i, end, n as usize);
            ctx.out.array(v.len());
            for e in &v {
                ctx.out.bulk(e.as_slice());
            }
        }
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    pop(ctx, args, End::Left)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    pop(ctx, args, End::Right)
}

/// LLEN key
fn llen(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let n = list_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(0, List::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's list range rules (LRANGE, LTRIM): negative indexes from the
/// end; `None` for an empty range.
fn list_range(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    let start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let (start, end) = (args.int()?, args.int()?);
    let now = ctx.now;
    let Some(l) = list_at(ctx.keys.table(ctx.db, key), key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let Some((from, to)) = list_range(l.len(), start, end) else {
        ctx.out.array(0);
        return Ok(());
    };
    ctx.out.array(to - from + 1);
    for e in l.iter_from(from).take(to - from + 1) {
        ctx.out.bulk(e.as_slice());
    }
    Ok(())
}

/// An index into a list of `len`: negative from the end.
fn index_of(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    // Redis looks the key up before it reads the index.
    let Some(l) = list_at(ctx.keys.table(ctx.db, key), key, now)? else {
        ctx.out.null();
        return Ok(());
    };
    let i = args.int()?;
    match index_of(l.len(), i).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v.as_slice()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(pos) = find_list(t, key, now)? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    let i = args.int()?;
    let value = args.arg();
    let l = list_mut(t, pos);
    match index_of(l.len(), i) {
        Some(i) => {
            l.set(i, Blob::new(value));
            ctx.modified(key, LIST, "lset");
            ctx.out.ok();
            Ok(())
        }
        None => Err(errors::INDEX_OUT_OF_RANGE.into()),
    }
}

/// LINSERT key <BEFORE | AFTER> pivot element
fn linsert(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let place = args.arg();
    let after = if is(place, "after") {
        true
    } else if is(place, "before") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let (pivot, value) = (args.arg(), args.arg());
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(pos) = find_list(t, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let l = list_mut(t, pos);
    let Some(at) = l.iter().position(|e| e.as_slice() == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(at + after as usize, Blob::new(value));
    let len = l.len();
    ctx.modified(key, LIST, "linsert");
    ctx.key_ready(key);
    ctx.out.int(len as i64);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let count = args.int()?;
    let value = args.arg();
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(pos) = find_list(t, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let l = list_mut(t, pos);
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut hits: Vec<usize> = if count >= 0 {
        l.iter()
            .enumerate()
            .filter(|(_, e)| e.as_slice() == value)
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    } else {
        let last = l.len().saturating_sub(1);
        l.iter()
            .rev()
            .enumerate()
            .map(|(k, e)| (last - k, e))
            .filter(|(_, e)| e.as_slice() == value)
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    };
    // Remove from the back so earlier positions stay valid.
    hits.sort_unstable_by(|a, b| b.cmp(a));
    for &i in &hits {
        l.remove(i);
    }
    let emptied = l.is_empty();
    if emptied {
        t.remove_at(pos);
    }
    if !hits.is_empty() {
        ctx.modified(key, LIST, "lrem");
        if emptied {
            ctx.notify(key, GENERIC, "del");
        }
    }
    ctx.out.int(hits.len() as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let (start, end) = (args.int()?, args.int()?);
    let now = ctx.now;
    let t = ctx.table(key);
    if let Some(pos) = find_list(t, key, now)? {
        let l = list_mut(t, pos);
        match list_range(l.len(), start, end) {
            Some((from, to)) => l.trim(from, to),
            None => l.clear(),
        }
        let emptied = l.is_empty();
        if emptied {
            t.remove_at(pos);
        }
        ctx.modified(key, LIST, "ltrim");
        if emptied {
            ctx.notify(key, GENERIC, "del");
        }
    }
    ctx.out.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, value) = (args.arg(), args.arg());
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    while let Some(opt) = args.next_arg() {
        let more = args.remaining() > 0;
        if is(opt, "rank") && more {
            rank = args.int()?;
            if rank == 0 {
                return Err(errors::RANK_ZERO.into());
            }
        } else if is(opt, "count") && more {
            count = Some(parse_int_in(
                args.arg(),
                0,
                i64::MAX,
                Some(errors::COUNT_NEGATIVE),
            )?);
        } else if is(opt, "maxlen") && more {
            maxlen = parse_int_in(args.arg(), 0, i64::MAX, Some(errors::MAXLEN_NEGATIVE))? as usize;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = ctx.now;
    let Some(l) = list_at(ctx.keys.table(ctx.db, key), key, now)? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = l.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let forward = rank > 0;
    // Redis negates a negative rank in C: i64::MIN stays negative and then
    // matches from the first hit.
    let rank = if rank < 0 { rank.wrapping_neg() } else { rank };
    let skip = if rank < 0 { 0 } else { rank as usize - 1 };
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => c as usize,
    };
    let matches = |iter: &mut dyn Iterator<Item = (usize, Elem)>| -> Vec<usize> {
        iter.take(scan)
            .filter(|(_, e)| e.as_slice() == value)
            .map(|(i, _)| i)
            .skip(skip)
            .take(wanted)
            .collect()
    };
    let found = if forward {
        matches(&mut l.iter().enumerate())
    } else {
        matches(&mut l.iter().rev().enumerate().map(|(k, e)| (len - 1 - k, e)))
    };
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// Moves one element from `src`'s `from` end to `dst`'s `to` end (Redis's
/// `lmoveGenericCommand`); replies with it, or null if `src` is missing.
pub fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<bool, Error> {
    let now = ctx.now;
    let Some(si) = find_list(ctx.table(src), src, now)? else {
        return Ok(false);
    };
    find_list(ctx.table(dst), dst, now)?;
    // Looked up again: reclaiming an expired destination may have moved
    // the source within the table.
    let t = ctx.table(src);
    let si = t.find(src, now).unwrap_or(si);
    let l = list_mut(t, si);
    let v = l.pop(from).unwrap_or_else(|| Blob::new(b""));
    // A move within one list never empties it (Redis pushes into the
    // object it popped from before looking at its length).
    let emptied = l.is_empty() && src != dst;
    if emptied {
        t.remove_at(si);
    }
    ctx.out.bulk(v.as_slice());
    let t = ctx.keys.table(ctx.db, dst);
    let di = match find_list(t, dst, now)? {
        Some(i) => i,
        None => t.add(dst, Value::List(Box::default()), now),
    };
    list_mut(t, di).push(to, v);
    // Redis reports the push before the pop.
    ctx.modified(dst, LIST, push_event(to));
    popped(ctx, src, from, emptied);
    ctx.key_ready(dst);
    Ok(true)
}

/// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
fn lmove(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    let (from, to) = (parse_end(args.arg())?, parse_end(args.arg())?);
    if !move_one(ctx, src, dst, from, to)? {
        ctx.out.null();
    }
    Ok(())
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    if !move_one(ctx, src, dst, End::Right, End::Left)? {
        ctx.out.null();
    }
    Ok(())
}

/// The arguments of LMPOP and BLMPOP after the timeout: the keys, the end
/// and the count (Redis's `lmpopGenericCommand`).
/// The arguments of LMPOP and ZMPOP (and their blocking forms), `E`
/// saying which end.
pub struct MpopArgs<'a, E> {
    pub keys: super::Argv<'a>,
    pub end: E,
    pub count: usize,
}

pub fn parse_mpop<'a, E>(
    args: &mut Args<'a>,
    parse_end: fn(&[u8]) -> Result<E, Error>,
) -> Result<MpopArgs<'a, E>, Error> {
    let numkeys = parse_int_in(args.arg(), 1, i64::MAX, Some(errors::NUMKEYS_POSITIVE))? as usize;
    let rest = args.rest();
    if numkeys >= rest.len() {
        return Err(errors::SYNTAX.into());
    }
    let keys = rest.first(numkeys);
    let mut opts = Args::new(rest, numkeys);
    let end = parse_end(opts.arg())?;
    let mut count = None;
    while let Some(opt) = opts.next_arg() {
        if count.is_none() && is(opt, "count") && opts.remaining() > 0 {
            count = Some(parse_int_in(
                opts.arg(),
                1,
                i64::MAX,
                Some(errors::COUNT_POSITIVE),
            )?);
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(MpopArgs {
        keys,
        end,
        count: count.unwrap_or(1) as usize,
    })
}

/// Pops from the first non-empty list of `keys`, replying `[key,
/// [elements]]`; false (nothing written) if every list is missing.
pub fn mpop(ctx: &mut Ctx, a: &MpopArgs<End>) -> Result<bool, Error> {
    let now = ctx.now;
    for key in a.keys.iter() {
        let t = ctx.table(key);
        let Some(i) = find_list(t, key, now)? else {
            continue;
        };
        let v = pop_n(ctx, key, i, a.end, a.count);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(v.len());
        for e in &v {
            ctx.out.bulk(e.as_slice());
        }
        return Ok(true);
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
fn lmpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let a = parse_mpop(args, parse_end)?;
    if !mpop(ctx, &a)? {
        ctx.out.null_array();
    }
    Ok(())
}
