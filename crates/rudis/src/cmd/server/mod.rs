//! Redis's "server" group.

pub mod command;
pub mod config;
pub mod debug;
pub mod info;
pub mod latency;
pub mod memory;
pub mod monitor;
pub mod save;

use super::acl;
use super::flags::*;
use super::{is, parse_db_index, row, Args, Command, Ctx, Scope};
use crate::db::{lazyfree, Table};
use crate::errors::{self, CmdResult};

pub static COMMANDS: &[Command] = &[
    row("dbsize", 1, READONLY | FAST, dbsize)
        .scope(Scope::Walk)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
    row("flushdb", -1, WRITE, flushdb)
        .scope(Scope::All)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    row("flushall", -1, WRITE, flushall)
        .scope(Scope::All)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    row("swapdb", 3, WRITE | FAST, swapdb)
        .scope(Scope::All)
        .acl(acl::KEYSPACE | acl::DANGEROUS),
    row("time", 1, LOADING | STALE | FAST, time).tips(&["nondeterministic_output"]),
    row(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        save::save,
    )
    .scope(Scope::All)
    .acl(acl::ADMIN | acl::DANGEROUS),
    row(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        save::bgsave,
    )
    .scope(Scope::All)
    .acl(acl::ADMIN | acl::DANGEROUS),
    row("lastsave", 1, LOADING | STALE | FAST, lastsave)
        .acl(acl::ADMIN | acl::DANGEROUS)
        .tips(&["nondeterministic_output"]),
    row(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        debug::debug,
    )
    .scope(Scope::All),
    row(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        shutdown,
    )
    // Saving reads every shard.
    .scope(Scope::Data(shutdown_saves)),
];

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let store = &ctx.server.store;
    let n: usize = (0..crate::db::SHARDS)
        .map(|s| ctx.keys.shard(store, s).dbs[ctx.db].len())
        .sum();
    ctx.out.int(n as i64);
    Ok(())
}

/// `[ASYNC | SYNC]`: true for ASYNC; without either, what
/// `lazyfree-lazy-user-flush` says.
fn flush_mode(ctx: &Ctx, args: &mut Args) -> Result<bool, errors::Error> {
    let mode = args.next_arg();
    match mode {
        _ if args.remaining() > 0 => Err(errors::SYNTAX.into()),
        None => Ok(ctx.server.hot.lazy_user_flush()),
        Some(m) if is(m, "sync") => Ok(false),
        Some(m) if is(m, "async") => Ok(true),
        _ => Err(errors::SYNTAX.into()),
    }
}

/// Empties the given databases atomically: dispatch holds every shard
/// (`Scope::All`) while the tables are swapped out; freeing happens
/// afterwards, on the lazy-free thread for ASYNC. Watchers of keys that
/// existed see the change (Redis's `touchAllWatchedKeysInDb`). Returns
/// how many keys were removed.
fn empty(ctx: &mut Ctx, dbs: std::ops::Range<usize>, async_free: bool) -> u64 {
    let watches = &ctx.server.watches;
    for db in dbs.clone() {
        if watches.any() {
            let keys = &*ctx.keys;
            watches.touch_db(db, |k| keys.table_ref(db, k).peek(k).is_some(), |_| None);
        }
    }
    let mut removed = 0;
    let old: Vec<Table> = ctx
        .keys
        .all()
        .flat_map(|s| {
            s.dbs
                .existing_mut()
                .filter(|(db, _)| dbs.contains(db))
                .map(|(_, t)| t.take())
        })
        .filter(|t| !t.is_empty())
        .inspect(|t| removed += t.len() as u64)
        .collect();
    let server = ctx.server;
    server
        .tracking
        .invalidate_all(server, Some(ctx.client.id), &mut ctx.fx.pending);
    if async_free {
        lazyfree::free_later(old);
    } else {
        drop(old);
    }
    // Stream group readers blocked there learn their key is gone.
    for db in dbs {
        for key in ctx.server.blocking.keys_in(db) {
            ctx.key_ready_in(db, key.as_slice());
        }
    }
    removed
}

/// FLUSHDB and FLUSHALL.
fn flush(ctx: &mut Ctx, dbs: std::ops::Range<usize>, async_free: bool) {
    let removed = empty(ctx, dbs, async_free);
    // Redis counts one change per key removed, at least one.
    ctx.fx.dirty += removed.max(1);
    ctx.out.ok();
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let async_free = flush_mode(ctx, args)?;
    flush(ctx, ctx.db..ctx.db + 1, async_free);
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]: with save points, the empty dataset is
/// saved at once (a running background save is stopped first), as
/// Redis's flushAllDataAndResetRDB.
fn flushall(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let async_free = flush_mode(ctx, args)?;
    flush(ctx, 0..ctx.server.store.databases(), async_free);
    crate::persist::kill_child(ctx.server);
    // Saved, the empty dataset has no change to count.
    if !ctx.server.config.read().save_points.is_empty() && save::save_all(ctx).is_ok() {
        ctx.fx.dirty = 0;
    }
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let a = parse_db_index(args.arg(), Some(errors::INVALID_FIRST_DB))?;
    let b = parse_db_index(args.arg(), Some(errors::INVALID_SECOND_DB))?;
    let n = ctx.server.store.databases() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(errors::DB_OUT_OF_RANGE.into());
    }
    if a != b {
        let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
        let watches = &ctx.server.watches;
        if watches.any() {
            let (keys, now) = (&*ctx.keys, ctx.now.ms);
            for (from, to) in [(lo, hi), (hi, lo)] {
                watches.touch_db(
                    from,
                    |k| keys.table_ref(from, k).peek(k).is_some(),
                    |k| keys.table_ref(to, k).peek(k).map(|e| e.is_expired(now)),
                );
            }
        }
        for shard in ctx.keys.all() {
            shard.dbs.swap(lo, hi);
        }
        ctx.fx.dirty += 1;
        let server = ctx.server;
        server
            .tracking
            .invalidate_all(server, Some(ctx.client.id), &mut ctx.fx.pending);
        // Clients blocked in either database may find a list now.
        for db in [lo, hi] {
            for key in ctx.server.blocking.keys_in(db) {
                ctx.key_ready_in(db, key.as_slice());
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

/// TIME
fn time(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    // Before any save: the start time, as Redis.
    let at = ctx
        .server
        .persist
        .last_save
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.out.int(at as i64);
    Ok(())
}

/// Whether this SHUTDOWN saves (SAVE, or save points and no NOSAVE), so
/// that dispatch locks every shard for it.
fn shutdown_saves(argv: super::Argv) -> bool {
    use crate::config::shutdown::{NOSAVE, SAVE};
    let has = |w: &str| argv.iter().skip(1).any(|a| is(a, w));
    let flags = if has("save") { SAVE } else { 0 } | if has("nosave") { NOSAVE } else { 0 };
    crate::persist::shutdown_saves(flags)
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (mut nosave, mut save, mut force, mut abort, mut flags) = (false, false, false, false, 0);
    for a in args.rest().iter() {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") {
        } else if is(a, "force") {
            force = true;
        } else if is(a, "abort") {
            abort = true;
            continue;
        } else {
            return Err(errors::SYNTAX.into());
        }
        flags += 1;
    }
    if (abort && flags > 0) || (nosave && save) {
        return Err(errors::SYNTAX.into());
    }
    if abort {
        // Shutdown never waits (no replicas), so none can be in progress.
        return Err("ERR No shutdown in progress.".into());
    }
    crate::persist::kill_child(ctx.server);
    if shutdown_saves(args.argv()) {
        tracing::warn!("Saving the final RDB snapshot before exiting.");
        if save::save_all(ctx).is_err() && !force {
            tracing::warn!("Error trying to save the DB, can't exit.");
            return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
        }
    }
    tracing::warn!("User requested shutdown...");
    // Like Redis, the client that asked gets no reply: the server goes.
    ctx.client.close_after_reply = true;
    // A running script would hold its connection, and so the shutdown,
    // forever: it is ended, written or not, as Redis exits under it.
    ctx.server
        .scripts
        .run
        .killed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    ctx.server.shutdown.send_replace(true);
    Ok(())
}
