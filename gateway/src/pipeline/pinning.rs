//! Where a direction's threads run: its own core set, a core per worker,
//! and cores (or the set) for the RX and TX threads. Each thread pins
//! itself when it starts and reports back before the direction counts as
//! started, so a core that cannot be had fails `start` with the core named
//! (`pin = "strict"`, the default) or is said on standard error and the
//! thread runs unpinned (`pin = "best-effort"`).

use std::fmt;

/// What a pinning failure does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PinPolicy {
    /// The direction does not start (`pin = "strict"`).
    #[default]
    Strict,
    /// A warning names the core and the thread runs where the kernel puts it
    /// (`pin = "best-effort"`).
    BestEffort,
}

/// One direction's cores. Empty lists leave those threads unpinned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreSet {
    /// One core per worker, in order (run to completion: the one thread's).
    pub workers: Vec<usize>,
    /// The RX thread's cores (pipelined); empty: the workers' cores.
    pub rx: Vec<usize>,
    /// The TX thread's cores (pipelined); empty: the workers' cores.
    pub tx: Vec<usize>,
    /// What a core that cannot be had does.
    pub policy: PinPolicy,
}

/// A thread of a direction, for pinning and for naming it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Worker `i` (run to completion: worker 0 is the one thread).
    Worker(usize),
    /// The pipelined RX thread.
    Rx,
    /// The pipelined TX thread.
    Tx,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Worker(i) => write!(f, "worker {i}"),
            Stage::Rx => f.write_str("RX thread"),
            Stage::Tx => f.write_str("TX thread"),
        }
    }
}

/// A thread that could not be pinned.
#[derive(Debug)]
pub struct PinError {
    /// The direction (`dl`, `ul`).
    pub direction: String,
    /// Which of its threads.
    pub stage: Stage,
    /// The cores it was to run on.
    pub cores: Vec<usize>,
    /// Why the kernel refused.
    pub source: std::io::Error,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = match self.cores.as_slice() {
            [c] => format!("core {c}"),
            cs => format!("cores {cs:?}"),
        };
        write!(f, "{} {}: cannot pin to {which}: {}", self.direction, self.stage, self.source)
    }
}

impl std::error::Error for PinError {}

impl CoreSet {
    /// Every core one worker per entry of `workers` and no RX/TX cores:
    /// the shape of the older `[pipeline] cores` key.
    pub fn workers(workers: Vec<usize>, policy: PinPolicy) -> CoreSet {
        CoreSet { workers, rx: Vec::new(), tx: Vec::new(), policy }
    }

    /// Whether any thread of the direction is pinned.
    pub fn is_pinned(&self) -> bool {
        !(self.workers.is_empty() && self.rx.is_empty() && self.tx.is_empty())
    }

    /// Every core named, each once, in order.
    pub fn all(&self) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        for c in self.workers.iter().chain(&self.rx).chain(&self.tx) {
            if !v.contains(c) {
                v.push(*c);
            }
        }
        v
    }

    /// The cores `stage` runs on (empty: unpinned).
    pub fn cores_of(&self, stage: Stage) -> Vec<usize> {
        let or_workers = |v: &Vec<usize>| {
            if v.is_empty() {
                let mut w = self.workers.clone();
                w.sort_unstable();
                w.dedup();
                w
            } else {
                v.clone()
            }
        };
        match stage {
            Stage::Worker(i) => self.workers.get(i).map(|c| vec![*c]).unwrap_or_default(),
            Stage::Rx => or_workers(&self.rx),
            Stage::Tx => or_workers(&self.tx),
        }
    }

    /// Pins the calling thread as `stage` of `direction`. Under
    /// best-effort a failure is logged and `Ok` returned.
    pub fn pin_current(&self, direction: &str, stage: Stage) -> Result<(), PinError> {
        let cores = self.cores_of(stage);
        if cores.is_empty() {
            return Ok(());
        }
        match set_affinity(&cores) {
            Ok(()) => Ok(()),
            Err(source) => {
                let e = PinError { direction: direction.into(), stage, cores, source };
                match self.policy {
                    PinPolicy::Strict => Err(e),
                    PinPolicy::BestEffort => {
                        tracing::warn!("{e}; running unpinned (pin = \"best-effort\")");
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Restricts the calling thread to `cores` (sched_setaffinity).
pub fn set_affinity(cores: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain bits; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    for &c in cores {
        if c >= max {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("core {c} is past the kernel's CPU set size ({max})")));
        }
        // SAFETY: c < the set's size in bits, checked above.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: a valid set of its own size, for the calling thread (pid 0).
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        Err(match e.raw_os_error() {
            Some(libc::EINVAL) => std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("no such core on this machine, or not one this process may run on ({e})")),
            _ => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_and_tx_default_to_the_workers_cores() {
        let s = CoreSet::workers(vec![3, 1, 3], PinPolicy::Strict);
        assert_eq!(s.cores_of(Stage::Worker(1)), vec![1]);
        assert_eq!(s.cores_of(Stage::Worker(5)), Vec::<usize>::new());
        assert_eq!(s.cores_of(Stage::Rx), vec![1, 3]);
        let s = CoreSet { rx: vec![0], ..s };
        assert_eq!(s.cores_of(Stage::Rx), vec![0]);
        assert_eq!(s.all(), vec![3, 1, 0]);
    }

    #[test]
    fn a_core_that_does_not_exist_is_named() {
        let s = CoreSet::workers(vec![1000], PinPolicy::Strict);
        let e = std::thread::spawn(move || s.pin_current("dl", Stage::Worker(0))).join().unwrap().unwrap_err();
        assert_eq!(e.cores, vec![1000]);
        assert!(e.to_string().starts_with("dl worker 0: cannot pin to core 1000: "), "{e}");
        let s = CoreSet::workers(vec![5000], PinPolicy::BestEffort);
        assert!(std::thread::spawn(move || s.pin_current("ul", Stage::Worker(0))).join().unwrap().is_ok());
    }

    /// `start` itself (not only the config check) refuses a core that
    /// cannot be had, in both threadings, and pins a thread that can.
    #[test]
    fn start_fails_naming_the_core_and_pins_what_it_can() {
        use crate::io::memory::{MemoryRx, MemoryTx};
        use crate::pipeline::runner::{start, DirectionSpec, Threading};
        use ecpri::frame::DecodeConfig;
        let spec = |threading, cores: CoreSet| DirectionSpec {
            name: "dl".into(),
            workers: 2,
            cores,
            ..DirectionSpec::for_test(Box::new(MemoryRx::new(vec![vec![0u8; 60]].into(), 100)), Box::new(MemoryTx::new()), DecodeConfig::default(), threading)
        };
        for threading in [Threading::RunToCompletion, Threading::Pipelined] {
            let e = start(spec(threading, CoreSet::workers(vec![1000, 1000], PinPolicy::Strict))).err().expect("refused");
            assert!(e.to_string().starts_with("dl worker 0: cannot pin to core 1000"), "{threading:?}: {e}");
            let bad_tx = CoreSet { tx: vec![1001], ..CoreSet::default() };
            if threading == Threading::Pipelined {
                let e = start(spec(threading, bad_tx)).err().expect("refused");
                assert!(e.to_string().starts_with("dl TX thread: cannot pin to core 1001"), "{e}");
            }
            let ok = start(spec(threading, CoreSet::workers(vec![0, 0], PinPolicy::Strict))).expect("core 0 exists");
            assert_eq!(ok.join().unwrap().frames_out, 100, "{threading:?}");
        }
    }
}
