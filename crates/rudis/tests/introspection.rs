//! CONFIG, INFO and COMMAND as clients and monitoring tools use them.
//! Expected values come from Redis 7.0.15's behaviour.

mod common;

use std::time::Duration;

use common::{eventually, rudis};

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

#[test]
fn config_set_takes_effect_live_and_is_all_or_nothing() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"1"]), b"+OK\r\n");
    // The second client is refused at once.
    // The server speaks first and closes; nothing is sent, so nothing
    // unread turns the close into a reset.
    eventually("maxclients applies", || {
        let mut other = s.raw();
        let mut got = Vec::new();
        let _ = std::io::Read::read_to_end(&mut other.reader, &mut got);
        got == b"-ERR max number of clients reached\r\n"
    });
    // One bad pair: nothing changes.
    assert_eq!(
        text(&c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"100", b"hz", b"x"])),
        "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"100", b"timeout", b"1"]),
        b"+OK\r\n"
    );
    // timeout now closes idle clients.
    let mut idle = s.raw();
    assert_eq!(idle.cmd(&[b"PING"]), b"+PONG\r\n");
    assert!(idle.closed());
    // (The admin connection was idle too, and was closed the same way.)
    let mut c = s.raw();
    // requirepass applies to new connections; this one stays authenticated.
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"timeout", b"0", b"requirepass", b"pw"]),
        b"+OK\r\n"
    );
    let mut fresh = s.raw();
    assert_eq!(
        fresh.cmd(&[b"GET", b"a"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&[b"GET", b"a"]), b"$-1\r\n");
    assert_eq!(c.cmd(&[b"CONFIG", b"SET", b"save", b"3600 1"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"save"]),
        b"*2\r\n$4\r\nsave\r\n$6\r\n3600 1\r\n"
    );
    assert_eq!(
        text(&c.cmd(&[b"CONFIG", b"SET", b"appendonly", b"yes"])),
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - rudis has no AOF yet: only 'no' is accepted\r\n"
    );
    // Setting port and bind to what they are is no change and succeeds,
    // as in Redis (its CONFIG sanity test does this for every directive).
    let port = s.port.to_string();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"port", port.as_bytes()]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"bind", b"127.0.0.1"]),
        b"+OK\r\n"
    );
}

#[test]
fn config_rewrite_keeps_the_file_and_records_changes() {
    let dir = std::env::temp_dir().join(format!("rudis-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("rudis.conf");
    std::fs::write(
        &conf,
        "# my settings\nhz 10\n\n# keep me\nloglevel warning\n",
    )
    .unwrap();
    let s = common::Proc::spawn(
        common::rudis_bin(),
        &[conf.to_str().unwrap(), "--bind", "127.0.0.1"],
    );
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"hz", b"25", b"timeout", b"30"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&[b"CONFIG", b"REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# my settings\nhz 25\n\n# keep me\nloglevel warning\n"),
        "{text}"
    );
    assert!(text.contains("timeout 30\n"), "{text}");
    // Without a file, Redis's error.
    let plain = rudis(&[]);
    assert_eq!(
        plain.raw().cmd(&[b"CONFIG", b"REWRITE"]),
        b"-ERR The server is running without a config file\r\n"
    );
}

fn info(c: &mut common::Raw, section: &[u8]) -> String {
    let reply = c.cmd(&[b"INFO", section]);
    text(&reply)
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .to_string()
}

#[test]
fn info_reports_real_values() {
    let s = rudis(&[]);
    let mut c = s.raw();
    for _ in 0..3 {
        c.cmd(&[b"SET", b"k", b"v"]);
    }
    c.cmd(&[b"GET", b"k"]);
    c.cmd(&[b"GET", b"missing"]);
    c.cmd(&[b"SET", b"t", b"v", b"EX", b"100"]);
    c.cmd(&[b"GET"]);
    c.cmd(&[b"INCR", b"k"]);
    let all = info(&mut c, b"everything");
    let sections: Vec<&str> = all.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        sections,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Commandstats",
            "# Errorstats",
            "# Latencystats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert_eq!(field(&all, "redis_version"), "7.0.15");
    assert_eq!(field(&all, "tcp_port"), s.port.to_string());
    assert_eq!(field(&all, "process_id"), s.child.id().to_string());
    // The start-up probe's connection may still be counted for a moment.
    eventually("only this client connected", || {
        field(&info(&mut c, b"clients"), "connected_clients") == "1"
    });
    assert_eq!(field(&all, "keyspace_hits"), "1");
    assert_eq!(field(&all, "keyspace_misses"), "1");
    assert_eq!(field(&all, "db0"), "keys=2,expires=1,avg_ttl=0");
    assert_eq!(field(&all, "role"), "master");
    assert!(field(&all, "used_memory").parse::<u64>().unwrap() > 100_000);
    let set = field(&all, "cmdstat_set");
    assert!(set.starts_with("calls=4,usec="), "{set}");
    assert!(set.ends_with(",rejected_calls=0,failed_calls=0"), "{set}");
    assert!(field(&all, "cmdstat_get").ends_with("rejected_calls=1,failed_calls=0"));
    assert!(field(&all, "cmdstat_incr").ends_with("rejected_calls=0,failed_calls=1"));
    assert_eq!(field(&all, "errorstat_ERR"), "count=2");
    assert!(field(&all, "latency_percentiles_usec_set").starts_with("p50="));
    // Default sections leave out commandstats and latencystats.
    let default = text(&c.cmd(&[b"INFO"]));
    assert!(!default.contains("# Commandstats") && default.contains("# Keyspace"));
    // Several sections at once, in Redis's order.
    let two = info(&mut c, b"keyspace");
    assert!(two.starts_with("$") && two.contains("# Keyspace\r\ndb0:"));
    // RESP3: a verbatim string.
    c.cmd(&[b"HELLO", b"3"]);
    assert!(c.cmd(&[b"INFO", b"server"]).starts_with(b"="));
    // RESETSTAT zeroes the counters.
    assert_eq!(c.cmd(&[b"CONFIG", b"RESETSTAT"]), b"+OK\r\n");
    let after = text(&c.cmd(&[b"INFO", b"stats"]));
    assert_eq!(field(&after, "keyspace_hits"), "0");
    assert_eq!(field(&after, "total_error_replies"), "0");
    // expired_keys counts keys removed by expiry.
    c.cmd(&[b"SET", b"gone", b"v", b"PX", b"1"]);
    eventually("expired_keys counts the expired key", || {
        std::thread::sleep(Duration::from_millis(20));
        field(&text(&c.cmd(&[b"INFO", b"stats"])), "expired_keys") == "1"
    });
}

#[test]
fn command_docs_describe_the_syntax() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"COMMAND", b"DOCS", b"nosuch"]), b"*0\r\n");
    let get = text(&c.cmd(&[b"COMMAND", b"DOCS", b"get"]));
    // Redis 7.0.15's structure for GET, with rudis's summary.
    assert_eq!(
        get,
        "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$35\r\nReturns the string stored at a key.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
    );
    let config = text(&c.cmd(&[b"COMMAND", b"DOCS", b"config"]));
    assert!(
        config.contains("$11\r\nsubcommands\r\n") && config.contains("config|get"),
        "{config}"
    );
}

#[test]
fn debug_sleep_needs_enable_debug_command() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert!(
        text(&c.cmd(&[b"DEBUG", b"SLEEP", b"0"])).starts_with("-ERR DEBUG command not allowed.")
    );
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let mut other = s.raw();
    other.cmd(&[b"SET", b"k", b"v"]);
    c.send(b"DEBUG SLEEP 0.3\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let start = std::time::Instant::now();
    // A command on keys waits for the sleep to end.
    assert_eq!(other.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    c.expect(b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"DEBUG", b"SLEEP"]),
        b"-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(c.cmd(&[b"DEBUG", b"SLEEP", b"x"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"enable-debug-command", b"no"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config\r\n"
    );
}

/// Fields whose names depend on what ran (commands, errors, databases).
fn per_instance(k: &str) -> bool {
    let db = k
        .strip_prefix("db")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
    k.starts_with("cmdstat_")
        || k.starts_with("latency_percentiles")
        || k.starts_with("errorstat_")
        || db
}

/// INFO everything has Redis 7.0.15's sections and fields in its order
/// (captured from it into tests/data/info-fields.txt), plus rudis's own `rudis_*` fields.
#[test]
fn info_fields_are_redis_7_0_15s() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let all = info(&mut c, b"everything");
    let ours: Vec<&str> = all
        .lines()
        .skip(1)
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(|l| l.split(':').next().unwrap())
        .filter(|k| !per_instance(k) && !k.starts_with("rudis_"))
        .collect();
    let redis: Vec<&str> = include_str!("data/info-fields.txt").lines().collect();
    assert_eq!(ours, redis);
}

/// INFO latencystats prints the percentiles latency-tracking-info-percentiles
/// names, as Redis formats them, and nothing while latency-tracking is off.
#[test]
fn latencystats_follow_the_tracking_directives() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[
        b"CONFIG",
        b"SET",
        b"latency-tracking-info-percentiles",
        b"99 99.99 0 100",
    ]);
    c.cmd(&[b"PING"]);
    let info = text(&c.cmd(&[b"INFO", b"latencystats"]));
    let line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_ping:"))
        .expect("ping line");
    let names: Vec<&str> = line
        .split(':')
        .nth(1)
        .unwrap()
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["p99", "p99.99", "p0", "p100"]);
    c.cmd(&[b"CONFIG", b"SET", b"latency-tracking-info-percentiles", b""]);
    let info = text(&c.cmd(&[b"INFO", b"latencystats"]));
    assert!(
        info.contains("latency_percentiles_usec_ping:\r\n"),
        "{info}"
    );
    c.cmd(&[b"CONFIG", b"SET", b"latency-tracking", b"no"]);
    c.cmd(&[b"CONFIG", b"RESETSTAT"]);
    c.cmd(&[b"PING"]);
    assert_eq!(
        c.cmd(&[b"INFO", b"latencystats"]),
        b"$16\r\n# Latencystats\r\n\r\n"
    );
}

#[test]
fn info_memory_counts_cached_scripts_and_the_lua_state() {
    let server = rudis(&[]);
    let mut c = server.client();
    let field = |c: &mut redis::Connection, name: &str| -> u64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).expect("info");
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in INFO memory"))
    };
    assert_eq!(field(&mut c, "number_of_cached_scripts"), 0);
    let _: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query(&mut c)
        .expect("load");
    let _: i64 = redis::cmd("EVAL")
        .arg("return 2")
        .arg(0)
        .query(&mut c)
        .expect("eval");
    assert_eq!(field(&mut c, "number_of_cached_scripts"), 2);
    assert!(field(&mut c, "used_memory_scripts_eval") >= 16);
    assert!(field(&mut c, "used_memory_lua") > 0);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut c)
        .expect("flush");
    assert_eq!(field(&mut c, "number_of_cached_scripts"), 0);
    assert_eq!(field(&mut c, "used_memory_scripts_eval"), 0);
}

/// INFO replication shows min_slaves_good_slaves (0: rudis has no
/// replicas) right after connected_slaves only while min-replicas-to-write
/// and min-replicas-max-lag are both set, as Redis 7.0.15 does.
#[test]
fn info_replication_counts_good_replicas_only_when_required() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let lines = |c: &mut common::Raw| -> Vec<String> {
        info(c, b"replication")
            .lines()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.starts_with('#') && !l.starts_with('$'))
            .take(3)
            .collect()
    };
    assert_eq!(
        lines(&mut c),
        [
            "role:master",
            "connected_slaves:0",
            "master_failover_state:no-failover"
        ]
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"min-replicas-to-write", b"1"],
        b"+OK\r\n",
    );
    assert_eq!(
        lines(&mut c),
        [
            "role:master",
            "connected_slaves:0",
            "min_slaves_good_slaves:0"
        ]
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"min-slaves-max-lag", b"0"],
        b"+OK\r\n",
    );
    assert_eq!(
        lines(&mut c),
        [
            "role:master",
            "connected_slaves:0",
            "master_failover_state:no-failover"
        ]
    );
}
