//! `[owd]`: one-way delay measured by `fhgate run` towards the DU and the
//! RU with eCPRI message type 5 (timing/owd_run.rs):
//!
//! ```toml
//! [owd]
//! interval_ms = 1000    # one measurement per side per interval
//! timeout_ms = 100      # an answer later than this is counted late, never used
//! mode = "request"      # or "follow_up", "remote"
//! du = true             # towards the DU: true (to the broadcast address) or its MAC
//! ru = "02:00:00:00:20:01"
//! ```
//!
//! A side left out (or `false`) is not measured. Only live Ethernet ports
//! (af_xdp, af_packet) carry it: the gateway sends from the port's own MAC
//! and takes the answers addressed to it.

use serde::Deserialize;

use super::{err, Backend, ConfigError, Side};
use crate::timing::owd::Mode;

/// `[owd]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwdConfig {
    /// Time between measurements on each side, ms.
    pub interval_ms: u64,
    /// An answer later than this is late: counted, never used, ms.
    pub timeout_ms: u64,
    /// How a measurement is made.
    pub mode: Mode,
    /// Destination MAC towards the DU, if measured there.
    pub du: Option<[u8; 6]>,
    /// Destination MAC towards the RU, if measured there.
    pub ru: Option<[u8; 6]>,
}

/// `[owd]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOwd {
    #[serde(default = "default_interval")]
    interval_ms: u64,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_mode")]
    mode: String,
    du: Option<toml::Value>,
    ru: Option<toml::Value>,
}

fn default_interval() -> u64 {
    1000
}
fn default_timeout() -> u64 {
    100
}
fn default_mode() -> String {
    "request".into()
}

/// The broadcast address: a point-to-point fronthaul link has one peer.
pub const BROADCAST: [u8; 6] = [0xFF; 6];

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// One side's key: `true` (broadcast), `false` (not measured) or a unicast MAC.
fn peer(v: Option<toml::Value>, key: &str, side: &Side) -> Result<Option<[u8; 6]>, ConfigError> {
    let mac = match v {
        None | Some(toml::Value::Boolean(false)) => return Ok(None),
        Some(toml::Value::Boolean(true)) => BROADCAST,
        Some(toml::Value::String(s)) => match parse_mac(&s) {
            Some(m) if m[0] & 1 == 0 => m,
            Some(_) => return err(key, format!("`{s}` is a multicast address; give the peer's unicast MAC, or true for broadcast")),
            None => return err(key, format!("`{s}` is not a MAC address (aa:bb:cc:dd:ee:ff)")),
        },
        Some(v) => return err(key, format!("{v}: expected true, false or the peer's MAC \"aa:bb:cc:dd:ee:ff\"")),
    };
    if !matches!(side.backend, Backend::AfXdp(_) | Backend::AfPacket(_)) {
        return err(key, format!("this side's backend is {}; one-way delay needs an af_xdp or af_packet port", side.backend.name()));
    }
    Ok(Some(mac))
}

impl RawOwd {
    /// Validates against the two sides (the ports the messages go out of).
    pub(super) fn validate(self, du: &Side, ru: &Side) -> Result<OwdConfig, ConfigError> {
        if !(10..=60_000).contains(&self.interval_ms) {
            return err("owd.interval_ms", format!("{} ms is outside 10-60000", self.interval_ms));
        }
        // An ID (256 of them) is reused only after every other was; an
        // answer that could still come then would be taken for the new one.
        let most = (255 * self.interval_ms).min(60_000);
        if !(1..=most).contains(&self.timeout_ms) {
            return err("owd.timeout_ms", format!("{} ms is outside 1-{most} (at most 255 intervals, 60 s)", self.timeout_ms));
        }
        let mode = match self.mode.as_str() {
            "request" => Mode::Request,
            "follow_up" => Mode::FollowUp,
            "remote" => Mode::Remote,
            other => return err("owd.mode", format!("`{other}`: expected request, follow_up or remote")),
        };
        let du_mac = peer(self.du, "owd.du", du)?;
        let ru_mac = peer(self.ru, "owd.ru", ru)?;
        if du_mac.is_none() && ru_mac.is_none() {
            return err("owd.du", "neither du nor ru is measured: set du = true, ru = true or a peer's MAC");
        }
        Ok(OwdConfig { interval_ms: self.interval_ms, timeout_ms: self.timeout_ms, mode, du: du_mac, ru: ru_mac })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    const LIVE: &str = "[du]\nbackend = \"af_packet\"\ninterface = \"a\"\n[ru]\nbackend = \"af_xdp\"\ninterface = \"b\"\n";

    fn load(sides: &str, owd: &str) -> Result<GatewayConfig, String> {
        GatewayConfig::from_toml(&format!("{sides}{owd}")).map_err(|e| e.to_string())
    }

    #[test]
    fn sides_modes_and_defaults_are_read() {
        assert_eq!(load(LIVE, "").unwrap().owd, None);
        let o = load(LIVE, "[owd]\ndu = true\nru = \"02:00:00:00:20:01\"\n").unwrap().owd.unwrap();
        assert_eq!(o, OwdConfig { interval_ms: 1000, timeout_ms: 100, mode: Mode::Request, du: Some(BROADCAST), ru: Some([2, 0, 0, 0, 0x20, 1]) });
        let o = load(LIVE, "[owd]\nru = true\ndu = false\nmode = \"remote\"\ninterval_ms = 20\ntimeout_ms = 5000\n").unwrap().owd.unwrap();
        assert_eq!((o.mode, o.du, o.interval_ms, o.timeout_ms), (Mode::Remote, None, 20, 5000));
        assert_eq!(load(LIVE, "[owd]\ndu = true\nmode = \"follow_up\"\n").unwrap().owd.unwrap().mode, Mode::FollowUp);
    }

    #[test]
    fn bad_keys_are_named() {
        let pcap = "[du]\nbackend = \"pcap\"\ninput = \"a.pcap\"\n[ru]\nbackend = \"pcap\"\noutput = \"b.pcap\"\n";
        for (sides, text, want) in [
            (LIVE, "[owd]\n", "owd.du: neither du nor ru is measured"),
            (LIVE, "[owd]\ndu = true\nmode = \"two_way\"\n", "owd.mode: `two_way`: expected request, follow_up or remote"),
            (LIVE, "[owd]\ndu = true\ninterval_ms = 5\n", "owd.interval_ms: 5 ms is outside 10-60000"),
            (LIVE, "[owd]\ndu = true\ninterval_ms = 10\ntimeout_ms = 2551\n", "owd.timeout_ms: 2551 ms is outside 1-2550"),
            (LIVE, "[owd]\ndu = true\ntimeout_ms = 0\n", "owd.timeout_ms"),
            (LIVE, "[owd]\nru = \"02:00:00:00:20\"\n", "owd.ru: `02:00:00:00:20` is not a MAC address"),
            (LIVE, "[owd]\nru = \"01:00:5e:00:00:01\"\n", "owd.ru: `01:00:5e:00:00:01` is a multicast address"),
            (LIVE, "[owd]\ndu = 3\n", "owd.du: 3: expected true, false or the peer's MAC"),
            (LIVE, "[owd]\ndu = true\nperiod = 3\n", "unknown field `period`"),
            (pcap, "[owd]\ndu = true\n", "owd.du: this side's backend is pcap; one-way delay needs an af_xdp or af_packet port"),
        ] {
            let e = load(sides, text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert_eq!(parse_mac("aa:BB:0c:dd:ee:ff"), Some([0xAA, 0xBB, 0x0C, 0xDD, 0xEE, 0xFF]));
        for bad in ["", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aaa:b:cc:dd:ee:ff", "zz:bb:cc:dd:ee:ff"] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
