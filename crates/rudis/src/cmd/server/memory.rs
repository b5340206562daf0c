//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP, after Redis's
//! `memoryCommand`. The figures come from the allocator and from what
//! rudis's own structures hold (`db::memory`).

use std::sync::atomic::Ordering::Relaxed;

use super::super::flags::*;
use super::super::{acl, is, row, Args, Command, Ctx, KeySpec, Locked, Scope};
use super::info::rss;
use crate::db::memory::key_usage;
use crate::db::SHARDS;
use crate::errors::{self, CmdResult, Error};
use crate::server::Server;

pub static COMMANDS: &[Command] = &[row("memory", -2, 0, |_, _| Ok(())).subs(MEMORY)];

/// The command tips of the three reports, as Redis lists them.
const REPORT_TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_shards",
    "response_policy:special",
];

static MEMORY: &[Command] = &[
    row("memory|help", 2, LOADING | STALE, memory_help).acl(acl::SLOW),
    row("memory|purge", 2, 0, memory_purge)
        .acl(acl::SLOW)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    row("memory|usage", -3, READONLY, memory_usage)
        .acl(acl::READ | acl::SLOW)
        .keys(&[KeySpec::at(2, &["RO"])]),
    row("memory|doctor", 2, 0, memory_doctor)
        .scope(Scope::Walk)
        .acl(acl::SLOW)
        .tips(REPORT_TIPS),
    row("memory|malloc-stats", 2, 0, memory_malloc_stats)
        .acl(acl::SLOW)
        .tips(REPORT_TIPS),
    row("memory|stats", 2, 0, memory_stats)
        .scope(Scope::Walk)
        .acl(acl::SLOW)
        .tips(REPORT_TIPS),
];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

/// MEMORY HELP
fn memory_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::super::help(ctx, args, HELP)
}

/// MEMORY USAGE key [SAMPLES count]
fn memory_usage(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let mut samples = 5usize;
    while let Some(a) = args.next_arg() {
        match args.peek() {
            Some(n) if is(a, "samples") => {
                args.next_arg();
                let n = super::super::parse_int(n)?;
                if n < 0 {
                    return Err(errors::SYNTAX.into());
                }
                samples = n as usize;
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    let now = ctx.now.quiet();
    let t = ctx.table(key);
    let Some(i) = t.find(key, now) else {
        ctx.out.null();
        return Ok(());
    };
    let (k, e) = t.at(i);
    let usage = key_usage(k, e, samples);
    ctx.out.int(usage as i64);
    Ok(())
}

/// The figures MEMORY STATS and DOCTOR (and INFO memory) report, as
/// Redis's `getMemoryOverheadData`.
pub struct Overhead {
    /// Bytes in use as rudis counts them (INFO used_memory).
    pub used: u64,
    /// jemalloc's own figures.
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
    pub peak: u64,
    pub startup: u64,
    pub clients_normal: u64,
    pub clients: usize,
    /// (db, keyspace table bytes) for each database holding keys.
    pub dbs: Vec<(usize, u64)>,
    pub keys: u64,
    pub total: u64,
}

pub fn overhead(server: &Server, keys: &mut Locked) -> Overhead {
    let (allocated, active, resident) = crate::alloc::stats();
    // Without the counting allocator (unit tests), jemalloc's count.
    let used = Some(crate::alloc::used())
        .filter(|&u| u > 0)
        .unwrap_or(allocated);
    let (clients_normal, clients) = {
        let all = server.clients.lock();
        let bytes: usize = all
            .values()
            .map(|c| c.query_capacity.load(Relaxed) + c.output_buffer.load(Relaxed))
            .sum();
        (bytes as u64, all.len())
    };
    let n = server.store.databases();
    let mut per_db = vec![(0u64, 0u64); n];
    for s in 0..SHARDS {
        let shard = keys.shard(&server.store, s);
        for (db, t) in shard.dbs.iter().enumerate() {
            per_db[db].0 += t.len() as u64;
            per_db[db].1 += t.overhead() as u64;
        }
    }
    let dbs: Vec<(usize, u64)> = per_db
        .iter()
        .enumerate()
        .filter(|(_, (keys, _))| *keys > 0)
        .map(|(db, (_, bytes))| (db, *bytes))
        .collect();
    let keys = per_db.iter().map(|(k, _)| k).sum();
    let startup = server.memory_startup.load(Relaxed);
    let total = startup + clients_normal + dbs.iter().map(|(_, b)| b).sum::<u64>();
    Overhead {
        used,
        allocated,
        active,
        resident,
        rss: rss(),
        peak: server.memory_peak(used),
        startup,
        clients_normal,
        clients,
        dbs,
        keys,
        total,
    }
}

/// Redis computes these ratios in `float`.
fn ratio(a: u64, b: u64) -> f64 {
    (a as f32 / b as f32) as f64
}

/// MEMORY STATS
fn memory_stats(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let m = overhead(ctx.server, ctx.keys);
    let out = &mut *ctx.out;
    let dataset = m.used.saturating_sub(m.total);
    let net = if m.used > m.startup {
        m.used - m.startup
    } else {
        1
    };
    out.map(27 + m.dbs.len());
    let int = |out: &mut resp::Reply, k: &str, v: u64| {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    };
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.used);
    int(out, "startup.allocated", m.startup);
    for k in ["replication.backlog", "clients.slaves"] {
        int(out, k, 0);
    }
    int(out, "clients.normal", m.clients_normal);
    for k in [
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
    ] {
        int(out, k, 0);
    }
    for (db, bytes) in &m.dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", *bytes);
        // Expiry times live in the entries, and there are no cluster slots.
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.total);
    int(out, "keys.count", m.keys);
    int(
        out,
        "keys.bytes-per-key",
        net.checked_div(m.keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", dataset);
    let double = |out: &mut resp::Reply, k: &str, v: f64| {
        out.bulk(k.as_bytes());
        out.double(v);
    };
    double(
        out,
        "dataset.percentage",
        (dataset as f32 * 100.0 / net as f32) as f64,
    );
    double(
        out,
        "peak.percentage",
        (m.used as f32 * 100.0 / m.peak.max(1) as f32) as f64,
    );
    int(out, "allocator.allocated", m.allocated);
    int(out, "allocator.active", m.active);
    int(out, "allocator.resident", m.resident);
    double(
        out,
        "allocator-fragmentation.ratio",
        ratio(m.active, m.allocated),
    );
    int(
        out,
        "allocator-fragmentation.bytes",
        m.active.wrapping_sub(m.allocated),
    );
    double(out, "allocator-rss.ratio", ratio(m.resident, m.active));
    int(
        out,
        "allocator-rss.bytes",
        m.resident.wrapping_sub(m.active),
    );
    double(out, "rss-overhead.ratio", ratio(m.rss, m.resident));
    int(out, "rss-overhead.bytes", m.rss.wrapping_sub(m.resident));
    double(out, "fragmentation", ratio(m.rss, m.used));
    int(out, "fragmentation.bytes", m.rss.wrapping_sub(m.used));
    Ok(())
}

const DOCTOR_FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_HEAD: &str =
    "Sam, I detected a few issues in this Redis instance memory implants:\n\n";
const DOCTOR_PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n";
const DOCTOR_FRAG: &str = " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n";
const DOCTOR_ALLOC_FRAG: &str = " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n";
const DOCTOR_ALLOC_RSS: &str = " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n";
const DOCTOR_PROC_RSS: &str = " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n";
const DOCTOR_CLIENTS: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n";
const DOCTOR_TAIL: &str = "I'm here to keep you safe, Sam. I want to help you.\n";

/// The report of Redis's `getMemoryDoctorReport`, over rudis's figures.
pub fn doctor_report(m: &Overhead) -> String {
    const TEN_MB: u64 = 10 << 20;
    if m.used < 5 * 1024 * 1024 {
        return DOCTOR_EMPTY.to_string();
    }
    let over = |a: u64, b: u64, limit: f64| ratio(a, b) > limit && a.saturating_sub(b) > TEN_MB;
    let findings = [
        (m.peak as f32 / m.used as f32 > 1.5, DOCTOR_PEAK),
        (over(m.rss, m.used, 1.4), DOCTOR_FRAG),
        (over(m.active, m.allocated, 1.1), DOCTOR_ALLOC_FRAG),
        (over(m.resident, m.active, 1.1), DOCTOR_ALLOC_RSS),
        (over(m.rss, m.resident, 1.1), DOCTOR_PROC_RSS),
        (
            m.clients > 0 && m.clients_normal / m.clients as u64 > 200 * 1024,
            DOCTOR_CLIENTS,
        ),
    ];
    if findings.iter().all(|(found, _)| !found) {
        return DOCTOR_FINE.to_string();
    }
    let mut s = DOCTOR_HEAD.to_string();
    for (_, text) in findings.iter().filter(|(found, _)| *found) {
        s.push_str(text);
    }
    s.push_str(DOCTOR_TAIL);
    s
}

/// MEMORY DOCTOR
fn memory_doctor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let report = doctor_report(&overhead(ctx.server, ctx.keys));
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS
fn memory_malloc_stats(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.out.verbatim(b"txt", &crate::alloc::report());
    Ok(())
}

/// MEMORY PURGE
fn memory_purge(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    if crate::alloc::purge() {
        ctx.out.ok();
        Ok(())
    } else {
        Err(Error::Static("ERR Error purging dirty pages"))
    }
}
