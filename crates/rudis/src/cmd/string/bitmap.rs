//! Bit commands over strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD and BITFIELD_RO. Bit 0 is the most significant bit of the
//! first byte, as in Redis. Counting and searching go a 64-bit word at a
//! time.

use super::super::flags::*;
use super::super::{acl, is, parse_int, row, Args, Argv, Begin, Command, Ctx, Find, KeySpec};
use super::find_string;
use crate::db::{Blob, Clock, Table, Value};
use crate::effects::class::{GENERIC, STRING};
use crate::errors::{self, CmdResult, Error};

pub static COMMANDS: &[Command] = &[
    row("setbit", 4, WRITE | DENYOOM, setbit)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::at(1, &["RW", "access", "update"])]),
    row("getbit", 3, READONLY | FAST, getbit)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("bitcount", -2, READONLY, bitcount)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("bitpos", -3, READONLY, bitpos)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
    row("bitop", -4, WRITE | DENYOOM, bitop)
        .acl(acl::BITMAP)
        .keys(&[
            KeySpec::at(2, &["OW", "update"]),
            KeySpec::new(&["RO", "access"], Begin::Index(3), Find::Range(-1, 1, 0)),
        ]),
    row("bitfield", -2, WRITE | DENYOOM, bitfield)
        .acl(acl::BITMAP)
        .keys(&[
            KeySpec::at(1, &["RW", "access", "update", "variable_flags"])
                .notes("This command allows both access and modification of the key"),
        ])
        .key_flags(bitfield_key_flags),
    row("bitfield_ro", -2, READONLY | FAST, bitfield_ro)
        .acl(acl::BITMAP)
        .keys(&[KeySpec::at(1, &["RO", "access"])]),
];

/// Redis's `getBitOffsetFromArgument`. With `hash_bits`, `#n` means the
/// n-th field of that width (the product wraps as in C).
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Error> {
    let err = || Error::Static(errors::BIT_OFFSET);
    // Redis measures the argument with strlen.
    let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    let (digits, width) = match hash_bits {
        Some(bits) if arg.len() > 1 && arg[0] == b'#' => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let offset = resp::num::parse_i64(digits)
        .ok_or_else(err)?
        .wrapping_mul(width);
    if offset < 0 || (offset >> 3) >= ctx.server.hot.proto_max_bulk_len() {
        return Err(err());
    }
    Ok(offset as u64)
}

/// The string at `key` for a bit write, created or zero-extended so that
/// bit `max_bit` exists (Redis's `lookupStringForBitCommand`), and
/// whether that changed it already (created or grown).
fn bits_for_write<'t>(
    t: &'t mut Table,
    key: &[u8],
    max_bit: u64,
    now: Clock,
) -> Result<(&'t mut Vec<u8>, bool), Error> {
    let len = (max_bit >> 3) as usize + 1;
    let (i, mut changed) = match find_string(t, key, now)? {
        Some(i) => (i, false),
        None => (t.add(key, Value::Str(Blob::new(b"")), now), true),
    };
    let s = super::str_mut(t, i);
    // Redis unshares the value into a raw string before writing.
    let v = s.make_mut();
    if v.len() < len {
        v.resize(len, 0);
        changed = true;
    }
    Ok((v, changed))
}

/// The bytes at `key` for reading (a counted lookup): `None` if missing.
fn bits_for_read<'t>(t: &'t mut Table, key: &[u8], now: Clock) -> Result<Option<&'t [u8]>, Error> {
    Ok(super::string_at(t, key, now)?.map(Blob::as_slice))
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let offset = bit_offset(ctx, args.arg(), None)?;
    let on = match args.arg() {
        b"0" => false,
        b"1" => true,
        _ => return Err(errors::BIT_VALUE.into()),
    };
    let now = ctx.now;
    let (v, grown) = bits_for_write(ctx.table(key), key, offset, now)?;
    let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
    let old = v[byte] & mask != 0;
    if on {
        v[byte] |= mask;
    } else {
        v[byte] &= !mask;
    }
    // Only a change counts (7.0: a write of the same bit is no write).
    if grown || old != on {
        ctx.modified(key, STRING, "setbit");
    }
    ctx.out.int(old as i64);
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let offset = bit_offset(ctx, args.arg(), None)?;
    let s = bits_for_read(ctx.keys.table(ctx.db, key), key, ctx.now)?.unwrap_or_default();
    let byte = (offset >> 3) as usize;
    let bit = s.get(byte).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0);
    ctx.out.int(bit as i64);
    Ok(())
}

/// Reads the optional `BYTE | BIT` unit argument.
fn parse_unit(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Clamps a start/end pair as BITCOUNT and BITPOS do, in units of `total`
/// (bytes or bits): negative indexes count from the end.
fn clamp(mut start: i64, mut end: i64, total: i64) -> (i64, i64) {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    (start.max(0), end.max(0).min(total - 1))
}

/// A bit range `[from, to]` in bits, from a clamped range in `unit`s.
fn to_bits(start: i64, end: i64, in_bits: bool) -> (u64, u64) {
    if in_bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    // A missing key counts 0 before the arguments are looked at.
    let Some(s) = bits_for_read(ctx.keys.table(ctx.db, key), key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (from, to) = match args.remaining() {
        0 => (0, (s.len() as u64 * 8).wrapping_sub(1)),
        2 | 3 => {
            let (start, end) = (args.int()?, args.int()?);
            // Checked before the unit is read, as in Redis.
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let in_bits = match args.next_arg() {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            let total = s.len() as i64 * if in_bits { 8 } else { 1 };
            let (start, end) = clamp(start, end, total);
            if start > end {
                ctx.out.int(0);
                return Ok(());
            }
            to_bits(start, end, in_bits)
        }
        _ => return Err(errors::SYNTAX.into()),
    };
    let count = if s.is_empty() {
        0
    } else {
        count_ones(s, from, to)
    };
    ctx.out.int(count as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let key = args.arg();
    let bit = parse_int(args.arg())?;
    if bit != 0 && bit != 1 {
        return Err(errors::BITPOS_BIT.into());
    }
    let bit = bit == 1;
    let Some(s) = bits_for_read(ctx.keys.table(ctx.db, key), key, ctx.now)? else {
        // A missing key is an endless run of zeros.
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let len = s.len() as i64;
    let rest = args.rest();
    let arg = |i: usize| rest.get(i).unwrap_or_default();
    let end_given = rest.len() >= 2;
    let range = match rest.len() {
        0 => (len > 0).then(|| (0, len as u64 * 8 - 1)),
        1..=3 => {
            // Redis's order: start, then the unit, then end.
            let start = parse_int(arg(0))?;
            let in_bits = rest.len() == 3 && parse_unit(arg(2))?;
            let total = if in_bits { len * 8 } else { len };
            let end = if end_given {
                parse_int(arg(1))?
            } else {
                total - 1
            };
            let (start, end) = clamp(start, end, total);
            (start <= end).then(|| to_bits(start, end, in_bits))
        }
        _ => return Err(errors::SYNTAX.into()),
    };
    let Some((from, to)) = range else {
        ctx.out.int(-1);
        return Ok(());
    };
    let pos = match find_bit(s, bit, from, to) {
        Some(p) => p as i64,
        // Looking for a 0 past the string's end without an explicit end:
        // the string continues with zeros.
        None if !bit && !end_given => (to / 8 + 1) as i64 * 8,
        None => -1,
    };
    ctx.out.int(pos);
    Ok(())
}

/// The mask of bits `from % 8 ..= to % 8` within one byte (MSB first).
fn edge_mask(first: bool, last: bool, from: u64, to: u64) -> u8 {
    let mut m = 0xffu8;
    if first {
        m &= 0xff >> (from & 7);
    }
    if last {
        m &= 0xff << (7 - (to & 7));
    }
    m
}

/// Set bits in the bit range `[from, to]` of `s` (which covers it).
fn count_ones(s: &[u8], from: u64, to: u64) -> u64 {
    let (fb, lb) = ((from / 8) as usize, (to / 8) as usize);
    if fb == lb {
        return (s[fb] & edge_mask(true, true, from, to)).count_ones() as u64;
    }
    let head = (s[fb] & edge_mask(true, false, from, to)).count_ones() as u64;
    let tail = (s[lb] & edge_mask(false, true, from, to)).count_ones() as u64;
    head + tail + popcount(&s[fb + 1..lb])
}

/// Set bits in `s`, a word at a time.
fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// The first bit equal to `bit` in `[from, to]`, as an absolute position.
fn find_bit(s: &[u8], bit: bool, from: u64, to: u64) -> Option<u64> {
    let (fb, lb) = ((from / 8) as usize, (to / 8) as usize);
    let hit = |i: usize, mask: u8| {
        let v = if bit { s[i] } else { !s[i] } & mask;
        (v != 0).then(|| i as u64 * 8 + v.leading_zeros() as u64)
    };
    if fb == lb {
        return hit(fb, edge_mask(true, true, from, to));
    }
    if let Some(p) = hit(fb, edge_mask(true, false, from, to)) {
        return Some(p);
    }
    // The whole bytes between: skip words with nothing to find.
    let skip = if bit { 0u8 } else { 0xff };
    let mut i = fb + 1;
    while i + 8 <= lb {
        let w = u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        if w != u64::from_ne_bytes([skip; 8]) {
            break;
        }
        i += 8;
    }
    while i < lb {
        if s[i] != skip {
            return hit(i, 0xff);
        }
        i += 1;
    }
    hit(lb, edge_mask(false, true, from, to))
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
fn bitop(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let name = args.arg();
    let op = if is(name, "and") {
        Op::And
    } else if is(name, "or") {
        Op::Or
    } else if is(name, "xor") {
        Op::Xor
    } else if is(name, "not") {
        Op::Not
    } else {
        return Err(errors::SYNTAX.into());
    };
    let dest = args.arg();
    let sources = args.rest();
    if op == Op::Not && sources.len() != 1 {
        return Err(errors::BITOP_NOT.into());
    }
    // Every source's type is checked before anything is computed.
    let now = ctx.now;
    for key in sources.iter() {
        super::string_at(ctx.keys.table(ctx.db, key), key, now)?;
    }
    let quiet = now.quiet();
    let len_of =
        |ctx: &mut Ctx, key: &[u8]| bits_for_read_quiet(ctx, key, quiet).map_or(0, |s| s.len());
    let mut max = 0;
    for key in sources.iter() {
        max = max.max(len_of(ctx, key));
    }
    if max == 0 {
        if ctx.table(dest).remove(dest, now).is_some() {
            ctx.modified(dest, GENERIC, "del");
        }
        ctx.out.int(0);
        return Ok(());
    }
    let mut out = vec![0u8; max];
    for (n, key) in sources.iter().enumerate() {
        let src = bits_for_read_quiet(ctx, key, quiet).unwrap_or_default();
        combine(&mut out, src, |acc, b| match op {
            Op::Not => !b,
            Op::And if n == 0 => b,
            Op::And => acc & b,
            Op::Or => acc | b,
            Op::Xor => acc ^ b,
        });
    }
    // BITOP's result is a raw string; it replaces the key and its TTL.
    let mut value = Blob::new(b"");
    *value.make_mut() = out;
    ctx.table(dest).set(dest, Value::Str(value), 0, now);
    ctx.modified(dest, STRING, "set");
    ctx.out.int(max as i64);
    Ok(())
}

/// Applies `f(acc, src)` over `out`, a source shorter than `out` reading
/// as zeros past its end; a word at a time where both sides have one.
fn combine(out: &mut [u8], src: &[u8], f: impl Fn(u64, u64) -> u64) {
    let whole = src.len().min(out.len()) / 8 * 8;
    for (o, s) in out[..whole].chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        let a = u64::from_ne_bytes((&*o).try_into().expect("8 bytes"));
        let b = u64::from_ne_bytes(s.try_into().expect("8 bytes"));
        o.copy_from_slice(&f(a, b).to_ne_bytes());
    }
    for (i, o) in out.iter_mut().enumerate().skip(whole) {
        let b = src.get(i).copied().unwrap_or(0);
        *o = f(*o as u64, b as u64) as u8;
    }
}

/// The bytes at `key` without counting a keyspace hit (already counted).
fn bits_for_read_quiet<'t>(ctx: &'t mut Ctx, key: &[u8], now: Clock) -> Option<&'t [u8]> {
    let t = ctx.keys.table(ctx.db, key);
    let i = t.find(key, now)?;
    t.at(i).1.value.as_str().map(Blob::as_slice)
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// BITFIELD's key flags for one command line (Redis's `bitfieldGetKeys`):
/// read-only when every subcommand is a GET.
fn bitfield_key_flags(argv: Argv) -> &'static [&'static str] {
    let mut i = 2;
    while i < argv.len() {
        let arg = argv.get(i).unwrap_or_default();
        let remaining = argv.len() - i - 1;
        if is(arg, "get") && remaining >= 2 {
            i += 3;
        } else if is(arg, "overflow") && remaining >= 1 {
            i += 2;
        } else {
            return &["RW", "access", "update"];
        }
    }
    &["RO", "access"]
}

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let err = || Error::Static(errors::BITFIELD_TYPE);
    let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = resp::num::parse_i64(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn parse_fields(ctx: &Ctx, args: &mut Args) -> Result<Vec<Field>, Error> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    while let Some(sub) = args.next_arg() {
        let remaining = args.remaining();
        let get = is(sub, "get") && remaining >= 2;
        let set = is(sub, "set") && remaining >= 3;
        let incrby = is(sub, "incrby") && remaining >= 3;
        if is(sub, "overflow") && remaining >= 1 {
            let kind = args.arg();
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(errors::BITFIELD_OVERFLOW.into());
            };
            continue;
        }
        if !(get || set || incrby) {
            return Err(errors::SYNTAX.into());
        }
        let (signed, bits) = field_type(args.arg())?;
        let offset = bit_offset(ctx, args.arg(), Some(bits))?;
        let op = if get {
            FieldOp::Get
        } else if set {
            FieldOp::Set(parse_int(args.arg())?)
        } else {
            FieldOp::IncrBy(parse_int(args.arg())?)
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
    }
    Ok(fields)
}

/// BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
/// <SET encoding offset value | INCRBY encoding offset increment>
/// [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
/// <SET encoding offset value | INCRBY encoding offset increment> ...]]
fn bitfield(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]
fn bitfield_ro(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: &mut Args, read_only: bool) -> CmdResult {
    let key = args.arg();
    let fields = parse_fields(ctx, args)?;
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max();
    let Some(highest) = highest else {
        let s = bits_for_read(ctx.keys.table(ctx.db, key), key, ctx.now)?.unwrap_or_default();
        ctx.out.array(fields.len());
        for f in &fields {
            let v = read_field(s, f.offset, f.bits);
            ctx.out.int(reinterpret(v, f.signed, f.bits));
        }
        return Ok(());
    };
    if read_only {
        return Err(errors::BITFIELD_RO.into());
    }
    let now = ctx.now;
    let (s, grown) = bits_for_write(ctx.keys.table(ctx.db, key), key, highest, now)?;
    let mut changes = 0;
    ctx.out.array(fields.len());
    for f in &fields {
        let old = read_field(s, f.offset, f.bits);
        let (new, overflowed, reply) = match f.op {
            FieldOp::Get => {
                ctx.out.int(reinterpret(old, f.signed, f.bits));
                continue;
            }
            FieldOp::Set(v) => {
                let (new, o) = check_overflow(v as u64, 0, f);
                (new, o, reinterpret(old, f.signed, f.bits))
            }
            FieldOp::IncrBy(by) => {
                let (new, o) = check_overflow(reinterpret(old, f.signed, f.bits) as u64, by, f);
                (new, o, reinterpret(new, f.signed, f.bits))
            }
        };
        if overflowed && f.overflow == Overflow::Fail {
            ctx.out.null();
        } else {
            ctx.out.int(reply);
            write_field(s, f.offset, f.bits, new);
            // Writing the same bits (a SET of them, an INCRBY of 0) is no
            // change unless the string was created or grew.
            if grown || old != new {
                changes += 1;
            }
        }
    }
    if changes > 0 {
        ctx.modified(key, STRING, "setbit");
        ctx.fx.dirty += changes - 1;
    }
    Ok(())
}

/// The `bits`-wide field at bit `offset`, MSB first; bits past the end of
/// `s` read as zero.
fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (pos & 7))) & 1) as u64;
    }
    v
}

fn write_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let pos = offset + i;
        let bit = (value >> (bits as u64 - 1 - i)) & 1;
        let (byte, mask) = ((pos >> 3) as usize, 0x80u8 >> (pos & 7));
        if bit == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
    }
}

/// A field's raw bits as the integer the reply shows: sign-extended for
/// signed types.
fn reinterpret(raw: u64, signed: bool, bits: u32) -> i64 {
    if signed && bits < 64 {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    } else {
        raw as i64
    }
}

/// `value + incr` for the field's type and overflow policy, as Redis's
/// `check(Un)signedBitfieldOverflow`: the value to store (raw bits) and
/// whether it overflowed.
fn check_overflow(value: u64, incr: i64, f: &Field) -> (u64, bool) {
    let bits = f.bits;
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let wrapped = value.wrapping_add(incr as u64) & mask;
    let (over, under, max, min) = if f.signed {
        let value = value as i64;
        let max = if bits == 64 {
            i64::MAX
        } else {
            (1i64 << (bits - 1)) - 1
        };
        let min = -max - 1;
        let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
        let minincr = min.wrapping_sub(value);
        let over = value > max
            || (bits != 64 && incr > maxincr)
            || (value >= 0 && incr > 0 && incr > maxincr);
        let under = value < min
            || (bits != 64 && incr < minincr)
            || (value < 0 && incr < 0 && incr < minincr);
        (over, under, max as u64, min as u64)
    } else {
        let max = mask;
        let maxincr = max.wrapping_sub(value) as i64;
        let minincr = (value as i64).wrapping_neg();
        let over = value > max || (incr > 0 && incr > maxincr);
        let under = !over && incr < 0 && incr < minincr;
        (over, under, max, 0)
    };
    if !over && !under {
        return (wrapped, false);
    }
    let new = match f.overflow {
        Overflow::Sat if over => max,
        Overflow::Sat => min,
        _ => wrapped,
    };
    (new & mask, true)
}
