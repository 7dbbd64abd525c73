//! What a gateway on a site carries besides fronthaul: every frame that is
//! not eCPRI crosses between the two ports unchanged and in order (PTP,
//! ARP, IP for the M-plane, LLDP, anything else), as the `[passthrough]`
//! policy allows, counted per class; PTP event messages get their
//! residence time added to correctionField, as an IEEE 1588 end-to-end
//! transparent clock does.
//!
//! `ptp` is the PTP header (view and `Repr`), `tc` the transparent clock
//! and `locate` the sorting of a frame into its class and the finding of
//! its PTP message (all three in `ecpri::ptp`, re-exported here);
//! `stats` the counters and histograms, `direction` the hooks a pipeline
//! direction calls on receive and before sending.

pub mod direction;
pub mod stats;

// The PTP header, the transparent clock and the sorting of frames live in
// the wire crate (no wasmtime), so they fuzz cheaply (ecpri/fuzz `ptp`).
pub use ecpri::ptp::locate::{locate, Class, Located, PtpAt, CLASSES, PTP_EVENT_PORT, PTP_GENERAL_PORT};
pub use ecpri::ptp::{self, tc};

/// Which classes cross the gateway (`[passthrough]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passthrough {
    allow: [bool; CLASSES],
}

impl Default for Passthrough {
    fn default() -> Self {
        Passthrough::all()
    }
}

impl Passthrough {
    /// Every class crosses (the default).
    pub const fn all() -> Passthrough {
        Passthrough { allow: [true; CLASSES] }
    }

    /// Nothing but fronthaul crosses.
    pub const fn none() -> Passthrough {
        Passthrough { allow: [false; CLASSES] }
    }

    /// Only `classes` cross.
    pub fn only(classes: &[Class]) -> Passthrough {
        let mut p = Passthrough::none();
        for c in classes {
            p.allow[*c as usize] = true;
        }
        p
    }

    /// Whether frames of `c` cross.
    #[inline]
    pub fn allows(&self, c: Class) -> bool {
        self.allow[c as usize]
    }

    /// The classes that cross, by name, for logs.
    pub fn describe(&self) -> String {
        match self.allow.iter().filter(|a| **a).count() {
            0 => "none".into(),
            CLASSES => "all".into(),
            _ => Class::ALL.iter().filter(|c| self.allows(**c)).map(|c| c.name()).collect::<Vec<_>>().join(", "),
        }
    }
}

/// How a direction bridges what is not fronthaul.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeSpec {
    /// Which classes cross.
    pub passthrough: Passthrough,
    /// The transparent clock's mode.
    pub tc: tc::TcMode,
    /// Whether receive timestamps are this host's clock (live ports): the
    /// transparent clock needs them; capture timestamps are not.
    pub live_clock: bool,
}

#[cfg(test)]
mod tests;
