//! The server as a process: expiry in the background, concurrency,
//! configuration, signals, connection limits.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{connect_from, eventually, rudis, rudis_bin, DEADLINE};
use redis::Commands;

#[test]
fn untouched_expired_keys_are_reclaimed() {
    let s = rudis(&[]);
    let mut c = s.client();
    for chunk in 0..10 {
        let mut pipe = redis::pipe();
        for i in 0..10_000 {
            pipe.cmd("SET")
                .arg(format!("k:{chunk}:{i}"))
                .arg("v")
                .arg("PX")
                .arg(200)
                .ignore();
        }
        pipe.query::<()>(&mut c).unwrap();
    }
    let _: () = c.set("stays", "1").unwrap();
    // Nothing touches the keys: only the active expiry cycle can free them.
    eventually("100,000 keys with PX 200 reclaimed", || {
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        n == 1
    });
}

#[test]
fn concurrent_writers_never_lose_updates() {
    let s = rudis(&[]);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let mut c = s.client();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let _: i64 = c.incr("shared", 1).unwrap();
                    let _: i64 = c.incr(format!("own:{t}"), 1).unwrap();
                    let _: () = redis::cmd("MSET")
                        .arg(format!("{{pair}}a{t}"))
                        .arg(i)
                        .arg(format!("{{pair}}b{t}"))
                        .arg(i)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.client();
    let total: i64 = c.get("shared").unwrap();
    assert_eq!(total, 16 * 500);
    for t in 0..16 {
        let own: i64 = c.get(format!("own:{t}")).unwrap();
        assert_eq!(own, 500);
    }
}

#[test]
fn mset_is_atomic_across_shards() {
    // One writer flips two keys on different shards together; readers
    // must never see them differ.
    let s = rudis(&[]);
    let mut w = s.client();
    let _: () = redis::cmd("MSET")
        .arg("x")
        .arg(0)
        .arg("y")
        .arg(0)
        .query(&mut w)
        .unwrap();
    let writer = std::thread::spawn(move || {
        for i in 1..2000 {
            let _: () = redis::cmd("MSET")
                .arg("x")
                .arg(i)
                .arg("y")
                .arg(i)
                .query(&mut w)
                .unwrap();
        }
    });
    let mut r = s.client();
    for _ in 0..2000 {
        let (x, y): (i64, i64) = redis::cmd("MGET").arg("x").arg("y").query(&mut r).unwrap();
        assert_eq!(x, y);
    }
    writer.join().unwrap();
}

#[test]
fn thousands_of_connections_at_once() {
    let s = rudis(&[]);
    let mut conns: Vec<TcpStream> = (0..3000)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).expect("connect"))
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("SET c{i} {i}\r\n").as_bytes()).unwrap();
    }
    for c in conns.iter_mut() {
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+OK\r\n");
    }
    let mut c = s.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 3000);
}

fn run_fails(args: &[&str]) -> String {
    let out = Command::new(rudis_bin()).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_configuration_stops_startup_naming_the_line() {
    let err = run_fails(&["--port", "99999"]);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "{err}");
    assert!(
        err.contains("port 99999") && err.contains("between 0 and 65535"),
        "{err}"
    );
    let err = run_fails(&["--frobnicate", "yes"]);
    assert!(err.contains("Bad directive"), "{err}");
    let dir = std::env::temp_dir().join(format!("rudis-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "# a comment\nport 7000\n\nhz ten\n").unwrap();
    let err = run_fails(&[conf.to_str().unwrap()]);
    assert!(
        err.contains("at line 4") && err.contains(">>> 'hz ten'"),
        "{err}"
    );
    let err = run_fails(&["/nonexistent/rudis.conf"]);
    assert!(err.contains("can't open config file"), "{err}");
}

#[test]
fn config_file_and_flags_combine() {
    let dir = std::env::temp_dir().join(format!("rudis-conf2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("ok.conf");
    let log = dir.join("rudis.log");
    std::fs::write(
        &conf,
        format!(
            "databases 2\nlogfile \"{}\"\nloglevel notice\n",
            log.display()
        ),
    )
    .unwrap();
    // The flag overrides the file's databases.
    let s = common::Proc::spawn(
        rudis_bin(),
        &[
            conf.to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "--databases",
            "4",
        ],
    );
    let mut c = s.client();
    let r: redis::RedisResult<()> = redis::cmd("SELECT").arg(3).query(&mut c);
    assert!(r.is_ok());
    let r: redis::RedisResult<()> = redis::cmd("SELECT").arg(4).query(&mut c);
    assert!(r.is_err());
    eventually("start-up line in the log file", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("started: port="))
    });
}

#[test]
fn version_and_help() {
    for flag in ["--version", "-v"] {
        let out = Command::new(rudis_bin()).arg(flag).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("rudis v="));
    }
    let out = Command::new(rudis_bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: rudis"));
}

fn signal_exits_cleanly(sig: &str) {
    let mut s = rudis(&[]);
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    let sent = Command::new("kill")
        .args(["-s", sig, &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < DEADLINE, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(raw.closed());
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    signal_exits_cleanly("TERM");
    signal_exits_cleanly("INT");
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let s = rudis(&["--maxclients", "2"]);
    // The start-up probe's connection may still be counted for a moment.
    let serving = |s: &common::Proc| {
        let mut c = s.raw();
        c.send(b"PING\r\n");
        (c.reply() == b"+PONG\r\n").then_some(c)
    };
    let mut a = None;
    eventually("first client served", || {
        a = serving(&s);
        a.is_some()
    });
    // Refused attempts never take a slot, so retrying is safe.
    let mut b = None;
    eventually("second client served", || {
        b = serving(&s);
        b.is_some()
    });
    let mut third = s.raw();
    third.expect(b"-ERR max number of clients reached\r\n");
    assert!(third.closed());
    drop(a);
    eventually("a slot frees up", || {
        let mut c = s.raw();
        c.send(b"PING\r\n");
        c.reply() == b"+PONG\r\n"
    });
}

#[test]
fn protected_mode_denies_non_loopback_clients() {
    // Redis treats only 127.0.0.1 and ::1 as local; 127.0.0.2 is a second
    // address on this machine that counts as remote.
    let s = rudis(&[]);
    // Nothing is sent: the server speaks first and closes.
    let mut remote = connect_from("127.0.0.2", s.port);
    let mut text = String::new();
    remote.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("-DENIED Redis is running in protected mode"),
        "{text}"
    );
    assert!(text.ends_with("from the outside.\r\n"));
    let mut local = connect_from("127.0.0.1", s.port);
    local.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    local.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");

    let open = rudis(&["--protected-mode", "no"]);
    let mut remote = connect_from("127.0.0.2", open.port);
    remote.write_all(b"PING\r\n").unwrap();
    remote.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = rudis(&["--timeout", "1"]);
    let mut idle = s.raw();
    assert_eq!(idle.cmd(&[b"PING"]), b"+PONG\r\n");
    let start = Instant::now();
    assert!(idle.closed());
    assert!(start.elapsed() >= Duration::from_millis(900));
}

/// `--daemonize yes` as Redis: the command returns at once with success,
/// the server goes on in the background in a session of its own and
/// writes its pid to `pidfile`; both directives are immutable; SHUTDOWN
/// removes the pid file.
#[test]
fn daemonize_runs_in_the_background_with_a_pid_file() {
    let dir = std::env::temp_dir().join(format!("rudis-daemon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("r.pid");
    let port = common::free_port();
    let status = Command::new(rudis_bin())
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--daemonize", "yes", "--pidfile", pidfile.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut pid = String::new();
    eventually("the pid file is written", || {
        pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
        pid.ends_with('\n')
    });
    let pid: u32 = pid.trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // Its own session (field 6 of stat is the session id).
    assert_eq!(fields[3], pid.to_string(), "{stat}");
    let mut c = common::Raw::connect(port);
    c.expect_cmd(
        &[b"CONFIG", b"GET", b"daemonize"],
        b"*2\r\n$9\r\ndaemonize\r\n$3\r\nyes\r\n",
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"daemonize", b"no"],
        b"-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"pidfile", b"/tmp/x"],
        b"-ERR CONFIG SET failed (possibly related to argument 'pidfile') - can't set immutable config\r\n",
    );
    c.send(&common::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    eventually("the pid file is removed", || !pidfile.exists());
    // Gone, or a zombie its new parent has not reaped yet.
    eventually("the process is gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')').next().unwrap().trim_start().starts_with('Z')
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG SET port and bind take effect at once, as Redis: the server
/// listens on the new port only, connections already open stay; when the
/// new port or address cannot be bound, the whole CONFIG SET fails with
/// Redis's error, nothing of it is applied, and the old port still serves.
#[test]
fn config_set_port_and_bind_move_the_listener_or_roll_back() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let new_port = common::free_port();
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"port", new_port.to_string().as_bytes()],
        b"+OK\r\n",
    );
    c.expect_cmd(&[b"PING"], b"+PONG\r\n");
    let mut moved = common::Raw::connect(new_port);
    moved.expect_cmd(&[b"PING"], b"+PONG\r\n");
    eventually("the old port is closed", || {
        TcpStream::connect(("127.0.0.1", s.port)).is_err()
    });
    // A port someone else holds: refused, and maxmemory is not applied.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().port().to_string();
    moved.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory", b"10000001", b"port", taken.as_bytes()],
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n",
    );
    moved.expect_cmd(
        &[b"CONFIG", b"GET", b"maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    );
    let port_reply = format!(
        "*2\r\n$4\r\nport\r\n${}\r\n{new_port}\r\n",
        new_port.to_string().len()
    );
    moved.expect_cmd(&[b"CONFIG", b"GET", b"port"], port_reply.as_bytes());
    common::Raw::connect(new_port).expect_cmd(&[b"PING"], b"+PONG\r\n");
    // An address this machine does not have.
    moved.expect_cmd(
        &[b"CONFIG", b"SET", b"bind", b"192.0.2.1"],
        b"-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n",
    );
    moved.expect_cmd(
        &[b"CONFIG", b"GET", b"bind"],
        b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n",
    );
    common::Raw::connect(new_port).expect_cmd(&[b"PING"], b"+PONG\r\n");
}

/// `dynamic-hz` (default yes): with more than 200 clients per tick the
/// cron runs at twice `hz` (here 1: 250 clients make it 2), as INFO's
/// `hz` shows (`configured_hz` stays); turned off, it is `hz` again.
#[test]
fn dynamic_hz_follows_the_number_of_clients() {
    let s = common::rudis(&[]);
    let mut c = s.raw();
    let info = |c: &mut common::Raw, field: &str| -> String {
        let text = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"server"])).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in INFO"))
            .trim()
            .to_string()
    };
    c.expect_cmd(
        &[b"CONFIG", b"GET", b"dynamic-hz"],
        b"*2\r\n$10\r\ndynamic-hz\r\n$3\r\nyes\r\n",
    );
    c.expect_cmd(&[b"CONFIG", b"SET", b"hz", b"1"], b"+OK\r\n");
    common::eventually("hz to be 1", || info(&mut c, "hz") == "1");
    let many: Vec<_> = (0..250).map(|_| s.raw()).collect();
    common::eventually("hz to double", || info(&mut c, "hz") == "2");
    assert_eq!(info(&mut c, "configured_hz"), "1");
    c.expect_cmd(&[b"CONFIG", b"SET", b"dynamic-hz", b"no"], b"+OK\r\n");
    common::eventually("hz back to 1", || info(&mut c, "hz") == "1");
    drop(many);
}

/// `oom-score-adj`: the process's /proc oom_score_adj follows
/// `oom-score-adj-values` (relative to the start value, or absolute), a
/// background save's child takes the third value, and `no` puts the
/// start value back.
#[test]
fn oom_score_adj_sets_the_process_and_child_scores() {
    let read = |pid: u32| -> i64 {
        std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let base = read(std::process::id());
    let s = common::rudis(&[
        "--oom-score-adj",
        "yes",
        "--oom-score-adj-values",
        "10",
        "20",
        "30",
    ]);
    let pid = s.child.id();
    assert_eq!(read(pid), (base + 10).clamp(-1000, 1000));
    let mut c = s.raw();
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"oom-score-adj", b"absolute"],
        b"+OK\r\n",
    );
    assert_eq!(read(pid), 10);
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"oom-score-adj-values", b"100 50 30"],
        b"+OK\r\n",
    );
    assert_eq!(read(pid), 100);
    // A slow background save: its child shows its own value meanwhile.
    for k in [b"a", b"b", b"c"] {
        c.expect_cmd(&[b"SET", k, b"v"], b"+OK\r\n");
    }
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"rdb-key-save-delay", b"200000"],
        b"+OK\r\n",
    );
    c.expect_cmd(&[b"BGSAVE"], b"+Background saving started\r\n");
    // Children are listed by the thread that forked them.
    let mut children = String::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("children");
        children += &std::fs::read_to_string(path).unwrap_or_default();
    }
    let child: u32 = children
        .split_whitespace()
        .next()
        .expect("a child")
        .parse()
        .unwrap();
    common::eventually("the child's score", || read(child) == 30);
    c.expect_cmd(&[b"CONFIG", b"SET", b"oom-score-adj", b"no"], b"+OK\r\n");
    assert_eq!(read(pid), base);
}
