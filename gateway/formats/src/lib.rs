//! The input formats of fhgate that need nothing of the translator host:
//! capture files (pcap and pcapng, with the link types a fronthaul capture
//! comes in) and the `key=value` lists that configure translators.
//!
//! They live in a crate of their own so that fuzz targets (`gateway/fuzz`)
//! build them without wasmtime; the `fhgate` crate re-exports them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod pairs;
