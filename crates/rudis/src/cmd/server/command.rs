//! COMMAND and its subcommands: everything here is read from the command
//! table rows.

use resp::write::Aggregate;
use resp::Reply;

use super::super::flags::*;
use super::super::{
    acl, all_commands, is, lookup_full, row, Args, Begin, Command, Ctx, Find, KeySpec,
};
use crate::errors::{self, CmdResult};
use crate::glob::Pattern;

pub static COMMANDS: &[Command] = &[row("command", -1, LOADING | STALE, command)
    .acl(acl::CONNECTION)
    .tips(&["nondeterministic_output_order"])
    .subs(SUBS)];

static SUBS: &[Command] = &[
    row("command|info", -2, LOADING | STALE, info)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"]),
    row("command|count", 2, LOADING | STALE, count).acl(acl::CONNECTION),
    row(
        "command|getkeysandflags",
        -4,
        LOADING | STALE,
        getkeysandflags,
    )
    .acl(acl::CONNECTION),
    row("command|list", -2, LOADING | STALE, list)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"]),
    row("command|help", 2, LOADING | STALE, help).acl(acl::CONNECTION),
    row("command|getkeys", -4, LOADING | STALE, getkeys).acl(acl::CONNECTION),
    row("command|docs", -2, LOADING | STALE, docs)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"]),
];

/// One field of a COMMAND DOCS map, in the order Redis prints them.
pub enum DocField {
    Str(&'static str, &'static str),
    Int(&'static str, i64),
    /// A set of flags (`flags`, `doc_flags`).
    Flags(&'static str, &'static [&'static str]),
    /// `arguments`: each argument is its own list of fields.
    Args(&'static [&'static [DocField]]),
}

fn doc_fields(out: &mut Reply, fields: &[DocField], extra: usize) {
    out.map(fields.len() + extra);
    for f in fields {
        match f {
            DocField::Str(k, v) => {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
            DocField::Int(k, v) => {
                out.bulk(k.as_bytes());
                out.int(*v);
            }
            DocField::Flags(k, flags) => {
                out.bulk(k.as_bytes());
                out.set(flags.len());
                for f in *flags {
                    out.simple(f.as_bytes());
                }
            }
            DocField::Args(args) => {
                out.bulk(b"arguments");
                out.array(args.len());
                for a in *args {
                    doc_fields(out, a, 0);
                }
            }
        }
    }
}

/// One command's documentation (Redis's `addReplyCommandDocs`).
fn command_docs(out: &mut Reply, c: &Command) {
    let fields = super::super::docs::DOCS
        .iter()
        .find(|(name, _)| *name == c.name)
        .map_or(&[][..], |(_, f)| *f);
    let subs = !c.subcommands.is_empty();
    doc_fields(out, fields, subs as usize);
    if subs {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for sub in c.subcommands {
            out.bulk(sub.name.as_bytes());
            command_docs(out, sub);
        }
    }
}

/// COMMAND DOCS [command-name ...]
fn docs(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let names = args.rest();
    let found: Vec<&Command> = if names.is_empty() {
        all_commands().collect()
    } else {
        names.iter().filter_map(lookup_full).collect()
    };
    ctx.out.map(found.len());
    for c in found {
        ctx.out.bulk(c.name.as_bytes());
        command_docs(ctx.out, c);
    }
    Ok(())
}

fn names(out: &mut Reply, bits: u32, table: &[&str], prefix: &str) {
    let n = (0..table.len()).filter(|i| bits & (1 << i) != 0).count();
    out.set(n);
    for (i, name) in table.iter().enumerate() {
        if bits & (1 << i) != 0 {
            out.simple(format!("{prefix}{name}").as_bytes());
        }
    }
}

fn key_spec(out: &mut Reply, spec: &KeySpec) {
    out.map(3 + spec.notes.is_some() as usize);
    if let Some(notes) = spec.notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    out.set(spec.flags.len());
    for f in spec.flags {
        out.simple(f.as_bytes());
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin {
        Begin::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        Begin::Keyword(word, start) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(word.as_bytes());
            out.bulk(b"startfrom");
            out.int(start as i64);
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    let (kind, fields) = match spec.find {
        Find::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
            return;
        }
        Find::Range(last, step, limit) => (
            "range",
            [("lastkey", last), ("keystep", step), ("limit", limit)],
        ),
        Find::Keynum(idx, first, step) => (
            "keynum",
            [("keynumidx", idx), ("firstkey", first), ("keystep", step)],
        ),
    };
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(3);
    for (name, v) in fields {
        out.bulk(name.as_bytes());
        out.int(v as i64);
    }
}

/// One command's entry, as Redis's `addReplyCommandInfo`.
pub fn command_info(out: &mut Reply, c: &Command) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    names(out, c.all_flags(), &NAMES, "");
    let ((first, last, step), _) = c.legacy_range();
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    names(out, c.acl_categories(), &acl::NAMES, "@");
    out.set(c.tips.len());
    for t in c.tips {
        out.bulk(t.as_bytes());
    }
    out.set(c.key_specs.len());
    for spec in c.key_specs {
        key_spec(out, spec);
    }
    out.set(c.subcommands.len());
    for sub in c.subcommands {
        command_info(out, sub);
    }
}

/// COMMAND
fn command(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let all: Vec<&Command> = all_commands().collect();
    ctx.out.array(all.len());
    for c in all {
        command_info(ctx.out, c);
    }
    Ok(())
}

/// COMMAND INFO [command-name ...]
fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let names = args.rest();
    if names.is_empty() {
        return command(ctx, args);
    }
    ctx.out.array(names.len());
    for name in names.iter() {
        match lookup_full(name) {
            Some(c) => command_info(ctx.out, c),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND COUNT
fn count(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.out.int(all_commands().count() as i64);
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let filter: Box<dyn Fn(&Command) -> bool> = match args.remaining() {
        0 => Box::new(|_| true),
        3 => {
            if !is(args.arg(), "filterby") {
                return Err(errors::SYNTAX.into());
            }
            let kind = args.arg();
            let value = args.arg();
            if is(kind, "module") {
                Box::new(|_| false)
            } else if is(kind, "aclcat") {
                let bit = acl::NAMES
                    .iter()
                    .position(|n| n.as_bytes().eq_ignore_ascii_case(value))
                    .map_or(0, |i| 1u32 << i);
                Box::new(move |c| c.acl_categories() & bit != 0)
            } else if is(kind, "pattern") {
                let p = Pattern::new(value, true);
                Box::new(move |c| p.matches(c.name.as_bytes()))
            } else {
                return Err(errors::SYNTAX.into());
            }
        }
        _ => return Err(errors::SYNTAX.into()),
    };
    let at = ctx.out.defer();
    let mut n = 0;
    for c in all_commands() {
        for c in std::iter::once(c).chain(c.subcommands) {
            if filter(c) {
                ctx.out.bulk(c.name.as_bytes());
                n += 1;
            }
        }
    }
    ctx.out.finish(at, Aggregate::Array, n);
    Ok(())
}

/// The keys of a command line and the flags of the key spec that found
/// each, as Redis's `getKeysFromCommandWithSpecs` for index/range specs.
/// A key and the flags of the key spec that found it.
type KeyAndFlags<'a> = (&'a [u8], &'static [&'static str]);

fn keys_of<'a>(args: &mut Args<'a>) -> Result<Vec<KeyAndFlags<'a>>, errors::Error> {
    let line = args.rest();
    let name = line.get(0).unwrap_or_default();
    let mut cmd =
        super::super::lookup(name).ok_or(errors::Error::Static(errors::INVALID_COMMAND))?;
    if !cmd.subcommands.is_empty() && line.len() >= 2 {
        cmd = cmd
            .subcommand(line.get(1).unwrap_or_default())
            .ok_or(errors::Error::Static(errors::INVALID_COMMAND))?;
    }
    if cmd.key_specs.is_empty() {
        return Err(errors::NO_KEY_ARGUMENTS.into());
    }
    let argc = line.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(errors::INVALID_ARGUMENT_COUNT.into());
    }
    let cmdline = if cmd.name.contains('|') {
        line.from(1)
    } else {
        line
    };
    // No keys found: an error, unless the command may have none.
    let positions = match cmd.key_positions(line, true) {
        Some(p) if !p.is_empty() => p,
        _ if cmd.flags & super::super::flags::NO_MANDATORY_KEYS != 0 => Default::default(),
        _ => return Err(errors::INVALID_ARGUMENTS.into()),
    };
    let keys = positions
        .iter()
        .map(|&(i, n)| {
            let spec = &cmd.key_specs[n];
            let flags = match cmd.key_flags {
                Some(f) if spec.flags.contains(&"variable_flags") => f(cmdline),
                _ => spec.flags,
            };
            (line.get(i).unwrap_or_default(), flags)
        })
        .collect();
    Ok(keys)
}

/// COMMAND GETKEYS command [arg ...]
fn getkeys(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let keys = keys_of(args)?;
    ctx.out.array(keys.len());
    for (k, _) in keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
fn getkeysandflags(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let keys = keys_of(args)?;
    ctx.out.array(keys.len());
    for (k, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(k);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f.as_bytes());
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

/// COMMAND HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::super::help(ctx, args, HELP)
}
