//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis's
//! `zunionInterDiffGenericCommand`: inputs may be sorted sets or sets
//! (whose members score 1), a missing key is an empty input, and every
//! key is locked by the row's key specs for the whole command.

use indexmap::IndexMap;

use super::super::flags::*;
use super::super::{acl, is, parse_int, parse_int_in, row, Args, Begin, Command, Ctx, Find};
use super::super::{Argv, KeySpec};
use super::{reply_pairs, store};
use crate::db::set::SetRef;
use crate::db::zset::{tree::cmp, ZsetRef};
use crate::errors::{self, CmdResult, Error};

const INPUTS: KeySpec = KeySpec::new(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1));
const STORE_KEYS: &[KeySpec] = &[
    KeySpec::at(1, &["OW", "update"]),
    KeySpec::new(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1)),
];

pub static COMMANDS: &[Command] = &[
    row("zunion", -3, READONLY, zunion)
        .acl(acl::SORTEDSET)
        .keys(&[INPUTS]),
    row("zinter", -3, READONLY, zinter)
        .acl(acl::SORTEDSET)
        .keys(&[INPUTS]),
    row("zdiff", -3, READONLY, zdiff)
        .acl(acl::SORTEDSET)
        .keys(&[INPUTS]),
    row("zintercard", -3, READONLY, zintercard)
        .acl(acl::SORTEDSET)
        .keys(&[INPUTS]),
    row("zunionstore", -4, WRITE | DENYOOM, zunionstore)
        .acl(acl::SORTEDSET)
        .keys(STORE_KEYS),
    row("zinterstore", -4, WRITE | DENYOOM, zinterstore)
        .acl(acl::SORTEDSET)
        .keys(STORE_KEYS),
    row("zdiffstore", -4, WRITE | DENYOOM, zdiffstore)
        .acl(acl::SORTEDSET)
        .keys(STORE_KEYS),
];

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate` (inf + -inf sums to 0).
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *target {
                    *target = v;
                }
            }
            Aggregate::Max => {
                if v > *target {
                    *target = v;
                }
            }
        }
    }
}

/// One input: a sorted set, a set (members score 1) or nothing.
#[derive(Clone, Copy)]
enum Input<'a> {
    Missing,
    Zset(ZsetRef<'a>),
    Set(SetRef<'a>),
}

impl<'a> Input<'a> {
    fn len(self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Zset(z) => z.len(),
            Input::Set(s) => s.len(),
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Zset(z) => z.score(member),
            Input::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Every (member, score), sorted sets in order.
    fn items(self) -> Vec<(Vec<u8>, f64)> {
        match self {
            Input::Missing => Vec::new(),
            Input::Zset(z) => z
                .to_vec()
                .into_iter()
                .map(|(m, s)| (m.to_vec(), s))
                .collect(),
            Input::Set(s) => s.iter().map(|m| (m.to_vec(), 1.0)).collect(),
        }
    }
}

/// Looks every key up (counted, in order, type-checked as Redis does),
/// then returns the inputs.
fn inputs_of<'c>(ctx: &'c mut Ctx, keys: Argv) -> Result<Vec<Input<'c>>, Error> {
    let now = ctx.now;
    let mut exists = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        let found = match ctx.keys.table(ctx.db, key).get(key, now) {
            None => false,
            Some(e) if e.value.as_zset().is_some() || e.value.as_set().is_some() => true,
            Some(_) => return Err(errors::WRONGTYPE.into()),
        };
        exists.push(found);
    }
    let keys_ref = &*ctx.keys;
    Ok(keys
        .iter()
        .zip(exists)
        .map(|(key, e)| {
            let v = e
                .then(|| keys_ref.table_ref(ctx.db, key).peek(key))
                .flatten()
                .map(|entry| &entry.value);
            match v {
                Some(v) => match (v.as_zset(), v.as_set()) {
                    (Some(z), _) => Input::Zset(z),
                    (_, Some(s)) => Input::Set(s),
                    _ => Input::Missing,
                },
                None => Input::Missing,
            }
        })
        .collect())
}

struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// The shared body: `args` stands at numkeys.
fn generic(ctx: &mut Ctx, args: &mut Args, dest: Option<&[u8]>, op: Op, card: bool) -> CmdResult {
    let numkeys = parse_int(args.arg())?;
    if numkeys < 1 {
        let name = ctx.cmd.name;
        return Err(Error::from(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as usize > args.remaining() {
        return Err(errors::SYNTAX.into());
    }
    let n = numkeys as usize;
    let all = args.rest();
    let keys = all.first(n);
    // Keys are looked up (and type-checked) before the options are read.
    let mut inputs = inputs_of(ctx, keys)?;
    let mut o = Options {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut opts = Args::new(all, n);
    while let Some(opt) = opts.next_arg() {
        let left = opts.remaining();
        if op != Op::Diff && !card && left >= n && is(opt, "weights") {
            for w in o.weights.iter_mut() {
                *w = crate::double::parse(opts.arg())
                    .ok_or(Error::Static(errors::WEIGHT_NOT_FLOAT))?;
            }
        } else if op != Op::Diff && !card && left >= 1 && is(opt, "aggregate") {
            let a = opts.arg();
            o.aggregate = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX.into());
            };
        } else if dest.is_none() && !card && is(opt, "withscores") {
            o.withscores = true;
        } else if card && left >= 1 && is(opt, "limit") {
            o.limit = parse_int_in(opts.arg(), 0, i64::MAX, Some(errors::LIMIT_NEGATIVE))? as usize;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let mut weighted: Vec<(Input, f64)> = inputs.drain(..).zip(o.weights.iter().copied()).collect();
    if op != Op::Diff {
        // Smallest first (stable, as glibc's qsort is for these sizes).
        weighted.sort_by_key(|(i, _)| i.len());
    }
    let mut result: Vec<(Vec<u8>, f64)> = match op {
        Op::Inter => {
            let mut out = Vec::new();
            let mut count = 0;
            if weighted[0].0.len() > 0 {
                for (m, s) in weighted[0].0.items() {
                    let mut score = weighted[0].1 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    let everywhere = weighted[1..]
                        .iter()
                        .all(|(input, w)| match input.score(&m) {
                            Some(v) => {
                                o.aggregate.apply(&mut score, v * w);
                                true
                            }
                            None => false,
                        });
                    if !everywhere {
                        continue;
                    }
                    if card {
                        count += 1;
                        if o.limit != 0 && count >= o.limit {
                            break;
                        }
                    } else {
                        out.push((m, score));
                    }
                }
            }
            if card {
                ctx.out.int(count as i64);
                return Ok(());
            }
            out
        }
        Op::Union => {
            let mut acc: IndexMap<Vec<u8>, f64, ahash::RandomState> = IndexMap::default();
            for (input, w) in &weighted {
                for (m, s) in input.items() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => o.aggregate.apply(t, score),
                        None => {
                            acc.insert(m, score);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        Op::Diff => {
            let first = weighted[0].0;
            first
                .items()
                .into_iter()
                .filter(|(m, _)| weighted[1..].iter().all(|(i, _)| i.score(m).is_none()))
                .collect()
        }
    };
    result.sort_by(|a, b| cmp(a.1, &a.0, b.1, &b.0));
    match dest {
        Some(dest) => {
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store(ctx, dest, &result, event);
        }
        None => reply_pairs(
            ctx.out,
            result.iter().map(|(m, s)| (&m[..], *s)),
            o.withscores,
        ),
    }
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE
/// <SUM | MIN | MAX>] [WITHSCORES]
fn zunion(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args, None, Op::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE
/// <SUM | MIN | MAX>] [WITHSCORES]
fn zinter(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args, None, Op::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args, None, Op::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args, None, Op::Inter, true)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight
/// ...]] [AGGREGATE <SUM | MIN | MAX>]
fn zunionstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let dest = args.arg();
    generic(ctx, args, Some(dest), Op::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight
/// ...]] [AGGREGATE <SUM | MIN | MAX>]
fn zinterstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let dest = args.arg();
    generic(ctx, args, Some(dest), Op::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let dest = args.arg();
    generic(ctx, args, Some(dest), Op::Diff, false)
}
