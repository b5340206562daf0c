//! The `cjson` library scripts get, behaving as the lua-cjson 2.1.0 that
//! Redis ships: the same encoding (numbers as `%.14g`, `/` escaped, tables
//! with only positive integer keys as arrays unless too sparse), the same
//! decoding, limits, configuration functions and error texts.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 off, 1 on, 2 null.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

/// However deep the configuration allows, nesting stops here. lua-cjson
/// stops where it runs out of Lua stack (7998 levels encoding, 7999
/// decoding); here each level holds a few Lua references from Rust, which
/// run out sooner, so the limit is lower (tests/differential/ACCEPTED.md).
const ENCODE_STACK_DEPTH: i64 = 2000;
const DECODE_STACK_DEPTH: i64 = 2000;

/// A configuration function over an integer: its name, its setting, and
/// the range it accepts.
type IntOption = (&'static str, fn(&mut Config) -> &mut i64, i64, i64);

fn rt(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A new module table with its own configuration (cjson.new).
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Rc::new(RefCell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt(
                    "bad argument #1 to 'encode' (expected 1 argument)".into()
                ));
            }
            let v = args.into_iter().next().unwrap_or(Value::Nil);
            let mut out = Vec::new();
            encode(&c.borrow(), &v, 0, &mut out)?;
            lua.create_string(out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt(
                    "bad argument #1 to 'decode' (expected 1 argument)".into()
                ));
            }
            let v = args.into_iter().next();
            let text = super::luaarg::bytes(lua, v.as_ref(), 1, "decode")?;
            let max_depth = c.borrow().decode_max_depth;
            decode(lua, &text, max_depth)
        })?,
    )?;
    let int_options: [IntOption; 3] = [
        (
            "encode_max_depth",
            |c| &mut c.encode_max_depth,
            1,
            i32::MAX as i64,
        ),
        (
            "decode_max_depth",
            |c| &mut c.decode_max_depth,
            1,
            i32::MAX as i64,
        ),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in int_options {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                let args = arg_init(args, 1, name)?;
                let mut cfg = c.borrow_mut();
                int_option(&args[0], 1, field(&mut cfg), min, max, name)
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            let args = arg_init(args, 1, "encode_keep_buffer")?;
            let mut cfg = c.borrow_mut();
            let mut v = cfg.keep_buffer as u8;
            let r = enum_option(
                lua,
                &args[0],
                1,
                &mut v,
                &["off", "on"],
                "encode_keep_buffer",
            )?;
            cfg.keep_buffer = v != 0;
            Ok(r)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let args = arg_init(args, 1, "encode_invalid_numbers")?;
            let mut cfg = c.borrow_mut();
            let mut v = cfg.encode_invalid_numbers;
            let r = enum_option(
                lua,
                &args[0],
                1,
                &mut v,
                &["off", "on", "null"],
                "encode_invalid_numbers",
            )?;
            cfg.encode_invalid_numbers = v;
            Ok(r)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let args = arg_init(args, 1, "decode_invalid_numbers")?;
            let mut cfg = c.borrow_mut();
            let mut v = cfg.decode_invalid_numbers as u8;
            let r = enum_option(
                lua,
                &args[0],
                1,
                &mut v,
                &["off", "on"],
                "decode_invalid_numbers",
            )?;
            cfg.decode_invalid_numbers = v != 0;
            Ok(r)
        })?,
    )?;
    let c = cfg;
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "encode_sparse_array";
            let args = arg_init(args, 3, name)?;
            let mut cfg = c.borrow_mut();
            let mut conv = cfg.sparse_convert as u8;
            let a = enum_option(lua, &args[0], 1, &mut conv, &["off", "on"], name)?;
            cfg.sparse_convert = conv != 0;
            let b = int_option(&args[1], 2, &mut cfg.sparse_ratio, 0, i32::MAX as i64, name)?;
            let s = int_option(&args[2], 3, &mut cfg.sparse_safe, 0, i32::MAX as i64, name)?;
            Ok((a, b, s))
        })?,
    )?;
    t.raw_set("new", lua.create_function(|lua, _: MultiValue| open(lua))?)?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::LightUserData(_) | Value::UserData(_) | Value::Error(_) => "userdata",
        other => other.type_name(),
    }
}

fn arg_init(args: MultiValue, n: usize, name: &str) -> mlua::Result<Vec<Value>> {
    let mut args: Vec<Value> = args.into_iter().collect();
    if args.len() > n {
        return Err(rt(format!(
            "bad argument #{} to '{name}' (found too many arguments)",
            n + 1
        )));
    }
    args.resize(n, Value::Nil);
    Ok(args)
}

fn int_option(
    v: &Value,
    pos: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
    name: &str,
) -> mlua::Result<i64> {
    if let Some(value) = super::luaarg::opt_integer(Some(v), pos, name)? {
        if value < min || value > max {
            return Err(rt(format!(
                "bad argument #1 to '{name}' (expected integer between {min} and {max})"
            )));
        }
        *setting = value;
    }
    Ok(*setting)
}

/// lua-cjson's `json_enum_option` with its booleans: returns the setting
/// as a boolean, or as its name past "on".
fn enum_option(
    lua: &Lua,
    v: &Value,
    pos: usize,
    setting: &mut u8,
    options: &[&str],
    name: &str,
) -> mlua::Result<Value> {
    match v {
        Value::Nil => {}
        Value::Boolean(b) => *setting = *b as u8,
        Value::String(s) => {
            let s = s.to_string_lossy();
            match options.iter().position(|o| *o == s) {
                Some(i) => *setting = i as u8,
                None => {
                    return Err(rt(format!(
                        "bad argument #{pos} to '{name}' (invalid option '{s}')"
                    )))
                }
            }
        }
        other => {
            return Err(rt(format!(
                "bad argument #{pos} to '{name}' (string expected, got {})",
                type_name(other)
            )))
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        // Only "null" goes past "on".
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

fn exception(v: &Value, reason: &str) -> mlua::Error {
    rt(format!("Cannot serialise {}: {reason}", type_name(v)))
}

fn number_text(cfg: &Config, n: f64, out: &mut Vec<u8>) {
    resp::num::write_g(out, n, cfg.precision as usize);
}

fn encode(cfg: &Config, v: &Value, depth: i64, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Integer(i) => number(cfg, v, *i as f64, out)?,
        Value::Number(n) => number(cfg, v, *n, out)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth.min(ENCODE_STACK_DEPTH) {
                return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_length(cfg, t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i)?;
                        encode(cfg, &item, depth, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, item) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(&s.as_bytes(), out),
                            Value::Integer(_) | Value::Number(_) => {
                                let n = match k {
                                    Value::Integer(i) => i as f64,
                                    Value::Number(n) => n,
                                    _ => 0.0,
                                };
                                let mut text = Vec::new();
                                resp::num::write_g(&mut text, n, 14);
                                escape(&text, out);
                            }
                            other => {
                                return Err(exception(
                                    other,
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode(cfg, &item, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(exception(other, "type not supported")),
    }
    Ok(())
}

fn number(cfg: &Config, v: &Value, n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        match cfg.encode_invalid_numbers {
            0 => return Err(exception(v, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    number_text(cfg, n, out);
    Ok(())
}

/// lua-cjson's `lua_array_length`: the array's length when every key is a
/// positive integer and the array is not too sparse, None for an object.
fn array_length(cfg: &Config, t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0f64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = max.max(k);
        items += 1;
    }
    let max = max as i64;
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(rt("Cannot serialise table: excessively sparse array".into()));
        }
        return Ok(None);
    }
    Ok(Some(max as usize))
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// A token's name, as lua-cjson reports it in errors.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: i64,
    max_depth: i64,
    /// The last token's value.
    text: Vec<u8>,
    number: f64,
    boolean: bool,
}

fn decode(lua: &Lua, s: &[u8], max_depth: i64) -> mlua::Result<Value> {
    if s.len() >= 2 && (s[0] == 0 || s[1] == 0) {
        return Err(rt("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let mut p = Parser {
        s,
        pos: 0,
        depth: 0,
        max_depth,
        text: Vec::new(),
        number: 0.0,
        boolean: false,
    };
    let (tok, at) = p.next();
    let v = p.value(lua, tok, at)?;
    let (tok, at) = p.next();
    if tok != Tok::End {
        return Err(p.expected("the end", tok, at));
    }
    Ok(v)
}

impl Parser<'_> {
    fn expected(&self, what: &str, found: Tok, at: usize) -> mlua::Error {
        rt(format!(
            "Expected {what} but found {} at character {}",
            found.name(),
            at + 1
        ))
    }

    fn next(&mut self) -> (Tok, usize) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return (Tok::End, at);
        };
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, at);
        }
        if c == b'"' {
            return match self.string() {
                // Where in the string it went wrong.
                Err((e, at)) => (Tok::Error(e), at),
                Ok(()) => (Tok::Str, at),
            };
        }
        if c == b'-' || c.is_ascii_digit() {
            return (self.num(), at);
        }
        for (word, tok, val) in [
            (&b"true"[..], Tok::Bool, true),
            (b"false", Tok::Bool, false),
            (b"null", Tok::Null, false),
        ] {
            if self.s[self.pos..].starts_with(word) {
                self.pos += word.len();
                self.boolean = val;
                return (tok, at);
            }
        }
        (Tok::Error("invalid token"), at)
    }

    fn num(&mut self) -> Tok {
        let start = self.pos;
        let mut end = start;
        if self.s.get(end) == Some(&b'-') {
            end += 1;
        }
        while end < self.s.len()
            && matches!(self.s[end], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        {
            end += 1;
        }
        // strtod's longest valid prefix.
        let text = std::str::from_utf8(&self.s[start..end]).unwrap_or("");
        let mut len = text.len();
        while len > 0 {
            if let Ok(n) = text[..len].parse::<f64>() {
                if !text[..len].ends_with(['.', 'e', 'E', '+', '-']) || len == text.len() {
                    self.number = n;
                    self.pos = start + len;
                    return Tok::Num;
                }
            }
            len -= 1;
        }
        Tok::Error("invalid number")
    }

    fn string(&mut self) -> Result<(), (&'static str, usize)> {
        self.pos += 1;
        self.text.clear();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(("unexpected end of string", self.pos));
            };
            let at = self.pos;
            self.pos += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(("unexpected end of string", self.pos));
                    };
                    self.pos += 1;
                    let plain = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            if !self.unicode() {
                                return Err(("invalid unicode escape code", at));
                            }
                            continue;
                        }
                        _ => return Err(("invalid escape code", at)),
                    };
                    self.text.push(plain);
                }
                _ => self.text.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    /// `\uXXXX` (after the `u`), with surrogate pairs, as UTF-8.
    fn unicode(&mut self) -> bool {
        let Some(mut cp) = self.hex4() else {
            return false;
        };
        if (0xDC00..=0xDFFF).contains(&cp) {
            return false;
        }
        if (0xD800..=0xDBFF).contains(&cp) {
            if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return false;
            }
            self.pos += 2;
            let Some(low) = self.hex4() else {
                return false;
            };
            if !(0xDC00..=0xDFFF).contains(&low) {
                return false;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        let Some(ch) = char::from_u32(cp) else {
            return false;
        };
        let mut buf = [0u8; 4];
        self.text
            .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        true
    }

    fn enter(&mut self, at: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth.min(DECODE_STACK_DEPTH) {
            return Err(rt(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            )));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        Ok(match tok {
            Tok::Str => Value::String(lua.create_string(&self.text)?),
            Tok::Num => Value::Number(self.number),
            Tok::Bool => Value::Boolean(self.boolean),
            Tok::Null => null(),
            Tok::ObjBegin => {
                self.enter(at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if tok != Tok::ObjEnd {
                    loop {
                        if tok != Tok::Str {
                            return Err(self.expected("object key string", tok, at));
                        }
                        let key = lua.create_string(&self.text)?;
                        let (colon, cat) = self.next();
                        if colon != Tok::Colon {
                            return Err(self.expected("colon", colon, cat));
                        }
                        let (vt, vat) = self.next();
                        let v = self.value(lua, vt, vat)?;
                        t.raw_set(key, v)?;
                        let (sep, sat) = self.next();
                        match sep {
                            Tok::ObjEnd => break,
                            Tok::Comma => {}
                            _ => return Err(self.expected("comma or object end", sep, sat)),
                        }
                        (tok, at) = self.next();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            Tok::ArrBegin => {
                self.enter(at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if tok != Tok::ArrEnd {
                    let mut i = 1;
                    loop {
                        let v = self.value(lua, tok, at)?;
                        t.raw_set(i, v)?;
                        i += 1;
                        let (sep, sat) = self.next();
                        match sep {
                            Tok::ArrEnd => break,
                            Tok::Comma => {}
                            _ => return Err(self.expected("comma or array end", sep, sat)),
                        }
                        (tok, at) = self.next();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            other => return Err(self.expected("value", other, at)),
        })
    }
}
