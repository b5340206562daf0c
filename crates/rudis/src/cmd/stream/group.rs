//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM and
//! XAUTOCLAIM.

use resp::write::Aggregate;
use resp::Reply;

use super::super::flags::*;
use super::super::{acl, help, is, row, Args, Begin, Command, Ctx, Find, KeySpec};
use super::{finish_read, ReadReply, INVALID_ID};
use super::{
    parse_bound, parse_id, parse_read, reply_entry, reply_id, stream_at, stream_mut,
    stream_mut_read,
};
use crate::blocking::GroupRead;
use crate::db::stream::{Group, Stream, StreamId};
use crate::db::{Blob, Value};
use crate::effects::class::STREAM;
use crate::errors::{self, CmdResult, Error};

const AT_2: &[KeySpec] = &[KeySpec::at(2, &["RW", "update"])];

pub static COMMANDS: &[Command] = &[
    row("xgroup", -2, 0, |_, _| Ok(())).subs(XGROUP),
    row(
        "xreadgroup",
        -7,
        WRITE | BLOCKING | MOVABLE_KEYS,
        xreadgroup,
    )
    .acl(acl::STREAM)
    .keys(&[KeySpec::new(
        &["RO", "access"],
        Begin::Keyword("STREAMS", 4),
        Find::Range(-1, 1, 2),
    )]),
    row("xack", -4, WRITE | FAST, xack)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("xpending", -3, READONLY, xpending)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("xclaim", -6, WRITE | FAST, xclaim)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("xautoclaim", -6, WRITE | FAST, xautoclaim)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
];

static XGROUP: &[Command] = &[
    row("xgroup|create", -5, WRITE | DENYOOM, xgroup)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RW", "insert"])]),
    row("xgroup|setid", -5, WRITE, xgroup)
        .acl(acl::STREAM)
        .keys(AT_2),
    row("xgroup|destroy", 4, WRITE, xgroup)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RW", "delete"])]),
    row("xgroup|createconsumer", 5, WRITE | DENYOOM, xgroup)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RW", "insert"])]),
    row("xgroup|delconsumer", 5, WRITE, xgroup)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(2, &["RW", "delete"])]),
    row("xgroup|help", 2, LOADING | STALE, xgroup_help).acl(acl::STREAM),
];

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// XGROUP HELP
fn xgroup_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    help(ctx, args, XGROUP_HELP)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn no_group(key: &[u8], group: &[u8], tail: &str) -> Error {
    Error::Owned(
        format!(
            "NOGROUP No such key '{}' or consumer group '{}'{tail}",
            lossy(key),
            lossy(group)
        )
        .into_bytes(),
    )
}

fn subcommand_syntax(args: &Args) -> Error {
    let sub = args.argv().get(1).unwrap_or_default();
    Error::Owned(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
            lossy(sub)
        )
        .into_bytes(),
    )
}

/// XGROUP CREATE key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]
/// XGROUP SETID key group <id | $> [ENTRIESREAD entries-read]
/// XGROUP DESTROY key group
/// XGROUP CREATECONSUMER key group consumer
/// XGROUP DELCONSUMER key group consumer
fn xgroup(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let argv = args.argv();
    let sub = ctx.cmd.short_name();
    let (key, name) = (args.arg(), args.arg());
    let third = args.arg();
    let (mut mkstream, mut entries_read) = (false, None);
    let (create, setid) = (sub == "create", sub == "setid");
    let mut i = 5;
    while i < argv.len() {
        let a = argv.get(i).unwrap_or_default();
        if create && is(a, "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(a, "entriesread") && i + 1 < argv.len() {
            let v = super::super::parse_int(argv.get(i + 1).unwrap_or_default())?;
            if v < 0 && v != -1 {
                return Err(Error::Static(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            entries_read = u64::try_from(v).ok();
            i += 2;
        } else {
            return Err(subcommand_syntax(args));
        }
    }
    let now = ctx.now;
    let t = ctx.table(key);
    let exists = match t.find(key, now) {
        Some(i) if t.at(i).1.value.as_stream().is_none() => return Err(errors::WRONGTYPE.into()),
        Some(_) => true,
        None => false,
    };
    if !exists && !mkstream {
        return Err(Error::Static(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    if exists && !create && sub != "destroy" {
        let s = stream_mut(t, key, now)?.expect("a stream");
        if !s.groups.contains_key(name) {
            return Err(Error::Owned(
                format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    lossy(name),
                    lossy(key)
                )
                .into_bytes(),
            ));
        }
    }
    match sub {
        "create" => {
            if argv.len() > 8 {
                return Err(subcommand_syntax(args));
            }
            let id = if third == b"$" {
                None
            } else {
                Some(parse_id(third, 0)?)
            };
            let t = ctx.table(key);
            let s = match stream_mut(t, key, now)? {
                Some(s) => s,
                None => {
                    let i = t.add(key, Value::Stream(Box::new(Stream::new())), now);
                    t.at_mut(i).value.as_stream_mut().expect("a stream")
                }
            };
            let id = id.unwrap_or(s.last_id);
            if s.groups.contains_key(name) {
                if !exists {
                    ctx.modified(key, STREAM, "xgroup-create");
                }
                return Err(Error::Static(
                    "BUSYGROUP Consumer Group name already exists",
                ));
            }
            s.groups.insert(name.into(), Group::new(id, entries_read));
            ctx.out.ok();
            if !exists {
                let db = ctx.db;
                ctx.signal_in(db, key);
            }
            ctx.fx.dirty += 1;
            ctx.notify(key, STREAM, "xgroup-create");
        }
        "setid" => {
            if argv.len() != 5 && argv.len() != 7 {
                return Err(subcommand_syntax(args));
            }
            let s = stream_mut(ctx.table(key), key, now)?.expect("a stream");
            let id = if third == b"$" {
                s.last_id
            } else {
                StreamId::parse(third, 0, false).ok_or(Error::Static(INVALID_ID))?
            };
            let g = s.groups.get_mut(name).expect("a group");
            g.last_id = id;
            g.entries_read = entries_read;
            ctx.out.ok();
            ctx.fx.dirty += 1;
            ctx.notify(key, STREAM, "xgroup-setid");
        }
        "destroy" => {
            let s = stream_mut(ctx.table(key), key, now)?.expect("a stream");
            if s.groups.remove(name).is_some() {
                ctx.out.int(1);
                ctx.fx.dirty += 1;
                ctx.notify(key, STREAM, "xgroup-destroy");
                // Its blocked readers get their error.
                ctx.key_ready(key);
            } else {
                ctx.out.int(0);
            }
        }
        "createconsumer" => {
            let s = stream_mut(ctx.table(key), key, now)?.expect("a stream");
            let g = s.groups.get_mut(name).expect("a group");
            let (_, created) = g.consumer(third, now.ms);
            ctx.out.int(created as i64);
            if created {
                ctx.fx.dirty += 1;
                ctx.notify(key, STREAM, "xgroup-createconsumer");
            }
        }
        _ => {
            let s = stream_mut(ctx.table(key), key, now)?.expect("a stream");
            let g = s.groups.get_mut(name).expect("a group");
            match g.remove_consumer(third) {
                Some(pending) => {
                    ctx.out.int(pending as i64);
                    ctx.fx.dirty += 1;
                    ctx.notify(key, STREAM, "xgroup-delconsumer");
                }
                None => ctx.out.int(0),
            }
        }
    }
    Ok(())
}

/// Serves a group read into `out`: with `history` the consumer's
/// pending entries from that ID, else the group's new entries, which
/// become the consumer's pending ones unless `noack`. Returns whether
/// the consumer was created.
#[allow(clippy::too_many_arguments)]
pub fn read_group(
    out: &mut Reply,
    st: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    history: Option<StreamId>,
    count: u64,
    noack: bool,
    now: u64,
) -> bool {
    let Some(mut g) = st.groups.remove(group) else {
        out.array(0);
        return false;
    };
    let (c, created) = g.consumer(consumer, now);
    c.seen_time = now;
    let at = out.defer();
    let mut n = 0u64;
    match history {
        Some(start) => {
            let ids: Vec<StreamId> = g.consumers[consumer]
                .pending
                .range(start..)
                .take(if count == 0 {
                    usize::MAX
                } else {
                    count as usize
                })
                .copied()
                .collect();
            for id in ids {
                match st.get(id) {
                    Some(e) => {
                        reply_entry(out, &e);
                        if let Some(nack) = g.pel.get_mut(&id) {
                            nack.delivery_time = now;
                            nack.delivery_count += 1;
                        }
                    }
                    None => {
                        out.array(2);
                        reply_id(out, id);
                        out.null_array();
                    }
                }
                n += 1;
            }
        }
        None => {
            let start = g.last_id.incr();
            let mut delivered = Vec::new();
            if let Some(start) = start {
                for e in st.range(start, StreamId::MAX, false) {
                    delivered.push(e.id);
                    reply_entry(out, &e);
                    n += 1;
                    if count != 0 && n == count {
                        break;
                    }
                }
            }
            for id in delivered {
                st.advance_group(&mut g, id);
                if !noack {
                    g.deliver(id, consumer, now);
                }
            }
        }
    }
    out.finish(at, Aggregate::Array, n as usize);
    st.groups.insert(group.into(), g);
    created
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
fn xreadgroup(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let r = parse_read(args, true)?;
    let (group, consumer) = r.group.expect("XREADGROUP has a group");
    let now = ctx.now;
    let mut ids = Vec::with_capacity(r.keys.len());
    for (key, a) in r.keys.iter().zip(r.ids.iter()) {
        let s = stream_at(ctx.table(key), key, now)?;
        if s.is_none_or(|s| !s.groups.contains_key(group)) {
            return Err(no_group(key, group, " in XREADGROUP with GROUP option"));
        }
        if a == b"$" {
            return Err(Error::Static(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ));
        }
        // History is read after the ID given; the largest ID reads as `>`
        // (Redis keeps both as one value).
        let id = if a == b">" {
            None
        } else {
            parse_id(a, 0)?.incr()
        };
        ids.push(id);
    }
    let mut reply = ReadReply::default();
    for (key, &id) in r.keys.iter().zip(&ids) {
        let Some(s) = stream_mut_read(ctx.keys.table(ctx.db, key), key, now)? else {
            continue;
        };
        let ready = match id {
            Some(_) => true,
            None => !s.is_empty() && s.last_valid_id() > s.groups[group].last_id,
        };
        if !ready {
            continue;
        }
        reply.begin(ctx.out, key);
        let created = read_group(ctx.out, s, group, consumer, id, r.count, r.noack, now.ms);
        ctx.fx.dirty += 1;
        if created {
            ctx.notify(key, STREAM, "xgroup-createconsumer");
        }
    }
    let after = vec![StreamId::MAX; r.keys.len()];
    let group = GroupRead {
        group: Blob::new(group),
        consumer: Blob::new(consumer),
        noack: r.noack,
    };
    finish_read(ctx, &r, reply, &after, Some(group));
    Ok(())
}

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, group) = (args.arg(), args.arg());
    let ids_arg = args.rest();
    let now = ctx.now;
    let Some(g) = stream_mut_read(ctx.table(key), key, now)?.and_then(|s| s.groups.get_mut(group))
    else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = super::parse_ids(ids_arg)?;
    let mut acked = 0;
    for id in ids {
        acked += g.ack(id) as i64;
    }
    ctx.fx.dirty += acked as u64;
    ctx.out.int(acked);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let argv = args.argv();
    let argc = argv.len();
    let (key, group) = (args.arg(), args.arg());
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(errors::SYNTAX.into());
    }
    let mut range = None;
    if argc >= 6 {
        let mut idx = 3;
        let mut min_idle = 0;
        if is(argv.get(3).unwrap_or_default(), "idle") {
            min_idle = super::super::parse_int(argv.get(4).unwrap_or_default())?;
            if argc < 8 {
                return Err(errors::SYNTAX.into());
            }
            idx += 2;
        }
        let count = super::super::parse_int(argv.get(idx + 2).unwrap_or_default())?.max(0);
        let (mut start, sx) = parse_bound(argv.get(idx).unwrap_or_default(), 0)?;
        if sx {
            start = start
                .incr()
                .ok_or(Error::Static("ERR invalid start ID for the interval"))?;
        }
        let (mut end, ex) = parse_bound(argv.get(idx + 1).unwrap_or_default(), u64::MAX)?;
        if ex {
            end = end
                .decr()
                .ok_or(Error::Static("ERR invalid end ID for the interval"))?;
        }
        let consumer = argv.get(idx + 3);
        if idx + 4 < argc {
            return Err(errors::SYNTAX.into());
        }
        range = Some((min_idle, start, end, count, consumer));
    }
    let now = ctx.now;
    let g = stream_at(ctx.keys.table(ctx.db, key), key, now)?.and_then(|s| s.groups.get(group));
    let Some(g) = g else {
        return Err(no_group(key, group, ""));
    };
    let out = &mut *ctx.out;
    let Some((min_idle, start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((first, _)), Some((last, _))) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let holding: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pending.is_empty())
                    .collect();
                out.array(holding.len());
                for (name, c) in holding {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pending.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pending.range(start..).copied().collect(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None => g.pel.range(start..).map(|(id, _)| *id).collect(),
    };
    let at = out.defer();
    let (mut n, mut left) = (0, count);
    for id in ids {
        if left == 0 || id > end {
            break;
        }
        let nack = &g.pel[&id];
        let idle = now.ms as i64 - nack.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        n += 1;
        left -= 1;
        out.array(4);
        reply_id(out, id);
        out.bulk(&nack.consumer);
        out.int(idle.max(0));
        out.int(nack.delivery_count as i64);
    }
    out.finish(at, Aggregate::Array, n);
    Ok(())
}

fn claim_int(a: &[u8], msg: &'static str) -> Result<i64, Error> {
    resp::num::parse_i64(a).ok_or(Error::Static(msg))
}

/// The group `name` of the stream at `key`, for XCLAIM and XAUTOCLAIM.
fn claim_group<'t>(
    t: &'t mut crate::db::Table,
    key: &[u8],
    name: &[u8],
    now: crate::db::Clock,
) -> Result<&'t mut Stream, Error> {
    match stream_mut_read(t, key, now)? {
        Some(s) if s.groups.contains_key(name) => Ok(s),
        _ => Err(no_group(key, name, "")),
    }
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
fn xclaim(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, group, consumer) = (args.arg(), args.arg(), args.arg());
    let idle_arg = args.arg();
    let rest = args.rest();
    let clock = ctx.now;
    let now = clock.ms;
    claim_group(ctx.keys.table(ctx.db, key), key, group, clock)?;
    let min_idle = claim_int(idle_arg, "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 0;
    while j < rest.len() {
        match StreamId::parse(rest.get(j).unwrap_or_default(), 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < rest.len() {
        let opt = rest.get(j).unwrap_or_default();
        let more = rest.len() - 1 - j;
        let next = rest.get(j + 1).unwrap_or_default();
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery =
                Some(now as i64 - claim_int(next, "ERR Invalid IDLE option argument for XCLAIM")?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(claim_int(
                next,
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(claim_int(
                next,
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_id(next, 0)?;
        } else {
            return Err(Error::Owned(
                format!("ERR Unrecognized XCLAIM option '{}'", lossy(opt)).into_bytes(),
            ));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    // Looked up (and counted) above.
    let s = stream_mut(ctx.keys.table(ctx.db, key), key, clock.quiet())?.expect("a stream");
    let mut g = s.groups.remove(group).expect("a group");
    let mut dirty = 0;
    if last_id > g.last_id {
        g.last_id = last_id;
        dirty += 1;
    }
    let out = &mut *ctx.out;
    let at = out.defer();
    let mut n = 0;
    let mut created = false;
    for id in ids {
        let exists = s.get(id).is_some();
        if !exists {
            if g.ack(id) {
                dirty += 1;
            }
            continue;
        }
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                crate::db::stream::Nack {
                    delivery_time: now,
                    delivery_count: 0,
                    consumer: Box::from(&b""[..]),
                },
            );
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        let orphan = nack.consumer.is_empty() && force;
        if !orphan && min_idle != 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
            continue;
        }
        let (c, new) = g.consumer(consumer, now);
        c.seen_time = now;
        created |= new;
        g.reassign(id, consumer);
        let nack = g.pel.get_mut(&id).expect("pending");
        nack.delivery_time = delivery;
        match retry {
            Some(r) if r >= 0 => nack.delivery_count = r as u64,
            _ if !justid => nack.delivery_count += 1,
            _ => {}
        }
        if justid {
            reply_id(out, id);
        } else if let Some(e) = s.get(id) {
            reply_entry(out, &e);
        }
        n += 1;
        dirty += 1;
    }
    out.finish(at, Aggregate::Array, n);
    s.groups.insert(group.into(), g);
    ctx.fx.dirty += dirty;
    if created {
        ctx.fx.dirty += 1;
        ctx.notify(key, STREAM, "xgroup-createconsumer");
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, group, consumer) = (args.arg(), args.arg(), args.arg());
    // Redis looks the key up (a read, counted) before it parses anything.
    let clock = ctx.now;
    let _ = ctx.keys.table(ctx.db, key).get(key, clock);
    let min_idle = claim_int(
        args.arg(),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let (mut start, ex) = parse_bound(args.arg(), 0)?;
    if ex {
        start = start
            .incr()
            .ok_or(Error::Static("ERR invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    while let Some(opt) = args.next_arg() {
        if is(opt, "count") && args.remaining() > 0 {
            let max = i64::MAX / 16;
            count = super::super::parse_int_in(args.arg(), 1, max, Some("ERR COUNT must be > 0"))?;
        } else if is(opt, "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = clock.ms;
    let s = match stream_mut(ctx.keys.table(ctx.db, key), key, clock.quiet())? {
        Some(s) if s.groups.contains_key(group) => s,
        _ => return Err(no_group(key, group, "")),
    };
    let mut g = s.groups.remove(group).expect("a group");
    let out = &mut *ctx.out;
    out.array(3);
    // The cursor goes first but is known last: the claimed entries are
    // written to a reply of their own.
    let mut claimed = Reply::new();
    claimed.set_resp3(out.resp3());
    let mut n = 0;
    let mut deleted = Vec::new();
    let mut attempts = count.saturating_mul(10);
    let mut next = g.pel.range(start..).next().map(|(id, _)| *id);
    let mut dirty = 0;
    let mut created = false;
    while attempts > 0 && count > 0 {
        let Some(id) = next else {
            break;
        };
        attempts -= 1;
        next = g
            .pel
            .range((std::ops::Bound::Excluded(id), std::ops::Bound::Unbounded))
            .next()
            .map(|(id, _)| *id);
        if s.get(id).is_none() {
            g.ack(id);
            deleted.push(id);
            count -= 1;
            dirty += 1;
            continue;
        }
        let idle = now as i64 - g.pel[&id].delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        let (c, new) = g.consumer(consumer, now);
        c.seen_time = now;
        created |= new;
        g.reassign(id, consumer);
        let nack = g.pel.get_mut(&id).expect("pending");
        nack.delivery_time = now;
        if !justid {
            nack.delivery_count += 1;
        }
        if justid {
            reply_id(&mut claimed, id);
        } else if let Some(e) = s.get(id) {
            reply_entry(&mut claimed, &e);
        }
        n += 1;
        count -= 1;
        dirty += 1;
    }
    reply_id(out, next.unwrap_or(StreamId::MIN));
    out.array(n);
    out.encoded(&claimed.contiguous());
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    s.groups.insert(group.into(), g);
    ctx.fx.dirty += dirty;
    if created {
        ctx.fx.dirty += 1;
        ctx.notify(key, STREAM, "xgroup-createconsumer");
    }
    Ok(())
}
