//! The wire protocol, byte for byte. Every expected reply here was taken
//! from Redis 7.0.15 fed the same bytes.

mod common;

use common::rudis;

/// Sends `input` on a fresh connection and checks the reply bytes and
/// whether the server then closed the connection.
fn exchange(input: &[u8], expected: &[u8], closes: bool) {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.send(input);
    c.expect(expected);
    if closes {
        assert!(c.closed(), "connection should be closed after {expected:?}");
    } else {
        // Still open and in sync: a PING answers.
        c.send(b"PING\r\n");
        c.expect(b"+PONG\r\n");
    }
}

#[test]
fn inline_commands_with_quoting() {
    exchange(
        b"SET a \"b c\"\r\nGET a\r\n",
        b"+OK\r\n$3\r\nb c\r\n",
        false,
    );
    exchange(b"ECHO \"\\x41\\x4g\\n\"\r\n", b"$5\r\nAx4g\n\r\n", false);
    exchange(b"\n\nPING\n", b"+PONG\r\n", false);
    exchange(b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n", false);
}

#[test]
fn empty_requests_are_skipped() {
    exchange(b"*0\r\n\r\n*-1\r\n   \r\nPING\r\n", b"+PONG\r\n", false);
}

#[test]
fn pipelined_batch_gets_every_reply_in_order() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        input.extend_from_slice(format!("SET k{i} {i}\r\n").as_bytes());
        expected.extend_from_slice(b"+OK\r\n");
    }
    for i in 0..500 {
        input.extend_from_slice(&common::encode(&[b"GET", format!("k{i}").as_bytes()]));
        let v = i.to_string();
        expected.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    exchange(&input, &expected, false);
}

#[test]
fn requests_split_across_writes() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let req = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    for b in req.iter() {
        c.send(&[*b]);
    }
    c.expect(b"+OK\r\n$5\r\nhello\r\n");
}

#[test]
fn bulk_trailer_bytes_are_skipped_like_redis() {
    exchange(
        b"*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n",
        b"+PONG\r\n+PONG\r\n",
        false,
    );
}

#[test]
fn binary_safe_keys_and_values() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let key: &[u8] = b"k\x00\xff\r\n";
    let val: &[u8] = b"\x00\x01\x02\xfe\xff\r\n\r\n";
    assert_eq!(c.cmd(&[b"SET", key, val]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"GET", key]),
        b"$9\r\n\x00\x01\x02\xfe\xff\r\n\r\n\r\n"
    );
    assert_eq!(c.cmd(&[b"GET", b"k\x00"]), b"$-1\r\n");
    assert_eq!(c.cmd(&[b"ECHO", b""]), b"$0\r\n\r\n");
}

#[test]
fn protocol_errors_reply_then_close() {
    exchange(
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
        true,
    );
    exchange(
        b"*3000000000\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
        true,
    );
    exchange(
        b"*1\r\nx3\r\n",
        b"-ERR Protocol error: expected '$', got 'x'\r\n",
        true,
    );
    exchange(
        b"*1\r\n$-1\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        true,
    );
    exchange(
        b"*1\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        true,
    );
    exchange(
        b"GET \"abc\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
        true,
    );
    exchange(
        b"GET 'a'b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
        true,
    );
    exchange(
        b"ECHO \"a\"\"b\"\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
        true,
    );
}

#[test]
fn commands_before_a_protocol_error_are_answered() {
    exchange(
        b"PING\r\n*x\r\nPING\r\n",
        b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        true,
    );
}

#[test]
fn oversized_lines_are_refused() {
    let inline = vec![b'a'; 65537];
    exchange(
        &inline,
        b"-ERR Protocol error: too big inline request\r\n",
        true,
    );
    let mut count = b"*".to_vec();
    count.extend(vec![b'1'; 65537]);
    exchange(
        &count,
        b"-ERR Protocol error: too big mbulk count string\r\n",
        true,
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 65537]);
    exchange(
        &bulk,
        b"-ERR Protocol error: too big bulk count string\r\n",
        true,
    );
}

#[test]
fn proto_max_bulk_len_is_configurable() {
    let server = rudis(&["--proto-max-bulk-len", "1mb"]);
    let mut c = server.raw();
    c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    c.expect(b"-ERR Protocol error: invalid bulk length\r\n");
    assert!(c.closed());
    let mut c = server.raw();
    let big = vec![b'x'; 1 << 20];
    let reply = c.cmd(&[b"ECHO", &big]);
    assert_eq!(&reply[..11], b"$1048576\r\nx");
}

#[test]
fn nul_in_inline_line_waits_like_redis() {
    // Redis looks for the line end with strchr(), which stops at NUL: the
    // request stays incomplete and no reply comes.
    let server = rudis(&[]);
    let mut c = server.raw();
    c.reader
        .get_ref()
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    c.send(b"ECHO a\x00b\r\n");
    let mut buf = [0u8; 16];
    use std::io::Read;
    let r = c.reader.read(&mut buf);
    assert!(r.is_err(), "expected no reply, got {r:?}");
}

#[test]
fn quit_replies_ok_and_closes() {
    exchange(b"*1\r\n$4\r\nQUIT\r\nPING\r\n", b"+OK\r\n", true);
}

#[test]
fn unknown_command_and_arity_errors_keep_the_connection() {
    exchange(
        b"*1\r\n$3\r\nfoo\r\n",
        b"-ERR unknown command 'foo', with args beginning with: \r\n",
        false,
    );
    exchange(
        b"foo bar baz\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n",
        false,
    );
    exchange(
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
        false,
    );
    exchange(
        b"PING a b\r\n",
        b"-ERR wrong number of arguments for 'ping' command\r\n",
        false,
    );
}

#[test]
fn unknown_command_quotes_at_most_128_bytes() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let long = vec![b'a'; 200];
    let reply = c.cmd(&[b"nope", &long, b"second"]);
    let expected = format!(
        "-ERR unknown command 'nope', with args beginning with: '{}' \r\n",
        "a".repeat(128)
    );
    assert_eq!(String::from_utf8_lossy(&reply), expected);
}
