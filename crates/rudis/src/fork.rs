//! A child process for a background save, as Redis forks one: the child
//! sees the dataset as it was at the fork (the kernel copies pages only
//! as the parent writes them) while the parent goes on serving.
//!
//! `unsafe` is allowed in this module only: std has no fork, waitpid or
//! kill. Forking a threaded process leaves the child with the calling
//! thread alone, so the child must not take a lock another thread could
//! have held at the fork: the caller holds every shard lock across the
//! fork, gathers everything else the child needs beforehand, and the
//! child writes its file with plain system calls and allocations (the
//! allocator, jemalloc, makes itself fork-safe) and ends with `_exit`,
//! running no destructor and no exit handler.

use std::io;

/// Forks; the child runs `child` and exits with the code it returns (1
/// if it panics). Returns the child's pid.
pub fn spawn(child: impl FnOnce() -> i32) -> io::Result<i32> {
    // SAFETY: see the module's comment for what the child may do.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(1);
            // SAFETY: ends the child at once, as Redis's exitFromChild.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Code(i32),
    Signal(i32),
}

/// Whether child `pid` has ended, without waiting.
pub fn reap(pid: i32) -> Option<Ended> {
    let mut status = 0;
    // SAFETY: a plain syscall on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r != pid {
        return None;
    }
    if libc::WIFSIGNALED(status) {
        Some(Ended::Signal(libc::WTERMSIG(status)))
    } else {
        Some(Ended::Code(libc::WEXITSTATUS(status)))
    }
}

/// Stops child `pid` with SIGUSR1 (which Redis's killRDBChild sends, so
/// its end is no save error) and waits for it.
pub fn kill(pid: i32) {
    let mut status = 0;
    // SAFETY: plain syscalls on our own child.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
        libc::waitpid(pid, &mut status, 0);
    }
}
