//! Connection commands.

use super::flags::*;
use super::{parse_db_index, row, Args, Command, Ctx};
use crate::errors::{self, CmdResult};

pub static COMMANDS: &[Command] = &[
    row("ping", -1, FAST, (0, 0, 0), ping),
    row("echo", 2, LOADING | STALE | FAST, (0, 0, 0), echo),
    row(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        (0, 0, 0),
        quit,
    ),
    row("select", 2, LOADING | STALE | FAST, (0, 0, 0), select),
];

/// PING [message]
fn ping(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    match args.rest() {
        [] => ctx.out.simple(b"PONG"),
        [msg] => ctx.out.bulk(msg),
        _ => return Err(errors::wrong_arity(ctx.cmd.name)),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    ctx.out.bulk(args.arg());
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let db = parse_db_index(args.arg(), None)?;
    if db < 0 || db as usize >= ctx.server.store.databases() {
        return Err(errors::DB_OUT_OF_RANGE.into());
    }
    ctx.client.db = db as usize;
    ctx.out.ok();
    Ok(())
}
