//! `fhgate-sdk`: write an fhgate translator as a Rust type; the SDK
//! implements the guest side of the ABI (translators/ABI.md, version 2).
//!
//! ```
//! use fhgate_sdk::{translator, Config, Ctx, Error, InitCtx, InitError, Packet, Translator, Verdict};
//!
//! struct Tag { vid: u16 }
//!
//! impl Translator for Tag {
//!     fn init(cfg: &Config<'_>, _ctx: &mut InitCtx) -> Result<Self, InitError> {
//!         Ok(Tag { vid: cfg.int_in("vid", 0, 4095)? as u16 })
//!     }
//!     fn translate(&mut self, pkt: &mut Packet<'_>, _ctx: &mut Ctx) -> Result<Verdict, Error> {
//!         pkt.ethernet_mut()?.set_vid(0, self.vid);
//!         Ok(Verdict::Modified)
//!     }
//! }
//!
//! translator! { name: "tag", version: "1.0.0", planes: "u,c", translator: Tag }
//! ```
//!
//! On wasm32 the macro exports `fhgate_abi_version`, `fhgate_io`,
//! `fhgate_init`, `fhgate_process` and `fhgate_unload`, and writes the
//! `fhgate.meta` custom section; the SDK imports the host functions of
//! module `fhgate` and owns the I/O region (a static) and the panic
//! handler (which logs the panic, then traps). Natively the macro exports
//! nothing, and [`native::Harness`] runs the translator on frames the way
//! the host would, for unit tests and benchmarks.
//!
//! What a translator gets:
//! - [`Packet`]: the descriptor's metadata, the bytes (editable, resizable
//!   within the slot), eCPRI messages and their U-plane/C-plane views
//!   from `ecpri`, length fix-ups, VLAN tags, and extra outputs;
//! - [`Ctx`] / [`InitCtx`]: logging, counters, the clock;
//! - [`Config`]: typed access to the `key=value` configuration;
//! - [`FlowTable`]: per-flow state without allocation;
//! - `ecpri` itself (re-exported), including the IQ codecs in `ecpri::iq`.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
extern crate std;

pub mod abi;
pub mod comp;
pub mod config;
pub mod ctx;
pub mod effect;
pub mod error;
pub mod flow;
pub mod frame;
mod macros;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod packet;
pub mod rt;
mod sys;
pub mod uplane;

#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, Value};
pub use ctx::{Counter, Ctx, InitCtx, Level};
pub use ecpri;
pub use error::{Error, InitError};
pub use flow::{FlowKey, FlowTable};
pub use frame::{Message, Transport};
pub use packet::{Direction, Packet, Plane, Verdict};

/// A translator: built from its configuration at init, then called once
/// per packet of every burst the host hands it.
pub trait Translator: Sized {
    /// Reads the configuration, defines counters, builds the state. Keys
    /// that no getter read fail the load (see [`Config::deny_unused`]).
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError>;

    /// Handles one packet. An error is counted (`errors`), logged, and
    /// handled by the `on_error` policy (see [`rt`]).
    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error>;

    /// Called before the instance is dropped (hot swap, shutdown).
    fn unload(&mut self, _ctx: &mut Ctx) {}
}
