//! A plan written as a complete gateway configuration (`fhgate plan -o
//! gw.toml`): both sides load their profiles, capture files stand in for
//! the ports, and the chains run the plan's translators.

use std::fmt::Write;
use std::path::Path;

use super::derive::{Plan, Step};

/// TOML's basic string for `s`.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The configuration text. `du`/`ru` are the profile files as the
/// configuration should name them.
pub fn to_toml(plan: &Plan, du: &Path, ru: &Path) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Written by `fhgate plan` from {} (DU) and {} (RU).", du.display(), ru.display());
    let _ = writeln!(t, "# The plan, one line per difference:");
    for l in &plan.lines {
        let _ = writeln!(t, "#   {}", plan.line_text(l));
    }
    if plan.lines.is_empty() {
        let _ = writeln!(t, "#   (none: the profiles agree)");
    }
    let _ = writeln!(t, "# Capture files stand in for the ports: give each side `backend = \"af_xdp\"` and");
    let _ = writeln!(t, "# `interface = \"...\"` (or af_packet, udp) to run it live. `fhgate run --check -c`");
    let _ = writeln!(t, "# this file checks the chain against both profiles again.\n");
    let _ = writeln!(t, "[du]\nprofile = {}\nbackend = \"pcap\"\ninput = \"du.pcap\"\n", quote(&du.display().to_string()));
    let _ = writeln!(t, "[ru]\nprofile = {}\nbackend = \"pcap\"\noutput = \"ru.pcap\"\n", quote(&ru.display().to_string()));
    let names = |prefix: &str, steps: &[Step]| -> Vec<String> { steps.iter().enumerate().map(|(i, s)| format!("{prefix}{}_{}", i + 1, s.stage.name)).collect() };
    let (dl, ul) = (names("dl", &plan.dl), names("ul", &plan.ul));
    for (name, s) in dl.iter().zip(&plan.dl).chain(ul.iter().zip(&plan.ul)) {
        let cfg: Vec<String> = s.config.iter().map(|(k, v)| format!("{} = {v}", toml_key(k))).collect();
        let _ = writeln!(t, "[[translator]]\nname = {}\npath = {}\nconfig = {{ {} }}\n", quote(name), quote(&s.path.display().to_string()), cfg.join(", "));
    }
    for o in &plan.own {
        for (name, s) in own_names(o).iter().zip(&o.steps) {
            let cfg: Vec<String> = s.config.iter().map(|(k, v)| format!("{} = {v}", toml_key(k))).collect();
            let _ = writeln!(t, "[[translator]]\nname = {}\npath = {}\nconfig = {{ {} }}\n", quote(name), quote(&s.path.display().to_string()), cfg.join(", "));
        }
    }
    let list = |v: &[String]| v.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ");
    // Before the UL chain: the first chain whose selector matches takes a packet.
    for o in &plan.own {
        let _ = writeln!(t, "# RU -> DU: eAxC {:#06x}, a compression of its own.", o.eaxc);
        let _ = writeln!(t, "[[chain]]\nselect = {}\ntranslators = [{}]\n", quote(&o.select()), list(&own_names(o)));
    }
    if !dl.is_empty() {
        let _ = writeln!(t, "# DU -> RU: DL U-plane and C-plane, including the C-plane that schedules UL.");
        let _ = writeln!(t, "[[chain]]\nselect = \"dir=dl\"\ntranslators = [{}]\n", list(&dl));
        let _ = writeln!(t, "[[chain]]\nselect = \"dir=ul,plane=c\"\ntranslators = [{}]\n", list(&dl));
    }
    if !ul.is_empty() {
        let _ = writeln!(t, "# RU -> DU: UL U-plane.");
        let _ = writeln!(t, "[[chain]]\nselect = \"dir=ul,plane=u\"\ntranslators = [{}]\n", list(&ul));
    }
    t
}

/// The translator names of a chain of its own: `ul_0002_bfp_width`, then
/// `ul_0002_2_eaxc_remap` for the steps it shares with the UL chain.
fn own_names(o: &super::derive::OwnChain) -> Vec<String> {
    o.steps.iter().enumerate().map(|(i, s)| if i == 0 { format!("ul_{:04x}_{}", o.eaxc, s.stage.name) } else { format!("ul_{:04x}_{}_{}", o.eaxc, i + 1, s.stage.name) }).collect()
}

/// A config key as TOML writes it (dotted keys such as `map.0x0001` quoted).
fn toml_key(k: &str) -> String {
    if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        quote(k)
    }
}
