//! Streams with several clients: blocked readers, consumer groups
//! sharing entries, readers told their key or group is gone, and the
//! node layout that approximate trimming and XINFO expose. Expected bytes
//! are Redis 7.0.15's for the same steps (run with
//! RUDIS_TEST_REFERENCE=redis-server to check them against it).

mod common;

use std::time::Duration;

use common::{blocked_clients, encode, rudis, wait_blocked};

/// `[[key, [[id, [f, v]]]]]` for one entry of one field.
fn one_entry(key: &str, id: &str, f: &str, v: &str) -> Vec<u8> {
    format!(
        "*1\r\n*2\r\n${}\r\n{key}\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*2\r\n${}\r\n{f}\r\n${}\r\n{v}\r\n",
        key.len(),
        id.len(),
        f.len(),
        v.len()
    )
    .into_bytes()
}

#[test]
fn every_blocked_reader_gets_the_new_entry() {
    let server = rudis(&[]);
    let (mut a, mut b, mut r3, mut w) = (server.raw(), server.raw(), server.raw(), server.raw());
    w.expect_cmd(&[b"XADD", b"s", b"1-0", b"old", b"x"], b"$3\r\n1-0\r\n");
    r3.cmd(&[b"HELLO", b"3"]);
    a.send(&encode(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]));
    b.send(&encode(&[
        b"XREAD", b"BLOCK", b"0", b"STREAMS", b"nokey", b"s", b"$", b"$",
    ]));
    r3.send(&encode(&[
        b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"1-0",
    ]));
    wait_blocked(&mut w, 3);
    // Nothing after the reader's ID: no one wakes.
    w.cmd(&[b"XADD", b"other", b"1-0", b"f", b"v"]);
    assert!(a.quiet(Duration::from_millis(100)));
    w.expect_cmd(&[b"XADD", b"s", b"5-0", b"f", b"v"], b"$3\r\n5-0\r\n");
    a.expect(&one_entry("s", "5-0", "f", "v"));
    b.expect(&one_entry("s", "5-0", "f", "v"));
    r3.expect(b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(blocked_clients(&mut w), 0);
}

#[test]
fn a_group_hands_each_new_entry_to_one_consumer() {
    let server = rudis(&[]);
    let (mut c1, mut c2, mut w) = (server.raw(), server.raw(), server.raw());
    w.expect_cmd(
        &[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"],
        b"+OK\r\n",
    );
    let read = |c: &str| {
        encode(&[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            c.as_bytes(),
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"s",
            b">",
        ])
    };
    c1.send(&read("c1"));
    wait_blocked(&mut w, 1);
    c2.send(&read("c2"));
    wait_blocked(&mut w, 2);
    w.cmd(&[b"XADD", b"s", b"1-0", b"f", b"a"]);
    c1.expect(&one_entry("s", "1-0", "f", "a"));
    assert!(c2.quiet(Duration::from_millis(100)));
    w.cmd(&[b"XADD", b"s", b"2-0", b"f", b"b"]);
    c2.expect(&one_entry("s", "2-0", "f", "b"));
    w.expect_cmd(
        &[b"XPENDING", b"s", b"g"],
        b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$2\r\nc1\r\n$1\r\n1\r\n*2\r\n$2\r\nc2\r\n$1\r\n1\r\n",
    );
    // c1's history: its pending entry, after the ID given.
    c1.expect_cmd(
        &[b"XREADGROUP", b"GROUP", b"g", b"c1", b"STREAMS", b"s", b"0"],
        &one_entry("s", "1-0", "f", "a"),
    );
    c1.expect_cmd(
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"c1",
            b"STREAMS",
            b"s",
            b"1-0",
        ],
        b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n",
    );
    w.expect_cmd(&[b"XACK", b"s", b"g", b"1-0", b"1-0", b"9-0"], b":1\r\n");
    w.expect_cmd(
        &[b"XINFO", b"GROUPS", b"s"],
        b"*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:1\r\n$17\r\nlast-delivered-id\r\n$3\r\n2-0\r\n$12\r\nentries-read\r\n:2\r\n$3\r\nlag\r\n:0\r\n",
    );
}

#[test]
fn group_readers_learn_their_key_or_group_is_gone() {
    let server = rudis(&[]);
    let (mut gr, mut plain, mut w) = (server.raw(), server.raw(), server.raw());
    w.cmd(&[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"]);
    let group_read = encode(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"c",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    gr.send(&group_read);
    plain.send(&encode(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]));
    wait_blocked(&mut w, 2);
    w.expect_cmd(&[b"DEL", b"s"], b":1\r\n");
    gr.expect(b"-UNBLOCKED the stream key no longer exists\r\n");
    // A plain reader waits on, for a stream made anew.
    assert!(plain.quiet(Duration::from_millis(100)));
    w.cmd(&[b"XADD", b"s", b"3-0", b"f", b"v"]);
    plain.expect(&one_entry("s", "3-0", "f", "v"));

    w.cmd(&[b"XGROUP", b"CREATE", b"s", b"g", b"$"]);
    gr.send(&group_read);
    wait_blocked(&mut w, 1);
    w.expect_cmd(&[b"SET", b"s", b"x"], b"+OK\r\n");
    gr.expect(b"-UNBLOCKED the stream key no longer exists\r\n");

    w.cmd(&[b"DEL", b"s"]);
    w.cmd(&[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"]);
    gr.send(&group_read);
    wait_blocked(&mut w, 1);
    w.expect_cmd(&[b"XGROUP", b"DESTROY", b"s", b"g"], b":1\r\n");
    gr.expect(b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n");
    let stats = String::from_utf8(w.cmd(&[b"INFO", b"errorstats"])).unwrap();
    assert!(stats.contains("errorstat_NOGROUP:count=1"), "{stats}");
    assert!(stats.contains("errorstat_UNBLOCKED:count=2"), "{stats}");

    w.cmd(&[b"XGROUP", b"CREATE", b"s", b"g", b"$"]);
    gr.send(&group_read);
    wait_blocked(&mut w, 1);
    w.expect_cmd(&[b"FLUSHALL"], b"+OK\r\n");
    gr.expect(b"-UNBLOCKED the stream key no longer exists\r\n");
}

#[test]
fn blocking_reads_answer_at_once_in_a_transaction_or_a_script() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"MULTI"]);
    c.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    c.expect_cmd(&[b"EXEC"], b"*1\r\n*-1\r\n");
    c.expect_cmd(
        &[
            b"EVAL",
            b"return redis.pcall('xread','block','0','streams','s','$')",
            b"0",
        ],
        b"-ERR xread command is not allowed with BLOCK option from scripts\r\n",
    );
    c.expect_cmd(
        &[b"XREAD", b"BLOCK", b"x", b"STREAMS", b"s", b"$"],
        b"-ERR timeout is not an integer or out of range\r\n",
    );
    c.expect_cmd(
        &[b"XREAD", b"BLOCK", b"20", b"STREAMS", b"s", b"$"],
        b"*-1\r\n",
    );
}

#[test]
fn nodes_split_and_trim_as_redis() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"CONFIG", b"SET", b"stream-node-max-entries", b"10"]);
    for i in 1..=100 {
        let id = format!("{i}-0");
        c.cmd(&[b"XADD", b"s", id.as_bytes(), b"item", b"v"]);
    }
    // Whole nodes only: 40 of the 45 asked for.
    c.expect_cmd(&[b"XTRIM", b"s", b"MAXLEN", b"~", b"55"], b":40\r\n");
    c.expect_cmd(
        &[b"XTRIM", b"s", b"MAXLEN", b"~", b"0", b"LIMIT", b"30"],
        b":30\r\n",
    );
    c.expect_cmd(&[b"XTRIM", b"s", b"MAXLEN", b"25"], b":5\r\n");
    c.expect_cmd(&[b"XLEN", b"s"], b":25\r\n");
    let info = c.cmd(&[b"XINFO", b"STREAM", b"s"]);
    let text = String::from_utf8_lossy(&info);
    assert!(text.contains("$15\r\nradix-tree-keys\r\n:3\r\n"), "{text}");
    assert!(
        text.contains("$23\r\nrecorded-first-entry-id\r\n$4\r\n76-0\r\n"),
        "{text}"
    );
    // A node counts its bytes as a listpack would: two entries of a
    // 21-byte value fill 79 of 100 bytes, and a third would pass 100.
    c.cmd(&[b"DEL", b"s"]);
    c.cmd(&[b"CONFIG", b"SET", b"stream-node-max-entries", b"0"]);
    c.cmd(&[b"CONFIG", b"SET", b"stream-node-max-bytes", b"100"]);
    for i in 1..=5 {
        let id = format!("{i}-0");
        c.cmd(&[b"XADD", b"s", id.as_bytes(), b"f", &[b'x'; 21]]);
    }
    let info = String::from_utf8(c.cmd(&[b"XINFO", b"STREAM", b"s"])).unwrap();
    assert!(info.contains("$15\r\nradix-tree-keys\r\n:3\r\n"), "{info}");
}

#[test]
fn streams_move_copy_and_describe_like_other_keys() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"XADD", b"s", b"1-0", b"f", b"v"]);
    c.cmd(&[b"XGROUP", b"CREATE", b"s", b"g", b"0"]);
    c.cmd(&[b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">"]);
    c.expect_cmd(&[b"TYPE", b"s"], b"+stream\r\n");
    c.expect_cmd(&[b"OBJECT", b"ENCODING", b"s"], b"$6\r\nstream\r\n");
    c.expect_cmd(&[b"COPY", b"s", b"s2"], b":1\r\n");
    // The copy has its own groups: acknowledging in one leaves the other.
    c.expect_cmd(&[b"XACK", b"s2", b"g", b"1-0"], b":1\r\n");
    c.expect_cmd(
        &[b"XPENDING", b"s", b"g"],
        b"*4\r\n:1\r\n$3\r\n1-0\r\n$3\r\n1-0\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n",
    );
    c.expect_cmd(&[b"RENAME", b"s2", b"s3"], b"+OK\r\n");
    c.expect_cmd(&[b"XLEN", b"s3"], b":1\r\n");
    c.cmd(&[b"SET", b"str", b"x"]);
    // The two streams, in the table's order.
    let scan = c.cmd(&[b"SCAN", b"0", b"TYPE", b"stream", b"COUNT", b"100"]);
    let text = String::from_utf8_lossy(&scan);
    assert!(text.starts_with("*2\r\n$1\r\n0\r\n*2\r\n"), "{text}");
    assert!(
        text.contains("$1\r\ns\r\n") && text.contains("$2\r\ns3\r\n"),
        "{text}"
    );
    let usage = c.cmd(&[b"MEMORY", b"USAGE", b"s"]);
    assert!(usage.starts_with(b":"), "{usage:?}");
    // An emptied stream stays, as Redis's does.
    c.cmd(&[b"XDEL", b"s", b"1-0"]);
    c.expect_cmd(&[b"EXISTS", b"s"], b":1\r\n");
    c.expect_cmd(&[b"XLEN", b"s"], b":0\r\n");
}
