//! The open-file limit that `maxclients` needs (Redis's
//! `adjustOpenFilesLimit`): raised at start where the system allows it,
//! otherwise `maxclients` is lowered to what the limit can serve, so the
//! clients past it get the max-clients error instead of hanging in the
//! accept queue.
//!
//! `unsafe` is allowed in this module only: std has no wrapper for
//! getrlimit/setrlimit, so the two libc calls are made directly.

use tracing::{info, warn};

/// Descriptors kept for the server's own use, as Redis's
/// CONFIG_MIN_RESERVED_FDS, plus what each event-loop thread holds (its
/// epoll and wake-up descriptors) on top of Redis's single loop.
pub fn reserved(threads: usize) -> u64 {
    32 + 3 * threads as u64
}

fn get() -> Option<libc::rlimit> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } == 0).then_some(l)
}

fn set(cur: u64, max: u64) -> Result<(), std::io::Error> {
    let l = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What came of asking for `maxclients`.
#[derive(Debug, PartialEq, Eq)]
pub enum Adjusted {
    /// The limit serves it (perhaps after raising it).
    Enough,
    /// Only this many clients can be served.
    Reduced(u32),
    /// Not even the reserved descriptors fit: the limit there is.
    TooLow(u64),
}

/// Raises the open-file limit for `maxclients` clients if needed and
/// possible. `log` says what happened, with Redis's lines (at start-up;
/// CONFIG SET reports through its reply instead).
pub fn adjust(maxclients: u32, threads: usize, log: bool) -> Adjusted {
    let reserve = reserved(threads);
    let want = maxclients as u64 + reserve;
    let Some(old) = get() else {
        return Adjusted::Reduced((1024u64.saturating_sub(reserve)).max(1) as u32);
    };
    let (cur, hard) = (old.rlim_cur, old.rlim_max);
    if cur >= want {
        return Adjusted::Enough;
    }
    // Within the hard limit anyone may raise the soft one; past it only a
    // privileged process, which may raise both.
    let mut error = None;
    let got = if want <= hard {
        match set(want, hard) {
            Ok(()) => want,
            Err(e) => {
                error = Some(e);
                cur
            }
        }
    } else {
        match set(want, want) {
            Ok(()) => want,
            Err(e) => {
                error = Some(e);
                match set(hard, hard) {
                    Ok(()) => hard,
                    Err(_) => cur,
                }
            }
        }
    };
    if got >= want {
        if log {
            info!("Increased maximum number of open files to {want} (it was originally set to {cur}).");
        }
        return Adjusted::Enough;
    }
    if got <= reserve {
        if log {
            warn!("Your current 'ulimit -n' of {got} is not enough for the server to start. Please increase your open file limit to at least {want}. Exiting.");
        }
        return Adjusted::TooLow(got);
    }
    let reduced = (got - reserve) as u32;
    if log {
        warn!("You requested maxclients of {maxclients} requiring at least {want} max file descriptors.");
        if let Some(e) = error {
            warn!("Server can't set maximum open files to {want} because of OS error: {e}.");
        }
        warn!("Current maximum open files is {got}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.");
    }
    Adjusted::Reduced(reduced)
}
