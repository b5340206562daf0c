//! CLIENT and the commands that act on connections. Expected replies are
//! Redis 7.0.15's (CLIENT SETINFO and lib-name/lib-ver follow 7.2).

mod common;

use std::time::{Duration, Instant};

use common::{eventually, rudis, rudis_bin, DEADLINE};

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

#[test]
fn client_list_shows_every_field_with_real_values() {
    let s = rudis(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.cmd(&[b"CLIENT", b"SETNAME", b"alpha"]), b"+OK\r\n");
    assert_eq!(a.cmd(&[b"SELECT", b"3"]), b"+OK\r\n");
    assert_eq!(
        a.cmd(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"mylib"]),
        b"+OK\r\n"
    );
    assert_eq!(b.cmd(&[b"GET", b"x"]), b"$-1\r\n");
    let id_a = text(&a.cmd(&[b"CLIENT", b"ID"]));
    let id_a = id_a.trim_start_matches(':').trim().to_string();
    let list = text(&b.cmd(&[b"CLIENT", b"LIST"]));
    let line_a = list
        .lines()
        .find(|l| l.contains(&format!("id={id_a} ")))
        .unwrap_or_else(|| panic!("{list}"));
    for field in [
        "addr=127.0.0.1:",
        "laddr=127.0.0.1:",
        "fd=",
        "name=alpha",
        "age=",
        "idle=",
        "flags=N",
        "db=3",
        "sub=0",
        "psub=0",
        "multi=-1",
        "qbuf=",
        "obl=",
        "omem=",
        "tot-mem=",
        "cmd=client|id",
        "user=default",
        "resp=2",
        "lib-name=mylib",
        "lib-ver=",
    ] {
        assert!(line_a.contains(field), "{field} missing from {line_a}");
    }
    let info = text(&a.cmd(&[b"CLIENT", b"INFO"]));
    assert!(
        info.contains(&format!("id={id_a} ")) && info.contains("cmd=client|info"),
        "{info}"
    );
    let only = text(&b.cmd(&[b"CLIENT", b"LIST", b"ID", id_a.as_bytes()]));
    assert_eq!(only.matches("id=").count(), 1, "{only}");
    assert_eq!(
        b.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]),
        b"$0\r\n\r\n"
    );
}

#[test]
fn client_kill_closes_other_connections() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    let mut victim = s.raw();
    let id = text(&victim.cmd(&[b"CLIENT", b"ID"]));
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]),
        b":1\r\n"
    );
    assert!(victim.closed());
    // By address, old form.
    let mut victim2 = s.raw();
    // Served once, so it is surely registered.
    assert_eq!(victim2.cmd(&[b"PING"]), b"+PONG\r\n");
    let addr = victim2.reader.get_ref().local_addr().unwrap().to_string();
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"KILL", addr.as_bytes()]),
        b"+OK\r\n"
    );
    assert!(victim2.closed());
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"KILL", addr.as_bytes()]),
        b"-ERR No such client\r\n"
    );
    // SKIPME no kills the caller too, after its reply.
    let mut other = s.raw();
    assert_eq!(other.cmd(&[b"PING"]), b"+PONG\r\n");
    let reply = admin.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"normal", b"SKIPME", b"no"]);
    assert!(reply.starts_with(b":"), "{}", text(&reply));
    assert!(admin.closed());
}

#[test]
fn client_reply_off_skip_on() {
    let s = rudis(&[]);
    let mut c = s.raw();
    // Redis 7.0.15's bytes for this exchange: OFF and SKIP reply nothing,
    // SKIP swallows one reply, ON replies +OK.
    c.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\nCLIENT REPLY SKIP\r\nGET a\r\nGET a\r\n");
    c.expect(b"+OK\r\n$1\r\n1\r\n$1\r\n1\r\n");
}

#[test]
fn client_reply_on_clears_a_skip_and_skips_stack() {
    let s = rudis(&[]);
    let mut c = s.raw();
    // Redis 7.0.15: ON while skipped replies; SKIP twice skips one reply;
    // SKIP then OFF stays silent until ON.
    c.send(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n");
    c.expect(b"+OK\r\n+PONG\r\n+PONG\r\n+OK\r\n+PONG\r\n");
    assert!(c.quiet(std::time::Duration::from_millis(200)));
}

#[test]
fn client_pause_holds_writes_until_it_ends() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    let mut writer = s.raw();
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"PAUSE", b"100000", b"WRITE"]),
        b"+OK\r\n"
    );
    // Reads pass during a WRITE pause.
    assert_eq!(writer.cmd(&[b"GET", b"k"]), b"$-1\r\n");
    writer.send(b"SET k v\r\n");
    writer
        .reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 5];
    assert!(
        std::io::Read::read(&mut writer.reader, &mut buf).is_err(),
        "write ran during pause"
    );
    // Held, it counts as blocked (Redis 7.0.15: blocked_clients:1, flags=b).
    let info = String::from_utf8_lossy(&admin.cmd(&[b"INFO", b"clients"])).into_owned();
    assert!(info.contains("blocked_clients:1\r\n"), "{info}");
    let list = String::from_utf8_lossy(&admin.cmd(&[b"CLIENT", b"LIST"])).into_owned();
    assert!(list.contains(" flags=b "), "{list}");
    writer
        .reader
        .get_ref()
        .set_read_timeout(Some(DEADLINE))
        .unwrap();
    assert_eq!(admin.cmd(&[b"CLIENT", b"UNPAUSE"]), b"+OK\r\n");
    writer.expect(b"+OK\r\n");
    let info = String::from_utf8_lossy(&admin.cmd(&[b"INFO", b"clients"])).into_owned();
    assert!(info.contains("blocked_clients:0\r\n"), "{info}");
    // A pause ends by itself at its deadline.
    let start = Instant::now();
    assert_eq!(admin.cmd(&[b"CLIENT", b"PAUSE", b"300"]), b"+OK\r\n");
    assert_eq!(writer.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    assert!(start.elapsed() >= Duration::from_millis(250));
}

#[test]
fn reset_restores_the_connection_defaults() {
    let s = rudis(&["--requirepass", "pw"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"AUTH", b"pw"]), b"+OK\r\n");
    c.cmd(&[b"SELECT", b"2"]);
    c.cmd(&[b"CLIENT", b"SETNAME", b"x"]);
    c.cmd(&[b"HELLO", b"3"]);
    assert_eq!(c.cmd(&[b"RESET"]), b"+RESET\r\n");
    assert_eq!(
        c.cmd(&[b"GET", b"a"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&[b"AUTH", b"pw"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"GETNAME"]), b"$-1\r\n");
    let info = text(&c.cmd(&[b"CLIENT", b"INFO"]));
    assert!(
        info.contains(" db=0 ") && info.contains(" resp=2"),
        "{info}"
    );
}

#[test]
fn shutdown_stops_the_server_cleanly() {
    // A working directory gone: SHUTDOWN SAVE cannot save, and stays up.
    let dir = std::env::temp_dir().join(format!("rudis-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = common::Proc::spawn(
        rudis_bin(),
        &["--bind", "127.0.0.1", "--dir", dir.to_str().unwrap()],
    );
    std::fs::remove_dir(&dir).unwrap();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"SHUTDOWN", b"SAVE"]),
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    c.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(c.closed(), "no reply, the connection just ends");
    eventually("the process exits", || {
        s.child.try_wait().unwrap().is_some()
    });
    assert!(s.child.try_wait().unwrap().unwrap().success());
}

#[test]
fn monitor_streams_commands_as_redis_formats_them() {
    let s = rudis(&[]);
    let mut m = s.raw();
    assert_eq!(m.cmd(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = s.raw();
    c.cmd(&[b"SET", b"a b", b"x\"y\n\x01"]);
    c.cmd(&[b"SELECT", b"3"]);
    c.cmd(&[b"CONFIG", b"GET", b"hz"]); // admin: not shown
    c.cmd(&[b"GET"]); // rejected: not shown
    c.cmd(&[b"AUTH", b"secret"]);
    let addr = c.reader.get_ref().local_addr().unwrap();
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut m.reader, &mut line).unwrap();
        lines.push(line);
    }
    let tail: Vec<&str> = lines.iter().map(|l| l.split_once(' ').unwrap().1).collect();
    assert_eq!(
        tail[0],
        format!("[0 {addr}] \"SET\" \"a b\" \"x\\\"y\\n\\x01\"\r\n")
    );
    assert_eq!(tail[1], format!("[3 {addr}] \"SELECT\" \"3\"\r\n"));
    assert_eq!(tail[2], format!("[3 {addr}] \"AUTH\" \"(redacted)\"\r\n"));
    assert!(lines[0].starts_with('+') && lines[0].split(' ').next().unwrap().contains('.'));
}

/// A script's own line comes first, then each command it runs, from
/// "lua", for EVAL and FCALL alike.
#[test]
fn monitor_shows_scripts_before_the_commands_they_run() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[
        b"FUNCTION",
        b"LOAD",
        b"#!lua name=t\nredis.register_function('t', function() return redis.call('set', 'foo', 'baz') end)",
    ]);
    let mut m = s.raw();
    assert_eq!(m.cmd(&[b"MONITOR"]), b"+OK\r\n");
    c.cmd(&[
        b"EVAL",
        b"redis.call('set',KEYS[1],ARGV[1])",
        b"1",
        b"foo",
        b"bar",
    ]);
    c.cmd(&[b"FCALL", b"t", b"0"]);
    let addr = c.reader.get_ref().local_addr().unwrap();
    let tail: Vec<String> = (0..4)
        .map(|_| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut m.reader, &mut line).unwrap();
            line.split_once(' ').unwrap().1.to_string()
        })
        .collect();
    assert_eq!(
        tail,
        [
            format!("[0 {addr}] \"EVAL\" \"redis.call('set',KEYS[1],ARGV[1])\" \"1\" \"foo\" \"bar\"\r\n"),
            "[0 lua] \"set\" \"foo\" \"bar\"\r\n".to_string(),
            format!("[0 {addr}] \"FCALL\" \"t\" \"0\"\r\n"),
            "[0 lua] \"set\" \"foo\" \"baz\"\r\n".to_string(),
        ]
    );
}

#[test]
fn slowlog_records_slow_commands() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&[b"SLOWLOG", b"RESET"]), b"+OK\r\n");
    let long = vec![b'x'; 200];
    c.cmd(&[b"SET", b"k", &long]);
    let reply = text(&c.cmd(&[b"SLOWLOG", b"GET", b"1"]));
    // Ids keep counting across RESET, as in Redis: CONFIG SET was 0, RESET 1.
    assert!(reply.starts_with("*1\r\n*6\r\n:2\r\n:"), "{reply}");
    assert!(
        reply.contains(&format!(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$147\r\n{}... (72 more bytes)\r\n",
            "x".repeat(128)
        )),
        "{reply}"
    );
    assert_eq!(c.cmd(&[b"SLOWLOG", b"LEN"]), b":3\r\n");
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"slowlog-max-len", b"1"]),
        b"+OK\r\n"
    );
    c.cmd(&[b"PING"]);
    assert_eq!(c.cmd(&[b"SLOWLOG", b"LEN"]), b":1\r\n");
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1"]),
        b"+OK\r\n"
    );
    c.cmd(&[b"SLOWLOG", b"RESET"]);
    c.cmd(&[b"PING"]);
    assert_eq!(c.cmd(&[b"SLOWLOG", b"LEN"]), b":0\r\n");
    assert_eq!(
        c.cmd(&[b"SLOWLOG", b"GET", b"-2"]),
        b"-ERR count should be greater than or equal to -1\r\n"
    );
}

/// The command line of the newest slow log entry.
fn newest_slow(c: &mut common::Raw) -> String {
    let reply = text(&c.cmd(&[b"SLOWLOG", b"GET", b"1"]));
    // *1 *6 :id :time :micros *N, then N bulk strings.
    let t: Vec<&str> = reply.split("\r\n").collect();
    let n: usize = t
        .get(5)
        .and_then(|h| h.strip_prefix('*'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (0..n).map(|i| t[7 + 2 * i]).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_blocked_command_is_logged_once_answered() {
    let s = rudis(&[]);
    let (mut c, mut b) = (s.raw(), s.raw());
    c.cmd(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"]);
    b.send(&common::encode(&[b"BLPOP", b"l", b"0"]));
    common::wait_blocked(&mut c, 1);
    c.cmd(&[b"MULTI"]);
    c.cmd(&[b"LPUSH", b"l", b"foo"]);
    c.cmd(&[b"SLOWLOG", b"RESET"]);
    c.cmd(&[b"EXEC"]);
    b.expect(b"*2\r\n$1\r\nl\r\n$3\r\nfoo\r\n");
    // The BLPOP, answered after the RESET, is the newest entry (Redis
    // 7.0.15 logs it there too).
    eventually("BLPOP logged", || newest_slow(&mut c) == "BLPOP l 0");
    // One that times out is not logged (Redis 7.0.15 neither).
    c.cmd(&[b"SLOWLOG", b"RESET"]);
    b.expect_cmd(&[b"BRPOP", b"none", b"0.01"], b"*-1\r\n");
    assert_eq!(newest_slow(&mut c), "SLOWLOG RESET");
}

fn idle(c: &mut common::Raw, key: &[u8]) -> i64 {
    let r = text(&c.cmd(&[b"OBJECT", b"IDLETIME", key]));
    r.trim_start_matches(':')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{r}"))
}

#[test]
fn idletime_follows_accesses_and_no_touch() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"k", b"v"]);
    eventually("k idles", || idle(&mut c, b"k") >= 1);
    // TYPE, EXISTS, TTL and OBJECT look without touching, as in Redis.
    c.cmd(&[b"TYPE", b"k"]);
    c.cmd(&[b"EXISTS", b"k"]);
    c.cmd(&[b"TTL", b"k"]);
    assert!(idle(&mut c, b"k") >= 1);
    // With NO-TOUCH, reads leave the access time alone; TOUCH still sets it.
    assert_eq!(c.cmd(&[b"CLIENT", b"NO-TOUCH", b"on"]), b"+OK\r\n");
    c.cmd(&[b"GET", b"k"]);
    assert!(idle(&mut c, b"k") >= 1);
    assert!(text(&c.cmd(&[b"CLIENT", b"INFO"])).contains("flags=T"));
    assert_eq!(c.cmd(&[b"TOUCH", b"k"]), b":1\r\n");
    assert_eq!(idle(&mut c, b"k"), 0);
    assert_eq!(c.cmd(&[b"CLIENT", b"NO-TOUCH", b"off"]), b"+OK\r\n");
    eventually("k idles again", || idle(&mut c, b"k") >= 1);
    c.cmd(&[b"GET", b"k"]);
    assert_eq!(idle(&mut c, b"k"), 0);
    assert_eq!(c.cmd(&[b"OBJECT", b"IDLETIME", b"nokey"]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&[b"CLIENT", b"NO-TOUCH", b"maybe"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn client_list_idle_counts_seconds_since_the_last_command() {
    let s = rudis(&[]);
    let mut quiet = s.raw();
    assert_eq!(quiet.cmd(&[b"CLIENT", b"SETNAME", b"quiet"]), b"+OK\r\n");
    let mut watcher = s.raw();
    let idle_of_quiet = |w: &mut common::Raw| -> u64 {
        let list = text(&w.cmd(&[b"CLIENT", b"LIST"]));
        let line = list
            .lines()
            .find(|l| l.contains("name=quiet"))
            .unwrap()
            .to_string();
        let field = line
            .split(' ')
            .find_map(|f| f.strip_prefix("idle="))
            .unwrap();
        field.parse().unwrap()
    };
    eventually("idle reaches 2 seconds", || {
        idle_of_quiet(&mut watcher) >= 2
    });
    quiet.cmd(&[b"PING"]);
    assert!(idle_of_quiet(&mut watcher) <= 1);
}

#[test]
fn client_list_counts_the_running_command_in_qbuf() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    // Redis 7.0.15: the 26 bytes of `*2 $6 client $4 list` are in the
    // query buffer while it runs; the PING reply was already written.
    let list = String::from_utf8_lossy(&c.cmd(&[b"client", b"list"])).into_owned();
    assert!(list.contains(" qbuf=26 "), "{list}");
    assert!(list.contains(" obl=0 "), "{list}");
    // The whole batch is in the query buffer, and replies queued before
    // the command are counted in obl (Redis: qbuf=19 obl=7).
    c.send(b"PING\r\nCLIENT INFO\r\n");
    assert_eq!(c.reply(), b"+PONG\r\n");
    let info = String::from_utf8_lossy(&c.reply()).into_owned();
    assert!(
        info.contains(" qbuf=19 ") && info.contains(" obl=7 "),
        "{info}"
    );
}

/// `unixsocket`: clients on the Unix socket are served like TCP ones and
/// shown as Redis shows them (the path with port 0, flag U, "unix:path"
/// in MONITOR); the socket gets `unixsocketperm`'s mode and is removed at
/// shutdown; both directives are immutable.
#[test]
fn the_unix_socket_serves_clients() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("rudis-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.sock");
    let p = path.to_str().unwrap().to_string();
    let mut s = rudis(&["--unixsocket", &p, "--unixsocketperm", "700"]);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut u = BufReader::new(stream);
    let ucmd = |u: &mut BufReader<UnixStream>, args: &[&[u8]]| -> Vec<u8> {
        u.get_mut().write_all(&common::encode(args)).unwrap();
        let mut out = Vec::new();
        common::read_value(u, &mut out);
        out
    };
    assert_eq!(ucmd(&mut u, &[b"SET", b"k", b"v"]), b"+OK\r\n");
    let mut tcp = s.raw();
    tcp.expect_cmd(&[b"GET", b"k"], b"$1\r\nv\r\n");
    let info = text(&ucmd(&mut u, &[b"CLIENT", b"INFO"]));
    assert!(
        info.contains(&format!(" addr={p}:0 laddr={p}:0 ")),
        "{info}"
    );
    assert!(info.contains(" flags=U "), "{info}");
    tcp.expect_cmd(
        &[b"CONFIG", b"GET", b"unixsocketperm"],
        b"*2\r\n$14\r\nunixsocketperm\r\n$3\r\n700\r\n",
    );
    let got = text(&tcp.cmd(&[b"CONFIG", b"GET", b"unixsocket"]));
    assert!(got.ends_with(&format!("{p}\r\n")), "{got}");
    let e = text(&tcp.cmd(&[b"CONFIG", b"SET", b"unixsocketperm", b"777"]));
    assert!(e.contains("can't set immutable config"), "{e}");
    // MONITOR names the socket.
    let mut mon = s.raw();
    mon.expect_cmd(&[b"MONITOR"], b"+OK\r\n");
    assert_eq!(ucmd(&mut u, &[b"PING"]), b"+PONG\r\n");
    let line = text(&mon.reply());
    assert!(line.contains(&format!("[0 unix:{p}] \"PING\"")), "{line}");
    // CLIENT KILL by that address.
    let kill = format!("{p}:0");
    tcp.expect_cmd(&[b"CLIENT", b"KILL", b"ADDR", kill.as_bytes()], b":1\r\n");
    let mut rest = Vec::new();
    assert_eq!(u.read_until(b'\n', &mut rest).unwrap_or(0), 0, "closed");
    // A second connection through the redis crate.
    let mut c = redis::Client::open(format!("redis+unix://{p}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.write_all(b"SHUTDOWN NOSAVE\r\n").unwrap();
    let mut rest = String::new();
    let _ = BufReader::new(raw).read_line(&mut rest);
    eventually("the server to exit", || {
        s.child.try_wait().unwrap().is_some()
    });
    assert!(!path.exists(), "the socket file is removed at shutdown");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Unix socket that cannot be made stops the start (exit 1), as Redis.
#[test]
fn an_unusable_unix_socket_stops_the_start() {
    let out = std::process::Command::new(rudis_bin())
        .args(["--port", "0", "--unixsocket", "/nonexistent-dir/r.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("Failed opening Unix socket"), "{log}");
}
