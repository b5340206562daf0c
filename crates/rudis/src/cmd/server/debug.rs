//! DEBUG, for tests: the subcommands of Redis 7.0's that work on what
//! rudis has (OBJECT, DIGEST, DIGEST-VALUE, LOG, RELOAD, SLEEP,
//! SET-ACTIVE-EXPIRE, PAUSE-CRON, SET-DISABLE-DENY-SCRIPTS, QUICKLIST-PACKED-THRESHOLD, PROTOCOL, POPULATE,
//! ERROR, HELP). As in Redis it needs
//! `enable-debug-command` (`yes`, or `local` for loopback clients). Any
//! other subcommand is a syntax error, never accepted and ignored.

use std::sync::atomic::Ordering::Relaxed;

use super::super::{is, Args, Ctx};
use crate::db::{digest, Blob, Value};
use crate::errors::{self, CmdResult, Error};

const HELP: &[&str] = &[
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about the value of a key: where it is, its",
    "    encoding, its serialized length, its access time.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
];

/// DEBUG subcommand [argument ...]
///
/// SLEEP locks every shard while it sleeps, so the dataset is frozen as a
/// sleeping Redis's would be; commands without keys (PING) still run on
/// other threads.
pub fn debug(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let setting = ctx.server.config.read().enable_debug_command.clone();
    if !crate::config::permits(&setting, &ctx.client.addr) {
        return Err(errors::DEBUG_NOT_ALLOWED.into());
    }
    let sub = args.arg();
    let n = args.remaining();
    match () {
        _ if is(sub, "help") && n == 0 => super::super::help(ctx, args, HELP),
        _ if is(sub, "sleep") && n == 1 => sleep(ctx, args.arg()),
        _ if is(sub, "set-active-expire") && n == 1 => {
            // Redis's atoi: anything but a leading non-zero number is 0.
            let on = atoi(args.arg()) != 0;
            ctx.server.active_expire.store(on, Relaxed);
            ctx.out.ok();
            Ok(())
        }
        _ if is(sub, "pause-cron") && n == 1 => {
            let on = atoi(args.arg()) != 0;
            ctx.server.cron_paused.store(on, Relaxed);
            ctx.out.ok();
            Ok(())
        }
        _ if is(sub, "set-disable-deny-scripts") && n == 1 => {
            let off = atoi(args.arg()) != 0;
            crate::script::DISABLE_DENY_SCRIPTS.store(off, Relaxed);
            ctx.out.ok();
            Ok(())
        }
        _ if is(sub, "quicklist-packed-threshold") && n == 1 => {
            let size = crate::config::parse_memory(&String::from_utf8_lossy(args.arg()));
            match size {
                Some(sz) if sz <= (1u64 << 32) - (1 << 20) => {
                    crate::db::list::set_packed_threshold(sz as usize);
                    ctx.out.ok();
                    Ok(())
                }
                _ => Err(Error::Static(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                )),
            }
        }
        _ if is(sub, "protocol") && n == 1 => protocol(ctx, args.arg()),
        _ if is(sub, "reload") => super::save::debug_reload(ctx, args),
        _ if is(sub, "object") && n == 1 => object(ctx, args.arg()),
        _ if is(sub, "digest") && n == 0 => {
            let dbs = ctx.server.store.databases();
            let mut per_db = Vec::with_capacity(dbs);
            for db in 0..dbs {
                let mut acc: Option<digest::Digest> = None;
                for shard in ctx.keys.all() {
                    let t = &shard.dbs[db];
                    if t.is_empty() {
                        continue;
                    }
                    let d = digest::of_table(t);
                    let a = acc.get_or_insert([0; 20]);
                    for (x, y) in a.iter_mut().zip(d) {
                        *x ^= y;
                    }
                }
                per_db.push((db, acc));
            }
            let d = digest::of_dataset(per_db.into_iter());
            ctx.out.simple(digest::hex(&d).as_bytes());
            Ok(())
        }
        _ if is(sub, "digest-value") => {
            let keys = args.rest();
            ctx.out.array(keys.len());
            for key in keys.iter() {
                // Logically expired keys too, as Redis.
                let d = match ctx.keys.table_ref(ctx.db, key).peek(key) {
                    Some(e) => digest::of_value(e),
                    None => [0; 20],
                };
                ctx.out.simple(digest::hex(&d).as_bytes());
            }
            Ok(())
        }
        _ if is(sub, "log") && n == 1 => {
            let msg = String::from_utf8_lossy(args.arg()).into_owned();
            tracing::warn!("DEBUG LOG: {msg}");
            ctx.out.ok();
            Ok(())
        }
        _ if is(sub, "populate") && (1..=3).contains(&n) => populate(ctx, args),
        _ if is(sub, "error") && n == 1 => {
            let text: Vec<u8> = args.arg().to_vec();
            Err(Error::from(String::from_utf8_lossy(&text).into_owned()))
        }
        _ => Err(errors::subcommand_syntax(sub, b"DEBUG")),
    }
}

/// DEBUG OBJECT key: where the value is, its encoding, the length DUMP
/// would give it (less the type byte), its access time; for a list the
/// quicklist's shape.
fn object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now.ms;
    let policy = ctx.server.hot.maxmemory_policy();
    let unshared = ctx.server.hot.maxmemory() != 0 && (policy.is_lru() || policy.is_lfu());
    let Some(e) = ctx.keys.table_ref(ctx.db, key).peek(key) else {
        return Err(Error::Static("ERR no such key"));
    };
    let mut payload = Vec::new();
    crate::rdb::value::put_value(&mut payload, &e.value);
    let refcount = if e.value.is_shared_integer() && !unshared {
        i32::MAX as i64
    } else {
        1
    };
    let mut extra = String::new();
    if let Value::List(l) = &e.value {
        let sh = l.quicklist_shape();
        let avg = l.len() as f64 / sh.nodes.max(1) as f64;
        extra = format!(
            " ql_nodes:{} ql_avg_node:{avg:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
            sh.nodes, sh.fill, sh.compressed as u8, sh.bytes
        );
    }
    let text = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{extra}",
        &e.value as *const Value,
        e.value.encoding(),
        payload.len() - 1,
        e.access_bits(),
        e.idle_seconds(now),
    );
    ctx.out.simple(text.as_bytes());
    Ok(())
}

fn sleep(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    // Redis reads the time with strtod and sleeps that many seconds (none
    // for what does not parse, or for a negative time).
    let secs = crate::double::strtod(crate::double::c_str(arg))
        .value
        .max(0.0);
    // Dispatch holds every shard (`Scope::All`): the keyspace is frozen
    // as a single-threaded Redis would be.
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e9)));
    ctx.out.ok();
    Ok(())
}

/// C's `atoi`: optional spaces and sign, then digits while they last.
fn atoi(a: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(a);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |v, d| {
            v.wrapping_mul(10).wrapping_add((d - b'0') as i64)
        });
    if neg {
        -v
    } else {
        v
    }
}

/// DEBUG PROTOCOL type: a sample of each reply type, as Redis's (whose
/// double is the literal 3.141, not pi).
#[allow(clippy::approx_constant)]
fn protocol(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.resp3();
    match () {
        _ if is(name, "string") => out.bulk(b"Hello World"),
        _ if is(name, "integer") => out.int(12345),
        _ if is(name, "double") => out.double(3.141),
        _ if is(name, "bignum") => out.big_number(b"1234567999999999999999999999999999999"),
        _ if is(name, "null") => out.null(),
        _ if is(name, "array") || is(name, "set") => {
            if is(name, "set") {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        _ if is(name, "map") => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        _ if is(name, "attrib") => {
            if resp3 {
                out.attribute(1);
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            // An attribute is not a reply: one follows it.
            out.bulk(b"Some real reply following the attribute");
        }
        _ if is(name, "push") => {
            if !resp3 {
                return Err(Error::Static("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        _ if is(name, "verbatim") => out.verbatim(b"txt", b"This is a verbatim\nstring"),
        _ if is(name, "true") => out.boolean(true),
        _ if is(name, "false") => out.boolean(false),
        _ => {
            return Err(Error::Static(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

/// A positive count argument, as Redis's `getPositiveLongFromObjectOrReply`.
/// (whose one error covers what is not a number too).
fn positive(a: &[u8]) -> Result<u64, Error> {
    match resp::num::parse_i64(a) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(Error::Static("ERR value is out of range, must be positive")),
    }
}

/// DEBUG POPULATE count [prefix] [size]: keys `prefix:N` (default `key`)
/// holding `value:N`, cut or zero-padded to `size`; existing keys are
/// left alone. Each key's shard is locked for its own write, as the
/// keyspace-wide commands do.
fn populate(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let count = positive(args.arg())?;
    let prefix = args.next_arg().unwrap_or(b"key").to_vec();
    let size = match args.next_arg() {
        Some(s) => Some(positive(s)? as usize),
        None => None,
    };
    // Every value is built before anything is written; a size no value
    // may have is refused first.
    if size.is_some_and(|s| s as i64 > ctx.server.hot.proto_max_bulk_len()) {
        return Err(errors::STRING_TOO_LONG.into());
    }
    let now = ctx.now;
    for j in 0..count {
        let mut key = prefix.clone();
        key.push(b':');
        key.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
        let mut value = format!("value:{j}").into_bytes();
        if let Some(s) = size.filter(|&s| s > 0) {
            value.resize(s, 0);
        }
        let t = ctx.keys.table(ctx.db, &key);
        if t.find(&key, now).is_none() {
            t.add(&key, Value::Str(Blob::new(&value)), now);
            ctx.fx.dirty += 1;
        }
    }
    ctx.out.ok();
    Ok(())
}
