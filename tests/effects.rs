//! Translators declare their effects (issue 13 §3, ABI.md §6 `effect`):
//! the egress format comes from the chain's declarations, so the issue's
//! reproducer (a static BFP-9 capture through bfp_width 9 → 12, no
//! --egress-dl-comp) gives correct 12-bit frames, checked by tshark with
//! 12-bit preferences and by the spec oracle's IQ; a translator whose
//! output contradicts its declaration is a `bad_output` on each flow.

use std::path::Path;

#[path = "support/bfp_oracle.rs"]
mod oracle;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/tshark.rs"]
mod tshark;

use cli::{fhgate, repo, translators};

fn gen(path: &Path, args: &[&str]) {
    let o = fhgate(&[&["gen", "-o", path.to_str().unwrap()][..], args].concat());
    assert!(o.status.success(), "gen: {}", String::from_utf8_lossy(&o.stderr));
}

/// `replay --json`; the summary and standard error.
fn replay(input: &Path, out: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let o = fhgate(&[&["replay", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"][..], args].concat());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "replay {args:?}: {err}");
    (serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout))), err)
}

/// tshark preferences for static BFP at `width` bits, both directions.
fn static_bfp_prefs(width: u8, prbs: u16) -> Vec<String> {
    let c = format!("bfp:{width}");
    tshark::prefs("4,4,4,4", &c, &c, false, prbs)
}

/// Ethernet payload lengths of the U-plane frames of a capture.
fn uplane_payloads(path: &Path) -> Vec<usize> {
    oracle::pcap_records(path).iter().filter(|f| f[12..14] == [0xAE, 0xFE] && f[15] == 0).map(|f| f.len() - 14).collect()
}

#[test]
fn static_bfp9_through_bfp_width_gives_12_bit_frames_with_no_egress_flags() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("du_bfp9_static.pcap");
    gen(&input, &["--side", "du", "--prbs", "51", "--antennas", "2", "--comp", "bfp:9", "--no-comp-hdr", "--slots", "2", "--mtu", "9000"]);
    let out = dir.path().join("ru.pcap");
    let bfp = format!("{}:in_width=9,out_width=12,carrier_prbs=51", t.join("bfp_width.wasm").display());
    // An MTU the 12-bit frames do not fit: egress must split them, which
    // it can only do reading them at 12 bits.
    let (j, log) = replay(&input, &out, &["--dl-comp", "bfp:9", "--ul-comp", "bfp:9", "--comp-hdr", "absent", "--carrier-prbs", "51", "--mtu", "1500", "--translator", &bfp]);
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    assert!(log.contains("dl_comp bfp:12"), "the derived egress format is said: {log}");
    let (n_in, n_out) = (uplane_payloads(&input), uplane_payloads(&out));
    assert!(n_in.iter().all(|&l| l <= 1500), "9-bit frames fit: {n_in:?}");
    assert!(n_out.len() > n_in.len(), "12-bit frames were split: {} -> {}", n_in.len(), n_out.len());
    assert!(n_out.iter().all(|&l| l <= 1500), "every piece fits the MTU: {n_out:?}");
    // tshark, told 12-bit static BFP, finds nothing malformed.
    let complaints = tshark::complaints(&out, &static_bfp_prefs(12, 51));
    assert!(complaints.is_empty(), "{complaints:?}");
    // The spec oracle: every PRB of the input (9-bit) is in the output
    // (12-bit) with the same samples (widening is exact).
    let a = oracle::oracle_decode_static(&input, 9);
    let b = oracle::oracle_decode_static(&out, 12);
    assert!(a.len() >= 2 * 51 * 14, "{} PRBs", a.len());
    assert_eq!(a.len(), b.len(), "PRB count");
    for (k, pa) in &a {
        let pb = b.get(k).unwrap_or_else(|| panic!("PRB {k:?} missing from the output"));
        assert_eq!(pa.samples, pb.samples, "PRB {k:?}");
    }
}

#[test]
fn a_translator_that_contradicts_its_declaration_is_bad_output_per_flow() {
    let dir = tempfile::tempdir().unwrap();
    let liar = repo().join("translators/hostile/lying_effects.wat");
    let liar = liar.to_str().unwrap();
    // Static: the 9-bit sections do not tile as the declared 12-bit ones.
    let input = dir.path().join("bfp9_static.pcap");
    gen(&input, &["--prbs", "51", "--antennas", "2", "--comp", "bfp:9", "--no-comp-hdr", "--slots", "1"]);
    let out = dir.path().join("out.pcap");
    let (j, _) = replay(&input, &out, &["--dl-comp", "bfp:9", "--comp-hdr", "absent", "--carrier-prbs", "51", "--translator", liar]);
    let u = uplane_payloads(&input).len() as u64;
    assert_eq!(j["egress_errors"]["bad_output"].as_u64(), Some(u), "{j}");
    assert!(j["egress_errors"].get("format_mismatch").is_none(), "{j}");
    let flows = j["egress_error_flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2, "one entry per U-plane flow: {j}");
    for f in flows {
        assert_eq!((f["kind"].as_str(), f["flow"]["plane"].as_str(), f["count"].as_u64()), (Some("bad_output"), Some("u"), Some(u / 2)), "{f}");
    }
    assert!(j["egress_error_hints"]["bad_output"].as_str().unwrap().contains("declared"), "{j}");
    let uplane = |p: &Path| oracle::pcap_records(p).into_iter().filter(|f| f[15] == 0).collect::<Vec<_>>();
    assert_eq!(uplane(&out), uplane(&input), "U-plane forwarded unchanged, nothing lost");

    // With udCompHdr: the sections say bfp:9 where bfp:12 was declared.
    let input = dir.path().join("bfp9_hdr.pcap");
    gen(&input, &["--prbs", "51", "--antennas", "2", "--comp", "bfp:9", "--slots", "1"]);
    let (j, _) = replay(&input, &out, &["--dl-comp", "bfp:9", "--comp-hdr", "present", "--carrier-prbs", "51", "--translator", liar]);
    assert_eq!(j["egress_errors"]["bad_output"].as_u64(), Some(u), "{j}");
    let f = &j["egress_error_flows"][0];
    assert_eq!(f["field"].as_str(), Some("oran_fh_cus.udCompHdr"), "{j}");
    // The headers still say the bfp:9 it declared converting: its fault,
    // 5 within 10 s (replay's default window) disable it.
    let t = &j["translators"][0];
    assert_eq!((t["faults"]["bad_output"].as_u64(), t["disabled"].as_bool()), (Some(5), Some(true)), "{t}");

    // A declaration the host does not know fails the load, naming it.
    let o = fhgate(&["replay", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--translator", &format!("{liar}:lie=1")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("unknown field `mtu`"), "{err}");
}

/// `run` of a DU capture (static BFP-9) through lying_effects, which
/// declares 9 -> 12 and forwards as it is, under `policy`, `limit` faults
/// within 60 s; returns the JSON summary and the output's U-plane frames.
fn run_liar(dir: &Path, input: &Path, policy: &str, limit: u32) -> (serde_json::Value, Vec<Vec<u8>>) {
    let out = dir.join(format!("out_{policy}_{limit}.pcap"));
    let liar = repo().join("translators/hostile/lying_effects.wat");
    let gw = format!(
        r#"[du]
backend = "pcap"
input = "{input}"
dl_comp = "bfp:9"
comp_hdr = "absent"

[ru]
backend = "pcap"
output = "{out}"
dl_comp = "bfp:12"
comp_hdr = "absent"

[[translator]]
name = "liar"
path = "{liar}"
fault_policy = "{policy}"
fault_limit = {limit}
fault_window_s = 60
deadline_us = 200000

[[chain]]
select = "dir=dl,plane=u"
translators = ["liar"]
"#,
        input = input.display(),
        out = out.display(),
        liar = liar.display()
    );
    let cfg = dir.join("gw.toml");
    std::fs::write(&cfg, gw).unwrap();
    let o = fhgate(&["run", "-c", cfg.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let u = oracle::pcap_records(&out).into_iter().filter(|f| f[12..14] == [0xAE, 0xFE] && f[15] == 0).collect();
    (j, u)
}

/// Output that contradicts the declared effects is a fault of the
/// translator, under its fault policy and window as a trap: `drop` drops
/// each such message, N within T disable it, and the summary counts them.
#[test]
fn output_that_contradicts_the_declaration_meets_the_fault_policy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bfp9_static.pcap");
    gen(&input, &["--prbs", "51", "--antennas", "2", "--comp", "bfp:9", "--no-comp-hdr", "--slots", "1"]);
    let u = uplane_payloads(&input).len() as u64;
    assert_eq!(u, 28);
    let liar = |j: &serde_json::Value| j["translators"].as_array().unwrap().iter().find(|t| t["name"] == "lying_effects").cloned().unwrap();

    // drop, never disabled: every contradicting message dropped, each a fault.
    let (j, out) = run_liar(dir.path(), &input, "drop", 1000);
    let t = liar(&j);
    assert_eq!(t["faults"]["bad_output"].as_u64(), Some(u), "{t}");
    assert_eq!((t["disabled"].as_bool(), t["packets"]["fault_policy"].as_u64()), (Some(false), Some(u)), "{t}");
    assert_eq!(j["egress_errors"]["bad_output"].as_u64(), Some(u), "still counted per flow: {j}");
    assert!(out.is_empty(), "{} U-plane frames left", out.len());

    // pass, 3 faults within 60 s disable it: 3 faults counted, then its
    // packets pass; egress still names each message (forwarded unchanged).
    let (j, out) = run_liar(dir.path(), &input, "pass", 3);
    let t = liar(&j);
    assert_eq!((t["faults"]["bad_output"].as_u64(), t["disabled"].as_bool()), (Some(3), Some(true)), "{t}");
    assert_eq!(j["translators_disabled"], serde_json::json!(["lying_effects"]), "{j}");
    assert_eq!(j["egress_errors"]["bad_output"].as_u64(), Some(u), "{j}");
    let sent: Vec<Vec<u8>> = oracle::pcap_records(&input).into_iter().filter(|f| f[15] == 0).collect();
    assert_eq!(out, sent, "forwarded unchanged, nothing lost");
}

#[test]
fn a_module_that_declares_nothing_still_loads_and_egress_reads_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bfp9.pcap");
    gen(&input, &["--prbs", "51", "--antennas", "1", "--comp", "bfp:9", "--no-comp-hdr", "--slots", "1"]);
    let out = dir.path().join("out.pcap");
    let noop = repo().join("translators/examples/wat/noop.wat");
    let (j, log) = replay(&input, &out, &["--dl-comp", "bfp:9", "--comp-hdr", "absent", "--carrier-prbs", "51", "--translator", noop.to_str().unwrap()]);
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    assert!(log.contains("declares no effects"), "{log}");
}

#[test]
fn example_translators_declare_their_effects() {
    let t = translators();
    let check = |file: &str, cfg: &str| {
        let p = t.join(file);
        let mut a = vec!["translator", "check", p.to_str().unwrap()];
        if !cfg.is_empty() {
            a.extend(["--config", cfg]);
        }
        let o = fhgate(&a);
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{file} {cfg}: {s}{}", String::from_utf8_lossy(&o.stderr));
        s.lines().find(|l| l.contains("effects it declares:")).unwrap_or_else(|| panic!("{s}")).to_string()
    };
    for (file, cfg, want) in [
        ("bfp_width.wasm", "in_width=9,out_width=12,direction=\"dl\"", "dl_comp bfp:9 -> bfp:12"),
        ("bfp_width.wasm", "in_width=8,out_width=12", "dl_comp bfp:8 -> bfp:12; ul_comp bfp:8 -> bfp:12"),
        ("comp_convert.wasm", "in_comp=\"bfp:9\",out_comp=\"none:16\",direction=\"dl\"", "dl_comp bfp:9 -> none:16"),
        ("comp_convert.wasm", "in_comp=\"none:16\",out_comp=\"mu-law:8\"", "dl_comp none:16 -> mu-law:8; ul_comp none:16 -> mu-law:8"),
        ("eaxc_remap.wasm", "from=\"4,4,4,4\",to=\"2,6,4,4\"", "eaxc_bits/dl 4,4,4,4 -> 2,6,4,4; eaxc_bits/ul 2,6,4,4 -> 4,4,4,4"),
        ("comphdr_static.wasm", "mode=\"strip\",direction=\"dl\"", "comp_hdr/dl present -> absent"),
        ("comphdr_static.wasm", "mode=\"insert\",width=9,direction=\"ul\"", "comp_hdr/ul absent -> present; ul_comp bfp:9 -> bfp:9"),
        ("vlan_retag.wasm", "u_vlan=5,c_vlan=5", "vlan * -> 5"),
        ("vlan_retag.wasm", "mode=\"strip\"", "vlan * -> none"),
        ("iq_gain.wasm", "gain_db=-3.5", "iq * -> gain:-3.5dB"),
        ("seqid_renumber.wasm", "", "seq_id * -> renumbered"),
    ] {
        let line = check(file, cfg);
        assert!(line.ends_with(want), "{file} {cfg}: {line}");
    }
}
