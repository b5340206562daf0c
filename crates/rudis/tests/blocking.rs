//! Blocking list commands with several clients. Expected bytes are Redis
//! 7.0.15's for the same steps (tried side by side while writing them).

mod common;

use std::time::{Duration, Instant};

use common::{blocked_clients, encode, rudis, wait_blocked, Proc, Raw};

fn setup() -> (Proc, Raw, Raw, Raw) {
    let server = rudis(&[]);
    let (a, b, c) = (server.raw(), server.raw(), server.raw());
    (server, a, b, c)
}

#[test]
fn timeouts_reply_null_in_each_protocol() {
    let (server, mut a, _, _) = setup();
    let start = Instant::now();
    a.send(&encode(&[b"BLPOP", b"k", b"0.2"]));
    a.expect(b"*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(150));
    let mut r3 = server.raw();
    r3.cmd(&[b"HELLO", b"3"]);
    r3.send(&encode(&[b"BRPOPLPUSH", b"k", b"d", b"0.05"]));
    r3.expect(b"_\r\n");
    assert_eq!(
        a.cmd(&[b"BLPOP", b"k", b"-1"]),
        b"-ERR timeout is negative\r\n"
    );
    assert_eq!(
        a.cmd(&[b"BLPOP", b"k", b"x"]),
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        a.cmd(&[b"BLPOP", b"k", b"inf"]),
        b"-ERR timeout is negative\r\n"
    );
}

#[test]
fn first_come_first_served_across_keys() {
    let (_server, mut a, mut b, mut c) = setup();
    a.send(&encode(&[b"BLPOP", b"k1", b"k2", b"0"]));
    wait_blocked(&mut c, 1);
    b.send(&encode(&[b"BLPOP", b"k2", b"0"]));
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&[b"RPUSH", b"k2", b"x", b"y", b"z"]), b":3\r\n");
    a.expect(b"*2\r\n$2\r\nk2\r\n$1\r\nx\r\n");
    b.expect(b"*2\r\n$2\r\nk2\r\n$1\r\ny\r\n");
    assert_eq!(
        c.cmd(&[b"LRANGE", b"k2", b"0", b"-1"]),
        b"*1\r\n$1\r\nz\r\n"
    );
    assert_eq!(blocked_clients(&mut c), 0);
    // One element, two waiters: only the first is served.
    a.send(&encode(&[b"BRPOP", b"q", b"0"]));
    wait_blocked(&mut c, 1);
    b.send(&encode(&[b"BRPOP", b"q", b"0"]));
    wait_blocked(&mut c, 2);
    c.cmd(&[b"LPUSH", b"q", b"1"]);
    a.expect(b"*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
    assert!(b.quiet(Duration::from_millis(100)));
    c.cmd(&[b"LPUSH", b"q", b"2"]);
    b.expect(b"*2\r\n$1\r\nq\r\n$1\r\n2\r\n");
}

#[test]
fn moves_and_multi_pops_when_served() {
    let (_server, mut a, mut b, mut c) = setup();
    a.send(&encode(&[
        b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0",
    ]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"src", b"m1", b"m2"]);
    a.expect(b"$2\r\nm2\r\n");
    assert_eq!(
        c.cmd(&[b"LRANGE", b"dst", b"0", b"-1"]),
        b"*1\r\n$2\r\nm2\r\n"
    );
    assert_eq!(
        c.cmd(&[b"LRANGE", b"src", b"0", b"-1"]),
        b"*1\r\n$2\r\nm1\r\n"
    );
    // A move into a key another client waits on serves that one too.
    b.send(&encode(&[b"BLPOP", b"dst2", b"0"]));
    wait_blocked(&mut c, 1);
    a.send(&encode(&[b"BRPOPLPUSH", b"src2", b"dst2", b"0"]));
    wait_blocked(&mut c, 2);
    c.cmd(&[b"RPUSH", b"src2", b"v"]);
    a.expect(b"$1\r\nv\r\n");
    b.expect(b"*2\r\n$4\r\ndst2\r\n$1\r\nv\r\n");
    a.send(&encode(&[
        b"BLMPOP", b"0", b"2", b"x1", b"x2", b"RIGHT", b"COUNT", b"2",
    ]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"x2", b"1", b"2", b"3"]);
    a.expect(b"*2\r\n$2\r\nx2\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    // A blocked move into a non-list ends with the type error and leaves
    // the element in place.
    c.cmd(&[b"SET", b"str", b"v"]);
    a.send(&encode(&[b"BLMOVE", b"s3", b"str", b"LEFT", b"LEFT", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"s3", b"1"]);
    a.expect(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd(&[b"LLEN", b"s3"]), b":1\r\n");
}

#[test]
fn client_unblock_and_disconnects() {
    let (server, mut a, _, mut c) = setup();
    let id = String::from_utf8(a.cmd(&[b"CLIENT", b"ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    a.send(&encode(&[b"BLPOP", b"u", b"0"]));
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]), b":1\r\n");
    a.expect(b"*-1\r\n");
    a.send(&encode(&[b"BLPOP", b"u", b"0"]));
    wait_blocked(&mut c, 1);
    assert_eq!(
        c.cmd(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"ERROR"]),
        b":1\r\n"
    );
    a.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]), b":0\r\n");
    assert_eq!(
        c.cmd(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"bad"]),
        b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    // Requests pipelined behind a blocked one wait for it.
    let mut batch = encode(&[b"BLPOP", b"p", b"0"]);
    batch.extend(encode(&[b"PING"]));
    a.send(&batch);
    wait_blocked(&mut c, 1);
    assert!(a.quiet(Duration::from_millis(100)));
    c.cmd(&[b"RPUSH", b"p", b"1"]);
    a.expect(b"*2\r\n$1\r\np\r\n$1\r\n1\r\n+PONG\r\n");
    // A client that goes away while blocked is forgotten: the next push
    // stays in the list.
    let mut d = server.raw();
    d.send(&encode(&[b"BLPOP", b"gone", b"0"]));
    wait_blocked(&mut c, 1);
    drop(d);
    wait_blocked(&mut c, 0);
    c.cmd(&[b"RPUSH", b"gone", b"1"]);
    assert_eq!(c.cmd(&[b"LLEN", b"gone"]), b":1\r\n");
}

/// Many clients blocked at once cost no thread each: 200 waiters on a
/// 2-thread server are all served.
#[test]
fn many_blocked_clients() {
    let server = rudis(&["--threads", "2"]);
    let mut c = server.raw();
    let mut waiters: Vec<Raw> = (0..200).map(|_| server.raw()).collect();
    for w in &mut waiters {
        w.send(&encode(&[b"BLPOP", b"many", b"0"]));
    }
    wait_blocked(&mut c, 200);
    let elements: Vec<Vec<u8>> = (0..200).map(|i| format!("e{i}").into_bytes()).collect();
    let mut push: Vec<&[u8]> = vec![b"RPUSH", b"many"];
    push.extend(elements.iter().map(Vec::as_slice));
    c.cmd(&push);
    let mut got: Vec<Vec<u8>> = waiters.iter_mut().map(|w| w.reply()).collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = elements
        .iter()
        .map(|e| {
            [
                b"*2\r\n$4\r\nmany\r\n$".as_slice(),
                e.len().to_string().as_bytes(),
                b"\r\n",
                e,
                b"\r\n",
            ]
            .concat()
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(blocked_clients(&mut c), 0);
}

/// INFO and CLIENT LIST show blocked clients as Redis does: a `b` flag,
/// and only those with a timeout in clients_in_timeout_table.
#[test]
fn blocked_clients_in_info_and_client_list() {
    let (_server, mut a, mut b, mut c) = setup();
    a.send(&encode(&[b"BLPOP", b"t1", b"100"]));
    b.send(&encode(&[b"BLPOP", b"t2", b"0"]));
    wait_blocked(&mut c, 2);
    let info = String::from_utf8(c.cmd(&[b"INFO", b"clients"])).unwrap();
    assert!(info.contains("clients_in_timeout_table:1\r\n"), "{info}");
    let list = String::from_utf8(c.cmd(&[b"CLIENT", b"LIST"])).unwrap();
    assert_eq!(list.matches("flags=b ").count(), 2, "{list}");
    assert_eq!(list.matches("cmd=blpop ").count(), 2, "{list}");
    c.cmd(&[b"RPUSH", b"t1", b"x"]);
    a.expect(b"*2\r\n$2\r\nt1\r\n$1\r\nx\r\n");
    let info = String::from_utf8(c.cmd(&[b"INFO", b"clients"])).unwrap();
    assert!(info.contains("clients_in_timeout_table:0\r\n"), "{info}");
    assert!(info.contains("blocked_clients:1\r\n"), "{info}");
}

/// A list that arrives under a waited-on key by RENAME, COPY or MOVE
/// serves the waiter, as Redis signals any key added; a string does not.
#[test]
fn lists_arriving_by_rename_copy_move_serve_waiters() {
    let (_server, mut a, _, mut c) = setup();
    a.send(&encode(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"src", b"a", b"b"]);
    assert_eq!(c.cmd(&[b"RENAME", b"src", b"k"]), b"+OK\r\n");
    a.expect(b"*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    a.send(&encode(&[b"BLPOP", b"k2", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"s2", b"x"]);
    assert_eq!(c.cmd(&[b"COPY", b"s2", b"k2"]), b":1\r\n");
    a.expect(b"*2\r\n$2\r\nk2\r\n$1\r\nx\r\n");
    assert_eq!(a.cmd(&[b"SELECT", b"1"]), b"+OK\r\n");
    a.send(&encode(&[b"BLPOP", b"k3", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"RPUSH", b"k3", b"y"]);
    assert_eq!(c.cmd(&[b"MOVE", b"k3", b"1"]), b":1\r\n");
    a.expect(b"*2\r\n$2\r\nk3\r\n$1\r\ny\r\n");
    a.send(&encode(&[b"BLPOP", b"k4", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"SELECT", b"1"]);
    c.cmd(&[b"SET", b"k4", b"str"]);
    assert!(a.quiet(Duration::from_millis(100)));
    c.cmd(&[b"DEL", b"k4"]);
    c.cmd(&[b"RPUSH", b"k4", b"z"]);
    a.expect(b"*2\r\n$2\r\nk4\r\n$1\r\nz\r\n");
}

/// SWAPDB serves clients blocked on keys that hold a list after the swap.
#[test]
fn swapdb_serves_waiters() {
    let (_server, mut a, _, mut c) = setup();
    a.send(&encode(&[b"BLPOP", b"sw", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"SELECT", b"1"]);
    c.cmd(&[b"RPUSH", b"sw", b"v"]);
    assert_eq!(c.cmd(&[b"SWAPDB", b"0", b"1"]), b"+OK\r\n");
    a.expect(b"*2\r\n$2\r\nsw\r\n$1\r\nv\r\n");
}

#[test]
fn sorted_set_waiters_are_served_in_order_and_by_type() {
    let (server, mut a, mut b, mut c) = setup();
    a.send(&encode(&[b"BZPOPMIN", b"z", b"0"]));
    wait_blocked(&mut c, 1);
    b.send(&encode(&[b"BLPOP", b"z", b"0"]));
    wait_blocked(&mut c, 2);
    // A list at the key serves the list waiter only; the sorted set
    // waiter keeps waiting.
    assert_eq!(c.cmd(&[b"RPUSH", b"z", b"x"]), b":1\r\n");
    b.expect(b"*2\r\n$1\r\nz\r\n$1\r\nx\r\n");
    assert!(a.quiet(Duration::from_millis(100)));
    assert_eq!(blocked_clients(&mut c), 1);
    b.send(&encode(&[
        b"BZMPOP", b"0", b"2", b"y", b"z", b"MAX", b"COUNT", b"5",
    ]));
    wait_blocked(&mut c, 2);
    assert_eq!(
        c.cmd(&[b"ZADD", b"z", b"1", b"m", b"2.5", b"n", b"3", b"o"]),
        b":3\r\n"
    );
    a.expect(b"*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n1\r\n");
    b.expect(b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\no\r\n$1\r\n3\r\n*2\r\n$1\r\nn\r\n$3\r\n2.5\r\n");
    assert_eq!(c.cmd(&[b"EXISTS", b"z"]), b":0\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
    // RESP3 and a sorted set arriving by a STORE command.
    let mut r3 = server.raw();
    r3.cmd(&[b"HELLO", b"3"]);
    r3.send(&encode(&[b"BZPOPMAX", b"w", b"0"]));
    wait_blocked(&mut c, 1);
    c.cmd(&[b"ZADD", b"src", b"7", b"q"]);
    assert_eq!(
        c.cmd(&[b"ZUNIONSTORE", b"w", b"1", b"src", b"WEIGHTS", b"2"]),
        b":1\r\n"
    );
    r3.expect(b"*3\r\n$1\r\nw\r\n$1\r\nq\r\n,14\r\n");
    r3.send(&encode(&[b"BZPOPMIN", b"w", b"0.05"]));
    r3.expect(b"_\r\n");
    assert_eq!(
        a.cmd(&[b"BZPOPMIN", b"w", b"-1"]),
        b"-ERR timeout is negative\r\n"
    );
}

#[test]
fn sorted_set_pops_at_once_and_in_multi() {
    let (_server, mut a, _, _) = setup();
    a.cmd(&[b"ZADD", b"z", b"1", b"m", b"2", b"n"]);
    assert_eq!(
        a.cmd(&[b"BZPOPMAX", b"nokey", b"z", b"0"]),
        b"*3\r\n$1\r\nz\r\n$1\r\nn\r\n$1\r\n2\r\n"
    );
    a.cmd(&[b"MULTI"]);
    a.cmd(&[b"BZPOPMIN", b"empty", b"0"]);
    a.cmd(&[b"BZMPOP", b"0", b"1", b"empty", b"MIN"]);
    assert_eq!(a.cmd(&[b"EXEC"]), b"*2\r\n*-1\r\n*-1\r\n");
    a.cmd(&[b"SET", b"s", b"x"]);
    assert_eq!(
        a.cmd(&[b"BZPOPMIN", b"s", b"0"]),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}
