//! The `redis` crate speaking RESP3 (it sends HELLO 3 on connect), as
//! current client libraries do.

mod common;

use redis::{Commands, Value};

#[test]
fn a_resp3_client_works() {
    let s = common::rudis(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port)).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = c.set("k", "v").unwrap();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v");
    // A missing key is RESP3's null.
    let missing: Value = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    assert_eq!(missing, Value::Nil);
    let n: i64 = c.incr("n", 5).unwrap();
    assert_eq!(n, 5);
    let _: bool = c.expire("k", 100).unwrap();
    let ttl: i64 = c.ttl("k").unwrap();
    assert_eq!(ttl, 100);
    // CONFIG GET is a map in RESP3.
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .unwrap();
    assert!(
        matches!(config, Value::Map(ref m) if m.len() == 1),
        "{config:?}"
    );
    // HELLO reports protocol 3.
    let hello: Value = redis::cmd("HELLO").query(&mut c).unwrap();
    let Value::Map(fields) = hello else {
        panic!("{hello:?}")
    };
    assert!(fields
        .iter()
        .any(|(k, v)| *k == Value::BulkString(b"proto".to_vec()) && *v == Value::Int(3)));
    // INFO is verbatim text in RESP3; the crate hands it over as a string.
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    let info: redis::InfoDict = redis::cmd("INFO").query(&mut c).unwrap();
    assert_eq!(
        info.get::<String>("redis_mode").as_deref(),
        Some("standalone")
    );
}
