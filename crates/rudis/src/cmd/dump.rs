//! DUMP and RESTORE: a key's value in Redis's RDB format, with the DUMP
//! footer (see `crate::rdb`).

use super::flags::*;
use super::{acl, is, parse_int, row, Args, Command, Ctx, KeySpec};
use crate::db::{Blob, Entry};
use crate::effects::class::GENERIC;
use crate::errors::{self, CmdResult, Error};
use crate::rdb::{self, value};

pub static COMMANDS: &[Command] = &[
    row("dump", 2, READONLY, dump)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"])
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("restore", -4, WRITE | DENYOOM, restore)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .keys(&[KeySpec::at(1, &["OW", "update"])]),
];

/// DUMP key
fn dump(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let now = ctx.now;
    let Some(e) = ctx.keys.table(ctx.db, key).get(key, now) else {
        ctx.out.null();
        return Ok(());
    };
    let mut payload = Vec::new();
    value::put_value(&mut payload, &e.value);
    rdb::put_footer(&mut payload);
    ctx.out.bulk(&payload);
    Ok(())
}

/// The limits the server's configuration sets on compact values.
pub fn limits(ctx: &Ctx) -> value::Limits {
    let hot = &ctx.server.hot;
    value::Limits {
        hash: hot.hash_limits(),
        zset: hot.zset_limits(),
        intset: hot.set_max_intset_entries(),
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (key, ttl_arg, payload) = (args.arg(), args.arg(), args.arg());
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    while let Some(opt) = args.next_arg() {
        let more = args.remaining() > 0;
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if is(opt, "idletime") && more && freq.is_none() {
            let v = parse_int(args.arg())?;
            if v < 0 {
                return Err(Error::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
        } else if is(opt, "freq") && more && idle.is_none() {
            let v = parse_int(args.arg())?;
            if !(0..=255).contains(&v) {
                return Err(Error::Static(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v as u8);
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = ctx.now;
    if !replace && ctx.table(key).find(key, now).is_some() {
        return Err(Error::Static("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_int(ttl_arg)?;
    if ttl < 0 {
        return Err(Error::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let body = rdb::verify(payload).ok_or(Error::Static(
        "ERR DUMP payload version or checksum are wrong",
    ))?;
    let limits = limits(ctx);
    let bad = || Error::Static("ERR Bad data format");
    let mut r = rdb::Reader::new(body);
    let kind = r.byte().ok_or_else(bad)?;
    let v = value::read_value(&mut r, kind, limits).ok_or_else(bad)?;
    if !r.is_empty() {
        return Err(bad());
    }
    let t = ctx.table(key);
    let deleted = replace && t.remove(key, now).is_some();
    let at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t,
        (t, false) => t.wrapping_add(now.ms as i64),
    };
    if at != 0 && at <= now.ms as i64 {
        // Already expired: the key is gone (a REPLACE deleted it).
        if deleted {
            ctx.modified(key, GENERIC, "del");
        }
        ctx.out.ok();
        return Ok(());
    }
    let mut entry = Entry::new(v, at as u64, now);
    if let Some(secs) = idle {
        entry.set_idle(secs, now.ms);
    }
    if let Some(f) = freq {
        entry.set_lfu(f, now.ms);
    }
    ctx.table(key).insert_new(Blob::new(key), entry);
    ctx.modified(key, GENERIC, "restore");
    ctx.key_ready(key);
    ctx.out.ok();
    Ok(())
}
