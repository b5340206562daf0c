//! Lua 5.1's argument checks (`luaL_checknumber`, `luaL_checklstring`,
//! `luaL_optinteger`) for the libraries written in Rust, with Lua's error
//! texts: a number may come as a numeric string, a string as a number.

use mlua::{Lua, Value};

fn bad(pos: usize, name: &str, expected: &str, got: Option<&Value>) -> mlua::Error {
    let got = match got {
        None => "no value",
        Some(Value::LightUserData(_) | Value::UserData(_) | Value::Error(_)) => "userdata",
        Some(v) => v.type_name(),
    };
    mlua::Error::RuntimeError(format!(
        "bad argument #{pos} to '{name}' ({expected} expected, got {got})"
    ))
}

/// Lua 5.1's string to number: decimal or hexadecimal, spaces around.
fn parse(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    t.parse().ok()
}

/// `luaL_checknumber` of argument `pos` (1-based) of function `name`.
pub fn number(v: Option<&Value>, pos: usize, name: &str) -> mlua::Result<f64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| parse(&s))
            .ok_or_else(|| bad(pos, name, "number", v)),
        _ => Err(bad(pos, name, "number", v)),
    }
}

/// `luaL_optinteger`: nothing (or nil), or an integer.
pub fn opt_integer(v: Option<&Value>, pos: usize, name: &str) -> mlua::Result<Option<i64>> {
    match v {
        None | Some(Value::Nil) => Ok(None),
        _ => Ok(Some(number(v, pos, name)? as i64)),
    }
}

/// `luaL_checklstring`: a string's bytes, or a number's text.
pub fn bytes(lua: &Lua, v: Option<&Value>, pos: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(n @ (Value::Integer(_) | Value::Number(_))) => Ok(lua
            .coerce_string(n.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        _ => Err(bad(pos, name, "string", v)),
    }
}
