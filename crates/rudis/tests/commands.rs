//! The issue-#2 command set through a real client library. Expected
//! values are Redis 7.0.15's replies to the same commands.

mod common;

use std::collections::HashSet;

use common::{eventually, rudis};
use redis::{cmd, Connection, RedisResult, Value};

fn q(c: &mut Connection, args: &[&str]) -> RedisResult<Value> {
    let mut command = cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c)
}

fn ok(c: &mut Connection, args: &[&str]) -> Value {
    q(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn int(c: &mut Connection, args: &[&str]) -> i64 {
    match ok(c, args) {
        Value::Int(i) => i,
        v => panic!("{args:?}: expected an integer, got {v:?}"),
    }
}

fn err(c: &mut Connection, args: &[&str]) -> String {
    match q(c, args) {
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let detail = e.detail().unwrap_or("").to_string();
            format!("{code} {detail}").trim().to_string()
        }
        Ok(v) => panic!("{args:?}: expected an error, got {v:?}"),
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn set_options() {
    let s = rudis(&[]);
    let c = &mut s.client();
    assert_eq!(ok(c, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(ok(c, &["SET", "k", "w", "NX"]), Value::Nil);
    assert_eq!(ok(c, &["SET", "k", "w", "XX", "GET"]), bulk("v"));
    assert_eq!(ok(c, &["SET", "new", "x", "XX"]), Value::Nil);
    assert_eq!(ok(c, &["SET", "new", "x", "NX", "GET"]), Value::Nil);
    assert_eq!(ok(c, &["GET", "new"]), bulk("x"));
    assert_eq!(ok(c, &["SET", "k", "v", "EX", "100"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "k"]), 100);
    assert_eq!(ok(c, &["SET", "k", "v2", "KEEPTTL"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "k"]), 100);
    assert_eq!(ok(c, &["SET", "k", "v3"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "k"]), -1);
    assert_eq!(ok(c, &["SET", "k", "v", "PX", "100000"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "k"]), 100);
    let at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1000)
        .to_string();
    assert_eq!(ok(c, &["SET", "k", "v", "EXAT", &at]), Value::Okay);
    assert_eq!(int(c, &["EXPIRETIME", "k"]).to_string(), at);
    assert_eq!(
        ok(c, &["SET", "k", "v", "EX", "10", "EX", "20"]),
        Value::Okay
    );
    assert_eq!(int(c, &["TTL", "k"]), 20);
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "10"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
    ] {
        assert_eq!(err(c, bad), "ERR syntax error", "{bad:?}");
    }
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &["SET", "k", "v", "PX", "-1"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "9223372036854775"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &["SET", "k", "v", "EX", "ten"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn px_expiry_is_millisecond_precise() {
    let s = rudis(&[]);
    let c = &mut s.client();
    assert_eq!(ok(c, &["SET", "foo", "bar", "PX", "100"]), Value::Okay);
    assert_eq!(ok(c, &["GET", "foo"]), bulk("bar"));
    eventually("foo expires", || ok(c, &["GET", "foo"]) == Value::Nil);
    assert_eq!(int(c, &["EXISTS", "foo"]), 0);
}

#[test]
fn string_commands() {
    let s = rudis(&[]);
    let c = &mut s.client();
    assert_eq!(ok(c, &["MSET", "a", "1", "b", "2"]), Value::Okay);
    assert_eq!(
        ok(c, &["MGET", "a", "nope", "b"]),
        Value::Array(vec![bulk("1"), Value::Nil, bulk("2")])
    );
    assert_eq!(int(c, &["MSETNX", "a", "9", "c", "3"]), 0);
    assert_eq!(int(c, &["MSETNX", "c", "3", "d", "4"]), 1);
    assert_eq!(
        err(c, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(int(c, &["SETNX", "a", "x"]), 0);
    assert_eq!(ok(c, &["SETEX", "e", "100", "v"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "e"]), 100);
    assert_eq!(ok(c, &["PSETEX", "e", "100000", "v"]), Value::Okay);
    assert_eq!(int(c, &["TTL", "e"]), 100);
    assert_eq!(
        err(c, &["SETEX", "e", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(ok(c, &["GETSET", "a", "new"]), bulk("1"));
    assert_eq!(ok(c, &["GETSET", "fresh", "v"]), Value::Nil);
    assert_eq!(ok(c, &["GETDEL", "a"]), bulk("new"));
    assert_eq!(ok(c, &["GETDEL", "a"]), Value::Nil);
    assert_eq!(ok(c, &["GETEX", "e", "PERSIST"]), bulk("v"));
    assert_eq!(int(c, &["TTL", "e"]), -1);
    assert_eq!(ok(c, &["GETEX", "e", "EX", "50"]), bulk("v"));
    assert_eq!(int(c, &["TTL", "e"]), 50);
    assert_eq!(ok(c, &["GETEX", "nope", "EX", "0"]), Value::Nil);
    assert_eq!(
        err(c, &["GETEX", "e", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(err(c, &["GETEX", "e", "KEEPTTL"]), "ERR syntax error");
    assert_eq!(int(c, &["APPEND", "s", "hello"]), 5);
    assert_eq!(int(c, &["APPEND", "s", " world"]), 11);
    assert_eq!(ok(c, &["GET", "s"]), bulk("hello world"));
    assert_eq!(int(c, &["STRLEN", "s"]), 11);
    assert_eq!(int(c, &["STRLEN", "nope"]), 0);
}

#[test]
fn integer_commands_are_exact_at_the_limits() {
    let s = rudis(&[]);
    let c = &mut s.client();
    assert_eq!(int(c, &["INCR", "n"]), 1);
    assert_eq!(int(c, &["INCRBY", "n", "41"]), 42);
    assert_eq!(int(c, &["DECR", "n"]), 41);
    assert_eq!(int(c, &["DECRBY", "n", "50"]), -9);
    ok(c, &["SET", "max", "9223372036854775807"]);
    assert_eq!(
        err(c, &["INCR", "max"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(int(c, &["DECR", "max"]), 9223372036854775806);
    ok(c, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(
        err(c, &["DECR", "min"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(c, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    assert_eq!(
        err(c, &["INCRBY", "n", "-9223372036854775808"]),
        "ERR increment or decrement would overflow"
    );
    for v in [
        "abc",
        " 1",
        "1 ",
        "01",
        "+1",
        "1.5",
        "",
        "99999999999999999999",
    ] {
        ok(c, &["SET", "x", v]);
        assert_eq!(
            err(c, &["INCR", "x"]),
            "ERR value is not an integer or out of range",
            "{v:?}"
        );
    }
    assert_eq!(
        err(c, &["INCRBY", "n", "1x"]),
        "ERR value is not an integer or out of range"
    );
    // INCR keeps the TTL.
    ok(c, &["SET", "t", "1", "EX", "100"]);
    int(c, &["INCR", "t"]);
    assert_eq!(int(c, &["TTL", "t"]), 100);
}

#[test]
fn generic_key_commands() {
    let s = rudis(&[]);
    let c = &mut s.client();
    ok(c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(int(c, &["EXISTS", "a", "a", "nope"]), 2);
    assert_eq!(int(c, &["TOUCH", "a", "b", "nope"]), 2);
    assert_eq!(int(c, &["DEL", "a", "nope"]), 1);
    assert_eq!(int(c, &["UNLINK", "b", "b"]), 1);
    assert_eq!(ok(c, &["TYPE", "c"]), Value::SimpleString("string".into()));
    assert_eq!(ok(c, &["TYPE", "a"]), Value::SimpleString("none".into()));
    assert_eq!(int(c, &["DBSIZE"]), 1);

    // RENAME keeps the TTL and replaces the target.
    ok(c, &["SET", "src", "v", "EX", "100"]);
    ok(c, &["SET", "dst", "old"]);
    assert_eq!(ok(c, &["RENAME", "src", "dst"]), Value::Okay);
    assert_eq!(ok(c, &["GET", "dst"]), bulk("v"));
    assert_eq!(int(c, &["TTL", "dst"]), 100);
    assert_eq!(err(c, &["RENAME", "src", "x"]), "ERR no such key");
    assert_eq!(ok(c, &["RENAME", "dst", "dst"]), Value::Okay);
    ok(c, &["SET", "other", "o"]);
    assert_eq!(int(c, &["RENAMENX", "dst", "other"]), 0);
    assert_eq!(int(c, &["RENAMENX", "dst", "free"]), 1);

    // COPY and MOVE across databases.
    assert_eq!(int(c, &["COPY", "free", "copy"]), 1);
    assert_eq!(int(c, &["COPY", "free", "copy"]), 0);
    assert_eq!(int(c, &["COPY", "free", "copy", "REPLACE"]), 1);
    assert_eq!(
        err(c, &["COPY", "free", "free"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(int(c, &["COPY", "free", "free", "DB", "3"]), 1);
    assert_eq!(
        err(c, &["COPY", "free", "x", "DB", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(int(c, &["MOVE", "copy", "3"]), 1);
    assert_eq!(int(c, &["MOVE", "copy", "3"]), 0);
    assert_eq!(
        err(c, &["MOVE", "free", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(ok(c, &["SELECT", "3"]), Value::Okay);
    assert_eq!(ok(c, &["GET", "copy"]), bulk("v"));
    assert_eq!(int(c, &["TTL", "free"]), 100);
    assert_eq!(err(c, &["SELECT", "16"]), "ERR DB index is out of range");
    assert_eq!(
        err(c, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );

    // SWAPDB swaps whole databases.
    assert_eq!(ok(c, &["SWAPDB", "3", "0"]), Value::Okay);
    assert_eq!(ok(c, &["GET", "copy"]), Value::Nil);
    ok(c, &["SELECT", "0"]);
    assert_eq!(ok(c, &["GET", "copy"]), bulk("v"));
    assert_eq!(err(c, &["SWAPDB", "x", "0"]), "ERR invalid first DB index");
    assert_eq!(err(c, &["SWAPDB", "0", "x"]), "ERR invalid second DB index");

    assert_eq!(ok(c, &["FLUSHDB"]), Value::Okay);
    assert_eq!(int(c, &["DBSIZE"]), 0);
    ok(c, &["SELECT", "3"]);
    assert!(int(c, &["DBSIZE"]) > 0);
    assert_eq!(ok(c, &["FLUSHALL", "ASYNC"]), Value::Okay);
    assert_eq!(int(c, &["DBSIZE"]), 0);
    assert_eq!(err(c, &["FLUSHALL", "LATER"]), "ERR syntax error");
    assert_eq!(ok(c, &["RANDOMKEY"]), Value::Nil);
    ok(c, &["SET", "only", "1"]);
    assert_eq!(ok(c, &["RANDOMKEY"]), bulk("only"));
}

#[test]
fn expire_family_and_flags() {
    let s = rudis(&[]);
    let c = &mut s.client();
    ok(c, &["SET", "k", "v"]);
    assert_eq!(int(c, &["TTL", "k"]), -1);
    assert_eq!(int(c, &["TTL", "nope"]), -2);
    assert_eq!(int(c, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(int(c, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(int(c, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(int(c, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(int(c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(int(c, &["EXPIRE", "k", "200", "GT"]), 1);
    assert_eq!(int(c, &["EXPIRE", "k", "300", "LT"]), 0);
    assert_eq!(int(c, &["PEXPIRE", "k", "150000", "LT"]), 1);
    assert_eq!(int(c, &["TTL", "k"]), 150);
    let pttl = int(c, &["PTTL", "k"]);
    assert!(pttl > 140_000 && pttl <= 150_000, "{pttl}");
    let at = int(c, &["PEXPIRETIME", "k"]);
    assert_eq!(int(c, &["EXPIRETIME", "k"]), (at + 500) / 1000);
    assert_eq!(
        int(c, &["EXPIREAT", "k", &((at / 1000) + 10).to_string()]),
        1
    );
    assert_eq!(int(c, &["PEXPIREAT", "k", &(at + 5000).to_string()]), 1);
    assert_eq!(int(c, &["PEXPIRETIME", "k"]), at + 5000);
    assert_eq!(int(c, &["PERSIST", "k"]), 1);
    assert_eq!(int(c, &["PERSIST", "k"]), 0);
    assert_eq!(int(c, &["EXPIRETIME", "k"]), -1);
    assert_eq!(int(c, &["EXPIRETIME", "nope"]), -2);
    assert_eq!(
        err(c, &["EXPIRE", "k", "1", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "1", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "1", "SOON"]),
        "ERR Unsupported option SOON"
    );
    assert_eq!(
        err(c, &["EXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    // A time in the past deletes the key at once.
    assert_eq!(int(c, &["EXPIRE", "k", "-1"]), 1);
    assert_eq!(int(c, &["EXISTS", "k"]), 0);
    assert_eq!(int(c, &["EXPIRE", "k", "10"]), 0);
}

#[test]
fn keys_glob_patterns() {
    let s = rudis(&[]);
    let c = &mut s.client();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other",
    ] {
        ok(c, &["SET", k, "1"]);
    }
    let keys = |c: &mut Connection, p: &str| -> HashSet<String> {
        redis::cmd("KEYS").arg(p).query(c).unwrap()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(keys(c, "h?llo"), set(&["hello", "hallo", "hxllo", "h*llo"]));
    assert_eq!(
        keys(c, "h*llo"),
        set(&["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"])
    );
    assert_eq!(keys(c, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys(c, "h[^e]llo"), set(&["hallo", "hxllo", "h*llo"]));
    assert_eq!(keys(c, "h[a-b]llo"), set(&["hallo"]));
    assert_eq!(keys(c, "h\\*llo"), set(&["h*llo"]));
    assert_eq!(keys(c, "*").len(), 7);
    ok(c, &["SET", "gone", "1", "PX", "1"]);
    eventually("expired key hidden from KEYS", || {
        !keys(c, "*").contains("gone")
    });
}

#[test]
fn scan_returns_every_key_once_the_iteration_ends() {
    let s = rudis(&[]);
    let c = &mut s.client();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.cmd("SET").arg("odd").arg("x").ignore();
    pipe.query::<()>(c).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("MATCH")
            .arg("key:*")
            .arg("COUNT")
            .arg(100)
            .query(c)
            .unwrap();
        // Delete keys while scanning: the survivors must still be seen.
        if calls == 3 {
            for i in 4000..4500 {
                int(c, &["DEL", &format!("key:{i}")]);
            }
        }
        seen.extend(keys);
        calls += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in (0..4000).chain(4500..5000) {
        assert!(seen.contains(&format!("key:{i}")), "key:{i} missing");
    }
    assert!(!seen.contains("odd"));
    assert!(calls > 10, "COUNT should bound the work per call ({calls})");
    let (_, typed): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("list")
        .arg("COUNT")
        .arg(100000)
        .query(c)
        .unwrap();
    assert!(typed.is_empty());
    assert_eq!(err(c, &["SCAN", "x"]), "ERR invalid cursor");
    assert_eq!(err(c, &["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(err(c, &["SCAN", "0", "FOO", "1"]), "ERR syntax error");
}

#[test]
fn ranges_of_strings() {
    let s = rudis(&[]);
    let c = &mut s.client();
    ok(c, &["SET", "s", "Hello World"]);
    assert_eq!(ok(c, &["GETRANGE", "s", "0", "4"]), bulk("Hello"));
    assert_eq!(ok(c, &["GETRANGE", "s", "-5", "-1"]), bulk("World"));
    assert_eq!(ok(c, &["GETRANGE", "s", "5", "3"]), bulk(""));
    assert_eq!(ok(c, &["SUBSTR", "s", "-100", "2"]), bulk("Hel"));
    assert_eq!(ok(c, &["GETRANGE", "nokey", "0", "1"]), bulk(""));
    assert_eq!(int(c, &["SETRANGE", "s", "6", "Redis"]), 11);
    assert_eq!(ok(c, &["GET", "s"]), bulk("Hello Redis"));
    assert_eq!(int(c, &["SETRANGE", "z", "3", "ab"]), 5);
    assert_eq!(
        ok(c, &["GET", "z"]),
        Value::BulkString(b"\0\0\0ab".to_vec())
    );
    assert_eq!(int(c, &["SETRANGE", "none", "3", ""]), 0);
    assert_eq!(int(c, &["EXISTS", "none"]), 0);
    assert_eq!(
        err(c, &["SETRANGE", "s", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        err(c, &["SETRANGE", "s", "536870912", "x"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    ok(c, &["SET", "n", "12345"]);
    assert_eq!(int(c, &["SETRANGE", "n", "0", "9"]), 5);
    assert_eq!(ok(c, &["OBJECT", "ENCODING", "n"]), bulk("raw"));
}

/// Values of a megabyte keep the read buffer they arrived in instead of
/// being copied: whatever the pipelining around them, each key gets its
/// own bytes, and later writes to such a value do not touch the others.
#[test]
fn large_values_survive_buffer_hand_off() {
    let server = rudis(&[]);
    let mut raw = server.raw();
    let big = |fill: u8, len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| fill.wrapping_add((i % 251) as u8))
            .collect()
    };
    let (a, b, c) = (big(1, 1 << 20), big(7, (1 << 20) + 3), big(9, 70_000));
    // Three large SETs and a GET in one write, so several large commands
    // share one read buffer, then one arriving in two halves.
    let mut batch = common::encode(&[b"SET", b"a", &a]);
    batch.extend(common::encode(&[b"SET", b"b", &b, b"EX", b"100"]));
    batch.extend(common::encode(&[b"GETSET", b"c", &c]));
    batch.extend(common::encode(&[b"STRLEN", b"a"]));
    raw.send(&batch);
    raw.expect(b"+OK\r\n");
    raw.expect(b"+OK\r\n");
    raw.expect(b"$-1\r\n");
    raw.expect(b":1048576\r\n");
    let late = common::encode(&[b"SET", b"d", &a]);
    raw.send(&late[..late.len() / 2]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    raw.send(&late[late.len() / 2..]);
    raw.expect(b"+OK\r\n");
    let mut c2 = server.client();
    for (key, want) in [("a", &a), ("b", &b), ("c", &c), ("d", &a)] {
        let got: Vec<u8> = cmd("GET").arg(key).query(&mut c2).unwrap();
        assert!(got == *want, "{key}: {} bytes back", got.len());
    }
    // Writing into one value leaves the others (and the buffers) intact.
    assert_eq!(int(&mut c2, &["SETRANGE", "a", "0", "XYZ"]), 1 << 20);
    assert_eq!(int(&mut c2, &["APPEND", "d", "!"]), (1 << 20) + 1);
    let got: Vec<u8> = cmd("GETRANGE")
        .arg("a")
        .arg(0)
        .arg(4)
        .query(&mut c2)
        .unwrap();
    assert_eq!(got, [b'X', b'Y', b'Z', a[3], a[4]]);
    let got: Vec<u8> = cmd("GET").arg("b").query(&mut c2).unwrap();
    assert!(got == b);
    assert!(int(&mut c2, &["TTL", "b"]) > 0);
    let got: Vec<u8> = cmd("GETRANGE")
        .arg("d")
        .arg(0)
        .arg(2)
        .query(&mut c2)
        .unwrap();
    assert_eq!(got, a[..3]);
}
