//! INFO [section ...]: the sections, field names and formats of Redis
//! 7.0.15, with rudis's real values. Fields of features rudis does not
//! have yet (persistence, replication, scripting) show what Redis shows
//! when the feature is off.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use super::super::flags::*;
use super::super::{acl, all_indexed, row, Args, Command, Ctx, Locked, Scope};
use crate::config::{REDIS_VERSION, VERSION};
use crate::errors::CmdResult;
use crate::server::Server;
use crate::stats::{sum, WorkerStats};

pub static COMMANDS: &[Command] = &[row("info", -1, LOADING | STALE, info)
    .scope(Scope::Walk)
    .acl(acl::DANGEROUS)
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ])];

const SECTIONS: [&str; 13] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Which sections a request asks for (Redis's `genInfoSectionDict`).
fn wanted(args: &[&[u8]]) -> Vec<&'static str> {
    let default = |s: &&str| !matches!(*s, "commandstats" | "latencystats");
    if args.is_empty() {
        return SECTIONS.iter().copied().filter(default).collect();
    }
    let mut out = Vec::new();
    for a in args {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"all" | b"everything" => out.extend(SECTIONS),
            b"default" => out.extend(SECTIONS.iter().copied().filter(default)),
            name => out.extend(SECTIONS.iter().copied().filter(|s| s.as_bytes() == name)),
        }
    }
    SECTIONS
        .iter()
        .copied()
        .filter(|s| out.contains(s))
        .collect()
}

/// Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    let units = [
        (1024f64.powi(5), "P"),
        (1024f64.powi(4), "T"),
        (1024f64.powi(3), "G"),
        (1024f64.powi(2), "M"),
        (1024.0, "K"),
    ];
    for (size, unit) in units {
        if n >= size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{}B", n as u64)
}

pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// (system, user) CPU seconds of this process, from /proc/self/stat
/// (in clock ticks of 1/100 s on Linux).
fn cpu_times() -> (f64, f64) {
    cpu_times_of("/proc/self/stat")
}

/// (system, user) CPU seconds from a /proc .../stat file.
fn cpu_times_of(path: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(12), ticks(11))
}

fn uname() -> String {
    let field = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} {} {}",
        field("ostype"),
        field("osrelease"),
        std::env::consts::ARCH
    )
}

struct Totals {
    hits: u64,
    misses: u64,
    expired: u64,
    /// Per database: (keys, expires).
    dbs: Vec<(u64, u64)>,
}

fn keyspace_totals(server: &Server, keys: &mut Locked) -> Totals {
    let n = server.store.databases();
    let mut t = Totals {
        hits: 0,
        misses: 0,
        expired: 0,
        dbs: vec![(0, 0); n],
    };
    for s in 0..crate::db::SHARDS {
        let shard = keys.shard(&server.store, s);
        for (db, table) in shard.dbs.iter().enumerate() {
            t.hits += table.hits();
            t.misses += table.misses();
            t.expired += table.expired_count();
            t.dbs[db].0 += table.len() as u64;
            t.dbs[db].1 += table.expires() as u64;
        }
    }
    t
}

fn section(
    out: &mut String,
    name: &str,
    server: &Server,
    workers: &[std::sync::Arc<WorkerStats>],
    keys: &mut Locked,
) {
    let title = match name {
        "cpu" => "CPU".to_string(),
        n => {
            let mut c = n.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    };
    if !out.is_empty() {
        out.push_str("\r\n");
    }
    let _ = write!(out, "# {title}\r\n");
    let config = server.config.read().clone();
    let mut field = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    let uptime = server.started.elapsed().as_secs();
    match name {
        "server" => {
            field("redis_version", &REDIS_VERSION);
            field("rudis_version", &VERSION);
            field("redis_git_sha1", &"00000000");
            field("redis_git_dirty", &0);
            field("redis_build_id", &"0");
            field("redis_mode", &"standalone");
            field("os", &uname());
            field("arch_bits", &(usize::BITS));
            field("monotonic_clock", &"POSIX clock_gettime");
            field("multiplexing_api", &"epoll");
            field("atomicvar_api", &"c11-builtin");
            field("gcc_version", &"0.0.0");
            field("process_id", &std::process::id());
            field("process_supervised", &"no");
            field("run_id", &server.run_id);
            field("tcp_port", &config.port);
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            field("server_time_usec", &micros);
            field("uptime_in_seconds", &uptime);
            field("uptime_in_days", &(uptime / 86400));
            field("hz", &server.hot.current_hz());
            field("configured_hz", &config.hz);
            field(
                "lru_clock",
                &((crate::db::now_ms() / 1000) & ((1 << 24) - 1)),
            );
            field(
                "executable",
                &std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            field(
                "config_file",
                &config
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            field("io_threads_active", &0);
        }
        "clients" => {
            field(
                "connected_clients",
                &server.stats.connected_clients.load(Relaxed),
            );
            field("cluster_connections", &0);
            field("maxclients", &config.maxclients);
            let clients: Vec<_> = server.clients.lock().values().cloned().collect();
            let max = |f: fn(&crate::client::ClientHandle) -> usize| {
                clients.iter().map(|c| f(c)).max().unwrap_or(0)
            };
            field(
                "client_recent_max_input_buffer",
                &max(|c| c.query_capacity.load(Relaxed)),
            );
            field(
                "client_recent_max_output_buffer",
                &max(|c| c.output_buffer.load(Relaxed)),
            );
            field(
                "blocked_clients",
                &(server.blocking.count() + server.stats.paused_clients.load(Relaxed)),
            );
            field("tracking_clients", &server.tracking.counts()[0]);
            field("clients_in_timeout_table", &server.blocking.timed());
        }
        "memory" => {
            let m = super::memory::overhead(server, keys);
            let (used, allocated, active, resident, rss, peak) =
                (m.used, m.allocated, m.active, m.resident, m.rss, m.peak);
            let startup = m.startup;
            let dataset = used.saturating_sub(m.total);
            let pct = |a: u64, b: u64| {
                if b == 0 {
                    0.0
                } else {
                    a as f64 * 100.0 / b as f64
                }
            };
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            field("used_memory", &used);
            field("used_memory_human", &human(used));
            field("used_memory_rss", &rss);
            field("used_memory_rss_human", &human(rss));
            field("used_memory_peak", &peak);
            field("used_memory_peak_human", &human(peak));
            field("used_memory_peak_perc", &format!("{:.2}%", pct(used, peak)));
            field("used_memory_overhead", &m.total);
            field("used_memory_startup", &startup);
            field("used_memory_dataset", &dataset);
            field(
                "used_memory_dataset_perc",
                &format!("{:.2}%", pct(dataset, used)),
            );
            field("allocator_allocated", &allocated);
            field("allocator_active", &active);
            field("allocator_resident", &resident);
            let total = total_memory();
            field("total_system_memory", &total);
            field("total_system_memory_human", &human(total));
            // The script thread's Lua state and the script cache (no
            // functions yet).
            let scripts = &server.scripts;
            let lua = scripts.lua_memory.load(Relaxed);
            let cached = scripts.cache_bytes();
            field("used_memory_lua", &lua);
            field("used_memory_vm_eval", &lua);
            field("used_memory_lua_human", &human(lua as u64));
            field("used_memory_scripts_eval", &cached);
            field("number_of_cached_scripts", &scripts.count());
            for k in [
                "number_of_functions",
                "number_of_libraries",
                "used_memory_vm_functions",
            ] {
                field(k, &0);
            }
            field("used_memory_vm_total", &lua);
            field("used_memory_vm_total_human", &human(lua as u64));
            field("used_memory_functions", &0);
            field("used_memory_scripts", &cached);
            field("used_memory_scripts_human", &human(cached as u64));
            let maxmemory = server.hot.maxmemory();
            field("maxmemory", &maxmemory);
            field("maxmemory_human", &human(maxmemory));
            field("maxmemory_policy", &server.hot.maxmemory_policy().name());
            field(
                "allocator_frag_ratio",
                &format!("{:.2}", ratio(active, allocated)),
            );
            field("allocator_frag_bytes", &active.saturating_sub(allocated));
            field(
                "allocator_rss_ratio",
                &format!("{:.2}", ratio(resident, active)),
            );
            field("allocator_rss_bytes", &resident.saturating_sub(active));
            field(
                "rss_overhead_ratio",
                &format!("{:.2}", ratio(rss, resident)),
            );
            field("rss_overhead_bytes", &rss.saturating_sub(resident));
            field(
                "mem_fragmentation_ratio",
                &format!("{:.2}", ratio(rss, used)),
            );
            field("mem_fragmentation_bytes", &rss.saturating_sub(used));
            let clients_mem = m.clients_normal;
            field("mem_not_counted_for_evict", &crate::alloc::spare());
            for k in [
                "mem_replication_backlog",
                "mem_total_replication_buffers",
                "mem_clients_slaves",
            ] {
                field(k, &0);
            }
            field("mem_clients_normal", &clients_mem);
            field("mem_cluster_links", &0);
            field("mem_aof_buffer", &0);
            field("mem_allocator", &"jemalloc-5.3.0");
            field("active_defrag_running", &0);
            use crate::db::lazyfree::{FREED, PENDING};
            field("lazyfree_pending_objects", &PENDING.load(Relaxed));
            field("lazyfreed_objects", &FREED.load(Relaxed));
        }
        "persistence" => {
            // No AOF yet: what Redis shows without it.
            for k in [
                "loading",
                "async_loading",
                "current_cow_peak",
                "current_cow_size",
                "current_cow_size_age",
            ] {
                field(k, &0);
            }
            field("current_fork_perc", &"0.00");
            for k in ["current_save_keys_processed", "current_save_keys_total"] {
                field(k, &0);
            }
            let p = &server.persist;
            field("rdb_changes_since_last_save", &p.changes_since_save(server));
            let running = p.bgsave_running_secs();
            field("rdb_bgsave_in_progress", &(running.is_some() as u8));
            field("rdb_last_save_time", &p.last_save.load(Relaxed));
            let ok = if p.last_ok.load(Relaxed) { "ok" } else { "err" };
            field("rdb_last_bgsave_status", &ok);
            field(
                "rdb_last_bgsave_time_sec",
                &p.last_bgsave_secs.load(Relaxed),
            );
            field(
                "rdb_current_bgsave_time_sec",
                &running.map_or(-1, |s| s as i64),
            );
            field("rdb_saves", &p.saves.load(Relaxed));
            field("rdb_last_cow_size", &0);
            field(
                "rdb_last_load_keys_expired",
                &p.expired_on_load.load(Relaxed),
            );
            field("rdb_last_load_keys_loaded", &p.loaded_keys.load(Relaxed));
            for k in [
                "aof_enabled",
                "aof_rewrite_in_progress",
                "aof_rewrite_scheduled",
            ] {
                field(k, &0);
            }
            field("aof_last_rewrite_time_sec", &-1);
            field("aof_current_rewrite_time_sec", &-1);
            field("aof_last_bgrewrite_status", &"ok");
            field("aof_rewrites", &0);
            field("aof_rewrites_consecutive_failures", &0);
            field("aof_last_write_status", &"ok");
            for k in [
                "aof_last_cow_size",
                "module_fork_in_progress",
                "module_fork_last_cow_size",
            ] {
                field(k, &0);
            }
        }
        "stats" => {
            let t = keyspace_totals(server, keys);
            let [ops, input, output] = server.rates();
            let zero = |field: &mut dyn FnMut(&str, &dyn std::fmt::Display), names: &[&str]| {
                for n in names {
                    field(n, &0);
                }
            };
            field(
                "total_connections_received",
                &server.stats.total_connections.load(Relaxed),
            );
            field("total_commands_processed", &sum(workers, |w| &w.commands));
            field("instantaneous_ops_per_sec", &(ops as u64));
            field("total_net_input_bytes", &sum(workers, |w| &w.net_input));
            field("total_net_output_bytes", &sum(workers, |w| &w.net_output));
            zero(
                &mut field,
                &["total_net_repl_input_bytes", "total_net_repl_output_bytes"],
            );
            field(
                "instantaneous_input_kbps",
                &format!("{:.2}", input / 1024.0),
            );
            field(
                "instantaneous_output_kbps",
                &format!("{:.2}", output / 1024.0),
            );
            field("instantaneous_input_repl_kbps", &"0.00");
            field("instantaneous_output_repl_kbps", &"0.00");
            field(
                "rejected_connections",
                &server.stats.rejected_connections.load(Relaxed),
            );
            field(
                "rudis_command_panics",
                &server.stats.command_panics.load(Relaxed),
            );
            zero(
                &mut field,
                &["sync_full", "sync_partial_ok", "sync_partial_err"],
            );
            field("expired_keys", &t.expired);
            field("expired_stale_perc", &"0.00");
            field(
                "expired_time_cap_reached_count",
                &server.stats.expire_time_cap_reached.load(Relaxed),
            );
            field(
                "expire_cycle_cpu_milliseconds",
                &(server.stats.expire_cycle_micros.load(Relaxed) / 1000),
            );
            field("evicted_keys", &server.evictor.evicted_keys.load(Relaxed));
            field(
                "evicted_clients",
                &server.evictor.evicted_clients.load(Relaxed),
            );
            let (ended, current) = server.evictor.exceeded_us();
            field("total_eviction_exceeded_time", &((ended + current) / 1000));
            field("current_eviction_exceeded_time", &(current / 1000));
            field("keyspace_hits", &t.hits);
            field("keyspace_misses", &t.misses);
            let (channels, patterns, shard) = server.pubsub.counts();
            field("pubsub_channels", &channels);
            field("pubsub_patterns", &patterns);
            field("pubsubshard_channels", &shard);
            zero(
                &mut field,
                &[
                    "latest_fork_usec",
                    "total_forks",
                    "migrate_cached_sockets",
                    "slave_expires_tracked_keys",
                    "active_defrag_hits",
                    "active_defrag_misses",
                    "active_defrag_key_hits",
                    "active_defrag_key_misses",
                    "total_active_defrag_time",
                    "current_active_defrag_time",
                ],
            );
            let [_, keys, items, prefixes] = server.tracking.counts();
            field("tracking_total_keys", &keys);
            field("tracking_total_items", &items);
            field("tracking_total_prefixes", &prefixes);
            field("unexpected_error_replies", &0);
            field("total_error_replies", &sum(workers, |w| &w.error_replies));
            field("dump_payload_sanitizations", &0);
            field("total_reads_processed", &sum(workers, |w| &w.reads));
            field("total_writes_processed", &sum(workers, |w| &w.writes));
            zero(
                &mut field,
                &[
                    "io_threaded_reads_processed",
                    "io_threaded_writes_processed",
                    "reply_buffer_shrinks",
                    "reply_buffer_expands",
                ],
            );
        }
        "replication" => {
            field("role", &"master");
            field("connected_slaves", &0);
            if server.hot.not_enough_replicas() {
                field("min_slaves_good_slaves", &0);
            }
            field("master_failover_state", &"no-failover");
            field("master_replid", &server.run_id);
            field(
                "master_replid2",
                &"0000000000000000000000000000000000000000",
            );
            field("master_repl_offset", &0);
            field("second_repl_offset", &-1);
            field("repl_backlog_active", &0);
            field("repl_backlog_size", &1048576);
            field("repl_backlog_first_byte_offset", &0);
            field("repl_backlog_histlen", &0);
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            field("used_cpu_sys", &format!("{sys:.6}"));
            field("used_cpu_user", &format!("{user:.6}"));
            field("used_cpu_sys_children", &"0.000000");
            field("used_cpu_user_children", &"0.000000");
            let (msys, muser) =
                cpu_times_of(&format!("/proc/self/task/{}/stat", std::process::id()));
            field("used_cpu_sys_main_thread", &format!("{msys:.6}"));
            field("used_cpu_user_main_thread", &format!("{muser:.6}"));
        }
        "commandstats" => {
            for (cmd, i) in all_indexed() {
                let calls: u64 = workers
                    .iter()
                    .map(|w| w.per_command[i].calls.load(Relaxed))
                    .sum();
                let rejected: u64 = workers
                    .iter()
                    .map(|w| w.per_command[i].rejected.load(Relaxed))
                    .sum();
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec: u64 = workers
                    .iter()
                    .map(|w| w.per_command[i].usec.load(Relaxed))
                    .sum();
                let failed: u64 = workers
                    .iter()
                    .map(|w| w.per_command[i].failed.load(Relaxed))
                    .sum();
                let per = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                field(
                    &format!("cmdstat_{}", cmd.name),
                    &format!(
                        "calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}"
                    ),
                );
            }
        }
        "errorstats" => {
            let mut all: Vec<(Vec<u8>, u64)> = Vec::new();
            for w in workers {
                for (code, n) in w.errors.lock().iter() {
                    match all.iter_mut().find(|(c, _)| c == code) {
                        Some(e) => e.1 += n,
                        None => all.push((code.clone(), *n)),
                    }
                }
            }
            all.sort();
            for (code, n) in all {
                field(
                    &format!("errorstat_{}", String::from_utf8_lossy(&code)),
                    &format!("count={n}"),
                );
            }
        }
        "latencystats" => {
            for (cmd, i) in all_indexed() {
                let Some(h) = crate::stats::merged_latency(workers, i) else {
                    continue;
                };
                let text: Vec<String> = config
                    .latency_tracking_info_percentiles
                    .iter()
                    .map(|&p| {
                        let v = h.value_at_quantile(p / 100.0) as f64 / 1000.0;
                        format!("p{}={v:.3}", crate::config::percentile_text(p))
                    })
                    .collect();
                field(
                    &format!("latency_percentiles_usec_{}", cmd.name),
                    &text.join(","),
                );
            }
        }
        "cluster" => field("cluster_enabled", &0),
        "keyspace" => {
            let t = keyspace_totals(server, keys);
            for (db, (keys, expires)) in t.dbs.iter().enumerate() {
                if *keys > 0 {
                    field(
                        &format!("db{db}"),
                        &format!("keys={keys},expires={expires},avg_ttl=0"),
                    );
                }
            }
        }
        _ => {}
    }
}

/// INFO [section [section ...]]
fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let asked: Vec<&[u8]> = args.rest().iter().collect();
    let workers = ctx.server.workers.lock().clone();
    let mut out = String::new();
    for s in wanted(&asked) {
        section(&mut out, s, ctx.server, &workers, ctx.keys);
    }
    ctx.out.verbatim(b"txt", out.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{human, wanted};

    #[test]
    fn sections_and_units() {
        assert_eq!(wanted(&[]).len(), 11);
        assert_eq!(wanted(&[b"all"]).len(), 13);
        assert_eq!(
            wanted(&[b"CLIENTS", b"server", b"nope"]),
            vec!["server", "clients"]
        );
        assert_eq!(human(1412608), "1.35M");
        assert_eq!(human(200), "200B");
        assert_eq!(human(33792), "33.00K");
    }
}
