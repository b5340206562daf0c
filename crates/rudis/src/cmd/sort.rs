//! SORT and SORT_RO, after Redis's `sortCommandGeneric`. BY and GET
//! patterns name keys by the data being sorted, so a command line with
//! such a pattern locks every shard (it stays atomic); without one it
//! locks its own keys only.

use std::cmp::Ordering;

use smallvec::smallvec;

use super::flags::*;
use super::table::{KeyPositions, Scope};
use super::{acl, is, parse_int, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use crate::db::list::End;
use crate::db::{Blob, Value};
use crate::double::c_str;
use crate::effects::class::{GENERIC, LIST};
use crate::errors::{self, CmdResult, Error};

const BY_GET_NOTE: &str = "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const STORE_NOTE: &str = "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";
const CATEGORIES: u32 = acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS;

pub static COMMANDS: &[Command] = &[
    row("sort", -2, WRITE | DENYOOM, sort)
        .acl(CATEGORIES)
        .keys(&[
            KeySpec::at(1, &["RO", "access"]),
            KeySpec::new(&["RO", "access"], Begin::Unknown, Find::Unknown).notes(BY_GET_NOTE),
            KeySpec::new(&["OW", "update"], Begin::Unknown, Find::Unknown).notes(STORE_NOTE),
        ])
        .get_keys(sort_keys)
        .scope(Scope::Data(uses_patterns)),
    row("sort_ro", -2, READONLY, sort_ro)
        .acl(CATEGORIES)
        .keys(&[
            KeySpec::at(1, &["RO", "access"]),
            KeySpec::new(&["RO", "access"], Begin::Unknown, Find::Unknown).notes(BY_GET_NOTE),
        ])
        .get_keys(|_| smallvec![(1, 0)])
        .scope(Scope::Data(uses_patterns)),
];

/// Options that take arguments, for scanning a SORT line without parsing
/// it (Redis's `sortGetKeys` skip list).
fn skip_of(a: &[u8]) -> usize {
    if is(a, "limit") {
        2
    } else if is(a, "get") || is(a, "by") {
        1
    } else {
        0
    }
}

/// The sorted key, and the last STORE destination (Redis's
/// `sortGetKeys`).
fn sort_keys(argv: Argv) -> KeyPositions {
    let mut keys: KeyPositions = smallvec![(1, 0)];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv.get(i).unwrap_or_default();
        let skip = skip_of(a);
        if skip == 0 && is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += skip + 1;
    }
    keys.extend(store.map(|s| (s, 2)));
    keys
}

/// Whether a BY or GET pattern of this line would look keys up.
fn uses_patterns(argv: Argv) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let a = argv.get(i).unwrap_or_default();
        if (is(a, "by") || is(a, "get")) && i + 1 < argv.len() {
            let pattern = argv.get(i + 1).unwrap_or_default();
            if c_str(pattern).contains(&b'*') {
                return true;
            }
        }
        i += skip_of(a) + 1;
    }
    false
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern
/// ...]] [ASC | DESC] [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    sort_generic(ctx, args, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET
/// pattern ...]] [ASC | DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    sort_generic(ctx, args, true)
}

struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit: (i64, i64),
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_opts<'a>(args: &mut Args<'a>, read_only: bool) -> Result<Opts<'a>, Error> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: (0, -1),
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    while let Some(a) = args.next_arg() {
        let left = args.remaining();
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = (parse_int(args.arg())?, parse_int(args.arg())?);
        } else if !read_only && is(a, "store") && left >= 1 {
            o.store = Some(args.arg());
        } else if is(a, "by") && left >= 1 {
            let p = args.arg();
            o.by = Some(p);
            // A pattern without `*` names no key: nothing to sort by.
            o.dont_sort = !c_str(p).contains(&b'*');
        } else if is(a, "get") && left >= 1 {
            o.gets.push(args.arg());
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(o)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and `->field` after it reads a
/// hash field. `None` where Redis finds nothing.
fn by_pattern(ctx: &mut Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    let pat = c_str(pattern);
    if pat == b"#" {
        return Some(element.to_vec());
    }
    let star = memchr::memchr(b'*', pat)?;
    let arrow = memchr::memmem::find(&pat[star + 1..], b"->")
        .map(|i| star + 1 + i)
        .filter(|&i| i + 2 < pat.len());
    let (key_end, field) = match arrow {
        // The field runs to the end of the whole (sds) pattern.
        Some(i) => (i, Some(&pattern[i + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let now = ctx.now;
    let e = ctx.keys.table(ctx.db, &key).get(&key, now)?;
    match field {
        Some(f) => e.value.as_hash()?.get(f).map(<[u8]>::to_vec),
        None => e.value.as_str().map(|b| b.as_slice().to_vec()),
    }
}

/// C's `strtod` over a whole string as SORT checks it: leading spaces
/// allowed, nothing after, no overflow or underflow, no NaN.
fn strtod(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    if s.is_empty() {
        // No conversion; `eptr` is at the terminating NUL: accepted as 0.
        return Some(0.0);
    }
    let r = crate::double::strtod(s);
    (r.consumed == s.len() && !r.erange && !r.value.is_nan()).then_some(r.value)
}

struct Item {
    value: Vec<u8>,
    score: f64,
    /// ALPHA with BY: the looked-up value (`None`: missing).
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, args: &mut Args, read_only: bool) -> CmdResult {
    let key = args.arg();
    let mut o = parse_opts(args, read_only)?;
    let now = ctx.now;
    let (mut items, is_set, is_list): (Vec<Item>, bool, bool) = {
        let t = ctx.keys.table(ctx.db, key);
        let item = |v: Vec<u8>| Item {
            value: v,
            score: 0.0,
            cmp: None,
        };
        match t.get(key, now).map(|e| &e.value) {
            None => (Vec::new(), false, true),
            Some(Value::List(l)) => (
                l.iter().map(|b| item(b.as_slice().to_vec())).collect(),
                false,
                true,
            ),
            // A sorted set keeps its own order, as a list does.
            Some(v) if v.as_zset().is_some() => (
                v.as_zset()
                    .map(|z| z.to_vec())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(m, _)| item(m.to_vec()))
                    .collect(),
                false,
                true,
            ),
            Some(v) => match v.as_set() {
                Some(s) => (s.iter().map(|m| item(m.to_vec())).collect(), true, false),
                None => return Err(errors::WRONGTYPE.into()),
            },
        }
    };
    // Sets have no order of their own: a stored result, or one a script
    // gets, is sorted anyway (so that replicas and scripts agree).
    if o.dont_sort && is_set && (o.store.is_some() || crate::script::calling()) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = items.len() as i64;
    let mut start = o.limit.0.max(0);
    let mut end = if o.limit.1 < 0 {
        len - 1
    } else {
        start + o.limit.1 - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if is_list && o.dont_sort && o.desc {
        items.reverse();
    }
    let mut conversion_error = false;
    if !o.dont_sort {
        for it in &mut items {
            let by = match o.by {
                Some(p) => match by_pattern(ctx, p, &it.value) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.value.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(by);
                }
            } else {
                match strtod(&by) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let collate = o.store.is_none();
        let (alpha, by, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let c = compare(a, b, alpha, by, collate);
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    if conversion_error {
        return Err(errors::SORT_NOT_DOUBLE.into());
    }
    let range = if end >= start && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[][..]
    };
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for it in range {
        if o.gets.is_empty() {
            output.push(Some(it.value.clone()));
        }
        for g in &o.gets {
            output.push(by_pattern(ctx, g, &it.value));
        }
    }
    match o.store {
        None => {
            ctx.out.array(output.len());
            for v in &output {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            let t = ctx.keys.table(ctx.db, dest);
            if output.is_empty() {
                if t.remove(dest, now).is_some() {
                    ctx.modified(dest, GENERIC, "del");
                }
            } else {
                let mut list = crate::db::list::List::default();
                for v in &output {
                    list.push(End::Right, Blob::new(v.as_deref().unwrap_or_default()));
                }
                t.set(dest, Value::List(Box::new(list)), 0, now);
                ctx.modified(dest, LIST, "sortstore");
                ctx.fx.dirty += output.len() as u64 - 1;
                ctx.key_ready(dest);
            }
            ctx.out.int(output.len() as i64);
        }
    }
    Ok(())
}

/// Redis's `sortCompare` (ascending).
fn compare(a: &Item, b: &Item, alpha: bool, by: bool, collate: bool) -> Ordering {
    // strcoll in the C locale compares C strings; a stored sort compares
    // binary strings.
    let text = |x: &[u8], y: &[u8]| {
        if collate {
            c_str(x).cmp(c_str(y))
        } else {
            x.cmp(y)
        }
    };
    if !alpha {
        return match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.value.cmp(&b.value),
            Some(o) => o,
        };
    }
    if by {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => text(x, y),
        }
    } else {
        text(&a.value, &b.value)
    }
}
