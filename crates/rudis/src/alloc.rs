//! The allocator: jemalloc behind a counter of the bytes it hands out,
//! and its own numbers and controls (INFO memory, MEMORY STATS,
//! MALLOC-STATS, PURGE).
//!
//! `unsafe` is allowed in this module only: a global allocator is an
//! `unsafe` trait (it forwards every call to jemalloc unchanged), and
//! jemalloc's purge is a mallctl that takes no value, which
//! tikv-jemalloc-ctl's safe calls cannot express, so it is made through
//! the raw binding.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

/// One thread's running total of bytes allocated minus bytes freed, on a
/// cache line of its own: only its thread writes it, so counting is a
/// plain load and store, and a reader adds up every slot.
#[repr(align(64))]
struct Slot {
    bytes: AtomicI64,
    /// Bytes allocated but free for reuse (see `spare`).
    spare: AtomicI64,
}

const SLOTS: usize = 64;
static COUNTS: [Slot; SLOTS] = [const {
    Slot {
        bytes: AtomicI64::new(0),
        spare: AtomicI64::new(0),
    }
}; SLOTS];
/// Slots handed out so far (a thread keeps its slot after it ends: what
/// it allocated and did not free is still in use).
static CLAIMED: AtomicUsize = AtomicUsize::new(0);
/// Threads beyond the slots share this one, with atomic additions.
static SHARED: AtomicI64 = AtomicI64::new(0);
static SHARED_SPARE: AtomicI64 = AtomicI64::new(0);

thread_local! {
    /// This thread's slot (`usize::MAX`: none yet). A `Cell` of a plain
    /// integer: no destructor, so it is usable inside the allocator to
    /// the thread's very end.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_slot() -> Option<&'static Slot> {
    let slot = MINE.try_with(|m| {
        let mut i = m.get();
        if i == usize::MAX {
            i = CLAIMED.fetch_add(1, Relaxed);
            m.set(i);
        }
        i
    });
    COUNTS.get(slot.ok()?)
}

fn count(delta: i64) {
    match my_slot() {
        Some(s) => s.bytes.store(s.bytes.load(Relaxed) + delta, Relaxed),
        None => {
            SHARED.fetch_add(delta, Relaxed);
        }
    }
}

/// Reports `delta` more bytes held free for reuse by the keyspace's
/// tables (slots a removal left, which the next insertion takes without
/// allocating).
pub fn spare_add(delta: i64) {
    match my_slot() {
        Some(s) => s.spare.store(s.spare.load(Relaxed) + delta, Relaxed),
        None => {
            SHARED_SPARE.fetch_add(delta, Relaxed);
        }
    }
}

/// Bytes of `used` that the tables hold free for new keys: maxmemory
/// leaves them out (INFO mem_not_counted_for_evict), or every eviction
/// from a large table, which frees its slot for reuse rather than to the
/// allocator, would look like no progress at all.
pub fn spare() -> u64 {
    let n = CLAIMED.load(Relaxed).min(SLOTS);
    let sum: i64 = COUNTS[..n].iter().map(|s| s.spare.load(Relaxed)).sum();
    (sum + SHARED_SPARE.load(Relaxed)).max(0) as u64
}

/// The bytes a request takes in jemalloc (its size class).
fn class(layout: &Layout) -> i64 {
    crate::db::memory::alloc_size(layout.size().max(layout.align())) as i64
}

/// The global allocator: jemalloc, counted. Redis's `used_memory` is its
/// allocator's count of bytes in use (zmalloc's, by size class); this is
/// the same figure, kept where reading it costs a few loads rather than
/// a refresh of jemalloc's statistics, since maxmemory reads it before
/// every command.
pub struct Counting;

#[cfg(not(target_env = "msvc"))]
type Inner = tikv_jemallocator::Jemalloc;
#[cfg(target_env = "msvc")]
type Inner = std::alloc::System;

// SAFETY: every call is forwarded unchanged to jemalloc with the caller's
// own arguments, so jemalloc's guarantees are this allocator's; the
// counting beside it touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { Inner {}.alloc(layout) };
        if !p.is_null() {
            count(class(&layout));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { Inner {}.alloc_zeroed(layout) };
        if !p.is_null() {
            count(class(&layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-class(&layout));
        unsafe { Inner {}.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { Inner {}.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // SAFETY: the caller guarantees a valid layout for new_size.
            let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            count(class(&new) - class(&layout));
        }
        p
    }
}

/// Bytes in use, as the allocator hands them out (INFO used_memory, what
/// maxmemory limits). 0 where `Counting` is not the global allocator.
pub fn used() -> u64 {
    let n = CLAIMED.load(Relaxed).min(SLOTS);
    let sum: i64 = COUNTS[..n].iter().map(|s| s.bytes.load(Relaxed)).sum();
    (sum + SHARED.load(Relaxed)).max(0) as u64
}

/// `used() - spare()` in one pass over the slots (maxmemory reads it
/// before every command).
pub fn used_less_spare() -> u64 {
    let n = CLAIMED.load(Relaxed).min(SLOTS);
    let sum: i64 = COUNTS[..n]
        .iter()
        .map(|s| s.bytes.load(Relaxed) - s.spare.load(Relaxed))
        .sum();
    (sum + SHARED.load(Relaxed) - SHARED_SPARE.load(Relaxed)).max(0) as u64
}

/// This thread's net bytes allocated so far, less what it left spare in
/// the tables: the difference over a piece of work that runs on one
/// thread is what it took (or, negative, gave back) of what maxmemory
/// counts, as Redis measures what an eviction freed.
pub fn thread_net() -> i64 {
    my_slot().map_or(0, |s| s.bytes.load(Relaxed) - s.spare.load(Relaxed))
}

/// (allocated, active, resident) bytes from the allocator.
pub fn stats() -> (u64, u64, u64) {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        let _ = epoch::advance();
        (
            stats::allocated::read().unwrap_or(0) as u64,
            stats::active::read().unwrap_or(0) as u64,
            stats::resident::read().unwrap_or(0) as u64,
        )
    }
    #[cfg(target_env = "msvc")]
    {
        (0, 0, 0)
    }
}

/// jemalloc's statistics report (`malloc_stats_print`), as MEMORY
/// MALLOC-STATS returns it.
pub fn report() -> Vec<u8> {
    let mut out = Vec::new();
    #[cfg(not(target_env = "msvc"))]
    {
        let _ = tikv_jemalloc_ctl::stats_print::stats_print(&mut out, Default::default());
    }
    out
}

/// jemalloc's background threads on or off (Redis's `jemalloc-bg-thread`,
/// on by default): with them, freed pages go back to the system over
/// jemalloc's decay time even while the server is idle; without them only
/// when the allocator is next busy, so RSS stays high after a burst.
pub fn set_background_thread(on: bool) -> bool {
    #[cfg(not(target_env = "msvc"))]
    {
        tikv_jemalloc_ctl::background_thread::write(on).is_ok()
    }
    #[cfg(target_env = "msvc")]
    {
        let _ = on;
        false
    }
}

/// Returns unused dirty pages of every arena to the system, as Redis's
/// `jemalloc_purge` (`arena.<narenas>.purge`, MALLCTL_ARENAS_ALL).
pub fn purge() -> bool {
    #[cfg(not(target_env = "msvc"))]
    {
        let Ok(n) = tikv_jemalloc_ctl::arenas::narenas::read() else {
            return false;
        };
        let Ok(name) = std::ffi::CString::new(format!("arena.{n}.purge")) else {
            return false;
        };
        // SAFETY: a mallctl that reads and writes nothing: every pointer is
        // null and the name is NUL-terminated.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        rc == 0
    }
    #[cfg(target_env = "msvc")]
    {
        true
    }
}
