//! Users and what they may run (Redis 7.0's ACL): the user registry,
//! authentication, the permission check dispatch makes before a command
//! runs, and the ACL LOG.
//!
//! A user is an immutable snapshot behind an `Arc`: ACL SETUSER builds a
//! new one and swaps it in, bumping a generation counter. A connection
//! keeps its user's snapshot and looks the name up again only when the
//! generation moved, so the check costs one atomic load while nothing
//! changes, and nothing at all for a user allowed everything.

pub mod file;
pub mod log;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::cmd::table::Command;
use crate::cmd::Argv;
pub use rules::{Denied, RuleError, Selector};

#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// `skip-sanitize-payload` (Some(true)) or `sanitize-payload`
    /// (Some(false)), if either was given.
    pub skip_sanitize: Option<bool>,
    /// SHA-256 digests in lower-case hex, in the order they were added.
    pub passwords: Vec<String>,
    /// The root selector first, then those given in parentheses.
    pub selectors: Vec<Selector>,
    /// Every command, key and channel (the default user's case).
    pub unrestricted: bool,
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The digest a password rule names: `>pass` / `<pass` hash the
/// password, `#hash` / `!hash` give it.
fn password_hash(op: &[u8]) -> Result<String, RuleError> {
    if matches!(op[0], b'>' | b'<') {
        return Ok(sha256_hex(&op[1..]));
    }
    if !valid_hash(&op[1..]) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(&op[1..]).into_owned())
}

/// Compares without an early exit, so timing does not tell how much of
/// a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl User {
    /// A new user: off, no passwords, nothing allowed (Redis's
    /// `ACLCreateUser`).
    pub fn new(name: &[u8], all_channels: bool) -> User {
        let mut u = User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            skip_sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(all_channels)],
            unrestricted: false,
        };
        u.settle();
        u
    }

    /// The default user as Redis starts it: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        let mut u = User::new(b"default", true);
        u.enabled = true;
        u.nopass = true;
        let root = &mut u.selectors[0];
        for op in ["+@all", "~*", "&*"] {
            let _ = root.apply(op.as_bytes());
        }
        u.settle();
        u
    }

    fn settle(&mut self) {
        self.unrestricted = self.selectors[0].unrestricted();
    }

    /// Applies one rule (Redis's `ACLSetUser`); `all_channels` is
    /// `acl-pubsub-default` for selectors made here.
    pub fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        let r = self.apply_one(op, all_channels);
        self.settle();
        r
    }

    fn apply_one(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.skip_sanitize = Some(true),
            b"sanitize-payload" => self.skip_sanitize = Some(false),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.truncate(1),
            b"reset" => {
                for op in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply_one(op.as_bytes(), all_channels)?;
                }
                if all_channels {
                    self.apply_one(b"allchannels", all_channels)?;
                }
                for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                    self.apply_one(op.as_bytes(), all_channels)?;
                }
            }
            _ => match op.first() {
                Some(b'>' | b'#') => {
                    let hash = password_hash(op)?;
                    if !self.passwords.contains(&hash) {
                        self.passwords.push(hash);
                    }
                    self.nopass = false;
                }
                Some(b'<' | b'!') => {
                    let hash = password_hash(op)?;
                    let at = self
                        .passwords
                        .iter()
                        .position(|p| *p == hash)
                        .ok_or(RuleError::NoSuchPassword)?;
                    self.passwords.remove(at);
                }
                Some(b'(') if op.last() == Some(&b')') => {
                    let mut s = Selector::new(all_channels);
                    let inner = &op[1..op.len() - 1];
                    for rule in inner.split(|&c| c == b' ').filter(|r| !r.is_empty()) {
                        s.apply(rule)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.selectors[0].apply(op)?,
            },
        }
        Ok(())
    }

    /// Whether `password` logs this user in (Redis's `ACLCheckUserCredentials`).
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = sha256_hex(password);
        let mut ok = false;
        for p in &self.passwords {
            ok |= same_secret(p.as_bytes(), hash.as_bytes());
        }
        ok
    }

    /// Redis's `ACLCheckAllUserCommandPerm`: allowed if any selector
    /// allows it; otherwise the most telling refusal.
    pub fn check(&self, cmd: &'static Command, index: usize, argv: Argv) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let mut keys = None;
        let mut worst: Option<Denied> = None;
        for s in &self.selectors {
            match s.check(cmd, index, argv, &mut keys) {
                Ok(()) => return Ok(()),
                Err(d) => worst = Some(worst.map_or(d, |w| w.worse(d))),
            }
        }
        Err(worst.unwrap_or(Denied::Command))
    }

    /// The flags part of ACL LIST and GETUSER, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.skip_sanitize {
            Some(true) => v.push("skip-sanitize-payload"),
            Some(false) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// The user as an ACL LIST / ACL SAVE line (Redis's `ACLDescribeUser`).
    pub fn describe(&self) -> String {
        let mut s = format!("user {}", String::from_utf8_lossy(&self.name));
        for f in self.flag_names() {
            s.push(' ');
            s.push_str(f);
        }
        for p in &self.passwords {
            s.push_str(" #");
            s.push_str(p);
        }
        s.push(' ');
        s.push_str(&self.selectors[0].describe());
        for sel in &self.selectors[1..] {
            s.push_str(" (");
            s.push_str(&sel.describe());
            s.push(')');
        }
        s
    }
}

/// Redis's `ACLMergeSelectorArguments`: a selector may span arguments
/// (`(+get` `~key)`), joined with spaces. On an unclosed one, the index
/// of the argument that opened it.
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, a) in args.iter().enumerate() {
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
            continue;
        }
        if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((i, a.to_vec()));
            continue;
        }
        out.push(a.to_vec());
    }
    match open {
        Some((i, _)) => Err(i),
        None => Ok(out),
    }
}

/// Whether a user name can be used (Redis's `ACLStringHasSpaces`).
pub fn valid_name(name: &[u8]) -> bool {
    !name.iter().any(|&c| c.is_ascii_whitespace() || c == 0)
}

/// A user as it was (if it existed) and as it is now.
pub type Replaced = (Option<Arc<User>>, Arc<User>);

/// Every user, the ACL LOG, and the generation connections compare with.
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    generation: AtomicU64,
    /// `acl-pubsub-default allchannels`.
    pub all_channels_default: AtomicBool,
    pub log: log::Log,
    /// Whether the default user needs a password (Redis's
    /// `authRequired` without the client part).
    auth_required: AtomicBool,
}

impl Default for Acl {
    fn default() -> Acl {
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            generation: AtomicU64::new(1),
            all_channels_default: AtomicBool::new(false),
            log: Default::default(),
            auth_required: AtomicBool::new(false),
        }
    }
}

impl Acl {
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default")
            .unwrap_or_else(|| Arc::new(User::default_user()))
    }

    pub fn names(&self) -> Vec<Vec<u8>> {
        self.users.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    fn changed(&self, users: &BTreeMap<Vec<u8>, Arc<User>>) {
        let d = users.get(&b"default"[..]);
        let open = d.is_some_and(|d| d.nopass && d.enabled);
        self.auth_required.store(!open, Relaxed);
        self.generation.fetch_add(1, Relaxed);
    }

    /// ACL SETUSER: applies every rule to a copy of the user (a new one
    /// if there is none), which replaces it only if all succeeded.
    /// Returns the previous and the new user.
    pub fn set_user(
        &self,
        name: &[u8],
        rules: &[Vec<u8>],
    ) -> Result<Replaced, (Vec<u8>, RuleError)> {
        let all_channels = self.all_channels_default.load(Relaxed);
        let mut users = self.users.write();
        let old = users.get(name).cloned();
        let mut u = match &old {
            Some(u) => (**u).clone(),
            None => User::new(name, all_channels),
        };
        for r in rules {
            u.apply(r, all_channels).map_err(|e| (r.clone(), e))?;
        }
        let u = Arc::new(u);
        users.insert(name.to_vec(), u.clone());
        self.changed(&users);
        Ok((old, u))
    }

    /// Removes users (never `default`); returns those removed.
    pub fn delete(&self, names: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut users = self.users.write();
        let mut gone = Vec::new();
        for n in names {
            if *n != b"default" && users.remove(*n).is_some() {
                gone.push(n.to_vec());
            }
        }
        if !gone.is_empty() {
            self.changed(&users);
        }
        gone
    }

    /// Replaces every user at once (ACL LOAD, the start-up `user` lines).
    pub fn replace(&self, new: BTreeMap<Vec<u8>, Arc<User>>) {
        let mut users = self.users.write();
        *users = new;
        if !users.contains_key(&b"default"[..]) {
            users.insert(b"default".to_vec(), Arc::new(User::default_user()));
        }
        self.changed(&users);
    }

    /// `requirepass`: the default user's one password, or `nopass` for
    /// none (Redis's `ACLUpdateDefaultUserPassword`).
    pub fn set_default_password(&self, password: &str) {
        let mut rules = vec![b"resetpass".to_vec()];
        if password.is_empty() {
            rules.push(b"nopass".to_vec());
        } else {
            let mut r = b">".to_vec();
            r.extend_from_slice(password.as_bytes());
            rules.push(r);
        }
        let _ = self.set_user(b"default", &rules);
    }
}

/// A connection's view of its user: the snapshot and the generation it
/// was taken at.
pub struct ClientUser {
    pub user: Arc<User>,
    generation: u64,
}

impl ClientUser {
    pub fn new(acl: &Acl, user: Arc<User>) -> ClientUser {
        ClientUser {
            user,
            generation: acl.generation(),
        }
    }

    /// The user as it is now: a user deleted meanwhile (its connections
    /// are being closed) is allowed nothing.
    pub fn current(&mut self, acl: &Acl) -> &Arc<User> {
        let g = acl.generation();
        if g != self.generation {
            self.generation = g;
            self.user = acl.get(&self.user.name).unwrap_or_else(|| {
                let mut u = User::new(&self.user.name, false);
                u.enabled = false;
                Arc::new(u)
            });
        }
        &self.user
    }
}

/// The text a refused command gets at the top level (Redis's
/// processCommand).
pub fn denied_text(d: Denied, cmd: &Command) -> String {
    match d {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            cmd.name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}

/// The reason EXEC gives for a queued command no longer allowed.
pub fn denied_reason(d: Denied) -> &'static str {
    match d {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    }
}

/// The text a script's refused call raises.
pub fn denied_script_text(d: Denied) -> &'static str {
    match d {
        Denied::Command => "The user executing the script can't run this command or subcommand",
        Denied::Key(_) => "The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel(_) => "The user executing the script can't publish to the channel mentioned in the command",
    }
}

/// The object an ACL LOG entry names for a refusal.
pub fn denied_object(d: Denied, cmd: &Command, argv: Argv) -> Vec<u8> {
    match d {
        Denied::Command => cmd.name.as_bytes().to_vec(),
        Denied::Key(i) | Denied::Channel(i) => argv.get(i).unwrap_or_default().to_vec(),
    }
}

pub fn reason_name(d: Denied) -> &'static str {
    match d {
        Denied::Command => "command",
        Denied::Key(_) => "key",
        Denied::Channel(_) => "channel",
    }
}

/// A `user` line of the configuration, checked as Redis checks it while
/// reading (Redis's `ACLAppendUserForLoading`): unknown commands pass
/// (they may come from a module), other errors stop the start.
pub fn check_declaration(args: &[String], all_channels: bool) -> Result<(), String> {
    let words: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let rules = merge_selectors(&words[1..]).map_err(|i| {
        format!(
            "Error in user declaration '{}': {}",
            args[i + 1],
            RuleError::Syntax.text()
        )
    })?;
    let mut fake = User::new(words[0], all_channels);
    for (j, r) in rules.iter().enumerate() {
        match fake.apply(r, all_channels) {
            Ok(()) | Err(RuleError::Unknown) => {}
            Err(e) => {
                // Redis names the line's word at the failing rule's index
                // counted from the directive itself: `user`, the name, ...
                let word = if j == 0 { "user" } else { &args[j - 1] };
                return Err(format!("Error in user declaration '{word}': {}", e.text()));
            }
        }
    }
    Ok(())
}

impl Acl {
    /// The live settings: `acllog-max-len`, `acl-pubsub-default`.
    pub fn configure(&self, c: &crate::config::Config) {
        self.log.max_len.store(c.acllog_max_len, Relaxed);
        self.log.trim();
        self.all_channels_default.store(c.acl_pubsub_all, Relaxed);
    }

    /// The users a server starts with (Redis's `ACLLoadUsersAtStartup`):
    /// `requirepass`, then the configuration's `user` lines, or the ACL
    /// file (not both).
    pub fn load_at_start(&self, c: &crate::config::Config) -> Result<(), String> {
        self.configure(c);
        if !c.requirepass.is_empty() {
            self.set_default_password(&c.requirepass);
        }
        if !c.aclfile.is_empty() && !c.users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        for line in &c.users {
            let name = line[0].as_bytes();
            let words: Vec<&[u8]> = line[1..].iter().map(|a| a.as_bytes()).collect();
            let rules = merge_selectors(&words).unwrap_or_default();
            // Declaring the default user replaces its rules as a whole
            // (a new user starts from nothing anyway).
            let mut all = Vec::new();
            if name == b"default" {
                all.push(b"reset".to_vec());
            }
            all.extend(rules);
            if let Err((r, e)) = self.set_user(name, &all) {
                if e != RuleError::Unknown {
                    return Err(format!(
                        "Error in user declaration '{}': {}",
                        String::from_utf8_lossy(&r),
                        e.text()
                    ));
                }
            }
        }
        if !c.aclfile.is_empty() {
            let users = file::load(&c.aclfile, c.acl_pubsub_all)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
            self.replace(users);
        }
        Ok(())
    }
}

/// Records a refused command in the ACL LOG (Redis's `addACLLogEntry`),
/// with the client as CLIENT INFO shows it running the command.
pub fn log_denied(
    server: &crate::server::Server,
    client: &crate::client::Client,
    d: Denied,
    context: log::Context,
    cmd: &'static Command,
    argv: Argv,
) {
    // CLIENT INFO names the refused command, except a script's call
    // (the client runs the script).
    if context != log::Context::Lua {
        client
            .handle
            .last_cmd
            .store(crate::cmd::table::index_of(cmd) + 1, Relaxed);
    }
    let info = crate::cmd::client::client_line(&client.handle, 0);
    server.acl.log.add(
        reason_name(d),
        context,
        &denied_object(d, cmd, argv),
        &client.user.user.name,
        info,
    );
}
