//! String commands. Bit operations live in `bitmap`, HyperLogLog in `hll`.

pub mod bitmap;
pub mod hll;

use super::flags::*;
use super::{acl, Begin, Find, KeySpec};
use super::{is, parse_int, row, Args, Argv, Command, Ctx};
use crate::db::{Blob, Clock, Table, Value};
use crate::effects::class::{GENERIC, STRING};
use crate::errors::{self, CmdResult, Error};
use crate::ldouble::LongDouble;

pub static COMMANDS: &[Command] = &[
    row("get", 2, READONLY | FAST, get)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("set", -3, WRITE | DENYOOM, set)
        .acl(acl::STRING)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "update", "variable_flags"])
                .notes("RW and ACCESS due to the optional `GET` argument"),
        ])
        .key_flags(set_key_flags),
    row("setnx", 3, WRITE | DENYOOM | FAST, setnx)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["OW", "insert"])]),
    row("setex", 4, WRITE | DENYOOM, setex)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["OW", "update"])]),
    row("psetex", 4, WRITE | DENYOOM, psetex)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["OW", "update"])]),
    row("getset", 3, WRITE | DENYOOM | FAST, getset)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("getdel", 2, WRITE | FAST, getdel)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "delete"])]),
    row("getex", -2, WRITE | FAST, getex)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])
            .notes("RW and UPDATE because it changes the TTL")])
        .key_flags(set_key_flags),
    row("mget", -2, READONLY | FAST, mget)
        .acl(acl::STRING)
        .tips(&["request_policy:multi_shard"])
        .keys(&[KeySpec::new(
            &["RO", "access"],
            Begin::Index(1),
            Find::Range(-1, 1, 0),
        )]),
    row("mset", -3, WRITE | DENYOOM, mset)
        .acl(acl::STRING)
        .tips(&[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ])
        .keys(&[KeySpec::new(
            &["OW", "update"],
            Begin::Index(1),
            Find::Range(-1, 2, 0),
        )]),
    row("msetnx", -3, WRITE | DENYOOM, msetnx)
        .acl(acl::STRING)
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .keys(&[KeySpec::new(
            &["OW", "insert"],
            Begin::Index(1),
            Find::Range(-1, 2, 0),
        )]),
    row("append", 3, WRITE | DENYOOM | FAST, append)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "insert"])]),
    row("getrange", 4, READONLY, getrange)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("substr", 4, READONLY, getrange)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("setrange", 4, WRITE | DENYOOM, setrange)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("strlen", 2, READONLY | FAST, strlen)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("incr", 2, WRITE | DENYOOM | FAST, incr)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("decr", 2, WRITE | DENYOOM | FAST, decr)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("incrby", 3, WRITE | DENYOOM | FAST, incrby)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("decrby", 3, WRITE | DENYOOM | FAST, decrby)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat)
        .acl(acl::STRING)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("lcs", -3, READONLY, lcs)
        .acl(acl::STRING)
        .keys(&[KeySpec::new(
            &["RO", "access"],
            Begin::Index(1),
            Find::Range(1, 1, 0),
        )]),
];

/// SET's key flags for one command line (Redis's `setGetKeys`): with GET
/// it reads the old value.
fn set_key_flags(argv: Argv) -> &'static [&'static str] {
    if argv.iter().skip(3).any(|a| is(a, "get")) {
        &["RW", "access", "update"]
    } else {
        &["OW", "update"]
    }
}

/// The string at `key`: `None` if missing, WRONGTYPE if another type.
pub fn string_at<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<Option<&'t Blob>, Error> {
    match t.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b)),
            _ => Err(errors::WRONGTYPE.into()),
        },
    }
}

/// The position of the string at `key` for a writer (not counted as a
/// keyspace hit or miss): `None` if missing, WRONGTYPE if another type.
pub fn find_string(t: &mut Table, key: &[u8], now: Clock) -> Result<Option<usize>, Error> {
    let Some(i) = t.find(key, now) else {
        return Ok(None);
    };
    match &t.at(i).1.value {
        Value::Str(_) => Ok(Some(i)),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// The string at position `i`, which `find_string` has vouched for.
pub fn str_mut(t: &mut Table, i: usize) -> &mut Blob {
    t.at_mut(i)
        .value
        .as_str_mut()
        .expect("find_string checked the type")
}

fn reply_string(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    match string_at(ctx.keys.table(ctx.db, key), key, now)? {
        // A value that kept its read buffer is sent from it, uncopied.
        Some(Blob::Shared(b)) => ctx.out.bulk_shared(b.as_ref().clone()),
        Some(b) => ctx.out.bulk(b.as_slice()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// GET key
fn get(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    reply_string(ctx, args.arg())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// The options SET and GETEX share, parsed as Redis's
/// `parseExtendedStringArgumentsOrReply`.
#[derive(Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The time argument, whether it is absolute, and its unit.
    expire: Option<(&'a [u8], bool, Unit)>,
}

impl<'a> StringOpts<'a> {
    fn parse(args: &mut Args<'a>, for_set: bool) -> Result<Self, Error> {
        let mut o = StringOpts::default();
        while let Some(opt) = args.next_arg() {
            let has_expire = o.expire.is_some();
            let next = args.peek();
            let timed = |abs: bool, unit: Unit, o: &mut StringOpts<'a>, args: &mut Args<'a>| {
                // Redis lets the same time option repeat (the last one
                // wins) but not mix with another.
                let same = o.expire.is_none_or(|(_, a, u)| a == abs && u == unit);
                if o.keepttl || o.persist || !same || next.is_none() {
                    return false;
                }
                o.expire = Some((args.arg(), abs, unit));
                true
            };
            let ok = if is(opt, "nx") {
                for_set && !o.xx && {
                    o.nx = true;
                    true
                }
            } else if is(opt, "xx") {
                for_set && !o.nx && {
                    o.xx = true;
                    true
                }
            } else if is(opt, "get") {
                for_set && {
                    o.get = true;
                    true
                }
            } else if is(opt, "keepttl") {
                for_set && !o.persist && !has_expire && {
                    o.keepttl = true;
                    true
                }
            } else if is(opt, "persist") {
                !for_set && !has_expire && !o.keepttl && {
                    o.persist = true;
                    true
                }
            } else if is(opt, "ex") {
                timed(false, Unit::Seconds, &mut o, args)
            } else if is(opt, "px") {
                timed(false, Unit::Millis, &mut o, args)
            } else if is(opt, "exat") {
                timed(true, Unit::Seconds, &mut o, args)
            } else if is(opt, "pxat") {
                timed(true, Unit::Millis, &mut o, args)
            } else {
                false
            };
            if !ok {
                return Err(errors::SYNTAX.into());
            }
        }
        Ok(o)
    }

    /// The absolute expiry in Unix ms, validated as Redis's
    /// `getExpireMillisecondsOrReply`.
    fn expire_at(&self, ctx: &Ctx) -> Result<Option<u64>, Error> {
        let Some((arg, absolute, unit)) = self.expire else {
            return Ok(None);
        };
        expire_arg(ctx, arg, absolute, unit).map(Some)
    }
}

fn expire_arg(ctx: &Ctx, arg: &[u8], absolute: bool, unit: Unit) -> Result<u64, Error> {
    let mut ms = parse_int(arg)?;
    if ms <= 0 || (unit == Unit::Seconds && ms > i64::MAX / 1000) {
        return Err(errors::invalid_expire(ctx.cmd.name));
    }
    if unit == Unit::Seconds {
        ms *= 1000;
    }
    if !absolute {
        ms = ms.wrapping_add(ctx.now.ms as i64);
    }
    if ms <= 0 {
        return Err(errors::invalid_expire(ctx.cmd.name));
    }
    Ok(ms as u64)
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
/// EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let value = args.blob();
    let opts = StringOpts::parse(args, true)?;
    let expire = opts.expire_at(ctx)?;
    let now = ctx.now;
    let t = ctx.keys.table(ctx.db, key);
    if opts.get {
        match string_at(t, key, now)? {
            Some(old) => ctx.out.bulk(old.as_slice()),
            None => ctx.out.null(),
        }
    }
    let found = t.find(key, now);
    if (opts.nx && found.is_some()) || (opts.xx && found.is_none()) {
        if !opts.get {
            ctx.out.null();
        }
        return Ok(());
    }
    let keep = match found {
        Some(i) if opts.keepttl => t.at(i).1.expire_at(),
        _ => 0,
    };
    t.set(key, Value::Str(value), expire.unwrap_or(keep), now);
    ctx.modified(key, STRING, "set");
    if expire.is_some() {
        ctx.notify(key, GENERIC, "expire");
    }
    if !opts.get {
        ctx.out.ok();
    }
    Ok(())
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, value) = (args.arg(), args.arg());
    let now = ctx.now;
    let t = ctx.table(key);
    if t.find(key, now).is_some() {
        ctx.out.int(0);
    } else {
        t.set(key, Value::Str(Blob::new(value)), 0, now);
        ctx.modified(key, STRING, "set");
        ctx.out.int(1);
    }
    Ok(())
}

fn set_with_expire(ctx: &mut Ctx, args: &mut Args, unit: Unit) -> CmdResult {
    let (key, time, value) = (args.arg(), args.arg(), args.blob());
    let at = expire_arg(ctx, time, false, unit)?;
    let now = ctx.now;
    ctx.table(key).set(key, Value::Str(value), at, now);
    ctx.modified(key, STRING, "set");
    ctx.notify(key, GENERIC, "expire");
    ctx.out.ok();
    Ok(())
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    set_with_expire(ctx, args, Unit::Seconds)
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    set_with_expire(ctx, args, Unit::Millis)
}

/// GETSET key value
fn getset(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, value) = (args.arg(), args.blob());
    reply_string(ctx, key)?;
    let now = ctx.now;
    ctx.table(key).set(key, Value::Str(value), 0, now);
    ctx.modified(key, STRING, "set");
    Ok(())
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    reply_string(ctx, key)?;
    let now = ctx.now;
    if ctx.table(key).remove(key, now).is_some() {
        ctx.modified(key, GENERIC, "del");
    }
    Ok(())
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let opts = StringOpts::parse(args, false)?;
    let now = ctx.now;
    if string_at(ctx.table(key), key, now)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let expire = opts.expire_at(ctx)?;
    reply_string(ctx, key)?;
    let t = ctx.table(key);
    let i = t.find(key, now).expect("checked above");
    match expire {
        Some(at) if at <= now.ms => {
            t.remove_at(i);
            ctx.modified(key, GENERIC, "del");
        }
        Some(at) => {
            t.set_expire_at(i, at);
            ctx.modified(key, GENERIC, "expire");
        }
        None if opts.persist && t.at(i).1.expire_at() != 0 => {
            t.set_expire_at(i, 0);
            ctx.modified(key, GENERIC, "persist");
        }
        None => {}
    }
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let keys = args.rest();
    ctx.out.array(keys.len());
    let now = ctx.now;
    for key in keys.iter() {
        match ctx.keys.table(ctx.db, key).get(key, now).map(|e| &e.value) {
            Some(Value::Str(b)) => ctx.out.bulk(b.as_slice()),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn pairs<'a>(ctx: &Ctx, args: &mut Args<'a>) -> Result<Argv<'a>, Error> {
    let rest = args.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(errors::wrong_arity(ctx.cmd.name));
    }
    Ok(rest)
}

/// (key, value) pairs of an even-length argument list.
fn kv<'a>(pairs: Argv<'a>) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let mut it = pairs.iter();
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

fn set_pairs(ctx: &mut Ctx, pairs: Argv) {
    for (k, v) in kv(pairs) {
        let now = ctx.now;
        ctx.table(k).set(k, Value::Str(Blob::new(v)), 0, now);
        ctx.modified(k, STRING, "set");
    }
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let pairs = pairs(ctx, args)?;
    set_pairs(ctx, pairs);
    ctx.out.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let pairs = pairs(ctx, args)?;
    let now = ctx.now;
    let any = kv(pairs).any(|(k, _)| ctx.table(k).find(k, now).is_some());
    if !any {
        set_pairs(ctx, pairs);
    }
    ctx.out.int(!any as i64);
    Ok(())
}

/// APPEND key value
fn append(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, value) = (args.arg(), args.arg());
    let now = ctx.now;
    let max = ctx.server.hot.proto_max_bulk_len() as usize;
    let t = ctx.keys.table(ctx.db, key);
    let len = match find_string(t, key, now)? {
        None => {
            t.set(key, Value::Str(Blob::new(value)), 0, now);
            value.len()
        }
        Some(i) => {
            let s = str_mut(t, i);
            if s.len() + value.len() > max {
                return Err(errors::STRING_TOO_LONG.into());
            }
            let v = s.make_mut();
            v.extend_from_slice(value);
            v.len()
        }
    };
    ctx.modified(key, STRING, "append");
    ctx.out.int(len as i64);
    Ok(())
}

/// GETRANGE key start end (and SUBSTR key start end)
fn getrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let (start, end) = (args.int()?, args.int()?);
    let now = ctx.now;
    let s = string_at(ctx.keys.table(ctx.db, key), key, now)?.map_or(&[][..], Blob::as_slice);
    match byte_range(s.len() as i64, start, end) {
        Some((from, to)) => ctx.out.bulk(&s[from..=to]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

/// Redis's GETRANGE index rules: negative indexes count from the end,
/// both are clamped, and an empty range is `None`.
fn byte_range(len: i64, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    let start = start.max(0);
    let end = end.max(0).min(len - 1);
    (len > 0 && start <= end).then_some((start as usize, end as usize))
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let offset = args.int()?;
    let value = args.arg();
    if offset < 0 {
        return Err(errors::OFFSET_OUT_OF_RANGE.into());
    }
    let max = ctx.server.hot.proto_max_bulk_len();
    let fits = || {
        offset
            .checked_add(value.len() as i64)
            .is_some_and(|total| total <= max)
    };
    let now = ctx.now;
    let t = ctx.keys.table(ctx.db, key);
    let i = match find_string(t, key, now)? {
        None if value.is_empty() => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {
            if !fits() {
                return Err(errors::STRING_TOO_LONG.into());
            }
            t.add(key, Value::Str(Blob::new(b"")), now)
        }
        Some(i) => {
            let s = str_mut(t, i);
            if value.is_empty() {
                ctx.out.int(s.len() as i64);
                return Ok(());
            }
            if !fits() {
                return Err(errors::STRING_TOO_LONG.into());
            }
            i
        }
    };
    let s = str_mut(t, i);
    // A string written into by offset is kept growable (Redis: raw).
    let v = s.make_mut();
    let end = offset as usize + value.len();
    if v.len() < end {
        v.resize(end, 0);
    }
    v[offset as usize..end].copy_from_slice(value);
    let len = v.len();
    ctx.modified(key, STRING, "setrange");
    ctx.out.int(len as i64);
    Ok(())
}

/// STRLEN key
fn strlen(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let len = string_at(ctx.table(key), key, now)?.map_or(0, |b| b.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// Adds `by` to the integer at `key`, keeping its TTL, as Redis's
/// `incrDecrCommand`.
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now;
    let t = ctx.table(key);
    let value = match find_string(t, key, now)? {
        None => {
            t.set(key, Value::Str(Blob::from_i64(by)), 0, now);
            by
        }
        Some(i) => {
            let s = str_mut(t, i);
            let old = parse_int(s.as_slice())?;
            let new = old.checked_add(by).ok_or(Error::Static(errors::OVERFLOW))?;
            *s = Blob::from_i64(new);
            new
        }
    };
    ctx.modified(key, STRING, "incrby");
    ctx.out.int(value);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    incr_by(ctx, args.arg(), 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    incr_by(ctx, args.arg(), -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let by = args.int()?;
    incr_by(ctx, key, by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let by = args.int()?;
    if by == i64::MIN {
        return Err(errors::DECREMENT_OVERFLOW.into());
    }
    incr_by(ctx, key, -by)
}

/// INCRBYFLOAT key increment
fn incrbyfloat(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, by) = (args.arg(), args.arg());
    let now = ctx.now;
    let t = ctx.table(key);
    let found = find_string(t, key, now)?;
    let current = match found {
        None => LongDouble::ZERO,
        Some(i) => {
            let s = str_mut(t, i);
            LongDouble::parse(s.as_slice()).ok_or(Error::Static(errors::NOT_FLOAT))?
        }
    };
    let by = LongDouble::parse(by).ok_or(Error::Static(errors::NOT_FLOAT))?;
    let sum = current + by;
    if !sum.is_finite() {
        return Err(errors::NAN_OR_INFINITY.into());
    }
    let text = sum.to_human();
    let value = Value::Str(Blob::new_plain(&text));
    match found {
        // Overwriting keeps the key's time to live.
        Some(i) => t.at_mut(i).value = value,
        None => {
            t.set(key, value, 0, now);
        }
    }
    ctx.modified(key, STRING, "incrbyfloat");
    ctx.out.bulk(&text);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (ka, kb) = (args.arg(), args.arg());
    let now = ctx.now;
    // Both lookups come before option parsing, as in Redis.
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, Error> {
        match ctx.keys.table(ctx.db, key).get(key, now).map(|e| &e.value) {
            None => Ok(Vec::new()),
            Some(Value::Str(b)) => Ok(b.as_slice().to_vec()),
            Some(_) => Err(errors::LCS_NOT_STRINGS.into()),
        }
    };
    let (a, b) = match (fetch(ka), fetch(kb)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Err(errors::LCS_NOT_STRINGS.into()),
    };
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    while let Some(opt) = args.next_arg() {
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_len = true;
        } else if is(opt, "minmatchlen") && args.remaining() > 0 {
            min_len = args.int()?.max(0);
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if get_idx && get_len {
        return Err(errors::LCS_IDX_AND_LEN.into());
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells * 4 > ctx.server.hot.proto_max_bulk_len() as u64 {
        return Err(errors::LCS_TOO_BIG.into());
    }
    let table = LcsTable::build(&a, &b).ok_or(Error::Static(errors::LCS_ALLOC_FAILED))?;
    let total = table.at(a.len(), b.len());
    if get_len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    let (common, ranges) = table.walk(&a, &b, min_len as u64);
    if !get_idx {
        ctx.out.bulk(&common);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for r in &ranges {
        ctx.out.array(2 + with_len as usize);
        ctx.out.array(2);
        ctx.out.int(r.a.0 as i64);
        ctx.out.int(r.a.1 as i64);
        ctx.out.array(2);
        ctx.out.int(r.b.0 as i64);
        ctx.out.int(r.b.1 as i64);
        if with_len {
            ctx.out.int((r.a.1 - r.a.0 + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
    Ok(())
}

/// The dynamic-programming table of common subsequence lengths: cell
/// (i, j) is the LCS length of `a[..i]` and `b[..j]`.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

/// One matching range, inclusive positions in each string.
struct LcsRange {
    a: (usize, usize),
    b: (usize, usize),
}

impl LcsTable {
    fn build(a: &[u8], b: &[u8]) -> Option<LcsTable> {
        let width = b.len() + 1;
        let mut cells = Vec::new();
        cells.try_reserve_exact((a.len() + 1) * width).ok()?;
        cells.resize((a.len() + 1) * width, 0u32);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Some(LcsTable { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end, as Redis does: the common subsequence, and
    /// the contiguous matching ranges from last to first (ranges shorter
    /// than `min_len` left out). On a tie Redis steps back in `b`.
    fn walk(&self, a: &[u8], b: &[u8], min_len: u64) -> (Vec<u8>, Vec<LcsRange>) {
        let mut common = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut left = common.len();
        let mut ranges = Vec::new();
        let mut current: Option<LcsRange> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[left - 1] = a[i - 1];
                left -= 1;
                match &mut current {
                    None => {
                        current = Some(LcsRange {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                    // Still contiguous in both strings: extend backwards.
                    Some(r) if r.a.0 == i && r.b.0 == j => {
                        r.a.0 -= 1;
                        r.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                if current.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = current.is_some();
            }
            if emit {
                if let Some(r) = current.take() {
                    if (r.a.1 - r.a.0 + 1) as u64 >= min_len {
                        ranges.push(r);
                    }
                }
            }
        }
        (common, ranges)
    }
}
