//! Connection commands.

use super::acl;
use super::flags::*;
use super::{is, parse_db_index, row, Args, Command, Ctx};
use crate::config::REDIS_VERSION;
use crate::errors::{self, CmdResult, Error};

pub static COMMANDS: &[Command] = &[
    row("ping", -1, FAST, ping)
        .acl(acl::CONNECTION)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    row("echo", 2, LOADING | STALE | FAST, echo).acl(acl::CONNECTION),
    row(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        quit,
    )
    .acl(acl::CONNECTION),
    row("select", 2, LOADING | STALE | FAST, select).acl(acl::CONNECTION),
    row(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        auth,
    )
    .acl(acl::CONNECTION),
    row(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        hello,
    )
    .acl(acl::CONNECTION),
    row(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        reset,
    )
    .acl(acl::CONNECTION),
];

/// PING [message]
fn ping(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let msg = args.next_arg();
    if args.remaining() > 0 {
        return Err(errors::wrong_arity(ctx.cmd.name));
    }
    // A subscribed RESP2 client gets an array (its replies must look
    // like messages).
    if ctx.client.handle.subscriptions() > 0 && !ctx.out.resp3() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(msg.unwrap_or_default());
        return Ok(());
    }
    match msg {
        None => ctx.out.simple(b"PONG"),
        Some(msg) => ctx.out.bulk(msg),
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

/// Redis's `ACLAuthenticateUser`: logs the client in as `user`, or logs
/// the failure in the ACL LOG.
fn authenticate(ctx: &mut Ctx, typed: &[u8], user: &[u8], pass: &[u8]) -> CmdResult {
    let acl = &ctx.server.acl;
    match acl.get(user).filter(|u| u.password_ok(pass)) {
        Some(u) => {
            ctx.client.authenticated = true;
            ctx.client.set_user(acl, u);
            Ok(())
        }
        None => {
            let context = if ctx.client.multi.is_some() {
                crate::acl::log::Context::Multi
            } else {
                crate::acl::log::Context::TopLevel
            };
            let info = super::client::client_line(&ctx.client.handle, 0);
            // The object is the command as the client typed it.
            acl.log.add("auth", context, typed, user, info);
            Err(errors::WRONGPASS.into())
        }
    }
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let rest: Vec<&[u8]> = args.rest().iter().collect();
    let (user, pass): (&[u8], &[u8]) = match rest[..] {
        [pass] => {
            if ctx.server.acl.default_user().nopass {
                return Err(errors::AUTH_NO_PASSWORD.into());
            }
            (b"default", pass)
        }
        [user, pass] => (user, pass),
        _ => return Err(errors::SYNTAX.into()),
    };
    authenticate(ctx, args.argv().get(0).unwrap_or_default(), user, pass)?;
    ctx.out.ok();
    Ok(())
}

/// Redis's `validateClientName`: printable ASCII without spaces.
pub fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let mut version = None;
    if let Some(v) = args.next_arg() {
        let v = resp::num::parse_i64(v).ok_or(Error::Static(errors::PROTO_NOT_INTEGER))?;
        if !(2..=3).contains(&v) {
            return Err(errors::NOPROTO.into());
        }
        version = Some(v);
    }
    let mut credentials = None;
    let mut name = None;
    while let Some(opt) = args.next_arg() {
        if is(opt, "auth") && args.remaining() >= 2 {
            credentials = Some((args.arg(), args.arg()));
        } else if is(opt, "setname") && args.remaining() >= 1 {
            let n = args.arg();
            if !valid_client_name(n) {
                return Err(errors::BAD_CLIENT_NAME.into());
            }
            name = Some(n);
        } else {
            return Err(errors::hello_option(opt));
        }
    }
    if let Some((user, pass)) = credentials {
        authenticate(ctx, args.argv().get(0).unwrap_or_default(), user, pass)?;
    }
    if ctx.client.must_auth(ctx.server.acl.auth_required()) {
        return Err(errors::NOAUTH_HELLO.into());
    }
    if let Some(n) = name {
        *ctx.client.handle.name.lock() = (!n.is_empty()).then(|| n.to_vec());
    }
    if let Some(v) = version {
        ctx.out.set_resp3(v == 3);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// RESET
fn reset(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &mut *ctx.client;
    c.db = 0;
    c.reply_mode = crate::client::ReplyMode::default();
    c.authenticated = !ctx.server.acl.auth_required();
    c.set_user(&ctx.server.acl, ctx.server.acl.default_user());
    *c.handle.name.lock() = None;
    c.handle.no_evict.store(false, Relaxed);
    c.no_touch = false;
    c.handle.no_touch.store(false, Relaxed);
    if std::mem::take(&mut c.monitor) {
        ctx.server.observers.remove_monitor(c.id);
    }
    super::multi::discard_transaction(ctx.server, ctx.client);
    super::pubsub::unsubscribe_all(ctx.server, &ctx.client.handle);
    ctx.server.tracking.disable(&ctx.client.handle);
    ctx.client.caching = false;
    ctx.out.set_resp3(false);
    ctx.out.simple(b"RESET");
    Ok(())
}
