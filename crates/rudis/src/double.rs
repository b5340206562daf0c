//! C's `strtod` as glibc parses, and the ways Redis checks its result.
//! Redis reads scores, weights, ranges, SORT keys and DEBUG SLEEP times
//! with `strtod`, each with its own rules about what must follow the
//! number, so the parser reports what it consumed and whether it set
//! `ERANGE`, and each caller decides.

use crate::ldouble::LongDouble;

/// What `strtod` did with a string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strtod {
    pub value: f64,
    /// Bytes consumed (`eptr - str`); 0 when nothing converted.
    pub consumed: usize,
    /// `errno == ERANGE`: overflow (the value is an infinity) or
    /// underflow (zero or subnormal).
    pub erange: bool,
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Where C's number parsers (`strtod`, `strtoull`) find the digits of
/// `s`: past leading spaces and a sign; and whether the sign was `-`.
pub fn c_number_start(s: &[u8]) -> (usize, bool) {
    let mut i = s.iter().take_while(|&&c| is_c_space(c)).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    (i, neg)
}

fn digits_at(s: &[u8], from: usize, hex: bool) -> usize {
    s[from..]
        .iter()
        .take_while(|c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        })
        .count()
}

/// C's `strtod` over `s` (as if it ended at its end: callers cut at a
/// NUL where C would stop).
pub fn strtod(s: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        consumed: 0,
        erange: false,
    };
    let (i, neg) = c_number_start(s);
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let mut low = [0u8; 8];
    let n = rest.len().min(8);
    for (l, c) in low.iter_mut().zip(rest) {
        *l = c.to_ascii_lowercase();
    }
    let lower = &low[..n];
    if lower.starts_with(b"inf") {
        let len = if lower.starts_with(b"infinity") { 8 } else { 3 };
        return Strtod {
            value: sign(f64::INFINITY),
            consumed: i + len,
            erange: false,
        };
    }
    if lower.starts_with(b"nan") {
        let mut len = 3;
        if rest.get(3) == Some(&b'(') {
            let inner = rest[4..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if rest.get(4 + inner) == Some(&b')') {
                len = 5 + inner;
            }
        }
        return Strtod {
            value: sign(f64::NAN),
            consumed: i + len,
            erange: false,
        };
    }
    let hex = lower.starts_with(b"0x") && {
        let after = i + 2;
        let int = digits_at(s, after, true);
        let frac = if s.get(after + int) == Some(&b'.') {
            digits_at(s, after + int + 1, true)
        } else {
            0
        };
        int + frac > 0
    };
    let mut end = if hex { i + 2 } else { i };
    let int = digits_at(s, end, hex);
    end += int;
    let mut frac = 0;
    if s.get(end) == Some(&b'.') {
        frac = digits_at(s, end + 1, hex);
        if int + frac > 0 {
            end += 1 + frac;
        }
    }
    if int + frac == 0 {
        return none;
    }
    let exp_mark = if hex { b'p' } else { b'e' };
    if s.get(end).map(u8::to_ascii_lowercase) == Some(exp_mark) {
        let mut j = end + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digits_at(s, j, false);
        if n > 0 {
            end = j + n;
        }
    }
    let text = &s[i..end];
    let mantissa_nonzero = text
        .iter()
        .skip(if hex { 2 } else { 0 })
        .take_while(|&&c| c.to_ascii_lowercase() != exp_mark)
        .any(|c| c.is_ascii_hexdigit() && *c != b'0');
    let value = if hex {
        match LongDouble::parse(text) {
            Some(v) => v.to_f64(),
            // Beyond the long double's range: overflow if the exponent
            // is positive.
            None => {
                let p = text.iter().position(|c| c.eq_ignore_ascii_case(&b'p'));
                let negative_exp = p.is_some_and(|p| text.get(p + 1) == Some(&b'-'));
                if negative_exp {
                    0.0
                } else {
                    f64::INFINITY
                }
            }
        }
    } else {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let erange =
        value.is_infinite() || (mantissa_nonzero && (value == 0.0 || value.is_subnormal()));
    Strtod {
        value: sign(value),
        consumed: end,
        erange,
    }
}

/// The string as C sees it: up to its first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    &b[..memchr::memchr(0, b).unwrap_or(b.len())]
}

/// Redis's `getDoubleFromObject` (scores, weights, increments): the whole
/// string is one number, no leading space, no overflow or underflow to
/// zero, not NaN.
pub fn parse(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    // The common score, a short integer, is exact as an f64: no need for
    // the general parse.
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits.iter().fold(0i64, |v, &d| v * 10 + (d - b'0') as i64) as f64;
        return Some(if digits.len() < s.len() { -v } else { v });
    }
    let r = strtod(s);
    let huge_or_zero = r.value.is_infinite() || r.value == 0.0;
    if r.consumed != s.len() || (r.erange && huge_or_zero) || r.value.is_nan() {
        return None;
    }
    Some(r.value)
}

/// `strtod` where Redis only asks that nothing follow the number (as C
/// sees the string) and that it not be NaN: range bounds. An empty
/// string is 0.
pub fn parse_bound(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    let r = strtod(s);
    (r.consumed == s.len() && !r.value.is_nan()).then_some(r.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumes_as_glibc() {
        let c = |s: &[u8]| strtod(s).consumed;
        assert_eq!(c(b"  12abc"), 4);
        assert_eq!(c(b"1e"), 1);
        assert_eq!(c(b"1e+5x"), 4);
        assert_eq!(c(b".5"), 2);
        assert_eq!(c(b"5."), 2);
        assert_eq!(c(b"."), 0);
        assert_eq!(c(b"-"), 0);
        assert_eq!(c(b"0x"), 1);
        assert_eq!(c(b"0x1p3"), 5);
        assert_eq!(c(b"infinityx"), 8);
        assert_eq!(c(b"infin"), 3);
        assert_eq!(c(b"nan(123)"), 8);
        assert_eq!(strtod(b"0x1p3").value, 8.0);
        assert_eq!(strtod(b"-inf").value, f64::NEG_INFINITY);
    }

    #[test]
    fn redis_checks() {
        assert_eq!(parse(b"1.5"), Some(1.5));
        // Short integers take the fast path, with strtod's results.
        assert_eq!(parse(b"-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(parse(b"0012"), Some(12.0));
        assert_eq!(parse(b"999999999999999"), Some(999999999999999.0));
        assert_eq!(parse(b"9999999999999999"), Some(1e16));
        assert_eq!(parse(b"-"), None);
        assert_eq!(parse(b"--1"), None);
        assert_eq!(parse(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse(b" 1"), None);
        assert_eq!(parse(b"1 "), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"nan"), None);
        assert_eq!(parse(b"1e400"), None);
        assert_eq!(parse(b"1e-400"), None);
        assert_eq!(parse(b"0e-400"), Some(0.0));
        assert!(parse(b"4e-320").is_some());
        assert_eq!(parse_bound(b""), Some(0.0));
        assert_eq!(parse_bound(b" 1"), Some(1.0));
        assert_eq!(parse_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_bound(b"1\0x"), Some(1.0));
        assert_eq!(parse_bound(b"x"), None);
    }
}
