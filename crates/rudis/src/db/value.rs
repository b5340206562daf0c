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
