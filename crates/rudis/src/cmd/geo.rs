//! Geo commands: a geo set is a sorted set whose scores are 52-bit
//! geohashes (`crate::geohash`), so every sorted set command works on it
//! too. A search picks the cells covering its shape as Redis does, reads
//! each cell's score range and keeps the members within the shape.

use super::flags::*;
use super::zset::{add_scored, each_score, store, zset_at, AddFlags};
use super::{acl, is, parse_int, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use crate::db::zset::ZsetRef;
use crate::errors::{self, CmdResult, Error};
use crate::geohash::{self, Shape};
use crate::ldouble::LongDouble;

const RO: &[KeySpec] = &[KeySpec::at(1, &["RO", "access"])];
const RADIUS_KEYS: &[KeySpec] = &[
    KeySpec::at(1, &["RO", "access"]),
    KeySpec::new(
        &["OW", "update"],
        Begin::Keyword("STORE", 6),
        Find::Range(0, 1, 0),
    ),
    KeySpec::new(
        &["OW", "update"],
        Begin::Keyword("STOREDIST", 6),
        Find::Range(0, 1, 0),
    ),
];
const BYMEMBER_KEYS: &[KeySpec] = &[
    KeySpec::at(1, &["RO", "access"]),
    KeySpec::new(
        &["OW", "update"],
        Begin::Keyword("STORE", 5),
        Find::Range(0, 1, 0),
    ),
    KeySpec::new(
        &["OW", "update"],
        Begin::Keyword("STOREDIST", 5),
        Find::Range(0, 1, 0),
    ),
];

pub static COMMANDS: &[Command] = &[
    row("geoadd", -5, WRITE | DENYOOM, geoadd)
        .acl(acl::GEO)
        .keys(&[KeySpec::at(1, &["RW", "update"])]),
    row("geopos", -2, READONLY, geopos).acl(acl::GEO).keys(RO),
    row("geohash", -2, READONLY, geohash).acl(acl::GEO).keys(RO),
    row("geodist", -4, READONLY, geodist).acl(acl::GEO).keys(RO),
    row("georadius", -6, WRITE | DENYOOM, georadius)
        .acl(acl::GEO)
        .keys(RADIUS_KEYS),
    row("georadius_ro", -6, READONLY, georadius_ro)
        .acl(acl::GEO)
        .keys(RO),
    row("georadiusbymember", -5, WRITE | DENYOOM, georadiusbymember)
        .acl(acl::GEO)
        .keys(BYMEMBER_KEYS),
    row("georadiusbymember_ro", -5, READONLY, georadiusbymember_ro)
        .acl(acl::GEO)
        .keys(RO),
    row("geosearch", -7, READONLY, geosearch)
        .acl(acl::GEO)
        .keys(RO),
    row("geosearchstore", -8, WRITE | DENYOOM, geosearchstore)
        .acl(acl::GEO)
        .keys(&[
            KeySpec::at(1, &["OW", "update"]),
            KeySpec::at(2, &["RO", "access"]),
        ]),
];

fn float(a: &[u8], msg: &'static str) -> Result<f64, Error> {
    crate::double::parse(a).ok_or(Error::Static(msg))
}

/// Redis's `extractLongLatOrReply`.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let lon = float(lon, errors::NOT_FLOAT)?;
    let lat = float(lat, errors::NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Error::from(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit (Redis's `extractUnitOrReply`).
fn unit(a: &[u8]) -> Result<f64, Error> {
    if is(a, "m") {
        Ok(1.0)
    } else if is(a, "km") {
        Ok(1000.0)
    } else if is(a, "ft") {
        Ok(0.3048)
    } else if is(a, "mi") {
        Ok(1609.34)
    } else {
        Err(errors::GEO_UNIT.into())
    }
}

/// A distance as Redis prints one: four decimals, rounded as `llrint`.
fn distance_text(d: f64) -> Vec<u8> {
    let scaled = (d * 10000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", abs / 10000, abs % 10000).into_bytes()
}

/// A coordinate as Redis prints one (`addReplyHumanLongDouble`): a bulk
/// string in RESP2, a double in RESP3.
fn coordinate(out: &mut resp::Reply, v: f64) {
    let text = LongDouble::from_f64(v).to_human();
    if out.resp3() {
        let mut line = Vec::with_capacity(text.len() + 3);
        line.push(b',');
        line.extend_from_slice(&text);
        line.extend_from_slice(b"\r\n");
        out.encoded(&line);
    } else {
        out.bulk(&text);
    }
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude
/// latitude member ...]
fn geoadd(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let mut f = AddFlags::default();
    while let Some(opt) = args.peek() {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "ch") {
            f.ch = true;
        } else {
            break;
        }
        args.arg();
    }
    let triples = args.rest();
    if !triples.len().is_multiple_of(3) || (f.nx && f.xx) || triples.is_empty() {
        return Err(errors::SYNTAX.into());
    }
    let mut scored = Vec::with_capacity(triples.len() / 3);
    for j in 0..triples.len() / 3 {
        let at = |i| triples.get(j * 3 + i).unwrap_or_default();
        let (lon, lat) = lon_lat(at(0), at(1))?;
        let score = geohash::score_of(lon, lat).unwrap_or(0);
        scored.push((score as f64, at(2)));
    }
    add_scored(ctx, key, &f, &scored)
}

/// GEOPOS key [member [member ...]]
fn geopos(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    each_score(ctx, args, |out, score| {
        match score.and_then(geohash::position_of) {
            Some((lon, lat)) => {
                out.array(2);
                coordinate(out, lon);
                coordinate(out, lat);
            }
            None => out.null_array(),
        }
    })
}

/// GEOHASH key [member [member ...]]
fn geohash(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    each_score(ctx, args, |out, score| {
        let text = score
            .and_then(geohash::position_of)
            .and_then(|(lon, lat)| geohash::text(lon, lat));
        match text {
            Some(t) => out.bulk(&t),
            None => out.null(),
        }
    })
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
fn geodist(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let (m1, m2) = (args.arg(), args.arg());
    let to_meters = match args.remaining() {
        0 => 1.0,
        1 => unit(args.arg())?,
        _ => return Err(errors::SYNTAX.into()),
    };
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    let pos = |m: &[u8]| z.and_then(|z| z.score(m)).and_then(geohash::position_of);
    match (pos(m1), pos(m2)) {
        (Some(a), Some(b)) => {
            let d = geohash::distance(a.0, a.1, b.0, b.1) / to_meters;
            ctx.out.bulk(&distance_text(d));
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

/// Which search command, as Redis's `georadiusGeneric` flags.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO]: around coordinates.
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO].
    Member { store: bool },
    /// GEOSEARCH / GEOSEARCHSTORE.
    Search { store: bool },
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

struct Found {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// The members of `z` within `shape` around (lon, lat), cell by cell in
/// Redis's order, stopping at `limit` (0: none).
fn search(z: ZsetRef, lon: f64, lat: f64, shape: Shape, limit: usize) -> Vec<Found> {
    let cells = geohash::cells_for(lon, lat, shape);
    let mut found = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // A huge radius can make neighbours the same cell.
        if last.is_some_and(|l| cells[l] == *cell) {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(*cell);
        let first = z.count_while(|s, _| s < min);
        z.walk(first, false, |m, s| {
            if s >= max {
                return false;
            }
            if let Some((x, y)) = geohash::position_of(s) {
                if let Some(dist) = geohash::within(lon, lat, shape, x, y) {
                    found.push(Found {
                        member: m.to_vec(),
                        score: s,
                        dist,
                        lon: x,
                        lat: y,
                    });
                }
            }
            !(limit != 0 && found.len() >= limit)
        });
        last = Some(i);
    }
    found
}

fn member_position(z: Option<ZsetRef>, m: &[u8]) -> Result<(f64, f64), Error> {
    z.and_then(|z| z.score(m))
        .and_then(geohash::position_of)
        .ok_or(Error::Static(errors::GEO_NO_MEMBER))
}

/// A radius and its unit: (radius in meters, meters per unit).
fn radius(r: &[u8], u: &[u8]) -> Result<(f64, f64), Error> {
    let d = float(r, errors::GEO_NEED_RADIUS)?;
    if d < 0.0 {
        return Err(errors::GEO_RADIUS_NEGATIVE.into());
    }
    let conv = unit(u)?;
    Ok((d * conv, conv))
}

fn generic(ctx: &mut Ctx, argv: Argv, src_index: usize, form: Form) -> CmdResult {
    let key = argv.get(src_index).unwrap_or_default();
    let arg = |i: usize| argv.get(i).unwrap_or_default();
    let now = ctx.now;
    let z = zset_at(ctx.keys.table(ctx.db, key), key, now)?;
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<Shape> = None;
    let mut conversion = 1.0;
    let mut dest: Option<&[u8]> = None;
    let base = match form {
        Form::Coords { .. } => {
            center = Some(lon_lat(arg(2), arg(3))?);
            let (r, c) = radius(arg(4), arg(5))?;
            shape = Some(Shape::Circle { radius: r });
            conversion = c;
            6
        }
        Form::Member { .. } if z.is_none() => 5,
        Form::Member { .. } => {
            center = Some(member_position(z, arg(2))?);
            let (r, c) = radius(arg(3), arg(4))?;
            shape = Some(Shape::Circle { radius: r });
            conversion = c;
            5
        }
        Form::Search { store: true } => {
            dest = Some(arg(1));
            3
        }
        Form::Search { store: false } => 2,
    };
    let searching = matches!(form, Form::Search { .. });
    let may_store = matches!(
        form,
        Form::Coords { store: true } | Form::Member { store: true }
    );
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut storedist = false;
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut i = base;
    while i < argv.len() {
        let a = arg(i);
        let left = argv.len() - i - 1;
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            sort = Sort::Asc;
        } else if is(a, "desc") {
            sort = Sort::Desc;
        } else if is(a, "count") && left >= 1 {
            count = parse_int(arg(i + 1))?;
            if count <= 0 {
                return Err(errors::GEO_COUNT.into());
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && may_store {
            dest = Some(arg(i + 1));
            storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && form == (Form::Search { store: true }) {
            storedist = true;
        } else if is(a, "frommember") && left >= 1 && searching && !fromloc {
            if z.is_some() {
                center = Some(member_position(z, arg(i + 1))?);
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && searching && !frommember {
            center = Some(lon_lat(arg(i + 1), arg(i + 2))?);
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && searching && !bybox {
            let (r, c) = radius(arg(i + 1), arg(i + 2))?;
            shape = Some(Shape::Circle { radius: r });
            conversion = c;
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && searching && !byradius {
            let w = float(arg(i + 1), errors::GEO_NEED_WIDTH)?;
            let h = float(arg(i + 2), errors::GEO_NEED_HEIGHT)?;
            if w < 0.0 || h < 0.0 {
                return Err(errors::GEO_BOX_NEGATIVE.into());
            }
            let c = unit(arg(i + 3))?;
            shape = Some(Shape::Box {
                width: w * c,
                height: h * c,
            });
            conversion = c;
            bybox = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if dest.is_some() && (withdist || withhash || withcoord) {
        let what = if searching {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Error::from(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let typed = String::from_utf8_lossy(arg(0)).into_owned();
    if searching && !(frommember || fromloc) {
        return Err(Error::from(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {typed}"
        )));
    }
    if searching && !(byradius || bybox) {
        return Err(Error::from(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {typed}"
        )));
    }
    if any && count == 0 {
        return Err(errors::GEO_ANY_COUNT.into());
    }
    let (Some(z), Some((lon, lat)), Some(shape)) = (z, center, shape) else {
        match dest {
            Some(d) => store(ctx, d, &[], "georadiusstore"),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let mut found = search(z, lon, lat, shape, if any { count as usize } else { 0 });
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    if count != 0 {
        found.truncate(count as usize);
    }
    for f in &mut found {
        f.dist /= conversion;
    }
    if let Some(d) = dest {
        let items: Vec<(Vec<u8>, f64)> = found
            .into_iter()
            .map(|f| (f.member, if storedist { f.dist } else { f.score }))
            .collect();
        let event = if searching {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        store(ctx, d, &items, event);
        return Ok(());
    }
    let extras = withdist as usize + withhash as usize + withcoord as usize;
    ctx.out.array(found.len());
    for f in &found {
        if extras > 0 {
            ctx.out.array(extras + 1);
        }
        ctx.out.bulk(&f.member);
        if withdist {
            ctx.out.bulk(&distance_text(f.dist));
        }
        if withhash {
            ctx.out.int(f.score as i64);
        }
        if withcoord {
            ctx.out.array(2);
            coordinate(ctx.out, f.lon);
            coordinate(ctx.out, f.lat);
        }
    }
    Ok(())
}

/// GEORADIUS key longitude latitude radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key |
/// STOREDIST key]
fn georadius(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 1, Form::Coords { store: true })
}

/// GEORADIUS_RO key longitude latitude radius <M | KM | FT | MI>
/// [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
fn georadius_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 1, Form::Coords { store: false })
}

/// GEORADIUSBYMEMBER key member radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key |
/// STOREDIST key]
fn georadiusbymember(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 1, Form::Member { store: true })
}

/// GEORADIUSBYMEMBER_RO key member radius <M | KM | FT | MI> [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
fn georadiusbymember_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 1, Form::Member { store: false })
}

/// GEOSEARCH key <FROMMEMBER member | FROMLONLAT longitude latitude>
/// <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT |
/// MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
fn geosearch(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 1, Form::Search { store: false })
}

/// GEOSEARCHSTORE destination source <FROMMEMBER member | FROMLONLAT
/// longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width
/// height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]]
/// [STOREDIST]
fn geosearchstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    generic(ctx, args.argv(), 2, Form::Search { store: true })
}
