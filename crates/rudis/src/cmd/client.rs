//! CLIENT and its subcommands (Redis's "connection" group).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::connection::valid_client_name;
use super::flags::*;
use super::{acl, all_indexed, is, parse_int_in, row, Args, Command, Ctx};
use crate::client::ClientHandle;
use crate::errors::{self, CmdResult, Error};

pub static COMMANDS: &[Command] = &[row("client", -2, 0, |_, _| Ok(())).subs(SUBS)];

const ADMIN_CONN: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const CONN: u32 = NOSCRIPT | LOADING | STALE;

static SUBS: &[Command] = &[
    row("client|getname", 2, CONN, getname).acl(acl::CONNECTION),
    row("client|id", 2, CONN, id).acl(acl::CONNECTION),
    row("client|setname", 3, CONN, setname).acl(acl::CONNECTION),
    row("client|setinfo", 4, CONN, setinfo).acl(acl::CONNECTION),
    row("client|pause", -3, ADMIN_CONN, pause).acl(acl::CONNECTION),
    row("client|info", 2, CONN, info)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output"]),
    row("client|list", -2, ADMIN_CONN, list)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output"]),
    row("client|help", 2, LOADING | STALE, help).acl(acl::CONNECTION),
    row("client|kill", -3, ADMIN_CONN, kill).acl(acl::CONNECTION),
    row("client|unpause", 2, ADMIN_CONN, unpause).acl(acl::CONNECTION),
    row("client|unblock", -3, ADMIN_CONN, unblock).acl(acl::CONNECTION),
    row("client|reply", 3, CONN, reply).acl(acl::CONNECTION),
    row("client|no-evict", 3, ADMIN_CONN, no_evict).acl(acl::CONNECTION),
    row("client|no-touch", 3, CONN, no_touch).acl(acl::CONNECTION),
    row("client|tracking", -3, CONN, tracking).acl(acl::CONNECTION),
    row("client|caching", 3, CONN, caching).acl(acl::CONNECTION),
    row("client|getredir", 2, CONN, getredir).acl(acl::CONNECTION),
    row("client|trackinginfo", 2, CONN, trackinginfo).acl(acl::CONNECTION),
];

/// The name of a command statistics index (CLIENT LIST's `cmd=`).
fn command_name(index_plus_one: usize) -> &'static str {
    index_plus_one
        .checked_sub(1)
        .and_then(|i| all_indexed().into_iter().find(|(_, j)| *j == i))
        .map_or("NULL", |(c, _)| c.name)
}

/// One client's CLIENT LIST line, fields as Redis 7.2 prints them (7.0's
/// plus lib-name and lib-ver). `argv_mem` is the bytes of the command the
/// client is running (only the caller is running one).
pub fn client_line(h: &ClientHandle, argv_mem: usize) -> String {
    let age = h.created.elapsed().as_secs();
    let idle_ms = crate::db::now_ms().saturating_sub(h.last_active.load(Relaxed));
    let mut flags = String::new();
    if h.subscriptions() > 0 {
        flags.push('P');
    }
    let multi = h.multi.load(Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if h.blocked.lock().is_some() || h.paused.load(Relaxed) {
        flags.push('b');
    }
    {
        use crate::tracking::flag;
        let t = &h.tracking;
        for (f, c) in [
            (flag::ON, 't'),
            (flag::BROKEN_REDIR, 'R'),
            (flag::BCAST, 'B'),
        ] {
            if t.has(f) {
                flags.push(c);
            }
        }
    }
    if h.watch.is_dirty() {
        flags.push('d');
    }
    if h.addr.is_unix() {
        flags.push('U');
    }
    if h.no_evict.load(Relaxed) {
        flags.push('e');
    }
    if h.no_touch.load(Relaxed) {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let name = h.name.lock().clone().unwrap_or_default();
    let qbuf = h.query_buffer.load(Relaxed);
    let qcap = h.query_capacity.load(Relaxed);
    let obl = h.output_buffer.load(Relaxed);
    let omem = h.outbox.pending();
    let (sub, psub, ssub) = {
        let s = h.subs.lock();
        (s.channels.len(), s.patterns.len(), s.shard.len())
    };
    let mut line = String::new();
    let _ = writeln!(
        line,
        "id={} addr={} laddr={} fd={} name={} age={age} idle={} flags={flags} db={} sub={sub} psub={psub} ssub={ssub} multi={multi} qbuf={qbuf} qbuf-free={} argv-mem={argv_mem} multi-mem=0 rbs={qcap} rbp={qcap} obl={obl} oll=0 omem={omem} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        h.fd,
        String::from_utf8_lossy(&name),
        idle_ms / 1000,
        h.db.load(Relaxed),
        qcap.saturating_sub(qbuf),
        crate::evict::client_memory(h) + argv_mem,
        command_name(h.last_cmd.load(Relaxed)),
        String::from_utf8_lossy(&h.user.lock()),
        redirect_of(h),
        h.resp.load(Relaxed),
        String::from_utf8_lossy(&h.lib_name.lock()),
        String::from_utf8_lossy(&h.lib_ver.lock()),
    );
    line
}

/// Redis's client types a filter names: normal or pubsub (a client with
/// subscriptions), or one rudis has no client of (master, replica).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Pubsub,
    None,
}

impl ClientType {
    fn admits(self, h: &ClientHandle) -> bool {
        match self {
            ClientType::Normal => h.subscriptions() == 0,
            ClientType::Pubsub => h.subscriptions() > 0,
            ClientType::None => false,
        }
    }
}

fn client_type(name: &[u8]) -> Result<ClientType, Error> {
    let n = name.to_ascii_lowercase();
    match n.as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"pubsub" => Ok(ClientType::Pubsub),
        b"master" | b"slave" | b"replica" => Ok(ClientType::None),
        _ => Err(Error::from(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// CLIENT ID
fn id(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// CLIENT GETNAME
fn getname(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    match ctx.client.handle.name.lock().as_ref() {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// CLIENT SETNAME connection-name
fn setname(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let name = args.arg();
    if !valid_client_name(name) {
        return Err(errors::BAD_CLIENT_NAME.into());
    }
    *ctx.client.handle.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
fn setinfo(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (attr, value) = (args.arg(), args.arg());
    let target = if is(attr, "lib-name") {
        &ctx.client.handle.lib_name
    } else if is(attr, "lib-ver") {
        &ctx.client.handle.lib_ver
    } else {
        return Err(Error::from(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    if !valid_client_name(value) {
        return Err(Error::from(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&attr.to_ascii_lowercase())
        )));
    }
    *target.lock() = value.to_vec();
    ctx.out.ok();
    Ok(())
}

/// Bytes of the arguments of the running command.
fn argv_mem(args: &Args) -> usize {
    args.argv().iter().map(<[u8]>::len).sum()
}

/// CLIENT INFO
fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let line = client_line(&ctx.client.handle, argv_mem(args));
    ctx.out.verbatim(b"txt", line.as_bytes());
    Ok(())
}

/// CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]
fn list(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let own_argv = argv_mem(args);
    let rest: Vec<&[u8]> = args.rest().iter().collect();
    let mut normal_only = None;
    let mut ids: Option<Vec<u64>> = None;
    match rest.as_slice() {
        [] => {}
        [t, name] if is(t, "type") => normal_only = Some(client_type(name)?),
        [i, list @ ..] if is(i, "id") && !list.is_empty() => {
            let parsed: Result<Vec<u64>, Error> = list
                .iter()
                .map(|a| {
                    parse_int_in(a, 1, i64::MAX, Some("ERR Invalid client ID")).map(|v| v as u64)
                })
                .collect();
            ids = Some(parsed?);
        }
        _ => return Err(errors::SYNTAX.into()),
    }
    let clients: Vec<_> = ctx.server.clients.lock().values().cloned().collect();
    let mut text = String::new();
    for h in clients {
        if normal_only.is_some_and(|t| !t.admits(&h))
            || ids.as_ref().is_some_and(|ids| !ids.contains(&h.id))
        {
            continue;
        }
        let argv = if h.id == ctx.client.id { own_argv } else { 0 };
        text.push_str(&client_line(&h, argv));
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port
/// CLIENT KILL <ID client-id | TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB> |
///   USER username | ADDR ip:port | LADDR ip:port | SKIPME <YES | NO>> [...]
fn kill(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let rest: Vec<&[u8]> = args.rest().iter().collect();
    let old_form = rest.len() == 1;
    let mut addr: Option<&[u8]> = None;
    let mut laddr: Option<&[u8]> = None;
    let mut id = None;
    let mut normal_only = None;
    let mut skipme = !old_form;
    let mut user: Option<&[u8]> = None;
    if old_form {
        addr = Some(rest[0]);
    } else {
        let mut i = 0;
        while i < rest.len() {
            let Some(value) = rest.get(i + 1) else {
                return Err(errors::SYNTAX.into());
            };
            let opt = rest[i];
            if is(opt, "id") {
                id = Some(parse_int_in(
                    value,
                    1,
                    i64::MAX,
                    Some("ERR client-id should be greater than 0"),
                )? as u64);
            } else if is(opt, "type") {
                normal_only = Some(client_type(value)?);
            } else if is(opt, "addr") {
                addr = Some(value);
            } else if is(opt, "laddr") {
                laddr = Some(value);
            } else if is(opt, "user") {
                if ctx.server.acl.get(value).is_none() {
                    return Err(Error::from(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
                user = Some(*value);
            } else if is(opt, "skipme") {
                skipme = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return Err(errors::SYNTAX.into());
                };
            } else {
                return Err(errors::SYNTAX.into());
            }
            i += 2;
        }
    }
    let clients: Vec<_> = ctx.server.clients.lock().values().cloned().collect();
    let mut killed = 0;
    for h in clients {
        let me = h.id == ctx.client.id;
        let matches = addr.is_none_or(|a| a == h.addr.to_string().as_bytes())
            && laddr.is_none_or(|a| a == h.laddr.to_string().as_bytes())
            && normal_only.is_none_or(|t| t.admits(&h))
            && id.is_none_or(|i| i == h.id)
            && user.is_none_or(|u| *h.user.lock() == u)
            && !(me && skipme);
        if !matches {
            continue;
        }
        if me {
            ctx.client.close_after_reply = true;
        } else {
            h.kill();
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(errors::NO_SUCH_CLIENT.into());
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed);
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE | ALL]
fn pause(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let typed = args.argv().get(1).unwrap_or_default();
    let ms = resp::num::parse_i64(args.arg()).ok_or(Error::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let all = match (args.next_arg(), args.remaining()) {
        (None, _) => true,
        (Some(m), 0) if is(m, "all") => true,
        (Some(m), 0) if is(m, "write") => false,
        (Some(_), 0) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
        _ => return Err(errors::subcommand_syntax(typed, b"CLIENT")),
    };
    ctx.server
        .pause(Instant::now() + Duration::from_millis(ms as u64), all);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
fn unpause(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.server.unpause();
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY <ON | OFF | SKIP>
fn reply(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let mode = args.arg();
    let r = &mut ctx.client.reply_mode;
    if is(mode, "on") {
        // Cleared before replying, so this OK is sent even when skipped.
        r.off = false;
        r.skip = false;
        ctx.out.ok();
    } else if is(mode, "off") {
        r.off = true;
    } else if is(mode, "skip") {
        if !r.off {
            r.skip_next = true;
        }
    } else {
        return Err(errors::SYNTAX.into());
    }
    Ok(())
}

/// An ON | OFF argument.
fn on_off(v: &[u8]) -> Result<bool, Error> {
    if is(v, "on") {
        Ok(true)
    } else if is(v, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// CLIENT NO-EVICT <ON | OFF>
fn no_evict(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let on = on_off(args.arg())?;
    ctx.client.handle.no_evict.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-TOUCH <ON | OFF>
fn no_touch(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let on = on_off(args.arg())?;
    ctx.client.no_touch = on;
    ctx.client.handle.no_touch.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
];

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
fn unblock(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let id = super::parse_int(args.arg())?;
    let as_error = match args.next_arg() {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return Err(errors::UNBLOCK_REASON.into()),
    };
    let handle = ctx.server.clients.lock().get(&(id as u64)).cloned();
    let waiter = handle.and_then(|h| h.blocked.lock().clone());
    let done = match waiter {
        Some(w) if ctx.server.blocking.claim(&w) => {
            let reply = if as_error {
                let mut r = resp::Reply::new();
                r.error(errors::UNBLOCKED.as_bytes());
                r.as_bytes().to_vec()
            } else {
                w.timeout_reply()
            };
            w.deliver(reply);
            true
        }
        _ => false,
    };
    ctx.out.int(done as i64);
    Ok(())
}

/// CLIENT HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(ctx, args, HELP)
}

/// CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX
///   prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
fn tracking(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    use crate::tracking::flag;
    let mode = args.arg();
    let mut redirect: i64 = 0;
    let mut options = 0;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    while let Some(opt) = args.next_arg() {
        let more = args.remaining() > 0;
        if is(opt, "redirect") && more {
            if redirect != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            redirect = super::parse_int(args.arg())?;
            if !ctx.server.clients.lock().contains_key(&(redirect as u64)) {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
        } else if is(opt, "bcast") {
            options |= flag::BCAST;
        } else if is(opt, "optin") {
            options |= flag::OPTIN;
        } else if is(opt, "optout") {
            options |= flag::OPTOUT;
        } else if is(opt, "noloop") {
            options |= flag::NOLOOP;
        } else if is(opt, "prefix") && more {
            prefixes.push(args.arg());
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let handle = ctx.client.handle.clone();
    let t = &handle.tracking;
    if is(mode, "on") {
        if options & flag::BCAST == 0 && !prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        if t.on() && t.has(flag::BCAST) != (options & flag::BCAST != 0) {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if options & flag::BCAST != 0 && options & (flag::OPTIN | flag::OPTOUT) != 0 {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if options & flag::OPTIN != 0 && options & flag::OPTOUT != 0 {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if (options & flag::OPTIN != 0 && t.has(flag::OPTOUT))
            || (options & flag::OPTOUT != 0 && t.has(flag::OPTIN))
        {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if options & flag::BCAST != 0 {
            check_prefixes(&t.prefixes.lock(), &prefixes)?;
        }
        ctx.server
            .tracking
            .enable(&handle, redirect as u64, options, &prefixes);
    } else if is(mode, "off") {
        ctx.server.tracking.disable(&handle);
        ctx.client.caching = false;
    } else {
        return Err(errors::SYNTAX.into());
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's `checkPrefixCollisionsOrReply`: no prefix may be a prefix of
/// another, among the new ones or against the client's.
fn check_prefixes(existing: &[Vec<u8>], new: &[&[u8]]) -> CmdResult {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(Error::from(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(e)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(Error::from(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(q)
            )));
        }
    }
    Ok(())
}

/// CLIENT CACHING <YES | NO>
fn caching(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    use crate::tracking::flag;
    let t = &ctx.client.handle.tracking;
    if !t.on() {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    }
    let opt = args.arg();
    if is(opt, "yes") {
        if !t.has(flag::OPTIN) {
            return Err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
                    .into(),
            );
        }
    } else if is(opt, "no") {
        if !t.has(flag::OPTOUT) {
            return Err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
                    .into(),
            );
        }
    } else {
        return Err(errors::SYNTAX.into());
    }
    ctx.client.caching = true;
    ctx.out.ok();
    Ok(())
}

/// The redirection CLIENT GETREDIR and TRACKINGINFO show: -1 without
/// tracking, 0 without redirection.
fn redirect_of(h: &ClientHandle) -> i64 {
    if h.tracking.on() {
        h.tracking.redirect.load(Relaxed) as i64
    } else {
        -1
    }
}

/// CLIENT GETREDIR
fn getredir(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.out.int(redirect_of(&ctx.client.handle));
    Ok(())
}

/// CLIENT TRACKINGINFO
fn trackinginfo(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    use crate::tracking::flag;
    let h = ctx.client.handle.clone();
    let t = &h.tracking;
    let caching = ctx.client.caching;
    let mut flags: Vec<&[u8]> = vec![if t.on() { b"on" } else { b"off" }];
    if t.has(flag::BCAST) {
        flags.push(b"bcast");
    }
    if t.has(flag::OPTIN) {
        flags.push(b"optin");
        if caching {
            flags.push(b"caching-yes");
        }
    }
    if t.has(flag::OPTOUT) {
        flags.push(b"optout");
        if caching {
            flags.push(b"caching-no");
        }
    }
    if t.has(flag::NOLOOP) {
        flags.push(b"noloop");
    }
    if t.has(flag::BROKEN_REDIR) {
        flags.push(b"broken_redirect");
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f);
    }
    out.bulk(b"redirect");
    out.int(redirect_of(&h));
    out.bulk(b"prefixes");
    let prefixes = t.prefixes.lock();
    out.array(prefixes.len());
    for p in prefixes.iter() {
        out.bulk(p);
    }
    Ok(())
}
