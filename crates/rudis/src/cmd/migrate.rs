//! MIGRATE, as Redis 7.0's `migrateCommand`: the keys go to another
//! server as RESTORE lines carrying DUMP payloads, over a connection
//! kept for the next MIGRATE to the same address (10 seconds idle at
//! most, 64 addresses), and are deleted here once the target acknowledged
//! each (not with COPY).
//!
//! The transfer is synchronous, as Redis's: the command's thread waits
//! for the target (each step bounded by the timeout) with the keys'
//! shards locked, so the keys cannot change between their DUMP and their
//! deletion. A MIGRATE to this same server therefore times out (its
//! RESTORE waits for the locks MIGRATE holds), as it does in Redis.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use smallvec::{smallvec, SmallVec};

use super::flags::*;
use super::table::KeyPositions;
use super::{acl, is, parse_int, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use crate::effects::class::GENERIC;
use crate::errors::{self, CmdResult, Error};
use crate::rdb::{self, value};

pub static COMMANDS: &[Command] = &[row("migrate", -6, WRITE, migrate)
    .acl(acl::KEYSPACE | acl::DANGEROUS)
    .tips(&["nondeterministic_output"])
    .keys(&[
        KeySpec::at(3, &["RW", "access", "delete"]),
        KeySpec::new(
            &["RW", "access", "delete", "incomplete"],
            Begin::Keyword("KEYS", -2),
            Find::Range(-1, 1, 0),
        ),
    ])
    .get_keys(migrate_keys)];

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS and _TTL.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
/// A reply line longer than this from the target is a broken target.
const MAX_LINE: usize = 64 * 1024;

/// The keys of a MIGRATE line as Redis finds them: by the key specs when
/// no KEYS keyword is seen searching back from the second-last argument
/// (the one key at 3), otherwise (the KEYS spec is incomplete) by
/// `migrateGetKeys`, which reads the options as the command does. An
/// empty answer is Redis's "Invalid arguments" (KEYS with a key given).
fn migrate_keys(argv: Argv) -> KeyPositions {
    let argc = argv.len();
    let at = |i: usize| argv.get(i).unwrap_or_default();
    let keyword = (1..argc.saturating_sub(1)).rev().any(|i| is(at(i), "keys"));
    if keyword {
        let mut i = 6;
        while i < argc {
            let a = at(i);
            if is(a, "keys") {
                if !at(3).is_empty() {
                    return SmallVec::new();
                }
                return (i + 1..argc).map(|k| (k, 1)).collect();
            }
            i += option_args(a) + 1;
        }
    }
    smallvec![(3, 0)]
}

/// How many arguments follow an option that takes some.
fn option_args(a: &[u8]) -> usize {
    if is(a, "auth") {
        1
    } else if is(a, "auth2") {
        2
    } else {
        0
    }
}

/// Whether argument `i` of a MIGRATE line is a secret (the AUTH and
/// AUTH2 arguments the options parse reaches), for MONITOR and SLOWLOG.
pub fn is_secret(argv: Argv, i: usize) -> bool {
    let mut j = 6;
    while j < argv.len() {
        let a = argv.get(j).unwrap_or_default();
        if is(a, "keys") {
            return false;
        }
        let n = option_args(a);
        if n > 0 && j + n >= argv.len() {
            return false;
        }
        if i > j && i <= j + n {
            return true;
        }
        j += n + 1;
    }
    false
}

/// A connection to a target, kept between MIGRATEs.
struct Link {
    conn: BufReader<TcpStream>,
    /// The database the target connection has selected (-1: unknown).
    last_db: i64,
    last_use: Instant,
}

/// The cached connections by "host:port" as given.
#[derive(Default)]
pub struct Links(Mutex<HashMap<Vec<u8>, Link>>);

impl Links {
    /// Closes the connections idle for longer than Redis's TTL.
    pub fn close_idle(&self) {
        let mut map = self.0.lock();
        if !map.is_empty() {
            map.retain(|_, l| l.last_use.elapsed() <= CACHE_TTL);
        }
    }

    /// The cached connection to `name`, taken out while in use (another
    /// thread's MIGRATE to the same address opens its own).
    fn take(&self, name: &[u8]) -> Option<Link> {
        self.0.lock().remove(name)
    }

    fn put(&self, name: Vec<u8>, mut link: Link) {
        link.last_use = Instant::now();
        let mut map = self.0.lock();
        if map.len() >= CACHE_ITEMS && !map.contains_key(&name) {
            // Too many: one goes (Redis drops a random one).
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        map.insert(name, link);
    }
}

/// How a connection attempt failed.
enum Connect {
    /// Redis's connect step refused it (no address): reported at once.
    Refused,
    /// The connection was not made: Redis finds out writing to it.
    Failed(io::Error),
}

/// `atoi` of the port, as Redis passes it on; negative ports fail to
/// resolve, larger ones wrap as the resolver stores them.
fn port_of(a: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(a).ok()?.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = (n * 10 + (c - b'0') as i64).min(i64::from(u32::MAX));
    }
    if neg && n > 0 {
        return None;
    }
    Some(n as u16)
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<Link, Connect> {
    let host = std::str::from_utf8(host).map_err(|_| Connect::Refused)?;
    let port = port_of(port).ok_or(Connect::Refused)?;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|_| Connect::Refused)?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(Link {
                    conn: BufReader::new(s),
                    last_db: -1,
                    last_use: Instant::now(),
                });
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        // A connection started and then refused or timed out, as the
        // non-blocking connect Redis makes sees it.
        Some(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut) => {
            Err(Connect::Failed(e))
        }
        _ => Err(Connect::Refused),
    }
}

fn put_bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

fn put_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        put_bulk(out, a);
    }
}

/// One reply line of the target, without its CRLF.
fn read_line(conn: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = io::Read::take(&mut *conn, MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

struct Opts<'a> {
    copy: bool,
    replace: bool,
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    keys: Vec<&'a [u8]>,
}

fn parse<'a>(argv: Argv<'a>, args: &mut Args<'a>) -> Result<Opts<'a>, Error> {
    let key = argv.get(3).unwrap_or_default();
    let mut o = Opts {
        copy: false,
        replace: false,
        user: None,
        password: None,
        keys: vec![key],
    };
    while let Some(a) = args.next_arg() {
        let more = args.remaining();
        if is(a, "copy") {
            o.copy = true;
        } else if is(a, "replace") {
            o.replace = true;
        } else if is(a, "auth") {
            if more < 1 {
                return Err(errors::SYNTAX.into());
            }
            o.password = Some(args.arg());
        } else if is(a, "auth2") {
            if more < 2 {
                return Err(errors::SYNTAX.into());
            }
            o.user = Some(args.arg());
            o.password = Some(args.arg());
        } else if is(a, "keys") {
            if !key.is_empty() {
                return Err(Error::Static(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.keys = args.rest().iter().collect();
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(o)
}

/// How one attempt at the transfer ended.
enum Attempt {
    /// Every key's reply was read (the acknowledged keys deleted here
    /// unless COPY), or the target refused something: its error text.
    Done { refused: Option<Vec<u8>> },
    /// The connection failed: `writing` or reading, `retry` when Redis
    /// tries once more with a new connection.
    Broken { writing: bool, retry: bool },
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key [key ...]]
fn migrate(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let argv = args.argv();
    *args = Args::new(argv, 6);
    let opts = parse(argv, args)?;
    let at = |i: usize| argv.get(i).unwrap_or_default();
    let timeout = parse_int(at(5))?;
    let db = parse_int(at(4))?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let now = ctx.now;
    let keys: Vec<&[u8]> = opts
        .keys
        .iter()
        .copied()
        .filter(|k| ctx.table(k).find(k, now).is_some())
        .collect();
    if keys.is_empty() {
        ctx.out.simple(b"NOKEY");
        return Ok(());
    }
    let (host, port) = (at(1), at(2));
    let mut name = host.to_vec();
    name.push(b':');
    name.extend_from_slice(port);
    let mut may_retry = true;
    loop {
        let link = match ctx.server.migrate.take(&name) {
            Some(l) => Ok(l),
            None => connect(host, port, timeout),
        };
        let attempt = match link {
            Err(Connect::Refused) => {
                return Err(Error::Static(
                    "IOERR error or timeout connecting to the client",
                ))
            }
            Err(Connect::Failed(e)) => Attempt::Broken {
                writing: true,
                retry: !timed_out(&e),
            },
            Ok(link) => transfer(ctx, link, &name, &keys, db, timeout, &opts),
        };
        match attempt {
            Attempt::Done { refused: None } => {
                ctx.out.ok();
                return Ok(());
            }
            Attempt::Done {
                refused: Some(text),
            } => {
                let mut e = b"ERR Target instance replied with error: ".to_vec();
                e.extend_from_slice(&text);
                return Err(Error::Owned(e));
            }
            Attempt::Broken { retry: true, .. } if may_retry => may_retry = false,
            Attempt::Broken { writing, .. } => {
                return Err(Error::Static(if writing {
                    "IOERR error or timeout writing to target instance"
                } else {
                    "IOERR error or timeout reading to target instance"
                }));
            }
        }
    }
}

/// One attempt over `link`: the commands written at once, then the
/// replies read, the local keys deleted as their RESTOREs are
/// acknowledged. The link goes back to the cache unless it broke.
#[allow(clippy::too_many_arguments)]
fn transfer(
    ctx: &mut Ctx,
    mut link: Link,
    name: &[u8],
    keys: &[&[u8]],
    db: i64,
    timeout: Duration,
    o: &Opts,
) -> Attempt {
    let mut cmd = Vec::new();
    if let Some(pw) = o.password {
        match o.user {
            Some(u) => put_command(&mut cmd, &[b"AUTH", u, pw]),
            None => put_command(&mut cmd, &[b"AUTH", pw]),
        }
    }
    let select = link.last_db != db;
    if select {
        put_command(
            &mut cmd,
            &[b"SELECT", itoa::Buffer::new().format(db).as_bytes()],
        );
    }
    // A key may have expired since it was looked up (serialising a large
    // one takes time): it is left out.
    let now_ms = crate::db::now_ms() as i64;
    let mut sent = Vec::with_capacity(keys.len());
    for &key in keys {
        let now = ctx.now;
        let Some(e) = ctx.table(key).get(key, now) else {
            continue;
        };
        let mut ttl = 0;
        if e.expire_at() != 0 {
            ttl = e.expire_at() as i64 - now_ms;
            if ttl < 0 {
                continue;
            }
            ttl = ttl.max(1);
        }
        let mut payload = Vec::new();
        value::put_value(&mut payload, &e.value);
        rdb::put_footer(&mut payload);
        let ttl = itoa::Buffer::new().format(ttl).as_bytes().to_vec();
        let mut line: SmallVec<[&[u8]; 5]> =
            smallvec![b"RESTORE".as_slice(), key, &ttl[..], &payload[..]];
        if o.replace {
            line.push(b"REPLACE");
        }
        put_command(&mut cmd, &line);
        sent.push(key);
    }
    let conn = &mut link.conn;
    let _ = conn.get_ref().set_write_timeout(Some(timeout));
    let _ = conn.get_ref().set_read_timeout(Some(timeout));
    if let Err(e) = conn.get_mut().write_all(&cmd) {
        return Attempt::Broken {
            writing: true,
            retry: !timed_out(&e),
        };
    }
    let broken = |e: io::Error| Attempt::Broken {
        writing: false,
        retry: !timed_out(&e),
    };
    let auth = match o.password {
        Some(_) => match read_line(conn) {
            Ok(l) => Some(l),
            Err(e) => return broken(e),
        },
        None => None,
    };
    let selected = match select {
        true => match read_line(conn) {
            Ok(l) => Some(l),
            Err(e) => return broken(e),
        },
        false => None,
    };
    let failed = |l: &Option<Vec<u8>>| l.as_ref().filter(|l| l.first() == Some(&b'-')).cloned();
    let mut refused: Option<Vec<u8>> = None;
    for (j, &key) in sent.iter().enumerate() {
        let reply = match read_line(conn) {
            Ok(l) => l,
            // The link is dropped. A target's error already heard is what
            // the client gets; otherwise, with nothing read yet, Redis
            // tries a new connection unless this one timed out.
            Err(_) if refused.is_some() => return Attempt::Done { refused },
            Err(e) => {
                return Attempt::Broken {
                    writing: false,
                    retry: j == 0 && !timed_out(&e),
                }
            }
        };
        let error = failed(&auth)
            .or_else(|| failed(&selected))
            .or_else(|| (reply.first() == Some(&b'-')).then_some(reply));
        match error {
            Some(text) if refused.is_none() => {
                // The target's database is no longer known.
                link.last_db = -1;
                refused = Some(text[1..].to_vec());
            }
            Some(_) => {}
            None if !o.copy => {
                let now = ctx.now;
                ctx.table(key).remove(key, now);
                ctx.modified(key, GENERIC, "del");
            }
            None => {}
        }
    }
    // With every key expired since its lookup, no reply is read: the
    // AUTH and SELECT replies are not looked at (as in Redis).
    if refused.is_none() {
        link.last_db = db;
    }
    ctx.server.migrate.put(name.to_vec(), link);
    Attempt::Done { refused }
}
