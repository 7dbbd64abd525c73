//! The issue 13 §5 matrix: every width (BFP 8, 9, 12, 14; 16-bit none)
//! and method (BFP, none, µ-law, block scaling), with and without PRACH.
//! Each format is learned from gen's DU and RU captures (the profile must
//! equal gen's settings); each ordered pair DU → RU that the example
//! translators bridge is planned and replayed with the profiles alone:
//! tshark under the receiving profile's preferences finds nothing
//! malformed. BFP pairs (bfp_width): the IQ is exact where the chain
//! widens and within 0.5 dB of the nearest-rounding bound where it
//! narrows (the spec BFP oracle). Pairs across methods (comp_convert):
//! every method → none:16 is lossless (each sample is the value Annex A
//! decodes the input to, exact for BFP), BFP beyond 16 bits saturates and
//! is counted; the lossy ones stay within a quantiser step of the output
//! format. With bfp_width alone a pair across methods is refused naming
//! key and values. Captures are small (12 PRBs, one antenna, one slot),
//! and plans read a directory holding the two translators alone (each
//! process compiles what it reads).

use std::path::{Path, PathBuf};

#[path = "support/bfp_oracle.rs"]
mod oracle;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/tshark.rs"]
mod tshark;

use cli::{fhgate, s, text, translators, write};
use fhgate::config::profile::Profile;

const PRBS: u16 = 12;
/// Formats bfp_width converts between.
const BFP: [&str; 4] = ["bfp:8", "bfp:9", "bfp:12", "bfp:14"];
/// The other methods: comp_convert converts them to and from BFP.
const OTHER: [&str; 3] = ["none:16", "mu-law:8", "block-scaling:9"];

fn width(f: &str) -> u32 {
    f.split_once(':').unwrap().1.parse().unwrap()
}

/// gen's `side` capture at `comp`, with PRACH or not.
fn gen(dir: &Path, side: &str, comp: &str, prach: bool) -> PathBuf {
    let out = dir.join(format!("{side}_{}_{prach}.pcap", comp.replace(':', "")));
    let n = PRBS.to_string();
    let mut args = vec!["gen", "-o", s(&out), "--side", side, "--comp", comp, "--prbs", &n, "--antennas", "1", "--slots", "1", "--numerology", "0"];
    if prach {
        args.push("--prach");
    }
    let o = fhgate(&args);
    assert!(o.status.success(), "gen {args:?}: {}", text(&o.stderr));
    out
}

/// One format's side: its captures and the profile learned from them.
struct Side {
    comp: &'static str,
    du: PathBuf,
    ru: PathBuf,
    profile: PathBuf,
}

/// Learns `comp`'s link profile from gen's DU and RU captures and checks
/// it against gen's settings.
fn learn(dir: &Path, comp: &'static str, prach: bool) -> Side {
    let (du, ru) = (gen(dir, "du", comp, prach), gen(dir, "ru", comp, prach));
    let o = fhgate(&["profile", "learn", s(&du), s(&ru)]);
    assert!(o.status.success(), "learn {comp}: {}", text(&o.stderr));
    let t = text(&o.stdout);
    let p = Profile::from_toml(&t, Path::new("stdout")).unwrap_or_else(|e| panic!("{comp}: {e}\n{t}"));
    let what = format!("{comp}, PRACH {prach}: {p:?}");
    assert_eq!((p.dl_comp.as_deref(), p.ul_comp.as_deref()), (Some(comp), Some(comp)), "{what}");
    assert_eq!((p.comp_hdr.as_deref(), p.carrier_prbs, p.numerology), (Some("present"), Some(PRBS), Some(0)), "{what}");
    assert_eq!(p.eaxc_bits.as_deref(), Some("4,4,4,4"), "{what}");
    // PRACH at the data's compression: its eAxC (RU port 1) named, no prach_comp.
    let want_prach = prach.then(|| vec!["0x0001".to_string()]);
    assert_eq!((p.prach_eaxc.clone(), p.prach_comp.as_deref()), (want_prach, None), "{what}");
    let profile = write(dir, &format!("{}_{prach}.toml", comp.replace(':', "")), &t);
    Side { comp, du, ru, profile }
}

/// `replay` of `input` from `from` with both profiles and no translator:
/// the chain plan derives. `Ok(summary)` or `Err(stderr)`.
fn replay(input: &Path, out: &Path, from: &str, du: &Side, ru: &Side, tr: &Path) -> Result<serde_json::Value, String> {
    let args = ["replay", s(input), "-o", s(out), "--from", from, "--du-profile", s(&du.profile), "--ru-profile", s(&ru.profile), "--translators-dir", s(tr), "--json"];
    let o = fhgate(&args);
    if !o.status.success() {
        return Err(text(&o.stderr));
    }
    Ok(serde_json::from_slice(&o.stdout).unwrap())
}

/// The IQ of `out` against `input`, eAxC by eAxC: identical when the
/// chain widens (`from` ≤ `to` bits), else within 0.5 dB of the bound at
/// `to` (identical too when the signal fits `to` bits).
fn iq(input: &Path, out: &Path, eaxcs: &[u16], from: u32, to: u32, what: &str) {
    let (a, b) = (oracle::oracle_decode(input), oracle::oracle_decode(out));
    assert_eq!(a.len(), b.len(), "{what}: PRB count");
    for &e in eaxcs {
        assert!(a.keys().any(|k| k.0 == e), "{what}: no PRB of eAxC {e}");
        if from <= to {
            for (k, v) in a.iter().filter(|(k, _)| k.0 == e) {
                assert_eq!(Some(&v.samples), b.get(k).map(|p| &p.samples), "{what}: PRB {k:?}");
            }
        } else {
            let (near, evm, bound) = oracle::near_bound(input, out, to, e);
            assert!(near, "{what}: eAxC {e} EVM {evm:.2} dB, bound {bound:.2} dB");
            println!("{what}: eAxC {e} EVM {evm:.2} dB, bound {bound:.2} dB");
        }
    }
}

fn no_complaints(out: &Path, comp: &str, what: &str) {
    let c = tshark::complaints(out, &tshark::prefs("4,4,4,4", comp, comp, true, PRBS));
    assert!(c.is_empty(), "{what}: {c:?}");
}

/// Without PRACH each pair runs DU → RU (DL U-plane, and the C-plane
/// whose udCompHdr bfp_width rewrites); with PRACH, RU → DU (UL U-plane,
/// the PRACH eAxC converted with the data as its profile says), plus one
/// DU → RU for section type 3.
#[test]
fn every_width_and_method_with_and_without_prach_learns_plans_and_replays() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    // plan reads (and compiles) every module of the directory: only bfp_width here.
    let tr = dir.path().join("translators");
    std::fs::create_dir(&tr).unwrap();
    std::fs::copy(t.join("bfp_width.wasm"), tr.join("bfp_width.wasm")).unwrap();
    let mut replays = 0;
    for prach in [false, true] {
        let bfp: Vec<Side> = BFP.iter().map(|c| learn(dir.path(), c, prach)).collect();
        let other: Vec<Side> = OTHER.iter().map(|c| learn(dir.path(), c, prach)).collect();
        for a in &bfp {
            for b in bfp.iter().filter(|b| b.comp != a.comp) {
                let what = format!("DU {} -> RU {}, PRACH {prach}", a.comp, b.comp);
                let out = dir.path().join("out.pcap");
                let _ = std::fs::remove_file(&out);
                let (input, from, to, eaxcs): (&Path, _, _, &[u16]) = if prach { (&b.ru, "ru", a.comp, &[0, 1]) } else { (&a.du, "du", b.comp, &[0]) };
                let j = replay(input, &out, if prach { "ru" } else { "du" }, a, b, &tr).unwrap_or_else(|e| panic!("{what}: {e}"));
                replays += 1;
                assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{what}: {j}");
                assert_eq!(oracle::pcap_records(&out).len(), oracle::pcap_records(input).len(), "{what}: frames");
                no_complaints(&out, to, &what);
                let from_w = width(if from == "ru" { b.comp } else { a.comp });
                iq(input, &out, eaxcs, from_w, width(to), &what);
            }
        }
        if prach {
            // DU -> RU with PRACH once (8 -> 12): type 3's udCompHdr
            // (O-RAN CUS §7.4, byte 11 of its common header) tells the RU
            // the PRACH U-plane format, so it follows the chain too.
            let (a, b) = (&bfp[0], &bfp[2]);
            let out = dir.path().join("dl_prach.pcap");
            let j = replay(&a.du, &out, "du", a, b, &tr).unwrap_or_else(|e| panic!("DL with PRACH: {e}"));
            replays += 1;
            assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
            no_complaints(&out, b.comp, "DL with PRACH");
            let type3: Vec<u8> = oracle::pcap_records(&out).iter().filter(|f| f[15] == 2 && f[27] == 3).map(|f| f[33]).collect();
            assert_eq!(type3, [0xC1], "type 3 udCompHdr: BFP (1), 12 bits");
            continue;
        }
        // Another method on one side: refused before a frame is read, naming key and values.
        let nine = &bfp[1];
        for o in &other {
            for (du, ru) in [(o, nine), (nine, o)] {
                let out = dir.path().join("refused.pcap");
                let e = replay(&du.du, &out, "du", du, ru, &tr).unwrap_err();
                replays += 1;
                let line = format!("DL U-plane dl_comp: {} -> {}: NOT BRIDGED", du.comp, ru.comp);
                assert!(e.contains(&line), "wants `{line}`: {e}");
                assert!(!out.exists(), "nothing written");
            }
        }
    }
    assert_eq!(replays, 12 + 12 + 1 + 6);
}

/// The quantiser step of each PRB of a capture as its format carries it
/// (Annex A): none 2^(16-w), BFP 2^exponent, block scaling 512 ·
/// sblockScaler / 2^w, µ-law 2^(17-w) / 2^compShift.
fn steps(path: &Path) -> std::collections::BTreeMap<oracle::PrbKey, f64> {
    let mut out = std::collections::BTreeMap::new();
    oracle::walk_prbs(path, None, |k, meth, w, prb| {
        let (p, w) = (prb[0] as i32, w as i32);
        let step = match meth {
            0 => 2f64.powi(16 - w),
            1 => 2f64.powi(p & 0xF),
            2 => 512.0 * p as f64 / 2f64.powi(w),
            _ => 2f64.powi(17 - w) / 2f64.powi(p & 0xF),
        };
        out.insert(k, step);
    });
    out
}

/// A translator counter summed over every instance named `name`.
fn counter(j: &serde_json::Value, name: &str, key: &str) -> u64 {
    j["translators"].as_array().unwrap().iter().filter(|t| t["name"] == name).map(|t| t["counters"][key].as_u64().unwrap_or(0)).sum()
}

/// `out` against `input` by the spec: to none:16 every sample is the
/// input's Annex A value clipped to 16 bits, to the nearest integer
/// (exact for BFP); otherwise within a step of the output's quantiser
/// (plus one for the rounding of a real input value). Returns the samples clipped.
fn iq_across(input: &Path, out: &Path, to: &str, what: &str) -> u64 {
    let (a, b) = (oracle::spec_decode_any(input), oracle::spec_decode_any(out));
    assert!(!a.is_empty(), "{what}: no U-plane PRB in the input");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: the same PRBs");
    let step = steps(out);
    let mut clipped = 0;
    for (k, x) in &a {
        for (x, y) in x.iter().zip(&b[k]) {
            if to == "none:16" {
                let want = x.clamp(-32768.0, 32767.0);
                clipped += (want != *x) as u64;
                assert!((want - y).abs() <= 0.5, "{what}: PRB {k:?}: {x} -> {y}");
                if x.fract() == 0.0 {
                    assert_eq!(*y, want, "{what}: PRB {k:?}: an integer value is carried exactly");
                }
            } else {
                assert!((x - y).abs() <= step[k] + 1.0, "{what}: PRB {k:?}: {x} -> {y}, step {}", step[k]);
            }
        }
    }
    clipped
}

/// Across methods (comp_convert, chosen by plan from its declared
/// effects): every method to none:16 is lossless; BFP 9 to and from µ-law,
/// block scaling and none within a step; one UL pair with PRACH; BFP at
/// exponents 4-15 to none:16 saturates what 16 bits cannot carry, counted.
#[test]
fn methods_convert_to_and_from_bfp_through_comp_convert() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("translators");
    std::fs::create_dir(&tr).unwrap();
    for m in ["bfp_width.wasm", "comp_convert.wasm"] {
        std::fs::copy(t.join(m), tr.join(m)).unwrap();
    }
    let sides: Vec<Side> = BFP.iter().chain(&OTHER).map(|c| learn(dir.path(), c, false)).collect();
    let side = |c: &str| sides.iter().find(|s| s.comp == c).unwrap();
    let none = side("none:16");
    // plan names the step for both directions.
    let o = fhgate(&["plan", "--du", s(&side("bfp:9").profile), "--ru", s(&none.profile), "--translators", s(&tr)]);
    let plan = text(&o.stdout);
    assert!(o.status.success(), "{plan}{}", text(&o.stderr));
    for line in [
        "DL U-plane dl_comp: bfp:9 -> none:16: bridged by comp_convert (in_comp=\"bfp:9\", out_comp=\"none:16\", direction=\"dl\")",
        "UL U-plane ul_comp: none:16 -> bfp:9: bridged by comp_convert (in_comp=\"none:16\", out_comp=\"bfp:9\", direction=\"ul\", cplane=false)",
    ] {
        assert!(plan.contains(line), "wants `{line}`:\n{plan}");
    }
    let mut pairs: Vec<(&str, &str)> = ["bfp:8", "bfp:9", "bfp:12", "bfp:14", "mu-law:8", "block-scaling:9"].map(|c| (c, "none:16")).to_vec();
    pairs.extend([("bfp:9", "mu-law:8"), ("bfp:9", "block-scaling:9"), ("none:16", "bfp:9"), ("mu-law:8", "bfp:9"), ("block-scaling:9", "bfp:9")]);
    for (a, b) in pairs {
        let what = format!("DU {a} -> RU {b}");
        let (du, ru) = (side(a), side(b));
        let out = dir.path().join("cross.pcap");
        let _ = std::fs::remove_file(&out);
        let j = replay(&du.du, &out, "du", du, ru, &tr).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{what}: {j}");
        assert_eq!(oracle::pcap_records(&out).len(), oracle::pcap_records(&du.du).len(), "{what}: frames");
        no_complaints(&out, b, &what);
        assert_eq!(iq_across(&du.du, &out, b, &what), 0, "{what}: gen's signal fits 16 bits");
        assert_eq!(counter(&j, "comp_convert", "saturated_samples"), 0, "{what}");
        assert!(counter(&j, "comp_convert", "converted_sections") > 0, "{what}: {j}");
    }
    // UL with PRACH (its eAxC at the data's compression): RU BFP 9 -> DU none:16, both eAxCs exact.
    let (ru9, du16) = (learn(dir.path(), "bfp:9", true), learn(dir.path(), "none:16", true));
    let out = dir.path().join("ul_prach.pcap");
    let j = replay(&ru9.ru, &out, "ru", &du16, &ru9, &tr).unwrap_or_else(|e| panic!("UL with PRACH: {e}"));
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    no_complaints(&out, "none:16", "UL with PRACH");
    assert_eq!(iq_across(&ru9.ru, &out, "none:16", "UL with PRACH"), 0);
    let eaxcs: std::collections::BTreeSet<u16> = oracle::spec_decode_any(&out).keys().map(|k| k.0).collect();
    assert_eq!(eaxcs.into_iter().collect::<Vec<_>>(), [0, 1], "data and PRACH eAxCs");
    // Exponents 4-15 at 9 bits reach 2^23: none:16 clips them, and says how many.
    let high = dir.path().join("du_bfp9_high.pcap");
    let n = PRBS.to_string();
    let o = fhgate(&["gen", "-o", s(&high), "--side", "du", "--comp", "bfp:9", "--prbs", &n, "--antennas", "1", "--slots", "1", "--numerology", "0", "--exponents", "4-15"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = dir.path().join("high.pcap");
    let j = replay(&high, &out, "du", side("bfp:9"), none, &tr).unwrap_or_else(|e| panic!("high exponents: {e}"));
    no_complaints(&out, "none:16", "high exponents");
    let clipped = iq_across(&high, &out, "none:16", "high exponents");
    assert!(clipped > 0, "exponents up to 15 exceed 16 bits");
    assert_eq!(counter(&j, "comp_convert", "saturated_samples"), clipped, "every clipped sample counted: {j}");
}
