//! Client-side caching (CLIENT TRACKING) across connections and threads.
//! One-connection replies are compared with Redis in
//! tests/differential/tracking.txt. Expected bytes are Redis 7.0.15's.

mod common;

use std::time::Duration;

use common::{encode, eventually, rudis, Raw};

fn resp3(server: &common::Proc) -> Raw {
    let mut c = server.raw();
    c.cmd(&[b"HELLO", b"3"]);
    c
}

fn client_id(c: &mut Raw) -> Vec<u8> {
    let r = c.cmd(&[b"CLIENT", b"ID"]);
    r[1..r.len() - 2].to_vec()
}

#[test]
fn own_invalidations_follow_the_reply_others_arrive_on_their_own() {
    let server = rudis(&["--threads", "4"]);
    let mut a = resp3(&server);
    a.expect_cmd(&[b"CLIENT", b"TRACKING", b"ON"], b"+OK\r\n");
    a.cmd(&[b"HSET", b"h", b"f", b"1"]);
    a.cmd(&[b"HGET", b"h", b"f"]);
    // Its own write: the reply, then the invalidation.
    a.expect_cmd(
        &[b"HDEL", b"h", b"f"],
        b":1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nh\r\n",
    );
    // Another client's write, from another thread.
    a.cmd(&[b"SET", b"k", b"v"]);
    a.cmd(&[b"GET", b"k"]);
    let mut b = server.raw();
    b.cmd(&[b"SET", b"k", b"w"]);
    a.expect(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    // Once told, the key is forgotten until read again.
    b.cmd(&[b"SET", b"k", b"x"]);
    assert!(a.quiet(Duration::from_millis(100)));
    // A transaction's invalidations come after EXEC's reply.
    a.cmd(&[b"GET", b"k"]);
    a.cmd(&[b"MULTI"]);
    a.cmd(&[b"INCR", b"n"]);
    a.cmd(&[b"SET", b"k", b"y"]);
    a.expect_cmd(
        &[b"EXEC"],
        b"*2\r\n:1\r\n+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
    );
    // A flush invalidates everything, as a null.
    b.cmd(&[b"FLUSHALL"]);
    a.expect(b">2\r\n$10\r\ninvalidate\r\n_\r\n");
}

#[test]
fn redirection_to_a_resp2_subscriber_and_when_it_breaks() {
    let server = rudis(&[]);
    let mut sub = server.raw();
    let id = client_id(&mut sub);
    sub.cmd(&[b"SUBSCRIBE", b"__redis__:invalidate"]);
    let mut a = server.raw();
    a.expect_cmd(
        &[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", &id],
        b"+OK\r\n",
    );
    a.expect_cmd(
        &[b"CLIENT", b"GETREDIR"],
        &[b":", &id[..], b"\r\n"].concat(),
    );
    a.cmd(&[b"GET", b"k"]);
    a.cmd(&[b"SET", b"k", b"1"]);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n");
    // The redirection's target goes: a RESP3 client hears of it.
    drop(sub);
    let mut c = resp3(&server);
    let mut sub = server.raw();
    let id = client_id(&mut sub);
    c.cmd(&[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", &id]);
    c.cmd(&[b"GET", b"k"]);
    drop(sub);
    let mut other = server.raw();
    eventually("the target is gone", || {
        !String::from_utf8_lossy(&other.cmd(&[b"CLIENT", b"LIST"]))
            .contains(&format!("id={} ", String::from_utf8_lossy(&id)))
    });
    other.cmd(&[b"SET", b"k", b"2"]);
    c.expect(&[b">2\r\n$21\r\ntracking-redir-broken\r\n:", &id[..], b"\r\n"].concat());
    let list = String::from_utf8_lossy(&c.cmd(&[b"CLIENT", b"INFO"])).into_owned();
    assert!(list.contains(" flags=tR "), "{list}");
}

#[test]
fn bcast_sends_every_change_under_the_prefixes_sorted_and_noloop_skips_its_own() {
    let server = rudis(&["--threads", "2"]);
    let mut a = resp3(&server);
    a.expect_cmd(
        &[
            b"CLIENT",
            b"TRACKING",
            b"ON",
            b"BCAST",
            b"PREFIX",
            b"a:",
            b"PREFIX",
            b"b:",
        ],
        b"+OK\r\n",
    );
    let mut w = server.raw();
    w.cmd(&[
        b"MSET", b"b:2", b"x", b"a:1", b"x", b"c:1", b"x", b"b:1", b"x",
    ]);
    // One message per prefix and command, keys in order.
    let mut got = vec![
        String::from_utf8_lossy(&a.reply()).into_owned(),
        String::from_utf8_lossy(&a.reply()).into_owned(),
    ];
    got.sort();
    assert_eq!(
        got,
        [
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\na:1\r\n",
            ">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nb:1\r\n$3\r\nb:2\r\n",
        ]
    );
    let mut n = resp3(&server);
    n.cmd(&[b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"NOLOOP"]);
    n.cmd(&[b"SET", b"own", b"1"]);
    assert!(
        n.quiet(Duration::from_millis(100)),
        "NOLOOP sent its own change"
    );
    w.cmd(&[b"SET", b"theirs", b"1"]);
    n.expect(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ntheirs\r\n");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let server = rudis(&[]);
    let mut a = resp3(&server);
    let mut w = server.raw();
    a.cmd(&[b"CLIENT", b"TRACKING", b"ON", b"OPTIN"]);
    a.cmd(&[b"GET", b"not-cached"]);
    a.cmd(&[b"CLIENT", b"CACHING", b"YES"]);
    a.cmd(&[b"GET", b"cached"]);
    w.cmd(&[b"MSET", b"not-cached", b"1", b"cached", b"1"]);
    a.expect(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n");
    assert!(a.quiet(Duration::from_millis(100)));
    a.cmd(&[b"CLIENT", b"TRACKING", b"OFF"]);
    a.cmd(&[b"CLIENT", b"TRACKING", b"ON", b"OPTOUT"]);
    a.cmd(&[b"CLIENT", b"CACHING", b"NO"]);
    a.cmd(&[b"GET", b"not-cached"]);
    a.cmd(&[b"GET", b"cached"]);
    w.cmd(&[b"MSET", b"not-cached", b"2", b"cached", b"2"]);
    a.expect(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n");
    assert!(a.quiet(Duration::from_millis(100)));
}

#[test]
fn the_tracking_table_stays_within_its_limit() {
    let server = rudis(&[]);
    let mut a = resp3(&server);
    a.cmd(&[b"CLIENT", b"TRACKING", b"ON"]);
    for i in 0..300 {
        a.cmd(&[b"GET", format!("key{i}").as_bytes()]);
    }
    let mut c = server.raw();
    let keys = |c: &mut Raw| {
        String::from_utf8_lossy(&c.cmd(&[b"INFO", b"stats"]))
            .lines()
            .find_map(|l| {
                l.strip_prefix("tracking_total_keys:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    assert_eq!(keys(&mut c), "300");
    c.cmd(&[b"CONFIG", b"SET", b"tracking-table-max-keys", b"10"]);
    // Evicted keys are invalidated: 290 messages, then no more.
    for _ in 0..290 {
        let m = a.reply();
        assert!(m.starts_with(b">2\r\n$10\r\ninvalidate\r\n*1\r\n"), "{m:?}");
    }
    assert!(a.quiet(Duration::from_millis(300)));
    assert_eq!(keys(&mut c), "10");
}

/// A client-side cache driven by invalidations stays right while another
/// thread keeps writing: a read registers its key before the shard is
/// unlocked, so no write can fall between a read and its registration.
#[test]
fn a_client_side_cache_never_keeps_a_stale_value() {
    let server = rudis(&["--threads", "4"]);
    let mut a = resp3(&server);
    a.cmd(&[b"CLIENT", b"TRACKING", b"ON"]);
    a.cmd(&[b"SET", b"counter", b"0"]);
    let mut w = server.raw();
    let writer = std::thread::spawn(move || {
        for _ in 0..3000 {
            w.cmd(&[b"INCR", b"counter"]);
        }
    });
    let mut cache: Option<Vec<u8>> = None;
    let mut checks = 0;
    // Reads through the cache until the writer is done.
    let read = |a: &mut Raw, cache: &mut Option<Vec<u8>>| {
        if cache.is_none() {
            a.send(&encode(&[b"GET", b"counter"]));
            loop {
                let r = a.reply();
                if r.starts_with(b">") {
                    *cache = None;
                } else {
                    *cache = Some(r);
                    break;
                }
            }
        }
    };
    // Takes whatever invalidations have arrived, up to a PING's reply.
    let drain = |a: &mut Raw, cache: &mut Option<Vec<u8>>| {
        a.send(&encode(&[b"PING"]));
        while a.reply().starts_with(b">") {
            *cache = None;
        }
    };
    while !writer.is_finished() {
        read(&mut a, &mut cache);
        checks += 1;
        drain(&mut a, &mut cache);
    }
    writer.join().unwrap();
    // After the last write, a round trip drains its invalidation.
    drain(&mut a, &mut cache);
    read(&mut a, &mut cache);
    assert_eq!(cache.unwrap(), b"$4\r\n3000\r\n", "after {checks} reads");
}

#[test]
fn a_script_that_reads_tracks_its_declared_keys() {
    // Redis tracks a script's declared keys once it calls a read command,
    // and the keys of its reads not at all (bytes from Redis 7.0.15).
    let server = rudis(&[]);
    let mut a = resp3(&server);
    let mut b = server.raw();
    a.expect_cmd(&[b"CLIENT", b"TRACKING", b"ON"], b"+OK\r\n");
    let inv = |k: &[u8]| {
        let mut m = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\n".to_vec();
        m.extend_from_slice(k);
        m.extend_from_slice(b"\r\n");
        m
    };
    let change = |b: &mut Raw| {
        b.cmd(&[b"MSET", b"k2{t}", b"2", b"k1{t}", b"2", b"k3{t}", b"x"]);
    };
    // No read: nothing tracked.
    a.expect_cmd(
        &[
            b"EVAL",
            b"redis.call('set', 'k3{t}', 'bar')",
            b"2",
            b"k1{t}",
            b"k2{t}",
        ],
        b"_\r\n",
    );
    change(&mut b);
    assert!(a.quiet(Duration::from_millis(100)));
    // A read: the declared keys, not the key read.
    a.cmd(&[
        b"EVAL",
        b"return redis.call('get', 'k3{t}')",
        b"2",
        b"k1{t}",
        b"k2{t}",
    ]);
    change(&mut b);
    let mut both = inv(b"k2{t}");
    both.extend_from_slice(&inv(b"k1{t}"));
    a.expect(&both);
    // EVAL_RO is no read by itself.
    a.expect_cmd(
        &[
            b"EVAL_RO",
            b"return redis.call('ping')",
            b"2",
            b"k1{t}",
            b"k2{t}",
        ],
        b"+PONG\r\n",
    );
    change(&mut b);
    assert!(a.quiet(Duration::from_millis(100)));
    a.cmd(&[
        b"EVAL_RO",
        b"return redis.call('get','k1{t}')",
        b"1",
        b"k2{t}",
    ]);
    change(&mut b);
    a.expect(&inv(b"k2{t}"));
    assert!(a.quiet(Duration::from_millis(100)));
}
