//! The running script's entry for redis.call and redis.pcall.
//!
//! `unsafe` is allowed in this module only, for one reason: redis.call and
//! redis.pcall are Lua functions made once per Lua state, yet what they
//! act on (the caller's client, the shard locks, the write effects) is
//! borrowed for one run. mlua's safe way to hand Lua borrowed state is a
//! scope with functions made for each run; on an EVALSHA doing three
//! calls that cost about 4,600 instructions a run (12% of it: two
//! closures, their userdata and destructors, and the garbage they leave).
//! Here a run lends its entry through a thread-local pointer for exactly
//! the length of the run, and a call borrows it for the length of the call.

use std::cell::Cell;
use std::ptr::NonNull;

use mlua::{Lua, MultiValue, Value};

/// A run's entry: the command line a script called with, and whether it
/// was redis.pcall (errors returned as values) or redis.call (raised).
pub type Entry<'a> = dyn FnMut(&Lua, MultiValue, bool) -> mlua::Result<Value> + 'a;

type Lent = NonNull<Entry<'static>>;

thread_local! {
    static CURRENT: Cell<Option<Lent>> = const { Cell::new(None) };
}

/// Puts the slot back as it was, also when the code in between unwinds.
struct Restore(Option<Lent>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

/// Runs `f` with `entry` reachable from `call` on this thread.
pub fn lend<R>(entry: &mut Entry<'_>, f: impl FnOnce() -> R) -> R {
    let p: NonNull<Entry<'_>> = NonNull::from(entry);
    // SAFETY: only the trait object's lifetime bound changes (same
    // layout). The erased pointer lives in the slot no longer than this
    // call: `Restore` takes it out before `entry`'s borrow ends, even on
    // unwind, and `entry` itself is not used while it is lent.
    #[allow(unsafe_code)]
    let p: Lent = unsafe { std::mem::transmute::<NonNull<Entry<'_>>, Lent>(p) };
    let _restore = Restore(CURRENT.replace(Some(p)));
    f()
}

/// Calls the lent entry: `None` outside a run. The entry is taken out of
/// the slot while it runs, so a call from inside it finds none and the
/// `&mut` it gets is the only one.
pub fn call(lua: &Lua, args: MultiValue, protected: bool) -> Option<mlua::Result<Value>> {
    let p = CURRENT.take()?;
    let _restore = Restore(Some(p));
    // SAFETY: `lend` keeps the entry alive and otherwise unused while its
    // pointer is in the slot, and taking it out makes this the one user.
    #[allow(unsafe_code)]
    let entry = unsafe { &mut *p.as_ptr() };
    Some(entry(lua, args, protected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lent_only_for_the_run_and_not_reentrant() {
        let lua = Lua::new();
        assert!(call(&lua, MultiValue::new(), false).is_none());
        let mut seen = Vec::new();
        let mut entry = |lua: &Lua, _: MultiValue, protected: bool| {
            // A call from inside the entry finds nothing lent.
            assert!(call(lua, MultiValue::new(), false).is_none());
            seen.push(protected);
            Ok(Value::Nil)
        };
        lend(&mut entry, || {
            assert!(call(&lua, MultiValue::new(), true).is_some());
            assert!(call(&lua, MultiValue::new(), false).is_some());
        });
        assert!(call(&lua, MultiValue::new(), false).is_none());
        assert_eq!(seen, [true, false]);
    }
}
