//! Collections meeting the generic commands, beyond what the differential
//! corpus shows.

mod common;

use common::{eventually, rudis};
use redis::cmd;

/// INFO lazyfreed_objects: values freed by the lazy-free thread so far.
fn lazyfreed(c: &mut redis::Connection) -> i64 {
    let info: String = cmd("INFO").arg("memory").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("lazyfreed_objects:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("lazyfreed_objects")
}

/// UNLINK of a million-element list returns at once and the list is
/// freed by the lazy-free thread (INFO counts it), not by the command.
#[test]
fn unlink_frees_big_collections_in_the_background() {
    let server = rudis(&[]);
    let mut c = server.client();
    let batch: Vec<String> = (0..10_000).map(|i| format!("element-{i}")).collect();
    for _ in 0..100 {
        let _: i64 = cmd("RPUSH").arg("big").arg(&batch).query(&mut c).unwrap();
    }
    let _: i64 = cmd("SADD").arg("bigset").arg(&batch).query(&mut c).unwrap();
    assert_eq!(
        cmd("LLEN").arg("big").query::<i64>(&mut c).unwrap(),
        1_000_000
    );
    let freed = lazyfreed;
    let before = freed(&mut c);
    assert_eq!(
        cmd("UNLINK")
            .arg("big")
            .arg("bigset")
            .query::<i64>(&mut c)
            .unwrap(),
        2
    );
    assert_eq!(cmd("EXISTS").arg("big").query::<i64>(&mut c).unwrap(), 0);
    eventually("both values freed in the background", || {
        freed(&mut c) == before + 2
    });
    // A small collection is freed inline.
    let _: i64 = cmd("RPUSH").arg("small").arg("x").query(&mut c).unwrap();
    assert_eq!(cmd("UNLINK").arg("small").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(freed(&mut c), before + 2);
}

fn used_memory(c: &mut redis::Connection) -> i64 {
    let info: String = cmd("INFO").arg("memory").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

/// `list-compress-depth` really compresses inner chunks: the same
/// compressible list takes far less memory, and reads and writes in its
/// middle see the same elements.
#[test]
fn list_compress_depth_compresses_inner_chunks() {
    let fill = |server: &common::Proc| {
        let mut c = server.client();
        let before = used_memory(&mut c);
        for b in 0..20 {
            let batch: Vec<String> = (0..1000)
                .map(|i| format!("element-{b}-{i}-{}", "abcdefgh".repeat(12)))
                .collect();
            let _: i64 = cmd("RPUSH").arg("l").arg(&batch).query(&mut c).unwrap();
        }
        (used_memory(&mut c) - before, c)
    };
    let (plain, _) = fill(&rudis(&[]));
    let packed_server = rudis(&["--list-compress-depth", "1"]);
    let (packed, mut c) = fill(&packed_server);
    assert!(
        packed * 3 < plain,
        "compressed {packed} bytes vs plain {plain}"
    );
    let at = |c: &mut redis::Connection, i: i64| -> String {
        cmd("LINDEX").arg("l").arg(i).query(c).unwrap()
    };
    assert_eq!(
        at(&mut c, 10_500),
        format!("element-10-500-{}", "abcdefgh".repeat(12))
    );
    let _: () = cmd("LSET")
        .arg("l")
        .arg(7_000)
        .arg("changed")
        .query(&mut c)
        .unwrap();
    let n: i64 = cmd("LINSERT")
        .arg("l")
        .arg("BEFORE")
        .arg("changed")
        .arg("new")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 20_001);
    let range: Vec<String> = cmd("LRANGE")
        .arg("l")
        .arg(6_999)
        .arg(7_002)
        .query(&mut c)
        .unwrap();
    assert_eq!(range[1..3], ["new".to_string(), "changed".to_string()]);
    assert!(range[0].starts_with("element-6-999-") && range[3].starts_with("element-7-1-"));
    let removed: i64 = cmd("LREM")
        .arg("l")
        .arg(0)
        .arg("new")
        .query(&mut c)
        .unwrap();
    assert_eq!(removed, 1);
    let all: Vec<String> = cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(all.len(), 20_000);
    assert_eq!(all[7_000], "changed");
    assert_eq!(
        all[19_999],
        format!("element-19-999-{}", "abcdefgh".repeat(12))
    );
}

/// The list directives under both of Redis's names, with its errors.
#[test]
fn list_directives_have_redis_names_and_ranges() {
    let server = rudis(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"list-max-ziplist-size", b"4"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"list-max-listpack-size"]),
        b"*2\r\n$22\r\nlist-max-listpack-size\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"list-compress-depth", b"-1"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'list-compress-depth') - argument must be between 0 and 2147483647 inclusive\r\n".to_vec()
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"list-max-ziplist-size", b"3000000000"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'list-max-ziplist-size') - argument must be between -2147483648 and 2147483647 inclusive\r\n".to_vec()
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"list-compress-depth", b"2"]),
        b"+OK\r\n"
    );
    for i in 0..100 {
        c.cmd(&[b"RPUSH", b"l", format!("{i}").as_bytes()]);
    }
    assert_eq!(c.cmd(&[b"LINDEX", b"l", b"50"]), b"$2\r\n50\r\n");
}

/// lazyfree-lazy-user-del makes DEL free as UNLINK does, and
/// lazyfree-lazy-user-flush makes a FLUSHALL without a mode ASYNC.
#[test]
fn lazyfree_user_switches_move_freeing_to_the_background() {
    let server = rudis(&["--lazyfree-lazy-user-del", "yes"]);
    let mut c = server.client();
    let freed = lazyfreed;
    let batch: Vec<String> = (0..1000).map(|i| format!("e{i}")).collect();
    let _: i64 = cmd("RPUSH").arg("big").arg(&batch).query(&mut c).unwrap();
    let _: i64 = cmd("DEL").arg("big").query(&mut c).unwrap();
    eventually("DEL freed the list in the background", || {
        freed(&mut c) == 1
    });
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("lazyfree-lazy-user-del")
        .arg("no")
        .arg("lazyfree-lazy-user-flush")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("RPUSH").arg("big").arg(&batch).query(&mut c).unwrap();
    let _: i64 = cmd("DEL").arg("big").query(&mut c).unwrap();
    assert_eq!(freed(&mut c), 1, "DEL frees at once again");
    let _: i64 = cmd("RPUSH").arg("big").arg(&batch).query(&mut c).unwrap();
    let _: () = cmd("FLUSHALL").query(&mut c).unwrap();
    eventually("FLUSHALL freed in the background", || freed(&mut c) >= 2);
}
