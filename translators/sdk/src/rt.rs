//! The runtime behind the exports: init (config, the SDK's own keys and
//! counters, the translator's `init`, unknown keys), the per-burst loop
//! over descriptors, and unload. The same code runs on wasm32 (through
//! the statics and exports that [`crate::translator!`] generates) and
//! natively (through [`crate::native::Harness`]).
//!
//! Keys every translator accepts, handled here:
//! - `on_error = "forward" | "drop"` (default `"forward"`): what happens to
//!   a packet whose `translate` returned an error. `forward` sends it as
//!   received (an edit made through [`Packet::rebuild`] or
//!   [`Packet::rewrite_messages`] is undone from the rebuild's copy); an
//!   edited packet that cannot be put back is dropped. Extras it emitted
//!   before the error are sent.
//!
//! Counters every translator has: `errors` (packets whose `translate`
//! returned an error).

use crate::abi::{slot_offset, IoRegion, MAX_IN, SLOT_SIZE};
use crate::config::Config;
use crate::ctx::{log_args, Counter, Ctx, InitCtx, Level};
use crate::error::InitError;
use crate::packet::{Packet, Verdict};
use crate::Translator;

/// What happens to a packet whose `translate` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Send it as received (dropped if it was edited beyond repair).
    Forward,
    /// Drop it.
    Drop,
}

/// A translator after a successful init, with the SDK's own settings.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The translator's state.
    pub translator: T,
    on_error: OnError,
    errors: Counter,
}

/// Runs init over the configuration text; logs the error, if any.
pub fn init<T: Translator>(cfg_text: &mut [u8]) -> Result<Loaded<T>, InitError> {
    let r = init_inner::<T>(cfg_text);
    if let Err(e) = &r {
        log_args(Level::Error, format_args!("init failed: {e}"));
    }
    r
}

fn init_inner<T: Translator>(cfg_text: &mut [u8]) -> Result<Loaded<T>, InitError> {
    let mut ctx = InitCtx::new();
    let cfg = Config::parse(cfg_text)?;
    let on_error = match cfg.choice("on_error", &["forward", "drop"], 0)? {
        0 => OnError::Forward,
        _ => OnError::Drop,
    };
    let errors = ctx.counter("errors")?;
    let translator = T::init(&cfg, &mut ctx)?;
    cfg.deny_unused()?;
    Ok(Loaded { translator, on_error, errors })
}

/// Handles one burst of `n` inputs in `region`; returns the number of
/// output descriptors (`n` plus the extras).
///
/// An input whose descriptor does not describe its own slot (as ABI.md §3
/// promises) is left as the host set it, `FORWARD`.
pub fn process<T: Translator>(l: &mut Loaded<T>, region: &mut IoRegion, scratch: &mut [u8; SLOT_SIZE], n: i32) -> i32 {
    if n < 1 || n as usize > MAX_IN {
        return n;
    }
    let n = n as usize;
    let (ins, outs) = region.descriptors.split_at_mut(n);
    let (in_slots, out_slots) = region.slots.split_at_mut(n);
    let mut used = 0;
    let mut ctx = Ctx::new();
    for (i, (d, slot)) in ins.iter_mut().zip(in_slots.iter_mut()).enumerate() {
        let sane = d.offset as usize == slot_offset(i)
            && d.capacity as usize <= SLOT_SIZE
            && d.len <= d.capacity
            && d.len > 0
            && (d.ecpri_offset as u32) < d.len;
        if !sane {
            continue;
        }
        let mut pkt = Packet::new(i, d, &mut slot.bytes, scratch, n + used, &mut outs[used..], &mut out_slots[used..]);
        let verdict = match l.translator.translate(&mut pkt, &mut ctx) {
            Ok(v) => v,
            Err(e) => {
                ctx.inc(l.errors);
                ctx.logf(Level::Warn, format_args!("packet {i}: {e}"));
                match l.on_error {
                    OnError::Forward if pkt.restore_original() => Verdict::Forward,
                    _ => Verdict::Drop,
                }
            }
        };
        if verdict != Verdict::Drop && pkt.is_modified() {
            pkt.refresh_checksums();
        }
        pkt.finish(verdict);
        used += pkt.extras();
    }
    (n + used) as i32
}

/// Calls the translator's `unload`.
pub fn unload<T: Translator>(mut l: Loaded<T>) {
    l.translator.unload(&mut Ctx::new());
}

/// The metadata text as a byte array, for the `fhgate.meta` custom section.
pub const fn meta_bytes<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(b.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[i];
        i += 1;
    }
    out
}

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::cell::UnsafeCell;

    use super::*;
    use crate::abi::IO_REGION_SIZE;

    /// The I/O region: a zero-initialised static (in `.bss`, so it costs
    /// no bytes in the module).
    struct RegionCell(UnsafeCell<IoRegion>);
    /// The rebuild scratch buffer of [`Packet::rebuild`].
    struct ScratchCell(UnsafeCell<[u8; SLOT_SIZE]>);

    // SAFETY: wasm32 without the threads proposal runs one thread; the
    // host never calls an export while another runs, so each export has
    // exclusive use of these cells for its duration.
    unsafe impl Sync for RegionCell {}
    // SAFETY: as for `RegionCell`.
    unsafe impl Sync for ScratchCell {}

    static REGION: RegionCell = RegionCell(UnsafeCell::new(IoRegion::ZERO));
    static SCRATCH: ScratchCell = ScratchCell(UnsafeCell::new([0; SLOT_SIZE]));

    /// `fhgate_io`: the region's address.
    pub fn io_address() -> i32 {
        REGION.0.get() as usize as i32
    }

    /// The state of one translator instance.
    pub struct Instance<T> {
        state: UnsafeCell<Option<Loaded<T>>>,
    }

    // SAFETY: single-threaded, non-reentrant exports, as for `RegionCell`.
    unsafe impl<T> Sync for Instance<T> {}

    impl<T: Translator> Instance<T> {
        /// No translator loaded yet.
        pub const fn new() -> Self {
            Instance { state: UnsafeCell::new(None) }
        }

        /// `fhgate_init(cfg_ptr, cfg_len)`.
        ///
        /// # Safety
        /// Called only from the export, never re-entered.
        pub unsafe fn init(&self, ptr: i32, len: i32) -> i32 {
            let base = io_address() as usize;
            let (p, n) = (ptr as u32 as usize, len as u32 as usize);
            if p < base || n > IO_REGION_SIZE || p - base > IO_REGION_SIZE - n {
                log_args(Level::Error, format_args!("init failed: config at {p} (+{n}) is outside the I/O region"));
                return InitError::Other("").code();
            }
            // SAFETY: the range lies inside REGION (checked above), which
            // nothing else borrows during init; the host wrote it before the call.
            let cfg = unsafe { core::slice::from_raw_parts_mut(p as *mut u8, n) };
            // SAFETY: exclusive use during this export (see `Sync`).
            let state = unsafe { &mut *self.state.get() };
            if let Some(old) = state.take() {
                unload(old);
            }
            match init::<T>(cfg) {
                Ok(l) => {
                    *state = Some(l);
                    0
                }
                Err(e) => e.code(),
            }
        }

        /// `fhgate_process(n)`.
        ///
        /// # Safety
        /// Called only from the export, never re-entered.
        pub unsafe fn process(&self, n: i32) -> i32 {
            // SAFETY: exclusive use of the state, the region and the
            // scratch buffer during this export (see `Sync`).
            let (state, region, scratch) =
                unsafe { (&mut *self.state.get(), &mut *REGION.0.get(), &mut *SCRATCH.0.get()) };
            match state {
                Some(l) => process(l, region, scratch, n),
                // Not initialised: leave every input as FORWARD.
                None => n,
            }
        }

        /// `fhgate_unload()`.
        ///
        /// # Safety
        /// Called only from the export, never re-entered.
        pub unsafe fn unload(&self) {
            // SAFETY: exclusive use during this export (see `Sync`).
            if let Some(l) = unsafe { &mut *self.state.get() }.take() {
                unload(l);
            }
        }
    }

    #[cfg(not(test))]
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        log_args(Level::Error, format_args!("panic: {info}"));
        core::arch::wasm32::unreachable()
    }

    #[cfg(feature = "alloc")]
    #[global_allocator]
    static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
}
