//! Glob-style matching with Redis's `stringmatchlen` semantics (KEYS,
//! SCAN MATCH, and later CONFIG GET and PSUBSCRIBE).
//!
//! The pattern is first cut into one-character matchers and stars exactly
//! as Redis walks it (escapes, `[^...]`, ranges, an unterminated `[`), then
//! matched with the classic single-backtrack algorithm: linear in practice
//! and without recursion, where Redis recurses once per star.

#[derive(Debug)]
enum Token {
    Star,
    Any,
    Byte(u8),
    Class { negate: bool, items: Vec<Item> },
}

#[derive(Debug)]
enum Item {
    /// An escaped byte inside a class: compared case-sensitively even in
    /// nocase mode, as Redis does.
    Exact(u8),
    Byte(u8),
    /// Bounds as C's signed `char`, as Redis compares them.
    Range(i32, i32),
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

fn tokenize(p: &[u8]) -> Vec<Token> {
    // Past the end reads as NUL, like the C string Redis walks.
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::Any);
                i += 1;
            }
            b'[' => {
                i += 1;
                let negate = at(i) == b'^' && i < p.len();
                if negate {
                    i += 1;
                }
                let mut items = Vec::new();
                loop {
                    let left = p.len().saturating_sub(i);
                    if at(i) == b'\\' && left >= 2 {
                        items.push(Item::Exact(p[i + 1]));
                        i += 2;
                    } else if left == 0 {
                        break;
                    } else if at(i) == b']' {
                        i += 1;
                        break;
                    } else if left >= 3 && at(i + 1) == b'-' {
                        let (a, b) = (p[i] as i8 as i32, p[i + 2] as i8 as i32);
                        items.push(Item::Range(a.min(b), a.max(b)));
                        i += 3;
                    } else {
                        items.push(Item::Byte(p[i]));
                        i += 1;
                    }
                }
                tokens.push(Token::Class { negate, items });
            }
            b'\\' if i + 1 < p.len() => {
                tokens.push(Token::Byte(p[i + 1]));
                i += 2;
            }
            c => {
                tokens.push(Token::Byte(c));
                i += 1;
            }
        }
    }
    tokens
}

fn one(t: &Token, c: u8, nocase: bool) -> bool {
    match t {
        Token::Star => unreachable!("stars are handled by the matcher"),
        Token::Any => true,
        Token::Byte(b) => *b == c || (nocase && lower(*b) == lower(c)),
        Token::Class { negate, items } => {
            let hit = items.iter().any(|item| match *item {
                Item::Exact(b) => b == c,
                Item::Byte(b) => b == c || (nocase && lower(b) == lower(c)),
                Item::Range(lo, hi) => {
                    let v = c as i8 as i32;
                    if nocase {
                        let l = |x: i32| (x as u8).to_ascii_lowercase() as i8 as i32;
                        let (lo, hi) = (l(lo), l(hi));
                        let v = l(v);
                        v >= lo.min(hi) && v <= lo.max(hi)
                    } else {
                        v >= lo && v <= hi
                    }
                }
            });
            hit != *negate
        }
    }
}

/// A compiled pattern, for matching many strings against one pattern.
pub struct Pattern {
    tokens: Vec<Token>,
    empty: bool,
    nocase: bool,
}

impl Pattern {
    pub fn new(pattern: &[u8], nocase: bool) -> Pattern {
        Pattern {
            tokens: tokenize(pattern),
            empty: pattern.is_empty(),
            nocase,
        }
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        // Redis's loop never runs for an empty string: it matches only
        // the empty pattern (KEYS and SCAN special-case a lone `*`).
        if s.is_empty() {
            return self.empty;
        }
        let t = &self.tokens;
        let (mut ti, mut si) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while si < s.len() {
            match t.get(ti) {
                Some(Token::Star) => {
                    backtrack = Some((ti, si));
                    ti += 1;
                }
                Some(tok) if one(tok, s[si], self.nocase) => {
                    ti += 1;
                    si += 1;
                }
                _ => match backtrack {
                    Some((bt, bs)) => {
                        ti = bt + 1;
                        si = bs + 1;
                        backtrack = Some((bt, bs + 1));
                    }
                    None => return false,
                },
            }
        }
        t[ti..].iter().all(|tok| matches!(tok, Token::Star))
    }
}

pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    Pattern::new(pattern, nocase).matches(s)
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_glob_rules() {
        assert!(m("*", "anything"));
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a*", "a"));
        assert!(!m("a*?", "a"));
        assert!(m("[abc", "b"));
        assert!(!m("[", "a"));
        assert!(m("[^", "z"));
        assert!(m("[a-]", "]"));
        assert!(m("[\\]]", "]"));
        assert!(m("ab\\", "ab\\"));
        assert!(m("**a", "ba"));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!matches(b"HELLO", b"hello", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let p = "a*".repeat(3_000) + "b";
        let s = "a".repeat(6_000);
        assert!(!m(&p, &s));
    }
}
