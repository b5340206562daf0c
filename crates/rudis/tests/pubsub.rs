//! Pub/sub and keyspace notifications across connections and threads.
//! One-connection replies are compared with Redis in
//! tests/differential/pubsub.txt and the notifications of every write
//! command in differential.rs; these cover what needs several clients.
//! Expected bytes are Redis 7.0.15's.

mod common;

use std::time::{Duration, Instant};

use common::{encode, eventually, rudis, Raw};

fn numsub(c: &mut Raw, channel: &[u8]) -> Vec<u8> {
    c.cmd(&[b"PUBSUB", b"NUMSUB", channel])
}

#[test]
fn messages_reach_subscribers_on_every_thread_in_their_protocol() {
    let server = rudis(&["--threads", "4"]);
    let mut r2 = server.raw();
    r2.expect_cmd(
        &[b"SUBSCRIBE", b"news", b"other"],
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n",
    );
    let mut r3 = server.raw();
    r3.cmd(&[b"HELLO", b"3"]);
    r3.expect_cmd(
        &[b"SUBSCRIBE", b"news"],
        b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    );
    let mut pat = server.raw();
    pat.expect_cmd(
        &[b"PSUBSCRIBE", b"n*s"],
        b"*3\r\n$10\r\npsubscribe\r\n$3\r\nn*s\r\n:1\r\n",
    );
    let mut publisher = server.raw();
    publisher.expect_cmd(&[b"PUBLISH", b"news", b"hello"], b":3\r\n");
    r2.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    r3.expect(b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    pat.expect(b"*4\r\n$8\r\npmessage\r\n$3\r\nn*s\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    // Many messages from several publishers keep each publisher's order.
    let publishers: Vec<_> = (0..3)
        .map(|p| {
            let mut c = server.raw();
            std::thread::spawn(move || {
                for i in 0..200 {
                    c.cmd(&[b"PUBLISH", b"other", format!("{p}:{i}").as_bytes()]);
                }
            })
        })
        .collect();
    let mut next = [0; 3];
    for _ in 0..600 {
        let m = String::from_utf8_lossy(&r2.reply()).into_owned();
        let body = m.rsplit("\r\n").nth(1).unwrap().to_string();
        let (p, i) = body.split_once(':').unwrap();
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "publisher {p} out of order");
        next[p] += 1;
    }
    for p in publishers {
        p.join().unwrap();
    }
    // Gone clients and RESET leave no subscription behind.
    drop(r3);
    pat.cmd(&[b"RESET"]);
    eventually("subscriptions dropped", || {
        numsub(&mut publisher, b"news") == b"*2\r\n$4\r\nnews\r\n:1\r\n"
            && publisher.cmd(&[b"PUBSUB", b"NUMPAT"]) == b":0\r\n"
    });
    publisher.expect_cmd(&[b"PUBLISH", b"news", b"x"], b":1\r\n");
}

/// CLIENT LIST shows subscriptions; CLIENT KILL TYPE pubsub closes
/// subscribers only.
#[test]
fn subscribers_are_their_own_client_type() {
    let server = rudis(&[]);
    let mut sub = server.raw();
    sub.cmd(&[b"CLIENT", b"SETNAME", b"sub"]);
    sub.cmd(&[b"SUBSCRIBE", b"a"]);
    sub.cmd(&[b"PSUBSCRIBE", b"b*"]);
    let mut c = server.raw();
    let list =
        String::from_utf8_lossy(&c.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"])).into_owned();
    assert!(
        list.contains("name=sub") && list.contains(" flags=P "),
        "{list}"
    );
    assert!(list.contains(" sub=1 psub=1 ssub=0 "), "{list}");
    let normal =
        String::from_utf8_lossy(&c.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"normal"])).into_owned();
    assert!(!normal.contains("name=sub"), "{normal}");
    c.expect_cmd(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"], b":1\r\n");
    assert!(sub.closed());
    c.expect_cmd(&[b"PUBLISH", b"a", b"x"], b":0\r\n");
}

/// Confirmations are pushes: CLIENT REPLY OFF does not hide them, while
/// the replies of other commands stay hidden.
#[test]
fn confirmations_survive_client_reply_off() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.send(&encode(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send(&encode(&[b"SET", b"k", b"v"]));
    c.expect_cmd(
        &[b"SUBSCRIBE", b"ch"],
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    let mut p = server.raw();
    p.expect_cmd(&[b"PUBLISH", b"ch", b"m"], b":1\r\n");
    c.expect(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
    c.send(&encode(&[b"PING"]));
    assert!(c.quiet(Duration::from_millis(100)));
}

/// A subscriber that stops reading is disconnected at the hard limit
/// rather than buffered without bound, and at the soft limit once it
/// has stayed over it longer than the limit's seconds.
#[test]
fn a_subscriber_that_stops_reading_is_disconnected() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let big = vec![b'x'; 256 * 1024];
    for (limit, at_least) in [
        (&b"pubsub 1mb 0 0"[..], Duration::ZERO),
        (&b"pubsub 0 1mb 1"[..], Duration::from_secs(1)),
    ] {
        c.cmd(&[b"CONFIG", b"SET", b"client-output-buffer-limit", limit]);
        let mut sub = server.raw();
        sub.cmd(&[b"SUBSCRIBE", b"flood"]);
        let start = Instant::now();
        let mut sent = 0;
        // The kernel's socket buffers take some first; then the server's
        // outbox grows until the limit closes the subscriber.
        while c.cmd(&[b"PUBLISH", b"flood", &big]) == b":1\r\n" {
            sent += 1;
            assert!(sent < 4000, "never disconnected under {limit:?}");
            if at_least > Duration::ZERO {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert!(start.elapsed() >= at_least, "closed too early");
        assert_eq!(numsub(&mut c, b"flood"), b"*2\r\n$5\r\nflood\r\n:0\r\n");
        drop(sub);
    }
    c.expect_cmd(&[b"PING"], b"+PONG\r\n");
}

/// Expired keys notify when they are reclaimed, by a lookup or by the
/// background cycle; RESP3 subscribers get pushes.
#[test]
fn expired_events_when_keys_are_reclaimed() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"Ex"]);
    let mut sub = server.raw();
    sub.cmd(&[b"HELLO", b"3"]);
    sub.cmd(&[b"SUBSCRIBE", b"__keyevent@0__:expired"]);
    c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
    c.cmd(&[b"SET", b"lazy", b"1", b"PX", b"1"]);
    std::thread::sleep(Duration::from_millis(10));
    c.expect_cmd(&[b"GET", b"lazy"], b"$-1\r\n");
    sub.expect(b">3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$4\r\nlazy\r\n");
    c.cmd(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"]);
    c.cmd(&[b"SET", b"active", b"1", b"PX", b"1"]);
    sub.expect(b">3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$6\r\nactive\r\n");
}

/// A client blocked in BLPOP while subscribed (RESP3 allows both) still
/// receives its messages.
#[test]
fn a_blocked_resp3_subscriber_still_gets_messages() {
    let server = rudis(&[]);
    let mut sub = server.raw();
    sub.cmd(&[b"HELLO", b"3"]);
    sub.cmd(&[b"SUBSCRIBE", b"ch"]);
    sub.send(&encode(&[b"BLPOP", b"list", b"0"]));
    let mut c = server.raw();
    eventually("blocked", || {
        String::from_utf8_lossy(&c.cmd(&[b"INFO", b"clients"])).contains("blocked_clients:1")
    });
    c.expect_cmd(&[b"PUBLISH", b"ch", b"m"], b":1\r\n");
    sub.expect(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
    c.cmd(&[b"RPUSH", b"list", b"v"]);
    sub.expect(b"*2\r\n$4\r\nlist\r\n$1\r\nv\r\n");
}

/// CLIENT PAUSE WRITE holds PUBLISH (it may be propagated, as Redis's
/// may-replicate commands) and PFCOUNT, but a command with the wrong
/// arity gets its error at once.
#[test]
fn client_pause_write_holds_publish_not_errors() {
    let server = rudis(&[]);
    let (mut a, mut b) = (server.raw(), server.raw());
    a.cmd(&[b"CLIENT", b"PAUSE", b"100000", b"WRITE"]);
    b.send(&encode(&[b"PUBLISH", b"ch", b"m"]));
    assert!(
        b.quiet(Duration::from_millis(200)),
        "PUBLISH ran during the pause"
    );
    let mut c = server.raw();
    c.expect_cmd(
        &[b"SET", b"k"],
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    c.send(&encode(&[b"PFCOUNT", b"h"]));
    assert!(
        c.quiet(Duration::from_millis(100)),
        "PFCOUNT ran during the pause"
    );
    a.cmd(&[b"CLIENT", b"UNPAUSE"]);
    b.expect(b":0\r\n");
    c.expect(b":0\r\n");
}

/// The normal class's limit holds replies too: a client whose reply
/// would pass the hard limit is closed without it; others go on.
#[test]
fn the_normal_class_limit_closes_a_client_with_a_huge_reply() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let big = vec![b'x'; 2 << 20];
    c.cmd(&[b"SET", b"big", &big]);
    c.cmd(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"normal 1mb 0 0",
    ]);
    c.expect_cmd(&[b"GET", b"small"], b"$-1\r\n");
    let mut victim = server.raw();
    victim.send(&encode(&[b"GET", b"big"]));
    assert!(victim.closed(), "a 2 MB reply went out over a 1 MB limit");
    c.cmd(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"normal 0 0 0",
    ]);
    let mut ok = server.raw();
    ok.send(&encode(&[b"GET", b"big"]));
    assert_eq!(ok.reply().len(), big.len() + 12);
}

#[test]
fn writes_that_change_nothing_notify_nothing() {
    // Redis 7.0.15: a BITFIELD that leaves every bit as it was (an
    // INCRBY of 0) on an existing string is no change; a move within one
    // list neither deletes nor recreates it.
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]);
    c.cmd(&[b"SET", b"bf", b"abc"]);
    c.cmd(&[b"RPUSH", b"one", b"x"]);
    let mut sub = server.raw();
    for ch in [&b"setbit"[..], b"del", b"set"] {
        sub.cmd(&[b"SUBSCRIBE", &[&b"__keyevent@0__:"[..], ch].concat()]);
    }
    c.expect_cmd(
        &[b"BITFIELD", b"bf", b"INCRBY", b"i5", b"0", b"0"],
        b"*1\r\n:12\r\n",
    );
    c.expect_cmd(
        &[b"LMOVE", b"one", b"one", b"LEFT", b"RIGHT"],
        b"$1\r\nx\r\n",
    );
    c.cmd(&[b"SET", b"after", b"1"]);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$5\r\nafter\r\n");
}
