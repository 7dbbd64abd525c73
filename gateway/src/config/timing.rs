//! `[timing]`: the host clock against GPS and the receive windows of each
//! side (timing/), in µs as srsRAN and OAI write them:
//!
//! ```toml
//! [timing]
//! reference = "utc"     # or "tai": what CLOCK_REALTIME counts
//! utc_offset_s = 37     # TAI - UTC, for "utc"
//! gps_alpha = 0         # O-RAN gpsAlpha (1/1.2288 ns) and gpsBeta (frames)
//! gps_beta = 0
//! [timing.du]           # messages entering from the DU
//! t1a_min_cp_dl = 258
//! t1a_max_cp_dl = 470
//! t1a_min_cp_ul = 285
//! t1a_max_cp_ul = 429
//! t1a_min_up = 50
//! t1a_max_up = 196
//! [timing.ru]           # messages entering from the RU
//! ta4_min = 25
//! ta4_max = 300
//! ```
//!
//! A window is given as both its keys or neither; messages of a kind with
//! no window are timed (histogram) but not classified.

use serde::Deserialize;

use super::{err, ConfigError};
use crate::timing::ota::{ALPHA_PER_FRAME, DEFAULT_UTC_OFFSET_S};
use crate::timing::{Bounds, OtaClock, Reference, WindowKind};

/// `[timing]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingConfig {
    /// Host clock to GPS.
    pub clock: OtaClock,
    /// Windows for messages entering from the DU, per [`WindowKind::ALL`].
    pub du: [Option<Bounds>; 4],
    /// The same from the RU.
    pub ru: [Option<Bounds>; 4],
}

/// `[timing]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTiming {
    #[serde(default = "default_reference")]
    reference: String,
    #[serde(default = "default_utc_offset")]
    utc_offset_s: i64,
    #[serde(default)]
    gps_alpha: u32,
    #[serde(default)]
    gps_beta: i16,
    #[serde(default)]
    du: RawWindows,
    #[serde(default)]
    ru: RawWindows,
}

fn default_reference() -> String {
    "utc".into()
}
fn default_utc_offset() -> i64 {
    DEFAULT_UTC_OFFSET_S
}

/// One side's window keys, µs.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWindows {
    t1a_min_cp_dl: Option<i64>,
    t1a_max_cp_dl: Option<i64>,
    t1a_min_cp_ul: Option<i64>,
    t1a_max_cp_ul: Option<i64>,
    t1a_min_up: Option<i64>,
    t1a_max_up: Option<i64>,
    ta4_min: Option<i64>,
    ta4_max: Option<i64>,
}

/// Bounds beyond ±1 s are refused (the OTA fold is ±1.28 s).
const MAX_WINDOW_US: i64 = 1_000_000;

impl RawWindows {
    fn bounds(&self, side: &str) -> Result<[Option<Bounds>; 4], ConfigError> {
        let pairs = [
            (self.t1a_min_cp_dl, self.t1a_max_cp_dl),
            (self.t1a_min_cp_ul, self.t1a_max_cp_ul),
            (self.t1a_min_up, self.t1a_max_up),
            (self.ta4_min, self.ta4_max),
        ];
        let mut out = [None; 4];
        for (k, (min, max)) in WindowKind::ALL.into_iter().zip(pairs) {
            let (kmin, kmax) = k.keys();
            let key = |f: &str| format!("timing.{side}.{f}");
            out[k as usize] = match (min, max) {
                (None, None) => None,
                (Some(_), None) => return err(key(kmax), format!("missing: {kmin} is set, so give {kmax} too")),
                (None, Some(_)) => return err(key(kmin), format!("missing: {kmax} is set, so give {kmin} too")),
                (Some(a), Some(b)) => {
                    for (f, v) in [(kmin, a), (kmax, b)] {
                        if v.abs() > MAX_WINDOW_US {
                            return err(key(f), format!("{v} µs is beyond ±{MAX_WINDOW_US} µs"));
                        }
                    }
                    if a > b {
                        return err(key(kmin), format!("{a} µs is above {kmax} = {b} µs"));
                    }
                    Some(Bounds { min_us: a, max_us: b })
                }
            };
        }
        Ok(out)
    }
}

impl RawTiming {
    pub(super) fn validate(self) -> Result<TimingConfig, ConfigError> {
        let reference = match self.reference.as_str() {
            "utc" => {
                if !(0..=100).contains(&self.utc_offset_s) {
                    return err("timing.utc_offset_s", format!("{} s is outside 0-100 (TAI - UTC is 37 s since 2017)", self.utc_offset_s));
                }
                Reference::Utc { utc_offset_s: self.utc_offset_s }
            }
            "tai" => Reference::Tai,
            other => return err("timing.reference", format!("`{other}`: expected utc or tai")),
        };
        if self.gps_alpha >= ALPHA_PER_FRAME {
            return err("timing.gps_alpha", format!("{} is not below one frame ({ALPHA_PER_FRAME})", self.gps_alpha));
        }
        Ok(TimingConfig {
            clock: OtaClock::new(reference, self.gps_alpha, self.gps_beta),
            du: self.du.bounds("du")?,
            ru: self.ru.bounds("ru")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;
    use crate::timing::{Bounds, OtaClock, Reference};

    const SIDES: &str = "[du]\nbackend = \"pcap\"\ninput = \"a.pcap\"\n[ru]\nbackend = \"pcap\"\noutput = \"b.pcap\"\n";

    fn load(timing: &str) -> Result<GatewayConfig, String> {
        GatewayConfig::from_toml(&format!("{SIDES}{timing}")).map_err(|e| e.to_string())
    }

    #[test]
    fn windows_and_clock_are_read() {
        assert_eq!(load("").unwrap().timing, None);
        let c = load("[timing]\nreference = \"tai\"\n[timing.du]\nt1a_min_up = 50\nt1a_max_up = 196\n[timing.ru]\nta4_min = 25\nta4_max = 300\n").unwrap();
        let t = c.timing.unwrap();
        assert_eq!(t.clock, OtaClock::new(Reference::Tai, 0, 0));
        assert_eq!(t.du, [None, None, Some(Bounds { min_us: 50, max_us: 196 }), None]);
        assert_eq!(t.ru[3], Some(Bounds { min_us: 25, max_us: 300 }));
        let t = load("[timing]\nutc_offset_s = 36\ngps_beta = -3\n").unwrap().timing.unwrap();
        assert_eq!(t.clock, OtaClock::new(Reference::Utc { utc_offset_s: 36 }, 0, -3));
    }

    #[test]
    fn bad_keys_are_named() {
        for (text, want) in [
            ("[timing.du]\nt1a_min_up = 50\n", "timing.du.t1a_max_up: missing: t1a_min_up is set"),
            ("[timing.ru]\nta4_max = 50\n", "timing.ru.ta4_min: missing"),
            ("[timing.du]\nt1a_min_cp_dl = 500\nt1a_max_cp_dl = 400\n", "timing.du.t1a_min_cp_dl: 500 µs is above t1a_max_cp_dl = 400 µs"),
            ("[timing.du]\nt1a_min_cp_ul = 0\nt1a_max_cp_ul = 2000000\n", "timing.du.t1a_max_cp_ul: 2000000 µs is beyond"),
            ("[timing]\nreference = \"gps\"\n", "timing.reference: `gps`: expected utc or tai"),
            ("[timing]\nutc_offset_s = -1\n", "timing.utc_offset_s"),
            ("[timing]\ngps_alpha = 12288000\n", "timing.gps_alpha"),
            ("[timing.du]\nt1a_min = 3\n", "unknown field `t1a_min`"),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
