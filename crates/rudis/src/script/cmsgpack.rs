//! The `cmsgpack` library scripts get, behaving as the lua-cmsgpack 0.4.0
//! Redis ships: pack(...) of every argument in turn, unpack / unpack_one /
//! unpack_limit of a stream of values, tables nested past 16 levels packed
//! as nil (so circular references end), the same error texts.

use mlua::{Lua, MultiValue, Table, Value};

use super::luaarg;

/// Tables deeper than this are packed as nil (LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: usize = 16;

/// Unpacking stops here: a hostile input nests without end, and Lua's
/// stack would have run out about here anyway.
const MAX_UNPACK_DEPTH: usize = 2000;

fn rt(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(rt(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)".into(),
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, 0, &mut out)?;
            }
            lua.create_string(out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            unpack_full(lua, &args, "unpack", 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let offset = luaarg::opt_integer(args.get(1), 2, "unpack_one")?.unwrap_or(0);
            unpack_full(lua, &args, "unpack_one", 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let Some(limit) = luaarg::opt_integer(args.get(1), 2, "unpack_limit")? else {
                return Err(rt(
                    "bad argument #2 to 'unpack_limit' (number expected, got no value)".into(),
                ));
            };
            let offset = luaarg::opt_integer(args.get(2), 3, "unpack_limit")?.unwrap_or(0);
            unpack_full(lua, &args, "unpack_limit", limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, tags: [u8; 3]) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if tags[0] != 0 && len <= 0xff {
        out.extend_from_slice(&[tags[0], len as u8]);
    } else if len <= 0xffff {
        out.push(tags[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and equal to its int64 conversion.
    if n.is_finite() && (n as i64) as f64 == n && n < 9.223_372_036_854_776e18 {
        return pack_int(n as i64, out);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: only positive integer keys, and as
/// many as the largest (so 1..n all present).
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.floor() != n || n > i32::MAX as f64 {
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    Ok((max == count).then_some(max))
}

fn pack(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            header(out, b.len(), 0xa0, 31, [0xd9, 0xda, 0xdb]);
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_number(*i as f64, out),
        Value::Number(n) => pack_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(len) => {
                header(out, len, 0x90, 15, [0, 0xdc, 0xdd]);
                for i in 1..=len {
                    let item: Value = t.get(i)?;
                    pack(&item, level + 1, out)?;
                }
            }
            None => {
                let mut n = 0;
                let mut body = Vec::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair?;
                    pack(&k, level + 1, &mut body)?;
                    pack(&item, level + 1, &mut body)?;
                    n += 1;
                }
                header(out, n, 0x80, 15, [0, 0xde, 0xdf]);
                out.extend_from_slice(&body);
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

enum Fail {
    Eof,
    Format,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Fail {
        Fail::Lua(e)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Fail> {
        if self.b.len() - self.pos < n {
            return Err(Fail::Eof);
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Fail> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value, Fail> {
        if depth > MAX_UNPACK_DEPTH {
            return Err(Fail::Lua(rt(
                "stack overflow (in function mp_decode_to_lua_array)".into(),
            )));
        }
        let tag = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match tag {
            0xcc => num(self.be(1)? as f64),
            0xcd => num(self.be(2)? as f64),
            0xce => num(self.be(4)? as f64),
            0xcf => num(self.be(8)? as f64),
            0xd0 => num(self.be(1)? as u8 as i8 as f64),
            0xd1 => num(self.be(2)? as u16 as i16 as f64),
            0xd2 => num(self.be(4)? as u32 as i32 as f64),
            0xd3 => num(self.be(8)? as i64 as f64),
            0xc0 => Ok(Value::Nil),
            0xc3 => Ok(Value::Boolean(true)),
            0xc2 => Ok(Value::Boolean(false)),
            0xca => num(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => num(f64::from_bits(self.be(8)?)),
            0xd9 | 0xda | 0xdb | 0xa0..=0xbf => {
                let len = match tag {
                    0xd9 => self.be(1)?,
                    0xda => self.be(2)?,
                    0xdb => self.be(4)?,
                    _ => (tag & 0x1f) as u64,
                } as usize;
                let s = self.take(len)?;
                Ok(Value::String(lua.create_string(s)?))
            }
            0xdc | 0xdd | 0x90..=0x9f => {
                let len = match tag {
                    0xdc => self.be(2)?,
                    0xdd => self.be(4)?,
                    _ => (tag & 0x0f) as u64,
                };
                let t = lua.create_table()?;
                for i in 1..=len {
                    let v = self.value(lua, depth + 1)?;
                    t.set(i, v)?;
                }
                Ok(Value::Table(t))
            }
            0xde | 0xdf | 0x80..=0x8f => {
                let len = match tag {
                    0xde => self.be(2)?,
                    0xdf => self.be(4)?,
                    _ => (tag & 0x0f) as u64,
                };
                let t = lua.create_table()?;
                for _ in 0..len {
                    let k = self.value(lua, depth + 1)?;
                    let v = self.value(lua, depth + 1)?;
                    // Lua's own errors, raised (as Redis's are) from no
                    // line of the library.
                    match &k {
                        Value::Nil => {
                            return Err(Fail::Lua(super::engine::unplaced("table index is nil")))
                        }
                        Value::Number(n) if n.is_nan() => {
                            return Err(Fail::Lua(super::engine::unplaced("table index is NaN")))
                        }
                        _ => t.set(k, v)?,
                    }
                }
                Ok(Value::Table(t))
            }
            0x00..=0x7f => num(tag as f64),
            0xe0..=0xff => num(tag as i8 as f64),
            _ => Err(Fail::Format),
        }
    }
}

fn unpack_full(
    lua: &Lua,
    args: &[Value],
    name: &str,
    limit: i64,
    offset: i64,
) -> mlua::Result<MultiValue> {
    let s = luaarg::bytes(lua, args.first(), 1, name)?;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(rt(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32,
            s.len() as i32
        )));
    }
    if offset as u64 > s.len() as u64 {
        return Err(rt(format!(
            "Start offset {} greater than input length {}.",
            offset as i32,
            s.len() as i32
        )));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        b: &s,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    let mut count = 0;
    while c.pos < s.len() && count < limit {
        match c.value(lua, 0) {
            Ok(v) => values.push(v),
            Err(Fail::Eof) => return Err(rt("Missing bytes in input.".into())),
            Err(Fail::Format) => return Err(rt("Bad data format in input.".into())),
            Err(Fail::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    if !decode_all {
        let next = if c.pos == s.len() { -1 } else { c.pos as i64 };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(MultiValue::from_iter(values))
}
