//! XINFO STREAM, GROUPS, CONSUMERS and HELP.

use resp::Reply;

use super::super::flags::*;
use super::super::{acl, help, is, row, Args, Command, Ctx, KeySpec};
use super::{reply_entry, reply_id, stream_at};
use crate::db::stream::{Group, Stream, StreamId};
use crate::errors::{CmdResult, Error};

pub static COMMANDS: &[Command] = &[row("xinfo", -2, 0, |_, _| Ok(())).subs(XINFO)];

static XINFO: &[Command] = &[
    row("xinfo|consumers", 4, READONLY, xinfo_consumers)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(2, &["RO", "access"])]),
    row("xinfo|stream", -3, READONLY, xinfo_stream)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RO", "access"])]),
    row("xinfo|groups", 3, READONLY, xinfo_groups)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RO", "access"])]),
    row("xinfo|help", 2, LOADING | STALE, xinfo_help).acl(acl::STREAM),
];

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// XINFO HELP
fn xinfo_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    help(ctx, args, XINFO_HELP)
}

fn syntax(args: &Args) -> Error {
    let sub = args.argv().get(1).unwrap_or_default();
    Error::Owned(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(sub)
        )
        .into_bytes(),
    )
}

/// The stream XINFO asks about: ERR no such key if missing.
fn info_stream<'t>(
    t: &'t mut crate::db::Table,
    key: &[u8],
    now: crate::db::Clock,
) -> Result<&'t Stream, Error> {
    stream_at(t, key, now)?.ok_or(Error::Static("ERR no such key"))
}

/// A group's last-delivered-id, entries-read and lag (null when not
/// known).
fn reply_progress(out: &mut Reply, s: &Stream, g: &Group) {
    out.bulk(b"last-delivered-id");
    reply_id(out, g.last_id);
    out.bulk(b"entries-read");
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
    out.bulk(b"lag");
    match s.lag(g) {
        Some(lag) => out.int(lag as i64),
        None => out.null(),
    }
}

/// XINFO STREAM key [FULL [COUNT count]]
fn xinfo_stream(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let opts = args.rest();
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !is(opts.get(0).unwrap_or_default(), "full") {
            return Err(syntax(args));
        }
        full = true;
        if opts.len() == 3 {
            if !is(opts.get(1).unwrap_or_default(), "count") {
                return Err(syntax(args));
            }
            count = super::super::parse_int(opts.get(2).unwrap_or_default())?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let s = info_stream(ctx.keys.table(ctx.db, key), key, ctx.now)?;
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, last) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            match s.edge(last) {
                Some(e) => reply_entry(out, &e),
                None => out.null(),
            }
        }
        return Ok(());
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    out.bulk(b"entries");
    let entries: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .collect();
    out.array(entries.len());
    for e in &entries {
        reply_entry(out, e);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        reply_progress(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pending.len() as i64);
            out.bulk(b"pending");
            out.array(c.pending.len().min(limit));
            for id in c.pending.iter().take(limit) {
                let nack = &g.pel[id];
                out.array(3);
                reply_id(out, *id);
                out.int(nack.delivery_time as i64);
                out.int(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}

/// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let s = info_stream(ctx.keys.table(ctx.db, key), key, ctx.now)?;
    let out = &mut *ctx.out;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        reply_progress(out, s, g);
    }
    Ok(())
}

/// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, group) = (args.arg(), args.arg());
    let now = ctx.now.ms;
    let s = info_stream(ctx.keys.table(ctx.db, key), key, ctx.now)?;
    let Some(g) = s.groups.get(group) else {
        return Err(Error::Owned(
            format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(key)
            )
            .into_bytes(),
        ));
    };
    let out = &mut *ctx.out;
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pending.len() as i64);
        out.bulk(b"idle");
        out.int((now as i64 - c.seen_time as i64).max(0));
    }
    Ok(())
}
