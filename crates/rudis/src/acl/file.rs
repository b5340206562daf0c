//! The ACL file (`aclfile`): users as ACL LIST prints them, one per
//! line, loaded at start and by ACL LOAD, written by ACL SAVE; and the
//! `user` lines of the configuration file.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{merge_selectors, valid_name, RuleError, User};

/// Builds the users one `user name rules...` line each describes
/// (Redis's `ACLLoadFromFile`). On errors, all of them in Redis's words.
pub fn parse(
    text: &str,
    origin: &str,
    all_channels: bool,
) -> Result<BTreeMap<Vec<u8>, Arc<User>>, String> {
    let mut users = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let words: Vec<&[u8]> = line
            .as_bytes()
            .split(|&c| c == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!(
                "{origin}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if !valid_name(name) {
            errors.push_str(&format!(
                "'{origin}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let Ok(rules) = merge_selectors(&words[2..]) else {
            errors.push_str(&format!(
                "{origin}:{n}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut u = User::new(name, all_channels);
        let mut reported = false;
        for r in &rules {
            let r: Vec<u8> = String::from_utf8_lossy(r)
                .trim_matches(['\t', '\r', '\n'])
                .into();
            if let Err(e) = u.apply(&r, all_channels) {
                if e == RuleError::Unknown {
                    errors.push_str(&format!(
                        "{origin}:{n}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(&r),
                        e.text()
                    ));
                } else if !reported {
                    errors.push_str(&format!("{origin}:{n}: {}. ", e.text()));
                    reported = true;
                }
            }
        }
        users.insert(name.to_vec(), Arc::new(u));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

/// Reads and parses the ACL file.
pub fn load(path: &str, all_channels: bool) -> Result<BTreeMap<Vec<u8>, Arc<User>>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::config::os_error_text(&e)
        )
    })?;
    parse(&String::from_utf8_lossy(&text), path, all_channels)
}

/// Writes every user to the file, replacing it only once the new one is
/// complete (Redis's `ACLSaveToFile`).
pub fn save(path: &str, users: &[Arc<User>]) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = String::new();
    for u in users {
        text.push_str(&u.describe());
        text.push('\n');
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
