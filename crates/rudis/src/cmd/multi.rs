//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI makes dispatch queue each command it has checked (`Multi`,
//! copies of the command lines) instead of running it; a refusal while
//! queueing (unknown command, arity, ...) aborts the transaction. EXEC's
//! row has `Scope::Queued`: dispatch locks the shards of every queued
//! command's keys and of the watched keys (every shard if one of them
//! sees the whole keyspace) for the whole EXEC, which then runs the
//! queue through `cmd::call` on those locks: atomic across shards, and
//! writers on other threads wait. WATCH's dirty mark is set by writers
//! under their shard's lock (`crate::effects::Watches`), so checking it
//! under EXEC's locks misses nothing.

use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;

use super::flags::*;
use super::{acl, call, row, Args, Argv, Command, Ctx, KeySpec, Scope};
use crate::errors::{self, CmdResult};

pub static COMMANDS: &[Command] = &[
    row(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        multi,
    )
    .acl(acl::TRANSACTION),
    row("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, exec)
        .acl(acl::TRANSACTION)
        .scope(Scope::Queued),
    row(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        discard,
    )
    .acl(acl::TRANSACTION),
    row(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        watch,
    )
    .acl(acl::TRANSACTION)
    .keys(&[KeySpec::new(
        &["RO"],
        super::Begin::Index(1),
        super::Find::Range(-1, 1, 0),
    )]),
    row(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        unwatch,
    )
    .acl(acl::TRANSACTION),
];

/// A transaction's queue: every command line copied into one buffer.
#[derive(Default)]
pub struct Multi {
    buf: Vec<u8>,
    ranges: Vec<Range<usize>>,
    /// Each command with its statistics index and its span of `ranges`.
    cmds: Vec<(&'static Command, usize, Range<usize>)>,
    /// A command was refused while queueing: EXEC fails with EXECABORT
    /// (Redis's CLIENT_DIRTY_EXEC).
    pub aborted: bool,
}

impl Multi {
    /// Queues a checked command line. An aborted transaction keeps
    /// nothing, as Redis.
    pub fn queue(&mut self, cmd: &'static Command, index: usize, argv: Argv) {
        if self.aborted {
            return;
        }
        let first = self.ranges.len();
        for a in argv.iter() {
            let at = self.buf.len();
            self.buf.extend_from_slice(a);
            self.ranges.push(at..self.buf.len());
        }
        self.cmds.push((cmd, index, first..self.ranges.len()));
    }

    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Empties the queue, keeping its allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ranges.clear();
        self.cmds.clear();
        self.aborted = false;
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The queued commands and their command lines.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Command, Argv<'_>)> {
        self.cmds
            .iter()
            .map(|(c, _, r)| (*c, Argv::new(&self.buf, &self.ranges[r.clone()])))
    }
}

/// Leaves the transaction and drops every watch (Redis's
/// `discardTransaction`).
pub fn discard_transaction(server: &crate::server::Server, client: &mut crate::client::Client) {
    if let Some(m) = client.multi.take() {
        client.spare_multi = Some(m);
    }
    client.handle.multi.store(-1, Relaxed);
    server.watches.unwatch_all(&client.handle.watch);
}

/// MULTI
fn multi(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(errors::MULTI_NESTED.into());
    }
    // The last transaction's buffers, emptied, serve again.
    let mut m = ctx.client.spare_multi.take().unwrap_or_default();
    m.clear();
    ctx.client.multi = Some(m);
    ctx.client.handle.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(errors::DISCARD_WITHOUT_MULTI.into());
    }
    discard_transaction(ctx.server, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Whether a watched key has expired since WATCH saw it alive (Redis's
/// `isWatchedKeyExpired`): EXEC then fails, though nothing reclaimed it.
fn watched_key_expired(ctx: &mut Ctx) -> bool {
    if !ctx.client.handle.watch.is_watching() {
        return false;
    }
    let state = ctx.client.handle.watch.clone();
    state.keys().iter().any(|(db, key)| {
        let key = key.as_slice();
        !ctx.server.watches.watched_expired(&state, *db, key)
            && ctx
                .keys
                .table_ref(*db, key)
                .peek(key)
                .is_some_and(|e| e.is_expired(ctx.now.ms))
    })
}

/// EXEC
fn exec(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(errors::EXEC_WITHOUT_MULTI.into());
    };
    let dirty = ctx.client.handle.watch.is_dirty() || watched_key_expired(ctx);
    discard_transaction(ctx.server, ctx.client);
    if queue.aborted || dirty {
        let aborted = queue.aborted;
        ctx.client.spare_multi = Some(queue);
        if aborted {
            return Err(errors::EXECABORT.into());
        }
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    for (cmd, index, span) in queue.cmds.iter() {
        let argv = Argv::new(&queue.buf, &queue.ranges[span.clone()]);
        // Permissions may have changed since the command was queued.
        let denied = ctx
            .client
            .user
            .current(&ctx.server.acl)
            .check(cmd, *index, argv);
        if let Err(d) = denied {
            use crate::acl::{denied_reason, log::Context};
            crate::acl::log_denied(ctx.server, ctx.client, d, Context::Multi, cmd, argv);
            let text = format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {}", denied_reason(d));
            ctx.stats.count_error(text.as_bytes());
            ctx.out.error(text.as_bytes());
            continue;
        }
        call(
            ctx.server, ctx.stats, ctx.client, ctx.out, cmd, *index, argv, ctx.now.ms, ctx.keys,
            ctx.fx, true,
        );
        // A queued SELECT changes the database of what follows.
        ctx.db = ctx.client.db;
    }
    ctx.client.spare_multi = Some(queue);
    Ok(())
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(errors::WATCH_IN_MULTI.into());
    }
    let state = ctx.client.handle.watch.clone();
    // No point in watching once dirty: EXEC fails anyway.
    if !state.is_dirty() {
        for key in args.rest().iter() {
            let expired = ctx
                .keys
                .table_ref(ctx.db, key)
                .peek(key)
                .is_some_and(|e| e.is_expired(ctx.now.ms));
            ctx.server.watches.watch(&state, ctx.db, key, expired);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.server.watches.unwatch_all(&ctx.client.handle.watch);
    ctx.out.ok();
    Ok(())
}
