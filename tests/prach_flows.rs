//! Per-plane compression (issue 13 §1): PRACH flows whose U-plane has a
//! compression of its own. `profile learn` finds them from section type 3
//! and their U-plane; a chain that converts only the data leaves them
//! decoded at their own width (no bad_output); a chain that misses what
//! the DU wants for them is refused naming the eAxC; two chains that leave
//! one direction's flows at two widths run, each flow read with its own.
//! Oracles: the spec BFP decoder (tests/support/bfp_oracle.rs) and tshark.

use std::path::{Path, PathBuf};

#[path = "support/bfp_oracle.rs"]
mod oracle;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/tshark.rs"]
mod tshark;

use cli::{fhgate, s, text, translators, write};
use fhgate::config::profile::Profile;

/// gen's side `side` with PRACH (2 antennas: data eAxCs 0-1, PRACH 2-3), 24 PRBs, µ 0.
fn gen(dir: &Path, name: &str, side: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let base = ["gen", "-o", s(&out), "--side", side, "--prbs", "24", "--antennas", "2", "--slots", "2", "--numerology", "0", "--prach"];
    let o = fhgate(&[&base[..], extra].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

fn learn(captures: &[&Path]) -> Profile {
    let mut args = vec!["profile", "learn"];
    args.extend(captures.iter().map(|p| s(p)));
    let o = fhgate(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let t = text(&o.stdout);
    Profile::from_toml(&t, Path::new("stdout")).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

const PRACH_IDS: [&str; 2] = ["0x0002", "0x0003"];

#[test]
fn learn_finds_the_prach_flows_and_their_compression() {
    let dir = tempfile::tempdir().unwrap();
    for hdr in [true, false] {
        let extra: &[&str] = if hdr { &["--prach-comp", "bfp:14"] } else { &["--prach-comp", "bfp:14", "--no-comp-hdr"] };
        let du = gen(dir.path(), "du.pcap", "du", extra);
        let ru = gen(dir.path(), "ru.pcap", "ru", extra);
        // Both directions of the link: type 3 names the PRACH eAxCs, their U-plane says the width.
        let p = learn(&[&du, &ru]);
        let what = format!("comp_hdr {hdr}: {p:?}");
        assert_eq!(p.ul_comp.as_deref(), Some("bfp:9"), "{what}");
        assert_eq!(p.prach_comp.as_deref(), Some("bfp:14"), "{what}");
        assert_eq!(p.prach_eaxc.as_deref(), Some(&PRACH_IDS.map(String::from)[..]), "{what}");
        assert_eq!(p.comp_hdr.as_deref(), Some(if hdr { "present" } else { "absent" }), "{what}");
        let l = p.learned.as_ref().unwrap();
        assert_eq!(l.cu_consistency.get("prach").map(String::as_str), Some("consistent"), "{what}");
        // The DU alone: type 3's udCompHdr gives the PRACH compression.
        let p = learn(&[&du]);
        assert_eq!(p.prach_comp.as_deref(), Some("bfp:14"), "DU only, comp_hdr {hdr}: {p:?}");
    }
    // PRACH at the data's compression: the eAxCs are named, no prach_comp.
    let du = gen(dir.path(), "du_same.pcap", "du", &[]);
    let ru = gen(dir.path(), "ru_same.pcap", "ru", &[]);
    let p = learn(&[&du, &ru]);
    assert_eq!((p.prach_comp.as_deref(), p.prach_eaxc.as_ref().map(Vec::len)), (None, Some(2)), "{p:?}");
}

/// tshark decodes each group of eAxCs (RU port IDs, untagged 4,4,4,4
/// frames) without a malformed frame under the UL preferences of its own
/// compression; every U-plane frame belongs to one group.
fn assert_flows_decode(out: &Path, groups: &[(&[u8], &str)]) {
    let frames = oracle::pcap_records(out);
    let eaxc = |n: usize| frames[n - 1][19];
    let uplane: Vec<usize> = (1..=frames.len()).filter(|&n| frames[n - 1][15] == 0).collect();
    assert!(uplane.iter().all(|&n| groups.iter().any(|(ids, _)| ids.contains(&eaxc(n)))), "a U-plane frame outside the groups");
    for (ids, comp) in groups {
        let own = |n: usize| frames[n - 1][15] == 0 && ids.contains(&eaxc(n));
        assert!(uplane.iter().any(|&n| own(n)), "no frame of eAxCs {ids:?}");
        let c = tshark::complaints_among(out, &tshark::prefs("4,4,4,4", comp, comp, true, 24), own);
        assert!(c.is_empty(), "eAxCs {ids:?} under {comp}: {c:?}");
    }
}

/// Replays `ru` (UL) with both profiles through `translator`; returns the JSON summary.
fn replay(ru: &Path, out: &Path, ru_profile: &Path, du_profile: &Path, translator: &str) -> Result<serde_json::Value, String> {
    let o = fhgate(&["replay", s(ru), "-o", s(out), "--from", "ru", "--ru-profile", s(ru_profile), "--du-profile", s(du_profile), "--translator", translator, "--json"]);
    if !o.status.success() {
        return Err(text(&o.stderr));
    }
    Ok(serde_json::from_slice(&o.stdout).unwrap())
}

fn bad_output(j: &serde_json::Value) -> u64 {
    j["egress_errors"]["bad_output"].as_u64().unwrap_or(0)
}

#[test]
fn a_chain_that_converts_the_data_leaves_prach_flows_decoded() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let du = gen(dir.path(), "du.pcap", "du", &["--prach-comp", "bfp:14"]);
    let ru = gen(dir.path(), "ru.pcap", "ru", &["--prach-comp", "bfp:14"]);
    let o = fhgate(&["profile", "learn", s(&du), s(&ru)]);
    let link = text(&o.stdout);
    let ru_profile = write(dir.path(), "ru.toml", &link);
    // The DU takes its data at 12 bits, PRACH at 14 as sent.
    let du_profile = write(dir.path(), "du.toml", &link.replace("ul_comp = \"bfp:9\"", "ul_comp = \"bfp:12\""));
    let widen = format!("{}:in_width=9,out_width=12,direction=\"ul\",cplane=false", s(&t.join("bfp_width.wasm")));
    let out = dir.path().join("out.pcap");
    let j = replay(&ru, &out, &ru_profile, &du_profile, &widen).unwrap();
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    // PRACH frames leave as they came; every PRB's samples are the RU's
    // (9 -> 12 is lossless), the PRACH ones at 14 bits.
    let (a, b) = (oracle::pcap_records(&ru), oracle::pcap_records(&out));
    assert_eq!(a.len(), b.len());
    let prach = |f: &[u8]| f[12..14] == [0xAE, 0xFE] && f[15] == 0 && [2u8, 3].contains(&f[19]);
    let pa: Vec<_> = a.iter().filter(|f| prach(f)).collect();
    let pb: Vec<_> = b.iter().filter(|f| prach(f)).collect();
    assert_eq!(pa.len(), 2 * 2 * 12, "PRACH messages: 2 slots × 2 antennas × 12 symbols");
    assert_eq!(pa, pb, "PRACH frames unchanged");
    let (ia, ib) = (oracle::oracle_decode(&ru), oracle::oracle_decode(&out));
    assert_eq!(ia.len(), ib.len());
    for (k, v) in &ia {
        assert_eq!(Some(&v.samples), ib.get(k).map(|p| &p.samples), "PRB {k:?}");
    }
    assert_flows_decode(&out, &[(&[0, 1], "bfp:12"), (&[2, 3], "bfp:14")]);

    // Without the PRACH keys egress cannot know those flows: each PRACH
    // message is the translator's bad_output (what the keys fix).
    let plain = |p: &str| p.lines().filter(|l| !l.starts_with("prach_")).collect::<Vec<_>>().join("\n");
    let ru_plain = write(dir.path(), "ru_plain.toml", &plain(&link));
    let du_plain = write(dir.path(), "du_plain.toml", &plain(&std::fs::read_to_string(&du_profile).unwrap()));
    let j = replay(&ru, &dir.path().join("out_plain.pcap"), &ru_plain, &du_plain, &widen).unwrap();
    assert_eq!(bad_output(&j), pa.len() as u64, "{j}");
    // Not bfp_width's fault: it leaves 14-bit sections alone as it
    // declares, so its fault policy stays out of it (it would disable it
    // after 5, and the data would then leave unconverted).
    let t = &j["translators"][0];
    assert_eq!((t["faults"]["total"].as_u64(), t["disabled"].as_bool()), (Some(0), Some(false)), "{t}");

    // A DU that wants PRACH at 12 too is refused before a packet moves, by eAxC.
    let du12 = write(dir.path(), "du12.toml", &std::fs::read_to_string(&du_profile).unwrap().replace("prach_comp = \"bfp:14\"", "prach_comp = \"bfp:12\""));
    let refused = dir.path().join("refused.pcap");
    let e = replay(&ru, &refused, &ru_profile, &du12, &widen).unwrap_err();
    for id in PRACH_IDS {
        assert!(e.contains(&format!("UL U-plane PRACH eAxC {id} ul_comp: chain gives bfp:14, DU profile wants bfp:12")), "{e}");
    }
    assert!(!refused.exists(), "nothing written");
}

/// Two chains in one direction that leave flows at two widths (item 2 of
/// the per-flow work): data 9 -> 12, PRACH 9 -> 14, as the DU's profile
/// asks. Egress reads each flow with its own width: no error, IQ exact.
#[test]
fn chains_that_leave_one_direction_at_two_widths_run_with_a_format_per_flow() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let ru = gen(dir.path(), "ru.pcap", "ru", &[]);
    let out = dir.path().join("du_out.pcap");
    let w = s(&t.join("bfp_width.wasm")).to_string();
    let gw = format!(
        r#"[du]
backend = "pcap"
output = "{out}"
ul_comp = "bfp:12"
comp_hdr = "present"
prach_comp = "bfp:14"
prach_eaxc = ["0x0002", "0x0003"]

[ru]
backend = "pcap"
input = "{ru}"
ul_comp = "bfp:9"
comp_hdr = "present"
prach_eaxc = ["0x0002", "0x0003"]

[[translator]]
name = "prach14"
path = "{w}"
deadline_us = 200000
config = {{ in_width = 9, out_width = 14, direction = "ul", cplane = false }}

[[translator]]
name = "data12"
path = "{w}"
deadline_us = 200000
config = {{ in_width = 9, out_width = 12, direction = "ul", cplane = false }}

[[chain]]
select = "dir=ul,plane=u,eaxc=0x0002/0xfffe"
translators = ["prach14"]

[[chain]]
select = "dir=ul,plane=u"
translators = ["data12"]
"#,
        out = s(&out),
        ru = s(&ru)
    );
    let cfg = write(dir.path(), "gw.toml", &gw);
    let o = fhgate(&["run", "--check", "-c", s(&cfg)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fhgate(&["run", "-c", s(&cfg), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    let (ia, ib) = (oracle::oracle_decode(&ru), oracle::oracle_decode(&out));
    assert_eq!(ia.len(), ib.len());
    let widths: std::collections::BTreeSet<(u16, usize)> = oracle::pcap_records(&out)
        .iter()
        .filter(|f| f[15] == 0)
        .map(|f| (u16::from_be_bytes([f[18], f[19]]), (f[30] >> 4) as usize))
        .collect();
    assert_eq!(widths.into_iter().collect::<Vec<_>>(), [(0, 12), (1, 12), (2, 14), (3, 14)], "udCompHdr width per eAxC");
    for (k, v) in &ia {
        assert_eq!(Some(&v.samples), ib.get(k).map(|p| &p.samples), "PRB {k:?}");
    }
    assert_flows_decode(&out, &[(&[0, 1], "bfp:12"), (&[2, 3], "bfp:14")]);

    // The same chains against a DU that wants PRACH at 12: refused, by eAxC.
    let cfg12 = write(dir.path(), "gw12.toml", &gw.replace("prach_comp = \"bfp:14\"", "prach_comp = \"bfp:12\""));
    let o = fhgate(&["run", "--check", "-c", s(&cfg12)]);
    let e = text(&o.stderr);
    assert!(!o.status.success() && e.contains("UL U-plane PRACH eAxC 0x0002 ul_comp: chain gives bfp:14, DU profile wants bfp:12"), "{e}");
}

/// Profiles alone, PRACH at its own width on both sides (RU sends 14, the
/// DU wants 12, data 9 -> 12): replay runs the chains plan derives, one
/// of its own per PRACH eAxC. Each flow leaves at 12 bits (udCompHdr),
/// tshark finds nothing malformed under 12-bit preferences, the data's IQ
/// is exact and the PRACH's within 0.5 dB of the nearest-rounding bound.
#[test]
fn profiles_alone_give_prach_flows_a_chain_of_their_own() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("translators");
    std::fs::create_dir(&tr).unwrap();
    std::fs::copy(t.join("bfp_width.wasm"), tr.join("bfp_width.wasm")).unwrap();
    let ru = gen(dir.path(), "ru.pcap", "ru", &["--prach-comp", "bfp:14"]);
    let keys = "comp_hdr = \"present\"\ncarrier_prbs = 24\nprach_eaxc = [\"0x0002\", \"0x0003\"]\n";
    let ru_profile = write(dir.path(), "ru.toml", &format!("ul_comp = \"bfp:9\"\nprach_comp = \"bfp:14\"\n{keys}"));
    let du_profile = write(dir.path(), "du.toml", &format!("ul_comp = \"bfp:12\"\nprach_comp = \"bfp:12\"\n{keys}"));
    let out = dir.path().join("out.pcap");
    replay_profiles_alone_to_12(&ru, &out, &ru_profile, &du_profile, &tr);
}

/// Item 2 of the leftovers: the sides differ in the eAxC split and the
/// VLAN too (RU 2,6,4,4 on VLAN 5, DU 4,4,4,4 untagged). Plan gives each
/// PRACH eAxC a chain of its own that converts its compression (14 -> 12)
/// and then runs the UL chain's eaxc_remap and VLAN strip, so PRACH
/// leaves like the data: untagged, under the DU's split, at 12 bits.
/// tshark under the DU profile's preferences, the spec oracle's IQ.
#[test]
fn a_prach_chain_of_its_own_also_remaps_the_eaxc_split_and_the_vlan() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("translators");
    std::fs::create_dir(&tr).unwrap();
    for m in ["bfp_width.wasm", "eaxc_remap.wasm", "vlan_retag.wasm"] {
        std::fs::copy(t.join(m), tr.join(m)).unwrap();
    }
    let ru = gen(dir.path(), "ru.pcap", "ru", &["--prach-comp", "bfp:14", "--eaxc-bits", "2,6,4,4", "--vlan", "5"]);
    let keys = "comp_hdr = \"present\"\ncarrier_prbs = 24\nprach_eaxc = [\"0x0002\", \"0x0003\"]\n";
    let ru_profile = write(dir.path(), "ru.toml", &format!("ul_comp = \"bfp:9\"\nprach_comp = \"bfp:14\"\neaxc_bits = \"2,6,4,4\"\nvlan = 5\n{keys}"));
    let du_profile = write(dir.path(), "du.toml", &format!("ul_comp = \"bfp:12\"\nprach_comp = \"bfp:12\"\neaxc_bits = \"4,4,4,4\"\n{keys}"));
    let o = fhgate(&["plan", "--du", s(&du_profile), "--ru", s(&ru_profile), "--translators", s(&tr)]);
    let plan = text(&o.stdout);
    assert!(o.status.success(), "{plan}{}", text(&o.stderr));
    for id in PRACH_IDS {
        let line = format!(
            "UL U-plane PRACH eAxC {id} prach_comp: bfp:14 -> bfp:12: bridged by bfp_width (in_width=14, out_width=12, direction=\"ul\", cplane=false) on a chain of its own (dir=ul,plane=u,eaxc={id}/0xffff, then the UL chain's eaxc_remap (from=\"4,4,4,4\", to=\"2,6,4,4\"), vlan_retag (mode=\"strip\"))"
        );
        assert!(plan.contains(&line), "wants `{line}`:\n{plan}");
    }
    let out = dir.path().join("out.pcap");
    replay_profiles_alone_to_12(&ru, &out, &ru_profile, &du_profile, &tr);
    let frames = oracle::pcap_records(&out);
    assert_eq!(frames.len(), oracle::pcap_records(&ru).len());
    assert!(frames.iter().all(|f| f[12..14] == [0xAE, 0xFE]), "every frame untagged, PRACH too");
}

/// Replays `ru` (data eAxCs 0-1 at 9 bits, PRACH 2-3 at 14) with the two
/// profiles alone and checks what the DU gets: every eAxC at 12 bits
/// (udCompHdr), tshark clean under 12-bit preferences, the data's IQ
/// exact and the PRACH's within 0.5 dB of the nearest-rounding bound.
fn replay_profiles_alone_to_12(ru: &Path, out: &Path, ru_profile: &Path, du_profile: &Path, tr: &Path) {
    let o = fhgate(&["replay", s(ru), "-o", s(out), "--from", "ru", "--ru-profile", s(ru_profile), "--du-profile", s(du_profile), "--translators-dir", s(tr), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    let frames = oracle::pcap_records(out);
    let widths: std::collections::BTreeSet<(u16, usize)> = frames.iter().filter(|f| f[15] == 0).map(|f| (u16::from_be_bytes([f[18], f[19]]), (f[30] >> 4) as usize)).collect();
    assert_eq!(widths.into_iter().collect::<Vec<_>>(), [(0, 12), (1, 12), (2, 12), (3, 12)], "udCompHdr width per eAxC");
    assert_flows_decode(out, &[(&[0, 1, 2, 3], "bfp:12")]);
    let (ia, ib) = (oracle::oracle_decode(ru), oracle::oracle_decode(out));
    assert_eq!(ia.len(), ib.len());
    for (k, v) in ia.iter().filter(|(k, _)| k.0 < 2) {
        assert_eq!(Some(&v.samples), ib.get(k).map(|p| &p.samples), "PRB {k:?}");
    }
    for e in PRACH_IDS.map(|x| u16::from_str_radix(&x[2..], 16).unwrap()) {
        let (near, evm, bound) = oracle::near_bound(ru, out, 12, e);
        assert!(near, "PRACH eAxC {e}: EVM {evm:.2} dB, bound {bound:.2} dB");
    }
}
