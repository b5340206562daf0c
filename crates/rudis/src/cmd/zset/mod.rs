//! Sorted set commands. The data structure is `crate::db::zset`; ranges
//! (ZRANGE and its relatives) are in `range.rs`, the set operations
//! (ZUNION, ZINTER, ZDIFF and their STORE forms) in `ops.rs`.

pub mod blocking;
pub(super) mod ops;
pub(super) mod range;

use rand::Rng;

use super::flags::*;
use super::keys::{parse_cursor, scan_window, ScanOpts};
use super::{acl, is, parse_int_in, row, Args, Begin, Command, Ctx, Find, KeySpec};
use crate::db::value::Clock;
use crate::db::zset::{new_zset, ZsetRef};
use crate::db::{Table, Value};
use crate::effects::class::{GENERIC, ZSET};
use crate::errors::{self, CmdResult, Error};

const RANDOM: &[&str] = &["nondeterministic_output"];
const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];

pub static COMMANDS: &[Command] = &[
    row("zadd", -4, WRITE | DENYOOM | FAST, zadd)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("zincrby", 4, WRITE | DENYOOM | FAST, zincrby)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("zrem", -3, WRITE | FAST, zrem)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("zcard", 2, READONLY | FAST, zcard)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("zscore", 3, READONLY | FAST, zscore)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("zmscore", -3, READONLY | FAST, zmscore)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("zrank", 3, READONLY | FAST, zrank)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("zrevrank", 3, READONLY | FAST, zrevrank)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("zpopmin", -2, WRITE | FAST, zpopmin)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, RW_ACCESS_DELETE)]),
    row("zpopmax", -2, WRITE | FAST, zpopmax)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::at(1, RW_ACCESS_DELETE)]),
    row("zmpop", -4, WRITE, zmpop)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::new(
            RW_ACCESS_DELETE,
            Begin::Index(1),
            Find::Keynum(0, 1, 1),
        )]),
    row("zrandmember", -2, READONLY, zrandmember)
        .acl(acl::SORTEDSET)
        .tips(RANDOM)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("zscan", -3, READONLY, zscan)
        .acl(acl::SORTEDSET)
        .tips(RANDOM)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
];

/// The sorted set at `key` for reading (a counted lookup).
pub(crate) fn zset_at<'t>(
    t: &'t mut Table,
    key: &[u8],
    now: Clock,
) -> Result<Option<ZsetRef<'t>>, Error> {
    match t.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(v) => v
            .as_zset()
            .map(Some)
            .ok_or(Error::Static(errors::WRONGTYPE)),
    }
}

/// The position of the sorted set at `key` for a writer.
fn find_zset(t: &mut Table, key: &[u8], now: Clock) -> Result<Option<usize>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    match t.at(i).1.value.as_zset() {
        Some(_) => Ok(Some(i)),
        None => Err(errors::WRONGTYPE.into()),
    }
}

/// Writes (member, score) pairs as Redis does: WITHSCORES is one flat
/// array in RESP2 and an array of pairs in RESP3.
fn reply_pairs<'m>(
    out: &mut resp::Reply,
    items: impl ExactSizeIterator<Item = (&'m [u8], f64)>,
    withscores: bool,
) {
    let n = items.len();
    let resp3 = out.resp3();
    out.array(if withscores && !resp3 { n * 2 } else { n });
    for (m, s) in items {
        if withscores && resp3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

/// Redis's `d2string`: how a compact sorted set holds a score as text
/// (integers without an exponent, `-0`, else `%.17g`), which ZSCAN shows.
fn d2string(v: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
    } else if v.is_finite() && v.abs() <= (i64::MAX / 2) as f64 && v.fract() == 0.0 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        resp::num::write_double(&mut out, v);
    }
    out
}

/// What ZADD's options ask.
#[derive(Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

fn zadd_generic(ctx: &mut Ctx, args: &mut Args, incr: bool) -> CmdResult {
    let key = args.arg();
    let mut f = AddFlags {
        incr,
        ..Default::default()
    };
    while let Some(opt) = args.peek() {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "ch") {
            f.ch = true;
        } else if is(opt, "incr") {
            f.incr = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            break;
        }
        args.arg();
    }
    let pairs = args.rest();
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Err(errors::SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err(errors::ZADD_NX_XX.into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(errors::ZADD_GT_LT_NX.into());
    }
    if f.incr && pairs.len() > 2 {
        return Err(errors::ZADD_INCR_PAIR.into());
    }
    let scored = (0..pairs.len() / 2)
        .map(|j| {
            let score = crate::double::parse(pairs.get(j * 2).unwrap_or_default())?;
            Some((score, pairs.get(j * 2 + 1).unwrap_or_default()))
        })
        .collect::<Option<Vec<(f64, &[u8])>>>()
        .ok_or(Error::Static(errors::NOT_FLOAT))?;
    add_scored(ctx, key, &f, &scored)
}

/// Adds or updates (score, member) pairs as ZADD does with the options
/// `f` (checked already), and replies as ZADD (GEOADD too).
pub fn add_scored(ctx: &mut Ctx, key: &[u8], f: &AddFlags, scored: &[(f64, &[u8])]) -> CmdResult {
    let (now, limits) = (ctx.now, ctx.server.hot.zset_limits());
    let t = ctx.table(key);
    let mut created = false;
    let i = match find_zset(t, key, now)? {
        Some(i) => Some(i),
        None if f.xx => None,
        None => {
            created = true;
            Some(t.add(key, new_zset(), now))
        }
    };
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    if let Some(i) = i {
        let v = &mut t.at_mut(i).value;
        for &(score, member) in scored {
            let current = v.as_zset().and_then(|z| z.score(member));
            match current {
                Some(_) if f.nx => {}
                Some(cur) => {
                    let new = if f.incr { score + cur } else { score };
                    if new.is_nan() {
                        return Err(errors::ZADD_NAN.into());
                    }
                    if (f.lt && new >= cur) || (f.gt && new <= cur) {
                        continue;
                    }
                    last = new;
                    processed += 1;
                    if new != cur {
                        v.zset_set(member, new, limits);
                        updated += 1;
                    }
                }
                None if f.xx => {}
                None => {
                    v.zset_set(member, score, limits);
                    last = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
    }
    if created {
        ctx.key_ready(key);
    }
    if added + updated > 0 {
        ctx.modified(key, ZSET, if f.incr { "zincr" } else { "zadd" });
        ctx.fx.dirty += added + updated - 1;
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int(if f.ch { added + updated } else { added } as i64);
    }
    Ok(())
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member
/// ...]
fn zadd(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    zadd_generic(ctx, args, false)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    zadd_generic(ctx, args, true)
}

/// Deletes the sorted set at position `i` if it has become empty; true
/// if it did.
fn drop_if_empty(t: &mut Table, i: usize) -> bool {
    let empty = t.at(i).1.value.as_zset().is_none_or(ZsetRef::is_empty);
    if empty {
        t.remove_at(i);
    }
    empty
}

/// Reports a removal from the sorted set at `key`, and its deletion.
fn removed(ctx: &mut Ctx, key: &[u8], event: &'static str, n: usize, gone: bool) {
    if n == 0 {
        return;
    }
    ctx.modified(key, ZSET, event);
    ctx.fx.dirty += n as u64 - 1;
    if gone {
        ctx.notify(key, GENERIC, "del");
    }
}

/// Removes from the sorted set at `key` what `pick` removes (returning
/// how many), deletes the key once empty, reports the write and replies
/// with the count.
fn remove_with(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    pick: impl FnOnce(&mut Value) -> usize,
) -> CmdResult {
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(i) = find_zset(t, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = pick(&mut t.at_mut(i).value);
    let gone = drop_if_empty(t, i);
    removed(ctx, key, event, n, gone);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let members = args.rest();
    remove_with(ctx, key, "zrem", |v| {
        let mut n = 0;
        for m in members.iter() {
            if v.zset_remove(m).is_some() {
                n += 1;
            }
            if v.as_zset().is_none_or(ZsetRef::is_empty) {
                break;
            }
        }
        n
    })
}

/// ZCARD key
fn zcard(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let n = zset_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(0, ZsetRef::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, member) = (args.arg(), args.arg());
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    match z.and_then(|z| z.score(member)) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    each_score(ctx, args, |out, score| match score {
        Some(s) => out.double(s),
        None => out.null(),
    })
}

/// The shape of ZMSCORE, GEOPOS and GEOHASH: `key member...`, replied as
/// one array with `reply` writing each member's element from its score
/// (`None`: no such member, or no such key).
pub(crate) fn each_score(
    ctx: &mut Ctx,
    args: &mut Args,
    mut reply: impl FnMut(&mut resp::Reply, Option<f64>),
) -> CmdResult {
    let key = args.arg();
    let members = args.rest();
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    ctx.out.array(members.len());
    for m in members.iter() {
        reply(ctx.out, z.and_then(|z| z.score(m)));
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &mut Args, rev: bool) -> CmdResult {
    let (key, member) = (args.arg(), args.arg());
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    match z.and_then(|z| Some((z.len(), z.rank(member)?))) {
        Some((n, r)) => ctx.out.int(if rev { n - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// Which end a pop takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Min,
    Max,
}

impl Where {
    pub fn parse(a: &[u8]) -> Result<Where, Error> {
        if is(a, "min") {
            Ok(Where::Min)
        } else if is(a, "max") {
            Ok(Where::Max)
        } else {
            Err(errors::SYNTAX.into())
        }
    }

    pub fn event(self) -> &'static str {
        match self {
            Where::Min => "zpopmin",
            Where::Max => "zpopmax",
        }
    }
}

/// Pops up to `count` members from `end` of the sorted set at position
/// `i` of `t` (deleting the key once empty); returns them and whether
/// the key went.
pub fn pop_from(t: &mut Table, i: usize, end: Where, count: usize) -> (Vec<(Vec<u8>, f64)>, bool) {
    let v = &mut t.at_mut(i).value;
    let len = v.as_zset().map_or(0, ZsetRef::len);
    let n = count.min(len);
    let mut popped = match end {
        Where::Min => v.zset_remove_ranks(0, n),
        Where::Max => v.zset_remove_ranks(len - n, len),
    };
    if end == Where::Max {
        popped.reverse();
    }
    let gone = drop_if_empty(t, i);
    (popped, gone)
}

/// Pops from the sorted set at `key` and reports the write, as Redis's
/// `genericZpopCommand`: one event for the pops, one `del` if the key
/// went.
pub fn pop_key(
    ctx: &mut Ctx,
    key: &[u8],
    i: usize,
    end: Where,
    count: usize,
) -> Vec<(Vec<u8>, f64)> {
    let (popped, gone) = pop_from(ctx.table(key), i, end, count);
    removed(ctx, key, end.event(), popped.len(), gone);
    popped
}

fn zpop(ctx: &mut Ctx, args: &mut Args, end: Where) -> CmdResult {
    let key = args.arg();
    if args.remaining() > 1 {
        return Err(errors::SYNTAX.into());
    }
    let count = match args.next_arg() {
        Some(a) => Some(parse_int_in(a, 0, i64::MAX, Some(errors::MUST_BE_POSITIVE))? as usize),
        None => None,
    };
    let now = ctx.now;
    let Some(i) = find_zset(ctx.table(key), key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop_key(ctx, key, i, end, count.unwrap_or(1));
    if count.is_some() {
        reply_pairs(ctx.out, popped.iter().map(|(m, s)| (&m[..], *s)), true);
    } else {
        // Without a count even RESP3 gets the flat pair.
        ctx.out.array(popped.len() * 2);
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    zpop(ctx, args, Where::Min)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    zpop(ctx, args, Where::Max)
}

/// Pops from the first non-empty sorted set of `keys`, replying `[key,
/// [[member, score], ...]]`; false (nothing written) if every key is
/// missing.
pub fn mpop(ctx: &mut Ctx, keys: super::Argv, end: Where, count: usize) -> Result<bool, Error> {
    let now = ctx.now;
    for key in keys.iter() {
        let Some(i) = find_zset(ctx.table(key), key, now)? else {
            continue;
        };
        let popped = pop_key(ctx, key, i, end, count);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for (m, s) in &popped {
            ctx.out.array(2);
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
        return Ok(true);
    }
    Ok(false)
}

/// ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]
fn zmpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let a = super::list::parse_mpop(args, Where::parse)?;
    if !mpop(ctx, a.keys, a.end, a.count)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let Some(count) = args.next_arg() else {
        let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
        match z {
            Some(z) => {
                let pick = rand::thread_rng().gen_range(0..z.len());
                let (m, _) = z.nth_stored(pick).unwrap_or((b"", 0.0));
                ctx.out.bulk(m);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let count = parse_int_in(count, -i64::MAX, i64::MAX, None)?;
    let withscores = match args.next_arg() {
        None => false,
        Some(a) if is(a, "withscores") && args.remaining() == 0 => true,
        Some(_) => return Err(errors::SYNTAX.into()),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(errors::VALUE_OUT_OF_RANGE.into());
    }
    let Some(z) = zset_at(ctx.keys.table(ctx.db, key), key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let size = z.len();
    let mut rng = rand::thread_rng();
    let resp3 = ctx.out.resp3();
    if count < 0 || count == 1 {
        // Picks with repetition: produced one by one, never reserved.
        let n = count.unsigned_abs();
        let per = if withscores { 2 } else { 1 };
        let reply = super::Generated::start(ctx.server, ctx.out, n, per)?;
        ctx.out
            .array(if withscores && !resp3 { n * 2 } else { n } as usize);
        for _ in 0..n {
            reply.check(ctx.out)?;
            let (m, s) = z.nth_stored(rng.gen_range(0..size)).unwrap_or((b"", 0.0));
            if withscores && resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(m);
            if withscores {
                ctx.out.double(s);
            }
        }
        return Ok(());
    }
    let picks: Vec<(&[u8], f64)> = if count as usize >= size {
        // The whole set, from the highest score down, as Redis's
        // iterator over a sorted set goes.
        let mut all = z.to_vec();
        all.reverse();
        all
    } else {
        rand::seq::index::sample(&mut rng, size, count as usize)
            .into_iter()
            .filter_map(|i| z.nth_stored(i))
            .collect()
    };
    reply_pairs(ctx.out, picks.into_iter(), withscores);
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A compact set is returned whole in one call, as Redis does; a large
/// one is walked by position in its map from the top down, as HSCAN.
fn zscan(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let cursor = parse_cursor(args.arg())?;
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    let opts = match z {
        Some(_) => Some(ScanOpts::parse(args, false)?),
        None => None,
    };
    let mut found: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut next = 0;
    if let (Some(z), Some(opts)) = (z, &opts) {
        if z.is_pack() {
            found.extend(z.to_vec().into_iter().map(|(m, s)| (m, d2string(s))));
        } else {
            let (positions, after) = scan_window(z.len(), cursor, opts.count);
            for (m, s) in positions.filter_map(|i| z.nth_stored(i)) {
                let mut text = Vec::with_capacity(24);
                resp::num::write_double(&mut text, s);
                found.push((m, text));
            }
            next = after;
        }
        found.retain(|(m, _)| opts.matches(m));
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in found {
        ctx.out.bulk(m);
        ctx.out.bulk(&s);
    }
    Ok(())
}

/// A new sorted set value holding `items` (in any order), in the form
/// Redis would give a set built from them.
pub fn build(items: &[(Vec<u8>, f64)], limits: crate::db::zset::Limits) -> Value {
    let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut v = crate::db::zset::new_zset_for(items.len(), longest, limits);
    for (m, s) in items {
        v.zset_set(m, *s, limits);
    }
    v
}

/// Stores `items` at `dest` (replacing whatever was there, TTL
/// included), or deletes `dest` if there are none; replies with the
/// count.
pub fn store(ctx: &mut Ctx, dest: &[u8], items: &[(Vec<u8>, f64)], event: &'static str) {
    let now = ctx.now;
    let limits = ctx.server.hot.zset_limits();
    if items.is_empty() {
        if ctx.table(dest).remove(dest, now).is_some() {
            ctx.modified(dest, GENERIC, "del");
        }
        ctx.out.int(0);
        return;
    }
    let v = build(items, limits);
    ctx.table(dest).set(dest, v, 0, now);
    ctx.key_ready(dest);
    ctx.modified(dest, ZSET, event);
    ctx.out.int(items.len() as i64);
}
