//! Test support: boots the real `rudis` binary (and, for differential
//! tests, the reference `redis-server`) on a free port, and talks to it
//! through the `redis` crate or raw bytes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// A port no other server of this test process uses: ports come from a
/// process-wide counter (tests in one binary run in parallel threads; two
/// asking the kernel for "any free port" can be handed the same one), and
/// each is checked to be bindable.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Below Linux's ephemeral range (32768+), so no outgoing connection
    // can be holding the port, and a probe cannot connect to itself.
    let offset = (std::process::id() % 120) * 100;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (20_000 + (offset + n) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A server process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    /// Where the server's standard error goes (shown when it fails).
    pub log: std::path::PathBuf,
    /// The working directory given to a server that was not given one (so
    /// no test leaves or loads a dump.rdb where the tests run).
    pub dir: Option<std::path::PathBuf>,
}

impl Proc {
    /// Starts `program` with `args` plus `--port P`, retrying on another
    /// port if it dies (e.g. the port was taken in between).
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        for _ in 0..5 {
            let port = free_port();
            let log =
                std::env::temp_dir().join(format!("rudis-test-{}-{port}.log", std::process::id()));
            let stderr = match std::env::var_os("RUDIS_TEST_STDERR") {
                Some(_) => Stdio::inherit(),
                None => std::fs::File::create(&log).map_or(Stdio::null(), Stdio::from),
            };
            let dir = (!args.contains(&"--dir")).then(|| {
                let d = std::env::temp_dir()
                    .join(format!("rudis-test-{}-{port}.dir", std::process::id()));
                let _ = std::fs::create_dir_all(&d);
                d
            });
            let mut extra = vec!["--port".to_string(), port.to_string()];
            if let Some(d) = &dir {
                extra.extend(["--dir".to_string(), d.display().to_string()]);
            }
            // Flags after the arguments: a config file must come first.
            let mut child = Command::new(program)
                .args(args)
                .args(&extra)
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
            let start = Instant::now();
            while start.elapsed() < DEADLINE {
                // Ready means a full PING round trip with this child alive.
                if ping(port) && child.try_wait().ok().flatten().is_none() {
                    return Proc {
                        child,
                        port,
                        log,
                        dir,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            if let Some(d) = &dir {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        panic!("{program} did not start");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    pub fn raw(&self) -> Raw {
        match TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(s) => Raw::from_stream(s),
            Err(e) => {
                let alive = std::path::Path::new(&format!("/proc/{}", self.child.id())).exists();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "connect to 127.0.0.1:{}: {e}; server process alive: {alive}; its log:\n{log}",
                    self.port
                );
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn rudis_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rudis")
}

/// rudis on 127.0.0.1 with the given extra flags. With
/// `RUDIS_TEST_REFERENCE=redis-server` in the environment the same test
/// runs against Redis instead (rudis's own `--threads` left out), to
/// check a test's expectations against the reference by hand.
pub fn rudis(args: &[&str]) -> Proc {
    // No save points (Redis's and rudis's default has some), as the
    // reference gets: a test that wants them adds its own `--save`.
    let mut all = vec!["--bind", "127.0.0.1", "--loglevel", "warning", "--save", ""];
    if let Ok(reference) = std::env::var("RUDIS_TEST_REFERENCE") {
        let mut rest = args.iter();
        while let Some(a) = rest.next() {
            if *a == "--threads" {
                rest.next();
            } else {
                all.push(a);
            }
        }
        all.extend(["--appendonly", "no"]);
        return Proc::spawn(Box::leak(reference.into_boxed_str()), &all);
    }
    all.extend_from_slice(args);
    Proc::spawn(rudis_bin(), &all)
}

/// A raw connection: bytes in, bytes out, replies read by RESP framing.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
}

/// One PING round trip on a fresh connection.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    if s.local_addr().ok() == s.peer_addr().ok() {
        return false;
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 7];
    // -NOAUTH (a server with requirepass) is a working server too.
    s.write_all(b"PING\r\n").is_ok()
        && s.read_exact(&mut buf).is_ok()
        && (&buf == b"+PONG\r\n" || &buf == b"-NOAUTH")
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        Raw::from_stream(TcpStream::connect(("127.0.0.1", port)).expect("connect"))
    }

    pub fn from_stream(s: TcpStream) -> Raw {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Raw {
            reader: BufReader::new(s),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("send");
    }

    /// Sends one command as a multibulk request and returns its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.reply()
    }

    /// Reads exactly one complete RESP2/RESP3 reply.
    pub fn reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_value(&mut self.reader, &mut out);
        out
    }

    /// Reads `expected.len()` bytes and compares them with `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0u8; expected.len()];
        self.reader.read_exact(&mut got).unwrap_or_else(|e| {
            panic!(
                "reading {:?}: {e}",
                String::from_utf8_lossy(expected).to_string()
            )
        });
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Sends a command and checks its reply's bytes.
    pub fn expect_cmd(&mut self, args: &[&[u8]], expected: &[u8]) {
        self.send(&encode(args));
        self.expect(expected);
    }

    /// True if nothing arrives for `wait` (the connection stays usable).
    pub fn quiet(&mut self, wait: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut b = [0u8; 1];
        let nothing = matches!(self.reader.get_ref().peek(&mut b), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        self.reader
            .get_ref()
            .set_read_timeout(Some(DEADLINE))
            .unwrap();
        nothing
    }

    /// True when the server closed the connection (after any pending bytes).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_line(r: &mut impl BufRead, out: &mut Vec<u8>) -> Vec<u8> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read reply line");
    assert!(
        line.ends_with(b"\r\n"),
        "truncated reply: {:?}",
        String::from_utf8_lossy(&line)
    );
    out.extend_from_slice(&line);
    line
}

/// Appends one RESP value read from `r` to `out`.
pub fn read_value(r: &mut impl BufRead, out: &mut Vec<u8>) {
    let line = read_line(r, out);
    let n = || -> i64 {
        std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1)
    };
    match line[0] {
        b'$' | b'=' | b'!' if n() >= 0 => {
            let mut body = vec![0u8; n() as usize + 2];
            r.read_exact(&mut body).expect("read bulk");
            out.extend_from_slice(&body);
        }
        b'*' | b'~' | b'>' => {
            for _ in 0..n().max(0) {
                read_value(r, out);
            }
        }
        b'%' | b'|' => {
            for _ in 0..2 * n().max(0) {
                read_value(r, out);
            }
        }
        _ => {}
    }
}

/// INFO's blocked_clients.
pub fn blocked_clients(c: &mut Raw) -> usize {
    let info = c.cmd(&[b"INFO", b"clients"]);
    let text = String::from_utf8_lossy(&info);
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Waits until `n` clients are blocked, so the next step's order is known.
pub fn wait_blocked(c: &mut Raw, n: usize) {
    eventually(&format!("{n} blocked clients"), || blocked_clients(c) == n);
}

/// Polls `f` until it returns true or the deadline passes.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for: {what}");
}

/// A connection to 127.0.0.1:`port` from the local address `src` (such as
/// 127.0.0.2, which Redis counts as remote).
pub fn connect_from(src: &str, port: u16) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: std::net::SocketAddr = format!("{src}:0").parse().unwrap();
    sock.bind(&from.into()).unwrap();
    let to: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect(&to.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}
