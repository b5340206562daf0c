//! The table of directives: each one's parsing (with Redis's checks and
//! error texts) and its CONFIG GET form.

use super::*;

// Shared by `busy-reply-threshold` and its old name.
fn set_busy_reply_threshold(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.busy_reply_threshold = int(a, 0, i64::MAX)? as u64;
    Ok(())
}

// Shared by each directive and its old `slave` name.
fn set_min_replicas_to_write(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.min_replicas_to_write = int(a, 0, i32::MAX as i64)? as u32;
    Ok(())
}

fn set_min_replicas_max_lag(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.min_replicas_max_lag = int(a, 0, i32::MAX as i64)? as u32;
    Ok(())
}

// Shared by each directive and its old `ziplist` alias.
fn set_hash_entries(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.hash_max_listpack_entries = int(a, 0, i64::MAX)? as u64;
    Ok(())
}

fn set_hash_value(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.hash_max_listpack_value = memory(a, 0, i64::MAX as u64)?;
    Ok(())
}

fn set_zset_entries(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.zset_max_listpack_entries = int(a, 0, i64::MAX)? as u64;
    Ok(())
}

fn set_zset_value(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.zset_max_listpack_value = memory(a, 0, i64::MAX as u64)?;
    Ok(())
}

/// A percentile as Redis prints it: `%f` without trailing zeros (its
/// `trimDoubleString`).
pub fn percentile_text(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn set_percentiles(c: &mut Config, a: &[String]) -> Result<(), String> {
    // One argument may hold them all (CONFIG SET, a quoted file line).
    let mut out = Vec::new();
    for w in a.iter().flat_map(|w| w.split_whitespace()) {
        let v = w
            .parse::<f64>()
            .ok()
            .filter(|v| !v.is_nan())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&v) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(v);
    }
    c.latency_tracking_info_percentiles = out;
    Ok(())
}

fn set_list_size(c: &mut Config, a: &[String]) -> Result<(), String> {
    c.list_max_listpack_size = int(a, i32::MIN as i64, i32::MAX as i64)?;
    Ok(())
}

pub static DIRECTIVES: &[Directive] = &[
    Directive {
        name: "port",
        set: |c, a| {
            c.port = int(a, 0, 65535)? as u16;
            Ok(())
        },
        get: |c| c.port.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "bind",
        set: |c, a| {
            if a.is_empty() {
                return Err("wrong number of arguments".into());
            }
            // One argument may hold several addresses, as Redis splits it.
            c.bind = a
                .iter()
                .flat_map(|w| w.split_whitespace())
                .map(String::from)
                .collect();
            if c.bind.is_empty() {
                return Err("wrong number of arguments".into());
            }
            Ok(())
        },
        get: |c| c.bind.join(" "),
        change: Change::Live,
    },
    Directive {
        name: "protected-mode",
        set: |c, a| {
            c.protected_mode = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.protected_mode),
        change: Change::Live,
    },
    Directive {
        name: "databases",
        set: |c, a| {
            c.databases = int(a, 1, i32::MAX as i64)? as usize;
            Ok(())
        },
        get: |c| c.databases.to_string(),
        change: Change::Immutable,
    },
    Directive {
        name: "threads",
        set: |c, a| {
            c.threads = int(a, 1, 128)? as usize;
            Ok(())
        },
        get: |c| c.threads.to_string(),
        // rudis's own directive: set at start; CONFIG SET of the value it
        // has succeeds (as CONFIG sanity in Redis's suite expects of
        // every directive it does not know to be immutable).
        change: Change::Restart,
    },
    Directive {
        // Redis clamps hz into 1..=500 rather than refusing it.
        name: "hz",
        set: |c, a| {
            c.hz = int(a, 0, i32::MAX as i64)?.clamp(1, 500) as u32;
            Ok(())
        },
        get: |c| c.hz.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "dynamic-hz",
        set: |c, a| {
            c.dynamic_hz = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.dynamic_hz),
        change: Change::Live,
    },
    Directive {
        name: "maxclients",
        set: |c, a| {
            c.maxclients = int(a, 1, u32::MAX as i64)? as u32;
            Ok(())
        },
        get: |c| c.maxclients.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "timeout",
        set: |c, a| {
            c.timeout = int(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.timeout.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "tcp-keepalive",
        set: |c, a| {
            c.tcp_keepalive = int(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.tcp_keepalive.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "loglevel",
        set: |c, a| {
            c.loglevel = choice(a, &LOGLEVELS)?;
            Ok(())
        },
        get: |c| {
            let (name, _) = LOGLEVELS
                .iter()
                .find(|(_, l)| *l == c.loglevel)
                .expect("listed");
            name.to_string()
        },
        change: Change::Live,
    },
    Directive {
        name: "daemonize",
        set: |c, a| {
            c.daemonize = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.daemonize),
        change: Change::Immutable,
    },
    Directive {
        name: "pidfile",
        set: |c, a| {
            c.pidfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.pidfile.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "oom-score-adj",
        set: |c, a| {
            c.oom_score_adj = choice(a, &crate::oom::MODES)?;
            Ok(())
        },
        get: |c| {
            let m = crate::oom::MODES
                .iter()
                .find(|(_, m)| *m == c.oom_score_adj);
            m.map_or("no", |(n, _)| n).to_string()
        },
        change: Change::Live,
    },
    Directive {
        name: "oom-score-adj-values",
        set: |c, a| {
            // Three words (CONFIG SET's value splits at each space).
            let words: Vec<&str> = a.iter().flat_map(|w| w.split(' ')).collect();
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let bad = || {
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".to_string()
            };
            let mut values = [0; 3];
            for (v, w) in values.iter_mut().zip(words) {
                *v = w.parse().map_err(|_| bad())?;
                if !(-2000..=2000).contains(v) {
                    return Err(bad());
                }
            }
            c.oom_score_adj_values = values;
            Ok(())
        },
        get: |c| {
            let [a, b, d] = c.oom_score_adj_values;
            format!("{a} {b} {d}")
        },
        change: Change::Live,
    },
    Directive {
        name: "unixsocket",
        set: |c, a| {
            c.unixsocket = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.unixsocket.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "unixsocketperm",
        set: |c, a| {
            // An octal mode, as Redis's OCTAL_CONFIG (strtoll base 8).
            let v = i64::from_str_radix(one(a)?, 8)
                .map_err(|_| "argument couldn't be parsed as an octal number".to_string())?;
            if !(0..=0o777).contains(&v) {
                return Err("argument must be between 0 and 777 inclusive".into());
            }
            c.unixsocketperm = v as u32;
            Ok(())
        },
        get: |c| format!("{:o}", c.unixsocketperm),
        change: Change::Immutable,
    },
    Directive {
        name: "logfile",
        set: |c, a| {
            c.logfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.logfile.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "proto-max-bulk-len",
        set: |c, a| {
            c.proto_max_bulk_len = memory(a, 1024 * 1024, i64::MAX as u64)? as i64;
            Ok(())
        },
        get: |c| c.proto_max_bulk_len.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "hash-max-listpack-entries",
        set: set_hash_entries,
        get: |c| c.hash_max_listpack_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "hash-max-ziplist-entries",
        set: set_hash_entries,
        get: |c| c.hash_max_listpack_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "hash-max-listpack-value",
        set: set_hash_value,
        get: |c| c.hash_max_listpack_value.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "hash-max-ziplist-value",
        set: set_hash_value,
        get: |c| c.hash_max_listpack_value.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "stream-node-max-bytes",
        set: |c, a| {
            c.stream_node_max_bytes = memory(a, 0, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.stream_node_max_bytes.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "stream-node-max-entries",
        set: |c, a| {
            c.stream_node_max_entries = int(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.stream_node_max_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "zset-max-listpack-entries",
        set: set_zset_entries,
        get: |c| c.zset_max_listpack_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "zset-max-ziplist-entries",
        set: set_zset_entries,
        get: |c| c.zset_max_listpack_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "zset-max-listpack-value",
        set: set_zset_value,
        get: |c| c.zset_max_listpack_value.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "zset-max-ziplist-value",
        set: set_zset_value,
        get: |c| c.zset_max_listpack_value.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "latency-monitor-threshold",
        set: |c, a| {
            c.latency_monitor_threshold = int(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.latency_monitor_threshold.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "notify-keyspace-events",
        set: |c, a| {
            c.notify_keyspace_events = crate::effects::class::parse(one(a)?.as_bytes())
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            Ok(())
        },
        get: |c| crate::effects::class::format(c.notify_keyspace_events),
        change: Change::Live,
    },
    Directive {
        name: "tracking-table-max-keys",
        set: |c, a| {
            c.tracking_table_max_keys = int(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.tracking_table_max_keys.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "client-output-buffer-limit",
        set: |c, a| {
            c.client_output_buffer_limit =
                crate::push::parse_limits(a, c.client_output_buffer_limit)?;
            Ok(())
        },
        get: |c| crate::push::format_limits(&c.client_output_buffer_limit),
        change: Change::Live,
    },
    Directive {
        name: "active-expire-effort",
        set: |c, a| {
            c.active_expire_effort = int(a, 1, 10)? as u32;
            Ok(())
        },
        get: |c| c.active_expire_effort.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "busy-reply-threshold",
        set: set_busy_reply_threshold,
        get: |c| c.busy_reply_threshold.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "lua-time-limit",
        set: set_busy_reply_threshold,
        get: |c| c.busy_reply_threshold.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "min-replicas-to-write",
        set: set_min_replicas_to_write,
        get: |c| c.min_replicas_to_write.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "min-slaves-to-write",
        set: set_min_replicas_to_write,
        get: |c| c.min_replicas_to_write.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "min-replicas-max-lag",
        set: set_min_replicas_max_lag,
        get: |c| c.min_replicas_max_lag.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "min-slaves-max-lag",
        set: set_min_replicas_max_lag,
        get: |c| c.min_replicas_max_lag.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "tcp-backlog",
        set: |c, a| {
            c.tcp_backlog = int(a, 0, i32::MAX as i64)? as i32;
            Ok(())
        },
        get: |c| c.tcp_backlog.to_string(),
        change: Change::Immutable,
    },
    Directive {
        name: "latency-tracking",
        set: |c, a| {
            c.latency_tracking = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.latency_tracking),
        change: Change::Live,
    },
    Directive {
        name: "latency-tracking-info-percentiles",
        set: set_percentiles,
        get: |c| {
            c.latency_tracking_info_percentiles
                .iter()
                .map(|&p| percentile_text(p))
                .collect::<Vec<_>>()
                .join(" ")
        },
        change: Change::Live,
    },
    Directive {
        name: "lazyfree-lazy-user-del",
        set: |c, a| {
            c.lazyfree_lazy_user_del = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.lazyfree_lazy_user_del),
        change: Change::Live,
    },
    Directive {
        name: "lazyfree-lazy-eviction",
        set: |c, a| {
            c.lazyfree_lazy_eviction = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.lazyfree_lazy_eviction),
        change: Change::Live,
    },
    Directive {
        name: "maxmemory",
        set: |c, a| {
            c.maxmemory = memory(a, 0, u64::MAX)?;
            Ok(())
        },
        get: |c| c.maxmemory.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "maxmemory-policy",
        set: |c, a| {
            c.maxmemory_policy = choice(a, &crate::evict::POLICIES)?;
            Ok(())
        },
        get: |c| c.maxmemory_policy.name().into(),
        change: Change::Live,
    },
    Directive {
        name: "maxmemory-samples",
        set: |c, a| {
            c.maxmemory_samples = int(a, 1, i32::MAX as i64)? as u32;
            Ok(())
        },
        get: |c| c.maxmemory_samples.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "maxmemory-eviction-tenacity",
        set: |c, a| {
            c.maxmemory_eviction_tenacity = int(a, 0, 100)? as u32;
            Ok(())
        },
        get: |c| c.maxmemory_eviction_tenacity.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "maxmemory-clients",
        set: |c, a| {
            let v = one(a)?;
            c.maxmemory_clients = match parse_memory(v) {
                Some(bytes) if bytes <= i64::MAX as u64 => bytes as i64,
                Some(_) => {
                    return Err(format!(
                        "argument must be between -100 and {} inclusive",
                        i64::MAX
                    ))
                }
                None => {
                    let pct = v
                        .strip_suffix('%')
                        .filter(|n| !n.is_empty())
                        .and_then(|n| resp::num::parse_i64(n.as_bytes()))
                        .filter(|&n| n >= 0)
                        .ok_or("argument must be a memory or percent value")?;
                    if pct > 100 {
                        return Err("percentage argument must be less or equal to 100".into());
                    }
                    -pct
                }
            };
            Ok(())
        },
        get: |c| match c.maxmemory_clients {
            n if n < 0 => format!("{}%", -n),
            n => n.to_string(),
        },
        change: Change::Live,
    },
    Directive {
        name: "lfu-log-factor",
        set: |c, a| {
            c.lfu_log_factor = int(a, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
        get: |c| c.lfu_log_factor.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "lfu-decay-time",
        set: |c, a| {
            c.lfu_decay_time = int(a, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
        get: |c| c.lfu_decay_time.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "lazyfree-lazy-expire",
        set: |c, a| {
            c.lazyfree_lazy_expire = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.lazyfree_lazy_expire),
        change: Change::Live,
    },
    Directive {
        name: "lazyfree-lazy-user-flush",
        set: |c, a| {
            c.lazyfree_lazy_user_flush = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.lazyfree_lazy_user_flush),
        change: Change::Live,
    },
    Directive {
        name: "list-max-listpack-size",
        set: set_list_size,
        get: |c| c.list_max_listpack_size.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "list-max-ziplist-size",
        set: set_list_size,
        get: |c| c.list_max_listpack_size.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "list-compress-depth",
        set: |c, a| {
            c.list_compress_depth = int(a, 0, i32::MAX as i64)? as usize;
            Ok(())
        },
        get: |c| c.list_compress_depth.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "set-max-intset-entries",
        set: |c, a| {
            c.set_max_intset_entries = int(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.set_max_intset_entries.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "hll-sparse-max-bytes",
        set: |c, a| {
            c.hll_sparse_max_bytes = memory(a, 0, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.hll_sparse_max_bytes.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "client-query-buffer-limit",
        set: |c, a| {
            c.client_query_buffer_limit = memory(a, 1024 * 1024, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.client_query_buffer_limit.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "requirepass",
        set: |c, a| {
            c.requirepass = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.requirepass.clone(),
        change: Change::Live,
    },
    Directive {
        name: "slowlog-log-slower-than",
        set: |c, a| {
            c.slowlog_log_slower_than = int(a, -1, i64::MAX)?;
            Ok(())
        },
        get: |c| c.slowlog_log_slower_than.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "acllog-max-len",
        set: |c, a| {
            c.acllog_max_len = int(a, 0, i64::MAX)? as usize;
            Ok(())
        },
        get: |c| c.acllog_max_len.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "acl-pubsub-default",
        set: |c, a| {
            c.acl_pubsub_all = choice(a, &[("allchannels", true), ("resetchannels", false)])?;
            Ok(())
        },
        get: |c| {
            if c.acl_pubsub_all {
                "allchannels"
            } else {
                "resetchannels"
            }
            .into()
        },
        change: Change::Live,
    },
    Directive {
        name: "aclfile",
        set: |c, a| {
            c.aclfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.aclfile.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "slowlog-max-len",
        set: |c, a| {
            c.slowlog_max_len = int(a, 0, i64::MAX)? as usize;
            Ok(())
        },
        get: |c| c.slowlog_max_len.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "enable-debug-command",
        set: |c, a| {
            c.enable_debug_command = no_yes_local(a)?;
            Ok(())
        },
        get: |c| c.enable_debug_command.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "enable-protected-configs",
        set: |c, a| {
            c.enable_protected_configs = no_yes_local(a)?;
            Ok(())
        },
        get: |c| c.enable_protected_configs.clone(),
        change: Change::Immutable,
    },
    Directive {
        name: "dbfilename",
        set: |c, a| {
            let v = one(a)?;
            // Redis's pathIsBaseName.
            if v.contains('/') {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            c.dbfilename = v.to_string();
            Ok(())
        },
        get: |c| c.dbfilename.clone(),
        change: Change::Protected,
    },
    Directive {
        // The working directory itself, as in Redis (it chdirs): the RDB
        // file and the temporary one are written there.
        name: "dir",
        set: |_, a| std::env::set_current_dir(one(a)?).map_err(|e| os_error_text(&e)),
        get: |_| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        },
        change: Change::Protected,
    },
    Directive {
        name: "rdbchecksum",
        set: |c, a| {
            c.rdbchecksum = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.rdbchecksum),
        change: Change::Immutable,
    },
    Directive {
        name: "shutdown-on-sigint",
        set: |c, a| {
            c.shutdown_on_sigint = shutdown_flags(c, a)?;
            Ok(())
        },
        get: |c| shutdown_names(c.shutdown_on_sigint),
        change: Change::Live,
    },
    Directive {
        name: "shutdown-on-sigterm",
        set: |c, a| {
            c.shutdown_on_sigterm = shutdown_flags(c, a)?;
            Ok(())
        },
        get: |c| shutdown_names(c.shutdown_on_sigterm),
        change: Change::Live,
    },
    Directive {
        name: "jemalloc-bg-thread",
        set: |c, a| {
            c.jemalloc_bg_thread = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.jemalloc_bg_thread),
        change: Change::Live,
    },
    Directive {
        name: "rdbcompression",
        set: |c, a| {
            c.rdbcompression = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.rdbcompression),
        change: Change::Live,
    },
    Directive {
        // Pairs of seconds and changes: a BGSAVE starts once that many
        // changes are older than that many seconds. Lines of a file or
        // the command line add pairs, the first replacing the defaults;
        // CONFIG SET replaces them all.
        name: "save",
        set: |c, a| {
            // CONFIG SET's value splits at each space (an empty word is
            // 0), a file's and the command line's at runs of them.
            let words: Vec<&str> = if c.reading {
                a.iter().flat_map(|w| w.split_whitespace()).collect()
            } else if a.len() == 1 && a[0].is_empty() {
                Vec::new()
            } else {
                a.iter().flat_map(|w| w.split(' ')).collect()
            };
            if words.len() % 2 == 1 {
                return Err("Invalid save parameters".into());
            }
            let mut points = Vec::with_capacity(words.len() / 2);
            let int = |w: &str| -> Result<i64, String> {
                if w.is_empty() {
                    return Ok(0);
                }
                w.parse().map_err(|_| "Invalid save parameters".to_string())
            };
            for pair in words.chunks(2) {
                let (secs, changes) = (int(pair[0])?, int(pair[1])?);
                if secs < 1 || changes < 0 {
                    return Err("Invalid save parameters".into());
                }
                points.push((secs as u64, changes as u64));
            }
            if c.reading && c.save_read {
                c.save_points.extend(points);
            } else {
                c.save_points = points;
            }
            c.save_read |= c.reading;
            Ok(())
        },
        get: |c| {
            c.save_points
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(" ")
        },
        change: Change::Live,
    },
    Directive {
        name: "stop-writes-on-bgsave-error",
        set: |c, a| {
            c.stop_writes_on_bgsave_error = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.stop_writes_on_bgsave_error),
        change: Change::Live,
    },
    Directive {
        // Microseconds a snapshot waits after each key (for tests, as
        // Redis's debugDelay: a negative -N waits 1 µs once in N keys).
        name: "rdb-key-save-delay",
        set: |c, a| {
            c.rdb_key_save_delay = int(a, i64::MIN, i64::MAX)?;
            Ok(())
        },
        get: |c| c.rdb_key_save_delay.to_string(),
        change: Change::Live,
    },
    Directive {
        // The same while a file loads (for tests).
        name: "key-load-delay",
        set: |c, a| {
            c.key_load_delay = int(a, i64::MIN, i64::MAX)?;
            Ok(())
        },
        get: |c| c.key_load_delay.to_string(),
        change: Change::Live,
    },
    Directive {
        name: "appendonly",
        set: |_, a| match yes_no(a)? {
            false => Ok(()),
            true => Err("rudis has no AOF yet: only 'no' is accepted".into()),
        },
        get: |_| "no".into(),
        change: Change::Live,
    },
];
