//! CONFIG GET | SET | RESETSTAT | REWRITE | HELP.

use std::collections::HashSet;

use resp::write::Aggregate;

use super::super::flags::*;
use super::super::{row, Args, Command, Ctx, Scope};
use crate::config::{directive, Change, Config, DIRECTIVES, SET_LOG_LEVEL};
use crate::errors::{self, CmdResult, Error};
use crate::glob::Pattern;

pub static COMMANDS: &[Command] = &[row("config", -2, 0, |_, _| Ok(())).subs(SUBS)];

static SUBS: &[Command] = &[
    row(
        "config|rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        rewrite,
    ),
    row(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        resetstat,
    )
    .scope(Scope::Walk),
    row("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE, get),
    row("config|help", 2, LOADING | STALE, help),
    row("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE, set)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

/// CONFIG GET parameter [parameter ...]
fn get(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let config = ctx.server.config.read().clone();
    // (name as it will be shown, directive): an exact name is echoed as
    // typed, a pattern's matches by their own names, as Redis does.
    let mut matched: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut seen = HashSet::new();
    for p in args.rest().iter() {
        let glob = p.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        let pattern = Pattern::new(p, true);
        for d in DIRECTIVES {
            let hit = if glob {
                pattern.matches(d.name.as_bytes()) && !crate::config::HIDDEN.contains(&d.name)
            } else {
                d.name.as_bytes().eq_ignore_ascii_case(p)
            };
            if hit && seen.insert(d.name) {
                let shown = if glob {
                    d.name.as_bytes().to_vec()
                } else {
                    p.to_vec()
                };
                matched.push((shown, d.name));
            }
        }
    }
    let at = ctx.out.defer();
    for (shown, name) in &matched {
        let d = directive(name).expect("listed");
        ctx.out.bulk(shown);
        ctx.out.bulk((d.get)(&config).as_bytes());
    }
    ctx.out.finish(at, Aggregate::Map, matched.len());
    Ok(())
}

fn set_failed(name: &str, why: &str) -> Error {
    Error::from(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// CONFIG SET parameter value [parameter value ...]
///
/// All or nothing: the changes are applied to a copy, which replaces the
/// running configuration only if every one succeeded.
fn set(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let rest = args.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(errors::wrong_arity(ctx.cmd.name));
    }
    let pairs: Vec<(&[u8], &[u8])> = {
        let mut it = rest.iter();
        std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
    };
    let mut chosen = Vec::new();
    for (name, _) in &pairs {
        let Some(d) = std::str::from_utf8(name).ok().and_then(directive) else {
            return Err(Error::from(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            )));
        };
        chosen.push(d);
    }
    for (i, d) in chosen.iter().enumerate() {
        let typed = String::from_utf8_lossy(pairs[i].0).into_owned();
        if d.change == Change::Immutable {
            return Err(set_failed(&typed, "can't set immutable config"));
        }
        if d.change == Change::Protected {
            let setting = ctx.server.config.read().enable_protected_configs.clone();
            if !crate::config::permits(&setting, &ctx.client.addr) {
                return Err(set_failed(&typed, "can't set protected config"));
            }
        }
        if chosen[..i].iter().any(|e| e.name == d.name) {
            return Err(set_failed(&typed, "duplicate parameter"));
        }
    }
    let mut next: Config = ctx.server.config.read().clone();
    for (d, (_, value)) in chosen.iter().zip(&pairs) {
        let value = String::from_utf8_lossy(value).into_owned();
        // Redis's multi-word values split at single spaces (an empty
        // word is an error), which these directives do themselves.
        let words = if matches!(
            d.name,
            "save" | "shutdown-on-sigint" | "shutdown-on-sigterm" | "oom-score-adj-values"
        ) {
            vec![value]
        } else {
            resp::parse::split_line(value.as_bytes())
                .unwrap_or_default()
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect()
        };
        let words = if words.is_empty() {
            vec![String::new()]
        } else {
            words
        };
        (d.set)(&mut next, &words).map_err(|why: String| set_failed(d.name, &why))?;
        // A valid value Redis could apply live but rudis cannot: refused,
        // never accepted and ignored. The value it already has is no
        // change, and succeeds as in Redis.
        if d.change == Change::Restart && (d.get)(&next) != (d.get)(&ctx.server.config.read()) {
            return Err(set_failed(
                d.name,
                "rudis cannot change this at runtime yet",
            ));
        }
    }
    let threads = next.threads;
    if next.maxclients > ctx.server.hot.maxclients() {
        use crate::net::fdlimit::{adjust, Adjusted};
        if let Adjusted::Reduced(n) = adjust(next.maxclients, threads, true) {
            tracing::warn!("Failed applying new configuration. Possibly related to new maxclients setting. Restoring previous settings.");
            return Err(set_failed(
                "maxclients",
                &format!("The operating system is not able to handle the specified number of clients, try with {n}"),
            ));
        }
    }
    {
        // The last step that can fail: listening anew on a changed port
        // or bind list (nothing else is applied until it succeeded).
        let current = ctx.server.config.read().clone();
        if (next.port != current.port || next.bind != current.bind)
            && !crate::net::relisten(ctx.server, &next, &current)
        {
            return Err(if next.port != current.port {
                set_failed("port", "Unable to listen on this port. Check server logs.")
            } else {
                set_failed("bind", "Failed to bind to specified addresses.")
            });
        }
    }
    {
        let current = ctx.server.config.read();
        let changed = (next.oom_score_adj, next.oom_score_adj_values)
            != (current.oom_score_adj, current.oom_score_adj_values);
        drop(current);
        if changed {
            let (mode, values) = (next.oom_score_adj, next.oom_score_adj_values);
            if let Err(e) = crate::oom::apply(mode, values, crate::oom::MASTER) {
                tracing::warn!("{e}");
                return Err(set_failed(
                    "oom-score-adj",
                    "Failed to set current oom_score_adj. Check server logs.",
                ));
            }
        }
    }
    let old_password = ctx.server.config.read().requirepass.clone();
    ctx.server.hot.store(&next);
    ctx.server.acl.configure(&next);
    if next.requirepass != old_password {
        ctx.server.acl.set_default_password(&next.requirepass);
    }
    crate::evict::recount_clients(ctx.server);
    if next.maxmemory != 0 {
        // Redis's updateMaxmemory: evicting down to a lowered limit starts
        // at once, in the background, rather than at the next command.
        // Only when over it: Redis's eviction timer stops at its first run
        // otherwise, before the next command, where a thread started now
        // could run late and evict after a later command.
        let used = crate::evict::counted();
        if next.maxmemory < used {
            tracing::warn!("WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.", next.maxmemory);
            ctx.server.evictor.kick();
        }
    }
    if let Some(apply) = SET_LOG_LEVEL.get() {
        apply(next.loglevel);
    }
    *ctx.server.config.write() = next;
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT
fn resetstat(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.server.reset_stats(ctx.keys);
    ctx.out.ok();
    Ok(())
}

/// A value as a config file line needs it: quoted when empty or when it
/// holds spaces, quotes or control bytes.
fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

fn line_for(name: &str, config: &Config) -> String {
    let d = directive(name).expect("listed");
    let value = (d.get)(config);
    if name == "bind" {
        let words: Vec<String> = config.bind.iter().map(|b| quote(b)).collect();
        return format!("bind {}", words.join(" "));
    }
    format!("{name} {}", quote(&value))
}

/// Redis's CONFIG REWRITE: each directive line of the file gets the
/// running value (later duplicates are dropped); comments, blank lines
/// and order stay; directives that differ from their defaults and are not
/// in the file are appended. `users` are the `user` lines (Redis's
/// rewriteConfigUserOption): all of them where the file had its first,
/// or appended; `None` (an ACL file holds the users) drops them.
pub fn rewrite_file(text: &str, config: &Config, users: Option<&[String]>) -> String {
    let defaults = Config::default();
    let mut written = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let name = trimmed
            .split_whitespace()
            .next()
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if name == "user" {
            if let Some(users) = users.filter(|_| written.insert("user")) {
                out.extend(users.iter().cloned());
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || directive(&name).is_none() {
            out.push(line.to_string());
            continue;
        }
        let d = directive(&name).expect("checked");
        if written.insert(d.name) {
            out.push(line_for(d.name, config));
        }
    }
    let mut appended = false;
    for d in DIRECTIVES {
        if written.contains(d.name) || (d.get)(config) == (d.get)(&defaults) {
            continue;
        }
        if !appended {
            out.push("# Generated by CONFIG REWRITE".to_string());
            appended = true;
        }
        out.push(line_for(d.name, config));
    }
    if let Some(users) = users.filter(|_| !written.contains("user")) {
        if !appended {
            out.push("# Generated by CONFIG REWRITE".to_string());
        }
        out.extend(users.iter().cloned());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// CONFIG REWRITE
fn rewrite(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let config = ctx.server.config.read().clone();
    let Some(path) = config.config_file.clone() else {
        return Err(errors::NO_CONFIG_FILE.into());
    };
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let users: Vec<String> = ctx.server.acl.all().iter().map(|u| u.describe()).collect();
    let users = config.aclfile.is_empty().then_some(&users[..]);
    let new = rewrite_file(&old, &config, users);
    // Write a sibling file and rename it over the old one, so a crash
    // never leaves half a config file.
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, new)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::from(format!("ERR Rewriting config file: {e}")))?;
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

/// CONFIG HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::super::help(ctx, args, HELP)
}

#[cfg(test)]
mod tests {
    use super::rewrite_file;
    use crate::config::Config;

    #[test]
    fn rewrite_keeps_comments_and_order() {
        let c = Config {
            hz: 20,
            timeout: 5,
            logfile: "/tmp/a b.log".into(),
            ..Config::default()
        };
        let old = "# my server\nport 6379\n\n# speed\nhz 10\nhz 11\nloglevel notice\n";
        let new = rewrite_file(old, &c, None);
        assert_eq!(
            new,
            "# my server\nport 6379\n\n# speed\nhz 20\nloglevel notice\n# Generated by CONFIG REWRITE\ntimeout 5\nlogfile \"/tmp/a b.log\"\n"
        );
        // Users where the first `user` line was, the others dropped.
        let old = "port 6379\nuser a on\nhz 10\nuser b off\n";
        let users = ["user a on nopass ~* &* +@all".to_string()];
        assert_eq!(
            rewrite_file(old, &c, Some(&users)),
            "port 6379\nuser a on nopass ~* &* +@all\nhz 20\n# Generated by CONFIG REWRITE\ntimeout 5\nlogfile \"/tmp/a b.log\"\n"
        );
        assert_eq!(
            rewrite_file("port 6379\n", &Config::default(), Some(&users)),
            "port 6379\n# Generated by CONFIG REWRITE\nuser a on nopass ~* &* +@all\n"
        );
    }
}
