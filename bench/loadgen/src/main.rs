//! Load for `bench/compare`, for what redis-benchmark cannot do:
//!
//! - `fill PORT N SIZE`: SET key:%012d to N keys with SIZE-byte values,
//!   pipelined.
//! - `latency PORT RATE SECS`: GETs at a fixed total rate over 10
//!   connections, open loop: each request's latency is measured from when
//!   it was due, not from when it was sent, so a stalled server cannot
//!   hide its stall (no coordinated omission). Prints p50/p99/p99.9/max.
//! - `grow PORT N`: fills N keys as fast as one pipelined connection can
//!   while a probe connection sends one GET every millisecond; prints the
//!   probe's latency percentiles and maximum during the growth.
//!
//! - `multi PORT SECS CONNS DEPTH`: CONNS connections each pipeline DEPTH
//!   transactions (MULTI, 3 SETs, EXEC) per round trip; prints
//!   transactions and commands per second.
//! - `pubsub PORT SECS SUBS PUBS`: SUBS connections subscribe to one
//!   channel, PUBS connections publish to it pipelined 16 deep; prints
//!   messages published and delivered per second.
//! - `cache PORT SECS KEYS SIZE S CONNS`: cache-aside over KEYS keys drawn
//!   from a Zipf distribution of exponent S: GET, and on a miss SET a
//!   SIZE-byte value; CONNS connections. Prints the hit ratio of the second
//!   half of the run (the first warms the cache).
//! - `zfill PORT SETS MEMBERS`: ZADD MEMBERS members (`member:%012d`, the
//!   names redis-benchmark's `member:__rand_int__` gives; integer scores in
//!   a scrambled order) to each of SETS sorted sets (`zset` when SETS is 1,
//!   else `zset:%09d`), 100 members a command, pipelined.
//! - `setlat PORT RATE SECS KEYS SIZE`: SETs of SIZE-byte values to keys
//!   drawn uniformly from KEYS, open loop at a fixed total rate over 10
//!   connections; prints latency percentiles.
//!
//! Plain blocking sockets and threads: the client must not be the thing
//! being measured, and this keeps it simple and predictable.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one simple reply (status, error, integer or bulk).
fn read_reply(r: &mut impl BufRead) {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("reply");
    if line.first() == Some(&b'$') {
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        if n >= 0 {
            let mut body = vec![0u8; n as usize + 2];
            r.read_exact(&mut body).unwrap();
        }
    }
}

/// Reads one reply of any shape (aggregates too), returning its first
/// byte.
fn read_value(r: &mut impl BufRead) -> u8 {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("reply");
    let n = || -> i64 {
        std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap()
            .parse()
            .unwrap()
    };
    match line.first() {
        Some(b'$') if n() >= 0 => {
            let mut body = vec![0u8; n() as usize + 2];
            r.read_exact(&mut body).unwrap();
        }
        Some(b'*' | b'>') => {
            for _ in 0..n().max(0) {
                read_value(r);
            }
        }
        _ => {}
    }
    line[0]
}

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn multi(port: u16, secs: u64, conns: u64, depth: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let s = connect(port);
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::with_capacity(1 << 16, s);
                let mut buf = Vec::new();
                for i in 0..depth {
                    encode(&[b"MULTI"], &mut buf);
                    for k in 0..3 {
                        let key = format!("tx:{c}:{i}:{k}");
                        encode(&[b"SET", key.as_bytes(), b"value-16-bytes!!"], &mut buf);
                    }
                    encode(&[b"EXEC"], &mut buf);
                }
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    w.write_all(&buf).unwrap();
                    for _ in 0..depth * 5 {
                        read_value(&mut r);
                    }
                    done += depth as u64;
                }
                done
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let txns: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let t = start.elapsed().as_secs_f64();
    println!(
        "multi txn_per_sec={:.0} cmds_per_sec={:.0}",
        txns as f64 / t,
        txns as f64 * 5.0 / t
    );
}

fn pubsub(port: u16, secs: u64, subs: u64, pubs: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..subs {
        let s = connect(port);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::with_capacity(1 << 16, s);
        w.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
            .unwrap();
        read_value(&mut r);
        let received = received.clone();
        // Counts messages until the process exits.
        std::thread::spawn(move || loop {
            read_value(&mut r);
            received.fetch_add(1, Ordering::Relaxed);
        });
    }
    let published = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writers: Vec<_> = (0..pubs)
        .map(|_| {
            let (stop, published) = (stop.clone(), published.clone());
            std::thread::spawn(move || {
                let s = connect(port);
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::with_capacity(1 << 16, s);
                let mut buf = Vec::new();
                for _ in 0..16 {
                    encode(
                        &[b"PUBLISH", b"ch", b"message-of-32-bytes-xxxxxxxxxxxx"],
                        &mut buf,
                    );
                }
                while !stop.load(Ordering::Relaxed) {
                    w.write_all(&buf).unwrap();
                    for _ in 0..16 {
                        read_value(&mut r);
                    }
                    published.fetch_add(16, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    let before = received.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(secs));
    let got = received.load(Ordering::Relaxed) - before;
    let t = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    println!(
        "pubsub subscribers={subs} published_per_sec={:.0} delivered_per_sec={:.0}",
        published.load(Ordering::Relaxed) as f64 / t,
        got as f64 / t
    );
}

fn set_cmd(out: &mut Vec<u8>, i: u64, value: &[u8]) {
    let key = format!("key:{i:012}");
    out.extend_from_slice(
        format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
            key.len(),
            value.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn fill(port: u16, n: u64, size: usize, stop_early: Option<&AtomicBool>) {
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::with_capacity(1 << 16, s);
    let value = vec![b'v'; size];
    let batch = 1000;
    let mut buf = Vec::with_capacity(batch * 64);
    let mut i = 0;
    while i < n {
        if stop_early.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        buf.clear();
        let end = (i + batch as u64).min(n);
        for j in i..end {
            set_cmd(&mut buf, j, &value);
        }
        w.write_all(&buf).unwrap();
        for _ in i..end {
            read_reply(&mut r);
        }
        i = end;
    }
}

fn zfill(port: u16, sets: u64, members: u64) {
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::with_capacity(1 << 16, s);
    let mut buf = Vec::new();
    let mut pending = 0;
    for set in 0..sets {
        let key = if sets == 1 {
            "zset".to_string()
        } else {
            format!("zset:{set:09}")
        };
        let mut j = 0;
        while j < members {
            let end = (j + 100).min(members);
            let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.clone().into_bytes()];
            for m in j..end {
                // Multiplying by an odd constant modulo a power of two is
                // a bijection: distinct scores in no particular order.
                let score = m.wrapping_mul(0x9E37_79B9) & 0xFFFF_FFFF;
                args.push(score.to_string().into_bytes());
                args.push(format!("member:{m:012}").into_bytes());
            }
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            encode(&refs, &mut buf);
            pending += 1;
            j = end;
            if pending == 100 {
                w.write_all(&buf).unwrap();
                buf.clear();
                for _ in 0..pending {
                    read_reply(&mut r);
                }
                pending = 0;
            }
        }
    }
    w.write_all(&buf).unwrap();
    for _ in 0..pending {
        read_reply(&mut r);
    }
}

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "{name} count={} p50_us={} p99_us={} p999_us={} max_us={}",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

/// Open loop over 10 connections at a fixed total rate: connection `c`
/// sends `next(c, &mut buf)`'s request each time one is due, and each
/// latency is measured from when it was due (no coordinated omission).
fn open_loop(
    port: u16,
    rate: u64,
    secs: u64,
    next: impl Fn(u64, &mut Vec<u8>) + Send + Sync + Copy + 'static,
) -> Histogram<u64> {
    let conns = 10;
    let interval = Duration::from_nanos(1_000_000_000 * conns / rate.max(1));
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            std::thread::spawn(move || {
                let s = connect(port);
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut h = Histogram::<u64>::new(3).unwrap();
                let start = Instant::now() + Duration::from_micros(c * 97);
                let end = start + Duration::from_secs(secs);
                let mut due = start;
                let mut cmd = Vec::new();
                while due < end {
                    let now = Instant::now();
                    if now < due {
                        std::thread::sleep(due - now);
                    }
                    cmd.clear();
                    next(c, &mut cmd);
                    w.write_all(&cmd).unwrap();
                    read_reply(&mut r);
                    h.record(due.elapsed().as_micros() as u64).unwrap();
                    due += interval;
                }
                h
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3).unwrap();
    for h in handles {
        all.add(h.join().unwrap()).unwrap();
    }
    all
}

fn latency(port: u16, rate: u64, secs: u64) {
    // GETs over 1,000 keys, each connection stepping through them.
    let h = open_loop(port, rate, secs, |c, out| {
        thread_local! {
            static I: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        let i = I.with(|i| {
            let v = i.get();
            i.set(v + 1);
            v * 10 + c
        });
        let key = format!("key:{:012}", i % 1000);
        encode(&[b"GET", key.as_bytes()], out);
    });
    report(&format!("latency rate={rate}"), &h);
}

fn probe_gets(port: u16, stop: Arc<AtomicBool>) -> Histogram<u64> {
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < due {
            std::thread::sleep(due - now);
        }
        w.write_all(b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000001\r\n")
            .unwrap();
        read_reply(&mut r);
        h.record(due.elapsed().as_micros() as u64).unwrap();
        due += Duration::from_millis(1);
    }
    h
}

fn grow(port: u16, n: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let stop = stop.clone();
        std::thread::spawn(move || probe_gets(port, stop))
    };
    let start = Instant::now();
    fill(port, n, 16, None);
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let h = probe.join().unwrap();
    println!("grow keys={n} secs={:.1}", took.as_secs_f64());
    report("grow-probe", &h);
    // The same probe on the full table, for the steady-state comparison.
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let stop = stop.clone();
        std::thread::spawn(move || probe_gets(port, stop))
    };
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    report("steady-probe", &probe.join().unwrap());
}

/// xorshift64*: enough randomness for picking keys, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The cumulative distribution of Zipf(s) over n ranks.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut cdf = Vec::with_capacity(n);
    let mut total = 0.0;
    for i in 0..n {
        total += 1.0 / ((i + 1) as f64).powf(s);
        cdf.push(total);
    }
    for c in cdf.iter_mut() {
        *c /= total;
    }
    cdf
}

fn cache(port: u16, secs: u64, keys: usize, size: usize, s: f64, conns: u64) {
    let cdf = Arc::new(zipf_cdf(keys, s));
    let warm = Instant::now() + Duration::from_secs(secs / 2);
    let end = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let cdf = cdf.clone();
            std::thread::spawn(move || {
                let sock = connect(port);
                let mut w = sock.try_clone().unwrap();
                let mut r = BufReader::new(sock);
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1));
                let value = vec![b'v'; size];
                let (mut hits, mut misses) = (0u64, 0u64);
                let mut line = Vec::new();
                while Instant::now() < end {
                    let u = rng.unit();
                    let rank = cdf.partition_point(|&p| p < u);
                    let key = format!("key:{rank:012}");
                    let mut cmd = Vec::new();
                    encode(&[b"GET", key.as_bytes()], &mut cmd);
                    w.write_all(&cmd).unwrap();
                    line.clear();
                    r.read_until(b'\n', &mut line).unwrap();
                    let hit = line.as_slice() != b"$-1\r\n";
                    if hit {
                        let mut body = vec![0u8; size + 2];
                        std::io::Read::read_exact(&mut r, &mut body).unwrap();
                    } else {
                        cmd.clear();
                        encode(&[b"SET", key.as_bytes(), &value], &mut cmd);
                        w.write_all(&cmd).unwrap();
                        read_reply(&mut r);
                    }
                    if Instant::now() >= warm {
                        if hit {
                            hits += 1;
                        } else {
                            misses += 1;
                        }
                    }
                }
                (hits, misses)
            })
        })
        .collect();
    let (mut hits, mut misses) = (0, 0);
    for h in handles {
        let (a, b) = h.join().unwrap();
        hits += a;
        misses += b;
    }
    println!(
        "cache hits={hits} misses={misses} hit_ratio={:.4}",
        hits as f64 / (hits + misses).max(1) as f64
    );
}

fn setlat(port: u16, rate: u64, secs: u64, keys: u64, size: usize) {
    let h = open_loop(port, rate, secs, move |c, out| {
        thread_local! {
            static RNG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        let n = RNG.with(|r| {
            let mut rng = Rng(if r.get() == 0 {
                0xD1B5_4A32_D192_ED03 ^ (c + 1)
            } else {
                r.get()
            });
            let n = rng.next();
            r.set(rng.0);
            n
        });
        set_cmd(out, n % keys, &vec![b'v'; size]);
    });
    report(&format!("setlat rate={rate}"), &h);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 { args[i].parse().expect("a number") };
    match args.first().map(String::as_str) {
        Some("fill") => fill(num(1) as u16, num(2), num(3) as usize, None),
        Some("latency") => latency(num(1) as u16, num(2), num(3)),
        Some("grow") => grow(num(1) as u16, num(2)),
        Some("multi") => multi(num(1) as u16, num(2), num(3), num(4) as usize),
        Some("pubsub") => pubsub(num(1) as u16, num(2), num(3), num(4)),
        Some("cache") => cache(
            num(1) as u16,
            num(2),
            num(3) as usize,
            num(4) as usize,
            args[5].parse().expect("an exponent"),
            num(6),
        ),
        Some("zfill") => zfill(num(1) as u16, num(2), num(3)),
        Some("setlat") => setlat(num(1) as u16, num(2), num(3), num(4), num(5) as usize),
        _ => {
            eprintln!("usage: loadgen fill PORT N SIZE | latency PORT RATE SECS | grow PORT N | multi PORT SECS CONNS DEPTH | pubsub PORT SECS SUBS PUBS | cache PORT SECS KEYS SIZE S CONNS | zfill PORT SETS MEMBERS | setlat PORT RATE SECS KEYS SIZE");
            std::process::exit(2);
        }
    }
}
