//! How an idle stage waits (`[pipeline] polling`): busy polling, or
//! adaptive polling that busy-polls while traffic flows and, after
//! `sleep_after_us` without any, sleeps in the port's `poll()` (or, for a
//! stage fed by a ring, parks until the stage before rings its doorbell),
//! waking on the first packet; or interrupt-like, sleeping at once.
//!
//! Adaptive polling may also coalesce (`coalesce_us`, a NIC's rx-usecs in
//! software): while traffic flows, the first empty poll after work naps
//! that long, a timed sleep no frame ends, so that frames gather into
//! bursts. Spinning between frames 1.5 µs apart (10 % of a core's rate)
//! never reaches `sleep_after` and costs a core; napping costs up to
//! `coalesce_us` of added latency instead.
//!
//! A stage's idle loop costs what it did before while it spins: a counter
//! and, every [`CLOCK_EVERY`] empty polls, one vDSO clock read (no
//! syscall). A sleep is one syscall per idle back-off. The producer side
//! of a ring pays one fence and one load per burst, and a wake-up syscall
//! only when its consumer sleeps.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The polling policy of every stage of a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polling {
    /// Spin, then yield; never sleep (`polling = "busy"`).
    Busy,
    /// Spin while traffic flows; sleep after `sleep_after` without any
    /// (`polling = "adaptive"`, the default).
    Adaptive {
        /// Idle time before the first sleep.
        sleep_after: Duration,
        /// The nap after work runs dry while traffic flows (zero: none).
        coalesce: Duration,
    },
    /// Sleep as soon as a poll finds nothing (`polling = "interrupt"`).
    Interrupt,
}

impl Default for Polling {
    fn default() -> Self {
        Polling::Adaptive { sleep_after: DEFAULT_SLEEP_AFTER, coalesce: Duration::ZERO }
    }
}

/// How long adaptive polling spins without traffic before it sleeps.
pub const DEFAULT_SLEEP_AFTER: Duration = Duration::from_micros(200);
/// The longest single sleep: stop requests, metrics and one-way delay
/// requests are looked at least this often. A frame wakes a port's poll()
/// or a ring's doorbell at once, so this bounds only those: at 1 ms an
/// idle debug build's two directions woke 2 000 times a second and used
/// 13-17 % of a core on veth (tests/polling_live.rs).
pub const MAX_SLEEP: Duration = Duration::from_millis(10);
/// Empty polls between clock reads while spinning.
const CLOCK_EVERY: u32 = 64;

/// A stage's polling state, exported to Prometheus
/// (`fhgate_poll_sleeping`, `fhgate_poll_wakeups_total`).
#[derive(Debug, Default)]
pub struct PollGauge {
    sleeping: AtomicBool,
    wakeups: AtomicU64,
    naps: AtomicU64,
}

impl PollGauge {
    /// Whether the stage sleeps now.
    pub fn sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Relaxed)
    }

    /// How often the stage came out of a sleep.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// How often the stage napped to coalesce (`coalesce_us`).
    pub fn naps(&self) -> u64 {
        self.naps.load(Ordering::Relaxed)
    }
}

/// What an idle stage should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Poll again at once (a spin-loop hint was given).
    Spin,
    /// Give the core away for a moment, then poll again.
    Yield,
    /// Sleep until woken or this long.
    Sleep(Duration),
    /// Sleep this long whatever arrives meanwhile (coalescing).
    Nap(Duration),
}

/// One stage's idle back-off under a [`Polling`] policy.
#[derive(Debug)]
pub struct Idler {
    polling: Polling,
    empty: u32,
    since: Option<Instant>,
    /// Idle past `sleep_after`: every empty poll sleeps until work comes.
    drowsy: bool,
    /// This thread's timer slack is 1 ns (set at its first nap: the
    /// default 50 µs would dwarf a nap of tens of µs).
    slack_set: bool,
    gauge: Arc<PollGauge>,
}

impl Idler {
    /// A stage's back-off, reporting into `gauge`.
    pub fn new(polling: Polling, gauge: Arc<PollGauge>) -> Idler {
        Idler { polling, empty: 0, since: None, drowsy: false, slack_set: false, gauge }
    }

    /// Whether the policy may ever sleep.
    #[inline]
    pub fn sleeps(&self) -> bool {
        self.polling != Polling::Busy
    }

    /// A poll found work.
    #[inline]
    pub fn work(&mut self) {
        self.empty = 0;
        self.since = None;
        self.drowsy = false;
    }

    /// Empty polls since the last work (wraps).
    #[inline]
    pub fn empty_polls(&self) -> u32 {
        self.empty
    }

    /// A poll found nothing: what to do.
    #[inline]
    pub fn idle(&mut self) -> Wait {
        self.empty = self.empty.wrapping_add(1);
        let sleep_after = match self.polling {
            Polling::Interrupt => return Wait::Sleep(MAX_SLEEP),
            Polling::Busy => None,
            // The first empty poll after work, while traffic flows.
            Polling::Adaptive { coalesce, .. } if self.empty == 1 && !self.drowsy && !coalesce.is_zero() => return Wait::Nap(coalesce),
            Polling::Adaptive { sleep_after, .. } => Some(sleep_after),
        };
        if let Some(after) = sleep_after {
            if self.drowsy {
                return Wait::Sleep(MAX_SLEEP);
            }
            if self.empty % CLOCK_EVERY == 1 {
                let now = Instant::now();
                match self.since {
                    None => self.since = Some(now),
                    Some(t) if now.saturating_duration_since(t) >= after => {
                        self.drowsy = true;
                        return Wait::Sleep(MAX_SLEEP);
                    }
                    Some(_) => {}
                }
            }
        }
        // Spin briefly, then yield: when stages outnumber cores, a stage
        // with work waits out its neighbour's spin before that yields (on
        // 2 cores at 250 kpps, 64 spins made the median added latency
        // 5.7 µs, 8 spins 1.7 µs; benches/pipeline).
        if self.empty < 8 {
            std::hint::spin_loop();
            Wait::Spin
        } else {
            Wait::Yield
        }
    }

    /// Runs `sleep` as a sleep of the stage: the gauge says so meanwhile,
    /// and a wake-up is counted after, unless `sleep` says it could not
    /// sleep (a port that cannot wait), when the caller yields instead.
    pub fn sleep<E>(&mut self, sleep: impl FnOnce() -> Result<bool, E>) -> Result<(), E> {
        self.gauge.sleeping.store(true, Ordering::Relaxed);
        let r = sleep();
        self.gauge.sleeping.store(false, Ordering::Relaxed);
        match r {
            Ok(true) => {
                self.gauge.wakeups.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => thread::yield_now(),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Naps `d` (coalescing): a timed sleep that frames do not end.
    fn nap(&mut self, d: Duration) {
        if !self.slack_set {
            // SAFETY: PR_SET_TIMERSLACK takes a value and affects only this thread.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
            self.slack_set = true;
        }
        self.gauge.naps.fetch_add(1, Ordering::Relaxed);
        thread::sleep(d);
    }

    /// Waits as [`Idler::idle`] says, sleeping in `wait` (a port's poll)
    /// when it is time to sleep.
    #[inline]
    pub fn wait_in<E>(&mut self, wait: impl FnOnce(Duration) -> Result<bool, E>) -> Result<(), E> {
        match self.idle() {
            Wait::Spin => Ok(()),
            Wait::Yield => {
                thread::yield_now();
                Ok(())
            }
            Wait::Sleep(d) => self.sleep(|| wait(d)),
            Wait::Nap(d) => {
                self.nap(d);
                Ok(())
            }
        }
    }

    /// Waits as [`Idler::idle`] says, sleeping on `bell` (a stage fed by
    /// rings) while `empty` still holds after the bell is armed.
    #[inline]
    pub fn wait_on(&mut self, bell: &Doorbell, empty: impl Fn() -> bool) {
        let _ = self.wait_in(|d| -> Result<bool, ()> {
            bell.sleep(d, empty);
            Ok(true)
        });
    }
}

/// Rings every bell of `bells` that is armed, with one fence for all.
#[inline]
pub fn ring_all(bells: &[Arc<Doorbell>]) {
    fence(Ordering::SeqCst);
    for b in bells {
        b.ring_fenced();
    }
}

/// Wakes a stage that sleeps on its input rings: the stage arms it and
/// parks; whoever pushes onto one of those rings rings it after the push.
#[derive(Debug, Default)]
pub struct Doorbell {
    armed: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Doorbell {
    /// A doorbell, shared by a stage and those that feed it.
    pub fn new() -> Arc<Doorbell> {
        Arc::new(Doorbell::default())
    }

    /// Wakes the stage if it sleeps: one fence and one load when it does
    /// not. Call after a ring's commit.
    #[inline]
    pub fn ring(&self) {
        // Orders the ring's commit before the load of `armed` (the stage
        // orders its store of `armed` before its look at the ring): one of
        // the two sees the other, so no wake-up is lost.
        fence(Ordering::SeqCst);
        self.ring_fenced();
    }

    /// [`Doorbell::ring`] after the caller's own SeqCst fence.
    #[inline]
    fn ring_fenced(&self) {
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    /// Parks the calling thread for at most `timeout` unless `empty()` is
    /// false once the bell is armed.
    pub fn sleep(&self, timeout: Duration, empty: impl Fn() -> bool) {
        let _ = self.thread.get_or_init(thread::current);
        self.armed.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if empty() {
            thread::park_timeout(timeout);
        }
        self.armed.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_spins_then_sleeps_after_the_idle_time() {
        let g = Arc::new(PollGauge::default());
        let mut i = Idler::new(Polling::Adaptive { sleep_after: Duration::from_millis(2), coalesce: Duration::ZERO }, g.clone());
        // The idle time starts at the first empty poll: the clock before it.
        let t = Instant::now();
        assert_eq!(i.idle(), Wait::Spin);
        let mut n = 0u64;
        while i.idle() != Wait::Sleep(MAX_SLEEP) {
            n += 1;
        }
        assert!(t.elapsed() >= Duration::from_millis(2), "slept after {:?} ({n} polls)", t.elapsed());
        assert_eq!(i.idle(), Wait::Sleep(MAX_SLEEP), "once past the idle time, every empty poll sleeps");
        i.work();
        assert_eq!(i.idle(), Wait::Spin, "work starts the idle time afresh");
        let mut busy = Idler::new(Polling::Busy, g.clone());
        assert!((0..100_000).all(|_| busy.idle() != Wait::Sleep(MAX_SLEEP)));
        assert_eq!(Idler::new(Polling::Interrupt, g.clone()).idle(), Wait::Sleep(MAX_SLEEP));
        i.sleep(|| -> Result<bool, ()> { Ok(g.sleeping()) }).unwrap();
        assert!(!g.sleeping());
        assert_eq!(g.wakeups(), 1, "slept once");
        i.sleep(|| -> Result<bool, ()> { Ok(false) }).unwrap();
        assert_eq!(g.wakeups(), 1, "a port that cannot wait did not sleep");
    }

    #[test]
    fn coalescing_naps_once_when_work_runs_dry_then_backs_off_as_before() {
        let g = Arc::new(PollGauge::default());
        let nap = Duration::from_micros(50);
        let mut i = Idler::new(Polling::Adaptive { sleep_after: Duration::from_millis(2), coalesce: nap }, g.clone());
        assert_eq!(i.idle(), Wait::Nap(nap), "the first empty poll naps");
        assert_eq!(i.idle(), Wait::Spin, "then it spins, as without coalescing");
        i.work();
        assert_eq!(i.idle(), Wait::Nap(nap), "every time work runs dry");
        let t = Instant::now();
        while i.idle() != Wait::Sleep(MAX_SLEEP) {}
        assert!(t.elapsed() >= Duration::from_millis(2), "the idle time still leads to sleeping: {:?}", t.elapsed());
        assert_eq!(i.idle(), Wait::Sleep(MAX_SLEEP), "drowsy: no nap, sleeps until work");
        i.work();
        let t = Instant::now();
        i.wait_in(|_| -> Result<bool, ()> { panic!("a nap is not a poll()") }).unwrap();
        assert!(t.elapsed() >= nap, "napped {:?}", t.elapsed());
        assert_eq!(g.naps(), 1);
        assert_eq!(g.wakeups(), 0, "a nap is not a wake-up");
        let mut busy = Idler::new(Polling::Busy, g.clone());
        busy.work();
        assert_eq!(busy.idle(), Wait::Spin, "busy polling never naps");
    }

    #[test]
    fn a_doorbell_wakes_a_parked_stage_at_once() {
        let bell = Doorbell::new();
        let flag = Arc::new(AtomicBool::new(false));
        let (b, f) = (bell.clone(), flag.clone());
        let t = thread::spawn(move || {
            let start = Instant::now();
            while !f.load(Ordering::Acquire) {
                b.sleep(Duration::from_secs(5), || !f.load(Ordering::Acquire));
            }
            start.elapsed()
        });
        thread::sleep(Duration::from_millis(50));
        flag.store(true, Ordering::Release);
        bell.ring();
        let slept = t.join().unwrap();
        assert!(slept < Duration::from_secs(2), "woken by the bell, not the 5 s timeout: {slept:?}");
    }
}
