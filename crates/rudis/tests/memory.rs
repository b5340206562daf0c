//! MEMORY: what a key costs, the server's figures, the doctor, the
//! allocator's report; redis-cli --memkeys and --bigkeys over them.
//! Expected texts and errors are Redis 7.0.15's.

mod common;

use common::rudis;

fn usage(c: &mut common::Raw, key: &[u8]) -> i64 {
    let r = c.cmd(&[b"MEMORY", b"USAGE", key]);
    String::from_utf8_lossy(&r[1..r.len() - 2]).parse().unwrap()
}

#[test]
fn memory_usage_follows_what_a_key_holds() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"small", b"b"]);
    c.cmd(&[b"SET", b"big", &[b'x'; 1000]]);
    c.cmd(&[b"SET", b"huge", &[b'x'; 100_000]]);
    let small = usage(&mut c, b"small");
    let big = usage(&mut c, b"big");
    let huge = usage(&mut c, b"huge");
    assert!((32..100).contains(&small), "{small}");
    assert!((1000..1200).contains(&big), "{big}");
    // jemalloc's size class for 100,000 bytes is 114,688.
    assert!((100_000..120_000).contains(&huge), "{huge}");
    for i in 0..1000 {
        c.cmd(&[b"HSET", b"h", format!("field{i}").as_bytes(), &[b'v'; 100]]);
        c.cmd(&[b"RPUSH", b"l", &[b'v'; 100]]);
        c.cmd(&[
            b"SADD",
            b"s",
            format!("member-{i}-{}", "m".repeat(40)).as_bytes(),
        ]);
    }
    // Every element is counted: 1000 values of 100 bytes and more.
    for key in [&b"h"[..], b"s"] {
        let sampled = usage(&mut c, key);
        let all = c.cmd(&[b"MEMORY", b"USAGE", key, b"SAMPLES", b"0"]);
        let all: i64 = String::from_utf8_lossy(&all[1..all.len() - 2])
            .parse()
            .unwrap();
        assert!(all > 50_000 && sampled > 50_000, "{key:?}: {sampled} {all}");
    }
    assert!(usage(&mut c, b"l") > 100_000);
    // Five short members with small scores: compact, and smaller than the
    // 88 bytes Redis 7.0.15 reports for the same key.
    c.cmd(&[
        b"ZADD",
        b"zs:0000001",
        b"1",
        b"a",
        b"2",
        b"b",
        b"3",
        b"c",
        b"4",
        b"d",
        b"5",
        b"e",
    ]);
    let z = usage(&mut c, b"zs:0000001");
    assert!((40..88).contains(&z), "{z}");
    for i in 0..1000 {
        let m = format!("member-{i}-{}", "m".repeat(40));
        c.cmd(&[b"ZADD", b"z", i.to_string().as_bytes(), m.as_bytes()]);
    }
    // Each member is held twice in the large form.
    assert!(usage(&mut c, b"z") > 100_000);
    assert_eq!(c.cmd(&[b"MEMORY", b"USAGE", b"nokey"]), b"$-1\r\n");
    // Options are read before the key is looked up, as Redis does.
    for (args, reply) in [
        (&[&b"SAMPLES"[..]][..], &b"-ERR syntax error\r\n"[..]),
        (&[b"SAMPLES", b"-1"], b"-ERR syntax error\r\n"),
        (
            &[b"SAMPLES", b"x"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (&[b"foo"], b"-ERR syntax error\r\n"),
    ] {
        let mut cmd: Vec<&[u8]> = vec![b"MEMORY", b"USAGE", b"nokey"];
        cmd.extend_from_slice(args);
        assert_eq!(c.cmd(&cmd), reply);
    }
    assert_eq!(
        c.cmd(&[b"MEMORY", b"USAGE", b"small", b"SAMPLES", b"0", b"SAMPLES", b"5"]),
        format!(":{small}\r\n").as_bytes()
    );
    c.cmd(&[b"HELLO", b"3"]);
    assert_eq!(c.cmd(&[b"MEMORY", b"USAGE", b"nokey"]), b"_\r\n");
}

#[test]
fn memory_stats_doctor_purge_and_help() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let doctor = c.cmd(&[b"MEMORY", b"DOCTOR"]);
    assert!(
        String::from_utf8_lossy(&doctor)
            .contains("Hi Sam, this instance is empty or is using very little memory"),
        "{doctor:?}"
    );
    for i in 0..10 {
        c.cmd(&[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    c.cmd(&[b"SELECT", b"3"]);
    c.cmd(&[b"SET", b"k", b"v"]);
    let stats = String::from_utf8_lossy(&c.cmd(&[b"MEMORY", b"STATS"])).into_owned();
    // 27 fields and one per database holding keys (0 and 3).
    assert!(
        stats.starts_with("*58\r\n$14\r\npeak.allocated\r\n:"),
        "{stats}"
    );
    assert!(stats.contains("$4\r\ndb.0\r\n*6\r\n$23\r\noverhead.hashtable.main\r\n:"));
    assert!(stats.contains("$4\r\ndb.3\r\n"));
    assert!(stats.contains("$10\r\nkeys.count\r\n:11\r\n"), "{stats}");
    assert_eq!(c.cmd(&[b"MEMORY", b"PURGE"]), b"+OK\r\n");
    let report = c.cmd(&[b"MEMORY", b"MALLOC-STATS"]);
    assert!(String::from_utf8_lossy(&report).contains("___ Begin jemalloc statistics ___"));
    assert_eq!(
        c.cmd(&[b"MEMORY", b"STATS", b"x"]),
        b"-ERR wrong number of arguments for 'memory|stats' command\r\n"
    );
    assert_eq!(
        c.cmd(&[b"MEMORY", b"FOO"]),
        b"-ERR unknown subcommand 'FOO'. Try MEMORY HELP.\r\n"
    );
    let help = String::from_utf8_lossy(&c.cmd(&[b"MEMORY", b"HELP"])).into_owned();
    assert!(help.starts_with("*14\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+DOCTOR\r\n"), "{help}");
    assert!(help.contains("+    sampled up to <count> times (default: 5, 0 means sample all).\r\n"));
    c.cmd(&[b"HELLO", b"3"]);
    let stats = c.cmd(&[b"MEMORY", b"STATS"]);
    assert!(stats.starts_with(b"%29\r\n"), "{stats:?}");
    assert!(String::from_utf8_lossy(&stats).contains("$18\r\ndataset.percentage\r\n,"));
}

#[test]
fn redis_cli_memkeys_and_bigkeys_report_real_sizes() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"small", b"v"]);
    c.cmd(&[b"SET", b"biggest", &[b'x'; 50_000]]);
    for i in 0..100 {
        c.cmd(&[b"RPUSH", b"longlist", format!("{i}").as_bytes()]);
    }
    let run = |flag: &str| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &s.port.to_string(), flag])
            .output();
        match out {
            Ok(o) => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
            Err(_) => None,
        }
    };
    let Some(mem) = run("--memkeys") else {
        eprintln!("redis-cli not found: skipped");
        return;
    };
    // rudis's own sizes: the 50,000-byte value in its allocation class.
    assert!(
        mem.contains("Biggest string found '\"biggest\"' has 5"),
        "{mem}"
    );
    let big = run("--bigkeys").unwrap();
    assert!(
        big.contains("Biggest string found '\"biggest\"' has 50000 bytes"),
        "{big}"
    );
    assert!(
        big.contains("Biggest   list found '\"longlist\"' has 100 items"),
        "{big}"
    );
}

/// jemalloc's background threads purge freed pages while the server is
/// idle; on by default (Redis's jemalloc-bg-thread), switchable live.
#[test]
fn jemalloc_background_threads_follow_the_directive() {
    let s = common::rudis(&[]);
    let mut c = s.raw();
    let stats = |c: &mut common::Raw| {
        String::from_utf8_lossy(&c.cmd(&[b"MEMORY", b"MALLOC-STATS"])).to_string()
    };
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"jemalloc-bg-thread"]),
        b"*2\r\n$18\r\njemalloc-bg-thread\r\n$3\r\nyes\r\n"
    );
    assert!(stats(&mut c).contains("(background_thread: true)"));
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"jemalloc-bg-thread", b"no"]),
        b"+OK\r\n"
    );
    assert!(stats(&mut c).contains("(background_thread: false)"));
}

/// A database's tables are made on its first write: a fresh server holds
/// no 16 x 1,024 empty tables (2.6 MB that maxmemory would count; Redis
/// starts at about 0.9 MB), and databases written and swapped keep
/// working.
#[test]
fn unused_databases_cost_no_memory() {
    let s = common::rudis(&[]);
    let mut c = s.raw();
    let field = |c: &mut common::Raw, name: &str| -> u64 {
        let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"memory"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {info}"))
    };
    let startup = field(&mut c, "used_memory_startup");
    assert!(startup < 1_500_000, "used_memory_startup {startup}");
    for db in 0..16 {
        let db = db.to_string();
        assert_eq!(c.cmd(&[b"SELECT", db.as_bytes()]), b"+OK\r\n");
        assert_eq!(c.cmd(&[b"GET", b"k"]), b"$-1\r\n");
        assert_eq!(c.cmd(&[b"DBSIZE"]), b":0\r\n");
    }
    c.cmd(&[b"SELECT", b"3"]);
    assert_eq!(c.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"SWAPDB", b"3", b"9"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"$-1\r\n");
    c.cmd(&[b"SELECT", b"9"]);
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    assert_eq!(c.cmd(&[b"FLUSHDB"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"DBSIZE"]), b":0\r\n");
    assert_eq!(c.cmd(&[b"SWAPDB", b"5", b"6"]), b"+OK\r\n");
    assert!(field(&mut c, "used_memory") < 1_500_000);
}

/// A command of 100,000 arguments leaves no buffers of its size behind on
/// the connection: once its key is gone, used_memory is back near where
/// it started (as Redis's, which frees a large argv).
#[test]
fn a_huge_command_leaves_no_buffers_behind() {
    let s = common::rudis(&[]);
    let mut c = s.raw();
    let used = |c: &mut common::Raw| -> u64 {
        let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"memory"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory")
    };
    // Warm up what one command allocates once (statistics, histograms).
    c.cmd(&[b"SADD", b"warm", b"1"]);
    c.cmd(&[b"DEL", b"warm"]);
    let start = used(&mut c);
    let members: Vec<Vec<u8>> = (0..100_000).map(|i| i.to_string().into_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![b"SADD", b"big"];
    args.extend(members.iter().map(|m| m.as_slice()));
    assert_eq!(c.cmd(&args), b":100000\r\n");
    assert!(used(&mut c) > start + 1_000_000);
    assert_eq!(c.cmd(&[b"DEL", b"big"]), b":1\r\n");
    common::eventually("memory back after DEL", || used(&mut c) < start + 300_000);
}

/// `lazyfree-lazy-expire`: an expired value that is costly to free (a set
/// of 1,000 members) is freed on the lazy-free thread, as INFO's
/// lazyfreed_objects counts; without it, inline.
#[test]
fn lazyfree_lazy_expire_frees_expired_values_in_the_background() {
    let s = common::rudis(&[]);
    let mut c = s.raw();
    let freed = |c: &mut common::Raw| -> u64 {
        let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"memory"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("lazyfreed_objects:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("lazyfreed_objects")
    };
    let fill = |c: &mut common::Raw, key: &[u8]| {
        let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
        let mut args: Vec<&[u8]> = vec![b"SADD", key];
        args.extend(members.iter().map(Vec::as_slice));
        assert_eq!(c.cmd(&args), b":1000\r\n");
        assert_eq!(c.cmd(&[b"PEXPIRE", key, b"1"]), b":1\r\n");
    };
    c.expect_cmd(
        &[b"CONFIG", b"GET", b"lazyfree-lazy-expire"],
        b"*2\r\n$20\r\nlazyfree-lazy-expire\r\n$2\r\nno\r\n",
    );
    fill(&mut c, b"inline");
    common::eventually("the first set to expire", || {
        c.cmd(&[b"EXISTS", b"inline"]) == b":0\r\n"
    });
    assert_eq!(freed(&mut c), 0);
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"lazyfree-lazy-expire", b"yes"],
        b"+OK\r\n",
    );
    fill(&mut c, b"lazy");
    common::eventually("the second set to expire", || {
        c.cmd(&[b"EXISTS", b"lazy"]) == b":0\r\n"
    });
    common::eventually("it to be freed in the background", || freed(&mut c) == 1);
}
