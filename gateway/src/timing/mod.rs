//! Fronthaul timing: the over-the-air time of C-plane and U-plane
//! messages against the GPS epoch ([`ota`]), and where each message
//! arrives against its receive window.

pub mod ota;

pub use ota::{AirTime, OtaClock, OtaError, Reference};
