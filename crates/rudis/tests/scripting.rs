//! Scripts and functions across connections: a long script makes the
//! others wait with -BUSY, SCRIPT KILL / FUNCTION KILL end it, and what a
//! script's errors count in INFO. One-connection replies are compared with
//! Redis in tests/differential/{scripting,functions}.txt; the expected
//! bytes and counts here are Redis 7.0.15's.

mod common;

use common::{encode, eventually, rudis, Raw};

const BUSY_EVAL: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

fn busy_until_killed(server: &common::Proc, kill: &[&[u8]]) -> Raw {
    let mut other = server.raw();
    eventually("the other client gets -BUSY", || {
        other.cmd(&[b"PING"]) == BUSY_EVAL
            || other.cmd(&[b"PING"]).starts_with(
                b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL",
            )
    });
    other.expect_cmd(kill, b"+OK\r\n");
    other
}

#[test]
fn a_long_script_makes_others_busy_until_script_kill() {
    let server = rudis(&["--threads", "2", "--busy-reply-threshold", "50"]);
    let mut runner = server.raw();
    runner.send(&encode(&[
        b"EVAL",
        b"local i = 0 while true do i = i + 1 end",
        b"0",
    ]));
    let mut other = busy_until_killed(&server, &[b"SCRIPT", b"KILL"]);
    let reply = runner.reply();
    assert!(
        reply.starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // Both are served again.
    runner.expect_cmd(&[b"PING"], b"+PONG\r\n");
    other.expect_cmd(&[b"PING"], b"+PONG\r\n");
    other.expect_cmd(
        &[b"SCRIPT", b"KILL"],
        b"-NOTBUSY No scripts in execution right now.\r\n",
    );
}

#[test]
fn pcall_cannot_hold_off_a_kill() {
    let server = rudis(&["--busy-reply-threshold", "50"]);
    let mut runner = server.raw();
    runner.send(&encode(&[
        b"EVAL",
        b"while true do pcall(function() while true do end end) end",
        b"0",
    ]));
    busy_until_killed(&server, &[b"SCRIPT", b"KILL"]);
    let reply = runner.reply();
    assert!(reply.starts_with(b"-ERR Script killed by user with SCRIPT KILL..."));
}

#[test]
fn a_script_that_wrote_cannot_be_killed_a_function_can() {
    let server = rudis(&["--busy-reply-threshold", "50"]);
    let mut runner = server.raw();
    // A function that has not written: FUNCTION KILL ends it, SCRIPT KILL
    // is told to use FUNCTION KILL.
    runner.expect_cmd(
        &[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=lib\nredis.register_function('spin', function() while true do end end)",
        ],
        b"$3\r\nlib\r\n",
    );
    runner.send(&encode(&[b"FCALL", b"spin", b"0"]));
    let mut other = server.raw();
    eventually("FUNCTION STATS shows the running function", || {
        let stats = other.cmd(&[b"FUNCTION", b"STATS"]);
        stats.windows(4).any(|w| w == b"spin")
    });
    other.expect_cmd(
        &[b"SCRIPT", b"KILL"],
        b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n",
    );
    other.expect_cmd(&[b"FUNCTION", b"KILL"], b"+OK\r\n");
    assert!(runner.reply().starts_with(
        b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    ));
    // A script that wrote: UNKILLABLE, and it runs on.
    runner.send(&encode(&[
        b"EVAL",
        b"redis.call('set', 'x', 1) local n = 0 while n < 30000000 do n = n + 1 end return n",
        b"0",
    ]));
    eventually("the writer is busy", || other.cmd(&[b"PING"]) == BUSY_EVAL);
    let r = other.cmd(&[b"SCRIPT", b"KILL"]);
    assert!(r.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(runner.reply(), b":30000000\r\n");
}

fn info_line(c: &mut Raw, section: &[u8], name: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", section])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn errors_of_scripts_count_once() {
    let server = rudis(&[]);
    let mut c = server.raw();
    c.cmd(&[b"SET", b"strk", b"v"]);
    c.cmd(&[b"CONFIG", b"RESETSTAT"]);
    for script in [
        &b"return redis.call('hget', 'strk', 'a')"[..],
        b"return redis.error_reply('MY_ERR_CODE custom msg')",
        b"return redis.pcall('hget', 'nosuchhh', 'a', 'b')",
        b"return redis.call('nosuchcmd')",
        b"error('x')",
    ] {
        assert_eq!(c.cmd(&[b"EVAL", script, b"0"])[0], b'-');
    }
    // Redis 7.0.15's counts after the same five scripts.
    assert_eq!(info_line(&mut c, b"errorstats", "errorstat_ERR"), "count=3");
    assert_eq!(
        info_line(&mut c, b"errorstats", "errorstat_WRONGTYPE"),
        "count=1"
    );
    assert_eq!(
        info_line(&mut c, b"errorstats", "errorstat_MY_ERR_CODE"),
        "count=1"
    );
    let eval = info_line(&mut c, b"commandstats", "cmdstat_eval");
    assert!(
        eval.starts_with("calls=5,") && eval.ends_with("rejected_calls=0,failed_calls=5"),
        "{eval}"
    );
    let hget = info_line(&mut c, b"commandstats", "cmdstat_hget");
    assert!(
        hget.starts_with("calls=1,") && hget.ends_with("rejected_calls=1,failed_calls=1"),
        "{hget}"
    );
}

#[test]
fn a_script_touching_undeclared_keys_stays_atomic() {
    // Keys in many shards, none declared: the script locks each as it
    // touches it, while other threads write the same keys.
    let server = rudis(&["--threads", "4"]);
    let keys: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
    let mut writers: Vec<_> = (0..3).map(|_| server.raw()).collect();
    let mut script = server.raw();
    for round in 0..50 {
        for (w, c) in writers.iter_mut().enumerate() {
            let k = &keys[(round * 3 + w) % keys.len()];
            c.send(&encode(&[b"INCR", k.as_bytes()]));
        }
        // Sets every key to the same value and reads them back: no write
        // from another client can land in between.
        let r = script.cmd(&[
            b"EVAL",
            b"for i = 0, 63 do redis.call('set', 'k' .. i, ARGV[1]) end \
              for i = 0, 63 do if redis.call('get', 'k' .. i) ~= ARGV[1] then return 0 end end return 1",
            b"0",
            round.to_string().as_bytes(),
        ]);
        assert_eq!(r, b":1\r\n", "round {round}");
        for c in writers.iter_mut() {
            let reply = c.reply();
            assert_eq!(reply[0], b':');
        }
    }
}

/// Function names are found whatever their case (and collide so), a
/// library's name may be quoted on its shebang line, and FUNCTION FLUSH
/// takes one mode at most.
#[test]
fn function_names_ignore_case_and_library_names_may_be_quoted() {
    let server = common::rudis(&[]);
    let mut c = server.raw();
    c.expect_cmd(
        &[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=\"quoted\"\nredis.register_function('Hello', function() return 'hi' end)",
        ],
        b"$6\r\nquoted\r\n",
    );
    c.expect_cmd(&[b"FCALL", b"HELLO", b"0"], b"$2\r\nhi\r\n");
    c.expect_cmd(&[b"FCALL", b"hello", b"0"], b"$2\r\nhi\r\n");
    c.expect_cmd(
        &[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=other\nredis.register_function('HELLO', function() return 1 end)",
        ],
        b"-ERR Function HELLO already exists\r\n",
    );
    c.expect_cmd(
        &[b"FUNCTION", b"FLUSH", b"SYNC", b"extra"],
        b"-ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.\r\n",
    );
    c.expect_cmd(
        &[b"FUNCTION", b"FLUSH", b"soon"],
        b"-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n",
    );
}

/// FUNCTION DUMP's payload restores the libraries under each policy;
/// a damaged payload, a bad policy and collisions are refused and leave
/// the libraries as they were.
#[test]
fn function_dump_and_restore_under_each_policy() {
    let server = common::rudis(&[]);
    let mut c = server.raw();
    let lib = |name: &str, f: &str| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return '{name}' end)")
    };
    c.cmd(&[b"FUNCTION", b"LOAD", lib("one", "f1").as_bytes()]);
    c.cmd(&[b"FUNCTION", b"LOAD", lib("two", "f2").as_bytes()]);
    let dump = c.cmd(&[b"FUNCTION", b"DUMP"]);
    let at = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = dump[at..dump.len() - 2].to_vec();
    c.expect_cmd(&[b"FUNCTION", b"FLUSH"], b"+OK\r\n");
    c.expect_cmd(&[b"FUNCTION", b"RESTORE", &payload], b"+OK\r\n");
    c.expect_cmd(&[b"FCALL", b"f2", b"0"], b"$3\r\ntwo\r\n");
    // The first library of the payload that is there already (Redis
    // dumps its libraries in its dictionary's order).
    let r = c.cmd(&[b"FUNCTION", b"RESTORE", &payload]);
    assert!(
        r == b"-ERR Library one already exists\r\n" || r == b"-ERR Library two already exists\r\n",
        "{}",
        String::from_utf8_lossy(&r)
    );
    c.expect_cmd(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"], b"+OK\r\n");
    c.expect_cmd(&[b"FUNCTION", b"DELETE", b"two"], b"+OK\r\n");
    c.cmd(&[b"FUNCTION", b"LOAD", lib("three", "f3").as_bytes()]);
    c.expect_cmd(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"], b"+OK\r\n");
    c.expect_cmd(&[b"FCALL", b"f3", b"0"], b"-ERR Function not found\r\n");
    c.expect_cmd(&[b"FCALL", b"f1", b"0"], b"$3\r\none\r\n");
    // A function of the payload already in another library.
    c.cmd(&[b"FUNCTION", b"FLUSH"]);
    c.cmd(&[b"FUNCTION", b"LOAD", lib("other", "f1").as_bytes()]);
    c.expect_cmd(
        &[b"FUNCTION", b"RESTORE", &payload],
        b"-ERR Function f1 already exists\r\n",
    );
    let mut bad = payload.clone();
    bad[3] ^= 0x20;
    c.expect_cmd(
        &[b"FUNCTION", b"RESTORE", &bad],
        b"-ERR DUMP payload version or checksum are wrong\r\n",
    );
    c.expect_cmd(
        &[b"FUNCTION", b"RESTORE", &payload, b"MERGE"],
        b"-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n",
    );
    c.expect_cmd(&[b"FCALL", b"f1", b"0"], b"$5\r\nother\r\n");
    // The payload of an empty set of libraries is the footer alone.
    c.cmd(&[b"FUNCTION", b"FLUSH"]);
    let empty = c.cmd(&[b"FUNCTION", b"DUMP"]);
    assert!(empty.starts_with(b"$10\r\n\n\0"), "{empty:?}");
}

/// Pipelined script commands go to the script thread together; what
/// follows them, a command cut between two reads included, runs after
/// them in order.
#[test]
fn pipelined_scripts_keep_their_order_across_reads() {
    let server = common::rudis(&[]);
    let mut c = server.raw();
    let incr = |out: &mut Vec<u8>| {
        out.extend_from_slice(&common::encode(&[
            b"EVAL",
            b"return redis.call('incr', KEYS[1])",
            b"1",
            b"n",
        ]))
    };
    let mut batch = Vec::new();
    for _ in 0..100 {
        incr(&mut batch);
    }
    batch.extend_from_slice(&common::encode(&[b"GET", b"n"]));
    incr(&mut batch);
    // The last EVAL, of another shape, arrives in two pieces.
    let tail = common::encode(&[
        b"EVAL",
        b"return redis.call('incrby', KEYS[1], ARGV[1])",
        b"1",
        b"n",
        b"1",
    ]);
    let cut = tail.len() / 2;
    batch.extend_from_slice(&tail[..cut]);
    c.send(&batch);
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(&tail[cut..]);
    let mut want = Vec::new();
    for i in 1..=100 {
        want.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    want.extend_from_slice(b"$3\r\n100\r\n:101\r\n:102\r\n");
    c.expect(&want);
    c.expect_cmd(&[b"PING"], b"+PONG\r\n");
}

/// Redis has no cap on a script's memory (this script would take the
/// machine's memory until the OS ends Redis): rudis caps each Lua state
/// at 1 GiB, and the script ends with Lua's own memory error. The state
/// recovers: the next script runs, also one that needs a lot of memory.
#[test]
fn a_script_past_the_memory_cap_fails_and_the_next_one_runs() {
    let server = rudis(&[]);
    let mut c = server.raw();
    let reply = c.cmd(&[
        b"EVAL",
        b"local s = 'x' for i = 1, 40 do s = s .. s end return #s",
        b"0",
    ]);
    assert!(
        reply.starts_with(b"-ERR Error running script ")
            && reply.ends_with(b"not enough memory \r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    c.expect_cmd(&[b"EVAL", b"return redis.call('PING')", b"0"], b"+PONG\r\n");
    c.expect_cmd(
        &[
            b"EVAL",
            b"local s = 'x' for i = 1, 28 do s = s .. s end return #s",
            b"0",
        ],
        b":268435456\r\n",
    );
    c.expect_cmd(&[b"PING"], b"+PONG\r\n");
}
