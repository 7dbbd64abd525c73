//! Process signals as flags: SIGINT/SIGTERM ask a live run (`run`, `gen`,
//! `sink`) to stop cleanly and print its report; SIGHUP asks `run` to
//! reload its configuration and hot-swap the translators that changed.
//! The handlers only store to atomics (async-signal-safe); the control
//! loop polls them.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static HANGUPS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

extern "C" fn on_hangup(_: libc::c_int) {
    HANGUPS.fetch_add(1, Ordering::Relaxed);
}

/// Installs the handlers (idempotent).
pub fn install() {
    // A second SIGINT or SIGTERM terminates as usual (SA_RESETHAND), in
    // case the clean stop itself hangs.
    let stop = (on_stop as extern "C" fn(libc::c_int), libc::SA_RESETHAND);
    for (sig, (handler, flags)) in [(libc::SIGINT, stop), (libc::SIGTERM, stop), (libc::SIGHUP, (on_hangup, 0))] {
        // SAFETY: a zeroed sigaction with a handler that only touches
        // atomics is valid; SA_RESTART keeps blocking I/O from failing
        // with EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = libc::SA_RESTART | flags;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// The flag SIGINT and SIGTERM set, for loops that take one.
pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}

/// Whether SIGHUP has arrived since the last call (clears it).
pub fn take_hangup() -> bool {
    HANGUPS.swap(0, Ordering::Relaxed) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangup_is_seen_once() {
        install();
        // SAFETY: raising a signal this process handles.
        unsafe { libc::raise(libc::SIGHUP) };
        assert!(take_hangup());
        assert!(!take_hangup());
        assert!(!stop_requested());
    }
}
