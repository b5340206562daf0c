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
use std::sync::OnceLock;

use parking_lot::MutexGuard;
use resp::Reply;
use smallvec::SmallVec;

use crate::client::Client;
use crate::db::{now_ms, shard_of, Shard, Table};
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

fn table() -> &'static HashMap<&'static str, &'static Command> {
    static TABLE: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
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

/// The arguments of a command, read front to back. Starts after the name.
pub struct Args<'a> {
    argv: &'a [&'a [u8]],
    pos: usize,
}

impl<'a> Args<'a> {
    pub fn new(argv: &'a [&'a [u8]]) -> Self {
        Args { argv, pos: 1 }
    }

    /// The next argument; dispatch has checked arity, so handlers call
    /// this for the arguments their arity guarantees.
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
        self.argv.get(self.pos).copied()
    }

    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    /// All arguments not read yet.
    pub fn rest(&mut self) -> &'a [&'a [u8]] {
        let r = &self.argv[self.pos.min(self.argv.len())..];
        self.pos = self.argv.len();
        r
    }

    /// The whole command line, name included.
    pub fn argv(&self) -> &'a [&'a [u8]] {
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
pub struct Locked<'a>(SmallVec<[Guard<'a>; 4]>);

impl Locked<'_> {
    /// The table holding `key` in database `db` (a key's shard is the
    /// same in every database).
    pub fn table(&mut self, db: usize, key: &[u8]) -> &mut Table {
        let shard = shard_of(key);
        let i = self
            .0
            .binary_search_by_key(&shard, |(s, _)| *s)
            .expect("a command touches only keys listed in its table row");
        &mut self.0[i].1.dbs[db]
    }
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

/// Runs one command and writes its reply.
pub fn execute(server: &Server, client: &mut Client, out: &mut Reply, argv: &[&[u8]]) {
    let Some(cmd) = lookup(argv[0]) else {
        out.error(errors::unknown_command(argv[0], &argv[1..]).as_bytes());
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
    let mut shards: SmallVec<[usize; 8]> = cmd
        .key_positions(argv.len())
        .map(|i| shard_of(argv[i]))
        .collect();
    shards.sort_unstable();
    shards.dedup();
    // Ascending shard order everywhere: two commands can never wait for
    // each other's locks in a cycle.
    let locks = shards.iter().map(|&s| (s, server.store.lock(s))).collect();
    let mut ctx = Ctx {
        server,
        db: client.db,
        client,
        out,
        now: now_ms(),
        cmd,
        keys: Locked(locks),
    };
    let mut args = Args::new(argv);
    let result = (cmd.handler)(&mut ctx, &mut args);
    drop(ctx);
    if let Err(e) = result {
        out.error(e.as_bytes());
    }
}
