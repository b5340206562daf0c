//! The `bit` library scripts get, as Redis ships it (LuaBitOp 1.0's
//! operations on Lua 5.1 numbers): every operand is taken modulo 2^32 as a
//! signed 32-bit integer, every result is one.

use mlua::{Lua, MultiValue, Table, Value};

use super::luaarg::number;

/// LuaBitOp's conversion: the number rounded (half to even) and wrapped
/// into 32 bits, by adding 2^52 + 2^51 and keeping the low word of the
/// double's bits.
fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn arg(args: &[Value], i: usize, name: &str) -> mlua::Result<i32> {
    Ok(tobit(number(args.get(i), i + 1, name)?))
}

type Op = fn(&[Value]) -> mlua::Result<i32>;

fn fold(args: &[Value], name: &str, f: fn(i32, i32) -> i32) -> mlua::Result<i32> {
    let mut acc = arg(args, 0, name)?;
    for i in 1..args.len() {
        acc = f(acc, arg(args, i, name)?);
    }
    Ok(acc)
}

fn shift(args: &[Value], name: &str, f: fn(i32, u32) -> i32) -> mlua::Result<i32> {
    let b = arg(args, 0, name)?;
    let n = arg(args, 1, name)? as u32 & 31;
    Ok(f(b, n))
}

const OPS: &[(&str, Op)] = &[
    ("tobit", |a| arg(a, 0, "tobit")),
    ("bnot", |a| Ok(!arg(a, 0, "bnot")?)),
    ("band", |a| fold(a, "band", |x, y| x & y)),
    ("bor", |a| fold(a, "bor", |x, y| x | y)),
    ("bxor", |a| fold(a, "bxor", |x, y| x ^ y)),
    ("lshift", |a| shift(a, "lshift", |b, n| b.wrapping_shl(n))),
    ("rshift", |a| {
        shift(a, "rshift", |b, n| ((b as u32) >> n) as i32)
    }),
    ("arshift", |a| shift(a, "arshift", |b, n| b >> n)),
    ("rol", |a| {
        shift(a, "rol", |b, n| (b as u32).rotate_left(n) as i32)
    }),
    ("ror", |a| {
        shift(a, "ror", |b, n| (b as u32).rotate_right(n) as i32)
    }),
    ("bswap", |a| Ok(arg(a, 0, "bswap")?.swap_bytes())),
];

/// The library's table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (name, op) in OPS {
        let op = *op;
        t.raw_set(
            *name,
            lua.create_function(move |_, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                Ok(op(&args)? as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|_, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let b = arg(&args, 0, "tohex")? as u32;
            let mut n = match args.get(1) {
                None | Some(Value::Nil) => 8,
                v => tobit(number(v, 2, "tohex")?),
            };
            let upper = n < 0;
            if upper {
                n = n.wrapping_neg();
            }
            let n = n.clamp(0, 8) as usize;
            let full = if upper {
                format!("{b:08X}")
            } else {
                format!("{b:08x}")
            };
            Ok(full[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_and_rounds_as_luabitop() {
        assert_eq!(tobit(1.0), 1);
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(4_294_967_296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(0.5), 0);
        assert_eq!(tobit(1.5), 2);
    }
}
