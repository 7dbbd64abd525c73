//! `[passthrough]` and `[ptp]`: what crosses the gateway besides
//! fronthaul, and how PTP event messages are corrected.
//!
//! ```toml
//! [passthrough]
//! classes = "all"            # or "none", or a list: ["ptp", "arp", "ip", "lldp", "other"]
//! [ptp]
//! transparent_clock = "one_step"   # or "two_step", "off"
//! ```

use serde::Deserialize;

use super::{err, ConfigError};
use crate::bridge::tc::TcMode;
use crate::bridge::{Class, Passthrough};

/// `[passthrough]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPassthrough {
    classes: Option<toml::Value>,
}

/// `[ptp]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPtp {
    transparent_clock: Option<String>,
}

/// Validates `[passthrough]`.
pub(super) fn passthrough(raw: RawPassthrough) -> Result<Passthrough, ConfigError> {
    let names = || Class::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
    match raw.classes {
        None => Ok(Passthrough::all()),
        Some(toml::Value::String(s)) if s == "all" => Ok(Passthrough::all()),
        Some(toml::Value::String(s)) if s == "none" => Ok(Passthrough::none()),
        Some(toml::Value::Array(a)) => {
            let mut classes = Vec::new();
            for (i, v) in a.iter().enumerate() {
                let key = format!("passthrough.classes[{i}]");
                let Some(name) = v.as_str() else { return err(key, format!("{v} is not a class name; expected one of {}", names())) };
                let Some(c) = Class::from_name(name) else { return err(key, format!("`{name}` is not a class; expected one of {}", names())) };
                if classes.contains(&c) {
                    return err(key, format!("`{name}` is listed twice"));
                }
                classes.push(c);
            }
            Ok(Passthrough::only(&classes))
        }
        Some(v) => err("passthrough.classes", format!("{v}: expected \"all\", \"none\" or a list of classes ({})", names())),
    }
}

/// Validates `[ptp]`.
pub(super) fn ptp(raw: RawPtp) -> Result<TcMode, ConfigError> {
    match raw.transparent_clock.as_deref() {
        None | Some("one_step") => Ok(TcMode::OneStep),
        Some("two_step") => Ok(TcMode::TwoStep),
        Some("off") => Ok(TcMode::Off),
        Some(o) => err("ptp.transparent_clock", format!("`{o}`: expected one_step, two_step or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::GatewayConfig;
    use super::*;

    const SIDES: &str = "[du]\nbackend = \"pcap\"\ninput = \"a.pcap\"\n[ru]\nbackend = \"pcap\"\noutput = \"b.pcap\"\n";

    fn load(extra: &str) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_toml(&format!("{SIDES}{extra}"))
    }

    #[test]
    fn defaults_pass_everything_with_a_one_step_clock() {
        let c = load("").unwrap();
        assert_eq!((c.passthrough, c.ptp_tc), (Passthrough::all(), TcMode::OneStep));
    }

    #[test]
    fn classes_and_modes_parse() {
        assert_eq!(load("[passthrough]\nclasses = \"none\"\n").unwrap().passthrough, Passthrough::none());
        assert_eq!(load("[passthrough]\nclasses = \"all\"\n").unwrap().passthrough, Passthrough::all());
        let p = load("[passthrough]\nclasses = [\"arp\", \"ip\", \"lldp\"]\n").unwrap().passthrough;
        assert_eq!(p, Passthrough::only(&[Class::Arp, Class::Ip, Class::Lldp]));
        assert_eq!(load("[ptp]\ntransparent_clock = \"two_step\"\n").unwrap().ptp_tc, TcMode::TwoStep);
        assert_eq!(load("[ptp]\ntransparent_clock = \"off\"\n").unwrap().ptp_tc, TcMode::Off);
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = load("[passthrough]\nclasses = [\"arp\", \"smtp\"]\n").unwrap_err();
        assert_eq!(e.key, "passthrough.classes[1]");
        assert!(e.why.contains("`smtp` is not a class") && e.why.contains("ptp, arp, ip, lldp, other"), "{e}");
        assert_eq!(load("[passthrough]\nclasses = [\"ip\", \"ip\"]\n").unwrap_err().key, "passthrough.classes[1]");
        assert_eq!(load("[passthrough]\nclasses = [3]\n").unwrap_err().key, "passthrough.classes[0]");
        let e = load("[passthrough]\nclasses = \"some\"\n").unwrap_err();
        assert_eq!(e.key, "passthrough.classes");
        let e = load("[ptp]\ntransparent_clock = \"on\"\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.why.contains("one_step, two_step or off")), ("ptp.transparent_clock", true));
        // Unknown keys are refused, at their line.
        assert!(load("[ptp]\nclock = 1\n").unwrap_err().why.contains("unknown field"));
    }
}
