//! The allocator's own numbers and controls (INFO memory, MEMORY STATS,
//! MALLOC-STATS, PURGE).
//!
//! `unsafe` is allowed in this module only: jemalloc's purge is a mallctl
//! that takes no value, which tikv-jemalloc-ctl's safe calls cannot
//! express, so it is made through the raw binding.

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
