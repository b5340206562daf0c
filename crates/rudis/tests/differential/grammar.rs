//! Random commands for the differential tests: each group's commands with
//! their options, over a few keys so that commands collide, overwrite,
//! expire and hit wrong types.
//!
//! Replies that legitimately differ between two correct servers are listed
//! in `variable`, with the reason, and compared loosely.

use rand::seq::SliceRandom;
use rand::Rng;

use super::Compare;

const KEYS: &[&str] = &["k0", "k1", "k2", "{t}a", "{t}b", "missing"];
const VALUES: &[&str] = &[
    "",
    "v",
    "0",
    "1",
    "-1",
    "42",
    "abc",
    "3.5",
    " 1",
    "01",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "a\x00b",
    "\u{ff}\u{fe}",
];
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "7",
    "100",
    "-100",
    "x",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
];
/// No overflowing values ("1e5000"): Redis's strtold leaves errno at
/// ERANGE, which its SORT then misreads in later commands (ACCEPTED.md);
/// the corpus has those cases.
const FLOATS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.1",
    "10.5",
    "-3.25",
    "1e3",
    "1.5e-3",
    "1e300",
    "inf",
    "nan",
    "x",
    " 1",
    "0x10",
    "1e-30",
    "123456789.123456789",
];
const FIELDS: &[&str] = &["f1", "f2", "f3", "x", "", "1"];
/// Stream IDs: explicit ones (so both servers hold the same entries),
/// incomplete and malformed ones.
const STREAM_IDS: &[&str] = &[
    "1-1",
    "1-2",
    "2",
    "2-5",
    "3-*",
    "5-0",
    "10",
    "0-1",
    "18446744073709551615-18446744073709551615",
    "x",
    "-1",
    "1-x",
];
/// Range bounds for XRANGE and friends.
const STREAM_BOUNDS: &[&str] = &["-", "+", "0", "1-2", "(1-1", "3", "(5-0", "x", "(-"];
const GROUPS: &[&str] = &["g1", "g2", "missing"];
const CONSUMERS: &[&str] = &["c1", "c2"];
/// Set members: integers (intsets) and strings (hash sets).
const MEMBERS: &[&str] = &["1", "2", "3", "-7", "10", "a", "b", "", "01"];
/// Score bounds, inclusive and exclusive.
const SCORE_BOUNDS: &[&str] = &["-inf", "+inf", "0", "1", "(1", "2.5", "(10", "x", "-1"];
/// Member bounds.
const LEX_BOUNDS: &[&str] = &["-", "+", "[a", "(a", "[1", "(3", "[", "x"];
const RANKS: &[&str] = &["0", "1", "-1", "-2", "2", "100", "x"];
const LONGITUDES: &[&str] = &["0", "13.361389", "-122.4", "179.99", "181", "x"];
const LATITUDES: &[&str] = &["0", "38.115556", "37.7", "-85", "86"];
/// Short enough for a run of thousands of commands; never 0 (forever).
const TIMEOUTS: &[&str] = &["0.001", "0.002", "-1", "x"];
const BIT_OFFSETS: &[&str] = &["0", "1", "7", "8", "13", "100", "-1", "x", "4294967296"];
/// Times that do not expire during a run: far future, or already past.
const SECONDS: &[&str] = &["100", "1000", "0", "-5", "abc", "9223372036854775807"];
const MILLIS: &[&str] = &["100000", "2000000", "0", "-1", "x"];
const ABS_SECONDS: &[&str] = &["1", "4102444800", "0"];
const ABS_MILLIS: &[&str] = &["1", "4102444800000", "-1"];

/// Commands whose replies two correct servers may give differently, and
/// why. Compared as the `Compare` says instead of byte for byte.
pub fn variable(name: &str) -> Compare {
    match name {
        // The chosen key or field is random.
        "RANDOMKEY" | "HRANDFIELD" | "SRANDMEMBER" | "ZRANDMEMBER" => Compare::Shape,
        // A hash set's order is each server's own (an intset's is not,
        // and compares equal either way).
        "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "SPOP" => Compare::Unordered,
        // A hash set's scan returns a server-specific part per call.
        "SSCAN" | "ZSCAN" => Compare::Shape,
        // A set sorted BY nosort comes out in its own order.
        "SORT" | "SORT_RO" => Compare::Unordered,
        // The cursor encodes the server's own table layout, and so does
        // which keys one call returns.
        "SCAN" => Compare::Shape,
        // Key order follows the hash table.
        "KEYS" => Compare::Unordered,
        // Remaining time depends on when each server ran the command; the
        // -1 / -2 answers must still agree.
        "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" => Compare::Ttl,
        // Idle times (XPENDING's extended form, XINFO CONSUMERS) are each
        // server's own clock.
        "XPENDING" | "XINFO" => Compare::Shape,
        _ => Compare::Exact,
    }
}

fn pick<'a>(rng: &mut impl Rng, from: &[&'a str]) -> &'a str {
    from.choose(rng).copied().unwrap_or("")
}

fn maybe(rng: &mut impl Rng, p: f64) -> bool {
    rng.gen_bool(p)
}

/// One random command and how to compare its replies.
pub fn command(rng: &mut impl Rng) -> (Compare, Vec<Vec<u8>>) {
    let k = |rng: &mut dyn rand::RngCore| KEYS.choose(rng).copied().unwrap_or("k0");
    let mut a: Vec<String> = Vec::new();
    let name = *[
        "SET",
        "SET",
        "SET",
        "GET",
        "GET",
        "SETNX",
        "SETEX",
        "PSETEX",
        "GETSET",
        "GETDEL",
        "GETEX",
        "MGET",
        "MSET",
        "MSETNX",
        "APPEND",
        "STRLEN",
        "INCR",
        "DECR",
        "INCRBY",
        "DECRBY",
        "DEL",
        "UNLINK",
        "EXISTS",
        "TOUCH",
        "TYPE",
        "KEYS",
        "SCAN",
        "RANDOMKEY",
        "RENAME",
        "RENAMENX",
        "MOVE",
        "COPY",
        "EXPIRE",
        "PEXPIRE",
        "EXPIREAT",
        "PEXPIREAT",
        "TTL",
        "PTTL",
        "EXPIRETIME",
        "PEXPIRETIME",
        "PERSIST",
        "DBSIZE",
        "SELECT",
        "SWAPDB",
        "ECHO",
        "PING",
        "GETRANGE",
        "SUBSTR",
        "SETRANGE",
        "INCRBYFLOAT",
        "INCRBYFLOAT",
        "LCS",
        "SETBIT",
        "SETBIT",
        "GETBIT",
        "BITCOUNT",
        "BITPOS",
        "BITOP",
        "BITFIELD",
        "BITFIELD",
        "BITFIELD_RO",
        "PFADD",
        "PFADD",
        "PFCOUNT",
        "PFMERGE",
        "HSET",
        "HSET",
        "HSET",
        "HMSET",
        "HSETNX",
        "HGET",
        "HGET",
        "HMGET",
        "HDEL",
        "HDEL",
        "HLEN",
        "HSTRLEN",
        "HEXISTS",
        "HKEYS",
        "HVALS",
        "HGETALL",
        "HINCRBY",
        "HINCRBYFLOAT",
        "HRANDFIELD",
        "HSCAN",
        "SADD",
        "SADD",
        "SADD",
        "SREM",
        "SCARD",
        "SISMEMBER",
        "SMISMEMBER",
        "SMEMBERS",
        "SPOP",
        "SRANDMEMBER",
        "SMOVE",
        "SINTER",
        "SINTERCARD",
        "SINTERSTORE",
        "SUNION",
        "SUNIONSTORE",
        "SDIFF",
        "SDIFFSTORE",
        "SSCAN",
        "ZADD",
        "ZADD",
        "ZADD",
        "ZINCRBY",
        "ZREM",
        "ZCARD",
        "ZSCORE",
        "ZMSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZCOUNT",
        "ZLEXCOUNT",
        "ZRANGE",
        "ZRANGE",
        "ZRANGESTORE",
        "ZRANGEBYSCORE",
        "ZREVRANGEBYSCORE",
        "ZRANGEBYLEX",
        "ZREVRANGEBYLEX",
        "ZREVRANGE",
        "ZREMRANGEBYRANK",
        "ZREMRANGEBYSCORE",
        "ZREMRANGEBYLEX",
        "ZUNION",
        "ZINTER",
        "ZDIFF",
        "ZUNIONSTORE",
        "ZINTERSTORE",
        "ZDIFFSTORE",
        "ZINTERCARD",
        "ZPOPMIN",
        "ZPOPMAX",
        "ZMPOP",
        "ZRANDMEMBER",
        "ZSCAN",
        "BZPOPMIN",
        "BZMPOP",
        "GEOADD",
        "GEOPOS",
        "GEODIST",
        "GEOHASH",
        "GEOSEARCH",
        "GEORADIUS",
        "LPUSH",
        "LPUSH",
        "RPUSH",
        "RPUSH",
        "LPUSHX",
        "RPUSHX",
        "LPOP",
        "RPOP",
        "LLEN",
        "LRANGE",
        "LRANGE",
        "LINDEX",
        "LSET",
        "LINSERT",
        "LREM",
        "LTRIM",
        "LPOS",
        "LMOVE",
        "RPOPLPUSH",
        "LMPOP",
        "BLPOP",
        "BRPOP",
        "BLMOVE",
        "BRPOPLPUSH",
        "BLMPOP",
        "SORT",
        "SORT_RO",
        "XADD",
        "XADD",
        "XADD",
        "XRANGE",
        "XREVRANGE",
        "XLEN",
        "XDEL",
        "XTRIM",
        "XREAD",
        "XGROUP",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XINFO",
        "XSETID",
    ]
    .choose(rng)
    .unwrap();
    a.push(name.to_string());
    match name {
        "SET" => {
            a.push(k(rng).into());
            a.push(pick(rng, VALUES).into());
            let mut opts: Vec<&str> = Vec::new();
            if maybe(rng, 0.3) {
                opts.push(if maybe(rng, 0.5) { "NX" } else { "XX" });
            }
            if maybe(rng, 0.3) {
                opts.push("GET");
            }
            if maybe(rng, 0.4) {
                match rng.gen_range(0..5) {
                    0 => opts.extend(["EX", pick(rng, SECONDS)]),
                    1 => opts.extend(["PX", pick(rng, MILLIS)]),
                    // Future or invalid only: a past time would leave a
                    // logically expired key that DBSIZE counts until each
                    // server's own expiry cycle reclaims it.
                    2 => opts.extend(["EXAT", pick(rng, &["4102444800", "0"])]),
                    3 => opts.extend(["PXAT", pick(rng, &["4102444800000", "-1"])]),
                    _ => opts.push("KEEPTTL"),
                }
            }
            if maybe(rng, 0.05) {
                opts.push(pick(rng, &["NX", "EX", "KEEPTTL", "PERSIST", "bogus"]));
            }
            opts.shuffle(rng);
            a.extend(opts.into_iter().map(String::from));
        }
        "GET" | "GETDEL" | "STRLEN" | "INCR" | "DECR" | "TYPE" | "TTL" | "PTTL" | "EXPIRETIME"
        | "PEXPIRETIME" | "PERSIST" => a.push(k(rng).into()),
        "SETNX" | "GETSET" | "APPEND" => {
            a.push(k(rng).into());
            a.push(pick(rng, VALUES).into());
        }
        "SETEX" | "PSETEX" => {
            a.push(k(rng).into());
            a.push(pick(rng, if name == "SETEX" { SECONDS } else { MILLIS }).into());
            a.push(pick(rng, VALUES).into());
        }
        "GETEX" => {
            a.push(k(rng).into());
            match rng.gen_range(0..7) {
                0 => a.extend(["EX".into(), pick(rng, SECONDS).into()]),
                1 => a.extend(["PX".into(), pick(rng, MILLIS).into()]),
                2 => a.extend(["EXAT".into(), pick(rng, ABS_SECONDS).into()]),
                3 => a.extend(["PXAT".into(), pick(rng, ABS_MILLIS).into()]),
                4 => a.push("PERSIST".into()),
                5 => a.push(pick(rng, &["NX", "KEEPTTL", "EX"]).into()),
                _ => {}
            }
        }
        "MGET" | "DEL" | "UNLINK" | "EXISTS" | "TOUCH" => {
            for _ in 0..rng.gen_range(1..5) {
                a.push(k(rng).into());
            }
        }
        "MSET" | "MSETNX" => {
            for _ in 0..rng.gen_range(1..4) {
                a.push(k(rng).into());
                a.push(pick(rng, VALUES).into());
            }
            if maybe(rng, 0.05) {
                a.pop();
            }
        }
        "GETRANGE" | "SUBSTR" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "-1", "-3", "5", "100", "x"]).into());
            a.push(pick(rng, &["0", "2", "-1", "-2", "50", "9223372036854775807"]).into());
        }
        "SETRANGE" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "3", "10", "-1", "x"]).into());
            a.push(pick(rng, VALUES).into());
        }
        "INCRBY" | "DECRBY" => {
            a.push(k(rng).into());
            a.push(pick(rng, INTS).into());
        }
        "INCRBYFLOAT" => {
            a.push(k(rng).into());
            a.push(pick(rng, FLOATS).into());
        }
        "LCS" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
            let mut opts: Vec<&str> = Vec::new();
            for _ in 0..rng.gen_range(0..3) {
                match rng.gen_range(0..5) {
                    0 => opts.push("LEN"),
                    1 => opts.push("IDX"),
                    2 => opts.push("WITHMATCHLEN"),
                    3 => opts.extend(["MINMATCHLEN", pick(rng, &["0", "1", "2", "-1", "x"])]),
                    _ => opts.push("bogus"),
                }
            }
            a.extend(opts.into_iter().map(String::from));
        }
        "SETBIT" | "GETBIT" => {
            a.push(k(rng).into());
            a.push(pick(rng, BIT_OFFSETS).into());
            if name == "SETBIT" {
                a.push(pick(rng, &["0", "1", "1", "2", "-1", "x"]).into());
            }
        }
        "BITCOUNT" | "BITPOS" => {
            a.push(k(rng).into());
            if name == "BITPOS" {
                a.push(pick(rng, &["0", "1", "1", "2", "x"]).into());
            }
            let n = rng.gen_range(0..5);
            for i in 0..n {
                a.push(if i == 2 {
                    pick(rng, &["BIT", "BYTE", "bit", "bogus"]).into()
                } else {
                    pick(rng, &["0", "1", "-1", "2", "-2", "5", "17", "-30", "x"]).into()
                });
            }
        }
        "BITOP" => {
            a.push(pick(rng, &["AND", "OR", "XOR", "NOT", "not", "NAND"]).into());
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(k(rng).into());
            }
        }
        "BITFIELD" | "BITFIELD_RO" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(0..4) {
                let op = if name == "BITFIELD_RO" && maybe(rng, 0.8) {
                    "GET"
                } else {
                    pick(rng, &["GET", "SET", "INCRBY", "OVERFLOW", "bogus"])
                };
                a.push(op.into());
                if op == "OVERFLOW" {
                    a.push(pick(rng, &["WRAP", "SAT", "FAIL", "fail", "x"]).into());
                    continue;
                }
                a.push(
                    pick(
                        rng,
                        &[
                            "i8", "u8", "i1", "u1", "i64", "u63", "u64", "i5", "u17", "x8",
                        ],
                    )
                    .into(),
                );
                a.push(pick(rng, &["0", "3", "13", "#1", "#2", "-1", "100"]).into());
                if op == "SET" || op == "INCRBY" {
                    a.push(pick(rng, INTS).into());
                }
            }
        }
        "PFADD" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(0..6) {
                a.push(pick(rng, VALUES).into());
            }
        }
        "PFCOUNT" | "PFMERGE" => {
            for _ in 0..rng.gen_range(1..4) {
                a.push(k(rng).into());
            }
        }
        "HSET" | "HMSET" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, FIELDS).into());
                a.push(pick(rng, VALUES).into());
            }
            if maybe(rng, 0.05) {
                a.pop();
            }
        }
        "HSETNX" => {
            a.push(k(rng).into());
            a.push(pick(rng, FIELDS).into());
            a.push(pick(rng, VALUES).into());
        }
        "HGET" | "HSTRLEN" | "HEXISTS" => {
            a.push(k(rng).into());
            a.push(pick(rng, FIELDS).into());
        }
        "HMGET" | "HDEL" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, FIELDS).into());
            }
        }
        "HLEN" | "HKEYS" | "HVALS" | "HGETALL" => a.push(k(rng).into()),
        "HINCRBY" | "HINCRBYFLOAT" => {
            a.push(k(rng).into());
            a.push(pick(rng, FIELDS).into());
            // Not 1e300: its 301 digits would turn the hash into a table,
            // whose order (HGETALL, HKEYS) is each server's own.
            let floats: Vec<&str> = FLOATS.iter().copied().filter(|f| *f != "1e300").collect();
            a.push(pick(rng, if name == "HINCRBY" { INTS } else { &floats }).into());
        }
        "HRANDFIELD" => {
            a.push(k(rng).into());
            if maybe(rng, 0.8) {
                a.push(pick(rng, &["0", "1", "-1", "3", "-5", "100", "x"]).into());
                if maybe(rng, 0.5) {
                    a.push(pick(rng, &["WITHVALUES", "withvalues", "bogus"]).into());
                }
            }
        }
        "HSCAN" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "0", "x"]).into());
            if maybe(rng, 0.4) {
                a.extend(["MATCH".into(), pick(rng, &["f*", "*", "x"]).into()]);
            }
            if maybe(rng, 0.3) {
                a.extend(["COUNT".into(), pick(rng, &["1", "10", "0"]).into()]);
            }
        }
        "SADD" | "SREM" | "SMISMEMBER" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "SCARD" | "SMEMBERS" => a.push(k(rng).into()),
        "SISMEMBER" => {
            a.push(k(rng).into());
            a.push(pick(rng, MEMBERS).into());
        }
        // Whole-set or invalid counts only: a partial random pop would
        // leave the two servers holding different sets.
        "SPOP" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["100", "0", "-1", "x"]).into());
        }
        "SRANDMEMBER" => {
            a.push(k(rng).into());
            if maybe(rng, 0.7) {
                a.push(pick(rng, &["0", "1", "-3", "2", "100", "x"]).into());
            }
        }
        "SMOVE" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "SINTER" | "SUNION" | "SDIFF" | "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => {
            for _ in 0..rng.gen_range(1..4) {
                a.push(k(rng).into());
            }
        }
        "SINTERCARD" => {
            let n = rng.gen_range(1..4);
            a.push(pick(rng, &[&n.to_string(), &n.to_string(), "0", "5", "x"]).into());
            for _ in 0..n {
                a.push(k(rng).into());
            }
            if maybe(rng, 0.4) {
                a.extend(["LIMIT".into(), pick(rng, &["0", "1", "2", "-1"]).into()]);
            }
        }
        "SSCAN" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "0", "x"]).into());
            if maybe(rng, 0.4) {
                a.extend(["MATCH".into(), pick(rng, &["1*", "*", "a*"]).into()]);
            }
            if maybe(rng, 0.3) {
                a.extend(["COUNT".into(), pick(rng, &["1", "100", "0"]).into()]);
            }
        }
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "LPOP" | "RPOP" => {
            a.push(k(rng).into());
            if maybe(rng, 0.5) {
                a.push(pick(rng, &["0", "1", "2", "10", "-1", "x"]).into());
            }
        }
        "LLEN" => a.push(k(rng).into()),
        "LRANGE" | "LTRIM" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "-1", "-3", "5", "x"]).into());
            a.push(pick(rng, &["0", "2", "-1", "-2", "100"]).into());
        }
        "LINDEX" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "-1", "5", "-10", "x"]).into());
        }
        "LSET" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "-1", "5", "x"]).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "LINSERT" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["BEFORE", "AFTER", "after", "x"]).into());
            a.push(pick(rng, MEMBERS).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "LREM" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "-1", "2", "-2", "x"]).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "LPOS" => {
            a.push(k(rng).into());
            a.push(pick(rng, MEMBERS).into());
            for _ in 0..rng.gen_range(0..3) {
                let opt = pick(rng, &["RANK", "COUNT", "MAXLEN", "bogus"]);
                a.push(opt.into());
                a.push(pick(rng, &["1", "-1", "2", "0", "-2", "x"]).into());
            }
        }
        "LMOVE" | "BLMOVE" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
            a.push(pick(rng, &["LEFT", "RIGHT", "left", "up"]).into());
            a.push(pick(rng, &["LEFT", "RIGHT"]).into());
            if name == "BLMOVE" {
                a.push(pick(rng, TIMEOUTS).into());
            }
        }
        "RPOPLPUSH" | "BRPOPLPUSH" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
            if name == "BRPOPLPUSH" {
                a.push(pick(rng, TIMEOUTS).into());
            }
        }
        "BLPOP" | "BRPOP" => {
            for _ in 0..rng.gen_range(1..3) {
                a.push(k(rng).into());
            }
            a.push(pick(rng, TIMEOUTS).into());
        }
        "LMPOP" | "BLMPOP" => {
            if name == "BLMPOP" {
                a.push(pick(rng, TIMEOUTS).into());
            }
            let n = rng.gen_range(1..3);
            a.push(pick(rng, &[&n.to_string(), &n.to_string(), "0", "5"]).into());
            for _ in 0..n {
                a.push(k(rng).into());
            }
            a.push(pick(rng, &["LEFT", "RIGHT", "middle"]).into());
            if maybe(rng, 0.4) {
                a.extend(["COUNT".into(), pick(rng, &["1", "3", "0", "x"]).into()]);
            }
        }
        "SORT" | "SORT_RO" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(0..4) {
                match rng.gen_range(0..8) {
                    0 => a.push(pick(rng, &["ASC", "DESC", "desc"]).into()),
                    1 => a.push("ALPHA".into()),
                    2 => a.extend([
                        "LIMIT".into(),
                        pick(rng, &["0", "1", "-1", "x"]).into(),
                        pick(rng, &["1", "2", "-1", "0"]).into(),
                    ]),
                    3 => a.extend([
                        "BY".into(),
                        pick(rng, &["nosort", "k*", "{t}*", "k*->f1"]).into(),
                    ]),
                    4 => a.extend([
                        "GET".into(),
                        pick(rng, &["#", "k*", "{t}*->f1", "x"]).into(),
                    ]),
                    5 if name == "SORT" => a.extend(["STORE".into(), k(rng).into()]),
                    6 => a.push("bogus".into()),
                    _ => {}
                }
            }
        }
        "KEYS" => a.push(pick(rng, &["*", "k?", "k[0-1]", "{t}*", "*a*", "k[^0]", "\\{*"]).into()),
        "SCAN" => {
            a.push("0".into());
            if maybe(rng, 0.5) {
                a.extend(["COUNT".into(), pick(rng, &["1", "1000", "0", "x"]).into()]);
            }
            if maybe(rng, 0.3) {
                a.extend(["MATCH".into(), pick(rng, &["k*", "*"]).into()]);
            }
            if maybe(rng, 0.2) {
                a.extend([
                    "TYPE".into(),
                    pick(rng, &["string", "list", "STRING"]).into(),
                ]);
            }
        }
        "RENAME" | "RENAMENX" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
        }
        "MOVE" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "1", "2", "16", "-1", "x"]).into());
        }
        "COPY" => {
            a.push(k(rng).into());
            a.push(k(rng).into());
            if maybe(rng, 0.4) {
                a.extend(["DB".into(), pick(rng, &["0", "1", "16", "x"]).into()]);
            }
            if maybe(rng, 0.4) {
                a.push("REPLACE".into());
            }
        }
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
            a.push(k(rng).into());
            let times = match name {
                "EXPIRE" => SECONDS,
                "PEXPIRE" => MILLIS,
                "EXPIREAT" => ABS_SECONDS,
                _ => ABS_MILLIS,
            };
            a.push(pick(rng, times).into());
            for _ in 0..rng.gen_range(0..3) {
                a.push(pick(rng, &["NX", "XX", "GT", "LT", "nx", "FOO"]).into());
            }
        }
        "ZADD" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(0..3) {
                a.push(pick(rng, &["NX", "XX", "GT", "LT", "CH", "INCR", "ch"]).into());
            }
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, FLOATS).into());
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "ZINCRBY" => {
            a.push(k(rng).into());
            a.push(pick(rng, FLOATS).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "ZREM" | "ZMSCORE" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..4) {
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "ZCARD" => a.push(k(rng).into()),
        "ZSCORE" | "ZRANK" | "ZREVRANK" => {
            a.push(k(rng).into());
            a.push(pick(rng, MEMBERS).into());
        }
        "ZCOUNT" | "ZREMRANGEBYSCORE" | "ZLEXCOUNT" | "ZREMRANGEBYLEX" | "ZREMRANGEBYRANK" => {
            a.push(k(rng).into());
            let bounds: &[&str] = match name {
                "ZCOUNT" | "ZREMRANGEBYSCORE" => SCORE_BOUNDS,
                "ZREMRANGEBYRANK" => RANKS,
                _ => LEX_BOUNDS,
            };
            a.push(pick(rng, bounds).into());
            a.push(pick(rng, bounds).into());
        }
        "ZRANGE" | "ZRANGESTORE" | "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" | "ZRANGEBYLEX"
        | "ZREVRANGEBYLEX" | "ZREVRANGE" => {
            if name == "ZRANGESTORE" {
                a.push(k(rng).into());
            }
            a.push(k(rng).into());
            let bounds = match name {
                "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" => SCORE_BOUNDS,
                "ZRANGEBYLEX" | "ZREVRANGEBYLEX" => LEX_BOUNDS,
                "ZREVRANGE" => RANKS,
                _ => *[RANKS, SCORE_BOUNDS, LEX_BOUNDS]
                    .choose(rng)
                    .unwrap_or(&RANKS),
            };
            a.push(pick(rng, bounds).into());
            a.push(pick(rng, bounds).into());
            for _ in 0..rng.gen_range(0..3) {
                match rng.gen_range(0..6) {
                    0 => a.push("WITHSCORES".into()),
                    1 => a.extend([
                        "LIMIT".into(),
                        pick(rng, &["0", "1", "-1", "x"]).into(),
                        pick(rng, &["1", "2", "-1", "0"]).into(),
                    ]),
                    2 => a.push("REV".into()),
                    3 => a.push("BYSCORE".into()),
                    4 => a.push("BYLEX".into()),
                    _ => a.push("bogus".into()),
                }
            }
        }
        "ZUNION" | "ZINTER" | "ZDIFF" | "ZINTERCARD" | "ZUNIONSTORE" | "ZINTERSTORE"
        | "ZDIFFSTORE" => {
            if name.ends_with("STORE") {
                a.push(k(rng).into());
            }
            let n = rng.gen_range(1..4);
            a.push(pick(rng, &[&n.to_string(), &n.to_string(), "0", "5", "x"]).into());
            for _ in 0..n {
                a.push(k(rng).into());
            }
            if maybe(rng, 0.3) {
                a.push("WEIGHTS".into());
                for _ in 0..n {
                    a.push(pick(rng, &["1", "2", "-1", "0.5", "x", "inf"]).into());
                }
            }
            if maybe(rng, 0.3) {
                a.extend([
                    "AGGREGATE".into(),
                    pick(rng, &["SUM", "MIN", "max", "x"]).into(),
                ]);
            }
            if maybe(rng, 0.4) {
                a.push("WITHSCORES".into());
            }
            if maybe(rng, 0.2) {
                a.extend(["LIMIT".into(), pick(rng, &["0", "1", "-1"]).into()]);
            }
        }
        "ZPOPMIN" | "ZPOPMAX" => {
            a.push(k(rng).into());
            if maybe(rng, 0.6) {
                a.push(pick(rng, &["0", "1", "2", "10", "-1", "x"]).into());
            }
        }
        "ZMPOP" | "BZMPOP" => {
            if name == "BZMPOP" {
                a.push(pick(rng, TIMEOUTS).into());
            }
            let n = rng.gen_range(1..3);
            a.push(pick(rng, &[&n.to_string(), &n.to_string(), "0", "x"]).into());
            for _ in 0..n {
                a.push(k(rng).into());
            }
            a.push(pick(rng, &["MIN", "MAX", "max", "x"]).into());
            if maybe(rng, 0.5) {
                a.extend([
                    "COUNT".into(),
                    pick(rng, &["1", "2", "10", "0", "x"]).into(),
                ]);
            }
        }
        "BZPOPMIN" => {
            for _ in 0..rng.gen_range(1..3) {
                a.push(k(rng).into());
            }
            a.push(pick(rng, TIMEOUTS).into());
        }
        "ZRANDMEMBER" => {
            a.push(k(rng).into());
            if maybe(rng, 0.7) {
                a.push(pick(rng, &["0", "1", "-3", "2", "100", "x"]).into());
                if maybe(rng, 0.5) {
                    a.push(pick(rng, &["WITHSCORES", "bogus"]).into());
                }
            }
        }
        "ZSCAN" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["0", "0", "x"]).into());
            if maybe(rng, 0.4) {
                a.extend(["MATCH".into(), pick(rng, &["1*", "*", "a*"]).into()]);
            }
        }
        "GEOADD" => {
            a.push(k(rng).into());
            if maybe(rng, 0.3) {
                a.push(pick(rng, &["NX", "XX", "CH"]).into());
            }
            for _ in 0..rng.gen_range(1..3) {
                a.push(pick(rng, LONGITUDES).into());
                a.push(pick(rng, LATITUDES).into());
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "GEOPOS" | "GEOHASH" => {
            a.push(k(rng).into());
            for _ in 0..rng.gen_range(1..3) {
                a.push(pick(rng, MEMBERS).into());
            }
        }
        "GEODIST" => {
            a.push(k(rng).into());
            a.push(pick(rng, MEMBERS).into());
            a.push(pick(rng, MEMBERS).into());
            if maybe(rng, 0.5) {
                a.push(pick(rng, &["m", "km", "mi", "ft", "x"]).into());
            }
        }
        "GEOSEARCH" | "GEORADIUS" => {
            a.push(k(rng).into());
            if name == "GEORADIUS" {
                a.push(pick(rng, LONGITUDES).into());
                a.push(pick(rng, LATITUDES).into());
                a.push(pick(rng, &["100", "5000", "0", "-1"]).into());
                a.push(pick(rng, &["km", "m", "x"]).into());
            } else {
                if maybe(rng, 0.5) {
                    a.extend(["FROMMEMBER".into(), pick(rng, MEMBERS).into()]);
                } else {
                    a.push("FROMLONLAT".into());
                    a.push(pick(rng, LONGITUDES).into());
                    a.push(pick(rng, LATITUDES).into());
                }
                if maybe(rng, 0.5) {
                    a.extend(["BYRADIUS".into(), pick(rng, &["100", "5000", "0"]).into()]);
                } else {
                    a.extend([
                        "BYBOX".into(),
                        pick(rng, &["100", "8000", "0"]).into(),
                        pick(rng, &["100", "8000", "-1"]).into(),
                    ]);
                }
                a.push(pick(rng, &["km", "mi"]).into());
            }
            for _ in 0..rng.gen_range(0..3) {
                a.push(pick(rng, &["WITHDIST", "WITHCOORD", "WITHHASH", "ASC", "DESC"]).into());
            }
            if maybe(rng, 0.3) {
                a.extend(["COUNT".into(), pick(rng, &["1", "2", "0"]).into()]);
            }
        }
        "XADD" => {
            a.push(k(rng).into());
            if maybe(rng, 0.1) {
                a.push("NOMKSTREAM".into());
            }
            if maybe(rng, 0.2) {
                a.push(pick(rng, &["MAXLEN", "MINID"]).into());
                if maybe(rng, 0.5) {
                    a.push(pick(rng, &["=", "~"]).into());
                }
                a.push(pick(rng, &["0", "2", "3-0", "x"]).into());
            }
            a.push(pick(rng, STREAM_IDS).into());
            for _ in 0..rng.gen_range(0..3) {
                a.push(pick(rng, FIELDS).into());
                a.push(pick(rng, VALUES).into());
            }
        }
        "XRANGE" | "XREVRANGE" => {
            a.push(k(rng).into());
            a.push(pick(rng, STREAM_BOUNDS).into());
            a.push(pick(rng, STREAM_BOUNDS).into());
            if maybe(rng, 0.3) {
                a.extend(["COUNT".into(), pick(rng, &["1", "0", "-1", "x"]).into()]);
            }
        }
        "XLEN" => a.push(k(rng).into()),
        "XDEL" | "XACK" => {
            a.push(k(rng).into());
            if name == "XACK" {
                a.push(pick(rng, GROUPS).into());
            }
            for _ in 0..rng.gen_range(1..3) {
                a.push(pick(rng, STREAM_IDS).into());
            }
        }
        "XTRIM" => {
            a.push(k(rng).into());
            a.push(pick(rng, &["MAXLEN", "MINID", "x"]).into());
            if maybe(rng, 0.5) {
                a.push(pick(rng, &["=", "~"]).into());
            }
            a.push(pick(rng, &["0", "1", "2-0", "x"]).into());
        }
        "XSETID" => {
            a.push(k(rng).into());
            a.push(pick(rng, STREAM_IDS).into());
        }
        "XREAD" | "XREADGROUP" => {
            if name == "XREADGROUP" {
                a.push("GROUP".into());
                a.push(pick(rng, GROUPS).into());
                a.push(pick(rng, CONSUMERS).into());
                if maybe(rng, 0.2) {
                    a.push("NOACK".into());
                }
            }
            if maybe(rng, 0.3) {
                a.extend(["COUNT".into(), pick(rng, &["1", "2", "0"]).into()]);
            }
            a.push("STREAMS".into());
            let n = rng.gen_range(1..3);
            for _ in 0..n {
                a.push(k(rng).into());
            }
            for _ in 0..n {
                a.push(pick(rng, &["0", "1-1", ">", "$", "x"]).into());
            }
        }
        "XGROUP" => match rng.gen_range(0..4) {
            0 => {
                a.extend(["CREATE".into(), k(rng).into(), pick(rng, GROUPS).into()]);
                a.push(pick(rng, &["0", "$", "1-1", "x"]).into());
                if maybe(rng, 0.3) {
                    a.push("MKSTREAM".into());
                }
            }
            1 => a.extend(["DESTROY".into(), k(rng).into(), pick(rng, GROUPS).into()]),
            2 => {
                let sub = pick(rng, &["CREATECONSUMER", "DELCONSUMER"]);
                a.extend([sub.into(), k(rng).into(), pick(rng, GROUPS).into()]);
                a.push(pick(rng, CONSUMERS).into());
            }
            _ => {
                a.extend(["SETID".into(), k(rng).into(), pick(rng, GROUPS).into()]);
                a.push(pick(rng, &["0", "$", "2-5"]).into());
            }
        },
        "XPENDING" => {
            a.push(k(rng).into());
            a.push(pick(rng, GROUPS).into());
            if maybe(rng, 0.5) {
                a.extend(["-".into(), "+".into(), pick(rng, &["10", "1", "x"]).into()]);
                if maybe(rng, 0.3) {
                    a.push(pick(rng, CONSUMERS).into());
                }
            }
        }
        "XCLAIM" | "XAUTOCLAIM" => {
            a.push(k(rng).into());
            a.push(pick(rng, GROUPS).into());
            a.push(pick(rng, CONSUMERS).into());
            a.push(pick(rng, &["0", "x"]).into());
            if name == "XCLAIM" {
                a.push(pick(rng, STREAM_IDS).into());
            } else {
                a.push(pick(rng, &["0", "-", "(1-1"]).into());
            }
            // Claimed entries' delivery counts compare; times do not
            // appear without XPENDING's idle column.
            a.push("JUSTID".into());
        }
        "XINFO" => match rng.gen_range(0..3) {
            0 => a.extend(["GROUPS".into(), k(rng).into()]),
            1 => a.extend(["CONSUMERS".into(), k(rng).into(), pick(rng, GROUPS).into()]),
            _ => a.extend(["STREAM".into(), k(rng).into()]),
        },
        "SELECT" => a.push(pick(rng, &["0", "0", "1", "16", "x"]).into()),
        "SWAPDB" => {
            a.push(pick(rng, &["0", "1", "x"]).into());
            a.push(pick(rng, &["0", "1", "16"]).into());
        }
        "ECHO" => a.push(pick(rng, VALUES).into()),
        "PING" if maybe(rng, 0.5) => a.push(pick(rng, VALUES).into()),
        _ => {}
    }
    let mut how = variable(name);
    // A set sorted BY nosort keeps its own order, so which members a
    // LIMIT picks is each server's own.
    let has = |w: &str| a.iter().any(|x| x.eq_ignore_ascii_case(w));
    if name.starts_with("SORT") && has("nosort") && has("LIMIT") {
        how = Compare::Shape;
    }
    (how, a.into_iter().map(String::into_bytes).collect())
}
