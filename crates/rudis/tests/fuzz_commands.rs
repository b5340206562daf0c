//! A command fuzzer: random commands from the server's own `COMMAND LIST`
//! with hostile arguments (huge and negative numbers, empty, binary and
//! long strings, option words in odd places, keys of every type, corrupt
//! encodings), sent to a real rudis for a bounded time. It fails on any
//! connection dropped without a reply, a reply that never comes, a panic
//! in the server's log or counted in INFO, or a dead server.
//!
//! `RUDIS_FUZZ_SECS` sets the time (default 15; CI runs longer) and
//! `RUDIS_FUZZ_SEED` replays a run: every failure prints the seed and
//! the last commands sent.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{encode, rudis, Proc};

/// Commands that end or stall the fuzzing connection by design: closing
/// it, streaming to it (MONITOR, subscriptions and invalidations: the
/// other connection's PUBLISH would reach it at any time), answering one
/// command with several replies (the (un)subscribe family: one per
/// name, so the fuzzer's reads fall behind until both sides block
/// writing), silencing or pausing it, sleeping, reconfiguring the server
/// under it, or blocking it (covered by tests/blocking.rs,
/// tests/pubsub.rs and the pub/sub corpus).
const SKIPPED: &[&str] = &[
    "shutdown",
    "quit",
    "monitor",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "client|tracking",
    "debug",
    "client|kill",
    "client|pause",
    "client|reply",
    "config|set",
    "config|rewrite",
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "7",
    "10",
    "100",
    "-100",
    "63",
    "64",
    "65",
    "4294967295",
    "4294967296",
    "-4294967297",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "-100000000000",
    "-1000000000000000000",
    "-2000000000000000000",
    "1e308",
    "-1e308",
    "1e-308",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "0.5",
    "-0.0",
    "1.5e10",
    "0x10",
    " 1",
    "1 ",
    "00",
    "+1",
    "536870912",
    "4611686018427387904",
];

const WORDS: &[&str] = &[
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "COUNT",
    "MATCH",
    "TYPE",
    "LIMIT",
    "BY",
    "STORE",
    "ALPHA",
    "DESC",
    "ASC",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "WITHVALUES",
    "WITHSCORES",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "INCRBY",
    "SET",
    "u8",
    "i64",
    "u63",
    "u64",
    "i1",
    "i0",
    "#1",
    "#-1",
    "BIT",
    "BYTE",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "DB",
    "REPLACE",
    "ASYNC",
    "SYNC",
    "ID",
    "ADDR",
    "LADDR",
    "USER",
    "SKIPME",
    "yes",
    "no",
    "ON",
    "OFF",
    "SKIP",
    "TIMEOUT",
    "ERROR",
    "WRITE",
    "ALL",
    "NOSAVE",
    "FILTERBY",
    "ACLCAT",
    "PATTERN",
    "MODULE",
    "AUTH",
    "SETNAME",
    "default",
    "LIB-NAME",
    "LIB-VER",
    "*",
    "?",
    "[",
    "\\",
    "*->f",
    "#",
    "nosort",
    "k*",
    "h*->f",
    "string",
    "list",
    "hash",
    "set",
    "everything",
    "default",
    "HELP",
    "3",
    "2",
];

const KEYS: &[&str] = &[
    "k0", "k1", "k2", "{k}a", "{k}b", "s", "h", "l", "hll", "str",
];

fn hostile(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..100) {
        0..=24 => NUMBERS[rng.gen_range(0..NUMBERS.len())].as_bytes().to_vec(),
        25..=44 => KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec(),
        45..=64 => WORDS[rng.gen_range(0..WORDS.len())].as_bytes().to_vec(),
        65..=69 => Vec::new(),
        70..=76 => (0..rng.gen_range(1..24)).map(|_| rng.gen()).collect(),
        77..=79 => vec![b'x'; rng.gen_range(100..20_000)],
        80..=84 => corrupt_hll(rng),
        85..=89 => rng
            .gen_range(-1_000_000i64..1_000_000)
            .to_string()
            .into_bytes(),
        _ => format!("v{}", rng.gen_range(0..20)).into_bytes(),
    }
}

/// An HLL header with random or truncated sparse opcodes, or a dense
/// body of the wrong size.
fn corrupt_hll(rng: &mut StdRng) -> Vec<u8> {
    let mut v = b"HYLL".to_vec();
    v.push(rng.gen_range(0..3));
    v.extend_from_slice(&[0, 0, 0]);
    v.extend((0..8).map(|_| rng.gen::<u8>()));
    let body = match rng.gen_range(0..3) {
        0 => rng.gen_range(0..8),
        1 => rng.gen_range(8..200),
        _ => 12288,
    };
    v.extend((0..body).map(|_| rng.gen::<u8>()));
    v
}

/// Keys of every type under the fuzzed names, so commands meet each.
fn seed_data(rng: &mut StdRng) -> Vec<Vec<Vec<u8>>> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let s = |parts: &[&str]| parts.iter().map(|p| p.as_bytes().to_vec()).collect();
    cmds.push(s(&["SADD", "s", "a", "b", "1", "2"]));
    cmds.push(s(&["HSET", "h", "f", "1", "g", "x"]));
    cmds.push(s(&["RPUSH", "l", "a", "b", "c", "1"]));
    cmds.push(s(&["PFADD", "hll", "a", "b"]));
    cmds.push(s(&["SET", "str", "hello"]));
    let k = KEYS[rng.gen_range(0..KEYS.len())];
    cmds.push(vec![
        b"SET".to_vec(),
        k.as_bytes().to_vec(),
        corrupt_hll(rng),
    ]);
    cmds
}

/// One RESP2/RESP3 reply, or why none could be read.
fn read_reply(r: &mut impl BufRead, depth: usize) -> Result<(), String> {
    let mut line = Vec::new();
    match r.read_until(b'\n', &mut line) {
        Ok(0) => return Err("connection closed".into()),
        Ok(_) if line.ends_with(b"\r\n") => {}
        Ok(_) => {
            return Err(format!(
                "truncated line {:?}",
                String::from_utf8_lossy(&line)
            ))
        }
        Err(e) => return Err(format!("read: {e}")),
    }
    let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    if depth > 64 {
        return Err("nesting too deep".into());
    }
    match line[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let mut body = vec![0u8; n as usize + 2];
            r.read_exact(&mut body).map_err(|e| format!("bulk: {e}"))
        }
        b'*' | b'~' | b'>' => (0..n.max(0)).try_for_each(|_| read_reply(r, depth + 1)),
        b'%' | b'|' => (0..2 * n.max(0)).try_for_each(|_| read_reply(r, depth + 1)),
        b'+' | b'-' | b':' | b'$' | b'_' | b',' | b'#' | b'(' => Ok(()),
        t => Err(format!("unknown reply type {:?}", t as char)),
    }
}

fn show(cmd: &[Vec<u8>]) -> String {
    cmd.iter()
        .map(|a| {
            let t = String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned();
            if a.len() > 40 {
                format!("{t:?}...({} bytes)", a.len())
            } else {
                format!("{t:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn command_names(s: &Proc) -> Vec<String> {
    let mut c = s.raw();
    let reply = c.cmd(&[b"COMMAND", b"LIST"]);
    String::from_utf8_lossy(&reply)
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
        .map(|l| l.to_ascii_lowercase())
        .filter(|n| !SKIPPED.contains(&n.as_str()))
        .collect()
}

/// Fuzzes over one connection until `until`; returns how many commands
/// were sent.
fn fuzz(s: &Proc, names: &[String], seed: u64, until: Instant) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let stream = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut recent: VecDeque<String> = VecDeque::new();
    let mut sent = 0;
    while Instant::now() < until {
        let mut batch: Vec<Vec<Vec<u8>>> = Vec::new();
        if rng.gen_range(0..50) == 0 {
            batch.extend(seed_data(&mut rng));
        }
        for _ in 0..rng.gen_range(1..8) {
            let name = &names[rng.gen_range(0..names.len())];
            let mut cmd: Vec<Vec<u8>> = name.split('|').map(|p| p.as_bytes().to_vec()).collect();
            let extra = match rng.gen_range(0..10) {
                0 => 0,
                1..=6 => rng.gen_range(1..4),
                7..=8 => rng.gen_range(4..10),
                _ => rng.gen_range(10..40),
            };
            for _ in 0..extra {
                cmd.push(hostile(&mut rng));
            }
            batch.push(cmd);
        }
        let mut bytes = Vec::new();
        for cmd in &batch {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
            bytes.extend(encode(&args));
            recent.push_back(show(cmd));
            if recent.len() > 20 {
                recent.pop_front();
            }
        }
        let fail = |why: String, recent: &VecDeque<String>| -> ! {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            panic!(
                "fuzz seed {seed}: {why}\nlast commands (newest last):\n  {}\nserver stderr:\n{log}",
                recent.iter().cloned().collect::<Vec<_>>().join("\n  ")
            )
        };
        if let Err(e) = w.write_all(&bytes) {
            fail(format!("send: {e}"), &recent);
        }
        for _ in &batch {
            if let Err(e) = read_reply(&mut r, 0) {
                fail(format!("no reply: {e}"), &recent);
            }
        }
        sent += batch.len();
    }
    sent
}

#[test]
fn random_hostile_commands_never_break_the_server() {
    let secs: u64 = std::env::var("RUDIS_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let seed: u64 = std::env::var("RUDIS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!("fuzz seed {seed} (RUDIS_FUZZ_SEED={seed} replays), {secs} s");
    // A small bulk limit keeps replies and values that clients size
    // (SETRANGE offsets, random counts) quick to build in a debug build.
    let s = rudis(&["--proto-max-bulk-len", "1mb", "--threads", "2"]);
    let names = command_names(&s);
    assert!(names.len() > 100, "COMMAND LIST gave {names:?}");
    let until = Instant::now() + Duration::from_secs(secs);
    // Two connections at once, so commands on both threads interleave.
    let sent: usize = std::thread::scope(|scope| {
        let a = scope.spawn(|| fuzz(&s, &names, seed, until));
        let b = scope.spawn(|| fuzz(&s, &names, seed.wrapping_add(1), until));
        [a, b]
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .sum()
    });
    let mut c = s.raw();
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"stats"])).into_owned();
    let log = std::fs::read_to_string(&s.log).unwrap_or_default();
    assert!(
        info.contains("rudis_command_panics:0\r\n") && !log.contains("panicked"),
        "fuzz seed {seed}: a command panicked:\n{log}"
    );
    println!("fuzz seed {seed}: {sent} commands, no finding");
}
