//! The command table and dispatch.
//!
//! Each command is one `Command` row in its group's module: name, arity
//! (Redis convention: positive means exact, negative means at least),
//! flags, key positions and handler. Dispatch, locking, and later COMMAND
//! INFO/DOCS and MULTI read this row; nothing else restates it. Arity and
//! unknown-command checks happen here, once, never in handlers.

pub mod connection;
pub mod keys;
pub mod server;
pub mod string;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use parking_lot::MutexGuard;
use resp::Reply;
use smallvec::SmallVec;

use crate::client::Client;
use crate::db::{shard_of, Shard, Table};
use crate::errors::{self, CmdResult, Error};
use crate::server::Server;

/// Command flags, named as in Redis's COMMAND INFO.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const ALLOW_BUSY: u32 = 1 << 15;
}

pub type Handler = fn(&mut Ctx, &mut Args) -> CmdResult;

/// Where a command's keys are, as Redis's legacy (first, last, step):
/// `last` negative counts from the end (-1: the last argument).
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    None,
    Range { first: i32, last: i32, step: i32 },
}

pub struct Command {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    pub handler: Handler,
}

impl Command {
    /// Positions of the key arguments in `argv`.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, last, step) = match self.keys {
            Keys::None => (1, 0, 1),
            Keys::Range { first, last, step } => {
                let last = if last < 0 { argc as i32 + last } else { last };
                (first as usize, last.max(0) as usize, step.max(1) as usize)
            }
        };
        (first..=last.min(argc.saturating_sub(1))).step_by(step)
    }
}

/// A table row; `keys` as (first, last, step), (0, 0, 0) for none.
pub const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    (first, last, step): (i32, i32, i32),
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: if first == 0 {
            Keys::None
        } else {
            Keys::Range { first, last, step }
        },
        handler,
    }
}

type CommandMap = HashMap<&'static str, &'static Command, ahash::RandomState>;

fn table() -> &'static CommandMap {
    static TABLE: OnceLock<CommandMap> = OnceLock::new();
    TABLE.get_or_init(|| {
        [
            connection::COMMANDS,
            keys::COMMANDS,
            server::COMMANDS,
            string::COMMANDS,
        ]
        .into_iter()
        .flatten()
        .map(|c| (c.name, c))
        .collect()
    })
}

/// Looks a command up by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    table().get(std::str::from_utf8(lower).ok()?).copied()
}

pub fn all_commands() -> impl Iterator<Item = &'static Command> {
    table().values().copied()
}

/// A command line: byte ranges into the connection's read buffer, so no
/// argument is copied and no vector of slices is built per command.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Argv<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Self {
        Argv { buf, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let r = self.ranges.get(i)?;
        Some(&self.buf[r.clone()])
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.ranges.iter().map(move |r| &buf[r.clone()])
    }

    /// The arguments from position `from` on.
    pub fn from(&self, from: usize) -> Argv<'a> {
        Argv {
            buf: self.buf,
            ranges: &self.ranges[from.min(self.ranges.len())..],
        }
    }
}

/// The arguments of a command, read front to back. Starts after the name.
pub struct Args<'a> {
    argv: Argv<'a>,
    pos: usize,
}

impl<'a> Args<'a> {
    pub fn new(argv: Argv<'a>) -> Self {
        Args { argv, pos: 1 }
    }

    /// The next argument, if any.
    pub fn next_arg(&mut self) -> Option<&'a [u8]> {
        let a = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument that the arity check guarantees is present.
    pub fn arg(&mut self) -> &'a [u8] {
        self.next_arg().unwrap_or_default()
    }

    pub fn peek(&self) -> Option<&'a [u8]> {
        self.argv.get(self.pos)
    }

    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos.min(self.argv.len())
    }

    /// All arguments not read yet.
    pub fn rest(&mut self) -> Argv<'a> {
        let r = self.argv.from(self.pos);
        self.pos = self.argv.len();
        r
    }

    /// The whole command line, name included.
    pub fn argv(&self) -> Argv<'a> {
        self.argv
    }

    pub fn int(&mut self) -> Result<i64, Error> {
        parse_int(self.arg())
    }
}

/// An integer argument, with Redis's `string2ll` rules.
pub fn parse_int(a: &[u8]) -> Result<i64, Error> {
    resp::num::parse_i64(a).ok_or(Error::Static(errors::NOT_INTEGER))
}

/// An integer argument that must fit in `min..=max`, as Redis's
/// `getRangeLongFromObjectOrReply`; `msg` replaces both errors if given.
pub fn parse_int_in(a: &[u8], min: i64, max: i64, msg: Option<&'static str>) -> Result<i64, Error> {
    let v = resp::num::parse_i64(a).ok_or(Error::Static(msg.unwrap_or(errors::NOT_INTEGER)))?;
    if v < min || v > max {
        return Err(msg.map_or_else(|| errors::out_of_range(min, max), Error::Static));
    }
    Ok(v)
}

/// A database index argument (an `int`, as Redis parses it).
pub fn parse_db_index(a: &[u8], msg: Option<&'static str>) -> Result<i64, Error> {
    parse_int_in(a, i32::MIN as i64, i32::MAX as i64, msg)
}

/// Case-insensitive comparison with an option keyword.
pub fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

type Guard<'a> = (usize, MutexGuard<'a, Shard>);

/// The shards of a command's keys, locked for the command's duration.
pub enum Locked<'a> {
    None,
    /// The common case: every key in one shard. No lookup per access.
    One(Guard<'a>),
    /// Sorted by shard index.
    Many(Vec<Guard<'a>>),
}

impl Locked<'_> {
    /// The table holding `key` in database `db` (a key's shard is the
    /// same in every database).
    pub fn table(&mut self, db: usize, key: &[u8]) -> &mut Table {
        match self {
            Locked::One((shard, guard)) => {
                debug_assert_eq!(
                    shard_of(key),
                    *shard,
                    "a command touches only keys listed in its table row"
                );
                &mut guard.dbs[db]
            }
            Locked::Many(guards) => {
                let shard = shard_of(key);
                let i = guards
                    .binary_search_by_key(&shard, |(s, _)| *s)
                    .expect("a command touches only keys listed in its table row");
                &mut guards[i].1.dbs[db]
            }
            Locked::None => panic!("a command without keys asked for a key's table"),
        }
    }
}

/// Locks the shards of the command's keys in ascending shard order: two
/// commands can never wait for each other's locks in a cycle.
fn lock_keys<'a>(server: &'a Server, cmd: &Command, argv: Argv) -> Locked<'a> {
    let mut positions = cmd.key_positions(argv.len());
    let Some(first) = positions.next() else {
        return Locked::None;
    };
    let first_shard = shard_of(argv.get(first).unwrap_or_default());
    let mut shards: SmallVec<[usize; 8]> = SmallVec::new();
    for i in positions {
        let s = shard_of(argv.get(i).unwrap_or_default());
        if s != first_shard {
            shards.push(s);
        }
    }
    if shards.is_empty() {
        return Locked::One((first_shard, server.store.lock(first_shard)));
    }
    shards.push(first_shard);
    shards.sort_unstable();
    shards.dedup();
    Locked::Many(shards.iter().map(|&s| (s, server.store.lock(s))).collect())
}

/// What a handler works with: the server, the calling client, the reply
/// buffer, the time the command started, and the shards of its keys,
/// already locked. Fields are public so a handler can hold a table from
/// `keys` while writing to `out`.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    /// The client's selected database.
    pub db: usize,
    /// Unix milliseconds when the command started: one clock per command,
    /// as Redis, so expiry checks within a command agree.
    pub now: u64,
    pub cmd: &'static Command,
    pub keys: Locked<'a>,
}

impl Ctx<'_> {
    /// The table holding `key` in the selected database.
    pub fn table(&mut self, key: &[u8]) -> &mut Table {
        self.keys.table(self.db, key)
    }
}

/// Runs one command and writes its reply. `now` is the batch's clock
/// (Unix ms), read once per batch of pipelined commands.
pub fn execute(server: &Server, client: &mut Client, out: &mut Reply, argv: Argv, now: u64) {
    let name = argv.get(0).unwrap_or_default();
    let Some(cmd) = lookup(name) else {
        out.error(errors::unknown_command(name, argv.from(1).iter()).as_bytes());
        return;
    };
    let argc = argv.len() as i32;
    if (cmd.arity > 0 && argc != cmd.arity) || argc < -cmd.arity {
        out.error(errors::wrong_arity(cmd.name).as_bytes());
        return;
    }
    if client.must_auth(server.hot.auth_required()) && cmd.flags & flags::NO_AUTH == 0 {
        out.error(errors::NOAUTH.as_bytes());
        return;
    }
    let keys = lock_keys(server, cmd, argv);
    let mut ctx = Ctx {
        server,
        db: client.db,
        client,
        out,
        now,
        cmd,
        keys,
    };
    let mut args = Args::new(argv);
    let result = (cmd.handler)(&mut ctx, &mut args);
    drop(ctx);
    if let Err(e) = result {
        out.error(e.as_bytes());
    }
}
