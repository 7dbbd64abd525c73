//! The packet pipeline: per direction, RX → classify → translator chain →
//! egress → TX, on pinned workers joined by lock-free SPSC rings.

pub mod egress;
pub mod pinning;
pub mod polling;
pub mod pool;
pub mod runner;
pub mod stats;
