//! DEBUG for tests, behind enable-debug-command. Expected bytes are Redis
//! 7.0.15's (started with --enable-debug-command yes).

mod common;

use common::{eventually, rudis};

#[test]
fn debug_needs_enabling() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let r = c.cmd(&[b"DEBUG", b"PROTOCOL", b"string"]);
    assert!(r.starts_with(b"-ERR DEBUG command not allowed."), "{r:?}");
}

#[test]
fn debug_protocol_in_both_protocols() {
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let types: [&[u8]; 14] = [
        b"string",
        b"integer",
        b"double",
        b"bignum",
        b"null",
        b"array",
        b"set",
        b"map",
        b"attrib",
        b"push",
        b"verbatim",
        b"true",
        b"false",
        b"foo",
    ];
    let mut got = Vec::new();
    for t in types {
        got.extend(c.cmd(&[b"DEBUG", b"PROTOCOL", t]));
    }
    let wrong = b"-ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n";
    let mut want = b"$11\r\nHello World\r\n:12345\r\n$5\r\n3.141\r\n$37\r\n1234567999999999999999999999999999999\r\n$-1\r\n*3\r\n:0\r\n:1\r\n:2\r\n*3\r\n:0\r\n:1\r\n:2\r\n*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n$39\r\nSome real reply following the attribute\r\n-ERR RESP2 is not supported by this command\r\n$25\r\nThis is a verbatim\nstring\r\n:1\r\n:0\r\n".to_vec();
    want.extend_from_slice(wrong);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    c.cmd(&[b"HELLO", b"3"]);
    // Attributes and pushes are read as part of the next reply.
    c.send(
        &types
            .iter()
            .flat_map(|t| common::encode(&[b"DEBUG", b"PROTOCOL", t]))
            .collect::<Vec<u8>>(),
    );
    let mut want = b"$11\r\nHello World\r\n:12345\r\n,3.141\r\n(1234567999999999999999999999999999999\r\n_\r\n*3\r\n:0\r\n:1\r\n:2\r\n~3\r\n:0\r\n:1\r\n:2\r\n%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n>2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n=29\r\ntxt:This is a verbatim\nstring\r\n#t\r\n#f\r\n".to_vec();
    want.extend_from_slice(wrong);
    c.expect(&want);
}

#[test]
fn debug_populate_error_and_thresholds() {
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let cmds: &[(&[&[u8]], &[u8])] = &[
        (&[b"DEBUG", b"POPULATE", b"3"], b"+OK\r\n"),
        (&[b"DBSIZE"], b":3\r\n"),
        (&[b"GET", b"key:0"], b"$7\r\nvalue:0\r\n"),
        (&[b"DEBUG", b"POPULATE", b"2", b"p", b"3"], b"+OK\r\n"),
        (&[b"GET", b"p:1"], b"$3\r\nval\r\n"),
        (&[b"DEBUG", b"POPULATE", b"1", b"q", b"10"], b"+OK\r\n"),
        (&[b"GET", b"q:0"], b"$10\r\nvalue:0\x00\x00\x00\r\n"),
        (&[b"DEBUG", b"POPULATE", b"-1"], b"-ERR value is out of range, must be positive\r\n"),
        (&[b"DEBUG", b"POPULATE", b"x"], b"-ERR value is out of range, must be positive\r\n"),
        (&[b"DEBUG", b"POPULATE", b"1", b"p", b"-2"], b"-ERR value is out of range, must be positive\r\n"),
        (&[b"DEBUG", b"POPULATE", b"1", b"a", b"b", b"c"], b"-ERR unknown subcommand or wrong number of arguments for 'POPULATE'. Try DEBUG HELP.\r\n"),
        (&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"5gb"], b"-ERR argument must be a memory value bigger than 1 and smaller than 4gb\r\n"),
        (&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"x"], b"-ERR argument must be a memory value bigger than 1 and smaller than 4gb\r\n"),
        (&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"1b"], b"+OK\r\n"),
        (&[b"RPUSH", b"l", b"aaa", b"bbb"], b":2\r\n"),
        (&[b"LINSERT", b"l", b"BEFORE", b"bbb", b"ccc"], b":3\r\n"),
        (&[b"LRANGE", b"l", b"0", b"-1"], b"*3\r\n$3\r\naaa\r\n$3\r\nccc\r\n$3\r\nbbb\r\n"),
        (&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"0"], b"+OK\r\n"),
        (&[b"DEBUG", b"ERROR", b"my error\nhere"], b"-my error here\r\n"),
        (&[b"DEBUG", b"NOSUCH"], b"-ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP.\r\n"),
        (&[b"DEBUG", b"SLEEP"], b"-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n"),
        (&[b"DEBUG", b"POPULATE", b"0"], b"+OK\r\n"),
    ];
    for (cmd, want) in cmds {
        assert_eq!(
            String::from_utf8_lossy(&c.cmd(cmd)),
            String::from_utf8_lossy(want),
            "{cmd:?}"
        );
    }
}

#[test]
fn debug_set_active_expire_stops_the_background_cycle() {
    let s = rudis(&["--enable-debug-command", "yes", "--hz", "100"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]), b"+OK\r\n");
    for i in 0..100 {
        c.cmd(&[b"SET", format!("k{i}").as_bytes(), b"v", b"PX", b"1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Nothing touched the keys: they are all still counted.
    assert_eq!(c.cmd(&[b"DBSIZE"]), b":100\r\n");
    assert_eq!(c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"]), b"+OK\r\n");
    eventually("the cycle reclaims them", || {
        c.cmd(&[b"DBSIZE"]) == b":0\r\n"
    });
}

/// DEBUG PAUSE-CRON: the periodic work stops (here: active expiry), and
/// starts again with 0.
#[test]
fn debug_pause_cron_stops_the_periodic_work() {
    let s = rudis(&["--enable-debug-command", "yes", "--hz", "100"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"DEBUG", b"PAUSE-CRON", b"1"]), b"+OK\r\n");
    for i in 0..100 {
        c.cmd(&[b"SET", format!("k{i}").as_bytes(), b"v", b"PX", b"1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(c.cmd(&[b"DBSIZE"]), b":100\r\n");
    assert_eq!(c.cmd(&[b"DEBUG", b"PAUSE-CRON", b"0"]), b"+OK\r\n");
    eventually("the cycle reclaims them", || {
        c.cmd(&[b"DBSIZE"]) == b":0\r\n"
    });
}

#[test]
fn digests_are_redis_s() {
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    c.expect_cmd(
        &[b"DEBUG", b"DIGEST"],
        b"+0000000000000000000000000000000000000000\r\n",
    );
    for cmd in [
        &[&b"SET"[..], b"s", b"hello"][..],
        &[b"SET", b"n", b"123"],
        &[b"SET", b"e", b"x", b"EX", b"100"],
        &[b"RPUSH", b"l", b"a", b"b", b"3"],
        &[b"SADD", b"si", b"1", b"2", b"3"],
        &[b"SADD", b"ss", b"a", b"b"],
        &[b"HSET", b"h", b"f", b"v", b"g", b"w"],
        &[b"ZADD", b"z", b"1.5", b"a", b"2", b"b", b"1e20", b"c"],
        &[b"XADD", b"x", b"1-1", b"f", b"v"],
        &[b"XADD", b"x", b"2-0", b"g", b"w", b"h", b"i"],
        &[b"SELECT", b"3"],
        &[b"SET", b"other", b"db3"],
        &[b"SELECT", b"0"],
    ] {
        c.cmd(cmd);
    }
    // The values Redis 7.0.15 gives for the same data.
    c.expect_cmd(
        &[b"DEBUG", b"DIGEST"],
        b"+e28ead210524f234cd710341b2dc72365be1df8d\r\n",
    );
    let want = [
        "36b23a1456b2dce2c3ed252c456761301dba8060",
        "09eb1fc9381ee92790d59930ab462945f8cd948b",
        "2a462a3f51a1db89738ebbeef0c47ce1bbc85246",
        "dd99329063ca0f1f28df2ac68d94b82fd95501c6",
        "d127864ed50239662bf61bafc9bda63c17da5b37",
        "ab1b6c9e5dbdd722f162c84890232c54aa0090c3",
        "5b86d6b511a24271906620e4f2cd3140231c6837",
        "0745672cb1bf060476eedeb8a28f5ffe1ff5a2be",
        "0000000000000000000000000000000000000000",
    ];
    let mut expected = b"*9\r\n".to_vec();
    for w in want {
        expected.extend(format!("+{w}\r\n").into_bytes());
    }
    c.expect_cmd(
        &[
            b"DEBUG",
            b"DIGEST-VALUE",
            b"s",
            b"l",
            b"si",
            b"ss",
            b"h",
            b"z",
            b"x",
            b"e",
            b"missing",
        ],
        &expected,
    );
}

#[test]
fn debug_object_describes_the_value() {
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    c.cmd(&[b"RPUSH", b"l", b"a", b"b", b"3"]);
    c.cmd(&[b"SET", b"n", b"20000"]);
    let text = String::from_utf8(c.cmd(&[b"DEBUG", b"OBJECT", b"l"])).unwrap();
    assert!(text.starts_with("+Value at:0x"), "{text}");
    assert!(
        text.contains(" refcount:1 encoding:quicklist serializedlength:18 lru:"),
        "{text}"
    );
    assert!(
        text.ends_with(
            " ql_nodes:1 ql_avg_node:3.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:15\r\n"
        ),
        "{text}"
    );
    // INCR changes a string where it is.
    let at = |c: &mut common::Raw| {
        let t = String::from_utf8(c.cmd(&[b"DEBUG", b"OBJECT", b"n"])).unwrap();
        t.split(' ').nth(1).unwrap().to_string()
    };
    c.cmd(&[b"INCR", b"n"]);
    let before = at(&mut c);
    c.cmd(&[b"INCR", b"n"]);
    assert_eq!(before, at(&mut c));
    c.expect_cmd(&[b"DEBUG", b"OBJECT", b"nokey"], b"-ERR no such key\r\n");
    c.expect_cmd(&[b"DEBUG", b"LOG", b"hello"], b"+OK\r\n");
}
