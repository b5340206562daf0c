//! BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP. With an element at hand
//! they act at once; otherwise they register the client with
//! `crate::blocking` and the connection waits (see that module).

use std::time::{Duration, Instant};

use super::super::flags::*;
use super::super::{acl, row, Args, Begin, Command, Ctx, Find, KeySpec};
use super::{find_list, move_one, mpop, parse_end, parse_mpop, pop_n};
use crate::blocking::{BlockOp, Waiter};
use crate::client::Blocked;
use crate::db::list::End;
use crate::db::Blob;
use crate::errors::{self, CmdResult, Error};
use crate::ldouble::LongDouble;

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

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a long double
/// times 1000, truncated to an integer as x86 does (out of range gives
/// the most negative value, so "timeout is negative"). `None`: forever.
fn parse_timeout(a: &[u8]) -> Result<Option<Duration>, Error> {
    let secs = LongDouble::parse(a).ok_or(Error::Static(errors::TIMEOUT_NOT_FLOAT))?;
    let ms = secs.to_f64() * 1000.0;
    let ms = if ms.is_finite() && ms > -9.2e18 && ms < 9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE.into());
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// Registers the client as blocked on `keys`. Inside EXEC nothing
/// blocks: the command answers at once as if it had timed out (a move
/// with a null, as Redis).
fn block(ctx: &mut Ctx, keys: Vec<Blob>, op: BlockOp, timeout: Option<Duration>) {
    if ctx.in_exec {
        match op {
            BlockOp::Move { .. } => ctx.out.null(),
            BlockOp::Pop { .. } => ctx.out.null_array(),
        }
        return;
    }
    let (waiter, reply) = Waiter::new(
        ctx.client.id,
        timeout.is_some(),
        ctx.db,
        keys,
        op,
        ctx.out.resp3(),
    );
    ctx.server.blocking.register(waiter.clone());
    *ctx.client.handle.blocked.lock() = Some(waiter.clone());
    ctx.client.blocked = Some(Blocked {
        waiter,
        reply,
        deadline: timeout.map(|t| Instant::now() + t),
    });
}

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
