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
