//! MIGRATE between two real servers: rudis to rudis, and both ways with
//! redis-server 7.0.15 when it is on PATH (required under `CI`).
//! Expected replies are Redis's (checked against redis-server as the
//! source with `RUDIS_TEST_REFERENCE=redis-server`).

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, rudis, Proc};
use redis::{Connection, Value};

fn cmd(c: &mut Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

fn ok(c: &mut Connection, args: &[&str]) -> Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(c: &mut Connection, args: &[&str]) -> String {
    match cmd(c, args) {
        Ok(v) => panic!("{args:?}: expected an error, got {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let detail = e.detail().unwrap_or("").to_string();
            format!("{code} {detail}").trim().to_string()
        }
    }
}

fn status(s: &str) -> Value {
    if s == "OK" {
        Value::Okay
    } else {
        Value::SimpleString(s.into())
    }
}

fn int(c: &mut Connection, args: &[&str]) -> i64 {
    redis::from_redis_value(&ok(c, args)).unwrap()
}

fn strings(c: &mut Connection, args: &[&str]) -> Vec<String> {
    redis::from_redis_value(&ok(c, args)).unwrap()
}

fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let info: String = redis::from_redis_value(&ok(c, &["INFO", section])).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in INFO"))
        .trim()
        .to_string()
}

fn port(p: &Proc) -> String {
    p.port.to_string()
}

#[test]
fn keys_move_with_their_ttl_and_values_and_are_deleted_here() {
    let (src, dst) = (rudis(&[]), rudis(&[]));
    let (mut a, mut b) = (src.client(), dst.client());
    let p = port(&dst);
    ok(&mut a, &["SET", "s", "hello", "PX", "50000"]);
    ok(&mut a, &["RPUSH", "l", "x", "y", "z"]);
    ok(&mut a, &["HSET", "h", "f", "v", "g", "w"]);
    ok(&mut a, &["SADD", "set", "1", "2", "3"]);
    ok(&mut a, &["ZADD", "z", "1.5", "m", "2", "n"]);
    ok(&mut a, &["XADD", "x", "1-1", "f", "v"]);
    assert_eq!(
        ok(&mut a, &["MIGRATE", "127.0.0.1", &p, "s", "3", "1000"]),
        status("OK")
    );
    assert_eq!(int(&mut a, &["EXISTS", "s"]), 0);
    ok(&mut b, &["SELECT", "3"]);
    let ttl = int(&mut b, &["PTTL", "s"]);
    assert!((40_000..=50_000).contains(&ttl), "pttl {ttl}");
    assert_eq!(strings(&mut b, &["MGET", "s"]), ["hello"]);
    // The KEYS form: missing keys are skipped, the others all move.
    let moved = ok(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &p,
            "",
            "3",
            "1000",
            "KEYS",
            "l",
            "nosuch",
            "h",
            "set",
            "z",
            "x",
        ],
    );
    assert_eq!(moved, status("OK"));
    assert_eq!(int(&mut a, &["DBSIZE"]), 0);
    assert_eq!(
        strings(&mut b, &["LRANGE", "l", "0", "-1"]),
        ["x", "y", "z"]
    );
    assert_eq!(strings(&mut b, &["HGETALL", "h"]), ["f", "v", "g", "w"]);
    assert_eq!(int(&mut b, &["SCARD", "set"]), 3);
    assert_eq!(
        strings(&mut b, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ["m", "1.5", "n", "2"]
    );
    assert_eq!(int(&mut b, &["XLEN", "x"]), 1);
    assert_eq!(int(&mut b, &["PTTL", "l"]), -1);
    // Nothing left to move.
    assert_eq!(
        ok(&mut a, &["MIGRATE", "127.0.0.1", &p, "s", "3", "1000"]),
        status("NOKEY")
    );
    assert_eq!(
        ok(
            &mut a,
            &["MIGRATE", "127.0.0.1", &p, "", "3", "1000", "KEYS"]
        ),
        status("NOKEY")
    );
}

#[test]
fn copy_keeps_the_key_and_replace_overwrites_the_target() {
    let (src, dst) = (rudis(&[]), rudis(&[]));
    let (mut a, mut b) = (src.client(), dst.client());
    let p = port(&dst);
    ok(&mut a, &["SET", "k", "one"]);
    let copy = ["MIGRATE", "127.0.0.1", &p, "k", "0", "1000", "COPY"];
    assert_eq!(ok(&mut a, &copy), status("OK"));
    assert_eq!(strings(&mut a, &["MGET", "k"]), ["one"]);
    // The key is there now: RESTORE without REPLACE refuses, and the
    // source keeps its key.
    assert_eq!(
        err(&mut a, &["MIGRATE", "127.0.0.1", &p, "k", "0", "1000"]),
        "ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(int(&mut a, &["EXISTS", "k"]), 1);
    ok(&mut a, &["SET", "k", "two"]);
    let replace = ["MIGRATE", "127.0.0.1", &p, "k", "0", "1000", "REPLACE"];
    assert_eq!(ok(&mut a, &replace), status("OK"));
    assert_eq!(strings(&mut b, &["MGET", "k"]), ["two"]);
    assert_eq!(int(&mut a, &["EXISTS", "k"]), 0);
}

#[test]
fn the_target_is_authenticated_and_its_errors_are_reported() {
    let (src, dst) = (rudis(&[]), rudis(&["--requirepass", "sekret"]));
    let mut a = src.client();
    let mut b = redis::Client::open(format!("redis://:sekret@127.0.0.1:{}/", dst.port))
        .unwrap()
        .get_connection()
        .unwrap();
    ok(
        &mut b,
        &["ACL", "SETUSER", "bob", "on", ">bobpw", "~*", "+@all"],
    );
    let p = port(&dst);
    ok(&mut a, &["SET", "k", "v"]);
    let m = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "MIGRATE",
            "127.0.0.1",
            &p,
            "k",
            "0",
            "1000",
            "COPY",
            "REPLACE",
        ]
        .map(String::from)
        .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: &mut Connection, extra: &[&'static str]| {
        let v = m(extra);
        cmd(a, &v.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let e = run(&mut a, &[]).unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    assert_eq!(
        e.detail(),
        Some("Target instance replied with error: NOAUTH Authentication required.")
    );
    let e = run(&mut a, &["AUTH", "bad"]).unwrap_err();
    assert_eq!(
        e.detail(),
        Some("Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(run(&mut a, &["AUTH", "sekret"]).unwrap(), Value::Okay);
    assert_eq!(
        run(&mut a, &["AUTH2", "bob", "bobpw"]).unwrap(),
        Value::Okay
    );
    assert_eq!(strings(&mut b, &["MGET", "k"]), ["v"]);
    // A refused SELECT: the RESTORE still ran in the database the
    // target connection had, and the key stays here (as Redis).
    ok(&mut b, &["DEL", "k"]);
    let e = cmd(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &p,
            "k",
            "99",
            "1000",
            "AUTH",
            "sekret",
        ],
    )
    .unwrap_err();
    assert_eq!(
        e.detail(),
        Some("Target instance replied with error: ERR DB index is out of range")
    );
    assert_eq!(int(&mut a, &["EXISTS", "k"]), 1);
    assert_eq!(int(&mut b, &["EXISTS", "k"]), 1);
    // The secrets are not in the slow log.
    ok(&mut a, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    ok(&mut a, &["SLOWLOG", "RESET"]);
    let _ = cmd(
        &mut a,
        &[
            "MIGRATE",
            "127.0.0.1",
            &p,
            "nokey",
            "0",
            "10",
            "AUTH2",
            "bob",
            "bobpw",
        ],
    );
    let log = format!("{:?}", ok(&mut a, &["SLOWLOG", "GET", "2"]));
    assert!(
        log.contains("(redacted)") && !log.contains("bobpw") && !log.contains("\"bob\""),
        "{log}"
    );
}

#[test]
fn one_connection_serves_many_migrates_and_closes_when_idle() {
    let (src, dst) = (rudis(&[]), rudis(&[]));
    let (mut a, mut b) = (src.client(), dst.client());
    let p = port(&dst);
    let before: i64 = info_field(&mut b, "stats", "total_connections_received")
        .parse()
        .unwrap();
    for i in 0..5 {
        let k = format!("k{i}");
        ok(&mut a, &["SET", &k, "v"]);
        assert_eq!(
            ok(&mut a, &["MIGRATE", "127.0.0.1", &p, &k, "1", "1000"]),
            Value::Okay
        );
    }
    let after: i64 = info_field(&mut b, "stats", "total_connections_received")
        .parse()
        .unwrap();
    assert_eq!(after - before, 1, "one connection for five MIGRATEs");
    ok(&mut b, &["SELECT", "1"]);
    assert_eq!(int(&mut b, &["DBSIZE"]), 5);
    // Redis closes a cached connection idle for more than 10 seconds.
    let start = Instant::now();
    eventually("the idle MIGRATE connection to close", || {
        info_field(&mut b, "clients", "connected_clients") == "1"
    });
    assert!(
        start.elapsed() >= Duration::from_secs(8),
        "closed after {:?}",
        start.elapsed()
    );
}

#[test]
fn an_unreachable_or_silent_target_is_an_io_error_and_the_key_stays() {
    let src = rudis(&[]);
    let mut a = src.client();
    ok(&mut a, &["SET", "k", "v"]);
    // Nothing listens there (a port of ours, bound then closed).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_eq!(
        err(
            &mut a,
            &[
                "MIGRATE",
                "127.0.0.1",
                &closed.to_string(),
                "k",
                "0",
                "1000"
            ]
        ),
        "IOERR error or timeout writing to target instance"
    );
    assert_eq!(
        err(&mut a, &["MIGRATE", "", "1", "k", "0", "1000"]),
        "IOERR error or timeout connecting to the client"
    );
    // Accepts and never answers: the timeout (300 ms) ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let sp = silent.local_addr().unwrap().port().to_string();
    let held = std::thread::spawn(move || {
        let (mut s, _) = silent.accept().unwrap();
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) && s.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let start = Instant::now();
    assert_eq!(
        err(&mut a, &["MIGRATE", "127.0.0.1", &sp, "k", "0", "300"]),
        "IOERR error or timeout reading to target instance"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(int(&mut a, &["EXISTS", "k"]), 1);
    held.join().unwrap();
}

#[test]
fn a_migrated_key_is_a_deletion_for_watchers() {
    let (src, dst) = (rudis(&[]), rudis(&[]));
    let (mut a, mut w) = (src.client(), src.client());
    let p = port(&dst);
    ok(&mut a, &["SET", "k", "v"]);
    ok(&mut w, &["WATCH", "k"]);
    ok(&mut a, &["MIGRATE", "127.0.0.1", &p, "k", "0", "1000"]);
    ok(&mut w, &["MULTI"]);
    ok(&mut w, &["GET", "k"]);
    assert_eq!(ok(&mut w, &["EXEC"]), Value::Nil);
    assert_eq!(
        info_field(&mut a, "persistence", "rdb_changes_since_last_save"),
        "2"
    );
}

fn have_redis() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI needs redis-server on PATH"
    );
    found
}

/// Keys of every type go to redis-server 7.0.15 and come back.
#[test]
fn keys_go_to_redis_and_back() {
    if !have_redis() {
        eprintln!("redis-server not on PATH: skipped");
        return;
    }
    let ours = rudis(&[]);
    let redis = Proc::spawn(
        "redis-server",
        &["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    );
    let (mut a, mut r) = (ours.client(), redis.client());
    ok(&mut a, &["SET", "s", "v", "EX", "100"]);
    ok(&mut a, &["RPUSH", "l", "1", "2", "3"]);
    ok(&mut a, &["HSET", "h", "f", "v"]);
    ok(&mut a, &["SADD", "set", "a", "b"]);
    ok(&mut a, &["ZADD", "z", "1", "a", "2", "b"]);
    ok(&mut a, &["XADD", "x", "1-1", "f", "v"]);
    let keys = ["l", "h", "set", "z", "x", "s"];
    let mut line = vec!["MIGRATE", "127.0.0.1"];
    let rp = port(&redis);
    line.extend([rp.as_str(), "", "0", "2000", "KEYS"]);
    line.extend(keys);
    assert_eq!(ok(&mut a, &line), Value::Okay);
    assert_eq!(int(&mut a, &["DBSIZE"]), 0);
    assert_eq!(
        strings(&mut r, &["LRANGE", "l", "0", "-1"]),
        ["1", "2", "3"]
    );
    assert_eq!(
        strings(&mut r, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ["a", "1", "b", "2"]
    );
    assert!(int(&mut r, &["TTL", "s"]) > 90);
    // And back: redis-server's MIGRATE into rudis.
    let ap = port(&ours);
    line[2] = ap.as_str();
    assert_eq!(ok(&mut r, &line), Value::Okay);
    assert_eq!(int(&mut r, &["DBSIZE"]), 0);
    assert_eq!(strings(&mut a, &["HGETALL", "h"]), ["f", "v"]);
    assert_eq!(int(&mut a, &["SCARD", "set"]), 2);
    assert_eq!(int(&mut a, &["XLEN", "x"]), 1);
    assert!(int(&mut a, &["TTL", "s"]) > 90);
}
