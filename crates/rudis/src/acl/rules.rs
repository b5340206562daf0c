//! A selector: the commands, keys and channels one set of ACL rules
//! allows (Redis 7.0's `aclSelector`), the rules that change it, and the
//! text ACL LIST shows for it.
//!
//! Commands are bits indexed by the command table's statistics index;
//! one more bit past the last records that `+@all` was given, so that
//! the description starts from `+@all` (allowing commands added later)
//! or from `-@all`, as Redis's reserved command bit.

use crate::cmd::table::{self, acl as cat, Command};
use crate::cmd::Argv;

pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

/// Why a rule was refused (Redis's errno values in ACLSetUser).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    Unknown,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
    Duplicate,
}

impl RuleError {
    /// Redis's `ACLSetUserStringError`.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
            RuleError::Duplicate => "Duplicate user found. A user can only be defined once in config files",
        }
    }
}

/// Why a command line was refused, with the position of the argument
/// at fault (Redis's ACL_DENIED_* codes, ordered as Redis ranks them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The more telling of two refusals (Redis's "relevant error": the
    /// higher code, then the later argument).
    pub fn worse(self, other: Denied) -> Denied {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Selector {
    bits: Vec<u64>,
    /// Every command, now and later (Redis's SELECTOR_FLAG_ALLCOMMANDS):
    /// set by `+@all`, cleared by any removal.
    all_commands: bool,
    /// First arguments allowed for a command otherwise refused
    /// (`+select|0`), by command index, as given.
    first_args: Vec<(usize, Vec<Vec<u8>>)>,
    pub keys: Vec<KeyPattern>,
    pub all_keys: bool,
    pub channels: Vec<Vec<u8>>,
    pub all_channels: bool,
}

fn future_bit() -> usize {
    table::command_count()
}

/// A top-level command and its index, and its subcommands with theirs.
type Family = (&'static Command, usize, Vec<(&'static Command, usize)>);

/// Every top-level command with its subcommands, in name order, as Redis
/// walks its command dictionary; built once (ACL LIST walks it per
/// category).
fn families() -> &'static [Family] {
    static ORDER: std::sync::OnceLock<Vec<Family>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        table::all_indexed()
            .into_iter()
            .filter(|(c, _)| !c.name.contains('|'))
            .map(|(c, i)| (c, i, c.subcommands.iter().map(indexed).collect()))
            .collect()
    })
}

/// A command and then its subcommands, each with its index.
fn with_subs(c: &'static Command) -> impl Iterator<Item = (&'static Command, usize)> {
    families()
        .iter()
        .find(|(f, _, _)| std::ptr::eq(*f, c))
        .into_iter()
        .flat_map(|(c, i, subs)| std::iter::once((*c, *i)).chain(subs.iter().copied()))
}

fn indexed(c: &'static Command) -> (&'static Command, usize) {
    (c, table::index_of(c))
}

impl Selector {
    /// A selector that allows nothing; `all_channels` from
    /// `acl-pubsub-default`.
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            bits: vec![0; future_bit() / 64 + 1],
            all_commands: false,
            first_args: Vec::new(),
            keys: Vec::new(),
            all_keys: false,
            channels: Vec::new(),
            all_channels,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn set_bit(&mut self, i: usize, on: bool) {
        if on {
            self.bits[i / 64] |= 1 << (i % 64);
        } else {
            self.bits[i / 64] &= !(1 << (i % 64));
            self.all_commands = false;
        }
    }

    /// Whether everything is allowed: dispatch then checks nothing.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Redis's `ACLChangeSelectorPerm`: a container takes its
    /// subcommands along.
    fn change(&mut self, cmd: &'static Command, index: usize, on: bool) {
        self.set_bit(index, on);
        self.first_args.retain(|(i, _)| *i != index);
        if !cmd.subcommands.is_empty() {
            for (_, si) in with_subs(cmd).skip(1) {
                self.set_bit(si, on);
            }
        }
    }

    fn category(&mut self, bit: u32, on: bool) {
        for (c, i, subs) in families() {
            if c.acl_categories() & bit != 0 {
                self.change(c, *i, on);
            }
            for &(sub, si) in subs {
                if sub.acl_categories() & bit != 0 {
                    self.change(sub, si, on);
                }
            }
        }
    }

    fn all(&mut self, on: bool) {
        let fill = if on { u64::MAX } else { 0 };
        self.bits.iter_mut().for_each(|w| *w = fill);
        self.all_commands = on;
        self.first_args.clear();
    }

    /// Applies one selector rule (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"allkeys" | b"~*" => {
                self.all_keys = true;
                self.keys.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" | b"+@all" => {
                self.all(true);
                return Ok(());
            }
            b"nocommands" | b"-@all" => {
                self.all(false);
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~' | b'%') => self.key_rule(op),
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                if !crate::acl::valid_name(&op[1..]) {
                    return Err(RuleError::Syntax);
                }
                let p = op[1..].to_vec();
                if !self.channels.contains(&p) {
                    self.channels.push(p);
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => {
                let on = sign == b'+';
                let name = &op[1..];
                if let Some(category) = name.strip_prefix(b"@") {
                    let i = cat::NAMES
                        .iter()
                        .position(|n| n.as_bytes().eq_ignore_ascii_case(category))
                        .ok_or(RuleError::Unknown)?;
                    self.category(1 << i, on);
                    return Ok(());
                }
                if !on || !name.contains(&b'|') {
                    let cmd = table::lookup_full(name).ok_or(RuleError::Unknown)?;
                    let (cmd, i) = indexed(cmd);
                    self.change(cmd, i, on);
                    return Ok(());
                }
                // `+cmd|sub`, or `+cmd|first-arg` for a command without
                // subcommands (split at the last `|`, as Redis).
                let bar = name.iter().rposition(|&c| c == b'|').unwrap_or(0);
                let (head, arg) = (&name[..bar], &name[bar + 1..]);
                let cmd = table::lookup_full(head).ok_or(RuleError::Unknown)?;
                if cmd.name.contains('|') {
                    return Err(RuleError::SubcommandFirstArg);
                }
                if arg.is_empty() {
                    return Err(RuleError::Syntax);
                }
                if !cmd.subcommands.is_empty() {
                    let sub = table::lookup_full(name).ok_or(RuleError::Unknown)?;
                    let (sub, i) = indexed(sub);
                    self.change(sub, i, true);
                    return Ok(());
                }
                let index = table::index_of(cmd);
                tracing::warn!(
                    "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                    String::from_utf8_lossy(name)
                );
                match self.first_args.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, args)) => {
                        if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                            args.push(arg.to_vec());
                        }
                    }
                    None => self.first_args.push((index, vec![arg.to_vec()])),
                }
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn key_rule(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (flags, pattern) = if op[0] == b'%' {
            let mut flags = 0;
            let mut at = 1;
            while at < op.len() {
                match op[at].to_ascii_uppercase() {
                    b'R' if flags & READ == 0 => flags |= READ,
                    b'W' if flags & WRITE == 0 => flags |= WRITE,
                    b'~' => {
                        at += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                at += 1;
            }
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
            (flags, &op[at..])
        } else {
            (READ | WRITE, &op[1..])
        };
        if !crate::acl::valid_name(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => k.flags |= flags,
            None => self.keys.push(KeyPattern {
                flags,
                pattern: pattern.to_vec(),
            }),
        }
        Ok(())
    }

    /// Redis's `ACLSelectorCheckCmd`: whether this selector allows the
    /// command line; `keys` caches the line's keys for the next selector.
    pub fn check(
        &self,
        cmd: &'static Command,
        index: usize,
        argv: Argv,
        keys: &mut Option<Vec<(usize, u8)>>,
    ) -> Result<(), Denied> {
        use crate::cmd::table::flags::NO_AUTH;
        if !self.all_commands && cmd.flags & NO_AUTH == 0 && !self.bit(index) {
            let at = if cmd.name.contains('|') { 2 } else { 1 };
            let allowed = argv.get(at).is_some_and(|a| {
                self.first_args
                    .iter()
                    .find(|(i, _)| *i == index)
                    .is_some_and(|(_, args)| args.iter().any(|f| f.eq_ignore_ascii_case(a)))
            });
            if argv.len() < 2 || !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && !cmd.key_specs.is_empty() {
            let keys = keys.get_or_insert_with(|| key_needs(cmd, argv));
            for &(pos, need) in keys.iter() {
                let key = argv.get(pos).unwrap_or_default();
                if !self.key_allowed(key, need) {
                    return Err(Denied::Key(pos));
                }
            }
        }
        if !self.all_channels {
            if let Some((from, to, pattern)) = channel_args(cmd, argv) {
                for pos in from..to {
                    if !self.channel_allowed(argv.get(pos).unwrap_or_default(), pattern) {
                        return Err(Denied::Channel(pos));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|k| k.flags & need == need && crate::glob::matches(&k.pattern, key, false))
    }

    /// A pattern (PSUBSCRIBE) must be one of the user's patterns as
    /// written; a channel must match one.
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if pattern {
                    p == channel
                } else {
                    crate::glob::matches(p, channel, false)
                }
            })
    }

    /// (allowed, refused) commands and subcommands of a category.
    fn count(&self, bit: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (c, ci, subs) in families() {
            for &(c, ci) in std::iter::once(&(*c, *ci)).chain(subs) {
                if c.acl_categories() & bit != 0 {
                    if self.bit(ci) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
        }
        (on, off)
    }

    /// The rules that rebuild this selector's commands (Redis 7.0's
    /// `ACLDescribeSelectorCommandRules`): from `+@all` or `-@all`, the
    /// categories that fit best, greedily (fewest exceptions first), then
    /// the single commands that still differ.
    pub fn describe_commands(&self) -> String {
        let mut rules = String::new();
        let additive = !self.bit(future_bit());
        let mut fake = Selector::new(false);
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.all(true);
        }
        // What is left to explain once categories are taken out.
        let mut left = self.clone();
        let mut applied = [false; cat::NAMES.len()];
        loop {
            let mut best: Option<(usize, usize, usize)> = None;
            for (i, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = left.count(1 << i);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                let better = match best {
                    None => true,
                    Some((_, d, s)) => diff < d || (diff == d && same > s),
                };
                if same > diff && better {
                    best = Some((i, diff, same));
                }
            }
            let Some((i, _, _)) = best else { break };
            rules.push(if additive { '+' } else { '-' });
            rules.push('@');
            rules.push_str(cat::NAMES[i]);
            rules.push(' ');
            fake.category(1 << i, additive);
            left.category(1 << i, !additive);
            applied[i] = true;
        }
        for (c, ci, subs) in families() {
            let (c, ci) = (*c, *ci);
            for &(c, ci) in std::iter::once(&(c, ci)).chain(subs) {
                let mine = self.bit(ci);
                if mine != fake.bit(ci) {
                    rules.push(if mine { '+' } else { '-' });
                    rules.push_str(c.name);
                    rules.push(' ');
                    fake.change(c, ci, mine);
                }
            }
            if !self.bit(ci) {
                if let Some((_, args)) = self.first_args.iter().find(|(i, _)| *i == ci) {
                    for a in args {
                        rules.push('+');
                        rules.push_str(c.name);
                        rules.push('|');
                        rules.push_str(&String::from_utf8_lossy(a));
                        rules.push(' ');
                    }
                }
            }
        }
        rules.pop();
        rules
    }

    /// The key patterns as ACL LIST shows them.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let mut out = Vec::new();
        for k in &self.keys {
            let prefix = match k.flags {
                READ => "%R~",
                WRITE => "%W~",
                _ => "~",
            };
            out.push(format!("{prefix}{}", String::from_utf8_lossy(&k.pattern)));
        }
        out.join(" ")
    }

    /// The channel patterns (ACL GETUSER's form: no `resetchannels`).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let v: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        v.join(" ")
    }

    /// The whole selector in ACL LIST's form (Redis's
    /// `ACLDescribeSelector`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            s.push_str(&keys);
            s.push(' ');
        }
        if !self.all_channels {
            s.push_str("resetchannels ");
        }
        let channels = self.describe_channels();
        if !channels.is_empty() {
            s.push_str(&channels);
            s.push(' ');
        }
        s.push_str(&self.describe_commands());
        s
    }
}

/// The keys of a command line with the permission each needs (Redis's
/// key spec flags: ACCESS reads, INSERT / DELETE / UPDATE write).
pub fn key_needs(cmd: &'static Command, argv: Argv) -> Vec<(usize, u8)> {
    let cmdline = if cmd.name.contains('|') {
        argv.from(1)
    } else {
        argv
    };
    let Some(positions) = cmd.key_positions(argv, false) else {
        return Vec::new();
    };
    positions
        .iter()
        .filter(|&&(pos, _)| pos < argv.len())
        .map(|&(pos, n)| {
            let spec = &cmd.key_specs[n.min(cmd.key_specs.len() - 1)];
            let flags = match cmd.key_flags {
                Some(f) if spec.flags.contains(&"variable_flags") => f(cmdline),
                _ => spec.flags,
            };
            let mut need = 0;
            for f in flags {
                match *f {
                    "access" => need |= READ,
                    "insert" | "delete" | "update" => need |= WRITE,
                    _ => {}
                }
            }
            (pos, need)
        })
        .collect()
}

/// The arguments that name channels a command publishes or subscribes
/// to: (first, end, whether they are patterns).
pub fn channel_args(cmd: &Command, argv: Argv) -> Option<(usize, usize, bool)> {
    match cmd.name {
        "subscribe" | "ssubscribe" => Some((1, argv.len(), false)),
        "psubscribe" => Some((1, argv.len(), true)),
        "publish" | "spublish" => Some((1, 2.min(argv.len()), false)),
        _ => None,
    }
}
