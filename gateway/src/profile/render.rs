//! Writes a learned profile as TOML, each key with its evidence in a
//! comment above it, and each undecided key as a comment saying why.

use serde::Serialize;

use super::Evidence;
use crate::config::profile::{Learned, Profile};

/// The profile's text: keys with evidence, then `[learned]`.
pub fn to_toml(p: &Profile, ev: &Evidence, sources: &[String]) -> anyhow::Result<String> {
    let mut s = format!("# fhgate interop profile, learned by `fhgate profile learn` from\n#   {}\n", sources.join("\n#   "));
    s.push_str("# Keys are those of a [du]/[ru] section; load with `profile = \"FILE\"` there.\n\n");
    let q = |v: &Option<String>| v.as_ref().map(|x| toml::Value::String(x.clone()).to_string());
    let n = |v: Option<u64>| v.map(|x| x.to_string());
    let list = |v: &Option<Vec<String>>| v.as_ref().map(|x| toml::Value::Array(x.iter().map(|i| toml::Value::String(i.clone())).collect()).to_string());
    let keys: [(&str, Option<String>); 11] = [
        ("eaxc_bits", q(&p.eaxc_bits)),
        ("dl_comp", q(&p.dl_comp)),
        ("ul_comp", q(&p.ul_comp)),
        ("comp_hdr", q(&p.comp_hdr)),
        ("carrier_prbs", n(p.carrier_prbs.map(u64::from))),
        ("numerology", n(p.numerology.map(u64::from))),
        ("vlan", n(p.vlan.map(u64::from))),
        ("vlan_pcp", n(p.vlan_pcp.map(u64::from))),
        ("mtu", n(p.mtu.map(|m| m as u64))),
        ("prach_eaxc", list(&p.prach_eaxc)),
        ("prach_comp", q(&p.prach_comp)),
    ];
    for (k, v) in keys {
        // PRACH keys only when the sample has section type 3.
        if k.starts_with("prach") && !ev.contains_key(k) {
            continue;
        }
        let why = ev.get(k).map(String::as_str).unwrap_or("undecided: nothing in the sample bears on it");
        for line in why.lines() {
            s.push_str(&format!("# {line}\n"));
        }
        match v {
            Some(v) => s.push_str(&format!("{k} = {v}\n\n")),
            None if why.starts_with("untagged") => s.push_str(&format!("# (no {k} key: untagged)\n\n")),
            None if why.starts_with("same as") => s.push_str(&format!("# (no {k} key: the flows use ul_comp)\n\n")),
            None => s.push_str(&format!("# {k} = (undecided)\n\n")),
        }
    }
    #[derive(Serialize)]
    struct Wrap<'a> {
        learned: &'a Learned,
    }
    if let Some(l) = &p.learned {
        s.push_str("# What the sample showed, for the integrator (not used by `run`).\n");
        s.push_str(&toml::to_string(&Wrap { learned: l })?);
    }
    Ok(s)
}
