//! Collections meeting the generic commands, beyond what the differential
//! corpus shows.

mod common;

use common::{eventually, rudis};
use redis::cmd;

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
    let freed = |c: &mut redis::Connection| -> i64 {
        let info: String = cmd("INFO").arg("memory").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("lazyfreed_objects:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("lazyfreed_objects")
    };
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
