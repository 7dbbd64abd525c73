//! The wasmtime host for translators (translators/ABI.md, ABI v2): load,
//! limits, fault policy, chains, hot swap.
//!
//! Set-up happens once, off the hot path:
//! 1. [`Runtime::new`]: one `Engine` (Cranelift, signals-based traps, the
//!    pooling allocator, epoch interruption, no fuel), the `Linker` with
//!    the `fhgate` imports, and the epoch ticker thread.
//! 2. [`TranslatorModule::load`]: checks a `.wasm`/`.wat` against the ABI,
//!    compiles it once and keeps its `InstancePre`.
//! 3. [`TranslatorSpec`]: a module plus its configuration, limits and
//!    fault policy; [`ChainSpec`]: a [`Selector`] plus translators in order.
//! 4. [`WorkerHost::new`]: per pipeline worker, instantiates every
//!    translator and returns the worker's [`Control`] (hot swap, reaping).
//!
//! Per burst, the worker calls [`WorkerHost::process`] with a [`Burst`] of
//! classified [`Packet`]s and its [`BufPool`]: for each chain stage it
//! copies the packets that stage wants into the translator's I/O region
//! (only those: others bypass it untouched), calls `fhgate_process` through
//! a `TypedFunc` found at instantiation, checks the output and uses all of
//! it or none. Forwarded packets are never copied back; modified ones are.
//!
//! A trap, a missed deadline or bad output is a fault: counted, the
//! packets handled by the translator's [`FaultPolicy`], the instance
//! replaced from its `InstancePre`; N faults within T disable the
//! translator, and its log says so at error level.

pub mod abi;
pub mod burst;
pub mod chain;
pub mod effect;
pub mod engine;
pub mod fault;
pub mod host;
pub mod instance;
pub mod meta;
pub mod module;
pub mod summary;
pub mod shadow;
pub mod swap;
pub mod translator;
pub mod worker;

pub use burst::{BufPool, Burst, Packet, PacketBuf, BURST_CAPACITY, BURST_MAX_IN, PACKET_CAPACITY};
pub use chain::{ChainSpec, FlowMask, Selector};
pub use engine::{Runtime, RuntimeConfig};
pub use fault::{FaultLimit, FaultPolicy};
pub use effect::{Effect, Field, Format, Scope};
pub use host::{Declared, Level, LogSink, MemoryLog, Shared, Stats, StderrLog};
pub use instance::{BadOutput, FaultKind, Instance, InstanceError, Limits};
pub use meta::Metadata;
pub use module::{LoadError, TranslatorModule};
pub use summary::TranslatorSummary;
pub use swap::{Control, Installed, StagePlan, SwapError};
pub use translator::{parse_config_pairs, serialize_config, Translator, TranslatorSpec};
pub use worker::{BurstReport, WorkerHost};
