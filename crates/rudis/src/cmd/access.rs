//! ACL and its subcommands (Redis's "server" group).

use std::sync::Arc;

use super::flags::*;
use super::{acl as cat, is, row, Args, Command, Ctx};
use crate::acl::{self, rules::Denied, User};
use crate::client::ClientHandle;
use crate::errors::{self, CmdResult, Error};
use crate::server::Server;

pub static COMMANDS: &[Command] = &[row("acl", -2, 0, |_, _| Ok(())).subs(SUBS)];

const ADMIN_ACL: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const ACL: u32 = NOSCRIPT | LOADING | STALE;

static SUBS: &[Command] = &[
    row("acl|cat", -2, ACL, cat_),
    row("acl|deluser", -3, ADMIN_ACL, deluser),
    row("acl|dryrun", -4, ADMIN_ACL, dryrun),
    row("acl|genpass", -2, ACL, genpass),
    row("acl|getuser", 3, ADMIN_ACL, getuser),
    row("acl|help", 2, LOADING | STALE, help),
    row("acl|list", 2, ADMIN_ACL, list),
    row("acl|load", 2, ADMIN_ACL, load),
    row("acl|log", -2, ADMIN_ACL, log),
    row("acl|save", 2, ADMIN_ACL, save),
    row("acl|setuser", -3, ADMIN_ACL, setuser),
    row("acl|users", 2, ADMIN_ACL, users),
    row("acl|whoami", 2, ACL, whoami),
];

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Closes the connections `doomed` picks; the caller's own closes once
/// its reply is out (Redis's `ACLFreeUserAndKillClients`).
fn kill_clients(ctx: &mut Ctx, doomed: impl Fn(&ClientHandle) -> bool) {
    let clients: Vec<_> = ctx.server.clients.lock().values().cloned().collect();
    for h in clients {
        if doomed(&h) {
            if h.id == ctx.client.id {
                ctx.client.close_after_reply = true;
            } else {
                h.kill();
            }
        }
    }
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: subscribers of the user whose
/// subscriptions its new rules no longer allow are disconnected.
fn kill_revoked_subscribers(ctx: &mut Ctx, user: &User) {
    if user.selectors.iter().any(|s| s.all_channels) {
        return;
    }
    let allowed = |name: &[u8], pattern: bool| {
        user.selectors
            .iter()
            .any(|s| s.channel_allowed(name, pattern))
    };
    kill_clients(ctx, |h| {
        if h.subscriptions() == 0 || *h.user.lock() != user.name {
            return false;
        }
        let s = h.subs.lock();
        s.patterns.iter().any(|p| !allowed(p, true))
            || s.channels.iter().any(|c| !allowed(c, false))
            || s.shard.iter().any(|c| !allowed(c, false))
    });
}

/// Redis accepts at most `max` arguments after the subcommand, and
/// answers more with its subcommand syntax error.
fn at_most(args: &Args, max: usize) -> CmdResult {
    if args.remaining() > max {
        let argv = args.argv();
        return Err(errors::subcommand_syntax(
            argv.get(1).unwrap_or_default(),
            &argv.get(0).unwrap_or_default().to_ascii_uppercase(),
        ));
    }
    Ok(())
}

/// ACL SETUSER username [rule [rule ...]]
fn setuser(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let name = args.arg();
    if !acl::valid_name(name) {
        return Err(Error::Static(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let words: Vec<&[u8]> = args.rest().iter().collect();
    let rules = acl::merge_selectors(&words).map_err(|i| {
        Error::from(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(words[i])
        ))
    })?;
    let (old, new) = ctx.server.acl.set_user(name, &rules).map_err(|(r, e)| {
        Error::from(format!(
            "ERR Error in ACL SETUSER modifier '{}': {}",
            String::from_utf8_lossy(&r),
            e.text()
        ))
    })?;
    if old.is_some() {
        kill_revoked_subscribers(ctx, &new);
    }
    ctx.out.ok();
    Ok(())
}

/// ACL DELUSER username [username ...]
fn deluser(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let names: Vec<&[u8]> = args.rest().iter().collect();
    if names.iter().any(|n| *n == b"default") {
        return Err(Error::Static("ERR The 'default' user cannot be removed"));
    }
    let gone = ctx.server.acl.delete(&names);
    kill_clients(ctx, |h| gone.contains(&*h.user.lock()));
    ctx.out.int(gone.len() as i64);
    Ok(())
}

/// ACL GETUSER username
fn getuser(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let Some(u) = ctx.server.acl.get(args.arg()) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    let root = &u.selectors[0];
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    out.bulk(b"commands");
    out.bulk(root.describe_commands().as_bytes());
    out.bulk(b"keys");
    out.bulk(root.describe_keys().as_bytes());
    out.bulk(b"channels");
    out.bulk(root.describe_channels().as_bytes());
    out.bulk(b"selectors");
    out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map(3);
        out.bulk(b"commands");
        out.bulk(s.describe_commands().as_bytes());
        out.bulk(b"keys");
        out.bulk(s.describe_keys().as_bytes());
        out.bulk(b"channels");
        out.bulk(s.describe_channels().as_bytes());
    }
    Ok(())
}

/// ACL LIST
fn list(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let users = ctx.server.acl.all();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(u.describe().as_bytes());
    }
    Ok(())
}

/// ACL USERS
fn users(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let names = ctx.server.acl.names();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

/// ACL WHOAMI
fn whoami(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let name = ctx.client.user.user.name.clone();
    ctx.out.bulk(&name);
    Ok(())
}

/// ACL CAT [category]
fn cat_(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    at_most(args, 1)?;
    let Some(name) = args.next_arg() else {
        ctx.out.array(cat::NAMES.len());
        for n in cat::NAMES {
            ctx.out.bulk(n.as_bytes());
        }
        return Ok(());
    };
    let Some(i) = cat::NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
    else {
        return Err(Error::from(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(name)
        )));
    };
    let bit = 1u32 << i;
    let names: Vec<&str> = super::all_commands()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands))
        .filter(|c| c.acl_categories() & bit != 0)
        .map(|c| c.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// ACL GENPASS [bits]
fn genpass(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    at_most(args, 1)?;
    let bits = match args.next_arg() {
        None => 256,
        Some(a) => Some(super::parse_int(a)?).filter(|b| (1..=4096).contains(b)).ok_or(
            Error::Static("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        )?,
    };
    let chars = (bits as usize).div_ceil(4);
    let hex: Vec<u8> = (0..chars)
        .map(|_| b"0123456789abcdef"[rand::random::<u8>() as usize % 16])
        .collect();
    ctx.out.bulk(&hex);
    Ok(())
}

/// ACL DRYRUN username command [arg [arg ...]]
fn dryrun(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let name = args.arg();
    let Some(u) = ctx.server.acl.get(name) else {
        return Err(Error::from(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(name)
        )));
    };
    let line = args.rest();
    let Some((cmd, index)) = super::resolve(line) else {
        return Err(Error::from(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(line.get(0).unwrap_or_default())
        )));
    };
    let argc = line.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(errors::wrong_arity(cmd.name));
    }
    match u.check(cmd, index, line) {
        Ok(()) => ctx.out.ok(),
        Err(d) => {
            let text = match d {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    cmd.name
                ),
                Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    String::from_utf8_lossy(line.get(i).unwrap_or_default())
                ),
                Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    String::from_utf8_lossy(line.get(i).unwrap_or_default())
                ),
            };
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

/// ACL LOG [count | RESET]
fn log(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    at_most(args, 1)?;
    let mut count = 10;
    if let Some(a) = args.next_arg() {
        if is(a, "reset") {
            ctx.server.acl.log.reset();
            ctx.out.ok();
            return Ok(());
        }
        count = super::parse_int(a)?.max(0) as usize;
    }
    ctx.server.acl.log.reply(ctx.out, count);
    Ok(())
}

fn acl_file(server: &Server) -> Option<String> {
    let path = server.config.read().aclfile.clone();
    (!path.is_empty()).then_some(path)
}

/// ACL SAVE
fn save(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let path = acl_file(ctx.server).ok_or(Error::Static(NO_ACL_FILE))?;
    if let Err(e) = acl::file::save(&path, &ctx.server.acl.all()) {
        tracing::warn!("Failed saving ACL file {path}: {e}");
        return Err(Error::Static("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out.ok();
    Ok(())
}

/// ACL LOAD
fn load(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let path = acl_file(ctx.server).ok_or(Error::Static(NO_ACL_FILE))?;
    let all_channels = ctx.server.config.read().acl_pubsub_all;
    let users =
        acl::file::load(&path, all_channels).map_err(|e| Error::from(format!("ERR {e}")))?;
    let users: std::collections::BTreeMap<Vec<u8>, Arc<User>> = users;
    ctx.server.acl.replace(users);
    // Every user but the default one is new: their connections go.
    kill_clients(ctx, |h| *h.user.lock() != b"default");
    ctx.out.ok();
    Ok(())
}

/// ACL HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(
        ctx,
        args,
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    )
}
