//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID
//! and XREAD here; consumer groups in `group.rs`, XINFO in `info.rs`,
//! serving blocked readers in `blocking.rs`.

pub mod blocking;
mod group;
mod info;

use std::time::Duration;

use resp::write::Aggregate;
use resp::Reply;

use super::block::block;
use super::flags::*;
use super::{acl, is, row, Args, Begin, Command, Ctx, Find, KeySpec};
use crate::blocking::{BlockOp, GroupRead};
use crate::db::stream::{AddError, EntryRef, Stream, StreamId, Trim};
use crate::db::{Blob, Clock, Table, Value};
use crate::effects::class::STREAM;
use crate::errors::{self, CmdResult, Error};

const KEY_RO: &[KeySpec] = &[KeySpec::at(1, &["RO", "access"])];

pub static COMMANDS: &[Command] = &[
    row("xadd", -5, WRITE | DENYOOM | FAST, xadd)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RW", "update"])
            .notes("UPDATE instead of INSERT because of the optional trimming feature")]),
    row("xrange", -4, READONLY, xrange)
        .acl(acl::STREAM)
        .keys(KEY_RO),
    row("xrevrange", -4, READONLY, xrevrange)
        .acl(acl::STREAM)
        .keys(KEY_RO),
    row("xlen", 2, READONLY | FAST, xlen)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("xdel", -3, WRITE | FAST, xdel)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("xtrim", -4, WRITE, xtrim)
        .acl(acl::STREAM)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RW", "delete"])]),
    row("xsetid", -3, WRITE | DENYOOM | FAST, xsetid)
        .acl(acl::STREAM)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, xread)
        .acl(acl::STREAM)
        .keys(&[KeySpec::new(
            &["RO", "access"],
            Begin::Keyword("STREAMS", 1),
            Find::Range(-1, 1, 2),
        )]),
];

pub use group::COMMANDS as GROUP_COMMANDS;
pub use info::COMMANDS as INFO_COMMANDS;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// A strict ID argument (no `-` or `+`).
pub fn parse_id(a: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    StreamId::parse(a, missing_seq, true).ok_or(Error::Static(INVALID_ID))
}

/// Every argument as a strict ID (XDEL's, XACK's): all or an error.
pub fn parse_ids(a: super::Argv) -> Result<Vec<StreamId>, Error> {
    a.iter().map(|a| parse_id(a, 0)).collect()
}

/// A range bound: `-`, `+`, an ID, or `(` before one for an exclusive
/// bound (Redis's `streamParseIntervalIDOrReply`).
fn parse_bound(a: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    if a.len() > 1 && a[0] == b'(' {
        return Ok((parse_id(&a[1..], missing_seq)?, true));
    }
    let id = StreamId::parse(a, missing_seq, false).ok_or(Error::Static(INVALID_ID))?;
    Ok((id, false))
}

/// The stream at `key` for reading: `None` if missing, WRONGTYPE if
/// another type.
pub fn stream_at<'t>(
    t: &'t mut Table,
    key: &[u8],
    now: Clock,
) -> Result<Option<&'t Stream>, Error> {
    match t.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(v) => v
            .as_stream()
            .map(Some)
            .ok_or(Error::Static(errors::WRONGTYPE)),
    }
}

/// The stream at `key` for writing.
pub fn stream_mut<'t>(
    t: &'t mut Table,
    key: &[u8],
    now: Clock,
) -> Result<Option<&'t mut Stream>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    t.at_mut(i)
        .value
        .as_stream_mut()
        .map(Some)
        .ok_or(Error::Static(errors::WRONGTYPE))
}

/// The stream at `key` for a command that writes but looks its key up
/// as a read (Redis's XACK, XCLAIM, XAUTOCLAIM, XREADGROUP): counted in
/// hits and misses, a miss notified.
pub fn stream_mut_read<'t>(
    t: &'t mut Table,
    key: &[u8],
    now: Clock,
) -> Result<Option<&'t mut Stream>, Error> {
    if t.get(key, now).is_none() {
        return Ok(None);
    }
    stream_mut(t, key, now.quiet())
}

/// Writes an ID as a bulk string.
pub fn reply_id(out: &mut Reply, id: StreamId) {
    let mut buf = [0u8; 41];
    let n = id_text(&mut buf, id);
    out.bulk(&buf[..n]);
}

fn id_text(buf: &mut [u8; 41], id: StreamId) -> usize {
    let mut a = itoa::Buffer::new();
    let ms = a.format(id.ms).as_bytes();
    buf[..ms.len()].copy_from_slice(ms);
    buf[ms.len()] = b'-';
    let mut b = itoa::Buffer::new();
    let seq = b.format(id.seq).as_bytes();
    buf[ms.len() + 1..ms.len() + 1 + seq.len()].copy_from_slice(seq);
    ms.len() + 1 + seq.len()
}

/// An entry: `[id, [field, value, ...]]`.
pub fn reply_entry(out: &mut Reply, e: &EntryRef) {
    out.array(2);
    reply_id(out, e.id);
    out.array(e.field_count() * 2);
    for (f, v) in e.fields() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// What XADD and XTRIM say about trimming.
#[derive(Clone, Copy, Debug)]
pub struct TrimArgs {
    pub trim: Option<Trim>,
    pub approx: bool,
    pub limit: u64,
}

/// Parses XADD's options up to its ID (`xadd`) or XTRIM's whole line,
/// as Redis's `streamParseAddOrTrimArgsOrReply`. `argv` starts after
/// the key; returns the options and, for XADD, where the ID is.
fn parse_add_trim(argv: super::Argv, xadd: bool) -> Result<AddArgs, Error> {
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
    };
    let mut limit_given = false;
    let mut nomkstream = false;
    let mut given = None;
    let mut i = 0;
    let n = argv.len();
    while i < n {
        let more = n - 1 - i;
        let opt = argv.get(i).unwrap_or_default();
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if t.trim.is_some() {
                return Err(Error::Static(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            t.approx = false;
            let next = argv.get(i + 1).unwrap_or_default();
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let a = argv.get(i + 1).unwrap_or_default();
            if is(opt, "maxlen") {
                let v = super::parse_int(a)?;
                if v < 0 {
                    return Err(Error::Static("ERR The MAXLEN argument must be >= 0."));
                }
                t.trim = Some(Trim::MaxLen(v as u64));
            } else {
                t.trim = Some(Trim::MinId(parse_id(a, 0)?));
            }
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let v = super::parse_int(argv.get(i + 1).unwrap_or_default())?;
            if v < 0 {
                return Err(Error::Static("ERR The LIMIT argument must be >= 0."));
            }
            t.limit = v as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            // The ID is checked here, before the fields are counted.
            let parsed =
                StreamId::parse_full(opt, 0, true, true).ok_or(Error::Static(INVALID_ID))?;
            given = Some(parsed);
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if t.limit != 0 && t.trim.is_none() {
        return Err(Error::Static(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.trim.is_none() {
        return Err(Error::Static(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !t.approx {
            return Err(Error::Static(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if t.approx {
        let per_node = crate::db::stream::node_max_entries();
        t.limit = match per_node.saturating_mul(100) {
            0 => 10_000,
            l => l.min(1_000_000),
        };
    } else {
        t.limit = 0;
    }
    Ok(AddArgs {
        trim: t,
        id_at: i,
        nomkstream,
        id: given,
    })
}

/// XADD's options (XTRIM's are `trim` alone).
struct AddArgs {
    trim: TrimArgs,
    /// Where the ID is, in the arguments after the key.
    id_at: usize,
    nomkstream: bool,
    /// The ID, and whether its sequence was given (`None`: `*`).
    id: Option<(StreamId, bool)>,
}

fn trim(s: &mut Stream, t: &TrimArgs) -> u64 {
    match t.trim {
        Some(trim) => s.trim(trim, t.approx, t.limit),
        None => 0,
    }
}

/// XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]
fn xadd(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let rest = args.rest();
    let AddArgs {
        trim: t,
        id_at,
        nomkstream,
        id: given,
    } = parse_add_trim(rest, true)?;
    // The ID, then pairs: at least one, whole.
    let fields = rest.from(id_at + 1);
    if fields.len() < 2 || !fields.len().is_multiple_of(2) {
        return Err(errors::wrong_arity("xadd"));
    }
    if let Some((id, true)) = given {
        if id.is_zero() {
            return Err(Error::Static(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let now = ctx.now;
    let tbl = ctx.table(key);
    let i = match tbl.find(key, now) {
        Some(i) if tbl.at(i).1.value.as_stream().is_none() => {
            return Err(errors::WRONGTYPE.into());
        }
        Some(i) => i,
        None if nomkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => tbl.add(key, Value::Stream(Box::new(Stream::new())), now),
    };
    let s = tbl.at_mut(i).value.as_stream_mut().expect("a stream");
    if s.last_id == StreamId::MAX {
        return Err(Error::Static(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match given {
        None => s.next_id(now.ms),
        Some((id, true)) => Some(id),
        // `ms-*`: the next sequence in the last ID's millisecond.
        Some((id, false)) if id.ms == s.last_id.ms => s.last_id.incr().filter(|n| n.ms == id.ms),
        Some((id, false)) => Some(id),
    };
    let pairs: Vec<&[u8]> = fields.iter().collect();
    let added = match id {
        Some(id) => s.append(id, &pairs).map(|_| id),
        None => Err(AddError::NotGreater),
    };
    let id =
        match added {
            Ok(id) => id,
            Err(AddError::NotGreater) => return Err(Error::Static(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )),
            Err(AddError::TooLarge) => {
                return Err(Error::Static("ERR Elements are too large to be stored"))
            }
        };
    let trimmed = trim(s, &t);
    reply_id(ctx.out, id);
    ctx.modified(key, STREAM, "xadd");
    if trimmed > 0 {
        ctx.notify(key, STREAM, "xtrim");
    }
    ctx.key_ready(key);
    Ok(())
}

fn range(ctx: &mut Ctx, args: &mut Args, rev: bool) -> CmdResult {
    let key = args.arg();
    let (a, b) = (args.arg(), args.arg());
    let (start_arg, end_arg) = if rev { (b, a) } else { (a, b) };
    let (mut start, start_ex) = parse_bound(start_arg, 0)?;
    if start_ex {
        start = start
            .incr()
            .ok_or(Error::Static("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = parse_bound(end_arg, u64::MAX)?;
    if end_ex {
        end = end
            .decr()
            .ok_or(Error::Static("ERR invalid end ID for the interval"))?;
    }
    let mut count: Option<u64> = None;
    while let Some(opt) = args.next_arg() {
        if is(opt, "count") && args.remaining() >= 1 {
            count = Some(args.int()?.max(0) as u64);
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = ctx.now;
    let Some(s) = stream_at(ctx.keys.table(ctx.db, key), key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.null_array();
        return Ok(());
    }
    let out = &mut *ctx.out;
    let at = out.defer();
    let mut n = 0;
    for e in s.range(start, end, rev) {
        reply_entry(out, &e);
        n += 1;
        if count == Some(n as u64) {
            break;
        }
    }
    out.finish(at, Aggregate::Array, n);
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    range(ctx, args, true)
}

/// XLEN key
fn xlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let n = stream_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(0, Stream::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let ids_arg = args.rest();
    let Some(s) = stream_mut(ctx.table(key), key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = parse_ids(ids_arg)?;
    let mut deleted = 0;
    let mut first = false;
    for id in ids {
        if s.delete(id) {
            first |= id == s.first_id;
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.is_empty() {
            s.first_id = StreamId::MIN;
        } else if first {
            s.first_id = s.edge(false).map_or(StreamId::MIN, |e| e.id);
        }
        ctx.modified(key, STREAM, "xdel");
        ctx.fx.dirty += deleted - 1;
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let t = parse_add_trim(args.rest(), false)?.trim;
    let now = ctx.now;
    let Some(s) = stream_mut(ctx.table(key), key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = trim(s, &t);
    if deleted > 0 {
        ctx.notify(key, STREAM, "xtrim");
        let db = ctx.db;
        ctx.signal_in(db, key);
        ctx.fx.dirty += deleted;
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let id = parse_id(args.arg(), 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    while let Some(opt) = args.next_arg() {
        if is(opt, "entriesadded") && args.remaining() > 0 {
            let v = args.int()?;
            if v < 0 {
                return Err(Error::Static("ERR entries_added must be positive"));
            }
            entries_added = Some(v as u64);
        } else if is(opt, "maxdeletedid") && args.remaining() > 0 {
            max_deleted = parse_id(args.arg(), 0)?;
            if id < max_deleted {
                return Err(Error::Static(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = ctx.now;
    let Some(s) = stream_mut(ctx.table(key), key, now)? else {
        return Err(Error::Static("ERR no such key"));
    };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(Error::Static(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(Error::Static(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    ctx.out.ok();
    ctx.fx.dirty += 1;
    ctx.notify(key, STREAM, "xsetid");
    Ok(())
}

/// The options XREAD and XREADGROUP share.
pub struct ReadArgs<'a> {
    pub block: Option<Option<Duration>>,
    pub count: u64,
    pub group: Option<(&'a [u8], &'a [u8])>,
    pub noack: bool,
    pub keys: super::Argv<'a>,
    pub ids: super::Argv<'a>,
}

/// Parses XREAD's or XREADGROUP's options (Redis's `xreadCommand`).
pub fn parse_read<'a>(args: &mut Args<'a>, group: bool) -> Result<ReadArgs<'a>, Error> {
    let mut r = ReadArgs {
        block: None,
        count: 0,
        group: None,
        noack: false,
        keys: args.argv().first(0),
        ids: args.argv().first(0),
    };
    let mut streams = false;
    while let Some(opt) = args.next_arg() {
        let more = args.remaining();
        if is(opt, "block") && more > 0 {
            if crate::script::calling() {
                let typed = String::from_utf8_lossy(args.argv().get(0).unwrap_or_default());
                return Err(Error::Owned(
                    format!("ERR {typed} command is not allowed with BLOCK option from scripts")
                        .into_bytes(),
                ));
            }
            let ms = super::parse_int(args.arg())
                .map_err(|_| Error::Static("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(errors::TIMEOUT_NEGATIVE.into());
            }
            r.block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
        } else if is(opt, "count") && more > 0 {
            r.count = args.int()?.max(0) as u64;
        } else if is(opt, "streams") && more > 0 {
            let rest = args.rest();
            if !rest.len().is_multiple_of(2) {
                return Err(Error::Static(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            let half = rest.len() / 2;
            r.keys = rest.first(half);
            r.ids = rest.from(half);
            streams = true;
            break;
        } else if is(opt, "group") && more >= 2 {
            if !group {
                return Err(Error::Static(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args.arg(), args.arg()));
        } else if is(opt, "noack") {
            if !group {
                return Err(Error::Static(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if !streams {
        return Err(errors::SYNTAX.into());
    }
    if group && r.group.is_none() {
        return Err(Error::Static("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// The count a blocked reader is served with when it gave none.
pub const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let r = parse_read(args, false)?;
    let now = ctx.now;
    let mut ids = Vec::with_capacity(r.keys.len());
    for (key, a) in r.keys.iter().zip(r.ids.iter()) {
        let s = stream_at(ctx.keys.table(ctx.db, key), key, now)?;
        if a == b"$" {
            ids.push(s.map_or(StreamId::MIN, |s| s.last_id));
        } else if a == b">" {
            return Err(Error::Static(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            ids.push(parse_id(a, 0)?);
        }
    }
    let mut reply = ReadReply::default();
    for (key, &gt) in r.keys.iter().zip(&ids) {
        let Some(s) = stream_at(ctx.keys.table(ctx.db, key), key, now)? else {
            continue;
        };
        if s.is_empty() || s.last_valid_id() <= gt {
            continue;
        }
        reply.begin(ctx.out, key);
        reply_range_from(ctx.out, s, gt, r.count);
    }
    finish_read(ctx, &r, reply, &ids, None);
    Ok(())
}

/// The reply of XREAD or XREADGROUP: `[[key, entries], ...]`, in RESP3
/// a map, of the streams that had something.
#[derive(Default)]
pub struct ReadReply {
    at: Option<resp::write::Deferred>,
    served: usize,
}

impl ReadReply {
    /// Starts the part of stream `key`; its entries follow.
    pub fn begin(&mut self, out: &mut Reply, key: &[u8]) {
        if self.at.is_none() {
            self.at = Some(out.defer());
        }
        self.served += 1;
        if !out.resp3() {
            out.array(2);
        }
        out.bulk(key);
    }
}

/// Ends XREAD or XREADGROUP: the streams served close the reply; with
/// none, the client blocks (BLOCK) or gets a null. `after` holds each
/// key's ID, in `r.keys`'s order.
pub fn finish_read(
    ctx: &mut Ctx,
    r: &ReadArgs,
    reply: ReadReply,
    after: &[StreamId],
    group: Option<GroupRead>,
) {
    if let Some(at) = reply.at {
        let kind = if ctx.out.resp3() {
            Aggregate::Map
        } else {
            Aggregate::Array
        };
        ctx.out.finish(at, kind, reply.served);
        return;
    }
    let Some(timeout) = r.block else {
        ctx.out.null_array();
        return;
    };
    // A key named twice waits once, for its first ID (as Redis).
    let mut keys: Vec<Blob> = Vec::new();
    let mut ids = Vec::new();
    for (key, &id) in r.keys.iter().zip(after) {
        if !keys.iter().any(|k| k.as_slice() == key) {
            keys.push(Blob::new(key));
            ids.push(id);
        }
    }
    let count = if r.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let op = BlockOp::XRead {
        after: ids,
        count,
        group,
    };
    block(ctx, keys, op, timeout);
}

/// The entries after `gt`, at most `count` (0: all), as an array.
pub fn reply_range_from(out: &mut Reply, s: &Stream, gt: StreamId, count: u64) {
    let at = out.defer();
    let mut n = 0;
    if let Some(start) = gt.incr() {
        for e in s.range(start, StreamId::MAX, false) {
            reply_entry(out, &e);
            n += 1;
            if count != 0 && n as u64 == count {
                break;
            }
        }
    }
    out.finish(at, Aggregate::Array, n);
}
