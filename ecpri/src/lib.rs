//! `ecpri`: a zero-copy codec for eCPRI 2.0 and the O-RAN 7.2x CUS-plane.
//!
//! Every layer follows the same shape (after smoltcp's `wire` module):
//! a `mod field` with the byte ranges, a `Packet<T: AsRef<[u8]>>` view
//! whose `new_checked` validates lengths once, a plain `Repr` with
//! `parse`, `buffer_len` and `emit`, and byte-exact tests. Bytes the codec
//! does not understand (reserved bits, unknown extensions, padding) stay
//! in the buffer and round-trip untouched.
//!
//! The crate is `no_std`; `alloc` adds message-level `Repr`s that own
//! their section lists, and `std` adds `std::error::Error`.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod bits;
pub mod comp_hdr;
pub mod cplane;
pub mod eaxc;
pub mod error;
pub mod ethernet;
pub mod fields;
pub mod frame;
pub mod header;
pub mod ip;
pub mod iq;
pub mod owd;
pub mod ptp;
#[cfg(feature = "alloc")]
pub mod samples;
pub mod seq_id;
pub mod uplane;

pub use comp_hdr::{CompMethod, UdCompHdr};
pub use eaxc::{EaxcId, EaxcLayout};
pub use error::{Error, Result};
pub use seq_id::SeqId;
