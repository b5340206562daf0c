//! Generic keyspace commands (Redis's "generic" group).

use rand::Rng;
use resp::write::Aggregate;

use super::flags::*;
use super::{acl, Begin, Find, KeySpec, Scope};
use super::{is, parse_db_index, parse_int, row, Args, Command, Ctx};
use crate::db::{lazyfree, Clock, Entry, Table, SHARDS};
use crate::effects::class::GENERIC;
use crate::errors::{self, CmdResult, Error};
use crate::glob::Pattern;

pub static COMMANDS: &[Command] = &[
    row("del", -2, WRITE, del)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::new(
            &["RM", "delete"],
            Begin::Index(1),
            Find::Range(-1, 1, 0),
        )]),
    row("unlink", -2, WRITE | FAST, unlink)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::new(
            &["RM", "delete"],
            Begin::Index(1),
            Find::Range(-1, 1, 0),
        )]),
    row("exists", -2, READONLY | FAST, exists)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::new(
            &["RO"],
            Begin::Index(1),
            Find::Range(-1, 1, 0),
        )]),
    row("touch", -2, READONLY | FAST, touch)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::new(
            &["RO"],
            Begin::Index(1),
            Find::Range(-1, 1, 0),
        )]),
    row("type", 2, READONLY | FAST, type_)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RO"])]),
    row("keys", 2, READONLY, keys)
        .scope(Scope::Walk)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    row("scan", -2, READONLY, scan)
        .scope(Scope::Walk)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output", "request_policy:special"]),
    row("randomkey", 1, READONLY, randomkey)
        .scope(Scope::Walk)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "nondeterministic_output"]),
    row("rename", 3, WRITE, rename).acl(acl::KEYSPACE).keys(&[
        KeySpec::at(1, &["RW", "access", "delete"]),
        KeySpec::at(2, &["OW", "update"]),
    ]),
    row("renamenx", 3, WRITE | FAST, renamenx)
        .acl(acl::KEYSPACE)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "delete"]),
            KeySpec::at(2, &["OW", "insert"]),
        ]),
    row("move", 3, WRITE | FAST, move_)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("copy", -3, WRITE | DENYOOM, copy)
        .acl(acl::KEYSPACE)
        .keys(&[
            KeySpec::at(1, &["RO", "access"]),
            KeySpec::at(2, &["OW", "update"]),
        ]),
    row("expire", -3, WRITE | FAST, expire)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("pexpire", -3, WRITE | FAST, pexpire)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("expireat", -3, WRITE | FAST, expireat)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("pexpireat", -3, WRITE | FAST, pexpireat)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("ttl", 2, READONLY | FAST, ttl)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("pttl", 2, READONLY | FAST, pttl)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("expiretime", 2, READONLY | FAST, expiretime)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("pexpiretime", 2, READONLY | FAST, pexpiretime)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("object", -2, 0, |_, _| Ok(())).subs(OBJECT),
    row("persist", 2, WRITE | FAST, persist)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
];

fn count_keys(ctx: &mut Ctx, args: &mut Args, mut f: impl FnMut(&mut Table, &[u8], Clock) -> bool) {
    let now = ctx.now;
    let n = args
        .rest()
        .iter()
        .filter(|k| f(ctx.keys.table(ctx.db, k), k, now))
        .count();
    ctx.out.int(n as i64);
}

/// DEL key [key ...]
///
/// With `lazyfree-lazy-user-del` it frees as UNLINK does.
fn del(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    if ctx.server.hot.lazy_user_del() {
        return unlink(ctx, args);
    }
    delete_keys(ctx, args, false);
    Ok(())
}

/// Deletes each key named, replying how many existed; `lazy` frees
/// large values on the lazy-free thread.
fn delete_keys(ctx: &mut Ctx, args: &mut Args, lazy: bool) {
    let now = ctx.now;
    let mut n = 0;
    for k in args.rest().iter() {
        if let Some((_, e)) = ctx.table(k).remove(k, now) {
            if lazy && e.value.costly_to_free() {
                lazyfree::free_later(e);
            }
            ctx.modified(k, GENERIC, "del");
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// UNLINK key [key ...]
fn unlink(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    delete_keys(ctx, args, true);
    Ok(())
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    // Redis checks existence without touching (LOOKUP_NOTOUCH).
    count_keys(ctx, args, |t, k, now| t.get(k, now.quiet()).is_some());
    Ok(())
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    count_keys(ctx, args, |t, k, now| t.get(k, now).is_some());
    Ok(())
}

/// TYPE key
fn type_(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let name = ctx
        .table(key)
        .get(key, now.quiet())
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(name.as_bytes());
    Ok(())
}

/// KEYS pattern
fn keys(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let pattern = args.arg();
    let all = pattern == b"*";
    let pat = Pattern::new(pattern, false);
    let at = ctx.out.defer();
    let mut n = 0;
    // One shard at a time: other clients wait at most for one shard's walk.
    let store = &ctx.server.store;
    for s in 0..SHARDS {
        let shard = ctx.keys.shard(store, s);
        for (k, e) in shard.dbs[ctx.db].iter() {
            if !e.is_expired(ctx.now.ms) && (all || pat.matches(k.as_slice())) {
                ctx.out.bulk(k.as_slice());
                n += 1;
            }
        }
    }
    ctx.out.finish(at, Aggregate::Array, n);
    Ok(())
}

/// Redis parses SCAN cursors with `strtoul`: an optional sign, digits, no
/// leading space; the empty string is cursor 0.
pub fn parse_cursor(a: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::Static(errors::INVALID_CURSOR);
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if a.is_empty() {
        return Ok(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let v = digits.iter().try_fold(0u64, |v, &d| {
        v.checked_mul(10)?.checked_add((d - b'0') as u64)
    });
    let v = v.ok_or_else(invalid)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// One HSCAN / SSCAN call over a collection's table of `len` positions,
/// walked from the top down as `Table::scan` walks keys (a member present
/// for the whole scan is always returned): the positions to visit, highest
/// first, and the next cursor (how many positions are left; 0: done).
pub fn scan_window(
    len: usize,
    cursor: u64,
    count: usize,
) -> (std::iter::Rev<std::ops::Range<usize>>, u64) {
    let left = match cursor as usize {
        0 => len,
        c => c.min(len),
    };
    let next = left.saturating_sub(count);
    ((next..left).rev(), next as u64)
}

/// The options of SCAN and of HSCAN, SSCAN, ZSCAN (which have no TYPE),
/// as Redis's `scanGenericCommand` reads them.
pub struct ScanOpts<'a> {
    pub count: usize,
    pub pattern: Option<Pattern>,
    pub type_name: Option<&'a [u8]>,
}

impl<'a> ScanOpts<'a> {
    pub fn parse(args: &mut Args<'a>, allow_type: bool) -> Result<ScanOpts<'a>, Error> {
        let mut o = ScanOpts {
            count: 10,
            pattern: None,
            type_name: None,
        };
        while let Some(opt) = args.next_arg() {
            if args.remaining() == 0 {
                return Err(errors::SYNTAX.into());
            }
            if is(opt, "count") {
                let c = parse_int(args.arg())?;
                if c < 1 {
                    return Err(errors::SYNTAX.into());
                }
                o.count = c as usize;
            } else if is(opt, "match") {
                let p = args.arg();
                o.pattern = (p != b"*").then(|| Pattern::new(p, false));
            } else if is(opt, "type") && allow_type {
                o.type_name = Some(args.arg());
            } else {
                return Err(errors::SYNTAX.into());
            }
        }
        Ok(o)
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| p.matches(s))
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor holds the shard in its high bits and, in its low 32 bits,
/// how many positions of that shard's table are left to visit (0: start
/// at the top). See `Table::scan` for why every key present for the whole
/// iteration is returned.
fn scan(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let cursor = parse_cursor(args.arg())?;
    let ScanOpts {
        count,
        pattern,
        type_name,
    } = ScanOpts::parse(args, true)?;
    let mut shard = (cursor >> 32) as usize;
    let mut pos = match cursor & 0xFFFF_FFFF {
        0 => None,
        n => Some(n as usize),
    };
    let mut found = Vec::new();
    let mut visited = 0;
    while shard < SHARDS && visited < count {
        let guard = ctx.keys.shard(&ctx.server.store, shard);
        let (left, v) = guard.dbs[ctx.db].scan(pos, count - visited, ctx.now.ms, |k, e| {
            let keep = pattern.as_ref().is_none_or(|p| p.matches(k.as_slice()))
                && type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
            if keep {
                found.push(k.clone());
            }
        });
        visited += v;
        if left == 0 {
            shard += 1;
            pos = None;
        } else {
            pos = Some(left);
        }
    }
    let next = if shard >= SHARDS {
        0
    } else {
        ((shard as u64) << 32) | pos.unwrap_or(0) as u64
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k.as_slice());
    }
    Ok(())
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let mut rng = rand::thread_rng();
    let start = rng.gen_range(0..SHARDS);
    // Random shards first; then a walk from a random shard, so a sparse
    // keyspace still finds its keys. Expired keys met on the way are
    // deleted, as Redis does.
    let random: Vec<usize> = (0..32).map(|_| rng.gen_range(0..SHARDS)).collect();
    let order = random
        .into_iter()
        .chain((0..SHARDS).map(|i| (start + i) % SHARDS));
    let server = ctx.server;
    for s in order {
        let mut shard = ctx.keys.shard(&server.store, s);
        if shard.dbs[ctx.db].is_empty() {
            continue;
        }
        let t = &mut shard.dbs[ctx.db];
        while let Some(i) = t.random(&mut rng) {
            let (_, e) = t.at(i);
            if e.is_expired(ctx.now.ms) {
                t.reclaim(i);
                ctx.fx.drain_table(server, Some(ctx.client.id), ctx.db, t);
                continue;
            }
            let (k, _) = t.at(i);
            ctx.out.bulk(k.as_slice());
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, args: &mut Args, nx: bool) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    let now = ctx.now;
    let Some(i) = ctx.table(src).find(src, now) else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    let dst_exists = ctx.table(dst).find(dst, now).is_some();
    if nx && dst_exists {
        ctx.out.int(0);
        return Ok(());
    }
    // Taken out first: removing the destination may move entries.
    let (_, e) = ctx.table(src).remove_at(i);
    if dst_exists {
        // Deleted and added again, as Redis (a `new` event follows).
        ctx.table(dst).remove(dst, now);
    }
    let at = e.expire_at();
    ctx.table(dst).set(dst, e.value, at, now);
    ctx.fx.dirty += 1;
    ctx.signal_in(ctx.db, src);
    ctx.signal_in(ctx.db, dst);
    ctx.notify(src, GENERIC, "rename_from");
    ctx.notify(dst, GENERIC, "rename_to");
    ctx.key_ready(dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    rename_generic(ctx, args, false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// A target database for MOVE / COPY: Redis's `selectDb` bounds.
fn target_db(ctx: &Ctx, a: &[u8]) -> Result<usize, Error> {
    let db = parse_db_index(a, None)?;
    if db < 0 || db as usize >= ctx.server.store.databases() {
        return Err(errors::DB_OUT_OF_RANGE.into());
    }
    Ok(db as usize)
}

/// MOVE key db
fn move_(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let dst = target_db(ctx, args.arg())?;
    if dst == ctx.db {
        return Err(errors::SAME_OBJECT.into());
    }
    let now = ctx.now;
    let Some(i) = ctx.table(key).find(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    if ctx.keys.table(dst, key).find(key, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let (k, e) = ctx.table(key).remove_at(i);
    ctx.keys.table(dst, key).insert_new(k, e);
    ctx.fx.dirty += 1;
    ctx.signal_in(ctx.db, key);
    ctx.signal_in(dst, key);
    ctx.notify(key, GENERIC, "move_from");
    ctx.notify_in(dst, key, GENERIC, "move_to");
    ctx.key_ready_in(dst, key);
    ctx.out.int(1);
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (src, dst) = (args.arg(), args.arg());
    let mut replace = false;
    let mut dst_db = ctx.db;
    while let Some(opt) = args.next_arg() {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && args.remaining() > 0 {
            dst_db = target_db(ctx, args.arg())?;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if dst_db == ctx.db && src == dst {
        return Err(errors::SAME_OBJECT.into());
    }
    let now = ctx.now;
    let Some(e) = ctx.table(src).get(src, now).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    let target = ctx.keys.table(dst_db, dst);
    if target.find(dst, now).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        target.remove(dst, now);
    }
    let at = e.expire_at();
    target.set(dst, e.value, at, now);
    ctx.modified_in(dst_db, dst, GENERIC, "copy_to");
    ctx.key_ready_in(dst_db, dst);
    ctx.out.int(1);
    Ok(())
}

/// The NX | XX | GT | LT flags of the EXPIRE family.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn expire_generic(ctx: &mut Ctx, args: &mut Args, base: u64, seconds: bool) -> CmdResult {
    let key = args.arg();
    let param = args.arg();
    let mut f = ExpireFlags::default();
    for opt in args.rest().iter() {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(errors::unsupported_option(opt));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(errors::EXPIRE_NX_AND_OTHERS.into());
    }
    if f.gt && f.lt {
        return Err(errors::EXPIRE_GT_AND_LT.into());
    }
    let mut when = parse_int(param)?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| errors::invalid_expire(ctx.cmd.name))?;
    }
    let when = when
        .checked_add(base as i64)
        .ok_or_else(|| errors::invalid_expire(ctx.cmd.name))?;
    let now = ctx.now;
    let t = ctx.table(key);
    let Some(i) = t.find(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    // Redis compares with -1 for "no expiry": a persistent key counts as
    // an infinite TTL for GT and LT.
    let current = t.at(i).1.expire_at();
    let refused = (f.nx && current != 0)
        || (f.xx && current == 0)
        || (f.gt && (current == 0 || when <= current as i64))
        || (f.lt && current != 0 && when >= current as i64);
    if refused {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now.ms as i64 {
        t.remove_at(i);
        ctx.modified(key, GENERIC, "del");
    } else {
        t.set_expire_at(i, when as u64);
        ctx.modified(key, GENERIC, "expire");
    }
    ctx.out.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let now = ctx.now.ms;
    expire_generic(ctx, args, now, true)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let now = ctx.now.ms;
    expire_generic(ctx, args, now, false)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    expire_generic(ctx, args, 0, true)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    expire_generic(ctx, args, 0, false)
}

fn ttl_generic(ctx: &mut Ctx, args: &mut Args, ms: bool, absolute: bool) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    // Redis looks these keys up without touching them (LOOKUP_NOTOUCH).
    let reply = match ctx.table(key).get(key, now.quiet()).map(Entry::expire_at) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let v = if absolute {
                at
            } else {
                at.saturating_sub(now.ms)
            } as i64;
            if ms {
                v
            } else {
                (v + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

/// TTL key
fn ttl(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

/// PTTL key
fn pttl(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

/// PERSIST key
fn persist(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let t = ctx.table(key);
    let done = match t.find(key, now) {
        Some(i) if t.at(i).1.expire_at() != 0 => {
            t.set_expire_at(i, 0);
            true
        }
        _ => false,
    };
    if done {
        ctx.modified(key, GENERIC, "persist");
    }
    ctx.out.int(done as i64);
    Ok(())
}

static OBJECT: &[Command] = &[
    row("object|refcount", 3, READONLY, object_refcount)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(2, &["RO"])]),
    row("object|freq", 3, READONLY, object_freq)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(2, &["RO"])]),
    row("object|help", 2, LOADING | STALE, object_help).acl(acl::KEYSPACE),
    row("object|idletime", 3, READONLY, object_idletime)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(2, &["RO"])]),
    row("object|encoding", 3, READONLY, object_encoding)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(2, &["RO"])]),
];

/// The entry OBJECT asks about, looked up without touching it.
fn object_entry<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Option<&'t Entry> {
    let now = ctx.now.quiet();
    ctx.table(key).get(key, now)
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    match object_entry(ctx, key).map(|e| e.value.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
fn object_refcount(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    // Redis shares the objects of the integers 0..9999 and reports them
    // with OBJ_SHARED_REFCOUNT, except under an LRU or LFU maxmemory
    // policy, where each key needs its own access bits.
    let policy = ctx.server.hot.maxmemory_policy();
    let unshared = ctx.server.hot.maxmemory() != 0 && (policy.is_lru() || policy.is_lfu());
    match object_entry(ctx, key).map(|e| e.value.is_shared_integer() && !unshared) {
        Some(shared) => ctx.out.int(if shared { i32::MAX as i64 } else { 1 }),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now.ms;
    let lfu = ctx.server.hot.maxmemory_policy().is_lfu();
    match object_entry(ctx, key).map(|e| e.idle_seconds(now)) {
        Some(_) if lfu => return Err(errors::LRU_NOT_SELECTED.into()),
        Some(idle) => ctx.out.int(idle as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT FREQ key
fn object_freq(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now.ms;
    let lfu = ctx.server.hot.maxmemory_policy().is_lfu();
    match object_entry(ctx, key).map(|e| e.lfu_count(now)) {
        None => ctx.out.null(),
        Some(_) if !lfu => return Err(errors::LFU_NOT_SELECTED.into()),
        Some(freq) => ctx.out.int(freq as i64),
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

/// OBJECT HELP
fn object_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(ctx, args, OBJECT_HELP)
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1x").is_err());
        assert!(parse_cursor(b"-").is_err());
        assert!(parse_cursor(b"99999999999999999999").is_err());
    }
}
