//! Redis's long doubles. INCRBYFLOAT and HINCRBYFLOAT compute in C's
//! `long double`, which on x86-64 is the x87 80-bit format (64-bit
//! significand, 15-bit exponent), parse with `strtold` and print with
//! `%.17Lf`. Rust has no such type, and an f64 gives visibly different
//! answers (`10.5 + 0.1` prints `10.599999999999999`), so this module
//! emulates the three operations Redis uses exactly: correctly rounded
//! parsing (decimal and hex), round-to-nearest-even addition, and exact
//! fixed-point formatting. Values are `mant * 2^exp`; the arithmetic runs
//! on big integers, which is slow next to hardware but exact, and these
//! commands are rare next to GET and SET.

use num_bigint::BigUint;

/// Significand bits of the x87 format.
const PRECISION: u64 = 64;
/// The exponent of the smallest denormal's unit: 2^-16445.
const EXP_MIN: i64 = -16445;
/// The largest exponent a 64-bit significand can have below 2^16384.
const EXP_MAX: i64 = 16384 - 64;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer strings are not floats.
const MAX_CHARS: usize = 5 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `mant * 2^exp`; zero has `mant == 0`.
    Finite {
        neg: bool,
        mant: u64,
        exp: i64,
    },
    Inf {
        neg: bool,
    },
    Nan,
}

impl LongDouble {
    pub fn from_i64(v: i64) -> LongDouble {
        round(v < 0, BigUint::from(v.unsigned_abs()), 0, false)
    }

    /// An f64, exactly (every double is a long double).
    pub fn from_f64(v: f64) -> LongDouble {
        if v.is_nan() {
            return LongDouble::Nan;
        }
        if v.is_infinite() {
            return LongDouble::Inf { neg: v < 0.0 };
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (mant, exp) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), exp_bits - 1075)
        };
        round(neg, BigUint::from(mant), exp, false)
    }

    /// The nearest f64 (infinities beyond its range).
    pub fn to_f64(self) -> f64 {
        match self {
            LongDouble::Finite { neg, mant, exp } => {
                let v = mant as f64 * 2f64.powi(exp.clamp(-20000, 20000) as i32);
                if neg {
                    -v
                } else {
                    v
                }
            }
            LongDouble::Inf { neg: true } => f64::NEG_INFINITY,
            LongDouble::Inf { neg: false } => f64::INFINITY,
            LongDouble::Nan => f64::NAN,
        }
    }

    pub fn is_finite(self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// Redis's `string2ld`: `strtold` over the whole string, where a
    /// leading space, anything left unparsed (a NUL byte included), NaN,
    /// or an overflow or underflow to zero make it no number.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(LongDouble::Inf { neg });
        }
        let parsed = if lower.starts_with(b"0x") {
            parse_hex(neg, &body[2..])?
        } else {
            parse_decimal(neg, body)?
        };
        match parsed {
            // strtold reports ERANGE with HUGE_VALL or zero.
            Parsed::Overflow | Parsed::Underflow => None,
            Parsed::Value(v) => Some(v),
        }
    }

    pub const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` with the
    /// trailing zeros (and a bare dot) removed, and `-0` printed as `0`.
    pub fn write_human(self, out: &mut Vec<u8>) {
        let (neg, mant, exp) = match self {
            LongDouble::Inf { neg } => {
                out.extend_from_slice(if neg { b"-inf" } else { b"inf" });
                return;
            }
            LongDouble::Nan => {
                out.extend_from_slice(b"nan");
                return;
            }
            LongDouble::Finite { neg, mant, exp } => (neg, mant, exp),
        };
        // The value times 10^17, rounded half to even as glibc's printf.
        let scaled = BigUint::from(mant) * BigUint::from(10u32).pow(17);
        let fixed = if exp >= 0 {
            scaled << exp as usize
        } else {
            shift_round_even(&scaled, (-exp) as u64, false)
        };
        let mut digits = fixed.to_str_radix(10).into_bytes();
        if digits.len() < 18 {
            let mut padded = vec![b'0'; 18 - digits.len()];
            padded.extend_from_slice(&digits);
            digits = padded;
        }
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac_len = frac.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        if neg && !(int == b"0" && frac_len == 0) {
            out.push(b'-');
        }
        out.extend_from_slice(int);
        if frac_len > 0 {
            out.push(b'.');
            out.extend_from_slice(&frac[..frac_len]);
        }
    }

    pub fn to_human(self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_human(&mut v);
        v
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other`, rounded to nearest even as the FPU does.
    fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::*;
        match (self, other) {
            (Nan, _) | (_, Nan) => Nan,
            (Inf { neg: a }, Inf { neg: b }) if a != b => Nan,
            (Inf { neg }, _) | (_, Inf { neg }) => Inf { neg },
            (
                Finite {
                    neg: an,
                    mant: am,
                    exp: ae,
                },
                Finite {
                    neg: bn,
                    mant: bm,
                    exp: be,
                },
            ) => {
                if am == 0 && bm == 0 {
                    // IEEE: -0 + -0 is -0, any other sum of zeros +0.
                    return Finite {
                        neg: an && bn,
                        mant: 0,
                        exp: 0,
                    };
                }
                if am == 0 {
                    return other;
                }
                if bm == 0 {
                    return self;
                }
                let e = ae.min(be);
                let a = BigUint::from(am) << (ae - e) as usize;
                let b = BigUint::from(bm) << (be - e) as usize;
                if an == bn {
                    round(an, a + b, e, false)
                } else if a >= b {
                    // An exact zero difference is +0 in round-to-nearest.
                    let neg = an && a != b;
                    round(neg, a - b, e, false)
                } else {
                    round(bn, b - a, e, false)
                }
            }
        }
    }
}

enum Parsed {
    Value(LongDouble),
    Overflow,
    Underflow,
}

/// Classifies a rounded result: a nonzero number that rounded to zero or
/// to infinity is out of range.
fn classify(v: LongDouble) -> Parsed {
    match v {
        LongDouble::Inf { .. } => Parsed::Overflow,
        LongDouble::Finite { mant: 0, .. } => Parsed::Underflow,
        v => Parsed::Value(v),
    }
}

fn signed_zero(neg: bool) -> Parsed {
    Parsed::Value(LongDouble::Finite {
        neg,
        mant: 0,
        exp: 0,
    })
}

/// Reads `[+-]digits` as an exponent, saturating far beyond any range
/// that matters so huge exponents cannot overflow.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + (d - b'0') as i64).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

/// Splits `digits[.digits][<marker>exponent]`, as strtold's grammar.
/// Returns the digits without the dot, how many came after it, and the
/// exponent.
fn split_number(s: &[u8], marker: u8, is_digit: fn(&u8) -> bool) -> Option<(Vec<u8>, i64, i64)> {
    let (mantissa, exponent) = match s.iter().position(|c| c.to_ascii_lowercase() == marker) {
        Some(i) => (&s[..i], parse_exponent(&s[i + 1..])?),
        None => (s, 0),
    };
    let (int, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    if int.len() + frac.len() == 0 || !int.iter().chain(frac).all(is_digit) {
        return None;
    }
    let mut all = int.to_vec();
    all.extend_from_slice(frac);
    Some((all, frac.len() as i64, exponent))
}

fn parse_decimal(neg: bool, s: &[u8]) -> Option<Parsed> {
    let (digits, frac, exponent) = split_number(s, b'e', u8::is_ascii_digit)?;
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(signed_zero(neg));
    };
    let digits = &digits[first..];
    let d = BigUint::parse_bytes(digits, 10)?;
    let e = exponent - frac;
    // The value lies in [10^(e+n-1), 10^(e+n)); outside these bounds it
    // is certainly beyond the largest long double (1.19e4932) or below
    // half the smallest denormal (3.6e-4951).
    let magnitude = e + digits.len() as i64;
    if magnitude > 4934 {
        return Some(Parsed::Overflow);
    }
    if magnitude < -4952 {
        return Some(Parsed::Underflow);
    }
    if e >= 0 {
        let n = d * BigUint::from(10u32).pow(e as u32);
        return Some(classify(round(neg, n, 0, false)));
    }
    let den = BigUint::from(10u32).pow((-e) as u32);
    // Enough quotient bits that rounding to 64 sees the guard bits.
    let k = (PRECISION as i64 + 3 + den.bits() as i64 - d.bits() as i64).max(0);
    let num = d << k as usize;
    let q = &num / &den;
    let sticky = &q * &den != num;
    Some(classify(round(neg, q, -k, sticky)))
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<Parsed> {
    let (digits, frac, exponent) = split_number(s, b'p', u8::is_ascii_hexdigit)?;
    let n = BigUint::parse_bytes(&digits, 16)?;
    if n.bits() == 0 {
        return Some(signed_zero(neg));
    }
    let e = exponent - 4 * frac;
    Some(classify(round(neg, n, e, false)))
}

/// `n >> shift` rounded half to even; `sticky` says the true value has
/// more nonzero bits below `n`.
fn shift_round_even(n: &BigUint, shift: u64, sticky: bool) -> BigUint {
    if shift == 0 {
        return n.clone();
    }
    if shift > n.bits() {
        // Less than half a unit: rounds down to zero.
        return BigUint::default();
    }
    let q = n >> shift as usize;
    let half_bit = n.bit(shift - 1);
    let below_half = n.trailing_zeros().is_some_and(|z| z < shift - 1) || sticky;
    let up = half_bit && (below_half || q.bit(0));
    if up {
        q + 1u32
    } else {
        q
    }
}

/// Rounds `n * 2^e` (plus a nonzero fraction below `n`'s unit if
/// `sticky`) to a long double: a 64-bit significand, gradual underflow
/// below 2^-16382, infinity from 2^16384.
fn round(neg: bool, n: BigUint, e: i64, sticky: bool) -> LongDouble {
    let bits = n.bits() as i64;
    if bits == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let mut shift = bits - PRECISION as i64;
    if e + shift < EXP_MIN {
        shift = EXP_MIN - e;
    }
    let (mut q, mut exp) = if shift > 0 {
        (shift_round_even(&n, shift as u64, sticky), e + shift)
    } else {
        (n << (-shift) as usize, e + shift)
    };
    if q.bits() > PRECISION {
        q >>= 1usize;
        exp += 1;
    }
    if exp > EXP_MAX {
        return LongDouble::Inf { neg };
    }
    let mant = q.iter_u64_digits().next().unwrap_or(0);
    if mant == 0 {
        exp = 0;
    }
    LongDouble::Finite { neg, mant, exp }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(s: &str) -> String {
        String::from_utf8(LongDouble::parse(s.as_bytes()).unwrap().to_human()).unwrap()
    }

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        String::from_utf8((a + b).to_human()).unwrap()
    }

    // Expected strings from Redis 7.0.15 on x86-64 (INCRBYFLOAT).
    #[test]
    fn matches_x87_results() {
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0", "0.1"), "0.1");
        assert_eq!(sum("3.0e3", "200"), "3200");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("1", "1e-20"), "1");
        assert_eq!(sum("0", "1e-20"), "0");
        assert_eq!(sum("0", "-1e-20"), "0");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("1", "0x10"), "17");
        assert_eq!(sum("17", "0x1.8p1"), "20");
        assert_eq!(
            sum("0", "3.14159265358979323846264338327950288"),
            "3.14159265358979324"
        );
        assert_eq!(sum("3.14159265358979324", "1e-17"), "3.14159265358979325");
        assert_eq!(sum("0", "5e-18"), "0");
        assert_eq!(sum("0", "1.5e-17"), "0.00000000000000002");
        assert_eq!(sum("0.00000000000000002", "2.5e-17"), "0.00000000000000004");
        assert_eq!(human("-0"), "0");
        assert_eq!(
            human("123456789012345678901234567890"),
            "123456789012345678899921813504"
        );
        assert_eq!(human("0.00000000000000001"), "0.00000000000000001");
        assert_eq!(
            human("1.7976931348623157e308")[..40],
            *"1797693134862315699959210467741044340483"
        );
        let big = human("1e300");
        assert_eq!(big.len(), 301);
        assert!(big.starts_with("10000000000000000000089973240795591938705"));
        assert!(big.ends_with("6144"));
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "", " 1", "1 ", "abc", "1e", "1e+", "nan", "-nan", "1e5000", "1e-5000", ".", "0x",
            "--1",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(b"\0"), None);
        assert_eq!(LongDouble::parse(b"1\0junk"), None);
        assert_eq!(
            LongDouble::parse(b"inf"),
            Some(LongDouble::Inf { neg: false })
        );
        assert_eq!(
            LongDouble::parse(b"-Infinity"),
            Some(LongDouble::Inf { neg: true })
        );
        // The largest finite value, and a denormal, parse; beyond them not.
        assert!(LongDouble::parse(b"1.18e4932").is_some_and(LongDouble::is_finite));
        assert!(LongDouble::parse(b"1.19e4932").is_none());
        assert!(LongDouble::parse(b"1e-4940").is_some_and(LongDouble::is_finite));
    }

    #[test]
    fn rounding_at_64_bits() {
        // 2^64 + 1 is not representable: ties to even gives 2^64.
        let a = LongDouble::parse(b"18446744073709551616").unwrap();
        let one = LongDouble::from_i64(1);
        assert_eq!(a + one, a);
        // 2^63 + 1 is.
        let b = LongDouble::parse(b"9223372036854775808").unwrap();
        assert_eq!((b + one).to_human(), b"9223372036854775809");
    }
}
