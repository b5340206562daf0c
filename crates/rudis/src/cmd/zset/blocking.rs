//! BZPOPMIN, BZPOPMAX and BZMPOP. With a member at hand they pop at once;
//! otherwise they register the client with `crate::blocking`, which calls
//! `serve` once a sorted set is written at one of their keys.

use super::super::block::{block, parse_timeout};
use super::super::flags::*;
use super::super::{acl, row, Args, Begin, Command, Ctx, Find, KeySpec};
use super::{find_zset, mpop, pop_from, pop_key, Where};
use crate::blocking::{BlockOp, Outcome, Serving};
use crate::db::Blob;
use crate::effects::class::{GENERIC, ZSET};
use crate::errors::CmdResult;

const WAITED: &[KeySpec] = &[KeySpec::new(
    &["RW", "access", "delete"],
    Begin::Index(1),
    Find::Range(-2, 1, 0),
)];

pub static COMMANDS: &[Command] = &[
    row("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmin)
        .acl(acl::SORTEDSET)
        .keys(WAITED),
    row("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmax)
        .acl(acl::SORTEDSET)
        .keys(WAITED),
    row("bzmpop", -5, WRITE | BLOCKING, bzmpop)
        .acl(acl::SORTEDSET)
        .keys(&[KeySpec::new(
            &["RW", "access", "delete"],
            Begin::Index(2),
            Find::Keynum(0, 1, 1),
        )]),
];

fn bzpop(ctx: &mut Ctx, args: &mut Args, end: Where) -> CmdResult {
    let all = args.rest();
    let keys = all.first(all.len() - 1);
    let timeout = parse_timeout(all.get(all.len() - 1).unwrap_or_default())?;
    let now = ctx.now;
    for key in keys.iter() {
        let Some(i) = find_zset(ctx.table(key), key, now)? else {
            continue;
        };
        let popped = pop_key(ctx, key, i, end, 1);
        ctx.out.array(popped.len() * 2 + 1);
        ctx.out.bulk(key);
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
        return Ok(());
    }
    let keys = keys.iter().map(Blob::new).collect();
    block(ctx, keys, BlockOp::ZPop { end, count: None }, timeout);
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bzpop(ctx, args, Where::Min)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bzpop(ctx, args, Where::Max)
}

/// BZMPOP timeout numkeys key [key ...] <MIN | MAX> [COUNT count]
fn bzmpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let timeout_arg = args.arg();
    let a = super::super::list::parse_mpop(args, Where::parse)?;
    let timeout = parse_timeout(timeout_arg)?;
    if !mpop(ctx, a.keys, a.end, a.count)? {
        let op = BlockOp::ZPop {
            end: a.end,
            count: Some(a.count),
        };
        block(ctx, a.keys.iter().map(Blob::new).collect(), op, timeout);
    }
    Ok(())
}

/// Serves a sorted set waiter (see `crate::blocking`): the key holds a
/// sorted set. BZPOPMIN/BZPOPMAX (`count: None`) reply `[key, member,
/// score]`, BZMPOP `[key, [[member, score], ...]]`.
pub fn serve(s: &mut Serving, key: &Blob, end: Where, count: Option<usize>) -> Outcome {
    let clock = s.clock;
    let t = s.tables.get(key.as_slice());
    let Some(i) = t.find(key.as_slice(), clock) else {
        return Outcome::Served(None);
    };
    let (popped, gone) = pop_from(t, i, end, count.unwrap_or(1));
    let reply = &mut s.reply;
    match count {
        None => {
            reply.array(popped.len() * 2 + 1);
            reply.bulk(key.as_slice());
            for (m, sc) in &popped {
                reply.bulk(m);
                reply.double(*sc);
            }
        }
        Some(_) => {
            reply.array(2);
            reply.bulk(key.as_slice());
            reply.array(popped.len());
            for (m, sc) in &popped {
                reply.array(2);
                reply.bulk(m);
                reply.double(*sc);
            }
        }
    }
    s.report(key, ZSET, end.event());
    if gone {
        s.note(key, GENERIC, "del");
    }
    Outcome::Served(None)
}
