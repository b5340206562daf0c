//! Differential tests: the same commands to the reference `redis-server`
//! (7.0.15, from PATH) and to rudis, raw reply bytes compared, in RESP2 and
//! in RESP3.
//!
//! Corpus: `tests/differential/*.txt`, one command per line in redis-cli
//! quoting (`"\x00"` escapes work). A line may start with a marker:
//! - `~ ` the reply is an unordered collection: compared after sorting;
//! - `? ` the reply is legitimately variable (randomness): only its shape
//!   (RESP type, and length for aggregates) is compared;
//! - `t ` a time left (TTL and friends): negative answers must agree,
//!   positive ones depend on when each server ran the line;
//! - `! ` a difference listed in `differential/ACCEPTED.md`: the command
//!   runs on both, and nothing about the replies is asserted;
//! - `@sleep N` sleeps N milliseconds (for expiry);
//! - `@resp2` / `@resp3` the rest of the file runs in one protocol only.
//!
//! Without redis-server the tests say so loudly and pass, unless `CI` is
//! set: then they fail. The randomized mode draws commands from a grammar
//! per group over a few keys; set RUDIS_DIFF_SEED to replay a run.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{read_value, Proc, Raw};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "differential/grammar.rs"]
mod grammar;

/// Starts the reference server, or explains why not.
fn reference() -> Option<Proc> {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| d.join("redis-server").is_file())
    });
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("redis-server is not installed: the differential tests cannot run in CI");
        }
        eprintln!("\n*** SKIPPED: redis-server not on PATH; differential tests did not run ***\n");
        return None;
    }
    Some(Proc::spawn(
        "redis-server",
        &["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
    ))
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// How one line's replies are compared.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Compare {
    Exact,
    Unordered,
    Shape,
    /// A difference listed in tests/differential/ACCEPTED.md: the command
    /// runs on both servers (so it is exercised), its replies are not
    /// compared.
    Accepted,
    /// Integers that must agree when negative (-1: no expiry, -2: no key)
    /// and may differ when they measure time.
    Ttl,
}

/// A RESP value split into its parts, for unordered and shape comparison.
fn elements(reply: &[u8]) -> (u8, Vec<Vec<u8>>) {
    let mut r = std::io::BufReader::new(reply);
    let mut head = Vec::new();
    std::io::BufRead::read_until(&mut r, b'\n', &mut head).unwrap();
    let kind = head[0];
    let n: i64 = std::str::from_utf8(&head[1..head.len() - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut items = Vec::new();
    if matches!(kind, b'*' | b'~' | b'%' | b'>') {
        let count = if kind == b'%' { n * 2 } else { n };
        for _ in 0..count.max(0) {
            let mut one = Vec::new();
            read_value(&mut r, &mut one);
            items.push(one);
        }
    }
    (kind, items)
}

fn same(a: &[u8], b: &[u8], how: Compare) -> bool {
    match how {
        Compare::Exact => a == b,
        Compare::Unordered => {
            let (ka, mut ea) = elements(a);
            let (kb, mut eb) = elements(b);
            ea.sort();
            eb.sort();
            ka == kb && ea == eb && (!ea.is_empty() || a == b)
        }
        Compare::Shape => {
            let (ka, ea) = elements(a);
            let (kb, eb) = elements(b);
            ka == kb && ea.len() == eb.len()
        }
        Compare::Accepted => true,
        Compare::Ttl => {
            let int = |r: &[u8]| -> Option<i64> {
                std::str::from_utf8(r.strip_prefix(b":")?.strip_suffix(b"\r\n")?)
                    .ok()?
                    .parse()
                    .ok()
            };
            match (int(a), int(b)) {
                (Some(x), Some(y)) => x == y || (x >= 0 && y >= 0),
                _ => a == b,
            }
        }
    }
}

fn show(b: &[u8]) -> String {
    let s: String = b.escape_ascii().to_string();
    if s.len() > 300 {
        format!("{}...", &s[..300])
    } else {
        s
    }
}

/// A pair of connections, one to each server, speaking the same protocol.
pub struct Pair {
    pub redis: Raw,
    pub rudis: Raw,
}

impl Pair {
    fn new(redis: &Proc, rudis: &Proc, resp3: bool) -> Pair {
        let mut p = Pair {
            redis: redis.raw(),
            rudis: rudis.raw(),
        };
        for cmd in [&[&b"FLUSHALL"[..]][..], &[b"SELECT", b"0"]] {
            p.redis.cmd(cmd);
            p.rudis.cmd(cmd);
        }
        if resp3 {
            p.switch(b"3");
        }
        p
    }

    fn switch(&mut self, proto: &[u8]) {
        let a = self.redis.cmd(&[b"HELLO", proto]);
        let b = self.rudis.cmd(&[b"HELLO", proto]);
        assert_eq!(
            a[0],
            b[0],
            "HELLO {proto:?} failed on one side: {} / {}",
            show(&a),
            show(&b)
        );
    }

    /// Runs one command on both; returns a description of any difference.
    pub fn run(&mut self, args: &[&[u8]], how: Compare) -> Option<String> {
        let a = self.redis.cmd(args);
        let b = self.rudis.cmd(args);
        (!same(&a, &b, how)).then(|| format!("    redis: {}\n    rudis: {}", show(&a), show(&b)))
    }
}

fn parse_line(line: &str) -> Option<(Compare, Vec<Vec<u8>>)> {
    let (how, rest) = if let Some(r) = line.strip_prefix("~ ") {
        (Compare::Unordered, r)
    } else if let Some(r) = line.strip_prefix("? ") {
        (Compare::Shape, r)
    } else if let Some(r) = line.strip_prefix("t ") {
        (Compare::Ttl, r)
    } else if let Some(r) = line.strip_prefix("! ") {
        (Compare::Accepted, r)
    } else {
        (Compare::Exact, line)
    };
    let args = resp::parse::split_line(rest.as_bytes()).expect("balanced quotes in corpus");
    (!args.is_empty()).then_some((how, args))
}

fn run_file(redis: &Proc, rudis: &Proc, path: &Path, resp3: bool, failures: &mut String) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut pair = Pair::new(redis, rudis, resp3);
    let proto = if resp3 { "RESP3" } else { "RESP2" };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("@sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse().unwrap()));
            continue;
        }
        match line {
            "@resp2" if resp3 => return,
            "@resp3" if !resp3 => return,
            "@resp2" | "@resp3" => continue,
            _ => {}
        }
        let Some((how, args)) = parse_line(line) else {
            continue;
        };
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if let Some(diff) = pair.run(&argv, how) {
            let _ = writeln!(failures, "{name}:{} [{proto}] {line}\n{diff}", n + 1);
        }
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_matches_redis() {
    let Some(redis) = reference() else { return };
    let rudis = common::rudis(&[]);
    let mut failures = String::new();
    let files = corpus_files();
    assert!(!files.is_empty());
    for path in &files {
        for resp3 in [false, true] {
            run_file(&redis, &rudis, path, resp3, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "replies differ from Redis:\n{failures}"
    );
}

#[test]
fn randomized_commands_match_redis() {
    let Some(redis) = reference() else { return };
    let rudis = common::rudis(&[]);
    let seed: u64 = std::env::var("RUDIS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261124);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = String::new();
    for resp3 in [false, true] {
        let mut pair = Pair::new(&redis, &rudis, resp3);
        let mut history: Vec<String> = Vec::new();
        for i in 0..3000 {
            let (how, args) = grammar::command(&mut rng);
            let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let line = argv
                .iter()
                .map(|a| format!("\"{}\"", a.escape_ascii()))
                .collect::<Vec<_>>()
                .join(" ");
            history.push(line.clone());
            if let Some(diff) = pair.run(&argv, how) {
                let recent = history[history.len().saturating_sub(
                    std::env::var("RUDIS_DIFF_RECENT")
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(8),
                )..]
                    .join("\n      ");
                let _ = writeln!(
                    failures,
                    "seed {seed}, command #{i} (resp3={resp3}): {line}\n{diff}\n    recent:\n      {recent}"
                );
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "replay with RUDIS_DIFF_SEED={seed}:\n{failures}"
    );
    let _ = rng.gen::<u8>();
}

/// Every command and subcommand rudis has appears in the corpus at least
/// once, so no command escapes the comparison with Redis.
#[test]
fn corpus_covers_every_command() {
    let server = common::rudis(&[]);
    let mut c = server.raw();
    let reply = c.cmd(&[b"COMMAND", b"LIST"]);
    let names: Vec<String> = String::from_utf8_lossy(&reply)
        .split("\r\n")
        .skip(2)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut corpus = String::new();
    for path in corpus_files() {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let line = ["~ ", "? ", "t ", "! "]
                .iter()
                .find_map(|m| line.strip_prefix(m))
                .unwrap_or(line);
            let words: Vec<String> = line
                .split_whitespace()
                .take(2)
                .map(|w| w.to_ascii_lowercase())
                .collect();
            corpus.push_str(&words.join("|"));
            corpus.push('\n');
            if let Some(first) = words.first() {
                corpus.push_str(first);
                corpus.push('\n');
            }
        }
    }
    let known: std::collections::HashSet<&str> = corpus.lines().collect();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "commands with no line in tests/differential/*.txt: {missing:?}"
    );
}

/// HyperLogLog values move between the servers as plain strings: one
/// built by Redis (sparse, and dense after many elements) counts the same
/// in rudis, and one built by rudis counts the same in Redis, and both
/// keep accepting elements identically.
#[test]
fn hll_values_interchange_with_redis() {
    let Some(redis) = reference() else { return };
    let rudis = common::rudis(&[]);
    let (mut r, mut u) = (redis.client(), rudis.client());
    let elements = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("e{i}"))
            .collect::<Vec<_>>()
    };
    for (n, name) in [(20, "sparse"), (5000, "dense")] {
        let _: () = redis::cmd("PFADD")
            .arg("r")
            .arg(elements(0, n))
            .query(&mut r)
            .unwrap();
        let _: () = redis::cmd("PFADD")
            .arg("u")
            .arg(elements(0, n))
            .query(&mut u)
            .unwrap();
        let from_redis: Vec<u8> = redis::cmd("GET").arg("r").query(&mut r).unwrap();
        let from_rudis: Vec<u8> = redis::cmd("GET").arg("u").query(&mut u).unwrap();
        assert_eq!(
            from_redis, from_rudis,
            "{name}: the same elements give the same bytes"
        );
        // Cross over and keep adding on the other side.
        let _: () = redis::cmd("SET")
            .arg("x")
            .arg(&from_redis)
            .query(&mut u)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg("x")
            .arg(&from_rudis)
            .query(&mut r)
            .unwrap();
        for c in [&mut r, &mut u] {
            let _: () = redis::cmd("PFADD")
                .arg("x")
                .arg(elements(n, 300))
                .query(c)
                .unwrap();
        }
        let count = |c: &mut redis::Connection| -> (i64, Vec<u8>) {
            let n: i64 = redis::cmd("PFCOUNT").arg("x").query(c).unwrap();
            (n, redis::cmd("GET").arg("x").query(c).unwrap())
        };
        let (in_redis, in_rudis) = (count(&mut r), count(&mut u));
        assert!(in_redis.0 > 0);
        assert_eq!(
            in_redis, in_rudis,
            "{name}: count and bytes after crossing over"
        );
    }
}

/// Keyspace notifications: the random commands of
/// `randomized_commands_match_redis` run on both servers with every
/// event class on, and a subscriber on each side must receive the same
/// messages in the same order (which event, which key, which channel)
/// for each command. Expiries are left out: when the background cycle
/// reclaims a key differs between the servers.
#[test]
fn keyspace_notifications_match_redis() {
    let Some(redis) = reference() else { return };
    let rudis = common::rudis(&[]);
    let seed: u64 = std::env::var("RUDIS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261201);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pair = Pair::new(&redis, &rudis, false);
    let mut subs = [redis.raw(), rudis.raw()];
    for (c, s) in [&mut pair.redis, &mut pair.rudis]
        .into_iter()
        .zip(&mut subs)
    {
        c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAnm"]);
        s.cmd(&[b"PSUBSCRIBE", b"__key*"]);
        s.cmd(&[b"SUBSCRIBE", b"end"]);
    }
    const N: usize = 1500;
    let mut lines = Vec::new();
    for i in 0..N {
        let (how, args) = grammar::command(&mut rng);
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        lines.push(
            argv.iter()
                .map(|a| format!("\"{}\"", a.escape_ascii()))
                .collect::<Vec<_>>()
                .join(" "),
        );
        if let Some(diff) = pair.run(&argv, how) {
            panic!("seed {seed}: replies differ at {}\n{diff}", lines[i]);
        }
        // A marker after each command: the messages between two markers
        // are that command's.
        let mark = i.to_string();
        pair.run(&[b"PUBLISH", b"end", mark.as_bytes()], Compare::Exact);
    }
    // Per server, per command: its messages.
    let mut streams: Vec<Vec<Vec<String>>> = Vec::new();
    for s in &mut subs {
        let mut per_cmd = vec![Vec::new(); N];
        let mut i = 0;
        while i < N {
            let m = String::from_utf8_lossy(&s.reply()).into_owned();
            if m.starts_with("*3\r\n$7\r\nmessage\r\n$3\r\nend\r\n") {
                i += 1;
            } else if !m.contains(":expired") && !m.contains("\r\nexpired\r\n") {
                per_cmd[i].push(m.replace("\r\n", " "));
            }
        }
        streams.push(per_cmd);
    }
    if let Some(i) = (0..N).find(|&i| streams[0][i] != streams[1][i]) {
        panic!(
            "seed {seed}: notifications differ after {}\n    redis: {:?}\n    rudis: {:?}",
            lines[i], streams[0][i], streams[1][i]
        );
    }
}
