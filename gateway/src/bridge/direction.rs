//! The bridge's two hooks in a pipeline direction: on receive, the
//! passthrough policy and the receive counters; just before a frame is
//! sent, the transmit counters, the added delay and the transparent clock.
//! Fronthaul frames (eCPRI, malformed ones included) pass both untouched;
//! only frames that did not classify as eCPRI are looked at.

use std::time::Instant;

use super::stats::BridgeStats;
use super::tc::{TcMode, TransparentClock};
use super::{locate, BridgeSpec, Passthrough};

/// The receive hook of one direction.
#[derive(Debug, Clone)]
pub struct BridgeRx {
    policy: Passthrough,
    udp_port: Option<u16>,
    dir: usize,
}

impl BridgeRx {
    /// The hook for direction `port_direction` (1: DL), whose eCPRI UDP port is `udp_port`.
    pub fn new(spec: &BridgeSpec, udp_port: Option<u16>, port_direction: u8) -> BridgeRx {
        BridgeRx { policy: spec.passthrough, udp_port, dir: (port_direction & 1) as usize }
    }

    /// Whether a frame that did not classify as eCPRI crosses: fronthaul
    /// (malformed eCPRI) always does, anything else as the policy says.
    /// Counts it by class as received, and as blocked when it does not.
    #[inline]
    pub fn admit(&self, frame: &[u8], stats: &mut BridgeStats) -> bool {
        let Some(l) = locate(frame, self.udp_port) else { return true };
        let c = l.class as usize;
        stats.rx[self.dir][c] += 1;
        let pass = self.policy.allows(l.class);
        if !pass {
            stats.blocked[self.dir][c] += 1;
        }
        pass
    }
}

/// The transmit hook of one direction.
#[derive(Debug, Clone)]
pub struct BridgeTx {
    tc: TransparentClock,
    /// Receive timestamps are this host's clock, so residence times mean something.
    live_clock: bool,
    udp_port: Option<u16>,
    dir: usize,
    t0: Instant,
}

impl BridgeTx {
    /// The hook for direction `port_direction`; `t0` is the pipeline's
    /// start, which packets' `arrival_ns` count from.
    pub fn new(spec: &BridgeSpec, udp_port: Option<u16>, port_direction: u8, t0: Instant) -> BridgeTx {
        let mode = if spec.live_clock { spec.tc } else { TcMode::Off };
        BridgeTx { tc: TransparentClock::new(mode), live_clock: spec.live_clock, udp_port, dir: (port_direction & 1) as usize, t0 }
    }

    /// Notes in `stats` that this direction runs the transparent clock (once, at start).
    pub fn announce(&self, stats: &mut BridgeStats) {
        if self.live_clock && self.tc.mode() != TcMode::Off {
            stats.tc_mode[self.dir] = Some(self.tc.mode());
        }
    }

    /// Called for a frame that did not classify as eCPRI, just before it
    /// is sent: counts it, records its added delay since `arrival_ns`, and
    /// runs the transparent clock on a PTP message received at `rx_ns`
    /// (ns since the Unix epoch, the port's receive timestamp).
    #[inline]
    pub fn before_send(&mut self, frame: &mut [u8], rx_ns: u64, arrival_ns: u64, stats: &mut BridgeStats) {
        let Some(l) = locate(frame, self.udp_port) else { return };
        let d = self.dir;
        stats.tx[d][l.class as usize] += 1;
        if let Some(at) = l.ptp {
            if self.tc.mode() != TcMode::Off {
                // The egress timestamp: as late as software can take it.
                let tx_ns = crate::io::live::unix_ns();
                if let Some(o) = self.tc.on_egress(frame, at, rx_ns, tx_ns) {
                    stats.note_tc(d, o);
                }
            }
        }
        let now = Instant::now().saturating_duration_since(self.t0).as_nanos() as u64;
        let _ = stats.delay[d].record(now.saturating_sub(arrival_ns).max(1));
    }
}
