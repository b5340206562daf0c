//! Configuration: redis.conf syntax, `--directive value` flags, and one
//! table of directives that start-up (and later CONFIG GET/SET) reads.

use std::fmt;
use std::path::PathBuf;

use std::sync::OnceLock;

mod directives;
pub use directives::{percentile_text, DIRECTIVES};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Applies a new log level to the running logger (set by the binary,
/// which owns the logger).
pub static SET_LOG_LEVEL: OnceLock<Box<dyn Fn(LogLevel) + Send + Sync>> = OnceLock::new();
/// The Redis version whose behaviour rudis matches.
pub const REDIS_VERSION: &str = "7.0.15";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

const LOGLEVELS: [(&str, LogLevel); 4] = [
    ("debug", LogLevel::Debug),
    ("verbose", LogLevel::Verbose),
    ("notice", LogLevel::Notice),
    ("warning", LogLevel::Warning),
];

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub databases: usize,
    pub threads: usize,
    pub hz: u32,
    /// `dynamic-hz`: the cron runs more often with many clients.
    pub dynamic_hz: bool,
    pub maxclients: u32,
    /// Idle seconds before a client is closed (0: never).
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub loglevel: LogLevel,
    pub logfile: String,
    /// Run in the background (fork, new session, standard streams to
    /// /dev/null), as Redis's `daemonize`.
    pub daemonize: bool,
    /// Where the process id is written: `pidfile`, or Redis's
    /// /var/run/redis.pid for a daemon that names none.
    pub pidfile: String,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: u64,
    /// A sparse HyperLogLog larger than this (header included) becomes
    /// dense.
    pub hll_sparse_max_bytes: u64,
    /// A hash stays compact up to this many pairs...
    pub hash_max_listpack_entries: u64,
    /// ...and while every field and value is at most this long.
    pub hash_max_listpack_value: u64,
    /// A sorted set stays compact up to this many members...
    pub zset_max_listpack_entries: u64,
    /// ...and while every member is at most this long.
    pub zset_max_listpack_value: u64,
    pub list_max_listpack_size: i64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: u64,
    pub list_compress_depth: usize,
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    pub lazyfree_lazy_user_del: bool,
    /// `lazyfree-lazy-eviction`: evicted values are freed in the
    /// background.
    pub lazyfree_lazy_eviction: bool,
    /// Bytes of memory in use past which keys are evicted (0: no limit).
    pub maxmemory: u64,
    pub maxmemory_policy: crate::evict::Policy,
    /// Keys sampled per eviction pool refill.
    pub maxmemory_samples: u32,
    /// 0..=100: how long one eviction cycle may run before the rest is
    /// left to the background.
    pub maxmemory_eviction_tenacity: u32,
    /// `maxmemory-clients`: bytes (positive) or a percentage of maxmemory
    /// (negative, as Redis stores it) that all clients together may use
    /// before the largest are closed (0: no limit).
    pub maxmemory_clients: i64,
    pub lfu_log_factor: u32,
    /// Minutes per decrement of an idle key's LFU counter (0: never).
    pub lfu_decay_time: u32,
    pub active_expire_effort: u32,
    /// `busy-reply-threshold` (`lua-time-limit`) in ms: past it a script
    /// makes other clients' commands fail with -BUSY (0: never).
    pub busy_reply_threshold: u64,
    /// `min-replicas-to-write` / `min-replicas-max-lag` (`min-slaves-*`):
    /// with both set, writes need that many replicas within the lag.
    pub min_replicas_to_write: u32,
    pub min_replicas_max_lag: u32,
    /// `crate::effects::class` bits.
    pub notify_keyspace_events: u32,
    pub tracking_table_max_keys: u64,
    /// normal, replica, pubsub.
    pub client_output_buffer_limit: [crate::push::Limit; 3],
    pub tcp_backlog: i32,
    pub lazyfree_lazy_user_flush: bool,
    /// `lazyfree-lazy-expire`: expired values that are costly to free are
    /// dropped on the lazy-free thread.
    pub lazyfree_lazy_expire: bool,
    /// A set of integers stays an intset up to this many members.
    pub set_max_intset_entries: u64,
    /// The default user's password ("": none, every client is
    /// authenticated on connect).
    pub requirepass: String,
    /// Commands at least this slow (µs) enter the slow log (negative:
    /// none; 0: all).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `acllog-max-len`.
    pub acllog_max_len: usize,
    /// `acl-pubsub-default allchannels` (7.0's default: resetchannels).
    pub acl_pubsub_all: bool,
    /// `aclfile`: where users are loaded from and saved to.
    pub aclfile: String,
    /// The `user` lines of the configuration (name and rules each).
    pub users: Vec<Vec<String>>,
    /// Who may run DEBUG: "no", "yes" or "local" (loopback clients).
    pub enable_debug_command: String,
    /// Who may CONFIG SET protected directives (`dir`, `dbfilename`):
    /// "no", "yes" or "local".
    pub enable_protected_configs: String,
    /// The RDB file's name, in the working directory (`dir`).
    pub dbfilename: String,
    pub rdbchecksum: bool,
    pub rdbcompression: bool,
    pub jemalloc_bg_thread: bool,
    /// What SIGINT and SIGTERM do (`shutdown::*` flags; 0: Redis's
    /// default, saving with save points).
    pub shutdown_on_sigint: u8,
    pub shutdown_on_sigterm: u8,
    /// `unixsocket`: a Unix socket to listen on besides TCP ("": none),
    /// with `unixsocketperm`'s mode (0: left as made).
    pub unixsocket: String,
    pub unixsocketperm: u32,
    /// `oom-score-adj` and `oom-score-adj-values` (see `crate::oom`).
    pub oom_score_adj: crate::oom::Mode,
    pub oom_score_adj_values: [i32; 3],
    /// (seconds, changes) pairs: when a background save starts.
    pub save_points: Vec<(u64, u64)>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_key_save_delay: i64,
    pub key_load_delay: i64,
    /// Set while the file and the command line are read (`save` lines
    /// then add up), and whether a `save` line came.
    pub(crate) reading: bool,
    pub(crate) save_read: bool,
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            protected_mode: true,
            databases: 16,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hz: 10,
            dynamic_hz: true,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            daemonize: false,
            pidfile: String::new(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hll_sparse_max_bytes: 3000,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            list_compress_depth: 0,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_eviction: false,
            maxmemory: 0,
            maxmemory_policy: crate::evict::Policy::NoEviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            maxmemory_clients: 0,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            active_expire_effort: 1,
            busy_reply_threshold: 5000,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            notify_keyspace_events: 0,
            client_output_buffer_limit: crate::push::DEFAULT_LIMITS,
            tracking_table_max_keys: 1_000_000,
            tcp_backlog: 511,
            lazyfree_lazy_user_flush: false,
            lazyfree_lazy_expire: false,
            set_max_intset_entries: 512,
            requirepass: String::new(),
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            acllog_max_len: 128,
            acl_pubsub_all: false,
            aclfile: String::new(),
            users: Vec::new(),
            enable_debug_command: "no".into(),
            enable_protected_configs: "no".into(),
            dbfilename: "dump.rdb".into(),
            rdbchecksum: true,
            rdbcompression: true,
            jemalloc_bg_thread: true,
            shutdown_on_sigint: 0,
            shutdown_on_sigterm: 0,
            unixsocket: String::new(),
            unixsocketperm: 0,
            oom_score_adj: crate::oom::Mode::No,
            oom_score_adj_values: [0, 200, 800],
            save_points: vec![(3600, 1), (300, 100), (60, 10000)],
            stop_writes_on_bgsave_error: true,
            rdb_key_save_delay: 0,
            key_load_delay: 0,
            reading: false,
            save_read: false,
            config_file: None,
        }
    }
}

/// How CONFIG SET may change a directive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Change {
    /// Takes effect at once.
    Live,
    /// Fixed once the server runs (as in Redis).
    Immutable,
    /// Redis can change it at runtime; rudis cannot yet, and says so.
    Restart,
    /// Takes effect at once, but CONFIG SET may change it only as
    /// `enable-protected-configs` allows (Redis's PROTECTED_CONFIG).
    Protected,
}

/// A directive: its name, how to set it from arguments, how to show it.
pub struct Directive {
    pub name: &'static str,
    pub set: fn(&mut Config, &[String]) -> Result<(), String>,
    pub get: fn(&Config) -> String,
    pub change: Change,
}

/// An OS error as C's strerror says it (Rust appends "(os error N)").
pub fn os_error_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

/// `no`, `yes` or `local` (Redis's protected-config enum).
fn no_yes_local(args: &[String]) -> Result<String, String> {
    let v = one(args)?.to_ascii_lowercase();
    if !matches!(v.as_str(), "no" | "yes" | "local") {
        return Err("argument must be one of the following: no, yes, local".into());
    }
    Ok(v)
}

/// Whether a `no` / `yes` / `local` setting lets a client from `addr` in.
pub fn permits(setting: &str, addr: &crate::client::Addr) -> bool {
    match setting {
        "yes" => true,
        "local" => addr.is_local(),
        _ => false,
    }
}

fn one(args: &[String]) -> Result<&str, String> {
    match args {
        [a] => Ok(a),
        _ => Err("wrong number of arguments".into()),
    }
}

fn yes_no(args: &[String]) -> Result<bool, String> {
    match one(args)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// An enum directive's value (case-insensitive), with Redis's error
/// listing the names.
fn choice<T: Copy>(args: &[String], names: &[(&str, T)]) -> Result<T, String> {
    let v = one(args)?.to_ascii_lowercase();
    names
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, x)| *x)
        .ok_or_else(|| {
            let all: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            format!(
                "argument(s) must be one of the following: {}",
                all.join(", ")
            )
        })
}

/// SHUTDOWN's flags, as `shutdown-on-sigint` / `-sigterm` name them.
pub mod shutdown {
    pub const SAVE: u8 = 1;
    pub const NOSAVE: u8 = 2;
    pub const NOW: u8 = 4;
    pub const FORCE: u8 = 8;
    pub const NAMES: [(&str, u8); 5] = [
        ("default", 0),
        ("save", SAVE),
        ("nosave", NOSAVE),
        ("now", NOW),
        ("force", FORCE),
    ];
}

/// A multi-word set of shutdown flags (Redis's multi-arg enum): each
/// word one of the names; CONFIG SET's value splits at each space, a
/// file's line at runs of them.
fn shutdown_flags(c: &Config, args: &[String]) -> Result<u8, String> {
    let words: Vec<&str> = if c.reading {
        args.iter().flat_map(|w| w.split_whitespace()).collect()
    } else {
        args.iter().flat_map(|w| w.split(' ')).collect()
    };
    if words.is_empty() {
        return choice(&[], &shutdown::NAMES);
    }
    let mut flags = 0;
    for w in words {
        flags |= choice(&[w.to_string()], &shutdown::NAMES)?;
    }
    if flags & shutdown::SAVE != 0 && flags & shutdown::NOSAVE != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    Ok(flags)
}

/// The flags' names in Redis's order, or `default`.
fn shutdown_names(flags: u8) -> String {
    if flags == 0 {
        return "default".into();
    }
    let names: Vec<&str> = shutdown::NAMES
        .iter()
        .filter(|(_, f)| *f != 0 && flags & f != 0)
        .map(|(n, _)| *n)
        .collect();
    names.join(" ")
}

fn int(args: &[String], min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = one(args)?
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// Redis's `memtoull`: a number with an optional unit (k, kb, m, mb, g,
/// gb; case-insensitive; `k` is 1000 and `kb` 1024).
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

fn memory(args: &[String], min: u64, max: u64) -> Result<u64, String> {
    let v = parse_memory(one(args)?).ok_or("argument must be a memory value")?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Directives CONFIG GET shows only when asked by name, never for a
/// pattern (Redis's HIDDEN_CONFIG): test knobs.
pub const HIDDEN: &[&str] = &["rdb-key-save-delay", "key-load-delay"];

pub fn directive(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Why start-up stops: where, what, and why, as Redis reports it.
#[derive(Debug)]
pub struct ConfigError {
    pub place: String,
    pub line: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (rudis {VERSION}) ***\n{}\n>>> '{}'\n{}",
            self.place, self.line, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// What the command line asks for.
pub enum Invocation {
    Run(Box<Config>),
    Version,
    Help,
}

impl Config {
    /// The pid file to write, if any (Redis's `createPidFile`: a daemon
    /// always has one).
    pub fn pid_path(&self) -> Option<&str> {
        match (self.pidfile.as_str(), self.daemonize) {
            ("", false) => None,
            ("", true) => Some("/var/run/redis.pid"),
            (p, _) => Some(p),
        }
    }

    /// Applies one configuration text (a file's contents).
    pub fn apply_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ConfigError {
                place: format!("Reading the configuration file {origin}, at line {}", n + 1),
                line: line.to_string(),
                reason,
            };
            let words = resp::parse::split_line(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            let Some((name, args)) = words.split_first() else {
                continue;
            };
            self.apply(name, args).map_err(fail)?;
        }
        Ok(())
    }

    pub fn apply(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        // Not a directive CONFIG knows: only files and the command line
        // declare users (Redis's ACLAppendUserForLoading checks them here).
        if name.eq_ignore_ascii_case("user") && self.reading && !args.is_empty() {
            if self.users.iter().any(|u| u[0] == args[0]) {
                return Err(format!(
                    "Error in user declaration '{}': {}",
                    args[0],
                    crate::acl::RuleError::Duplicate.text()
                ));
            }
            crate::acl::check_declaration(args, self.acl_pubsub_all)?;
            self.users.push(args.to_vec());
            return Ok(());
        }
        let d = directive(name).ok_or("Bad directive or wrong number of arguments")?;
        (d.set)(self, args)
    }

    /// `rudis [config-file] [--directive value ...]`, as redis-server.
    pub fn from_args(args: &[String]) -> Result<Invocation, ConfigError> {
        let mut rest = args;
        match rest.first().map(String::as_str) {
            Some("-v" | "--version") => return Ok(Invocation::Version),
            Some("-h" | "--help") => return Ok(Invocation::Help),
            _ => {}
        }
        let mut config = Config {
            reading: true,
            ..Config::default()
        };
        if let Some(first) = rest.first().filter(|a| !a.starts_with("--")) {
            let text = std::fs::read_to_string(first).map_err(|e| ConfigError {
                place: format!("Reading the configuration file {first}"),
                line: first.clone(),
                reason: format!("Fatal error, can't open config file '{first}': {e}"),
            })?;
            config.apply_text(&text, first)?;
            config.config_file = Some(std::fs::canonicalize(first).unwrap_or(first.into()));
            rest = &rest[1..];
        }
        while let Some((flag, tail)) = rest.split_first() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(ConfigError {
                    place: "Reading the command line".into(),
                    line: flag.clone(),
                    reason: "expected an option starting with '--'".into(),
                });
            };
            let n = tail
                .iter()
                .position(|a| a.starts_with("--"))
                .unwrap_or(tail.len());
            let (values, next) = tail.split_at(n);
            config.apply(name, values).map_err(|reason| ConfigError {
                place: "Reading the command line".into(),
                line: std::iter::once(flag.as_str())
                    .chain(values.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
                reason,
            })?;
            rest = next;
        }
        config.reading = false;
        Ok(Invocation::Run(Box::new(config)))
    }
}

pub const HELP: &str = "Usage: rudis [/path/to/rudis.conf] [options] [-]
       rudis -v or --version
       rudis -h or --help
       rudis --ping [port]     (exit 0 if a server answers PING on 127.0.0.1)

Options are configuration directives with two leading dashes, as in
redis-server; they override the file:
       rudis --port 7777
       rudis /etc/rudis/6379.conf --loglevel verbose --threads 4

Directives: port, bind, protected-mode, databases, threads, hz, maxclients,
timeout, tcp-keepalive, loglevel, logfile, proto-max-bulk-len,
client-query-buffer-limit, requirepass, slowlog-log-slower-than,
slowlog-max-len, enable-debug-command, save, dir, dbfilename; appendonly no
(rudis has no AOF yet, and says so for yes).";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_and_file_syntax() {
        let Ok(Invocation::Run(c)) = Config::from_args(&args("--port 7000 --bind 127.0.0.1 ::1"))
        else {
            panic!("should parse");
        };
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);

        let mut c = Config::default();
        c.apply_text(
            "# comment\n\nhz 1000\nlogfile \"\"\nproto-max-bulk-len 2mb\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.hz, 500);
        assert_eq!(c.logfile, "");
        assert_eq!(c.proto_max_bulk_len, 2 * 1024 * 1024);

        let e = c.apply_text("port 1\nfrobnicate yes\n", "t").unwrap_err();
        assert!(e.to_string().contains("at line 2"), "{e}");
        assert!(e.to_string().contains(">>> 'frobnicate yes'"), "{e}");
        let e = c.apply_text("port abc\n", "t").unwrap_err();
        assert!(e.to_string().contains("couldn't be parsed"), "{e}");
        assert!(Config::from_args(&args("--protected-mode maybe")).is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("3gb"), Some(3 << 30));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory(""), None);
    }
}
