//! Threads for `serve`'s background work (mail sources, the outbox sender,
//! the SLA, survey and report-facts jobs): named, and optionally at a lower
//! CPU priority than the threads answering requests (`background_nice`).
//!
//! Why optional: a lower priority lets pages go first while a burst of
//! background work (a large mailbox's first sync, a batch of hundreds of
//! mails) runs in the gaps, but it also makes a background writer that
//! holds SQLite's write lock slower to let go of it. Measured on two cores
//! at a million tickets (docs/PERFORMANCE.md, 2026-12-06), nice 10 against
//! 0 made no difference beyond the machine's noise, with 50 or 500 mails/s
//! arriving under the queue's load, so the default leaves the priority
//! alone.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread::{Builder, JoinHandle};

/// How much nicer background threads are than the process, by default
/// (`background_nice`): none. At 10, CFS weighs them about a tenth of a
/// request thread, and a saturated machine still gives them their share.
pub const DEFAULT_NICE: i32 = 0;

static NICE: AtomicI32 = AtomicI32::new(DEFAULT_NICE);

/// Sets the step for threads spawned from now on (`serve` does, from its
/// configuration, before it starts any); 0 keeps them at the process's.
pub fn set_nice(steps: i32) {
    NICE.store(steps.clamp(0, 19), Ordering::Relaxed);
}

/// Spawns `f` on a thread named `name` that first lowers its own priority.
/// Threads it starts inherit that priority (Linux keeps it per thread).
pub fn spawn<F, T>(name: &str, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().name(name.into()).spawn(move || {
        lower_priority();
        f()
    })
}

/// Lowers the calling thread's priority by the configured step (to nice 19
/// at most). Failing to is harmless (the work runs at normal priority) and
/// only logged.
fn lower_priority() {
    let steps = NICE.load(Ordering::Relaxed);
    if steps == 0 {
        return;
    }
    let target = (current_nice().unwrap_or(0) + steps).min(19);
    if let Err(error) = set_current_nice(target) {
        tracing::debug!(%error, "cannot lower a background thread's priority");
    }
}

/// Sets the calling thread's nice value (Linux; elsewhere a no-op). On
/// Linux the nice value belongs to the thread, so only this one changes,
/// and the threads it starts later inherit it.
pub fn set_current_nice(nice: i32) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a plain syscall on the calling thread's own id.
        let result =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
    Ok(())
}

/// The calling thread's nice value (Linux).
pub fn current_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: reading the calling thread's own priority. -1 is a valid
        // answer, so errno tells an error apart.
        unsafe {
            *libc::__errno_location() = 0;
            let tid = libc::gettid();
            let n = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            if n == -1 && *libc::__errno_location() != 0 {
                return None;
            }
            Some(n)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_threads_run_below_request_threads() {
        // The only test in this process that sets it.
        set_nice(10);
        let here = current_nice().expect("nice value");
        let there = spawn("bg-test", current_nice)
            .unwrap()
            .join()
            .unwrap()
            .expect("nice value");
        let lowered = (here + 10).min(19);
        assert_eq!(there, lowered);
        // The caller's own priority is untouched.
        assert_eq!(current_nice(), Some(here));
        // And a thread the background thread starts inherits it.
        let nested = spawn("bg-test", || {
            std::thread::spawn(current_nice).join().unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
        assert_eq!(nested, Some(lowered));
        // Off: a background thread keeps the process's priority.
        set_nice(0);
        let same = spawn("bg-test", current_nice).unwrap().join().unwrap();
        assert_eq!(same, Some(here));
        set_nice(DEFAULT_NICE);
    }
}
