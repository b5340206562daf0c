//! BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP. With an element at hand
//! they act at once; otherwise they register the client with
//! `crate::blocking` and the connection waits (see that module).

use super::super::block::{block, parse_timeout};
use super::super::flags::*;
use super::super::{acl, row, Args, Begin, Command, Ctx, Find, KeySpec};
use super::{find_list, move_one, mpop, parse_end, parse_mpop, pop_n};
use super::{pop_event, push_event};
use crate::blocking::{BlockOp, Outcome, Serving};
use crate::db::list::End;
use crate::db::{Blob, Value};
use crate::effects::class::{GENERIC, LIST};
use crate::errors::{self, CmdResult};

pub static COMMANDS: &[Command] = &[
    row("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::new(
            &["RW", "access", "delete"],
            Begin::Index(1),
            Find::Range(-2, 1, 0),
        )]),
    row("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::new(
            &["RW", "access", "delete"],
            Begin::Index(1),
            Find::Range(-2, 1, 0),
        )]),
    row("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove)
        .acl(acl::LIST)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "delete"]),
            KeySpec::at(2, &["RW", "insert"]),
        ]),
    row(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        brpoplpush,
    )
    .acl(acl::LIST)
    .keys(&[
        KeySpec::at(1, &["RW", "access", "delete"]),
        KeySpec::at(2, &["RW", "insert"]),
    ]),
    row("blmpop", -5, WRITE | BLOCKING, blmpop)
        .acl(acl::LIST)
        .keys(&[KeySpec::new(
            &["RW", "access", "delete"],
            Begin::Index(2),
            Find::Keynum(0, 1, 1),
        )]),
];

fn bpop(ctx: &mut Ctx, args: &mut Args, end: End) -> CmdResult {
    let all = args.rest();
    let keys = all.first(all.len() - 1);
    let timeout = parse_timeout(all.get(all.len() - 1).unwrap_or_default())?;
    let now = ctx.now;
    for key in keys.iter() {
        let t = ctx.table(key);
        if let Some(i) = find_list(t, key, now)? {
            let v = pop_n(ctx, key, i, end, 1);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(v.first().map_or(&[][..], Blob::as_slice));
            return Ok(());
        }
    }
    let keys = keys.iter().map(Blob::new).collect();
    block(ctx, keys, BlockOp::Pop { end, count: None }, timeout);
    Ok(())
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bpop(ctx, args, End::Left)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bpop(ctx, args, End::Right)
}

fn bmove(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, timeout: &[u8]) -> CmdResult {
    let timeout = parse_timeout(timeout)?;
    if !move_one(ctx, src, dst, from, to)? {
        let op = BlockOp::Move {
            dst: Blob::new(dst),
            from,
            to,
        };
        block(ctx, vec![Blob::new(src)], op, timeout);
    }
    Ok(())
}

/// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
fn blmove(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    let (from, to) = (parse_end(args.arg())?, parse_end(args.arg())?);
    bmove(ctx, src, dst, from, to, args.arg())
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    bmove(ctx, src, dst, End::Right, End::Left, args.arg())
}

/// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
fn blmpop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let timeout_arg = args.arg();
    let a = parse_mpop(args, parse_end)?;
    let timeout = parse_timeout(timeout_arg)?;
    if !mpop(ctx, &a)? {
        let op = BlockOp::Pop {
            end: a.end,
            count: Some(a.count),
        };
        block(ctx, a.keys.iter().map(Blob::new).collect(), op, timeout);
    }
    Ok(())
}

/// Serves a list waiter (see `crate::blocking`): the key holds a list with
/// elements.
pub fn serve(s: &mut Serving, key: &Blob, op: &BlockOp) -> Outcome {
    let clock = s.clock;
    if let BlockOp::Move { dst, .. } = op {
        let t = s.tables.get(dst.as_slice());
        if let Some(p) = t.find(dst.as_slice(), clock) {
            if !matches!(t.at(p).1.value, Value::List(_)) {
                // Redis ends the blocked move with the type error and
                // leaves the element where it was.
                return Outcome::Refused(errors::WRONGTYPE);
            }
        }
    }
    let t = s.tables.get(key.as_slice());
    let Some(pos) = t.find(key.as_slice(), clock) else {
        return Outcome::Served(None);
    };
    let Value::List(list) = &mut t.at_mut(pos).value else {
        return Outcome::Served(None);
    };
    let reply = &mut s.reply;
    let mut moved = None;
    let end = match op {
        BlockOp::Pop { end, count: None } => {
            let v = list.pop(*end).unwrap_or_else(|| Blob::new(b""));
            reply.array(2);
            reply.bulk(key.as_slice());
            reply.bulk(v.as_slice());
            *end
        }
        BlockOp::Pop {
            end,
            count: Some(n),
        } => {
            let n = (*n).min(list.len());
            reply.array(2);
            reply.bulk(key.as_slice());
            reply.array(n);
            for _ in 0..n {
                if let Some(v) = list.pop(*end) {
                    reply.bulk(v.as_slice());
                }
            }
            *end
        }
        BlockOp::Move { from, .. } => {
            let v = list.pop(*from).unwrap_or_else(|| Blob::new(b""));
            reply.bulk(v.as_slice());
            moved = Some(v);
            *from
        }
        BlockOp::ZPop { .. } | BlockOp::XRead { .. } => unreachable!("a list waiter"),
    };
    // A move within one list never empties it (see `move_one`).
    let within = matches!(op, BlockOp::Move { dst, .. } if dst == key);
    if list.is_empty() && !within {
        t.remove_at(pos);
    }
    let emptied = t.peek(key.as_slice()).is_none();
    // A move reports its push first, as Redis.
    let mut next = None;
    if let (Some(v), BlockOp::Move { dst, to, .. }) = (moved, op) {
        let t = s.tables.get(dst.as_slice());
        let p = match t.find(dst.as_slice(), clock) {
            Some(p) => p,
            None => t.add(dst.as_slice(), Value::List(Box::default()), clock),
        };
        if let Value::List(l) = &mut t.at_mut(p).value {
            l.push(*to, v);
        }
        s.report(dst, LIST, push_event(*to));
        next = Some(dst.clone());
    }
    s.report(key, LIST, pop_event(end));
    if emptied {
        s.note(key, GENERIC, "del");
    }
    Outcome::Served(next)
}
