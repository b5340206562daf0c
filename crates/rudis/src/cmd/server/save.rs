//! SAVE, BGSAVE, and the saves and reload that SHUTDOWN, FLUSHALL and
//! DEBUG RELOAD make, over `crate::persist`.

use super::super::{is, Args, Ctx};
use crate::db::Shard;
use crate::errors::{CmdResult, Error};
use crate::persist::{self, Duplicates};

/// Saves every database; dispatch holds every shard (`Scope::All`).
pub fn save_all(ctx: &mut Ctx) -> std::io::Result<()> {
    let server = ctx.server;
    let shards: Vec<&Shard> = ctx.keys.all().map(|s| &*s).collect();
    persist::save(server, &shards)
}

const IN_PROGRESS: &str = "ERR Background save already in progress";

/// SAVE
pub fn save(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    if ctx.server.persist.bgsave_running_secs().is_some() {
        return Err(Error::Static(IN_PROGRESS));
    }
    match save_all(ctx) {
        Ok(()) => {
            let saves = &ctx.server.persist.saves;
            saves.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ctx.out.ok();
            Ok(())
        }
        // Redis's shared.err: the reason is in the log.
        Err(_) => Err(Error::Static("ERR")),
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves, empties the server
/// (data and functions), loads the file back.
pub fn debug_reload(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    while let Some(opt) = args.next_arg() {
        if is(opt, "merge") {
            merge = true;
        } else if is(opt, "noflush") {
            flush = false;
        } else if is(opt, "nosave") {
            save = false;
        } else {
            return Err(Error::Static(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if save && save_all(ctx).is_err() {
        return Err(Error::Static("ERR"));
    }
    if flush {
        super::empty(ctx, 0..ctx.server.store.databases(), false);
    }
    let server = ctx.server;
    let mut shards: Vec<&mut Shard> = ctx.keys.all().collect();
    let dups = if merge {
        Duplicates::Replace
    } else {
        Duplicates::Refuse
    };
    let mut libraries = Vec::new();
    let loaded = persist::load(server, &mut shards, dups, &mut libraries);
    let failed = || Error::Static("ERR Error trying to load the RDB dump");
    match loaded {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("Fatal error loading the DB: No such file or directory.");
            return Err(failed());
        }
        Err(e) => {
            tracing::warn!("{}", e.0);
            return Err(failed());
        }
    }
    if let Err(e) = crate::cmd::function::restore_libraries(server, &libraries, flush, merge) {
        tracing::warn!("{}", String::from_utf8_lossy(e.as_bytes()));
        return Err(failed());
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: the snapshot is written by a forked child while
/// the server goes on; in a transaction it is left to the cron.
pub fn bgsave(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    match args.next_arg() {
        None => {}
        Some(a) if is(a, "schedule") && args.remaining() == 0 => {}
        Some(_) => return Err(crate::errors::SYNTAX.into()),
    }
    let server = ctx.server;
    if server.persist.bgsave_running_secs().is_some() {
        return Err(Error::Static(IN_PROGRESS));
    }
    // No other kind of child exists (no AOF rewrite): SCHEDULE has
    // nothing to wait for, except a transaction's end.
    if ctx.in_exec {
        server.persist.schedule();
        ctx.out.simple(b"Background saving scheduled");
        return Ok(());
    }
    let shards: Vec<&Shard> = ctx.keys.all().map(|s| &*s).collect();
    match persist::bgsave(server, &shards) {
        Ok(()) => {
            ctx.out.simple(b"Background saving started");
            Ok(())
        }
        Err(_) => Err(Error::Static("ERR")),
    }
}
