//! The values a key can hold. Only strings exist so far; every other type
//! joins this enum, so TYPE, WRONGTYPE and OBJECT ENCODING have one place
//! to look.

use super::blob::Blob;

#[derive(Clone, Debug)]
pub enum Value {
    Str(Blob),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis would for the same
    /// value: a string that is a canonical integer is `int`, a short one
    /// `embstr`, an appended-to or long one `raw`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(Blob::Growable(_)) => "raw",
            Value::Str(b) if b.len() <= 20 && resp::num::parse_i64(b.as_slice()).is_some() => "int",
            Value::Str(b) if b.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
        }
    }

    /// An integer Redis keeps as a shared object (0..9999).
    pub fn is_shared_integer(&self) -> bool {
        match self {
            Value::Str(Blob::Growable(_)) => false,
            Value::Str(b) => {
                resp::num::parse_i64(b.as_slice()).is_some_and(|v| (0..10000).contains(&v))
            }
        }
    }

    /// Rough heap usage, for INFO memory and for deciding whether freeing
    /// this value is worth handing to the lazy-free thread.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
        }
    }
}

/// A key's value and its absolute expiry time in Unix milliseconds
/// (0: none; Redis never stores a non-positive expiry).
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    pub expire_at: u64,
}

impl Entry {
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }
}
