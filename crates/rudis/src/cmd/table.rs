//! The command row and the registry built from every group's rows.
//!
//! A row states what Redis's command table states: name, arity, flags, ACL
//! categories, tips, key specs and subcommands. The legacy (first, last,
//! step) triple that COMMAND INFO prints and that locking uses is derived
//! from the key specs exactly as Redis derives it, so key positions are
//! stated once.

use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Args, Ctx};
use crate::errors::CmdResult;

pub type Handler = fn(&mut Ctx, &mut Args) -> CmdResult;

/// Command flags, in the order COMMAND INFO prints them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const NO_MULTI: u32 = 1 << 17;
    pub const MOVABLE_KEYS: u32 = 1 << 18;
    pub const ALLOW_BUSY: u32 = 1 << 19;
    /// Redis's internal CMD_MAY_REPLICATE (not shown by COMMAND INFO): a
    /// command that is no write but may be propagated (PUBLISH, PFCOUNT
    /// updating its cache), which CLIENT PAUSE WRITE holds back too.
    pub const MAY_REPLICATE: u32 = 1 << 20;
    /// Internal: runs on the script thread (see `crate::script`).
    pub const SCRIPT_THREAD: u32 = 1 << 21;

    pub const NAMES: [&str; 20] = [
        "write",
        "readonly",
        "denyoom",
        "module",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "asking",
        "fast",
        "no_auth",
        "no_mandatory_keys",
        "no_async_loading",
        "no_multi",
        "movablekeys",
        "allow_busy",
    ];
}

/// ACL categories, in Redis's order.
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    pub const NAMES: [&str; 21] = [
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
    ];
}

/// Where a key spec's search for keys begins.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    Index(i32),
    Keyword(&'static str, i32),
    /// Only the command's own key-finding knows (SORT's BY, GET, STORE).
    Unknown,
}

/// How a key spec finds the keys from where the search began.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// (lastkey relative to the first key or negative from the end,
    /// keystep, limit)
    Range(i32, i32, i32),
    /// (keynum index, first key, keystep)
    Keynum(i32, i32, i32),
    Unknown,
}

/// One of a command's key specs, as COMMAND INFO prints it.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

impl KeySpec {
    pub const fn new(flags: &'static [&'static str], begin: Begin, find: Find) -> KeySpec {
        KeySpec {
            notes: None,
            flags,
            begin,
            find,
        }
    }

    /// The common spec: the one key at argument `index`.
    pub const fn at(index: i32, flags: &'static [&'static str]) -> KeySpec {
        KeySpec::new(flags, Begin::Index(index), Find::Range(0, 1, 0))
    }

    pub const fn notes(mut self, notes: &'static str) -> KeySpec {
        self.notes = Some(notes);
        self
    }
}

pub struct Command {
    /// Lower case; `container|sub` for a subcommand.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    /// ACL categories beyond those implied by the flags.
    pub acl: u32,
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub subcommands: &'static [Command],
    /// For key specs flagged `variable_flags`: the flags a given command
    /// line really has (Redis's per-command getkeys function).
    pub key_flags: Option<fn(super::Argv) -> &'static [&'static str]>,
    /// Keys the specs cannot find (Redis's getkeys procedure): positions
    /// with the index of the spec whose flags they carry.
    pub get_keys: Option<fn(super::Argv) -> KeyPositions>,
    /// Which shards the command needs besides its keys'.
    pub scope: Scope,
    pub handler: Handler,
}

/// What a command sees of the keyspace, which decides what dispatch
/// locks for it (and what EXEC locks for a queue holding it).
#[derive(Clone, Copy)]
pub enum Scope {
    /// Only the keys its specs name.
    Keys,
    /// Whether this command line may touch keys named by data (SORT's BY
    /// and GET patterns): it then locks every shard.
    Data(fn(super::Argv) -> bool),
    /// It walks the whole keyspace one shard at a time (KEYS, SCAN,
    /// DBSIZE, INFO): alone it locks nothing up front, in a transaction
    /// every shard.
    Walk,
    /// It changes or freezes the whole keyspace at once (FLUSHALL,
    /// SWAPDB): every shard, locked for the command.
    All,
    /// EXEC: the keys of the queued commands and the watched keys.
    Queued,
}

/// Key positions in a command line, each with its key spec's index.
pub type KeyPositions = SmallVec<[(usize, usize); 8]>;

/// A table row; refine it with `.acl()`, `.tips()`, `.keys()`, `.subs()`.
pub const fn row(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Command {
    Command {
        name,
        arity,
        flags,
        acl: 0,
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        key_flags: None,
        get_keys: None,
        scope: Scope::Keys,
        handler,
    }
}

impl Command {
    pub const fn acl(mut self, categories: u32) -> Command {
        self.acl = categories;
        self
    }

    pub const fn tips(mut self, tips: &'static [&'static str]) -> Command {
        self.tips = tips;
        self
    }

    pub const fn keys(mut self, specs: &'static [KeySpec]) -> Command {
        self.key_specs = specs;
        self
    }

    pub const fn key_flags(mut self, f: fn(super::Argv) -> &'static [&'static str]) -> Command {
        self.key_flags = Some(f);
        self
    }

    pub const fn get_keys(mut self, f: fn(super::Argv) -> KeyPositions) -> Command {
        self.get_keys = Some(f);
        self
    }

    pub const fn scope(mut self, scope: Scope) -> Command {
        self.scope = scope;
        self
    }

    pub const fn subs(mut self, subcommands: &'static [Command]) -> Command {
        self.subcommands = subcommands;
        self
    }

    /// The subcommand's own name (after `|`), or the command's name.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    /// Redis's `populateCommandLegacyRangeSpec`: the (first, last, step)
    /// range covering the index/range key specs, and whether some keys
    /// can only be found by parsing the arguments (movable keys).
    pub fn legacy_range(&self) -> ((i32, i32, i32), bool) {
        let specs = self.key_specs;
        match specs {
            [] => return ((0, 0, 0), false),
            [KeySpec {
                begin: Begin::Index(first),
                find: Find::Range(last, step, _),
                flags,
                ..
            }] => {
                let last = if *last >= 0 { first + last } else { *last };
                return ((*first, last, *step), flags.contains(&"incomplete"));
            }
            _ => {}
        }
        let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
        let mut movable = false;
        for spec in specs {
            let (Begin::Index(pos), Find::Range(lastkey, step, _)) = (spec.begin, spec.find) else {
                movable = true;
                continue;
            };
            if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
                movable = true;
                continue;
            }
            movable |= spec.flags.contains(&"incomplete");
            first = first.min(pos);
            let abs = if lastkey >= 0 { lastkey + pos } else { lastkey };
            // Redis compares as unsigned, so a negative (from the end)
            // last key wins.
            last = if (last as u32) >= (abs as u32) {
                last
            } else {
                abs
            };
            prev_last = last;
        }
        if first == i32::MAX {
            return ((0, 0, 0), movable);
        }
        ((first, last, 1), movable)
    }

    /// Flags as COMMAND INFO shows them (movablekeys derived).
    pub fn all_flags(&self) -> u32 {
        let (_, movable) = self.legacy_range();
        self.flags | if movable { flags::MOVABLE_KEYS } else { 0 }
    }

    /// ACL categories: the row's plus those its flags imply, as Redis's
    /// `setImplicitACLCategories`.
    pub fn acl_categories(&self) -> u32 {
        let mut c = self.acl;
        let f = self.flags;
        if f & flags::WRITE != 0 {
            c |= acl::WRITE;
        }
        if f & flags::READONLY != 0 && c & acl::SCRIPTING == 0 {
            c |= acl::READ;
        }
        if f & flags::ADMIN != 0 {
            c |= acl::ADMIN | acl::DANGEROUS;
        }
        if f & flags::PUBSUB != 0 {
            c |= acl::PUBSUB;
        }
        if f & flags::FAST != 0 {
            c |= acl::FAST;
        }
        if f & flags::BLOCKING != 0 {
            c |= acl::BLOCKING;
        }
        if c & acl::FAST == 0 {
            c |= acl::SLOW;
        }
        c
    }

    /// Positions of the key arguments in a command line of `argc`
    /// arguments.
    /// The positions of a command line's keys, each with the index of the
    /// key spec that found it (Redis's `getKeysUsingKeySpecs`). A spec
    /// that does not fit the line (a bad key count, a range past the end)
    /// makes the answer `None` when `strict` (COMMAND GETKEYS), and is
    /// skipped otherwise (locking: the command itself reports the error).
    pub fn key_positions(&self, argv: super::Argv, strict: bool) -> Option<KeyPositions> {
        if let Some(f) = self.get_keys {
            return Some(f(argv));
        }
        let argc = argv.len() as i64;
        let mut keys = SmallVec::new();
        for (n, spec) in self.key_specs.iter().enumerate() {
            let Some((first, last, step)) = spec_range(spec, argv, argc) else {
                if strict {
                    return None;
                }
                continue;
            };
            if last >= argc || last < first || first >= argc {
                if strict {
                    return None;
                }
                continue;
            }
            let mut i = first;
            while i <= last {
                keys.push((i as usize, n));
                i += step.max(1);
            }
        }
        Some(keys)
    }

    /// The subcommand named `name` (case-insensitive).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Command> {
        self.subcommands
            .iter()
            .find(|c| c.short_name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Where one key spec's keys are: (first, last, step), or `None` when its
/// begin keyword or key count is missing or malformed.
fn spec_range(spec: &KeySpec, argv: super::Argv, argc: i64) -> Option<(i64, i64, i64)> {
    let first = match spec.begin {
        Begin::Index(i) => i as i64,
        Begin::Keyword(word, from) => {
            // From `from` (negative: from the end) towards the other end;
            // the keys start after the keyword.
            let found = if from >= 0 {
                (from as i64..argc).find(|&i| is_word(argv, i, word))
            } else {
                (1..=argc + from as i64)
                    .rev()
                    .find(|&i| is_word(argv, i, word))
            };
            found? + 1
        }
        Begin::Unknown => return None,
    };
    match spec.find {
        Find::Range(lastkey, step, limit) => {
            let last = if lastkey >= 0 {
                first + lastkey as i64
            } else if limit == 0 {
                argc + lastkey as i64
            } else {
                first + ((argc - first) / limit as i64 + lastkey as i64)
            };
            Some((first, last, step as i64))
        }
        Find::Keynum(keynum_at, first_key, step) => {
            let numkeys = argv
                .get((first + keynum_at as i64) as usize)
                .and_then(resp::num::parse_i64)
                .filter(|n| *n >= 0)?;
            let start = first + first_key as i64;
            // A client's count: past the arguments it is caught by the caller.
            Some((start, start.saturating_add(numkeys) - 1, step as i64))
        }
        Find::Unknown => None,
    }
}

fn is_word(argv: super::Argv, i: i64, word: &str) -> bool {
    argv.get(i as usize)
        .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Every command and subcommand, by full name (bytes: a lookup then
/// needs no UTF-8 check), with its index for per-command statistics and
/// whether it is a subcommand.
type CommandMap = HashMap<&'static [u8], (&'static Command, usize, bool), ahash::RandomState>;

fn registry() -> &'static CommandMap {
    static TABLE: OnceLock<CommandMap> = OnceLock::new();
    TABLE.get_or_init(|| {
        super::GROUPS
            .iter()
            .flat_map(|g| g.iter())
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), (c, i, c.name.contains('|'))))
            .collect()
    })
}

/// Looks a command up by name, case-insensitively, without allocating;
/// returns it with its statistics index.
pub fn lookup_indexed(name: &[u8]) -> Option<(&'static Command, usize)> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    match registry().get(&*lower) {
        Some(&(c, i, false)) => Some((c, i)),
        _ => None,
    }
}

/// Looks a (top-level) command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    lookup_indexed(name).map(|(c, _)| c)
}

/// The statistics index of a command or subcommand.
pub fn index_of(cmd: &Command) -> usize {
    registry().get(cmd.name.as_bytes()).map_or(0, |e| e.1)
}

/// Number of commands and subcommands (the size of per-command tables).
pub fn command_count() -> usize {
    registry().len()
}

/// Every command and subcommand with its statistics index, in name order.
pub fn all_indexed() -> Vec<(&'static Command, usize)> {
    let mut v: Vec<_> = registry().values().map(|&(c, i, _)| (c, i)).collect();
    v.sort_by_key(|(c, _)| c.name);
    v
}

/// A command or subcommand by its full name (`config|get`), as COMMAND
/// INFO accepts.
pub fn lookup_full(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.splitn(2, |&c| c == b'|');
    let top = lookup(parts.next()?)?;
    match parts.next() {
        None => Some(top),
        Some(sub) => top.subcommand(sub),
    }
}

/// Every top-level command.
pub fn all_commands() -> impl Iterator<Item = &'static Command> {
    registry().values().filter(|e| !e.2).map(|e| e.0)
}
