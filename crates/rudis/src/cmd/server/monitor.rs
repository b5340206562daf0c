//! MONITOR and SLOWLOG: both see every command after it ran.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use std::sync::Arc;

use super::super::flags::*;
use super::super::{parse_int_in, row, Args, Argv, Command, Ctx};
use crate::client::{Client, ClientHandle};
use crate::errors::CmdResult;
use crate::server::Server;

pub static COMMANDS: &[Command] = &[
    row("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor),
    row("slowlog", -2, 0, |_, _| Ok(())).subs(SLOWLOG),
];

static SLOWLOG: &[Command] = &[
    row("slowlog|reset", 2, ADMIN | LOADING | STALE, slowlog_reset)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    row("slowlog|len", 2, ADMIN | LOADING | STALE, slowlog_len).tips(&[
        "request_policy:all_nodes",
        "response_policy:agg_sum",
        "nondeterministic_output",
    ]),
    row("slowlog|help", 2, LOADING | STALE, slowlog_help),
    row("slowlog|get", -2, ADMIN | LOADING | STALE, slowlog_get)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"]),
];

/// Redis's `sdscatrepr`: a quoted, escaped rendering of bytes.
pub fn repr(out: &mut String, b: &[u8]) {
    out.push('"');
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push('"');
}

/// Whether argument `i` is a secret that MONITOR and SLOWLOG show as
/// "(redacted)", as Redis's `redactClientCommandArgument` does.
fn redacted(cmd: &Command, argv: Argv, i: usize) -> bool {
    let at = |j: usize| argv.get(j).unwrap_or_default();
    match cmd.name {
        "auth" => i >= 1,
        // ACL SETUSER username rules...: all of it.
        "acl|setuser" => i >= 2,
        // HELLO ... AUTH username password ...
        "hello" => {
            (i >= 3 && at(i - 1).eq_ignore_ascii_case(b"auth") && i >= 2)
                || (i >= 3 && at(i - 2).eq_ignore_ascii_case(b"auth"))
        }
        // CONFIG SET ... requirepass value ...
        "migrate" => crate::cmd::migrate::is_secret(argv, i),
        "config|set" => i >= 3 && i % 2 == 1 && at(i - 1).eq_ignore_ascii_case(b"requirepass"),
        _ => false,
    }
}

struct SlowEntry {
    id: u64,
    time: u64,
    micros: u64,
    args: Vec<Vec<u8>>,
    addr: String,
    name: Vec<u8>,
}

/// The monitors and the slow log, owned by the server.
#[derive(Default)]
pub struct Observers {
    monitors: Mutex<Vec<Arc<ClientHandle>>>,
    monitor_count: AtomicUsize,
    slowlog: Mutex<VecDeque<SlowEntry>>,
    slowlog_id: AtomicU64,
}

impl Observers {
    /// Called after every command that ran (not the rejected ones).
    #[allow(clippy::too_many_arguments)]
    pub fn after(
        &self,
        server: &Server,
        cmd: &Command,
        argv: Argv,
        client: &Client,
        micros: u64,
        slower_than: i64,
        max_len: usize,
    ) {
        if self.monitor_count.load(Relaxed) > 0 && cmd.flags & (SKIP_MONITOR | ADMIN) == 0 {
            self.feed_monitors(server, cmd, argv, client);
        }
        if slower_than >= 0 && micros as i64 >= slower_than && cmd.flags & SKIP_SLOWLOG == 0 {
            self.log_slow(cmd, argv, client, micros, max_len);
        }
    }

    /// What a command that has just blocked will log once answered, if
    /// it is slow enough (`after` is not called for it).
    pub fn pending_slow(
        &self,
        cmd: &Command,
        argv: Argv,
        micros: u64,
        slower_than: i64,
    ) -> Option<PendingSlow> {
        (slower_than >= 0 && micros as i64 >= slower_than && cmd.flags & SKIP_SLOWLOG == 0).then(
            || PendingSlow {
                args: slow_args(cmd, argv),
                micros,
            },
        )
    }

    pub fn log_pending_slow(&self, p: PendingSlow, client: &Client, max_len: usize) {
        self.push_slow(p.args, p.micros, client, max_len);
    }

    /// Shows a script's own command line (EVAL, FCALL...) to MONITOR
    /// before the commands it runs (Redis's evalCommand and fcall feed
    /// it first; the rows' skip_monitor keep it from showing after).
    pub fn script_started(&self, server: &Server, cmd: &Command, argv: Argv, client: &Client) {
        if self.monitor_count.load(Relaxed) > 0 {
            self.feed_monitors(server, cmd, argv, client);
        }
    }

    fn feed_monitors(&self, server: &Server, cmd: &Command, argv: Argv, client: &Client) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        // A command a script runs shows as the script's ("lua"), one from
        // the Unix socket as "unix:path".
        let unix;
        let from: &dyn std::fmt::Display = if client.script_read.is_some() {
            &"lua"
        } else if let crate::client::Addr::Unix(path) = &client.addr {
            unix = format!("unix:{path}");
            &unix
        } else {
            &client.addr
        };
        let mut line = format!(
            "+{}.{:06} [{} {from}] ",
            now.as_secs(),
            now.subsec_micros(),
            client.db,
        );
        for (i, a) in argv.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            repr(
                &mut line,
                if redacted(cmd, argv, i) {
                    b"(redacted)"
                } else {
                    a
                },
            );
        }
        line.push_str("\r\n");
        for m in self.monitors.lock().iter() {
            crate::pubsub::deliver(server, m, line.as_bytes());
        }
    }

    fn log_slow(&self, cmd: &Command, argv: Argv, client: &Client, micros: u64, max_len: usize) {
        self.push_slow(slow_args(cmd, argv), micros, client, max_len);
    }

    fn push_slow(&self, args: Vec<Vec<u8>>, micros: u64, client: &Client, max_len: usize) {
        let entry = SlowEntry {
            id: self.slowlog_id.fetch_add(1, Relaxed),
            time: crate::db::now_ms() / 1000,
            micros,
            args,
            addr: client.addr.to_string(),
            name: client.handle.name.lock().clone().unwrap_or_default(),
        };
        let mut log = self.slowlog.lock();
        log.push_front(entry);
        log.truncate(max_len);
    }

    /// Makes a client a monitor: command lines go to its outbox.
    pub fn add_monitor(&self, client: &Arc<ClientHandle>) {
        let mut monitors = self.monitors.lock();
        monitors.push(client.clone());
        self.monitor_count.store(monitors.len(), Relaxed);
    }

    pub fn remove_monitor(&self, id: u64) {
        // Called for every closing connection: no lock while there are
        // no monitors (one is added under this same lock).
        if self.monitor_count.load(Relaxed) == 0 {
            return;
        }
        let mut monitors = self.monitors.lock();
        monitors.retain(|m| m.id != id);
        self.monitor_count.store(monitors.len(), Relaxed);
    }
}

/// MONITOR
fn monitor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    if !ctx.client.monitor {
        ctx.client.monitor = true;
        ctx.server.observers.add_monitor(&ctx.client.handle);
    }
    ctx.out.ok();
    Ok(())
}

/// SLOWLOG GET [count]
fn slowlog_get(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let count = match args.next_arg() {
        None => 10,
        Some(a) => parse_int_in(
            a,
            -1,
            i64::MAX,
            Some("ERR count should be greater than or equal to -1"),
        )?,
    };
    let log = ctx.server.observers.slowlog.lock();
    let n = if count < 0 {
        log.len()
    } else {
        log.len().min(count as usize)
    };
    ctx.out.array(n);
    for e in log.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

/// SLOWLOG LEN
fn slowlog_len(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let n = ctx.server.observers.slowlog.lock().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.server.observers.slowlog.lock().clear();
    ctx.out.ok();
    Ok(())
}

const SLOWLOG_HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

/// SLOWLOG HELP
fn slowlog_help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::super::help(ctx, args, SLOWLOG_HELP)
}

/// A blocked command's slow log entry, kept until it is answered.
pub struct PendingSlow {
    args: Vec<Vec<u8>>,
    micros: u64,
}

/// The arguments a slow log entry keeps: at most 32, of at most 128
/// bytes each (as Redis), secrets redacted.
fn slow_args(cmd: &Command, argv: Argv) -> Vec<Vec<u8>> {
    let total = argv.len();
    let shown = total.min(32);
    let mut args = Vec::with_capacity(shown);
    for (i, a) in argv.iter().take(shown).enumerate() {
        if shown < total && i == shown - 1 {
            args.push(format!("... ({} more arguments)", total - shown + 1).into_bytes());
        } else if redacted(cmd, argv, i) {
            args.push(b"(redacted)".to_vec());
        } else if a.len() > 128 {
            let mut v = a[..128].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
            args.push(v);
        } else {
            args.push(a.to_vec());
        }
    }
    args
}
