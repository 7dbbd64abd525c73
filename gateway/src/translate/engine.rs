//! The wasmtime runtime, set up once: an `Engine` with an explicit
//! `Config` (Cranelift, signals-based traps, the pooling allocator, epoch
//! interruption, no fuel, memories that never move), the `Linker` with
//! the `fhgate` imports, and the epoch ticker thread that drives
//! per-burst deadlines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, OptLevel, PoolingAllocationConfig, Strategy};

use super::host::{self, HostState};

/// Runtime-wide settings (the per-translator ones are in [`super::Limits`]).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Instances the pooling allocator can hold at once (every worker's
    /// instance of every translator, plus spares during swaps).
    pub max_instances: u32,
    /// The largest linear memory any translator may be given.
    pub max_memory: usize,
    /// Period of the epoch ticker: deadline granularity.
    pub epoch_tick: Duration,
    /// Core to pin the epoch ticker to (`None`: wherever the scheduler
    /// puts it). `fhgate run` picks a core the workers do not use, so the
    /// ticker never preempts a worker.
    pub ticker_core: Option<usize>,
    /// Capture wasm backtraces on traps (`translator check`); off in the
    /// gateway, where a trap only needs its kind.
    pub backtraces: bool,
    /// Compile a module's functions on several threads: bfp_width loads
    /// in about 70 ms instead of 107 on two cores, but a small translator
    /// loads faster on one (`translate_swap` in benches/benches/translate.rs).
    /// `fhgate run` turns it off when workers are pinned: the compiler's
    /// threads are not, and would preempt them during a hot swap.
    pub parallel_compilation: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_instances: 128,
            max_memory: 256 << 20,
            epoch_tick: Duration::from_micros(100),
            ticker_core: None,
            backtraces: false,
            parallel_compilation: true,
        }
    }
}

/// The engine, linker and epoch ticker shared by every translator.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    config: RuntimeConfig,
    started: Instant,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

/// The error of [`Runtime::new`].
#[derive(Debug)]
pub struct RuntimeError(pub String);

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wasm runtime setup failed: {}", self.0)
    }
}

impl std::error::Error for RuntimeError {}

impl Runtime {
    /// Builds the engine and linker and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Arc<Runtime>, RuntimeError> {
        let err = |e: wasmtime::Error| RuntimeError(format!("{e:#}"));
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(config.max_instances)
            .total_memories(config.max_instances)
            .total_tables(config.max_instances)
            .total_component_instances(0)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(config.max_memory)
            // A dropped instance's memory is reset by the control thread.
            // Its first 4 MiB (where the I/O region usually is) are zeroed
            // and stay resident, so the next instance in that slot starts
            // without page faults on its region.
            .linear_memory_keep_resident(4 << 20);
        let mut c = Config::new();
        c.strategy(Strategy::Cranelift)
            .cranelift_opt_level(OptLevel::Speed)
            .signals_based_traps(true)
            .epoch_interruption(true)
            .consume_fuel(false)
            .wasm_multi_memory(false)
            .wasm_memory64(false)
            .wasm_simd(true)
            // Instance::region relies on it; the pooling allocator's slots
            // hold every memory at its cap without moving anyway.
            .memory_may_move(false)
            // .eh_frame for Wasm code only helps outside unwinders; its
            // registration is a good part of a small module's load time,
            // which a hot swap waits on.
            .native_unwind_info(false)
            .wasm_backtrace_max_frames(if config.backtraces { std::num::NonZeroUsize::new(32) } else { None })
            .parallel_compilation(config.parallel_compilation)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&c).map_err(err)?;
        let mut linker = Linker::new(&engine);
        host::define_imports(&mut linker).map_err(err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (engine, stop, tick, core) = (engine.clone(), stop.clone(), config.epoch_tick, config.ticker_core);
            std::thread::Builder::new()
                .name("fhgate-epoch".into())
                .spawn(move || {
                    if let Some(id) = core {
                        if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
                            tracing::warn!("epoch ticker: could not pin to core {id}; it runs wherever the scheduler puts it");
                        }
                    }
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| RuntimeError(format!("epoch ticker thread: {e}")))?
        };
        Ok(Arc::new(Runtime { engine, linker, config, started: Instant::now(), stop, ticker: Some(ticker) }))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with the `fhgate` imports.
    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// The settings it was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The time base of `now_ns`.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Epoch ticks to give a call so that it may run at least `d`: the
    /// deadline fires between `d` and `d` plus one tick.
    pub fn deadline_ticks(&self, d: Duration) -> u64 {
        let tick = self.config.epoch_tick.as_nanos().max(1);
        (d.as_nanos().div_ceil(tick) as u64).saturating_add(1).max(1)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allowed-CPU lists of this process's `fhgate-epoch` threads,
    /// from /proc (what `taskset -p` shows).
    fn epoch_threads_allowed() -> Vec<String> {
        let mut out = Vec::new();
        for t in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() == "fhgate-epoch" {
                let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
                if let Some(l) = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")) {
                    out.push(l.trim().to_string());
                }
            }
        }
        out
    }

    #[test]
    fn ticker_runs_on_the_core_it_is_given() {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let last = cores.last().map(|c| c.id).expect("core_affinity lists this process's cores (sched_getaffinity); without them pinning cannot be tested");
        let rt = Runtime::new(RuntimeConfig { ticker_core: Some(last), max_instances: 2, ..RuntimeConfig::default() }).unwrap();
        // The ticker pins itself as it starts.
        let t0 = Instant::now();
        while !epoch_threads_allowed().contains(&last.to_string()) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(epoch_threads_allowed().contains(&last.to_string()), "no ticker pinned to core {last}: {:?}", epoch_threads_allowed());
        drop(rt);
    }
}
