//! RDB snapshots: SAVE, loading at start, DEBUG RELOAD, SHUTDOWN SAVE,
//! the directives around them, and files exchanged with Redis 7.0.15
//! itself (when `redis-server` is on PATH). Expected texts are Redis's.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{eventually, rudis, Proc};
use redis::Value as V;

/// A fresh directory for one test's files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rudis-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn server_in(d: &std::path::Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--dir",
        d.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    rudis(&args)
}

fn cmd(c: &mut redis::Connection, args: &[&str]) -> V {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    match k.query::<V>(c) {
        Ok(v) => panic!("{args:?} gave {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

/// Keys of every type, in several databases, with a TTL and a library.
fn fill(c: &mut redis::Connection) {
    let big = "x".repeat(300);
    for args in [
        &["SET", "n", "12345"][..],
        &["SET", "big", &big],
        &["SET", "ttl", "v", "EX", "1000"],
        &["RPUSH", "list", "a", "b", "c"],
        &["HSET", "hash", "f", "v", "g", "w"],
        &["SADD", "ints", "1", "2", "3"],
        &["SADD", "set", "a", "b"],
        &["ZADD", "zset", "1.5", "a", "-inf", "b"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["PFADD", "hll", "a", "b", "c"],
        &["SELECT", "3"],
        &["SET", "other", "db3"],
        &["SELECT", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f1', function() return 7 end)",
        ],
    ] {
        cmd(c, args);
    }
    let mut p = redis::pipe();
    for i in 0..300 {
        p.cmd("ZADD")
            .arg("bigz")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
        p.cmd("HSET")
            .arg("bigh")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    p.query::<()>(c).unwrap();
}

#[test]
fn save_and_load_at_start_keep_the_dataset() {
    let d = dir("restart");
    let want;
    {
        let s = server_in(&d, &[]);
        let mut c = s.client();
        fill(&mut c);
        want = digest(&mut c);
        let before: i64 = cmd_int(&mut c, &["LASTSAVE"]);
        assert!(info_field(&mut c, "rdb_changes_since_last_save") > 0);
        assert_eq!(cmd(&mut c, &["SAVE"]), V::Okay);
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 0);
        assert_eq!(info_field(&mut c, "rdb_saves"), 1);
        assert!(cmd_int(&mut c, &["LASTSAVE"]) >= before);
        assert!(d.join("dump.rdb").exists());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dump.rdb"]);
    }
    let s = server_in(&d, &[]);
    let mut c = s.client();
    assert_eq!(digest(&mut c), want);
    let ttl = cmd_int(&mut c, &["TTL", "ttl"]);
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(cmd_int(&mut c, &["FCALL", "f1", "0"]), 7);
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), 13);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 0);
    let _ = std::fs::remove_dir_all(&d);
}

fn cmd_int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    match cmd(c, args) {
        V::Int(n) => n,
        v => panic!("{args:?} gave {v:?}"),
    }
}

fn info_field(c: &mut redis::Connection, name: &str) -> i64 {
    info_text(c, name).parse().unwrap()
}

#[test]
fn debug_reload_and_its_options() {
    let d = dir("reload");
    let s = server_in(&d, &[]);
    let mut c = s.client();
    fill(&mut c);
    let want = digest(&mut c);
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), V::Okay);
    assert_eq!(digest(&mut c), want);
    assert_eq!(cmd_int(&mut c, &["FCALL", "f1", "0"]), 7);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 0);
    // NOSAVE loads the file as it is: a later change is gone.
    cmd(&mut c, &["SET", "later", "1"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]), V::Okay);
    assert_eq!(cmd(&mut c, &["EXISTS", "later"]), V::Int(0));
    // NOFLUSH MERGE keeps what is not in the file, the file wins the rest.
    cmd(&mut c, &["SET", "later", "1"]);
    cmd(&mut c, &["SET", "n", "changed"]);
    assert_eq!(
        cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]),
        V::Okay
    );
    assert_eq!(cmd(&mut c, &["GET", "later"]), V::BulkString(b"1".to_vec()));
    assert_eq!(cmd(&mut c, &["GET", "n"]), V::BulkString(b"12345".to_vec()));
    // NOFLUSH alone refuses a key that is there already (Redis exits:
    // see tests/differential/ACCEPTED.md).
    if std::env::var_os("RUDIS_TEST_REFERENCE").is_none() {
        assert_eq!(
            err(&mut c, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"]),
            "An error was signalled by the server - ResponseError: Error trying to load the RDB dump"
        );
    }
    let e = err(&mut c, &["DEBUG", "RELOAD", "FAST"]);
    assert!(
        e.ends_with("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."),
        "{e}"
    );
    // key-load-delay slows each key's load (a lower bound only: sleeping
    // is never faster).
    cmd(&mut c, &["FLUSHALL"]);
    for i in 0..10 {
        cmd(&mut c, &["SET", &format!("d{i}"), "v"]);
    }
    cmd(&mut c, &["CONFIG", "SET", "key-load-delay", "50000"]);
    let start = std::time::Instant::now();
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), V::Okay);
    assert!(start.elapsed() >= std::time::Duration::from_millis(450));
    cmd(&mut c, &["CONFIG", "SET", "key-load-delay", "0"]);
    // Without a file there is nothing to load.
    std::fs::remove_file(d.join("dump.rdb")).unwrap();
    let e = err(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert!(e.ends_with("Error trying to load the RDB dump"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn expired_keys_are_not_loaded() {
    let d = dir("expired");
    let s = server_in(&d, &[]);
    let mut c = s.client();
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(&mut c, &["SET", "soon", "v", "PX", "100"]);
    cmd(&mut c, &["SET", "stays", "v"]);
    // Saved while logically expired: the file still has it, as Redis's.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(cmd(&mut c, &["DEBUG", "RELOAD"]), V::Okay);
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_expired"), 1);
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), 1);
    assert_eq!(cmd(&mut c, &["DBSIZE"]), V::Int(1));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_directives() {
    let d = dir("directives");
    let s = server_in(&d, &["--dbfilename", "first.rdb", "--rdbcompression", "no"]);
    let mut c = s.client();
    // Protected, as in Redis 7.0, unless enable-protected-configs says.
    for k in ["dir", "dbfilename"] {
        let e = err(&mut c, &["CONFIG", "SET", k, "x"]);
        assert!(e.ends_with(&format!("CONFIG SET failed (possibly related to argument '{k}') - can't set protected config")), "{e}");
    }
    drop(c);
    drop(s);
    let s = server_in(
        &d,
        &[
            "--dbfilename",
            "first.rdb",
            "--rdbcompression",
            "no",
            "--enable-protected-configs",
            "local",
        ],
    );
    let mut c = s.client();
    let get = |c: &mut redis::Connection, k: &str| -> Vec<String> {
        redis::cmd("CONFIG").arg("GET").arg(k).query(c).unwrap()
    };
    let real = std::fs::canonicalize(&d).unwrap();
    assert_eq!(get(&mut c, "dir"), ["dir", real.to_str().unwrap()]);
    assert_eq!(get(&mut c, "dbfilename"), ["dbfilename", "first.rdb"]);
    assert_eq!(get(&mut c, "rdbchecksum"), ["rdbchecksum", "yes"]);
    assert_eq!(get(&mut c, "rdbcompression"), ["rdbcompression", "no"]);
    // Test knobs show only by name, as Redis's hidden directives.
    assert_eq!(get(&mut c, "key-load-delay"), ["key-load-delay", "0"]);
    assert_eq!(
        get(&mut c, "rdb-key-save-delay"),
        ["rdb-key-save-delay", "0"]
    );
    let all = get(&mut c, "*");
    assert!(
        !all.iter()
            .any(|n| n.ends_with("-delay") && n.contains("key")),
        "{all:?}"
    );
    assert!(all.iter().any(|n| n == "dbfilename"));
    let e = err(&mut c, &["CONFIG", "SET", "dbfilename", "a/b.rdb"]);
    assert!(e.ends_with("CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename"), "{e}");
    let e = err(&mut c, &["CONFIG", "SET", "dir", "/nonexistent/dir"]);
    assert!(
        e.ends_with(
            "CONFIG SET failed (possibly related to argument 'dir') - No such file or directory"
        ),
        "{e}"
    );
    let e = err(&mut c, &["CONFIG", "SET", "rdbchecksum", "no"]);
    assert!(e.contains("can't set immutable config"), "{e}");
    // Without compression a long string is stored as it is.
    let long = "abc".repeat(100);
    cmd(&mut c, &["SET", "k", &long]);
    cmd(&mut c, &["SAVE"]);
    let data = std::fs::read(d.join("first.rdb")).unwrap();
    assert!(data.windows(long.len()).any(|w| w == long.as_bytes()));
    let sub = d.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    cmd(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "dir",
            sub.to_str().unwrap(),
            "dbfilename",
            "second.rdb",
            "rdbcompression",
            "yes",
        ],
    );
    cmd(&mut c, &["SAVE"]);
    let data = std::fs::read(sub.join("second.rdb")).unwrap();
    assert!(!data.windows(long.len()).any(|w| w == long.as_bytes()));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn shutdown_save_writes_the_file() {
    let d = dir("shutdown");
    let s = server_in(&d, &[]);
    let mut c = s.client();
    cmd(&mut c, &["SET", "k", "v"]);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<V>(&mut c);
    eventually("the file", || d.join("dump.rdb").exists());
    drop(s);
    let s = server_in(&d, &[]);
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["GET", "k"]), V::BulkString(b"v".to_vec()));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_bad_file_stops_the_start() {
    let d = dir("bad");
    let s = server_in(&d, &[]);
    let mut c = s.client();
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["SAVE"]);
    drop(s);
    let path = d.join("dump.rdb");
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let out = Command::new(common::rudis_bin())
        .args([
            "--port",
            &common::free_port().to_string(),
            "--dir",
            d.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Wrong RDB checksum"), "{log}");
    // With rdbchecksum no it loads.
    let s = server_in(&d, &["--rdbchecksum", "no"]);
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["GET", "k"]), V::BulkString(b"v".to_vec()));
    let _ = std::fs::remove_dir_all(&d);
}

fn have_redis() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Files go both ways between rudis and Redis 7.0.15, with the same
/// DEBUG DIGEST on both sides.
#[test]
fn files_are_exchanged_with_redis() {
    if !have_redis() {
        eprintln!("redis-server not on PATH: skipped");
        return;
    }
    let d = dir("redis");
    let want;
    {
        let s = server_in(&d, &[]);
        let mut c = s.client();
        fill(&mut c);
        want = digest(&mut c);
        cmd(&mut c, &["SAVE"]);
    }
    let r = Proc::spawn(
        "redis-server",
        &[
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "no",
            "--save",
            "",
            "--enable-debug-command",
            "yes",
            "--dir",
            d.to_str().unwrap(),
        ],
    );
    let mut c = r.client();
    assert_eq!(digest(&mut c), want);
    assert_eq!(cmd_int(&mut c, &["FCALL", "f1", "0"]), 7);
    cmd(&mut c, &["SET", "from-redis", "1"]);
    cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    cmd(&mut c, &["SAVE"]);
    let want = digest(&mut c);
    drop(r);
    let s = server_in(&d, &["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.client();
    assert_eq!(digest(&mut c), want);
    assert_eq!(
        cmd(&mut c, &["GET", "from-redis"]),
        V::BulkString(b"1".to_vec())
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn status(c: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(c, args) {
        V::SimpleString(s) => s,
        V::Okay => "OK".into(),
        v => panic!("{args:?} gave {v:?}"),
    }
}

fn info_text(c: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .to_string()
}

fn bgsave_done(c: &mut redis::Connection) {
    eventually("the background save ends", || {
        info_field(c, "rdb_bgsave_in_progress") == 0
    });
}

#[test]
fn bgsave_writes_the_dataset_of_its_start_from_a_child() {
    let d = dir("bgsave");
    let s = server_in(&d, &[]);
    let mut c = s.client();
    fill(&mut c);
    let want = digest(&mut c);
    // Slow enough to be seen running: 13 keys, 30 ms each.
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "30000"]);
    assert_eq!(status(&mut c, &["BGSAVE"]), "Background saving started");
    let busy =
        "An error was signalled by the server - ResponseError: Background save already in progress";
    assert_eq!(err(&mut c, &["BGSAVE"]), busy);
    assert_eq!(err(&mut c, &["SAVE"]), busy);
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), 1);
    // The server goes on meanwhile; what changes now is not in the file.
    cmd(&mut c, &["SET", "after", "1"]);
    bgsave_done(&mut c);
    assert_eq!(info_text(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 1);
    assert_eq!(info_field(&mut c, "rdb_saves"), 1);
    assert!(info_field(&mut c, "rdb_last_bgsave_time_sec") >= 0);
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["dump.rdb"]);
    cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert_eq!(digest(&mut c), want);
    assert_eq!(cmd(&mut c, &["EXISTS", "after"]), V::Int(0));
    let e = err(&mut c, &["BGSAVE", "NOW"]);
    assert!(e.ends_with("syntax error"), "{e}");
    // In a transaction it waits for the cron.
    cmd(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    let mut p = redis::pipe();
    p.atomic().cmd("SET").arg("in-multi").arg("1").cmd("BGSAVE");
    let replies: Vec<V> = p.query(&mut c).unwrap();
    assert_eq!(
        replies[1],
        V::SimpleString("Background saving scheduled".into())
    );
    eventually("the scheduled save", || {
        info_field(&mut c, "rdb_saves") == 2
    });
    bgsave_done(&mut c);
    assert_eq!(
        status(&mut c, &["BGSAVE", "SCHEDULE"]),
        "Background saving started"
    );
    bgsave_done(&mut c);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn save_points_start_background_saves() {
    let d = dir("points");
    let s = server_in(&d, &["--save", "1", "1", "--save", "3600 5"]);
    let mut c = s.client();
    let get = |c: &mut redis::Connection| -> Vec<String> {
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query(c)
            .unwrap()
    };
    assert_eq!(get(&mut c), ["save", "1 1 3600 5"]);
    cmd(&mut c, &["SET", "k", "v"]);
    // One change older than a second.
    eventually("a save point's save", || {
        info_field(&mut c, "rdb_changes_since_last_save") == 0
    });
    assert_eq!(info_field(&mut c, "rdb_saves"), 1);
    for bad in [
        "1",
        "0 1",
        "1 -1",
        "x 1",
        "1 1 2",
        "100 2  200 3",
        " 100 2",
        "100   2",
    ] {
        let e = err(&mut c, &["CONFIG", "SET", "save", bad]);
        assert!(
            e.ends_with(
                "CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
            ),
            "{bad}: {e}"
        );
    }
    cmd(&mut c, &["CONFIG", "SET", "save", "100 2 200 3"]);
    assert_eq!(get(&mut c), ["save", "100 2 200 3"]);
    cmd(&mut c, &["CONFIG", "SET", "save", ""]);
    assert_eq!(get(&mut c), ["save", ""]);
    drop(c);
    drop(s);
    // Without a save directive: Redis's defaults.
    let s = Proc::spawn(common::rudis_bin(), &["--bind", "127.0.0.1"]);
    let mut c = s.client();
    assert_eq!(get(&mut c), ["save", "3600 1 300 100 60 10000"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_failed_background_save_stops_writes() {
    let d = dir("misconf");
    let s = server_in(&d, &["--save", "3600 1"]);
    // The working directory disappears: no file can be made there.
    std::fs::remove_dir_all(&d).unwrap();
    let mut c = s.client();
    cmd(&mut c, &["SET", "k", "v"]);
    assert_eq!(status(&mut c, &["BGSAVE"]), "Background saving started");
    bgsave_done(&mut c);
    assert_eq!(info_text(&mut c, "rdb_last_bgsave_status"), "err");
    let misconf = "MISCONF: Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
    let e = err(&mut c, &["SET", "k", "w"]);
    assert!(e.contains("unable to persist to disk"), "{e}");
    let mut raw = s.raw();
    raw.expect_cmd(
        &[b"PING"],
        format!("-{}\r\n", misconf.replacen(": ", " ", 1)).as_bytes(),
    );
    raw.expect_cmd(&[b"GET", b"k"], b"$1\r\nv\r\n");
    cmd(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    cmd(&mut c, &["SET", "k", "w"]);
    cmd(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    );
    // Without save points nothing is refused either.
    cmd(&mut c, &["CONFIG", "SET", "save", ""]);
    cmd(&mut c, &["SET", "k", "x"]);
}

fn sigterm(s: &Proc) {
    Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn sigterm_saves_with_save_points_and_stays_up_when_it_cannot() {
    let d = dir("sigterm");
    let mut s = server_in(&d, &["--save", "3600 1"]);
    let mut c = s.client();
    cmd(&mut c, &["SET", "k", "v"]);
    sigterm(&s);
    eventually("the process exits", || {
        s.child.try_wait().unwrap().is_some()
    });
    drop(s);
    let s = server_in(&d, &["--save", "3600 1"]);
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["GET", "k"]), V::BulkString(b"v".to_vec()));
    std::fs::remove_dir_all(&d).unwrap();
    sigterm(&s);
    // The save fails: the server keeps serving, as Redis.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["PING"]), V::SimpleString("PONG".into()));
}

fn signal(s: &Proc, sig: &str) {
    Command::new("kill")
        .args([sig, &s.child.id().to_string()])
        .status()
        .unwrap();
}

/// `shutdown-on-sigterm` / `-sigint` give the signals SHUTDOWN's flags:
/// SAVE saves without save points, NOSAVE does not with them, FORCE
/// exits even when the save fails (CONFIG GET shows Redis's words).
#[test]
fn shutdown_on_signal_flags_decide_the_save() {
    let d = dir("sigflags");
    let mut s = server_in(&d, &["--save", "", "--shutdown-on-sigterm", "save", "now"]);
    let mut c = s.client();
    assert_eq!(
        cmd(&mut c, &["CONFIG", "GET", "shutdown-on-sigterm"]),
        V::Array(vec![
            V::BulkString(b"shutdown-on-sigterm".to_vec()),
            V::BulkString(b"save now".to_vec())
        ])
    );
    cmd(&mut c, &["SET", "k", "v"]);
    signal(&s, "-TERM");
    eventually("the process exits", || {
        s.child.try_wait().unwrap().is_some()
    });
    drop(s);
    let mut s = server_in(&d, &["--save", "3600 1", "--shutdown-on-sigint", "nosave"]);
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["GET", "k"]), V::BulkString(b"v".to_vec()));
    cmd(&mut c, &["SET", "k", "changed"]);
    signal(&s, "-INT");
    eventually("the process exits", || {
        s.child.try_wait().unwrap().is_some()
    });
    drop(s);
    let mut s = server_in(&d, &["--save", "3600 1"]);
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["GET", "k"]), V::BulkString(b"v".to_vec()));
    // The save cannot be written: FORCE exits anyway.
    cmd(&mut c, &["CONFIG", "SET", "shutdown-on-sigterm", "force"]);
    std::fs::remove_dir_all(&d).unwrap();
    signal(&s, "-TERM");
    eventually("the process exits", || {
        s.child.try_wait().unwrap().is_some()
    });
}

#[test]
fn flushall_with_save_points_saves_the_empty_dataset() {
    let d = dir("flushall");
    let s = server_in(&d, &["--save", "3600 1"]);
    let mut c = s.client();
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["SAVE"]);
    cmd(&mut c, &["SET", "k2", "v"]);
    cmd(&mut c, &["FLUSHALL"]);
    // Saved: nothing changed since; only SAVE and BGSAVE count as saves.
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 0);
    assert_eq!(info_field(&mut c, "rdb_saves"), 1);
    cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert_eq!(cmd(&mut c, &["DBSIZE"]), V::Int(0));
    let _ = std::fs::remove_dir_all(&d);
}
