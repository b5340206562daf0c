//! Conversions between Redis replies and Lua values, as Redis 7.0's
//! `redisProtocolToLuaType` and `luaReplyToRedisReply` do them.

use mlua::{Lua, Table, Value};
use resp::Reply;

/// Deeper than this, a script's reply is cut with Redis's stack error
/// (Redis runs out of Lua stack at about this depth; here it keeps the
/// server's own stack safe).
const MAX_DEPTH: usize = 1000;

/// A command's reply (RESP2 or RESP3 bytes, as the script asked for) as a
/// Lua value.
pub fn reply_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<Value> {
    ReplyReader { b: bytes, pos: 0 }.value(lua)
}

struct ReplyReader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl ReplyReader<'_> {
    fn line(&mut self) -> &[u8] {
        let rest = &self.b[self.pos.min(self.b.len())..];
        let end = memchr::memmem::find(rest, b"\r\n").unwrap_or(rest.len());
        self.pos += end + 2;
        &rest[..end]
    }

    fn count(&mut self) -> i64 {
        resp::num::parse_i64(self.line()).unwrap_or(0)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.b.len());
        let end = (start + n).min(self.b.len());
        self.pos = end + 2;
        &self.b[start..end]
    }

    /// Reads one reply (the server's own: its nesting is shallow).
    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let Some(&tag) = self.b.get(self.pos) else {
            return Ok(Value::Nil);
        };
        self.pos += 1;
        Ok(match tag {
            b':' => {
                let n = self.count();
                Value::Number(n as f64)
            }
            b'$' => {
                let n = self.count();
                if n < 0 {
                    Value::Boolean(false)
                } else {
                    Value::String(lua.create_string(self.bytes(n as usize))?)
                }
            }
            b'+' => {
                let t = lua.create_table()?;
                t.raw_set("ok", lua.create_string(self.line())?)?;
                Value::Table(t)
            }
            b'-' => {
                let line = self.line().to_vec();
                Value::Table(error_table(lua, &line)?)
            }
            b'*' | b'~' | b'>' => {
                let n = self.count();
                if n < 0 {
                    return Ok(Value::Boolean(false));
                }
                let items = lua.create_table()?;
                for i in 0..n {
                    let v = self.value(lua)?;
                    if tag == b'~' {
                        items.raw_set(v, true)?;
                    } else {
                        items.raw_set(i + 1, v)?;
                    }
                }
                if tag == b'~' {
                    wrapped(lua, "set", Value::Table(items))?
                } else {
                    Value::Table(items)
                }
            }
            b'%' => {
                let n = self.count();
                let items = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua)?;
                    let v = self.value(lua)?;
                    items.raw_set(k, v)?;
                }
                wrapped(lua, "map", Value::Table(items))?
            }
            b'|' => {
                // Attributes are not shown to scripts.
                let n = self.count();
                for _ in 0..2 * n {
                    self.value(lua)?;
                }
                self.value(lua)?
            }
            b'_' => {
                self.line();
                Value::Nil
            }
            b'#' => Value::Boolean(self.line() == b"t"),
            b',' => {
                let d = parse_double(self.line());
                wrapped(lua, "double", Value::Number(d))?
            }
            b'(' => {
                let digits = lua.create_string(self.line())?;
                wrapped(lua, "big_number", Value::String(digits))?
            }
            b'=' => {
                let n = self.count();
                let body = self.bytes(n.max(0) as usize).to_vec();
                let (format, text) = if body.len() >= 4 {
                    (&body[..3], &body[4..])
                } else {
                    (&body[..], &[][..])
                };
                let t = lua.create_table()?;
                t.raw_set("string", lua.create_string(text)?)?;
                t.raw_set("format", lua.create_string(format)?)?;
                wrapped(lua, "verbatim_string", Value::Table(t))?
            }
            _ => {
                self.line();
                Value::Nil
            }
        })
    }
}

fn parse_double(s: &[u8]) -> f64 {
    match s {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" | b"-nan" => f64::NAN,
        _ => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
    }
}

fn wrapped(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// The `{err=...}` table of an error reply's line (after its `-`), marked
/// as already counted in the error statistics.
pub fn error_table(lua: &Lua, line: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(line))?)?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok(t)
}

/// Redis's `luaPushErrorBuff` for a reply's error line: the code and the
/// message, surrounding line breaks trimmed.
pub fn error_text(line: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (b"ERR", line),
    };
    let msg = trim_breaks(msg);
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

fn trim_breaks(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// A script's return value as the reply to its caller (`out`, in the
/// caller's protocol). `resp3` is the protocol the script chose with
/// redis.setresp, which decides how booleans come out. `errors` is told
/// of each error reply written, and whether the error statistics counted
/// it already (a command's error caught by redis.pcall was counted when
/// the command failed; a script's own `{err=...}` was not).
pub fn lua_to_reply(v: &Value, out: &mut Reply, resp3: bool, errors: &mut dyn FnMut(&[u8], bool)) {
    Writer { out, resp3, errors }.write(v, 0);
}

/// C's `(long long)` of a double, as Redis converts Lua numbers (the
/// out-of-range cases as x86-64 does them).
pub fn truncate(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        return i64::MIN;
    }
    n as i64
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get(name).unwrap_or(Value::Nil)
}

/// Line breaks become spaces in a status or a big number.
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

struct Writer<'a> {
    out: &'a mut Reply,
    resp3: bool,
    errors: &'a mut dyn FnMut(&[u8], bool),
}

impl Writer<'_> {
    fn write(&mut self, v: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            self.out.error(b"ERR reached lua stack limit");
            return;
        }
        match v {
            Value::String(s) => self.out.bulk(&s.as_bytes()),
            Value::Boolean(b) => {
                if self.resp3 {
                    self.out.boolean(*b);
                } else if *b {
                    self.out.int(1);
                } else {
                    self.out.null();
                }
            }
            Value::Integer(i) => self.out.int(*i),
            Value::Number(n) => self.out.int(truncate(*n)),
            Value::Table(t) => self.table(t, depth),
            Value::Error(e) => self.out.error(format!("ERR {e}").as_bytes()),
            _ => self.out.null(),
        }
    }

    fn table(&mut self, t: &Table, depth: usize) {
        if let Value::String(e) = field(t, "err") {
            self.out.error(&e.as_bytes());
            let counted = matches!(field(t, "ignore_error_stats_update"), Value::Boolean(true));
            (self.errors)(&e.as_bytes(), counted);
            return;
        }
        if let Value::String(s) = field(t, "ok") {
            return self.out.simple(&one_line(&s.as_bytes()));
        }
        match field(t, "double") {
            Value::Number(d) => return self.out.double(d),
            Value::Integer(i) => return self.out.double(i as f64),
            _ => {}
        }
        if let Value::String(s) = field(t, "big_number") {
            return self.out.big_number(&one_line(&s.as_bytes()));
        }
        if let Value::Table(vt) = field(t, "verbatim_string") {
            if let (Value::String(f), Value::String(s)) =
                (field(&vt, "format"), field(&vt, "string"))
            {
                let mut format = [b' '; 3];
                for (d, c) in format.iter_mut().zip(f.as_bytes().iter()) {
                    *d = *c;
                }
                return self.out.verbatim(&format, &s.as_bytes());
            }
        }
        if let Value::Table(m) = field(t, "map") {
            let at = self.out.defer();
            let mut n = 0;
            for (k, v) in m.pairs::<Value, Value>().flatten() {
                self.write(&k, depth + 1);
                self.write(&v, depth + 1);
                n += 1;
            }
            return self.out.finish(at, resp::write::Aggregate::Map, n);
        }
        if let Value::Table(s) = field(t, "set") {
            let at = self.out.defer();
            let mut n = 0;
            for (k, _) in s.pairs::<Value, Value>().flatten() {
                self.write(&k, depth + 1);
                n += 1;
            }
            return self.out.finish(at, resp::write::Aggregate::Set, n);
        }
        let at = self.out.defer();
        let mut n = 0;
        loop {
            let v: Value = t.raw_get(n + 1).unwrap_or(Value::Nil);
            if v.is_nil() {
                break;
            }
            self.write(&v, depth + 1);
            n += 1;
        }
        self.out.finish(at, resp::write::Aggregate::Array, n);
    }
}
