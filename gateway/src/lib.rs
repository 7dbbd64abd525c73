//! The `fhgate` library: the parts of the gateway that benchmarks and
//! integration tests use directly (the binary is `src/main.rs`).

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod bridge;
pub mod classify;
pub mod diff;
pub mod config;
pub mod control;
pub mod io;
pub mod logging;
pub mod metrics;
pub mod packet;
pub mod plan;
pub mod pipeline;
pub mod profile;
pub mod signals;
pub mod timing;
pub mod traffic;
pub mod translate;
