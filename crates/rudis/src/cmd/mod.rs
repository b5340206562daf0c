//! The command table and dispatch.
//!
//! Each command is one `Command` row (`table.rs`) in its group's module:
//! name, arity (Redis convention: positive means exact, negative means at
//! least), flags, ACL categories, key specs, subcommands and handler.
//! Dispatch, locking, COMMAND INFO and later MULTI read this row; nothing
//! else restates it. Unknown-command, arity and auth checks happen here,
//! once, never in handlers.

pub mod access;
pub mod block;
pub mod client;
mod cluster;
pub mod connection;
mod docs;
pub mod dump;
pub mod function;
pub mod geo;
pub mod hash;
pub mod keys;
pub mod list;
pub mod migrate;
pub mod multi;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod zset;

use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use parking_lot::MutexGuard;
use resp::Reply;
use smallvec::SmallVec;

use crate::client::Client;
use crate::db::{shard_of, Blob, Clock, Shard, Table};
use crate::effects::Effects;
use crate::errors::{self, CmdResult, Error};
use crate::server::Server;
use crate::stats::WorkerStats;

pub use table::{
    acl, all_commands, all_indexed, flags, index_of, lookup, lookup_full, lookup_indexed, row,
    Begin, Command, Find, KeySpec, Scope,
};

/// Every group's rows: the registry is built from this list.
pub(crate) static GROUPS: &[&[Command]] = &[
    connection::COMMANDS,
    access::COMMANDS,
    multi::COMMANDS,
    pubsub::COMMANDS,
    scripting::COMMANDS,
    function::COMMANDS,
    client::COMMANDS,
    cluster::COMMANDS,
    keys::COMMANDS,
    dump::COMMANDS,
    migrate::COMMANDS,
    server::COMMANDS,
    server::command::COMMANDS,
    server::config::COMMANDS,
    server::info::COMMANDS,
    server::latency::COMMANDS,
    server::memory::COMMANDS,
    server::monitor::COMMANDS,
    string::COMMANDS,
    string::bitmap::COMMANDS,
    string::hll::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    list::COMMANDS,
    list::blocking::COMMANDS,
    sort::COMMANDS,
    zset::COMMANDS,
    zset::range::COMMANDS,
    zset::ops::COMMANDS,
    zset::blocking::COMMANDS,
    geo::COMMANDS,
    stream::COMMANDS,
    stream::GROUP_COMMANDS,
    stream::INFO_COMMANDS,
];

/// A command line: byte ranges into the connection's read buffer, so no
/// argument is copied and no vector of slices is built per command.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
    /// For a large command, the read buffer it was handed off in: a
    /// string value can then keep its bytes without copying them.
    shared: Option<&'a Bytes>,
}

impl<'a> Argv<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Self {
        Argv {
            buf,
            ranges,
            shared: None,
        }
    }

    /// A command line whose bytes are `shared` (see `Blob::Shared`).
    pub fn new_shared(shared: &'a Bytes, ranges: &'a [Range<usize>]) -> Self {
        Argv {
            buf: shared,
            ranges,
            shared: Some(shared),
        }
    }

    /// Argument `i` as a stored string. The bytes of a large value that
    /// fills most of its handed-off buffer are kept as they are; anything
    /// else is copied.
    pub fn blob(&self, i: usize) -> Blob {
        let Some(r) = self.ranges.get(i) else {
            return Blob::new(b"");
        };
        match self.shared {
            Some(b) if r.len() >= BIG_VALUE && r.len() >= b.len() / 8 * 7 => {
                Blob::from_shared(b.slice(r.clone()))
            }
            _ => Blob::new(&self.buf[r.clone()]),
        }
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

    /// The first `n` arguments.
    pub fn first(&self, n: usize) -> Argv<'a> {
        Argv {
            ranges: &self.ranges[..n.min(self.ranges.len())],
            ..*self
        }
    }

    /// The arguments from position `from` on.
    pub fn from(&self, from: usize) -> Argv<'a> {
        Argv {
            ranges: &self.ranges[from.min(self.ranges.len())..],
            ..*self
        }
    }
}

/// The arguments of a command, read front to back. Starts after the name.
pub struct Args<'a> {
    argv: Argv<'a>,
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor after the command's name (`skip` 1) or after its name and
    /// subcommand (`skip` 2).
    pub fn new(argv: Argv<'a>, skip: usize) -> Self {
        Args { argv, pos: skip }
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

    /// The next argument as a string value to store (see `Argv::blob`).
    pub fn blob(&mut self) -> Blob {
        let b = self.argv.blob(self.pos);
        self.pos += 1;
        b
    }
}

/// A reply whose size the client's count decides rather than stored data
/// (random picks with repetition). Redis builds such a reply whatever its
/// size, so one `SRANDMEMBER s -100000000000` fills the machine's memory;
/// here it is held to `proto-max-bulk-len`, the largest value a client may
/// send: a count that cannot fit is refused before anything is written,
/// and a reply that outgrows it while being built is replaced by the
/// error. Either way the connection stays usable.
pub struct Generated {
    mark: usize,
    limit: usize,
}

/// The smallest reply an element can have (`$0\r\n\r\n`).
const MIN_ELEMENT_REPLY: u64 = 6;

impl Generated {
    /// Starts a reply of `n` elements of at least `per` minimal elements
    /// each.
    pub fn start(server: &Server, out: &Reply, n: u64, per: u64) -> Result<Generated, Error> {
        let limit = server.hot.proto_max_bulk_len().max(0) as u64;
        if n.saturating_mul(per.saturating_mul(MIN_ELEMENT_REPLY)) > limit {
            return Err(errors::VALUE_OUT_OF_RANGE.into());
        }
        Ok(Generated {
            mark: out.len(),
            limit: limit as usize,
        })
    }

    /// Call once per element: fails (dropping what was written) once the
    /// reply is over the limit.
    pub fn check(&self, out: &mut Reply) -> Result<(), Error> {
        if out.len() - self.mark > self.limit {
            out.truncate(self.mark);
            return Err(errors::VALUE_OUT_OF_RANGE.into());
        }
        Ok(())
    }
}

/// Values at least this large may keep the read buffer they arrived in.
pub const BIG_VALUE: usize = 64 * 1024;

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

/// Redis's `addReplyHelp`: a header naming the command as typed (upper
/// case), the lines, and the HELP footer, as status replies.
pub fn reply_help(out: &mut Reply, typed_name: &[u8], lines: &[&str]) {
    out.array(lines.len() + 3);
    let mut head: Vec<u8> = typed_name.to_ascii_uppercase();
    head.extend_from_slice(b" <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    out.simple(&head);
    for l in lines {
        out.simple(l.as_bytes());
    }
    out.simple(b"HELP");
    out.simple(b"    Prints this help.");
}

/// A container's HELP subcommand: `lines` under the header naming the
/// container as the client typed it.
pub fn help(ctx: &mut Ctx, args: &Args, lines: &[&str]) -> CmdResult {
    reply_help(ctx.out, args.argv().get(0).unwrap_or_default(), lines);
    Ok(())
}

/// Case-insensitive comparison with an option keyword.
pub fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

type Guard<'a> = (usize, MutexGuard<'a, Shard>);

/// The shards of a command's keys, locked for the command's duration.
pub struct Locked<'a> {
    store: &'a crate::db::Store,
    held: Held<'a>,
    /// Databases whose tables were handed out (bit `db`, the last bit for
    /// all from 63 on): only those can have logged anything to drain.
    dbs: u64,
}

enum Held<'a> {
    None,
    /// The common case: every key in one shard. No lookup per access.
    One(Guard<'a>),
    /// Sorted by shard index.
    Many(Vec<Guard<'a>>),
}

fn db_bit(db: usize) -> u64 {
    1 << db.min(63)
}

impl<'a> Locked<'a> {
    fn of(store: &'a crate::db::Store, held: Held<'a>) -> Locked<'a> {
        Locked {
            store,
            held,
            dbs: 0,
        }
    }

    fn guard(&mut self, shard: usize) -> Option<&mut Shard> {
        match &mut self.held {
            Held::One((s, g)) if *s == shard => Some(g),
            Held::Many(guards) => guards
                .binary_search_by_key(&shard, |(s, _)| *s)
                .ok()
                .map(|i| &mut *guards[i].1),
            _ => None,
        }
    }

    /// The table holding `key` in database `db` (a key's shard is the
    /// same in every database).
    pub fn table(&mut self, db: usize, key: &[u8]) -> &mut Table {
        self.dbs |= db_bit(db);
        match &mut self.held {
            Held::One((shard, g)) => {
                // The common case: no hashing of the key again.
                debug_assert_eq!(
                    shard_of(key),
                    *shard,
                    "a command touches only keys listed in its table row"
                );
                &mut g.dbs[db]
            }
            Held::Many(guards) => {
                let shard = shard_of(key);
                let i = guards
                    .binary_search_by_key(&shard, |(s, _)| *s)
                    .expect("a command touches only keys listed in its table row");
                &mut guards[i].1.dbs[db]
            }
            Held::None => panic!("a command without keys asked for a key's table"),
        }
    }

    /// Read-only access to the table holding `key`, so a command can hold
    /// several keys' values at once (after looking each up with `table`).
    pub fn table_ref(&self, db: usize, key: &[u8]) -> &Table {
        if let Held::One((_, g)) = &self.held {
            return &g.dbs[db];
        }
        let shard = shard_of(key);
        match &self.held {
            Held::Many(guards) => {
                let i = guards
                    .binary_search_by_key(&shard, |(s, _)| *s)
                    .expect("a command touches only keys listed in its table row");
                &guards[i].1.dbs[db]
            }
            _ => panic!("a command touches only keys listed in its table row"),
        }
    }

    /// Shard `s`, for a command that walks the keyspace: the lock held
    /// for it if any (in a transaction, or for a whole-keyspace command),
    /// otherwise locked for as long as the access lives.
    pub fn shard<'s>(&'s mut self, store: &'s crate::db::Store, s: usize) -> ShardAccess<'s> {
        self.dbs = u64::MAX;
        match self.guard(s) {
            Some(g) => ShardAccess::Held(g),
            None => ShardAccess::Own(store.lock(s)),
        }
    }

    /// Every shard, for a command whose row says `Scope::All`.
    pub fn all(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.dbs = u64::MAX;
        let guards = match &mut self.held {
            Held::Many(g) => g.as_mut_slice(),
            _ => panic!("only a Scope::All command asks for every shard"),
        };
        guards.iter_mut().map(|(_, g)| &mut **g)
    }

    /// Locks, for the script thread, what `cmd` needs for this command
    /// line on top of what is held: a script may touch keys it did not
    /// declare, and keeps every lock it took until it ends.
    pub fn ensure_for(&mut self, cmd: &Command, argv: Argv) {
        if needs_all(cmd, argv, false) {
            for s in 0..crate::db::SHARDS {
                self.ensure(s);
            }
            return;
        }
        let mut shards = SmallVec::new();
        push_key_shards(cmd, argv, &mut shards);
        for s in shards {
            self.ensure(s);
        }
    }

    fn ensure(&mut self, shard: usize) {
        if self.guard(shard).is_some() {
            return;
        }
        let g = self.store.escalate(shard);
        let mut guards = match std::mem::replace(&mut self.held, Held::None) {
            Held::None => Vec::with_capacity(1),
            Held::One(one) => vec![one],
            Held::Many(many) => many,
        };
        let at = guards.partition_point(|(s, _)| *s < shard);
        guards.insert(at, (shard, g));
        self.held = Held::Many(guards);
    }

    /// Drains the logs of the tables handed out (see `crate::effects`).
    fn drain(&mut self, server: &Server, current: Option<u64>, fx: &mut Effects) {
        if self.dbs == 0 {
            return;
        }
        let dbs = self.dbs;
        if let Held::One((_, g)) = &self.held {
            // The common case: one table, nothing logged.
            let db = dbs.trailing_zeros() as usize;
            if dbs.is_power_of_two() && db < 63 && g.dbs.get(db).is_none_or(|t| !t.has_log()) {
                return;
            }
        }
        let mut entries = Vec::new();
        let mut each = |g: &mut Shard| {
            // Only the databases whose tables were handed out (usually
            // one bit); the last bit stands for every database from 63.
            let mut bits = dbs;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let n = g.dbs.len();
                let range = if b == 63 { 63..n } else { b..(b + 1).min(n) };
                for db in range {
                    // Looked at first: a mutable borrow would make the
                    // tables of databases never written.
                    if g.dbs[db].has_log() {
                        let t = &mut g.dbs[db];
                        entries.extend(t.take_log().into_iter().map(|e| (db, e)));
                    }
                }
            }
        };
        match &mut self.held {
            Held::None => {}
            Held::One((_, g)) => each(g),
            Held::Many(guards) => guards.iter_mut().for_each(|(_, g)| each(g)),
        }
        if !entries.is_empty() {
            fx.drain_logged(server, current, entries);
        }
    }
}

/// A shard seen by a command that walks the keyspace.
pub enum ShardAccess<'s> {
    Held(&'s mut Shard),
    Own(MutexGuard<'s, Shard>),
}

impl std::ops::Deref for ShardAccess<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        match self {
            ShardAccess::Held(s) => s,
            ShardAccess::Own(g) => g,
        }
    }
}

impl std::ops::DerefMut for ShardAccess<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        match self {
            ShardAccess::Held(s) => s,
            ShardAccess::Own(g) => g,
        }
    }
}

fn lock_all(server: &Server) -> Result<Locked<'_>, crate::db::Busy> {
    Ok(Locked::of(
        &server.store,
        Held::Many(server.store.acquire(0..crate::db::SHARDS, true)?),
    ))
}

fn lock_shards(
    server: &Server,
    mut shards: SmallVec<[usize; 8]>,
) -> Result<Locked<'_>, crate::db::Busy> {
    shards.sort_unstable();
    shards.dedup();
    Ok(Locked::of(
        &server.store,
        match shards.as_slice() {
            [] => Held::None,
            [one] => {
                let mut g = server.store.acquire(std::iter::once(*one), true)?;
                Held::One(g.pop().expect("one shard locked"))
            }
            _ => Held::Many(server.store.acquire(shards.iter().copied(), true)?),
        },
    ))
}

/// Whether a command line needs every shard when it runs in a
/// transaction (or, `alone`, when it runs by itself).
fn needs_all(cmd: &Command, argv: Argv, alone: bool) -> bool {
    match cmd.scope {
        Scope::Keys | Scope::Queued => false,
        Scope::Data(f) => f(argv),
        Scope::Walk => !alone,
        Scope::All => true,
    }
}

fn push_key_shards(cmd: &Command, argv: Argv, shards: &mut SmallVec<[usize; 8]>) {
    let positions = cmd.key_positions(argv, false).unwrap_or_default();
    shards.extend(
        positions
            .iter()
            .map(|&(i, _)| shard_of(argv.get(i).unwrap_or_default())),
    );
}

/// Locks what a command needs (see `Scope`), in ascending shard order:
/// two commands can never wait for each other's locks in a cycle.
fn lock_for<'a>(
    server: &'a Server,
    client: &Client,
    cmd: &Command,
    argv: Argv,
) -> Result<Locked<'a>, crate::db::Busy> {
    if needs_all(cmd, argv, true) {
        return lock_all(server);
    }
    let mut shards = SmallVec::new();
    if let Scope::Queued = cmd.scope {
        if let Some(m) = &client.multi {
            for (q, argv) in m.iter() {
                if needs_all(q, argv, false) {
                    return lock_all(server);
                }
                push_key_shards(q, argv, &mut shards);
            }
        }
        let watched = client.handle.watch.keys();
        shards.extend(watched.iter().map(|(_, k)| shard_of(k.as_slice())));
    } else {
        push_key_shards(cmd, argv, &mut shards);
    }
    lock_shards(server, shards)
}

/// What a handler works with: the server, the calling client, the reply
/// buffer, the time the command started, and the shards of its keys,
/// already locked. Fields are public so a handler can hold a table from
/// `keys` while writing to `out`.
pub struct Ctx<'a, 'k> {
    pub server: &'a Server,
    pub stats: &'a WorkerStats,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    /// The client's selected database.
    pub db: usize,
    /// When the command started (one clock per batch, so expiry checks
    /// within a command agree), and whether its lookups count as accesses.
    pub now: Clock,
    pub cmd: &'static Command,
    pub keys: &'a mut Locked<'k>,
    /// What the command's writes leave to do (see `crate::effects`).
    pub fx: &'a mut Effects,
    /// Running inside EXEC: blocking commands answer at once.
    pub in_exec: bool,
}

impl Ctx<'_, '_> {
    /// The table holding `key` in the selected database.
    pub fn table(&mut self, key: &[u8]) -> &mut Table {
        self.keys.table(self.db, key)
    }

    /// Reports a write to `key` of the selected database and its event
    /// (Redis's `signalModifiedKey` + `notifyKeyspaceEvent`).
    pub fn modified(&mut self, key: &[u8], class: u32, event: &'static str) {
        self.modified_in(self.db, key, class, event);
    }

    /// `modified` for a key of database `db`.
    pub fn modified_in(&mut self, db: usize, key: &[u8], class: u32, event: &'static str) {
        self.fx.dirty += 1;
        self.signal_in(db, key);
        self.notify_in(db, key, class, event);
    }

    /// A change to `key` that watchers must see, without an event of its
    /// own (Redis's `signalModifiedKey`).
    pub fn signal_in(&mut self, db: usize, key: &[u8]) {
        // A key deleted or given another type ends the wait of a
        // stream group reader (Redis's `signalDeletedKeyAsReady`).
        if self.server.blocking.any() {
            self.key_ready_in(db, key);
        }
        if self.server.watches.any() {
            let exists = self.keys.table_ref(db, key).peek(key).is_some();
            self.server.watches.touch(db, key, exists);
        }
        if self.server.tracking.active() {
            self.server.tracking.invalidate(
                self.server,
                key,
                Some(self.client.id),
                &mut self.fx.pending,
            );
        }
    }

    /// A keyspace event without a change of its own (Redis's
    /// `notifyKeyspaceEvent` alone).
    pub fn notify(&mut self, key: &[u8], class: u32, event: &'static str) {
        self.notify_in(self.db, key, class, event);
    }

    pub fn notify_in(&mut self, db: usize, key: &[u8], class: u32, event: &'static str) {
        let notify = self.server.hot.notify_keyspace_events();
        if notify & class != 0 {
            // What the tables did by themselves (an expiry, a new key)
            // came first.
            self.keys.table(db, key);
            self.keys.drain(self.server, Some(self.client.id), self.fx);
            self.fx.note(notify, class, event, db, Blob::new(key));
        }
    }

    /// Marks the reply written since `start` as a push, which CLIENT
    /// REPLY OFF / SKIP leave in place.
    pub fn keep_reply(&mut self, start: usize) {
        self.client.kept.push(start..self.out.len());
    }

    /// Notes that `key` may now hold what blocked clients wait for (a
    /// push to a list, a new sorted set), for them to be served.
    pub fn key_ready(&mut self, key: &[u8]) {
        self.key_ready_in(self.db, key);
    }

    /// `key_ready` in database `db` (also for a value moved, renamed or
    /// copied there: Redis's `signalKeyAsReady` on adding a key).
    pub fn key_ready_in(&mut self, db: usize, key: &[u8]) {
        if self.server.blocking.has_waiters(db, key)
            && !self
                .fx
                .ready
                .iter()
                .any(|(d, k)| *d == db && k.as_slice() == key)
        {
            self.fx.ready.push((db, Blob::new(key)));
        }
    }
}

/// What `execute` did with a command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ran {
    /// It ran (or was refused, or queued) and its reply is written.
    Done,
    /// It was checked but runs on the script thread (see `crate::script`):
    /// nothing is written yet.
    OnScriptThread,
}

/// Runs one command and writes its reply. `now` is the batch's clock
/// (Unix ms), read once per batch of pipelined commands;
/// `script_thread` says whether this is the script thread.
pub fn execute(
    server: &Server,
    stats: &WorkerStats,
    client: &mut Client,
    out: &mut Reply,
    argv: Argv,
    now: u64,
    script_thread: bool,
) -> Ran {
    let name = argv.get(0).unwrap_or_default();
    guarded(server, stats, client, out, name, |client, out| {
        run(server, stats, client, out, argv, now, script_thread)
    })
    .unwrap_or(Ran::Done)
}

/// Runs `f`, containing a panic in it. A panic is a bug, never a way to
/// end a command: the shards' locks are released as the stack unwinds
/// (their guards live in `f`), the partial reply is dropped, the client
/// gets an error and is closed once it is written, and the panic is
/// logged with the command's name and counted (INFO
/// rudis_command_panics). See docs/architecture.md on what a panic leaves
/// in a shard.
pub fn guarded<R>(
    server: &Server,
    stats: &WorkerStats,
    client: &mut Client,
    out: &mut Reply,
    name: &[u8],
    f: impl FnOnce(&mut Client, &mut Reply) -> R,
) -> Option<R> {
    let mark = out.len();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(client, out)));
    if caught.is_err() {
        out.truncate(mark);
        client.close_after_reply = true;
        if let Some(b) = client.blocked.take() {
            server.blocking.claim(&b.waiter);
        }
        server.stats.command_panics.fetch_add(1, Relaxed);
        tracing::error!(
            "Command '{}' of client id={} panicked; the client is closed",
            String::from_utf8_lossy(&name[..name.len().min(64)]),
            client.id
        );
        stats.count_error(errors::INTERNAL.as_bytes());
        out.error(errors::INTERNAL.as_bytes());
    }
    caught.ok()
}

/// What a subscribed RESP2 client may run.
fn allowed_subscribed(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Whether `test` holds for a command line as Redis's processCommand
/// judges its flags: for EXEC, whether it holds for any queued command
/// (Redis's `mstate.cmd_flags`).
fn judged(
    cmd: &Command,
    argv: Argv,
    client: &Client,
    test: impl Fn(&Command, Argv) -> bool,
) -> bool {
    if cmd.name == "exec" {
        return client
            .multi
            .as_ref()
            .is_some_and(|m| m.iter().any(|(q, a)| test(q, a)));
    }
    test(cmd, argv)
}

/// Whether memory over maxmemory refuses `cmd` (Redis's
/// `processCommand`): a command that may grow memory (EXEC of a queue
/// holding one), or anything queued in a transaction, which could grow
/// without bound; never DISCARD, QUIT or RESET.
fn refused_on_oom(server: &Server, cmd: &Command, argv: Argv, client: &Client) -> bool {
    if client.multi.is_some() && cmd.name != "exec" {
        return !matches!(cmd.name, "discard" | "quit" | "reset");
    }
    judged(cmd, argv, client, |cmd, argv| {
        cmd.flags & flags::DENYOOM != 0
            || crate::script::flags_of(server, cmd, argv).is_some_and(crate::script::denies_oom)
    })
}

/// Whether a command line counts as a write for refusals (Redis's
/// `is_write_command`): a write, or EXEC of a queue holding one.
fn is_write(server: &Server, cmd: &Command, argv: Argv, client: &Client) -> bool {
    judged(cmd, argv, client, |cmd, argv| {
        crate::script::writes(server, cmd, argv)
    })
}

/// Commands a transaction runs at once rather than queueing.
fn runs_in_multi(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// The row of a command line (its subcommand's, for a container) and
/// its statistics index.
pub fn resolve(argv: Argv) -> Option<(&'static Command, usize)> {
    let (cmd, index) = lookup_indexed(argv.get(0)?)?;
    if cmd.subcommands.is_empty() || argv.len() < 2 {
        return Some((cmd, index));
    }
    let sub = cmd.subcommand(argv.get(1)?)?;
    Some((sub, index_of(sub)))
}

/// Looks a command line up and checks it (Redis's `processCommand`
/// before the call): unknown command or subcommand, arity,
/// authentication, what a transaction refuses. A refusal is written and
/// flags an open transaction, as Redis's `rejectCommand`.
fn prepare(
    server: &Server,
    stats: &WorkerStats,
    client: &mut Client,
    out: &mut Reply,
    argv: Argv,
) -> Option<(&'static Command, usize)> {
    let name = argv.get(0).unwrap_or_default();
    let resp3 = out.resp3();
    let refuse = |client: &mut Client, out: &mut Reply, index: Option<usize>, e: Error| {
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        // A refused EXEC ends the transaction (Redis's execCommandAbort).
        if index.is_some() && index == lookup_indexed(b"exec").map(|(_, i)| i) {
            multi::discard_transaction(server, client);
            // Redis words the generic ones without their ERR code here.
            let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
            let b = e.as_bytes();
            text.extend_from_slice(b.strip_prefix(b"ERR ").unwrap_or(b));
            reject(stats, out, index, Error::Owned(text));
            return None;
        }
        reject(stats, out, index, e);
        None
    };
    let Some((mut cmd, mut index)) = lookup_indexed(name) else {
        return refuse(
            client,
            out,
            None,
            errors::unknown_command(name, argv.from(1).iter()),
        );
    };
    let argc = argv.len() as i32;
    if !cmd.subcommands.is_empty() && argc >= 2 {
        let sub = argv.get(1).unwrap_or_default();
        match cmd.subcommand(sub) {
            Some(s) => {
                cmd = s;
                index = index_of(s);
            }
            None => return refuse(client, out, None, errors::unknown_subcommand(sub, name)),
        }
    }
    if (cmd.arity > 0 && argc != cmd.arity) || argc < -cmd.arity {
        return refuse(client, out, Some(index), errors::wrong_arity(cmd.name));
    }
    if client.must_auth(server.acl.auth_required()) && cmd.flags & flags::NO_AUTH == 0 {
        return refuse(client, out, Some(index), errors::NOAUTH.into());
    }
    if client.multi.is_some() && cmd.flags & flags::NO_MULTI != 0 {
        return refuse(client, out, Some(index), errors::NOT_IN_MULTI.into());
    }
    if let Err(d) = client.user.current(&server.acl).check(cmd, index, argv) {
        let context = if client.multi.is_some() {
            crate::acl::log::Context::Multi
        } else {
            crate::acl::log::Context::TopLevel
        };
        crate::acl::log_denied(server, client, d, context, cmd, argv);
        let text = crate::acl::denied_text(d, cmd);
        return refuse(client, out, Some(index), Error::Owned(text.into_bytes()));
    }
    if client.handle.subscriptions() > 0 && !resp3 && !allowed_subscribed(cmd) {
        return refuse(client, out, Some(index), errors::pubsub_context(cmd.name));
    }
    if cmd.flags & flags::ALLOW_BUSY == 0 {
        if let Some(busy) = server.scripts.busy_error() {
            return refuse(client, out, Some(index), busy.into());
        }
    }
    client.oom = false;
    if server.hot.maxmemory() != 0 {
        let (outcome, pending) = crate::evict::perform(server, Some(client.id));
        // The client's invalidations of evicted keys come before its
        // reply (Redis's trackingHandlePendingKeyInvalidations).
        if !pending.is_empty() {
            let start = out.len();
            crate::tracking::send_pending(server, client.id, &pending, Some(out));
            client.kept.push(start..out.len());
        }
        // Scripts check their own writes against the state at their
        // start (Redis's pre_command_oom_state).
        client.oom = outcome == crate::evict::Outcome::Fail;
    }
    if client.oom && refused_on_oom(server, cmd, argv, client) {
        return refuse(client, out, Some(index), errors::OOM.into());
    }
    if server.hot.refuses_writes(&server.persist)
        && (cmd.name == "ping" || is_write(server, cmd, argv, client))
    {
        return refuse(client, out, Some(index), errors::MISCONF.into());
    }
    if server.hot.not_enough_replicas() && is_write(server, cmd, argv, client) {
        return refuse(client, out, Some(index), errors::NOREPLICAS.into());
    }
    Some((cmd, index))
}

fn run(
    server: &Server,
    stats: &WorkerStats,
    client: &mut Client,
    out: &mut Reply,
    argv: Argv,
    now: u64,
    script_thread: bool,
) -> Ran {
    let Some((cmd, index)) = prepare(server, stats, client, out, argv) else {
        return Ran::Done;
    };
    if let Some(m) = client.multi.as_mut() {
        if !runs_in_multi(cmd) {
            m.queue(cmd, index, argv);
            client.handle.multi.store(m.len() as i64, Relaxed);
            out.simple(b"QUEUED");
            return Ran::Done;
        }
    }
    if !script_thread && crate::script::needs_script_thread(cmd, client) {
        return Ran::OnScriptThread;
    }
    let mut keys = match lock_for(server, client, cmd, argv) {
        Ok(k) => k,
        Err(crate::db::Busy) => {
            let e = server.scripts.busy_error().unwrap_or(errors::BUSY_EVAL);
            reject(stats, out, Some(index), e.into());
            return Ran::Done;
        }
    };
    let mut fx = Effects::default();
    call(
        server, stats, client, out, cmd, index, argv, now, &mut keys, &mut fx, false,
    );
    drop(keys);
    // Redis's resetClient: CLIENT CACHING lasts for the next command (a
    // whole transaction), CLIENT commands aside.
    if client.caching && client.multi.is_none() && !cmd.name.starts_with("client|") {
        client.caching = false;
    }
    // The client's own invalidations come after its reply.
    if !fx.pending.is_empty() {
        let start = out.len();
        crate::tracking::send_pending(server, client.id, &fx.pending, Some(out));
        client.kept.push(start..out.len());
    }
    finish(server, stats, fx, now);
    Ran::Done
}

/// What is left once a command (or a whole EXEC) has released its
/// locks: the dirty counter, keyspace notifications, blocked clients.
fn finish(server: &Server, stats: &WorkerStats, fx: Effects, now: u64) {
    if fx.dirty > 0 {
        stats.dirty.fetch_add(fx.dirty, Relaxed);
    }
    if server.tracking.active() {
        server.tracking.broadcast(server);
        server
            .tracking
            .limit(server, server.hot.tracking_table_max_keys());
    }
    if !fx.notes.is_empty() {
        crate::pubsub::publish_notes(server, fx.notes);
    }
    if !fx.ready.is_empty() {
        for (db, key) in fx.ready {
            crate::blocking::serve(server, db, vec![key], now);
        }
    }
}

/// Calls a checked command's handler on locks already taken (by
/// dispatch, or by EXEC for its whole queue), then counts it and feeds
/// the observers. Writes the command's error reply if it failed.
#[allow(clippy::too_many_arguments)]
pub fn call(
    server: &Server,
    stats: &WorkerStats,
    client: &mut Client,
    out: &mut Reply,
    cmd: &'static Command,
    index: usize,
    argv: Argv,
    now: u64,
    keys: &mut Locked,
    fx: &mut Effects,
    in_exec: bool,
) {
    client.handle.last_cmd.store(index + 1, Relaxed);
    // CLIENT NO-TOUCH: lookups leave access times alone, except TOUCH's.
    let touch = !client.no_touch || cmd.name == "touch";
    let start = quanta::Instant::now();
    let result = {
        let mut ctx = Ctx {
            server,
            stats,
            db: client.db,
            client,
            out,
            now: Clock { ms: now, touch },
            cmd,
            keys,
            fx,
            in_exec,
        };
        let mut args = Args::new(argv, if cmd.name.contains('|') { 2 } else { 1 });
        let result = (cmd.handler)(&mut ctx, &mut args);
        ctx.keys.drain(server, Some(ctx.client.id), ctx.fx);
        result
    };
    if cmd.flags & flags::READONLY != 0
        && cmd.flags & flags::SCRIPT_THREAD == 0
        && server.tracking.active()
    {
        match client.script_read.as_mut() {
            // A read inside a script makes the script's declared keys
            // tracked, not the read's (Redis's trackingRememberKeys on
            // the script's caller); the script remembers them.
            Some(read) => *read = true,
            // While the keys are still locked: a write after the read
            // must find the reader registered.
            None => remember_keys(server, client, cmd, argv),
        }
    }
    let nanos = start.elapsed().as_nanos() as u64;
    client.handle.db.store(client.db, Relaxed);
    client
        .handle
        .resp
        .store(if out.resp3() { 3 } else { 2 }, Relaxed);
    let s = &stats.per_command[index];
    s.calls.fetch_add(1, Relaxed);
    s.usec.fetch_add(nanos / 1000, Relaxed);
    stats.commands.fetch_add(1, Relaxed);
    if server.hot.latency_tracking() {
        stats.record_latency(index, nanos);
    }
    let event = if cmd.flags & flags::FAST != 0 {
        "fast-command"
    } else {
        "command"
    };
    server
        .latency
        .sample_if_needed(server, event, nanos / 1_000_000);
    // A command that blocked is logged once answered, as Redis does.
    let slower_than = server.hot.slowlog_slower_than();
    let slow_now = match client.blocked.as_mut() {
        Some(b) => {
            b.slow = server
                .observers
                .pending_slow(cmd, argv, nanos / 1000, slower_than);
            -1
        }
        None => slower_than,
    };
    server.observers.after(
        server,
        cmd,
        argv,
        client,
        nanos / 1000,
        slow_now,
        server.hot.slowlog_max_len(),
    );
    if let Err(e) = result {
        s.failed.fetch_add(1, Relaxed);
        if !matches!(e, Error::Counted(_)) {
            stats.count_error(e.as_bytes());
        }
        out.error(e.as_bytes());
    }
}

/// Redis's `trackingRememberKeys`: a tracking client's read registers its
/// keys, unless OPTIN without CLIENT CACHING YES, OPTOUT with CLIENT
/// CACHING NO, BCAST, or a pub/sub command (shard channels are keys only
/// for cluster routing).
pub(crate) fn remember_keys(server: &Server, client: &Client, cmd: &Command, argv: Argv) {
    use crate::tracking::flag;
    let f = client.handle.tracking.flags.load(Relaxed);
    if f & flag::ON == 0 || f & flag::BCAST != 0 || cmd.flags & flags::PUBSUB != 0 {
        return;
    }
    if (f & flag::OPTIN != 0 && !client.caching) || (f & flag::OPTOUT != 0 && client.caching) {
        return;
    }
    for (i, _) in cmd.key_positions(argv, false).unwrap_or_default() {
        let key = argv.get(i).unwrap_or_default();
        server.tracking.remember(&client.handle, key);
    }
}

/// A command refused before it ran: counted as Redis's `rejectCommand`.
fn reject(stats: &WorkerStats, out: &mut Reply, index: Option<usize>, e: Error) {
    if let Some(i) = index {
        stats.per_command[i].rejected.fetch_add(1, Relaxed);
    }
    stats.count_error(e.as_bytes());
    out.error(e.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientHandle;
    use crate::config::Config;
    use std::sync::Arc;

    #[test]
    fn a_panicking_handler_ends_in_an_error_and_a_close() {
        let _config = crate::db::list::TEST_CONFIG.lock();
        let server = Server::new(Config::default());
        let addr = crate::client::Addr::Ip("127.0.0.1:1".parse().expect("addr"));
        let handle = Arc::new(ClientHandle::new(1, addr.clone(), addr, -1));
        let user = crate::acl::ClientUser::new(&server.acl, server.acl.default_user());
        let mut client = Client::new(handle, true, user);
        let mut out = Reply::new();
        out.ok();
        let stats = WorkerStats::new(1);
        guarded(&server, &stats, &mut client, &mut out, b"boom", |_, out| {
            out.array(3);
            out.bulk(b"partial");
            panic!("a bug");
        });
        // The earlier reply stays, the partial one is gone.
        assert_eq!(
            out.as_bytes(),
            format!("+OK\r\n-{}\r\n", errors::INTERNAL).as_bytes()
        );
        assert!(client.close_after_reply);
        assert_eq!(server.stats.command_panics.load(Relaxed), 1);
    }
}
