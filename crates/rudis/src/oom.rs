//! `oom-score-adj` and `oom-score-adj-values`: how readily the kernel's
//! OOM killer picks this process (and its background-save child), written
//! to /proc/self/oom_score_adj as Redis's setOOMScoreAdj does: relative to
//! the value the process started with, or absolute, clamped to
//! -1000..1000; turned off, the starting value is put back.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

/// The classes of `oom-score-adj-values`, in its order.
pub const MASTER: usize = 0;
pub const CHILD: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    No,
    Relative,
    Absolute,
}

/// The names CONFIG takes (`yes` is `relative`, and what CONFIG GET says
/// for it, as Redis's enum lists it first).
pub const MODES: [(&str, Mode); 4] = [
    ("no", Mode::No),
    ("yes", Mode::Relative),
    ("relative", Mode::Relative),
    ("absolute", Mode::Absolute),
];

const PATH: &str = "/proc/self/oom_score_adj";
/// The value before rudis first changed it (`UNSET`: not changed). An
/// atomic, not a lock: the forked child reads it.
static BASE: AtomicI64 = AtomicI64::new(UNSET);
const UNSET: i64 = i64::MIN;

/// Sets this process's score for `class` as `mode` and `values` say.
pub fn apply(mode: Mode, values: [i32; 3], class: usize) -> Result<(), String> {
    let val = if mode != Mode::No {
        let mut base = BASE.load(Relaxed);
        if base == UNSET {
            let read = std::fs::read_to_string(PATH)
                .map_err(|e| format!("Unable to read oom_score_adj: {e}"))?;
            base = read.trim().parse().unwrap_or(0);
            BASE.store(base, Relaxed);
        }
        let mut v = values[class] as i64;
        if mode == Mode::Relative {
            v += base;
        }
        v.clamp(-1000, 1000)
    } else {
        match BASE.swap(UNSET, Relaxed) {
            UNSET => return Ok(()),
            base => base,
        }
    };
    std::fs::write(PATH, format!("{val}\n"))
        .map_err(|e| format!("Unable to write oom_score_adj: {e}"))
}
