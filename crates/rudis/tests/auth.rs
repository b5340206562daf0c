//! requirepass, AUTH and HELLO. Expected bytes are Redis 7.0.15's with
//! `--requirepass secret`.

mod common;

use common::rudis;

#[test]
fn unauthenticated_clients_get_noauth() {
    let s = rudis(&["--requirepass", "secret"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"GET", b"a"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&[b"PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&[b"HELLO", b"3"]),
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(c.cmd(&[b"AUTH", b"wrong"]), wrongpass);
    assert_eq!(c.cmd(&[b"AUTH", b"default", b"wrong"]), wrongpass);
    assert_eq!(c.cmd(&[b"AUTH", b"bob", b"secret"]), wrongpass);
    assert_eq!(c.cmd(&[b"AUTH", b"secret"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"GET", b"a"]), b"$-1\r\n");
    // A failed AUTH does not undo an earlier success.
    assert_eq!(c.cmd(&[b"AUTH", b"wrong"]), wrongpass);
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn hello_authenticates_and_switches_protocol() {
    let s = rudis(&["--requirepass", "secret"]);
    let mut c = s.raw();
    let reply = c.cmd(&[b"HELLO", b"3", b"AUTH", b"default", b"secret"]);
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"), "{text}");
    assert!(text.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"), "{text}");
    // RESP3 null for a missing key.
    assert_eq!(c.cmd(&[b"GET", b"a"]), b"_\r\n");
    let reply = c.cmd(&[b"HELLO", b"2"]);
    assert!(reply.starts_with(b"*14\r\n"));
    assert_eq!(c.cmd(&[b"GET", b"a"]), b"$-1\r\n");
}

#[test]
fn unauthenticated_clients_cannot_make_the_server_allocate() {
    let s = rudis(&["--requirepass", "secret"]);
    let mut c = s.raw();
    c.send(b"*11\r\n");
    c.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert!(c.closed());
    let mut c = s.raw();
    c.send(b"*1\r\n$16385\r\n");
    c.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n");
    assert!(c.closed());
    // Once authenticated, the normal limits apply.
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"AUTH", b"secret"]), b"+OK\r\n");
    let big = vec![b'x'; 20000];
    let args: Vec<&[u8]> = std::iter::once(&b"MSET"[..])
        .chain(std::iter::repeat_n(&big[..], 12))
        .collect();
    assert_eq!(c.cmd(&args), b"+OK\r\n");
}

#[test]
fn auth_without_a_password_configured() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"AUTH", b"pw"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(c.cmd(&[b"AUTH", b"default", b"any"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"AUTH", b"a", b"b", b"c"]),
        b"-ERR syntax error\r\n"
    );
}
