//! One instance of a translator: its `Store` (memory cap, epoch
//! deadline), the `TypedFunc`s looked up once at instantiation, and
//! access to its I/O region. Instantiate + Init of ABI.md §2 happen in
//! [`Instance::new`]; the hot path is [`Instance::region`] and
//! [`Instance::process`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Memory, Store, StoreLimitsBuilder, Trap, TypedFunc};

use super::abi::{self, ABI_VERSION, IO_REGION_SIZE, SLOTS_AT};
use super::host::{HostState, Phase, Shared};
use super::module::TranslatorModule;

/// Per-translator limits (ABI.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on linear memory, bytes.
    pub memory: usize,
    /// Deadline of one `fhgate_process` call.
    pub deadline: Duration,
    /// Deadline of instantiation checks plus `fhgate_init`, and of `fhgate_unload`.
    pub init_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory: 16 << 20, deadline: Duration::from_millis(1), init_deadline: Duration::from_millis(100) }
    }
}

/// The kinds of fault (ABI.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A trap (the trap code), or a host function's error.
    Trap(Option<Trap>),
    /// The epoch deadline passed.
    Deadline,
    /// Bad output (what was wrong).
    BadOutput(BadOutput),
}

/// What was wrong with a translator's output. `n` is the input count,
/// `desc` the descriptor at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BadOutput {
    /// The result was not in `n..=128`.
    ResultCount { n: usize, result: i32 },
    /// A verdict not allowed on that descriptor.
    Verdict { desc: usize, verdict: u8 },
    /// `len` was 0 or beyond the capacity.
    Len { desc: usize, len: u32 },
    /// `offset..offset + len` leaves the region.
    Range { desc: usize, offset: u32, len: u32 },
    /// An extra's origin was not an input.
    Origin { desc: usize, origin: u16 },
    /// A U-plane message that contradicts the translator's declared
    /// effects (ABI.md §6), found by egress: `field` at byte `offset`.
    Undeclared { field: &'static str, offset: usize },
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Trap(Some(t)) => write!(f, "{t}"),
            FaultKind::Trap(None) => write!(f, "wasm trap in a host call"),
            FaultKind::Deadline => write!(f, "missed its deadline"),
            FaultKind::BadOutput(b) => write!(f, "bad output: {b}"),
        }
    }
}

impl fmt::Display for BadOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadOutput::ResultCount { n, result } => write!(f, "fhgate_process({n}) returned {result}, not in {n}..=128"),
            BadOutput::Verdict { desc, verdict } => write!(f, "descriptor {desc} has verdict {verdict} ({})", abi::verdict::name(verdict)),
            BadOutput::Len { desc, len } => write!(f, "descriptor {desc} has len {len}, not in 1..=16384"),
            BadOutput::Range { desc, offset, len } => write!(f, "descriptor {desc}: packet {offset}..{} leaves the I/O region", offset as u64 + len as u64),
            BadOutput::Origin { desc, origin } => write!(f, "extra descriptor {desc} has origin {origin}, not an input"),
            BadOutput::Undeclared { field, offset } => write!(f, "a U-plane message contradicts its declared effects ({field} at byte {offset}, found by egress)"),
        }
    }
}

impl FaultKind {
    /// Classifies the error of a guest call.
    fn of(e: &wasmtime::Error) -> FaultKind {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => FaultKind::Deadline,
            Some(t) => FaultKind::Trap(Some(*t)),
            None => FaultKind::Trap(None),
        }
    }
}

/// Why an instance could not be made ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceError {
    /// Instantiation failed (memory cap, pool exhausted, start function trap).
    Instantiate(String),
    /// `fhgate_abi_version` returned another version.
    AbiVersion(i32),
    /// `fhgate_io` returned an unusable region.
    Region(String),
    /// The configuration does not fit in the slot area.
    ConfigTooLarge(usize),
    /// `fhgate_init` returned an error code.
    Init(i32),
    /// A guest call faulted during instantiation.
    Fault(&'static str, FaultKind),
    /// The module's memory starts larger than the memory cap allows.
    MemoryCap {
        /// Bytes the module declares as its memory's minimum.
        minimum: u64,
        /// The cap ([`Limits::memory`]), bytes.
        cap: usize,
    },
}

impl fmt::Display for InstanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceError::Instantiate(e) => write!(f, "instantiation failed: {e}"),
            InstanceError::AbiVersion(1) => write!(
                f,
                "fhgate_abi_version returned 1: the translator was built for ABI version 1, whose packet slots lie \
                 16 384 bytes apart; this host speaks ABI version {ABI_VERSION} (slots 16 448 bytes apart): rebuild it \
                 with the current SDK"
            ),
            InstanceError::AbiVersion(v) => write!(f, "fhgate_abi_version returned {v}; this host speaks ABI version {ABI_VERSION}"),
            InstanceError::Region(e) => write!(f, "fhgate_io: {e}"),
            InstanceError::ConfigTooLarge(n) => write!(f, "configuration of {n} bytes does not fit in the packet slot area"),
            InstanceError::Init(c) => write!(f, "fhgate_init returned error code {c}"),
            InstanceError::Fault(call, k) => write!(f, "{call} faulted: {k}"),
            InstanceError::MemoryCap { minimum, cap } => {
                write!(f, "its memory starts at {minimum} bytes, above the memory cap of {cap} bytes (raise memory_limit_mib)")
            }
        }
    }
}

impl std::error::Error for InstanceError {}

/// A ready instance: instantiated, checked, initialised.
pub struct Instance {
    store: Store<HostState>,
    memory: Memory,
    process: TypedFunc<i32, i32>,
    unload: Option<TypedFunc<(), ()>>,
    region: usize,
    /// Host address of the region, its pointer's provenance exposed (an
    /// address keeps `Instance` `Send`). Looking the memory up through the
    /// store costs a chain of dependent loads, three times a call.
    region_host: usize,
    deadline_ticks: u64,
    unload_ticks: u64,
}

impl Instance {
    /// Instantiates `module` from its `InstancePre`, checks the ABI version
    /// and the region, writes the region header and `config`, and calls
    /// `fhgate_init` (ABI.md §2 steps 2–3).
    pub fn new(module: &TranslatorModule, limits: &Limits, shared: Arc<Shared>, config: &[u8]) -> Result<Instance, InstanceError> {
        let rt = module.runtime();
        // A memory whose minimum is above the cap can never be made: say so, rather than
        // whatever the allocator's refusal reads like.
        for e in module.pre().module().exports() {
            if let wasmtime::ExternType::Memory(m) = e.ty() {
                let minimum = m.minimum().saturating_mul(m.page_size());
                if minimum > limits.memory as u64 {
                    return Err(InstanceError::MemoryCap { minimum, cap: limits.memory });
                }
            }
        }
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory)
            .memories(1)
            .tables(1)
            .instances(1)
            .trap_on_grow_failure(false)
            .build();
        let mut store = Store::new(rt.engine(), HostState::new(store_limits, shared, rt.started()));
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        let init_ticks = rt.deadline_ticks(limits.init_deadline);
        store.set_epoch_deadline(init_ticks);
        let inst_err = |e: wasmtime::Error| InstanceError::Instantiate(format!("{e:#}"));
        let instance = module.pre().instantiate(&mut store).map_err(inst_err)?;
        // The module was checked at load: these exist with these types.
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| InstanceError::Instantiate("no memory export".into()))?;
        let abi_version = instance.get_typed_func::<(), i32>(&mut store, "fhgate_abi_version").map_err(inst_err)?;
        let io = instance.get_typed_func::<(), i32>(&mut store, "fhgate_io").map_err(inst_err)?;
        let init = instance.get_typed_func::<(i32, i32), i32>(&mut store, "fhgate_init").map_err(inst_err)?;
        let process = instance.get_typed_func::<i32, i32>(&mut store, "fhgate_process").map_err(inst_err)?;
        let unload = if module.has_unload() { Some(instance.get_typed_func::<(), ()>(&mut store, "fhgate_unload").map_err(inst_err)?) } else { None };
        store.data_mut().memory = Some(memory);

        let fault = |call| move |e: wasmtime::Error| InstanceError::Fault(call, FaultKind::of(&e));
        let v = abi_version.call(&mut store, ()).map_err(fault("fhgate_abi_version"))?;
        if v != ABI_VERSION as i32 {
            return Err(InstanceError::AbiVersion(v));
        }
        let region = io.call(&mut store, ()).map_err(fault("fhgate_io"))? as u32 as usize;
        let size = memory.data_size(&store);
        if !region.is_multiple_of(8) {
            return Err(InstanceError::Region(format!("region address {region:#x} is not 8-byte aligned")));
        }
        if region.checked_add(IO_REGION_SIZE).is_none_or(|end| end > size) {
            return Err(InstanceError::Region(format!(
                "region {region:#x}..{:#x} ({IO_REGION_SIZE} bytes) is not inside the {size}-byte memory",
                region as u64 + IO_REGION_SIZE as u64
            )));
        }
        if config.len() > IO_REGION_SIZE - SLOTS_AT {
            return Err(InstanceError::ConfigTooLarge(config.len()));
        }
        let mem = &mut memory.data_mut(&mut store)[region..region + IO_REGION_SIZE];
        // Touch every page of the region now (off the hot core when the
        // control thread instantiates), so the first burst after a swap
        // does not take a page fault per slot. The value is kept: black_box
        // only stops the store from being optimised away.
        for at in (0..IO_REGION_SIZE).step_by(4096) {
            mem[at] = std::hint::black_box(mem[at]);
        }
        abi::write_header(mem);
        mem[SLOTS_AT..SLOTS_AT + config.len()].copy_from_slice(config);
        store.set_epoch_deadline(init_ticks);
        let cfg_ptr = (region + SLOTS_AT) as i32;
        let rc = init.call(&mut store, (cfg_ptr, config.len() as i32)).map_err(fault("fhgate_init"))?;
        if rc != 0 {
            return Err(InstanceError::Init(rc));
        }
        store.data_mut().phase = Phase::Process;
        let region_host = memory.data_ptr(&store).wrapping_add(region).expose_provenance();
        Ok(Instance {
            store,
            memory,
            process,
            unload,
            region,
            region_host,
            deadline_ticks: rt.deadline_ticks(limits.deadline),
            unload_ticks: init_ticks,
        })
    }

    /// The I/O region, `IO_REGION_SIZE` bytes.
    #[inline]
    pub fn region(&mut self) -> &mut [u8; IO_REGION_SIZE] {
        // SAFETY: the region was checked inside the memory at
        // instantiation; memories never shrink, and never move (the runtime
        // sets `memory_may_move(false)`), so the address stays valid while
        // the store lives, which is as long as `self`. The guest touches the
        // memory only inside `process`, which also takes `&mut self`: this
        // borrow is the only access while it lasts.
        unsafe { &mut *std::ptr::with_exposed_provenance_mut::<[u8; IO_REGION_SIZE]>(self.region_host) }
    }

    /// Calls `fhgate_process(n)` under the burst deadline.
    #[inline]
    pub fn process(&mut self, n: usize) -> Result<i32, FaultKind> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        self.process.call(&mut self.store, n as i32).map_err(|e| FaultKind::of(&e))
    }

    /// Calls `fhgate_unload` if exported (ABI.md §2 step 5), then drops
    /// the instance. For the control thread: never on the hot core.
    pub fn unload(mut self) {
        if let Some(u) = self.unload.take() {
            self.store.set_epoch_deadline(self.unload_ticks);
            if let Err(e) = u.call(&mut self.store, ()) {
                let shared = self.store.data().shared.clone();
                shared.log(super::host::Level::Warn, format_args!("fhgate_unload faulted: {}", FaultKind::of(&e)));
            }
        }
    }

    /// Address of the region in linear memory.
    pub fn region_addr(&self) -> usize {
        self.region
    }

    /// Current size of the linear memory.
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}
