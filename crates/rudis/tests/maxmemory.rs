//! maxmemory: every eviction policy, noeviction's refusal, what a
//! transaction or a script may do over the limit, LRU/LFU access data,
//! and what an eviction tells watchers and subscribers. Error texts and
//! the OBJECT answers are Redis 7.0.15's.

mod common;

use common::{eventually, rudis, Raw};

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn info_field(c: &mut Raw, section: &[u8], name: &str) -> u64 {
    let r = c.cmd(&[b"INFO", section]);
    let text = String::from_utf8_lossy(&r).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

fn used(c: &mut Raw) -> u64 {
    info_field(c, b"memory", "used_memory")
}

fn int(r: &[u8]) -> i64 {
    String::from_utf8_lossy(&r[1..r.len() - 2]).parse().unwrap()
}

/// Sets a limit 100 KB above what is in use now, under `policy`. Every
/// command the tests use runs once first: its first call allocates its
/// latency histogram (tens of KB, in Redis too), which would otherwise
/// come out of the 100 KB.
fn limit_near(c: &mut Raw, policy: &str) -> u64 {
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    for cmd in [
        &[&b"SET"[..], b"w", b"x"][..],
        &[b"SET", b"w", b"x", b"EX", b"100"],
        &[b"SETEX", b"w", b"100", b"x"],
        &[b"GET", b"w"],
        &[b"EXISTS", b"w"],
        &[b"DBSIZE"],
        &[b"INFO", b"stats"],
    ] {
        c.cmd(cmd);
    }
    c.cmd(&[b"FLUSHALL"]);
    let limit = used(c) + 100 * 1024;
    c.expect_cmd(
        &[
            b"CONFIG",
            b"SET",
            b"maxmemory",
            limit.to_string().as_bytes(),
        ],
        b"+OK\r\n",
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-policy", policy.as_bytes()],
        b"+OK\r\n",
    );
    limit
}

/// Writes keys (with a TTL when `ttl`) until used memory is within 4 KB
/// of the limit: how many it took.
fn fill(c: &mut Raw, limit: u64, prefix: &str, ttl: bool) -> usize {
    let mut n = 0;
    loop {
        let key = format!("{prefix}:{n}");
        if ttl {
            c.cmd(&[b"SETEX", key.as_bytes(), b"10000", b"x"]);
        } else {
            c.cmd(&[b"SET", key.as_bytes(), b"x"]);
        }
        n += 1;
        if used(c) + 4096 > limit {
            return n;
        }
        assert!(n < 100_000, "memory never grew");
    }
}

#[test]
fn every_policy_keeps_used_memory_within_the_limit() {
    let s = rudis(&["--threads", "2"]);
    let mut c = s.raw();
    for policy in [
        "allkeys-random",
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let limit = limit_near(&mut c, policy);
        let n = fill(&mut c, limit, "a", true);
        assert!(n > 10, "{policy}: only {n} keys");
        // As many again: old keys make room for them.
        for i in 0..n {
            c.cmd(&[b"SETEX", format!("b:{i}").as_bytes(), b"10000", b"x"]);
        }
        let now = used(&mut c);
        assert!(now < limit + 4096, "{policy}: {now} over {limit}");
        let dbsize = int(&c.cmd(&[b"DBSIZE"])) as usize;
        assert!(dbsize < 2 * n, "{policy}: nothing evicted");
        assert!(info_field(&mut c, b"stats", "evicted_keys") > 0);
    }
}

#[test]
fn volatile_policies_never_touch_keys_without_a_ttl() {
    let s = rudis(&[]);
    let mut c = s.raw();
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let limit = limit_near(&mut c, policy);
        // Odd keys have a TTL, even ones none.
        let mut n = 0;
        loop {
            let key = format!("key:{n}");
            if n % 2 == 1 {
                c.cmd(&[b"SETEX", key.as_bytes(), b"10000", b"x"]);
            } else {
                c.cmd(&[b"SET", key.as_bytes(), b"x"]);
            }
            if used(&mut c) + 4096 > limit {
                break;
            }
            n += 1;
        }
        for j in 0..n {
            c.cmd(&[b"SETEX", format!("foo:{j}").as_bytes(), b"10000", b"x"]);
        }
        assert!(used(&mut c) < limit + 4096, "{policy}");
        for j in (0..n).step_by(2) {
            c.expect_cmd(&[b"EXISTS", format!("key:{j}").as_bytes()], b":1\r\n");
        }
        // Once only keys without a TTL are left, writes are refused.
        let mut refused = false;
        for j in 0..4 * n {
            let r = c.cmd(&[b"SET", format!("plain:{j}").as_bytes(), b"x"]);
            if r == OOM {
                refused = true;
                break;
            }
        }
        assert!(refused, "{policy}: never refused");
        for j in (0..n).step_by(2) {
            c.expect_cmd(&[b"EXISTS", format!("key:{j}").as_bytes()], b":1\r\n");
        }
    }
}

#[test]
fn noeviction_refuses_writes_that_grow_memory_but_not_reads_or_deletes() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"k", b"v"]);
    c.cmd(&[b"SET", b"gone", b"v"]);
    c.expect_cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1"], b"+OK\r\n");
    c.expect_cmd(&[b"SET", b"x", b"1"], OOM);
    c.expect_cmd(&[b"LPUSH", b"l", b"1"], OOM);
    c.expect_cmd(&[b"GET", b"k"], b"$1\r\nv\r\n");
    c.expect_cmd(&[b"DEL", b"gone"], b":1\r\n");
    c.expect_cmd(&[b"INCR", b"k"], OOM);
    // A transaction: queueing is refused and EXEC aborts; DISCARD works.
    c.expect_cmd(&[b"MULTI"], b"+OK\r\n");
    c.expect_cmd(&[b"GET", b"k"], OOM);
    c.expect_cmd(
        &[b"EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    c.expect_cmd(&[b"MULTI"], b"+OK\r\n");
    c.expect_cmd(&[b"PING"], OOM);
    c.expect_cmd(&[b"DISCARD"], b"+OK\r\n");
    c.expect_cmd(&[b"PING"], b"+PONG\r\n");
    let errors = c.cmd(&[b"INFO", b"errorstats"]);
    assert!(
        String::from_utf8_lossy(&errors).contains("errorstat_OOM:count=5\r\n"),
        "{}",
        String::from_utf8_lossy(&errors)
    );
    c.expect_cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"], b"+OK\r\n");
    c.expect_cmd(&[b"SET", b"x", b"1"], b"+OK\r\n");
}

#[test]
fn a_queued_write_aborts_exec_when_memory_ran_out_meanwhile() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let mut admin = s.raw();
    c.expect_cmd(&[b"MULTI"], b"+OK\r\n");
    c.expect_cmd(&[b"SET", b"a", b"1"], b"+QUEUED\r\n");
    admin.expect_cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1"], b"+OK\r\n");
    c.expect_cmd(
        &[b"EXEC"],
        b"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    c.expect_cmd(&[b"MULTI"], b"+OK\r\n");
    admin.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    c.expect_cmd(&[b"GET", b"a"], b"+QUEUED\r\n");
    admin.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1"]);
    // A queue of reads runs.
    c.expect_cmd(&[b"EXEC"], b"*1\r\n$-1\r\n");
}

#[test]
fn scripts_over_the_limit_follow_their_flags() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"x", b"123"]);
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1"]);
    // No shebang: the first write that may grow memory is refused.
    let r = c.cmd(&[b"EVAL", b"redis.call('set','x',1) return 1", b"1", b"x"]);
    assert!(
        r.starts_with(b"-OOM command not allowed when used memory > 'maxmemory'. script:"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    c.expect_cmd(
        &[b"EVAL", b"return redis.call('get','x')", b"1", b"x"],
        b"$3\r\n123\r\n",
    );
    c.expect_cmd(
        &[
            b"EVAL",
            b"local t = redis.pcall('set','x','y') return t['err']",
            b"1",
            b"x",
        ],
        b"$55\r\nOOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    // Declared flags: refused before it runs, unless allow-oom or
    // no-writes.
    c.expect_cmd(&[b"EVAL", b"#!lua flags=\nreturn 1", b"0"], OOM);
    c.expect_cmd(
        &[
            b"EVAL",
            b"#!lua flags=allow-oom\nredis.call('set','x',1) return 1",
            b"1",
            b"x",
        ],
        b":1\r\n",
    );
    c.expect_cmd(
        &[
            b"EVAL",
            b"#!lua flags=no-writes\nreturn redis.call('get','x')",
            b"0",
        ],
        b"$1\r\n1\r\n",
    );
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    c.expect_cmd(&[b"EVAL", b"#!lua flags=\nreturn 1", b"0"], b":1\r\n");
    // Back under no limit, a script's write runs again.
    c.expect_cmd(
        &[b"EVAL", b"return redis.call('set','x',2)", b"1", b"x"],
        b"+OK\r\n",
    );
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let limit = limit_near(&mut c, "volatile-ttl");
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-samples", b"64"]);
    // Keys expiring in an hour, and some in a day.
    let n = fill(&mut c, limit, "soon", true);
    for i in 0..20 {
        c.cmd(&[
            b"SET",
            format!("late:{i}").as_bytes(),
            b"x",
            b"EX",
            b"86400",
        ]);
    }
    for i in 0..n / 4 {
        c.cmd(&[b"SETEX", format!("more:{i}").as_bytes(), b"3600", b"x"]);
    }
    let late = (0..20)
        .filter(|i| c.cmd(&[b"EXISTS", format!("late:{i}").as_bytes()]) == b":1\r\n")
        .count();
    assert!(late >= 18, "only {late} of 20 late keys left");
}

#[test]
fn lru_keeps_the_keys_in_use() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let limit = limit_near(&mut c, "allkeys-lru");
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-samples", b"10"]);
    let n = fill(&mut c, limit, "old", false);
    // Idle times count in seconds: let the first keys age.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let hot: Vec<String> = (0..20).map(|i| format!("old:{i}")).collect();
    for k in &hot {
        c.cmd(&[b"GET", k.as_bytes()]);
    }
    for i in 0..n / 4 {
        c.cmd(&[b"SET", format!("new:{i}").as_bytes(), b"x"]);
    }
    let kept = hot
        .iter()
        .filter(|k| c.cmd(&[b"EXISTS", k.as_bytes()]) == b":1\r\n")
        .count();
    assert!(kept >= 18, "only {kept} of 20 recently read keys left");
    assert!(info_field(&mut c, b"stats", "evicted_keys") > 0);
}

#[test]
fn object_freq_and_idletime_follow_the_policy() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"k", b"abc"]);
    c.expect_cmd(
        &[b"OBJECT", b"FREQ", b"k"],
        b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
    );
    c.expect_cmd(&[b"OBJECT", b"IDLETIME", b"k"], b":0\r\n");
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"]);
    c.cmd(&[b"SET", b"f", b"abcdef"]);
    // A new key starts at Redis's LFU_INIT_VAL; reads below it always
    // count.
    c.expect_cmd(&[b"OBJECT", b"FREQ", b"f"], b":5\r\n");
    c.cmd(&[b"GET", b"f"]);
    c.expect_cmd(&[b"OBJECT", b"FREQ", b"f"], b":6\r\n");
    // Overwriting keeps the counter (and the write's lookup counts).
    c.cmd(&[b"SET", b"f", b"other"]);
    let f = int(&c.cmd(&[b"OBJECT", b"FREQ", b"f"]));
    assert!((6..=7).contains(&f), "{f}");
    for _ in 0..200 {
        c.cmd(&[b"GET", b"f"]);
    }
    let f = int(&c.cmd(&[b"OBJECT", b"FREQ", b"f"]));
    assert!((8..40).contains(&f), "logarithmic counter: {f}");
    c.expect_cmd(
        &[b"OBJECT", b"IDLETIME", b"f"],
        b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
    );
    c.expect_cmd(&[b"OBJECT", b"FREQ", b"nokey"], b"$-1\r\n");
    // Small integers are shared, except under an LRU or LFU limit.
    c.cmd(&[b"SET", b"i", b"1"]);
    c.expect_cmd(&[b"OBJECT", b"REFCOUNT", b"i"], b":2147483647\r\n");
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1gb"]);
    c.cmd(&[b"SET", b"j", b"1"]);
    c.expect_cmd(&[b"OBJECT", b"REFCOUNT", b"j"], b":1\r\n");
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-random"]);
    c.cmd(&[b"SET", b"k", b"1"]);
    c.expect_cmd(&[b"OBJECT", b"REFCOUNT", b"k"], b":2147483647\r\n");
}

#[test]
fn an_eviction_notifies_dirties_watchers_and_is_counted() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let mut sub = s.raw();
    let mut w = s.raw();
    c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"Ee"]);
    sub.cmd(&[b"SUBSCRIBE", b"__keyevent@0__:evicted"]);
    w.cmd(&[b"SET", b"watched", b"v"]);
    w.expect_cmd(&[b"WATCH", b"watched"], b"+OK\r\n");
    // Lowering the limit under what is in use evicts in the background,
    // with no command needed.
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-random"]);
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"1"]);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$7\r\nwatched\r\n");
    eventually("evicted_keys counted", || {
        info_field(&mut c, b"stats", "evicted_keys") == 1
    });
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    w.expect_cmd(&[b"MULTI"], b"+OK\r\n");
    w.expect_cmd(&[b"SET", b"watched", b"2"], b"+QUEUED\r\n");
    w.expect_cmd(&[b"EXEC"], b"*-1\r\n");
    let maxmemory = info_field(&mut c, b"memory", "maxmemory");
    assert_eq!(maxmemory, 0);
    c.cmd(&[b"CONFIG", b"RESETSTAT"]);
    assert_eq!(info_field(&mut c, b"stats", "evicted_keys"), 0);
}

#[test]
fn config_reports_the_limit_and_policy() {
    let s = rudis(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.raw();
    c.expect_cmd(
        &[b"CONFIG", b"GET", b"maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n",
    );
    assert_eq!(info_field(&mut c, b"memory", "maxmemory"), 104857600);
    let r = c.cmd(&[b"INFO", b"memory"]);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("maxmemory_human:100.00M\r\n"), "{text}");
    assert!(text.contains("maxmemory_policy:allkeys-lru\r\n"), "{text}");
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"lru"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-eviction-tenacity", b"101"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-eviction-tenacity') - argument must be between 0 and 100 inclusive\r\n",
    );
}

#[test]
fn a_tracked_key_evicted_before_a_command_is_invalidated_before_its_reply() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"HELLO", b"3"]);
    c.cmd(&[b"CLIENT", b"TRACKING", b"ON"]);
    // First calls allocate the commands' latency histograms: not within
    // the 100 KB below.
    let mut admin = s.raw();
    admin.cmd(&[b"SETBIT", b"warm", b"1", b"0"]);
    admin.cmd(&[b"GETBIT", b"warm", b"0"]);
    admin.cmd(&[b"SETEX", b"warm", b"10", b"x"]);
    admin.cmd(&[b"GET", b"warm"]);
    admin.cmd(&[b"EXISTS", b"warm"]);
    admin.cmd(&[b"DEL", b"warm"]);
    let counted = used(&mut admin) - info_field(&mut admin, b"memory", "mem_not_counted_for_evict");
    let limit = counted + 100 * 1024;
    c.cmd(&[
        b"CONFIG",
        b"SET",
        b"maxmemory",
        limit.to_string().as_bytes(),
    ]);
    c.cmd(&[b"CONFIG", b"SET", b"maxmemory-policy", b"volatile-random"]);
    c.expect_cmd(&[b"SETEX", b"volatile-key", b"10000", b"x"], b"+OK\r\n");
    c.expect_cmd(&[b"GET", b"volatile-key"], b"$1\r\nx\r\n");
    // 200 KB in one key: the next command first evicts the volatile key.
    c.expect_cmd(&[b"SETBIT", b"big-key", b"1600000", b"0"], b":0\r\n");
    c.expect_cmd(
        &[b"GETBIT", b"big-key", b"0"],
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n:0\r\n",
    );
    c.expect_cmd(&[b"EXISTS", b"volatile-key"], b":0\r\n");
}

#[test]
fn maxmemory_clients_takes_bytes_or_a_percentage() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let get = |c: &mut Raw| c.cmd(&[b"CONFIG", b"GET", b"maxmemory-clients"]);
    assert_eq!(
        get(&mut c),
        b"*2\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n"
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"10%"],
        b"+OK\r\n",
    );
    assert_eq!(
        get(&mut c),
        b"*2\r\n$17\r\nmaxmemory-clients\r\n$3\r\n10%\r\n"
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"1mb"],
        b"+OK\r\n",
    );
    assert_eq!(
        get(&mut c),
        b"*2\r\n$17\r\nmaxmemory-clients\r\n$7\r\n1048576\r\n"
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"101%"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100\r\n",
    );
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"lots"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value\r\n",
    );
}

/// Sends the start of a SET whose value is `held` bytes into a 4 MB one:
/// the server buffers it, waiting for the rest.
fn hold_query_buffer(c: &mut Raw, held: usize) {
    let mut head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n".to_vec();
    head.extend(std::iter::repeat_n(b'x', held));
    c.send(&head);
}

#[test]
fn the_largest_clients_are_closed_once_all_of_them_pass_maxmemory_clients() {
    let s = rudis(&[]);
    let mut c = s.raw();
    c.cmd(&[b"CLIENT", b"NO-EVICT", b"ON"]);
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"3mb"],
        b"+OK\r\n",
    );
    let mut kept = s.raw();
    kept.expect_cmd(&[b"CLIENT", b"NO-EVICT", b"ON"], b"+OK\r\n");
    hold_query_buffer(&mut kept, 1_500_000);
    let mut small = s.raw();
    small.expect_cmd(&[b"SET", b"a", b"b"], b"+OK\r\n");
    let mut big = s.raw();
    hold_query_buffer(&mut big, 2_000_000);
    // 3.5 MB of query buffers: the largest evictable client goes.
    eventually("a client evicted", || {
        info_field(&mut c, b"stats", "evicted_clients") == 1
    });
    assert!(big.closed(), "the largest client was not the one closed");
    small.expect_cmd(&[b"PING"], b"+PONG\r\n");
    assert_eq!(info_field(&mut c, b"stats", "evicted_keys"), 0);
    // The exempt one stays although it is now the largest.
    let list = c.cmd(&[b"CLIENT", b"LIST"]);
    assert_eq!(
        String::from_utf8_lossy(&list).matches("flags=e").count(),
        2,
        "{}",
        String::from_utf8_lossy(&list)
    );
    // Lowering the limit under what the rest use evicts at once.
    c.expect_cmd(
        &[b"CONFIG", b"SET", b"maxmemory-clients", b"128kb"],
        b"+OK\r\n",
    );
    assert!(small.closed());
    assert_eq!(info_field(&mut c, b"stats", "evicted_clients"), 2);
}
