//! Ranges of a sorted set: by rank, by score, by member (lex), read
//! (ZRANGE and the older forms), counted, stored (ZRANGESTORE) and
//! removed (ZREMRANGEBY*). Every range becomes a span of ranks first, so
//! both forms of a sorted set answer through the same two calls
//! (`count_while` and `walk`).

use super::super::flags::*;
use super::super::{acl, is, parse_int, row, Args, Command, Ctx, KeySpec};
use super::{remove_with, reply_pairs, store, zset_at};
use crate::db::zset::ZsetRef;
use crate::errors::{self, CmdResult, Error};

const RO: &[KeySpec] = &[KeySpec::at(1, &["RO", "access"])];
const RW_DELETE: &[KeySpec] = &[KeySpec::at(1, &["RW", "delete"])];

pub static COMMANDS: &[Command] = &[
    row("zrange", -4, READONLY, zrange)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zrangestore", -5, WRITE | DENYOOM, zrangestore)
        .acl(acl::SORTEDSET)
        .keys(&[
            KeySpec::at(1, &["OW", "update"]),
            KeySpec::at(2, &["RO", "access"]),
        ]),
    row("zrevrange", -4, READONLY, zrevrange)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zrangebyscore", -4, READONLY, zrangebyscore)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zrevrangebyscore", -4, READONLY, zrevrangebyscore)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zrangebylex", -4, READONLY, zrangebylex)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zrevrangebylex", -4, READONLY, zrevrangebylex)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zcount", 4, READONLY | FAST, zcount)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zlexcount", 4, READONLY | FAST, zlexcount)
        .acl(acl::SORTEDSET)
        .keys(RO),
    row("zremrangebyrank", 4, WRITE, zremrangebyrank)
        .acl(acl::SORTEDSET)
        .keys(RW_DELETE),
    row("zremrangebyscore", 4, WRITE, zremrangebyscore)
        .acl(acl::SORTEDSET)
        .keys(RW_DELETE),
    row("zremrangebylex", 4, WRITE, zremrangebylex)
        .acl(acl::SORTEDSET)
        .keys(RW_DELETE),
];

/// A score interval (Redis's `zrangespec`).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

fn score_bound(a: &[u8]) -> Option<(f64, bool)> {
    match a.first() {
        Some(b'(') => Some((crate::double::parse_bound(&a[1..])?, true)),
        _ => Some((crate::double::parse_bound(a)?, false)),
    }
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
        let bad = || Error::Static(errors::MIN_MAX_NOT_FLOAT);
        let (min, minex) = score_bound(min).ok_or_else(bad)?;
        let (max, maxex) = score_bound(max).ok_or_else(bad)?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }

    fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lex interval (`-`, `+`, `[member`, `(member`).
#[derive(Clone, Debug, PartialEq)]
enum Lex {
    Least,
    Most,
    Member(Vec<u8>, bool),
}

impl Lex {
    fn parse(a: &[u8]) -> Option<Lex> {
        match a.first()? {
            b'+' if crate::double::c_str(a).len() == 1 => Some(Lex::Most),
            b'-' if crate::double::c_str(a).len() == 1 => Some(Lex::Least),
            b'(' => Some(Lex::Member(a[1..].to_vec(), true)),
            b'[' => Some(Lex::Member(a[1..].to_vec(), false)),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, Lex::Member(_, false))
    }

    /// Redis's `sdscmplex` of a member against this bound.
    fn cmp_member(&self, m: &[u8]) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match self {
            Lex::Least => Greater,
            Lex::Most => Less,
            Lex::Member(b, _) => m.cmp(b),
        }
    }
}

/// A member interval (Redis's `zlexrangespec`).
#[derive(Clone, Debug)]
pub struct LexRange {
    min: Lex,
    max: Lex,
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, Error> {
        let bad = || Error::Static(errors::MIN_MAX_NOT_STRING);
        Ok(LexRange {
            min: Lex::parse(min).ok_or_else(bad)?,
            max: Lex::parse(max).ok_or_else(bad)?,
        })
    }

    fn is_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        let cmp = match (&self.min, &self.max) {
            (Lex::Least, Lex::Least) | (Lex::Most, Lex::Most) => Equal,
            (Lex::Least, _) | (_, Lex::Most) => Less,
            (Lex::Most, _) | (_, Lex::Least) => Greater,
            (Lex::Member(a, _), Lex::Member(b, _)) => a.cmp(b),
        };
        cmp == Greater || (cmp == Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    fn below_min(&self, m: &[u8]) -> bool {
        let c = self.min.cmp_member(m);
        if self.min.exclusive() {
            c != std::cmp::Ordering::Greater
        } else {
            c == std::cmp::Ordering::Less
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        let c = self.max.cmp_member(m);
        if self.max.exclusive() {
            c == std::cmp::Ordering::Less
        } else {
            c != std::cmp::Ordering::Greater
        }
    }
}

/// What a range selects.
#[derive(Clone, Debug)]
pub enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A lex range over a compact set, as Redis walks its listpack: the
/// members need not be in member order (scores differ), so it finds the
/// first member past the bound nearest the walk's start and goes on
/// while the other bound holds, after checking the set's two ends.
fn lex_walk(z: ZsetRef, r: &LexRange, rev: bool) -> (usize, usize) {
    let items = z.to_vec();
    let gte_min = |m: &[u8]| !r.below_min(m);
    let (first, last) = (items[0].0, items[items.len() - 1].0);
    if !gte_min(last) || !r.within_max(first) {
        return (0, 0);
    }
    if rev {
        let Some(j) = items.iter().rposition(|(m, _)| r.within_max(m)) else {
            return (0, 0);
        };
        if !gte_min(items[j].0) {
            return (0, 0);
        }
        let run = items[..=j]
            .iter()
            .rev()
            .take_while(|(m, _)| gte_min(m))
            .count();
        (j + 1 - run, j + 1)
    } else {
        let Some(i) = items.iter().position(|(m, _)| gte_min(m)) else {
            return (0, 0);
        };
        if !r.within_max(items[i].0) {
            return (0, 0);
        }
        let run = items[i..]
            .iter()
            .take_while(|(m, _)| r.within_max(m))
            .count();
        (i, i + run)
    }
}

/// The ranks `start..end` of the members `spec` selects (before any
/// LIMIT), for a walk upwards or (`rev`) downwards.
fn span(z: ZsetRef, spec: &Spec, rev: bool) -> (usize, usize) {
    let len = z.len() as i64;
    match spec {
        Spec::Rank(start, end) => {
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            start = start.max(0);
            if start > end || start >= len {
                return (0, 0);
            }
            end = end.min(len - 1);
            (start as usize, end as usize + 1)
        }
        Spec::Score(r) if r.is_empty() => (0, 0),
        Spec::Score(r) => {
            let first = z.count_while(|s, _| r.below_min(s));
            let end = z.count_while(|s, _| r.within_max(s));
            (first, end.max(first))
        }
        Spec::Lex(r) if r.is_empty() || z.is_empty() => (0, 0),
        Spec::Lex(r) if z.is_pack() => lex_walk(z, r, rev),
        Spec::Lex(r) => {
            let first = z.count_while(|_, m| r.below_min(m));
            let end = z.count_while(|_, m| r.within_max(m));
            (first, end.max(first))
        }
    }
}

/// The members of `z` that `spec` selects, in order (reversed with
/// `rev`), after skipping `offset` and taking at most `limit` (negative:
/// all). A negative offset selects nothing, as Redis's loop over it
/// runs off the end.
fn select<'a>(
    z: ZsetRef<'a>,
    spec: &Spec,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'a [u8], f64)> {
    let (mut start, mut end) = span(z, spec, rev);
    if rev {
        if let Spec::Rank(..) = spec {
            // Ranks count from the top.
            (start, end) = (z.len() - end, z.len() - start);
        }
    }
    if start >= end || offset < 0 {
        return Vec::new();
    }
    let n = end - start;
    let offset = offset as usize;
    if offset >= n {
        return Vec::new();
    }
    let take = if limit < 0 {
        n - offset
    } else {
        (limit as usize).min(n - offset)
    };
    let mut out = Vec::with_capacity(take);
    if take == 0 {
        return out;
    }
    let from = if rev {
        end - 1 - offset
    } else {
        start + offset
    };
    z.walk(from, rev, |m, s| {
        out.push((m, s));
        out.len() < take
    });
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: `args` stands at the source key;
/// `kind` and `rev` are fixed by the older commands, found in the
/// options by ZRANGE and ZRANGESTORE.
fn range_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    dest: Option<&[u8]>,
    kind: Option<Kind>,
    rev: Option<bool>,
) -> CmdResult {
    let key = args.arg();
    let (mut min, mut max) = (args.arg(), args.arg());
    let (mut kind_opt, mut rev_opt) = (kind, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    while let Some(opt) = args.next_arg() {
        if dest.is_none() && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && args.remaining() >= 2 {
            offset = parse_int(args.arg())?;
            limit = parse_int(args.arg())?;
        } else if rev_opt.is_none() && is(opt, "rev") {
            rev_opt = Some(true);
        } else if kind_opt.is_none() && is(opt, "bylex") {
            kind_opt = Some(Kind::Lex);
        } else if kind_opt.is_none() && is(opt, "byscore") {
            kind_opt = Some(Kind::Score);
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let rev = rev_opt.unwrap_or(false);
    let kind = kind_opt.unwrap_or(Kind::Rank);
    // LIMIT with a rank range is refused even as `LIMIT 0 -1`: Redis
    // checks the parsed count, and -1 is its "no limit".
    if limit != -1 && kind == Kind::Rank {
        return Err(errors::ZRANGE_LIMIT_RANK.into());
    }
    if kind == Kind::Rank {
        // A rank range has no offset (`LIMIT n -1` is accepted and
        // ignored).
        offset = 0;
    }
    if withscores && kind == Kind::Lex {
        return Err(errors::ZRANGE_WITHSCORES_LEX.into());
    }
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let spec = match kind {
        Kind::Rank => Spec::Rank(parse_int(min)?, parse_int(max)?),
        Kind::Score => Spec::Score(ScoreRange::parse(min, max)?),
        Kind::Lex => Spec::Lex(LexRange::parse(min, max)?),
    };
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    let items = z.map_or_else(Vec::new, |z| select(z, &spec, rev, offset, limit));
    match dest {
        Some(dest) => {
            let owned: Vec<(Vec<u8>, f64)> = items.iter().map(|(m, s)| (m.to_vec(), *s)).collect();
            store(ctx, dest, &owned, "zrangestore");
        }
        None => reply_pairs(ctx.out, items.into_iter(), withscores),
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]
fn zrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, None, None)
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset
/// count]
fn zrangestore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let dest = args.arg();
    range_generic(ctx, args, Some(dest), None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, Some(Kind::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, Some(Kind::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, Some(Kind::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, Some(Kind::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range_generic(ctx, args, None, Some(Kind::Lex), Some(true))
}

fn count_generic(ctx: &mut Ctx, key: &[u8], spec: Spec) -> CmdResult {
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    let n = z.map_or(0, |z| {
        let (start, end) = span(z, &spec, false);
        end - start
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let spec = Spec::Score(ScoreRange::parse(args.arg(), args.arg())?);
    count_generic(ctx, key, spec)
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let spec = Spec::Lex(LexRange::parse(args.arg(), args.arg())?);
    count_generic(ctx, key, spec)
}

fn remrange(ctx: &mut Ctx, key: &[u8], spec: Spec, event: &'static str) -> CmdResult {
    remove_with(ctx, key, event, |v| {
        let (start, end) = v.as_zset().map_or((0, 0), |z| span(z, &spec, false));
        v.zset_remove_ranks(start, end).len()
    })
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let spec = Spec::Rank(parse_int(args.arg())?, parse_int(args.arg())?);
    remrange(ctx, key, spec, "zremrangebyrank")
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let spec = Spec::Score(ScoreRange::parse(args.arg(), args.arg())?);
    remrange(ctx, key, spec, "zremrangebyscore")
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let spec = Spec::Lex(LexRange::parse(args.arg(), args.arg())?);
    remrange(ctx, key, spec, "zremrangebylex")
}
