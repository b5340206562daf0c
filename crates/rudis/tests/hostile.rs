//! What a hostile client tries: commands that would make the server
//! reserve unbounded memory or fail, connections that must not leak,
//! and the limits around AUTH, protected mode, descriptors and shutdown.
//! Where Redis 7.0.15 has an answer, the expected bytes are its own.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{connect_from, encode, eventually, rudis, rudis_bin, Proc, DEADLINE};

fn client_count(s: &Proc) -> usize {
    let mut c = s.raw();
    let list = c.cmd(&[b"CLIENT", b"LIST"]);
    String::from_utf8_lossy(&list).matches("id=").count()
}

#[test]
fn huge_random_counts_are_refused_and_the_server_lives() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"SADD", b"s", b"a"]), b":1\r\n");
    assert_eq!(c.cmd(&[b"HSET", b"h", b"f", b"v"]), b":1\r\n");
    let refused = b"-ERR value is out of range\r\n";
    for count in [
        &b"-100000000000"[..],
        b"-2147483648",
        b"-2000000000000000000",
        b"-9223372036854775807",
    ] {
        assert_eq!(c.cmd(&[b"SRANDMEMBER", b"s", count]), refused);
        assert_eq!(c.cmd(&[b"HRANDFIELD", b"h", count]), refused);
    }
    assert_eq!(
        c.cmd(&[b"HRANDFIELD", b"h", b"-1000000000000000000"]),
        refused
    );
    assert_eq!(
        c.cmd(&[b"HRANDFIELD", b"h", b"-100000000000", b"WITHVALUES"]),
        refused
    );
    // Counts the reply can hold still work, repeating the one member.
    let reply = c.cmd(&[b"SRANDMEMBER", b"s", b"-1000"]);
    assert_eq!(
        reply,
        b"*1000\r\n"
            .iter()
            .chain(b"$1\r\na\r\n".repeat(1000).iter())
            .copied()
            .collect::<Vec<u8>>()
    );
    let reply = c.cmd(&[b"HRANDFIELD", b"h", b"-3", b"WITHVALUES"]);
    assert_eq!(
        reply,
        b"*6\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn a_random_reply_that_outgrows_the_limit_is_replaced_by_an_error() {
    // The count passes the up-front check (it assumes empty members), but
    // 1000-byte values make the reply outgrow proto-max-bulk-len (1 MB).
    let s = rudis(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.raw();
    let big = vec![b'x'; 1000];
    assert_eq!(c.cmd(&[b"HSET", b"h", b"f", &big]), b":1\r\n");
    assert_eq!(c.cmd(&[b"SADD", b"s", &big]), b":1\r\n");
    assert_eq!(
        c.cmd(&[b"HRANDFIELD", b"h", b"-20000", b"WITHVALUES"]),
        b"-ERR value is out of range\r\n"
    );
    assert_eq!(
        c.cmd(&[b"SRANDMEMBER", b"s", b"-20000"]),
        b"-ERR value is out of range\r\n"
    );
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn failed_commands_never_leak_connection_slots() {
    // Before, such a count panicked: the connection dropped without a
    // reply but kept its slot, and maxclients of them locked everyone out.
    let s = rudis(&["--maxclients", "4"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"SADD", b"s", b"a"]), b":1\r\n");
    drop(c);
    for _ in 0..12 {
        let mut c = s.raw();
        let reply = c.cmd(&[b"SRANDMEMBER", b"s", b"-2000000000000000000"]);
        assert_eq!(reply, b"-ERR value is out of range\r\n");
        let reply = c.cmd(&[b"HRANDFIELD", b"s", b"-2000000000000000000"]);
        assert!(reply.starts_with(b"-WRONGTYPE"));
    }
    eventually("only the asking client is listed", || client_count(&s) == 1);
    let mut c = s.raw();
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"stats"])).into_owned();
    assert!(info.contains("rudis_command_panics:0\r\n"), "{info}");
}

#[test]
fn corrupt_hyperloglogs_are_never_trusted() {
    let s = rudis(&[]);
    let mut c = s.raw();
    // A sparse value cut inside an XZERO opcode: Redis 7.0.15 answers :1.
    let cut = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f";
    assert_eq!(c.cmd(&[b"SET", b"h", cut]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"PFADD", b"h", b"a"]), b":1\r\n");
    let reply = c.cmd(&[b"PFCOUNT", b"h"]);
    assert!(
        reply.starts_with(b":") || reply.starts_with(b"-INVALIDOBJ"),
        "{reply:?}"
    );
    // Runs that cover too few or too many registers: Redis's errors.
    let corrupt = b"-INVALIDOBJ Corrupted HLL object detected\r\n";
    let short = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x40\x00";
    assert_eq!(c.cmd(&[b"SET", b"h", short]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"PFCOUNT", b"h"]), corrupt);
    let long = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff\x7f\xff\x80";
    assert_eq!(c.cmd(&[b"SET", b"h2", long]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"PFCOUNT", b"h2"]), corrupt);
    assert_eq!(c.cmd(&[b"PFCOUNT", b"h2", b"h"]), corrupt);
    assert_eq!(c.cmd(&[b"PFMERGE", b"d", b"h2"]), corrupt);
    for bad in [
        &b"HYLL\x01"[..],
        b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x01",
        b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0",
    ] {
        assert_eq!(c.cmd(&[b"SET", b"w", bad]), b"+OK\r\n");
        assert_eq!(
            c.cmd(&[b"PFADD", b"w", b"a"]),
            b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"
        );
    }
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn requests_pipelined_after_auth_get_the_authenticated_limits() {
    let s = rudis(&["--requirepass", "secret"]);
    let mut c = s.raw();
    let mut batch = encode(&[b"AUTH", b"secret"]);
    let keys: Vec<Vec<u8>> = (0..11).map(|i| format!("k{i}").into_bytes()).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(keys.iter().map(|k| k.as_slice()));
    batch.extend(encode(&del));
    let big = vec![b'v'; 20_000];
    batch.extend(encode(&[b"SET", b"big", &big]));
    batch.extend(encode(&[b"STRLEN", b"big"]));
    c.send(&batch);
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.reply(), b":0\r\n");
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.reply(), b":20000\r\n");
}

#[test]
fn protected_mode_is_off_once_a_password_is_set() {
    // Redis 7.0.15 with --requirepass x: a remote client gets NOAUTH, not
    // DENIED, and can authenticate.
    let s = rudis(&["--requirepass", "x"]);
    let mut remote = connect_from("127.0.0.2", s.port);
    remote.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 34];
    remote.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"-NOAUTH Authentication required.\r\n");
    remote.write_all(b"AUTH x\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 12];
    remote.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+OK\r\n+PONG\r\n");
}

/// rudis started under an open-file limit of `limit` (soft and hard).
fn rudis_with_fd_limit(limit: u32, args: &[&str]) -> Proc {
    let script = format!("ulimit -Sn {limit} && ulimit -Hn {limit} && exec \"$0\" \"$@\"");
    let mut all = vec![
        "-c",
        &script,
        rudis_bin(),
        "--bind",
        "127.0.0.1",
        "--loglevel",
        "notice",
    ];
    all.extend_from_slice(args);
    Proc::spawn("sh", &all)
}

#[test]
fn a_low_open_file_limit_lowers_maxclients_and_refuses_the_rest() {
    // 2 threads reserve 32 + 3 x 2 descriptors, as the log says.
    let logfile = std::env::temp_dir().join(format!("rudis-fdlimit-{}.log", std::process::id()));
    let logpath = logfile.to_string_lossy().into_owned();
    let s = rudis_with_fd_limit(
        100,
        &[
            "--threads",
            "2",
            "--maxclients",
            "1000",
            "--logfile",
            &logpath,
        ],
    );
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$2\r\n62\r\n"
    );
    let log = std::fs::read_to_string(&logfile).unwrap_or_default();
    let _ = std::fs::remove_file(&logfile);
    assert!(log.contains("maxclients has been reduced to 62"), "{log}");
    // Redis's refusal, with the number that would work.
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"500"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with 62\r\n".to_vec()
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"40"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"maxclients", b"62"]),
        b"+OK\r\n"
    );
    // Every connection past the limit is answered, none hangs.
    let mut open = vec![c];
    let mut refused = 0;
    for _ in 0..90 {
        let mut r = s.raw();
        r.send(b"PING\r\n");
        let reply = r.reply();
        if reply == b"+PONG\r\n" {
            open.push(r);
        } else {
            assert_eq!(reply, b"-ERR max number of clients reached\r\n");
            refused += 1;
        }
    }
    assert!(
        open.len() <= 62 && refused >= 28,
        "{} open, {refused} refused",
        open.len()
    );
}

#[test]
fn shutdown_does_not_wait_for_a_client_that_never_reads() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let value = vec![b'x'; 1 << 20];
    assert_eq!(c.cmd(&[b"SET", b"big", &value]), b"+OK\r\n");
    // Asks for far more than the socket buffers hold, and never reads.
    let mut stuck = s.raw();
    let gets: Vec<u8> = encode(&[b"GET", b"big"]).repeat(64);
    stuck.send(&gets);
    std::thread::sleep(Duration::from_millis(300));
    let mut s = s;
    let start = Instant::now();
    c.send(b"SHUTDOWN NOSAVE\r\n");
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < DEADLINE, "server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    // The old drain waited 5 s for such a client.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn bind_takes_several_addresses_in_one_argument() {
    let s = Proc::spawn(
        rudis_bin(),
        &["--bind", "127.0.0.1 127.0.0.2", "--protected-mode", "no"],
    );
    for addr in ["127.0.0.1", "127.0.0.2"] {
        let mut t = TcpStream::connect((addr, s.port)).unwrap();
        t.set_read_timeout(Some(DEADLINE)).unwrap();
        t.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        t.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+PONG\r\n");
    }
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"CONFIG", b"GET", b"bind"]),
        b"*2\r\n$4\r\nbind\r\n$19\r\n127.0.0.1 127.0.0.2\r\n"
    );
}
