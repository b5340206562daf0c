//! Functions: FUNCTION LOAD, DELETE, LIST, FLUSH, STATS, KILL, HELP and
//! FCALL, FCALL_RO. Loading and calling run on the script thread (see
//! `crate::script`), in the functions' own Lua state; LIST, STATS and
//! KILL read what every thread can see.

use std::sync::atomic::Ordering::SeqCst;

use super::flags::*;
use super::scripting::{
    flush_mode, keys_and_args, kill, run_tracked, EVAL_FLAGS, EVAL_KEYS, EVAL_RO_KEYS,
};
use super::{acl, is, row, Args, Command, Ctx};
use crate::errors::{self, CmdResult, Error};
use crate::script::engine::{self, valid_name, Mode};
use crate::script::flag;
use crate::script::functions::{self, metadata, FunctionInfo, Library};

const ALL_SHARDS: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];

pub static COMMANDS: &[Command] = &[
    row("fcall", -3, EVAL_FLAGS | MAY_REPLICATE, fcall)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVAL_KEYS),
    row("fcall_ro", -3, READONLY | EVAL_FLAGS, fcall_ro)
        .acl(acl::SLOW | acl::SCRIPTING)
        .keys(EVAL_RO_KEYS),
    row("function", -2, 0, |_, _| Ok(()))
        .acl(acl::SLOW)
        .subs(FUNCTION),
];

static FUNCTION: &[Command] = &[
    row(
        "function|delete",
        3,
        WRITE | NOSCRIPT | SCRIPT_THREAD,
        function_delete,
    )
    .acl(acl::SLOW | acl::SCRIPTING)
    .tips(ALL_SHARDS),
    row(
        "function|flush",
        -2,
        WRITE | NOSCRIPT | SCRIPT_THREAD,
        function_flush,
    )
    .acl(acl::SLOW | acl::SCRIPTING)
    .tips(ALL_SHARDS),
    row("function|dump", 2, NOSCRIPT, function_dump).acl(acl::SLOW | acl::SCRIPTING),
    row("function|help", 2, LOADING | STALE, function_help).acl(acl::SLOW | acl::SCRIPTING),
    row("function|list", -2, NOSCRIPT, function_list)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&["nondeterministic_output_order"]),
    row("function|kill", 2, NOSCRIPT | ALLOW_BUSY, function_kill)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"]),
    row(
        "function|load",
        -3,
        WRITE | DENYOOM | NOSCRIPT | SCRIPT_THREAD,
        function_load,
    )
    .acl(acl::SLOW | acl::SCRIPTING)
    .tips(ALL_SHARDS),
    row(
        "function|restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT | SCRIPT_THREAD,
        function_restore,
    )
    .acl(acl::SLOW | acl::SCRIPTING)
    .tips(ALL_SHARDS),
    row("function|stats", 2, NOSCRIPT | ALLOW_BUSY, function_stats)
        .acl(acl::SLOW | acl::SCRIPTING)
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ]),
];

fn err(msg: String) -> Error {
    Error::Owned(format!("ERR {msg}").into_bytes())
}

/// FCALL function numkeys [key [key ...]] [arg [arg ...]]
fn fcall(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    fcall_generic(ctx, args, false)
}

/// FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]
fn fcall_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    fcall_generic(ctx, args, true)
}

fn fcall_generic(ctx: &mut Ctx, args: &mut Args, ro: bool) -> CmdResult {
    let whole = args.argv();
    ctx.server
        .observers
        .script_started(ctx.server, ctx.cmd, whole, ctx.client);
    let name = args.arg();
    let server = ctx.server;
    let Some(flags) = server
        .scripts
        .libraries
        .lock()
        .function(name)
        .map(|f| f.flags)
    else {
        return Err(Error::Static("ERR Function not found"));
    };
    let (keys, argv) = keys_and_args(args, "ERR Bad number of keys provided")?;
    let no_writes = flags & flag::NO_WRITES != 0;
    if ro && !no_writes {
        return Err(errors::RO_SCRIPT_WRITE_FLAG.into());
    }
    if flags & flag::ALLOW_OOM != 0 {
        ctx.client.oom = false;
    }
    *server.scripts.run.function.lock() =
        Some((name.to_vec(), whole.iter().map(<[u8]>::to_vec).collect()));
    let result = run_tracked(ctx, whole, |ctx| {
        engine::with_functions(server, |engine| {
            let Some(f) = engine.callbacks.get(&functions::key(name)).cloned() else {
                return Err(Error::Static("ERR Function not found"));
            };
            engine.run(ctx, &f, Mode::Function, name, keys, argv, ro || no_writes)
        })
    });
    *server.scripts.run.function.lock() = None;
    result
}

/// A library's code checked and compiled, not yet in place.
struct Compiled {
    lib: Library,
    callbacks: Vec<(Vec<u8>, mlua::Function)>,
}

/// The library name of `code`, whose shebang line must name the Lua
/// engine and a valid name; and where its code starts.
fn check_code(code: &[u8]) -> Result<(Vec<u8>, usize), Error> {
    let (engine_name, name, end) = metadata(code).map_err(err)?;
    if !valid_name(&name) {
        return Err(err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()));
    }
    if !engine_name.eq_ignore_ascii_case("lua") {
        return Err(err(format!("Engine '{engine_name}' not found")));
    }
    Ok((name, end))
}

/// Runs a library's code in the functions' Lua state, collecting what it
/// registers (nothing is in place until `install`).
fn compile(engine: &mut engine::Engine, code: &[u8]) -> Result<Compiled, Error> {
    let (name, end) = check_code(code)?;
    let registered = engine.load_library(&code[end..]).map_err(err)?;
    if registered.is_empty() {
        return Err(err("No functions registered".into()));
    }
    let mut functions = Vec::with_capacity(registered.len());
    let mut callbacks = Vec::with_capacity(registered.len());
    for r in registered {
        callbacks.push((functions::key(&r.name), r.callback));
        functions.push(FunctionInfo {
            name: r.name,
            description: r.description,
            flags: r.flags,
        });
    }
    Ok(Compiled {
        lib: Library {
            name,
            code: code.to_vec(),
            functions,
        },
        callbacks,
    })
}

fn install(libs: &mut functions::Libraries, engine: &mut engine::Engine, c: Compiled) {
    for (k, f) in c.callbacks {
        engine.callbacks.insert(k, f);
    }
    libs.link(c.lib);
}

/// Runs every loaded library's code in a new functions state (see
/// `engine::with_functions`); the libraries compiled when loaded, so
/// they compile again.
pub fn reinstall(server: &crate::server::Server, engine: &mut engine::Engine) {
    for code in server.scripts.library_codes() {
        match compile(engine, &code) {
            Ok(c) => engine.callbacks.extend(c.callbacks),
            Err(e) => tracing::warn!(
                "a loaded library failed to compile again: {}",
                String::from_utf8_lossy(e.as_bytes())
            ),
        }
    }
}

fn uninstall(engine: &mut engine::Engine, lib: &Library) {
    for f in &lib.functions {
        engine.callbacks.remove(&functions::key(&f.name));
    }
}

/// The first function of `lib` that `libs` has already.
fn collision(libs: &functions::Libraries, lib: &Library) -> Option<Error> {
    let taken = lib.functions.iter().find(|f| libs.has_function(&f.name))?;
    Some(err(format!(
        "Function {} already exists",
        String::from_utf8_lossy(&taken.name)
    )))
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let rest = args.rest();
    let n = rest.len();
    let mut replace = false;
    for opt in rest.first(n - 1).iter() {
        if !is(opt, "replace") {
            return Err(err(format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(opt)
            )));
        }
        replace = true;
    }
    let code = rest.get(n - 1).unwrap_or_default();
    let (name, _) = check_code(code)?;
    let server = ctx.server;
    if !replace && server.scripts.libraries.lock().libs.contains_key(&name) {
        return Err(err(format!(
            "Library '{}' already exists",
            String::from_utf8_lossy(&name)
        )));
    }
    engine::with_functions(server, |engine| {
        let compiled = compile(engine, code)?;
        let mut libs = server.scripts.libraries.lock();
        let old = libs.unlink(&name);
        if let Some(e) = collision(&libs, &compiled.lib) {
            if let Some(old) = old {
                libs.link(old);
            }
            return Err(e);
        }
        if let Some(old) = &old {
            uninstall(engine, old);
        }
        install(&mut libs, engine, compiled);
        Ok(())
    })?;
    ctx.fx.dirty += 1;
    ctx.out.bulk(&name);
    Ok(())
}

/// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let mut payload = Vec::new();
    for lib in ctx.server.scripts.libraries.lock().libs.values() {
        payload.push(crate::rdb::OPCODE_FUNCTION2);
        crate::rdb::put_string(&mut payload, &lib.code);
    }
    crate::rdb::put_footer(&mut payload);
    ctx.out.bulk(&payload);
    Ok(())
}

/// The libraries' codes in a FUNCTION DUMP payload's body (Redis's
/// `rdbFunctionLoad`, which also reads the format of 7.0's release
/// candidates).
fn dumped_codes(body: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    const OPCODE_FUNCTION_PRE_GA: u8 = 246;
    let mut r = crate::rdb::Reader::new(body);
    let mut codes = Vec::new();
    while !r.is_empty() {
        let fail = |m: &str| err(m.to_string());
        match r.byte() {
            Some(crate::rdb::OPCODE_FUNCTION2) => {
                codes.push(
                    r.string()
                        .ok_or_else(|| fail("Failed loading library payload"))?,
                );
            }
            Some(OPCODE_FUNCTION_PRE_GA) => {
                let name = r
                    .string()
                    .ok_or_else(|| fail("Failed loading library name"))?;
                let engine = r
                    .string()
                    .ok_or_else(|| fail("Failed loading engine name"))?;
                let has_desc = r
                    .string_len()
                    .ok_or_else(|| fail("Failed loading library description indicator"))?;
                if has_desc != 0 {
                    r.string()
                        .ok_or_else(|| fail("Failed loading library description"))?;
                }
                let blob = r
                    .string()
                    .ok_or_else(|| fail("Failed loading library blob"))?;
                let mut code = b"#!".to_vec();
                code.extend_from_slice(&engine);
                code.extend_from_slice(b" name=");
                code.extend_from_slice(&name);
                code.push(b'\n');
                code.extend_from_slice(&blob);
                codes.push(code);
            }
            Some(_) => return Err(fail("given type is not a function")),
            None => return Err(fail("can not read data type")),
        }
    }
    Ok(codes)
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let argv = args.argv();
    if argv.len() > 4 {
        return Err(errors::subcommand_syntax(
            argv.get(1).unwrap_or_default(),
            b"FUNCTION",
        ));
    }
    let payload = args.arg();
    let policy =
        match args.next_arg() {
            None => Policy::Append,
            Some(p) if is(p, "append") => Policy::Append,
            Some(p) if is(p, "replace") => Policy::Replace,
            Some(p) if is(p, "flush") => Policy::Flush,
            Some(_) => return Err(Error::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let body = crate::rdb::verify(payload).ok_or(Error::Static(
        "ERR DUMP payload version or checksum are wrong",
    ))?;
    let codes = dumped_codes(body)?;
    restore(ctx.server, &codes, policy)?;
    ctx.fx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// What FUNCTION RESTORE does with libraries already there.
#[derive(PartialEq)]
enum Policy {
    Append,
    Replace,
    Flush,
}

/// Installs the libraries of `codes` under `policy`: all of them or
/// none (FUNCTION RESTORE, and an RDB file's functions).
fn restore(server: &crate::server::Server, codes: &[Vec<u8>], policy: Policy) -> Result<(), Error> {
    engine::with_functions(server, |engine| {
        // Everything in the payload compiles, with no name twice, before
        // anything changes.
        let mut fresh = functions::Libraries::default();
        let mut compiled = Vec::with_capacity(codes.len());
        for code in codes {
            let c = compile(engine, code)?;
            if fresh.libs.contains_key(&c.lib.name) {
                return Err(err(format!(
                    "Library '{}' already exists",
                    String::from_utf8_lossy(&c.lib.name)
                )));
            }
            if let Some(e) = collision(&fresh, &c.lib) {
                return Err(e);
            }
            fresh.link(Library {
                name: c.lib.name.clone(),
                code: Vec::new(),
                functions: c
                    .lib
                    .functions
                    .iter()
                    .map(|f| FunctionInfo {
                        name: f.name.clone(),
                        description: None,
                        flags: f.flags,
                    })
                    .collect(),
            });
            compiled.push(c);
        }
        let mut libs = server.scripts.libraries.lock();
        let mut removed = Vec::new();
        if policy == Policy::Flush {
            removed.extend(std::mem::take(&mut *libs).libs.into_values());
        } else {
            for c in &compiled {
                if !libs.libs.contains_key(&c.lib.name) {
                    continue;
                }
                if policy == Policy::Append {
                    let e = err(format!(
                        "Library {} already exists",
                        String::from_utf8_lossy(&c.lib.name)
                    ));
                    removed.into_iter().for_each(|l| libs.link(l));
                    return Err(e);
                }
                removed.extend(libs.unlink(&c.lib.name));
            }
            if let Some(e) = compiled.iter().find_map(|c| collision(&libs, &c.lib)) {
                removed.into_iter().for_each(|l| libs.link(l));
                return Err(e);
            }
        }
        for old in &removed {
            uninstall(engine, old);
        }
        for c in compiled {
            install(&mut libs, engine, c);
        }
        Ok(())
    })
}

/// An RDB file's libraries: replacing every library there is (`flush`,
/// as DEBUG RELOAD empties the server first), those of the same name
/// (`merge`), or added to them. Loaded on this thread, they are made
/// anew in every other thread's functions state.
pub fn restore_libraries(
    server: &crate::server::Server,
    codes: &[Vec<u8>],
    flush: bool,
    merge: bool,
) -> Result<(), Error> {
    let policy = match (flush, merge) {
        (true, _) => Policy::Flush,
        (false, true) => Policy::Replace,
        (false, false) => Policy::Append,
    };
    restore(server, codes, policy)?;
    server.scripts.function_generation.fetch_add(1, SeqCst);
    Ok(())
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let name = args.arg();
    let server = ctx.server;
    let Some(lib) = server.scripts.libraries.lock().unlink(name) else {
        return Err(Error::Static("ERR Library not found"));
    };
    engine::with_functions(server, |engine| {
        for f in &lib.functions {
            engine.callbacks.remove(&functions::key(&f.name));
        }
    });
    ctx.fx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    if args.remaining() > 1 {
        let argv = args.argv();
        return Err(errors::subcommand_syntax(
            argv.get(1).unwrap_or_default(),
            b"FUNCTION",
        ));
    }
    flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    let scripts = &ctx.server.scripts;
    *scripts.libraries.lock() = Default::default();
    // The functions' Lua state is made anew before it is used again.
    scripts.function_generation.fetch_add(1, SeqCst);
    ctx.fx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    while let Some(a) = args.next_arg() {
        if !with_code && is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(a, "libraryname") {
            let Some(p) = args.next_arg() else {
                return Err(Error::Static("ERR library name argument was not given"));
            };
            pattern = Some(p);
        } else {
            return Err(err(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    let libs = ctx.server.scripts.libraries.lock();
    let shown: Vec<&Library> = libs
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::glob::matches(p, &l.name, true)))
        .collect();
    let out = &mut *ctx.out;
    out.array(shown.len());
    for lib in shown {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(&lib.name);
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(&f.name);
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = flag::NAMES
                .iter()
                .filter(|(_, bit)| f.flags & bit != 0)
                .map(|(n, _)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS
fn function_stats(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let scripts = &ctx.server.scripts;
    let run = &scripts.run;
    let running = run.running.load(SeqCst);
    if running && run.eval.load(SeqCst) {
        return Err(errors::BUSY_EVAL.into());
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match run.function.lock().as_ref().filter(|_| running) {
        None => out.null(),
        Some((name, argv)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"command");
            out.array(argv.len());
            for a in argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            let started = run.started.load(SeqCst);
            out.int(crate::script::engine::now_ms().saturating_sub(started) as i64);
        }
    }
    let libs = scripts.libraries.lock();
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs.libs.len() as i64);
    out.bulk(b"functions_count");
    out.int(libs.function_count() as i64);
    Ok(())
}

/// FUNCTION KILL
fn function_kill(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    kill(ctx, false)
}

/// FUNCTION HELP
fn function_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(
        ctx,
        args,
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
        ],
    )
}
