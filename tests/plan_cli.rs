//! `fhgate plan` and verified chains (issue 13 §4-5): learn the DU from
//! its capture, write the RU's datasheet values, plan, run and replay;
//! a wrong chain is refused before a packet moves, naming flow, field,
//! what the chain gives and what the profile wants; differences nothing
//! bridges are named; bad profiles get clear errors. Oracles: tshark
//! with preferences from the RU profile, and the spec BFP decoder.

use std::collections::BTreeMap;
use std::path::Path;

#[path = "support/bfp_oracle.rs"]
mod oracle;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/tshark.rs"]
mod tshark;

use cli::{fhgate, repo, s, text, translators, write};

/// The RU of the README: its datasheet values, by hand.
const RU_DATASHEET: &str = "eaxc_bits = \"2,6,4,4\"\ndl_comp = \"bfp:12\"\nul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\ncarrier_prbs = 273\nnumerology = 1\nmtu = 1500\n";

/// An eAxC ID split under `from` and joined under `to` (widths DU,BS,CC,RU).
fn remap(id: u16, from: [u32; 4], to: [u32; 4]) -> u16 {
    let mut fields = [0u32; 4];
    let mut shift = 16;
    for i in 0..4 {
        shift -= from[i];
        fields[i] = (id as u32 >> shift) & ((1 << from[i]) - 1);
    }
    let mut out = 0u32;
    for i in 0..4 {
        out = (out << to[i]) | fields[i];
    }
    out as u16
}

/// Every BFP PRB of `a` (read as `wa`: `Some(w)` static at w bits, `None`
/// with udCompHdr) is in `b` (read as `wb`) at the remapped eAxC with the
/// same samples.
fn iq_exact(a: &Path, wa: Option<usize>, b: &Path, wb: Option<usize>, from: [u32; 4], to: [u32; 4]) {
    let read = |p: &Path, w: Option<usize>| match w {
        Some(w) => oracle::oracle_decode_static(p, w),
        None => oracle::oracle_decode(p),
    };
    let (pa, pb) = (read(a, wa), read(b, wb));
    assert!(!pa.is_empty());
    assert_eq!(pa.len(), pb.len(), "PRB count");
    let moved: BTreeMap<_, _> = pa.into_iter().map(|(k, v)| ((remap(k.0, from, to), k.1, k.2, k.3, k.4, k.5, k.6), v)).collect();
    for (k, v) in &moved {
        let got = pb.get(k).unwrap_or_else(|| panic!("PRB {k:?} missing"));
        assert_eq!(v.samples, got.samples, "PRB {k:?}");
    }
}

#[test]
fn learn_plan_run_and_replay_the_shipped_du_capture() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let capture = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let du = dir.path().join("du.toml");
    let o = fhgate(&["profile", "learn", s(&capture), "-o", s(&du)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ru = write(dir.path(), "ru.toml", RU_DATASHEET);
    let gw = dir.path().join("gw.toml");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "--translators", s(&t), "-o", s(&gw)]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    for line in [
        "DL U-plane dl_comp: bfp:8 -> bfp:12: bridged by bfp_width (in_width=8, out_width=12, direction=\"dl\")",
        "DL U-plane eaxc_bits: 4,4,4,4 -> 2,6,4,4: bridged by eaxc_remap (from=\"4,4,4,4\", to=\"2,6,4,4\")",
        "UL U-plane ul_comp: bfp:12 -> bfp:8: bridged by bfp_width (in_width=12, out_width=8, direction=\"ul\", cplane=false)",
        "UL U-plane eaxc_bits: 2,6,4,4 -> 4,4,4,4: bridged by eaxc_remap",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    // The written configuration is complete: it checks, and runs.
    let o = fhgate(&["run", "--check", "-c", s(&gw)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ru_out = dir.path().join("ru_run.pcap");
    let cfg = std::fs::read_to_string(&gw).unwrap().replace("input = \"du.pcap\"", &format!("input = \"{}\"", s(&capture))).replace("output = \"ru.pcap\"", &format!("output = \"{}\"", s(&ru_out)))
        // Deadlines are wall-clock: a loaded machine must not turn
        // descheduling into deadline faults (whose policy passes the burst).
        .replace("config = {", "deadline_us = 200000\nconfig = {");
    let gw_run = write(dir.path(), "gw_run.toml", &cfg);
    let o = fhgate(&["run", "-c", s(&gw_run), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");

    // Profile-only replay runs the same derived chain.
    let replayed = dir.path().join("ru_replay.pcap");
    let o = fhgate(&["replay", s(&capture), "-o", s(&replayed), "--du-profile", s(&du), "--ru-profile", s(&ru), "--translators-dir", s(&t), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    assert_eq!(std::fs::read(&replayed).unwrap(), std::fs::read(&ru_out).unwrap(), "replay and run give the same frames");
    // Oracles: tshark decodes it under the RU profile without complaint;
    // the IQ is exactly the DU's (8 -> 12 is lossless) at the remapped eAxC.
    let c = tshark::complaints(&replayed, &tshark::prefs("2,6,4,4", "bfp:12", "bfp:12", true, 273));
    assert!(c.is_empty(), "{c:?}");
    iq_exact(&capture, None, &replayed, None, [4, 4, 4, 4], [2, 6, 4, 4]);
}

#[test]
fn a_chain_that_misses_the_profile_is_refused_before_a_packet_moves() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let capture = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let du = write(dir.path(), "du.toml", "eaxc_bits = \"4,4,4,4\"\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\n");
    let ru = write(dir.path(), "ru.toml", &RU_DATASHEET.replace("bfp:12", "bfp:14"));
    let out = dir.path().join("ru.pcap");
    let widen = format!("{}:in_width=8,out_width=12", s(&t.join("bfp_width.wasm")));
    let remap = format!("{}:from=\"4,4,4,4\",to=\"2,6,4,4\"", s(&t.join("eaxc_remap.wasm")));
    let o = fhgate(&["replay", s(&capture), "-o", s(&out), "--du-profile", s(&du), "--ru-profile", s(&ru), "--translator", &widen, "--translator", &remap]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("DL U-plane dl_comp: chain gives bfp:12, RU profile wants bfp:14"), "{err}");
    assert!(!err.contains("eaxc_bits"), "eaxc_remap bridges the eAxC split: {err}");
    assert!(!out.exists(), "nothing written");

    // The same chain in a configuration: run and run --check refuse it.
    let cfg = format!(
        "[du]\nprofile = \"{}\"\nbackend = \"pcap\"\ninput = \"{}\"\n\n[ru]\nprofile = \"{}\"\nbackend = \"pcap\"\noutput = \"{}\"\n\n\
         [[translator]]\nname = \"widen\"\npath = \"{}\"\nconfig = {{ in_width = 8, out_width = 12 }}\n\n\
         [[chain]]\nselect = \"dir=dl\"\ntranslators = [\"widen\"]\n",
        s(&du),
        s(&capture),
        s(&ru),
        s(&out),
        s(&t.join("bfp_width.wasm"))
    );
    let gw = write(dir.path(), "gw.toml", &cfg);
    for check in [true, false] {
        let mut a = vec!["run", "-c", s(&gw)];
        if check {
            a.push("--check");
        }
        let o = fhgate(&a);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains("DL U-plane dl_comp: chain gives bfp:12, RU profile wants bfp:14"), "{err}");
        assert!(err.contains("DL U-plane eaxc_bits: chain gives 4,4,4,4, RU profile wants 2,6,4,4"), "{err}");
        assert!(!out.exists(), "{a:?}: nothing written");
    }
}

#[test]
fn differences_nothing_bridges_are_named_and_nothing_is_written() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let du = write(dir.path(), "du.toml", "dl_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nnumerology = 1\ncarrier_prbs = 273\n");
    // Modulation compression: comp_convert refuses it (its parameters come from the C-plane), so nothing bridges it.
    let ru = write(dir.path(), "ru.toml", "dl_comp = \"modcomp:4\"\ncomp_hdr = \"present\"\nnumerology = 0\ncarrier_prbs = 273\n");
    let gw = dir.path().join("gw.toml");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "--translators", s(&t), "-o", s(&gw)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("DL U-plane dl_comp: bfp:8 -> modcomp:4: NOT BRIDGED: no translator available declares `dl_comp bfp:8 -> modcomp:4`"), "{out}");
    assert!(out.contains("carrier numerology: 1 -> 0: NOT BRIDGED: nothing changes the numerology: a translator cannot declare `numerology` (effects name only comp_hdr, dl_comp, ul_comp, eaxc_bits, vlan"), "{out}");
    assert!(!gw.exists());
    // The carrier width: key, both values and why.
    let ru_wide = write(dir.path(), "ru_wide.toml", "dl_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nnumerology = 1\ncarrier_prbs = 106\n");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru_wide), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("carrier carrier_prbs: 273 -> 106: NOT BRIDGED: nothing changes the carrier width: a translator cannot declare `carrier_prbs`"), "{out}");
    // Profile-only replay refuses the same, before reading a frame.
    let capture = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let o = fhgate(&["replay", s(&capture), "-o", s(&dir.path().join("x.pcap")), "--du-profile", s(&du), "--ru-profile", s(&ru), "--translators-dir", s(&t)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("dl_comp: bfp:8 -> modcomp:4: NOT BRIDGED"), "{}", text(&o.stderr));
}

/// PRACH flows with a compression of their own: plan folds each through
/// the UL chain it derived (bfp_width 9 -> 12 leaves the 14-bit PRACH as
/// it is) and gives each that does not leave as the DU wants a chain of
/// its own, named by eAxC, ahead of the UL chain in the config it writes.
#[test]
fn plan_gives_prach_flows_the_chain_leaves_wrong_a_chain_of_their_own() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let ru = write(dir.path(), "ru.toml", "ul_comp = \"bfp:9\"\ncomp_hdr = \"present\"\nprach_comp = \"bfp:14\"\nprach_eaxc = [\"0x0002\", \"0x0003\"]\n");
    let du = |prach: &str| write(dir.path(), "du.toml", &format!("ul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\nprach_comp = \"{prach}\"\nprach_eaxc = [\"0x0002\", \"0x0003\"]\n"));
    let gw = dir.path().join("gw.toml");
    let o = fhgate(&["plan", "--du", s(&du("bfp:12")), "--ru", s(&ru), "--translators", s(&t), "-o", s(&gw)]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("UL U-plane ul_comp: bfp:9 -> bfp:12: bridged by bfp_width"), "{out}");
    let cfg = std::fs::read_to_string(&gw).unwrap();
    let general = cfg.find("select = \"dir=ul,plane=u\"").unwrap_or_else(|| panic!("{cfg}"));
    for id in ["0x0002", "0x0003"] {
        let line = format!(
            "UL U-plane PRACH eAxC {id} prach_comp: bfp:14 -> bfp:12: bridged by bfp_width (in_width=14, out_width=12, direction=\"ul\", cplane=false) on a chain of its own (dir=ul,plane=u,eaxc={id}/0xffff)"
        );
        assert!(out.contains(&line), "{out}");
        let own = cfg.find(&format!("select = \"dir=ul,plane=u,eaxc={id}/0xffff\"")).unwrap_or_else(|| panic!("{cfg}"));
        assert!(own < general, "eAxC {id}'s chain before the UL chain: {cfg}");
    }
    // A DU that takes PRACH at 14 as sent: nothing to say about those flows.
    let o = fhgate(&["plan", "--du", s(&du("bfp:14")), "--ru", s(&ru), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert!(o.status.success() && !out.contains("PRACH"), "{out}");
}

#[test]
fn bad_profiles_get_clear_errors_and_no_panic() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let ok = write(dir.path(), "ok.toml", "dl_comp = \"bfp:8\"\n");
    for (body, want) in [
        ("dl_comp = \"bfp:8\"\nwidth = 9\n", "line 2"),
        ("dl_comp = \"bfp:8\"\nwidth = 9\n", "unknown field `width`"),
        ("dl_comp = \"bfp:17\"\n", "(dl_comp)"),
        ("comp_hdr = \"sometimes\"\n", "(comp_hdr): `sometimes`: expected present or absent"),
        ("eaxc_bits = \"4,4,4\"\n", "(eaxc_bits)"),
        ("carrier_prbs = 2000\n", "(carrier_prbs): 2000 is outside 1-1023"),
        ("mtu = \"big\"\n", "line 1"),
        // Keys that contradict each other.
        ("prach_comp = \"bfp:14\"\n", "(prach_comp): needs prach_eaxc"),
        ("prach_eaxc = [\"0x0002\"]\nsrs_eaxc = [\"2\"]\n", "(srs_eaxc): 0x0002 is in prach_eaxc too: a flow is PRACH or SRS, not both"),
        ("dl_comp = \"bfp:8\"\ndl_comp = \"bfp:9\"\n", "(line 2): duplicate key `dl_comp` (first given on line 1)"),
        ("vlan = 5000\n", "(vlan): 5000 is outside 0-4094"),
        ("prach_eaxc = [\"0x10000\"]\n", "(prach_eaxc)"),
    ] {
        let bad = write(dir.path(), "bad.toml", body);
        let o = fhgate(&["plan", "--du", s(&bad), "--ru", s(&ok), "--translators", s(&t)]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains("bad.toml") && err.contains(want), "{body}: wants `{want}`: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A profile key and an inline key of different types.
    let p = write(dir.path(), "du.toml", "carrier_prbs = 51\n");
    let gw = write(dir.path(), "gw.toml", &format!("[du]\nprofile = \"{}\"\nbackend = \"pcap\"\ncarrier_prbs = \"51\"\n\n[ru]\nbackend = \"pcap\"\n", s(&p)));
    let o = fhgate(&["run", "--check", "-c", s(&gw)]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("du.carrier_prbs") && err.contains("string") && err.contains("integer"), "{err}");
    // The same contradiction inline in gw.toml: named by key.
    let gw = write(dir.path(), "gw2.toml", "[du]\nbackend = \"pcap\"\n\n[ru]\nbackend = \"pcap\"\nprach_eaxc = [\"0x0002\"]\nsrs_eaxc = [\"0x0002\"]\n");
    let o = fhgate(&["run", "--check", "-c", s(&gw)]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("ru.srs_eaxc") && err.contains("0x0002 is in prach_eaxc too"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// One side as gen makes it and as its profile says.
struct Side {
    name: &'static str,
    gen: &'static [&'static str],
    profile: &'static str,
    /// (width, udCompHdr present, eAxC split, VLAN).
    form: (usize, bool, [u32; 4], Option<u16>),
}

const SIDES: &[Side] = &[
    Side { name: "bfp8_hdr", gen: &["--comp", "bfp:8"], profile: "dl_comp = \"bfp:8\"\ncomp_hdr = \"present\"\neaxc_bits = \"4,4,4,4\"\n", form: (8, true, [4, 4, 4, 4], None) },
    Side {
        name: "bfp12_hdr_2644",
        gen: &["--comp", "bfp:12", "--eaxc-bits", "2,6,4,4"],
        profile: "dl_comp = \"bfp:12\"\ncomp_hdr = \"present\"\neaxc_bits = \"2,6,4,4\"\n",
        form: (12, true, [2, 6, 4, 4], None),
    },
    Side { name: "bfp9_static", gen: &["--comp", "bfp:9", "--no-comp-hdr"], profile: "dl_comp = \"bfp:9\"\ncomp_hdr = \"absent\"\neaxc_bits = \"4,4,4,4\"\n", form: (9, false, [4, 4, 4, 4], None) },
    Side {
        name: "bfp14_static_vlan5",
        gen: &["--comp", "bfp:14", "--no-comp-hdr", "--vlan", "5"],
        profile: "dl_comp = \"bfp:14\"\ncomp_hdr = \"absent\"\neaxc_bits = \"4,4,4,4\"\nvlan = 5\n",
        form: (14, false, [4, 4, 4, 4], Some(5)),
    },
];

/// Every ordered pair of sides: plan (replay with both profiles and no
/// translator) gives output that decodes under the receiving profile
/// (fhgate inspect and tshark), with the IQ exact where it widens.
#[test]
fn every_pair_of_generator_profiles_replays_into_the_other() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let common = ["--side", "du", "--prbs", "51", "--antennas", "2", "--slots", "1", "--mtu", "9000"];
    let body = |p: &str| format!("{p}ul_comp = \"{}\"\ncarrier_prbs = 51\nnumerology = 1\n", p.split('"').nth(1).unwrap());
    for a in SIDES {
        let cap = dir.path().join(format!("{}.pcap", a.name));
        let o = fhgate(&[&["gen", "-o", s(&cap)][..], &common, a.gen].concat());
        assert!(o.status.success(), "{}", text(&o.stderr));
        let pa = write(dir.path(), &format!("{}.toml", a.name), &body(a.profile));
        for b in SIDES.iter().filter(|b| b.name != a.name) {
            let pb = write(dir.path(), &format!("{}.toml", b.name), &body(b.profile));
            let out = dir.path().join(format!("{}_to_{}.pcap", a.name, b.name));
            let o = fhgate(&["replay", s(&cap), "-o", s(&out), "--du-profile", s(&pa), "--ru-profile", s(&pb), "--translators-dir", s(&t), "--json"]);
            let what = format!("{} -> {}", a.name, b.name);
            assert!(o.status.success(), "{what}: {}", text(&o.stderr));
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{what}: {j}");
            let (w, hdr, split, _) = b.form;
            let comp = format!("bfp:{w}");
            let eaxc = split.map(|x| x.to_string()).join(",");
            let o = fhgate(&["inspect", s(&out), "--json", "--eaxc-bits", &eaxc, "--dl-comp", &comp, "--ul-comp", &comp, "--comp-hdr", if hdr { "present" } else { "absent" }, "--carrier-prbs", "51"]);
            let last: serde_json::Value = serde_json::from_str(text(&o.stdout).lines().last().unwrap()).unwrap();
            assert_eq!(last["summary"]["error_frames"], 0, "{what}: {last}");
            let c = tshark::complaints(&out, &tshark::prefs(&eaxc, &comp, &comp, hdr, 51));
            assert!(c.is_empty(), "{what}: {c:?}");
            // VLAN as the receiving profile says.
            let tagged = oracle::pcap_records(&out).iter().all(|f| f[12..14] == [0x81, 0x00]);
            assert_eq!(tagged, b.form.3.is_some(), "{what}: VLAN");
            if b.form.0 >= a.form.0 {
                iq_exact(&cap, (!a.form.1).then_some(a.form.0), &out, (!hdr).then_some(w), a.form.2, split);
            }
        }
    }
}

/// A flow's eAxC as egress sees it after a chain that changes the split:
/// the same fields (DU port, band sector, CC, RU port) under the new one.
#[test]
fn a_flow_is_named_after_the_split_its_chain_leaves() {
    use fhgate::plan::fold::{format_of_profile, repack};
    let f = |bits: &str| format_of_profile(&fhgate::config::profile::Profile { eaxc_bits: Some(bits.into()), ..Default::default() });
    // DU port 1, RU port 2: 0x1002 under 4,4,4,4 is 0x4002 under 2,6,4,4 (DU port in the top 2 bits).
    assert_eq!(repack(0x1002, &f("4,4,4,4"), &f("2,6,4,4")), Some(0x4002));
    assert_eq!(repack(0x4002, &f("2,6,4,4"), &f("4,4,4,4")), Some(0x1002));
    assert_eq!(repack(0x1234, &f("4,4,4,4"), &f("4,4,4,4")), Some(0x1234));
    // DU port 5 does not fit 2 bits; a split known on one side only names nothing.
    assert_eq!(repack(0x5002, &f("4,4,4,4"), &f("2,6,4,4")), None);
    let unknown = format_of_profile(&Default::default());
    assert_eq!(repack(0x0002, &unknown, &f("2,6,4,4")), None);
    assert_eq!(repack(0x0002, &unknown, &unknown), Some(0x0002), "no split given: unchanged");
}

/// Differences in the C-plane alone (item 3 of the leftovers): a DU whose
/// C-plane udCompHdr says none:16 while its U-plane is BFP 9 (the issue's
/// known case), and section types the RU's profile never saw. Plan names
/// each: the first is refused (the RU would be told none:16), by plan and
/// by replay before a frame moves; one where the RU is told what it wants
/// anyway is said, not refused; a consistent DU gives no C-plane line.
#[test]
fn differences_only_in_the_c_plane_are_named() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let learn = |name: &str, extra: &[&str]| -> fhgate::config::profile::Profile {
        let cap = dir.path().join(format!("{name}.pcap"));
        let o = fhgate(&[&["gen", "-o", s(&cap), "--side", "du", "--comp", "bfp:9", "--prbs", "24", "--antennas", "1", "--slots", "1", "--numerology", "1"][..], extra].concat());
        assert!(o.status.success(), "{}", text(&o.stderr));
        let o = fhgate(&["profile", "learn", s(&cap)]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        fhgate::config::profile::Profile::from_toml(&text(&o.stdout), Path::new("stdout")).unwrap()
    };
    let du = learn("du", &[]);
    // learn records what the C-plane says, per direction.
    let l = du.learned.clone().unwrap();
    assert_eq!(l.cplane_comp.get("dl").map(String::as_str), Some("bfp:9"), "{l:?}");
    let save = |name: &str, p: &fhgate::config::profile::Profile| write(dir.path(), name, &toml::to_string(p).unwrap());
    // The RU at 12 both ways: the DL step's rewrite of the UL sections' header is then right too.
    let ru = write(dir.path(), "ru.toml", "dl_comp = \"bfp:12\"\nul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\n");
    let plan = |du: &Path, ru: &Path| {
        let o = fhgate(&["plan", "--du", s(du), "--ru", s(ru), "--translators", s(&t)]);
        (o.status.code(), text(&o.stdout))
    };
    let (code, out) = plan(&save("du_ok.toml", &du), &ru);
    assert!(code == Some(0) && !out.contains("C-plane"), "a consistent DU: {out}");
    // The known case: C-plane none:16, U-plane bfp:9.
    let mut liar = du.clone();
    liar.learned.as_mut().unwrap().cplane_comp.insert("dl".into(), "none:16".into());
    let liar_file = save("du_cplane_none.toml", &liar);
    let (code, out) = plan(&liar_file, &ru);
    assert_eq!(code, Some(1), "{out}");
    let line = "C-plane DL sections udCompHdr: none:16 -> bfp:12: NOT BRIDGED: the DU's C-plane says none:16 where its U-plane is bfp:9 (learned.cplane_comp)";
    assert!(out.contains(line), "wants `{line}`:\n{out}");
    assert!(out.contains("DL U-plane dl_comp: bfp:9 -> bfp:12: bridged by bfp_width"), "the U-plane is still bridged: {out}");
    let capture = dir.path().join("du.pcap");
    let refused = dir.path().join("refused.pcap");
    let o = fhgate(&["replay", s(&capture), "-o", s(&refused), "--du-profile", s(&liar_file), "--ru-profile", s(&ru), "--translators-dir", s(&t)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("C-plane DL sections udCompHdr: none:16 -> bfp:12: NOT BRIDGED"), "{}", text(&o.stderr));
    assert!(!refused.exists(), "nothing written");
    // C-plane bfp:12 over a bfp:9 U-plane, to an RU at bfp:12: it is told what it wants.
    let mut lucky = du.clone();
    lucky.learned.as_mut().unwrap().cplane_comp.insert("dl".into(), "bfp:12".into());
    let (code, out) = plan(&save("du_cplane_12.toml", &lucky), &ru);
    assert!(code == Some(0) && out.contains("C-plane DL sections udCompHdr: bfp:12 -> bfp:12: the RU is told bfp:12, as its profile has"), "{out}");
    // Section type 3 from the DU, where the RU's profile (learned without PRACH) has type 1 only.
    let du_prach = learn("du_prach", &["--prach"]);
    let mut ru_learned = du.clone();
    ru_learned.dl_comp = Some("bfp:12".into());
    let (code, out) = plan(&save("du_prach.toml", &du_prach), &save("ru_learned.toml", &ru_learned));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("C-plane section_types: 1,3 -> 1: NOT BRIDGED: the DU sends section type 3 that the RU's profile never saw"), "{out}");
    // A section extension the RU's profile never saw (ext 11, beamforming weights disabled).
    let mut du_ext = du.clone();
    du_ext.learned.as_mut().unwrap().section_extensions.insert("11".into(), 14);
    let mut ru_12 = du.clone();
    ru_12.dl_comp = Some("bfp:12".into());
    ru_12.ul_comp = Some("bfp:12".into());
    let (code, out) = plan(&save("du_ext.toml", &du_ext), &save("ru_12.toml", &ru_12));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("C-plane section_extensions: 11 -> none: NOT BRIDGED: the DU sends section extension 11 that the RU's profile never saw"), "{out}");
}

/// A DL step rewrites every C-plane udCompHdr that says what it converts
/// from, whatever the sections' dataDirection: a DU at bfp:9 both ways to
/// an RU at 12 (DL) and 14 (UL) would tell the RU 12 for its UL sections.
/// Plan names it, with what would bridge it, instead of passing it.
#[test]
fn a_dl_step_that_would_tell_the_ru_the_wrong_ul_compression_is_named() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let du = write(dir.path(), "du.toml", "dl_comp = \"bfp:9\"\nul_comp = \"bfp:9\"\ncomp_hdr = \"present\"\n");
    let ru = write(dir.path(), "ru.toml", "dl_comp = \"bfp:12\"\nul_comp = \"bfp:14\"\ncomp_hdr = \"present\"\n");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = "C-plane UL sections udCompHdr: bfp:9 -> bfp:14: NOT BRIDGED: the DL chain's bfp_width (in_width=9, out_width=12, direction=\"dl\") rewrites every C-plane udCompHdr that says bfp:9, these sections' too, so the RU is told bfp:12 where its profile has bfp:14";
    assert!(out.contains(line), "wants `{line}`:\n{out}");
    assert!(!out.contains("C-plane DL sections"), "the DL sections are told what the RU has: {out}");
    // Alike both ways: nothing to say about the C-plane.
    let ru12 = write(dir.path(), "ru12.toml", "dl_comp = \"bfp:12\"\nul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\n");
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru12), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert!(o.status.success() && !out.contains("C-plane"), "{out}");
}

/// A PRACH chain of its own cannot repeat a UL chain step that adds
/// udCompHdr (comphdr_static inserts the data's compression): plan names
/// the flow as not bridged, says why and what would bridge it.
#[test]
fn a_prach_chain_of_its_own_is_not_composed_with_a_udcomphdr_change() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let ids = "prach_eaxc = [\"0x0002\"]\n";
    let ru = write(dir.path(), "ru.toml", &format!("ul_comp = \"bfp:9\"\ncomp_hdr = \"absent\"\nprach_comp = \"bfp:14\"\n{ids}"));
    let du = write(dir.path(), "du.toml", &format!("ul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\nprach_comp = \"bfp:12\"\n{ids}"));
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = "UL U-plane PRACH eAxC 0x0002 prach_comp: bfp:14 -> bfp:12: NOT BRIDGED: the UL chain leaves this flow at bfp:14";
    assert!(out.contains(line), "wants `{line}`:\n{out}");
    assert!(out.contains("changes udCompHdr presence, which a chain of its own cannot repeat at this flow's compression"), "{out}");
    assert!(out.contains("select = \"dir=ul,plane=u,eaxc=0x0002/0xffff\""), "what would bridge it: {out}");
}

/// PRACH/SRS eAxC IDs that differ between the profiles (after the RU's
/// are read under the DU's split) are named as not bridged: plan said
/// "the profiles agree" (hostile review). IDs that differ only by the
/// split agree.
#[test]
fn prach_and_srs_eaxc_ids_that_differ_are_named() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let base = "ul_comp = \"bfp:9\"\ndl_comp = \"bfp:9\"\ncomp_hdr = \"present\"\n";
    let du = write(dir.path(), "du.toml", &format!("{base}prach_eaxc = [\"0x0004\"]\nsrs_eaxc = [\"0x0007\"]\n"));
    let ru = write(dir.path(), "ru.toml", &format!("{base}prach_eaxc = [\"0x0005\"]\nsrs_eaxc = [\"0x0007\"]\n"));
    let o = fhgate(&["plan", "--du", s(&du), "--ru", s(&ru), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = "UL U-plane PRACH prach_eaxc: 0x0005 -> 0x0004: NOT BRIDGED: the RU sends PRACH on eAxC 0x0005 (under the DU's split), the DU expects it on 0x0004";
    assert!(out.contains(line), "wants `{line}`:\n{out}");
    assert!(!out.contains("srs_eaxc"), "the SRS IDs agree: {out}");
    // The same IDs under another split (RU 2,6,4,4: RU port 4 is 0x0004 either way) agree.
    let du2 = write(dir.path(), "du2.toml", &format!("{base}eaxc_bits = \"4,4,4,4\"\nprach_eaxc = [\"0x1004\"]\n"));
    let ru2 = write(dir.path(), "ru2.toml", &format!("{base}eaxc_bits = \"2,6,4,4\"\nprach_eaxc = [\"0x4004\"]\n"));
    let o = fhgate(&["plan", "--du", s(&du2), "--ru", s(&ru2), "--translators", s(&t)]);
    let out = text(&o.stdout);
    assert!(o.status.success() && !out.contains("prach_eaxc"), "{out}");
}
