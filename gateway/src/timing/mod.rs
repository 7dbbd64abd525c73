//! Fronthaul timing: the over-the-air time of C-plane and U-plane
//! messages against the GPS epoch ([`ota`]), and where each message
//! arrives against its receive window.

pub mod extract;
pub mod live;
pub mod owd;
pub mod owd_link;
pub mod owd_run;
pub mod ota;
pub mod report;
pub mod window;

pub use extract::{message_timing, MsgTiming, NoTiming, Plane};
pub use ota::{AirTime, OtaClock, OtaError, Reference};
pub use window::{Bounds, Class, WindowKind, Windows};
