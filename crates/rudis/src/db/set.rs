//! Sets. A set of integers is a sorted array (Redis's intset) while it has
//! at most `set-max-intset-entries` members; any other member, or one more
//! integer, turns it into a hash set for good, as Redis converts. Like
//! hashes, the two forms are two `Value` variants so a value stays 24
//! bytes.

use indexmap::IndexSet;

use super::blob::Blob;
use super::value::Value;

pub type SetMap = IndexSet<Blob, ahash::RandomState>;

/// A member as stored: an integer of an intset, or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes; `buf` holds an integer's digits.
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Member::Int(i) => buf.format(*i).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }
}

/// A set, read-only, whichever its form.
#[derive(Clone, Copy)]
pub enum SetRef<'a> {
    Ints(&'a [i64]),
    Table(&'a SetMap),
}

impl<'a> SetRef<'a> {
    pub fn len(self) -> usize {
        match self {
            SetRef::Ints(v) => v.len(),
            SetRef::Table(m) => m.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn is_ints(self) -> bool {
        matches!(self, SetRef::Ints(_))
    }

    pub fn contains(self, member: &[u8]) -> bool {
        match self {
            SetRef::Ints(v) => {
                resp::num::parse_i64(member).is_some_and(|i| v.binary_search(&i).is_ok())
            }
            SetRef::Table(m) => m.contains(member),
        }
    }

    /// The `i`-th member in iteration order.
    pub fn nth(self, i: usize) -> Option<Member<'a>> {
        match self {
            SetRef::Ints(v) => v.get(i).map(|&n| Member::Int(n)),
            SetRef::Table(m) => m.get_index(i).map(|b| Member::Bytes(b.as_slice())),
        }
    }

    /// Members in order: ascending for an intset, table order otherwise.
    pub fn iter(self) -> Box<dyn Iterator<Item = Member<'a>> + 'a> {
        match self {
            SetRef::Ints(v) => Box::new(v.iter().map(|&n| Member::Int(n))),
            SetRef::Table(m) => Box::new(m.iter().map(|b| Member::Bytes(b.as_slice()))),
        }
    }
}

/// A new set for a first member, as Redis's `setTypeCreate`: an intset
/// if it is an integer.
pub fn new_set_for(member: &[u8]) -> Value {
    if resp::num::parse_i64(member).is_some() {
        Value::IntSet(Box::new([]))
    } else {
        Value::Set(Box::default())
    }
}

impl Value {
    pub fn as_set(&self) -> Option<SetRef<'_>> {
        match self {
            Value::IntSet(v) => Some(SetRef::Ints(v)),
            Value::Set(m) => Some(SetRef::Table(m)),
            _ => None,
        }
    }

    /// Adds `member`; true if it was not there (Redis's `setTypeAdd`).
    pub fn set_add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Value::IntSet(v) = self {
            match resp::num::parse_i64(member) {
                Some(n) => {
                    let Err(at) = v.binary_search(&n) else {
                        return false;
                    };
                    let mut grown = Vec::with_capacity(v.len() + 1);
                    grown.extend_from_slice(&v[..at]);
                    grown.push(n);
                    grown.extend_from_slice(&v[at..]);
                    *v = grown.into_boxed_slice();
                    if v.len() > max_intset {
                        self.set_to_table();
                    }
                    return true;
                }
                None => self.set_to_table(),
            }
        }
        match self {
            Value::Set(m) => m.insert(Blob::new(member)),
            _ => false,
        }
    }

    /// Removes `member`; true if it was there.
    pub fn set_remove(&mut self, member: &[u8]) -> bool {
        match self {
            Value::IntSet(v) => {
                let Some(at) = resp::num::parse_i64(member).and_then(|n| v.binary_search(&n).ok())
                else {
                    return false;
                };
                let mut shrunk = v.to_vec();
                shrunk.remove(at);
                *v = shrunk.into_boxed_slice();
                true
            }
            Value::Set(m) => m.swap_remove(member),
            _ => false,
        }
    }

    /// Removes and returns the `i`-th member.
    pub fn set_take(&mut self, i: usize) -> Option<Vec<u8>> {
        match self {
            Value::IntSet(v) => {
                let n = *v.get(i)?;
                let mut shrunk = v.to_vec();
                shrunk.remove(i);
                *v = shrunk.into_boxed_slice();
                Some(Member::Int(n).to_vec())
            }
            Value::Set(m) => m.swap_remove_index(i).map(|b| b.as_slice().to_vec()),
            _ => None,
        }
    }

    fn set_to_table(&mut self) {
        if let Value::IntSet(v) = self {
            let mut buf = itoa::Buffer::new();
            let m: SetMap = v
                .iter()
                .map(|&n| Blob::new(buf.format(n).as_bytes()))
                .collect();
            *self = Value::Set(Box::new(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = new_set_for(b"3");
        assert!(s.set_add(b"3", 4) && s.set_add(b"1", 4) && !s.set_add(b"3", 4));
        assert_eq!(s.encoding(), "intset");
        let members: Vec<Vec<u8>> = s.as_set().unwrap().iter().map(Member::to_vec).collect();
        assert_eq!(members, [b"1".to_vec(), b"3".to_vec()]);
        assert!(s.as_set().unwrap().contains(b"3") && !s.as_set().unwrap().contains(b"03"));
        assert!(s.set_add(b"-7", 4) && s.set_add(b"9", 4));
        assert_eq!(s.encoding(), "intset");
        assert!(s.set_add(b"10", 4));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.as_set().unwrap().contains(b"-7"));
        let mut t = new_set_for(b"1");
        t.set_add(b"1", 4);
        t.set_add(b"a", 4);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.set_remove(b"1") && !t.set_remove(b"1"));
        assert_eq!(t.as_set().unwrap().len(), 1);
    }
}
