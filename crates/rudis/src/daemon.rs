//! Running in the background, as Redis's `daemonize()`, and the pid file
//! (`createPidFile`).
//!
//! `unsafe` is allowed in this module only: std has no fork, setsid or
//! dup2, so the three libc calls are made directly. `detach` must run
//! before the process starts any thread (a fork copies only the calling
//! thread), which `main` does right after reading the configuration.

use std::os::fd::AsRawFd;

/// Forks: the parent exits at once with success, the child goes on in a
/// new session with its standard streams on /dev/null.
pub fn detach() -> std::io::Result<()> {
    // SAFETY: called while the process has a single thread (see above).
    #[allow(unsafe_code)]
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain syscalls on descriptors this process owns.
    #[allow(unsafe_code)]
    unsafe {
        libc::setsid();
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: as above; `null` stays open across the calls.
        #[allow(unsafe_code)]
        unsafe {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
    Ok(())
}

/// Writes this process's id and a line feed to `path`; a failure is
/// logged and start-up goes on, as Redis does.
pub fn write_pid(path: &str) {
    if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
        tracing::warn!("Failed to write PID file: {e}");
    }
}

/// Removes the pid file at shutdown.
pub fn remove_pid(path: &str) {
    tracing::info!("Removing the pid file.");
    let _ = std::fs::remove_file(path);
}
