//! Scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. They run on
//! the script thread (see `crate::script`), except SCRIPT KILL, which
//! must reach a script that is running, and SCRIPT EXISTS / FLUSH, which
//! only touch the cache.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use super::flags::*;
use super::{acl, is, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use crate::errors::{self, CmdResult, Error};
use crate::script::{self, engine, flag, Script};

const EVAL_NOTE: &str =
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
const EVAL_RO_NOTE: &str =
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";

/// EVAL's key specs, FCALL's too.
pub(super) static EVAL_KEYS: &[KeySpec] = &[KeySpec::new(
    &["RW", "access", "update"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)
.notes(EVAL_NOTE)];
static EVALSHA_KEYS: &[KeySpec] = &[KeySpec::new(
    &["RW", "access", "update"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)];
/// EVAL_RO's key specs, FCALL_RO's too.
pub(super) static EVAL_RO_KEYS: &[KeySpec] =
    &[KeySpec::new(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1)).notes(EVAL_RO_NOTE)];
static EVALSHA_RO_KEYS: &[KeySpec] = &[KeySpec::new(
    &["RO", "access"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)];

/// EVAL's flags, FCALL's too.
pub(super) const EVAL_FLAGS: u32 =
    NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | SCRIPT_THREAD;

pub static COMMANDS: &[Command] = &[
    row("eval", -3, EVAL_FLAGS | MAY_REPLICATE, eval)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVAL_KEYS),
    row("evalsha", -3, EVAL_FLAGS | MAY_REPLICATE, evalsha)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVALSHA_KEYS),
    row("eval_ro", -3, READONLY | EVAL_FLAGS, eval_ro)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVAL_RO_KEYS),
    row("evalsha_ro", -3, READONLY | EVAL_FLAGS, evalsha_ro)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVALSHA_RO_KEYS),
    row("script", -2, 0, |_, _| Ok(()))
        .acl(acl::SLOW)
        .subs(SCRIPT),
];

static SCRIPT: &[Command] = &[
    row("script|flush", -2, NOSCRIPT, script_flush)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    row("script|help", 2, LOADING | STALE, script_help).acl(acl::SLOW | acl::SCRIPTING),
    row("script|exists", -3, NOSCRIPT, script_exists)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&[
            "request_policy:all_shards",
            "response_policy:agg_logical_and",
        ]),
    row("script|kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"]),
    row(
        "script|load",
        3,
        NOSCRIPT | STALE | SCRIPT_THREAD,
        script_load,
    )
    .acl(acl::SLOW | acl::SCRIPTING)
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

/// EVAL script numkeys [key [key ...]] [arg [arg ...]]
fn eval(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

/// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

/// EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]
fn eval_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

/// EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

/// Every how many scripts the Lua collector takes a step (Redis's
/// LUA_GC_CYCLE_PERIOD).
const GC_PERIOD: u64 = 50;

/// The keys and the arguments after a script's numkeys (`bad` is the
/// error for a numkeys that is no integer).
pub(super) fn keys_and_args<'a>(
    args: &mut Args<'a>,
    bad: &'static str,
) -> Result<(Argv<'a>, Argv<'a>), Error> {
    let numkeys = args.int().map_err(|_| Error::Static(bad))?;
    if numkeys > args.remaining() as i64 {
        return Err(errors::NUMKEYS_TOO_BIG.into());
    }
    if numkeys < 0 {
        return Err(errors::NUMKEYS_NEGATIVE.into());
    }
    let rest = args.rest();
    Ok((rest.first(numkeys as usize), rest.from(numkeys as usize)))
}

/// Runs a script for its caller's client-side caching too: if it called
/// a read command, the keys the command line declares are tracked (Redis's
/// trackingRememberKeys on the script's caller).
pub(super) fn run_tracked(
    ctx: &mut Ctx,
    whole: Argv,
    run: impl FnOnce(&mut Ctx) -> CmdResult,
) -> CmdResult {
    ctx.client.script_read = Some(false);
    let result = run(ctx);
    if ctx.client.script_read.take() == Some(true) {
        super::remember_keys(ctx.server, ctx.client, ctx.cmd, whole);
    }
    result
}

/// SCRIPT KILL (`eval`) and FUNCTION KILL (Redis's scriptKill).
pub(super) fn kill(ctx: &mut Ctx, eval: bool) -> CmdResult {
    let run = &ctx.server.scripts.run;
    if !run.running.load(SeqCst) {
        return Err(errors::NOTBUSY.into());
    }
    if run.wrote.load(SeqCst) {
        return Err(errors::UNKILLABLE.into());
    }
    match (eval, run.eval.load(SeqCst)) {
        (true, false) => return Err(errors::BUSY_FUNCTION.into()),
        (false, true) => return Err(errors::BUSY_EVAL.into()),
        _ => {}
    }
    run.killed.store(true, SeqCst);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT FLUSH's and FUNCTION FLUSH's optional ASYNC | SYNC (both flush
/// at once: nothing they free is large); `bad` is the error otherwise.
pub(super) fn flush_mode(args: &Args, bad: &'static str) -> CmdResult {
    match args.remaining() {
        0 => Ok(()),
        1 if is(args.peek().unwrap_or_default(), "sync")
            || is(args.peek().unwrap_or_default(), "async") =>
        {
            Ok(())
        }
        _ => Err(Error::Static(bad)),
    }
}

fn eval_generic(ctx: &mut Ctx, args: &mut Args, by_sha: bool, ro: bool) -> CmdResult {
    let whole = args.argv();
    ctx.server
        .observers
        .script_started(ctx.server, ctx.cmd, whole, ctx.client);
    let source = args.arg();
    let (keys, argv) = keys_and_args(args, errors::NOT_INTEGER)?;
    let server = ctx.server;
    let (sha, cached) = if by_sha {
        let Ok(sha) = <[u8; 40]>::try_from(source) else {
            return Err(errors::NOSCRIPT.into());
        };
        let sha = sha.map(|b| b.to_ascii_lowercase());
        (sha, server.scripts.get(&sha))
    } else {
        let sha = script::sha1_hex(source);
        (sha, server.scripts.get(&sha))
    };
    engine::with(server, |engine| {
        let script = match cached {
            Some(s) => s,
            None if by_sha => return Err(errors::NOSCRIPT.into()),
            None => add_script(server, engine, &sha, source)?,
        };
        let f = engine.compile(&sha, &script)?;
        let compat = script.flags & flag::EVAL_COMPAT != 0;
        let no_writes = !compat && script.flags & flag::NO_WRITES != 0;
        if ro && !compat && !no_writes {
            return Err(errors::RO_SCRIPT_WRITE_FLAG.into());
        }
        if script.flags & flag::ALLOW_OOM != 0 {
            ctx.client.oom = false;
        }
        ctx.client.script_read = Some(false);
        let result = engine.run(
            ctx,
            &f,
            engine::Mode::Eval,
            &sha,
            keys,
            argv,
            ro || no_writes,
        );
        if ctx.client.script_read.take() == Some(true) {
            super::remember_keys(server, ctx.client, ctx.cmd, whole);
        }
        let runs = server.scripts.runs.fetch_add(1, SeqCst) + 1;
        if runs.is_multiple_of(GC_PERIOD) {
            engine.gc_step();
        }
        result
    })
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let source = args.arg();
    let sha = script::sha1_hex(source);
    let server = ctx.server;
    engine::with(server, |engine| {
        let script = match server.scripts.get(&sha) {
            Some(s) => s,
            None => add_script(server, engine, &sha, source)?,
        };
        engine.compile(&sha, &script)
    })?;
    ctx.out.bulk(&sha);
    Ok(())
}

/// Compiles a script new to the cache and adds it (only once it
/// compiles, as Redis).
fn add_script(
    server: &crate::server::Server,
    engine: &mut engine::Engine,
    sha: &[u8; 40],
    source: &[u8],
) -> Result<Arc<Script>, Error> {
    let (flags, _) = script::shebang(source).map_err(|e| Error::Owned(e.into_bytes()))?;
    let s = Script {
        body: source.to_vec(),
        flags,
    };
    engine.compile(sha, &s)?;
    Ok(server.scripts.insert(*sha, s))
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let shas = args.rest();
    ctx.out.array(shas.len());
    for sha in shas.iter() {
        ctx.out.int(ctx.server.scripts.contains(sha) as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    ctx.server.scripts.flush();
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL
fn script_kill(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    kill(ctx, true)
}

/// SCRIPT HELP
fn script_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(
        ctx,
        args,
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}
