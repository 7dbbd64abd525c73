//! The host side of a translator: the imports of module `fhgate`
//! (translators/ABI.md §6), the per-store state they work on, the
//! translator's counters and statistics, and where log lines go.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::{Caller, Linker, Memory, StoreLimits};

/// The import module every translator import comes from.
pub const IMPORT_MODULE: &str = "fhgate";

/// The imports of ABI v2 with their signatures as `(params, results)`.
pub const IMPORTS: &[(&str, &[wasmtime::ValType], &[wasmtime::ValType])] = {
    use wasmtime::ValType::{I32, I64};
    &[
        ("log", &[I32, I32, I32], &[]),
        ("counter_define", &[I32, I32], &[I32]),
        ("counter_add", &[I32, I64], &[]),
        ("now_ns", &[], &[I64]),
        ("config_read", &[I32, I32], &[]),
        ("effect", &[I32, I32], &[I32]),
    ]
};

/// Most distinct config keys `config_read` records.
pub const MAX_CONFIG_READ: usize = 256;
/// Most effects one translator may declare.
pub const MAX_EFFECTS: usize = 64;
/// Most counters one translator may define.
pub const MAX_COUNTERS: usize = 64;
/// Longest log message kept; longer ones are cut.
pub const MAX_LOG_LEN: usize = 1024;
/// Log lines an instance may write at once (ABI.md §6).
pub const LOG_BURST: u32 = 10;
/// Log lines per second after the burst.
pub const LOG_PER_SEC: u32 = 10;

/// Log levels of `fhgate.log`: 0 error … 4 trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 0.
    Error,
    /// 1.
    Warn,
    /// 2.
    Info,
    /// 3.
    Debug,
    /// 4.
    Trace,
}

impl Level {
    /// The level for a guest's number (out-of-range values clamp).
    pub fn from_guest(v: i32) -> Level {
        match v {
            i32::MIN..=0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            3 => Level::Debug,
            _ => Level::Trace,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        })
    }
}

/// Where translator log lines (the guest's and the host's about it) go.
pub trait LogSink: Send + Sync {
    /// One line about `translator`; `from_guest` tells the guest's own
    /// messages from the host's.
    fn log(&self, level: Level, translator: &str, from_guest: bool, msg: &str);
}

/// Writes to standard error as `fhgate: LEVEL: translator NAME: MSG`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrLog;

impl LogSink for StderrLog {
    fn log(&self, level: Level, translator: &str, from_guest: bool, msg: &str) {
        let who = if from_guest { "says" } else { "" };
        eprintln!("fhgate: {level}: translator {translator}: {who}{}{msg}", if from_guest { ": " } else { "" });
    }
}

/// A sink that keeps every line, for tests and `translator check`.
#[derive(Debug, Default)]
pub struct MemoryLog {
    lines: Mutex<Vec<(Level, String)>>,
}

impl MemoryLog {
    /// The lines so far, as `LEVEL: translator NAME: MSG`.
    pub fn lines(&self) -> Vec<(Level, String)> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl LogSink for MemoryLog {
    fn log(&self, level: Level, translator: &str, from_guest: bool, msg: &str) {
        let who = if from_guest { "says: " } else { "" };
        if let Ok(mut l) = self.lines.lock() {
            l.push((level, format!("translator {translator}: {who}{msg}")));
        }
    }
}

/// Adds `v` to a counter that only one thread writes (the worker that
/// owns the translator): a load and a store, no locked instruction.
#[inline]
pub(crate) fn bump(c: &AtomicU64, v: u64) {
    c.store(c.load(Relaxed).wrapping_add(v), Relaxed)
}

/// A translator's statistics, written by the worker that runs it and read
/// by the control plane (metrics, `translator check`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls to `fhgate_process`, those that faulted included.
    pub calls: AtomicU64,
    /// Packets handed to the translator.
    pub packets_in: AtomicU64,
    /// Packets of its chain it did not want (metadata), so not handed to it.
    pub bypassed: AtomicU64,
    /// Inputs it forwarded unchanged.
    pub forwarded: AtomicU64,
    /// Inputs it modified.
    pub modified: AtomicU64,
    /// Inputs it dropped.
    pub dropped: AtomicU64,
    /// Extra packets it produced.
    pub extras: AtomicU64,
    /// Faults: traps.
    pub faults_trap: AtomicU64,
    /// Faults: missed deadlines.
    pub faults_deadline: AtomicU64,
    /// Faults: bad output.
    pub faults_bad_output: AtomicU64,
    /// Packets handled by the fault policy (after a fault, or while disabled).
    pub policy_packets: AtomicU64,
    /// Instances replaced after a fault.
    pub replaced: AtomicU64,
    /// Outputs not used because the burst or the buffer pool had no room.
    pub no_room: AtomicU64,
    /// Log lines dropped by the rate limit.
    pub log_dropped: AtomicU64,
    /// Log lines written.
    pub log_lines: AtomicU64,
    /// `counter_add` with an unknown id, or `counter_define` outside init.
    pub counter_errors: AtomicU64,
    /// Set once the translator is disabled (N faults within T).
    pub disabled: AtomicBool,
}

impl Stats {
    /// All faults so far.
    pub fn faults(&self) -> u64 {
        self.faults_trap.load(Relaxed) + self.faults_deadline.load(Relaxed) + self.faults_bad_output.load(Relaxed)
    }
}

/// The counters a translator defined with `counter_define`. Names are
/// fixed at init (under a lock, off the hot path); values are atomics.
pub struct Counters {
    names: Mutex<Vec<String>>,
    values: Box<[AtomicU64]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { names: Mutex::new(Vec::new()), values: (0..MAX_COUNTERS).map(|_| AtomicU64::new(0)).collect() }
    }
}

impl Counters {
    /// Defines `name` (or finds it: a replaced instance defines its
    /// counters again) and returns its id, or `None` when full.
    pub fn define(&self, name: &str) -> Option<usize> {
        let mut names = self.names.lock().ok()?;
        if let Some(i) = names.iter().position(|n| n == name) {
            return Some(i);
        }
        if names.len() >= MAX_COUNTERS {
            return None;
        }
        names.push(name.to_string());
        Some(names.len() - 1)
    }

    /// Every counter as `(name, value)`.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        names.into_iter().enumerate().map(|(i, n)| (n, self.values[i].load(Relaxed))).collect()
    }
}

/// What every instance of one translator shares with the control plane.
pub struct Shared {
    /// The translator's name (its metadata `name`).
    pub name: String,
    /// Its statistics.
    pub stats: Stats,
    /// Its counters.
    pub counters: Counters,
    /// Where its log lines go.
    pub sink: Arc<dyn LogSink>,
    /// The config keys its `fhgate_init` looked up (`config_read`), in first-read order.
    pub config_read: Mutex<Vec<String>>,
    /// What its `fhgate_init` declared it changes (`effect`), in order,
    /// each once; and the declarations that did not parse.
    pub effects: Mutex<Declared>,
    defined: AtomicU64,
}

impl Shared {
    /// New, empty statistics for `name`.
    pub fn new(name: &str, sink: Arc<dyn LogSink>) -> Arc<Shared> {
        Arc::new(Shared {
            name: name.to_string(),
            stats: Stats::default(),
            counters: Counters::default(),
            sink,
            config_read: Mutex::new(Vec::new()),
            effects: Mutex::new(Declared::default()),
            defined: AtomicU64::new(0),
        })
    }

    /// A host message about this translator.
    pub fn log(&self, level: Level, msg: fmt::Arguments<'_>) {
        self.sink.log(level, &self.name, false, &msg.to_string())
    }
}

/// A translator's declared effects (ABI.md §6 `effect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// The effects, in declaration order, each once.
    pub effects: Vec<super::effect::Effect>,
    /// Declarations refused: bad text, outside init, or past [`MAX_EFFECTS`].
    pub errors: Vec<String>,
}

/// Which call the guest is in, for `counter_define`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Instantiation and `fhgate_init`.
    Init,
    /// `fhgate_process` (and `fhgate_unload`).
    Process,
}

/// The state of one store (one instance).
pub struct HostState {
    /// Linear memory cap.
    pub limits: StoreLimits,
    /// The guest's `memory`, found once after instantiation.
    pub memory: Option<Memory>,
    /// The call the guest is in.
    pub phase: Phase,
    /// The translator's shared counters, statistics and log.
    pub shared: Arc<Shared>,
    /// Monotonic time base of `now_ns`.
    pub epoch: Instant,
    log_tokens_milli: u32,
    log_refilled: Instant,
}

impl HostState {
    /// State for a new instance.
    pub fn new(limits: StoreLimits, shared: Arc<Shared>, epoch: Instant) -> Self {
        HostState {
            limits,
            memory: None,
            phase: Phase::Init,
            shared,
            epoch,
            log_tokens_milli: LOG_BURST * 1000,
            log_refilled: Instant::now(),
        }
    }

    /// Takes one token from the log bucket (burst of 10, then 10/s).
    fn log_allowed(&mut self) -> bool {
        let now = Instant::now();
        let ms = now.duration_since(self.log_refilled).as_millis().min(u32::MAX as u128) as u32;
        if ms > 0 {
            let refill = ms.saturating_mul(LOG_PER_SEC);
            self.log_tokens_milli = self.log_tokens_milli.saturating_add(refill).min(LOG_BURST * 1000);
            self.log_refilled = now;
        }
        if self.log_tokens_milli >= 1000 {
            self.log_tokens_milli -= 1000;
            true
        } else {
            false
        }
    }
}

/// Copies `len` bytes at `ptr` of the guest's memory into `out`, cut to
/// its size; `None` when the range is not inside the memory.
fn guest_bytes<'a>(caller: &Caller<'_, HostState>, ptr: i32, len: i32, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let mem = caller.data().memory?;
    let data = mem.data(caller);
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let src = data.get(ptr..ptr.checked_add(len)?)?;
    let n = src.len().min(out.len());
    out[..n].copy_from_slice(&src[..n]);
    Some(&out[..n])
}

/// Defines the `fhgate` imports in `linker`.
pub fn define_imports(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(IMPORT_MODULE, "log", |mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
        if !caller.data_mut().log_allowed() {
            bump(&caller.data().shared.stats.log_dropped, 1);
            return;
        }
        let mut buf = [0u8; MAX_LOG_LEN];
        let shared = caller.data().shared.clone();
        match guest_bytes(&caller, ptr, len, &mut buf) {
            Some(b) => {
                bump(&shared.stats.log_lines, 1);
                shared.sink.log(Level::from_guest(level), &shared.name, true, &String::from_utf8_lossy(b));
            }
            None => bump(&shared.stats.log_dropped, 1),
        }
    })?;
    linker.func_wrap(IMPORT_MODULE, "counter_define", |caller: Caller<'_, HostState>, ptr: i32, len: i32| -> i32 {
        let st = caller.data();
        if st.phase != Phase::Init {
            bump(&st.shared.stats.counter_errors, 1);
            return -1;
        }
        let mut buf = [0u8; 256];
        let Some(name) = guest_bytes(&caller, ptr, len, &mut buf).and_then(|b| std::str::from_utf8(b).ok()) else {
            return -1;
        };
        let shared = &caller.data().shared;
        match shared.counters.define(name) {
            Some(id) => {
                shared.defined.fetch_max(id as u64 + 1, Relaxed);
                id as i32
            }
            None => -1,
        }
    })?;
    linker.func_wrap(IMPORT_MODULE, "counter_add", |caller: Caller<'_, HostState>, id: i32, delta: i64| {
        let shared = &caller.data().shared;
        let defined = shared.defined.load(Relaxed) as usize;
        match usize::try_from(id).ok().filter(|&i| i < defined) {
            // Several workers may run instances of one translator: a locked add.
            Some(i) => {
                shared.counters.values[i].fetch_add(delta as u64, Relaxed);
            }
            None => bump(&shared.stats.counter_errors, 1),
        }
    })?;
    linker.func_wrap(IMPORT_MODULE, "config_read", |caller: Caller<'_, HostState>, ptr: i32, len: i32| {
        // Init only, and at most MAX_CONFIG_READ distinct keys: a record for `translator check`.
        if caller.data().phase != Phase::Init {
            return;
        }
        let mut buf = [0u8; 256];
        let Some(key) = guest_bytes(&caller, ptr, len, &mut buf).and_then(|b| std::str::from_utf8(b).ok()) else { return };
        if let Ok(mut keys) = caller.data().shared.config_read.lock() {
            if keys.len() < MAX_CONFIG_READ && !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        }
    })?;
    linker.func_wrap(IMPORT_MODULE, "effect", |caller: Caller<'_, HostState>, ptr: i32, len: i32| -> i32 {
        let mut buf = [0u8; 256];
        let text = guest_bytes(&caller, ptr, len, &mut buf).map(|b| String::from_utf8_lossy(b).into_owned());
        let st = caller.data();
        let Ok(mut d) = st.shared.effects.lock() else { return -1 };
        let refused = match (st.phase, text) {
            (Phase::Process, _) => "declared outside fhgate_init".to_string(),
            (_, None) => "the text lies outside the module's memory".to_string(),
            (_, Some(t)) => match super::effect::Effect::parse(&t) {
                Ok(e) if d.effects.contains(&e) => return 0,
                Ok(_) if d.effects.len() >= MAX_EFFECTS => format!("`{t}`: more than {MAX_EFFECTS} effects"),
                Ok(e) => {
                    d.effects.push(e);
                    return 0;
                }
                Err(e) => e.to_string(),
            },
        };
        if d.errors.len() < MAX_EFFECTS {
            d.errors.push(refused);
        }
        -1
    })?;
    linker.func_wrap(IMPORT_MODULE, "now_ns", |caller: Caller<'_, HostState>| -> i64 {
        caller.data().epoch.elapsed().as_nanos().min(i64::MAX as u128) as i64
    })?;
    Ok(())
}
