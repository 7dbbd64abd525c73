//! `fhgate profile learn` on every shipped capture and on `gen` captures
//! made here: the learned profile must equal the generator's settings
//! (the eAxC split, which IDs alone cannot fix, must be among the
//! candidates). Then bad input, and `[du] profile = FILE` in gw.toml.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fhgate::config::profile::Profile;
use fhgate::config::GatewayConfig;

#[path = "support/write_pcap.rs"]
mod write_pcap;
use write_pcap::write_pcap;

#[path = "support/cli.rs"]
mod cli;
use cli::repo;

fn fhgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .output()
        .expect("fhgate runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What `gen` was told, read from its flags as MANIFEST writes them.
#[derive(Debug)]
struct GenSettings {
    ru: bool,
    numerology: u8,
    prbs: u16,
    comp: String,
    comp_hdr: bool,
    vlan: Option<u16>,
    pcp: u8,
    mtu: usize,
    eaxc: String,
}

fn settings(flags: &[&str]) -> GenSettings {
    let get = |k: &str, d: &str| {
        flags
            .iter()
            .position(|f| *f == k)
            .map_or(d.to_string(), |i| flags[i + 1].to_string())
    };
    GenSettings {
        ru: get("--side", "du") == "ru",
        numerology: get("--numerology", "1").parse().unwrap(),
        prbs: get("--prbs", "273").parse().unwrap(),
        comp: get("--comp", "bfp:9"),
        comp_hdr: !flags.contains(&"--no-comp-hdr"),
        vlan: flags
            .contains(&"--vlan")
            .then(|| get("--vlan", "").parse().unwrap()),
        pcp: get("--pcp", "7").parse().unwrap(),
        mtu: get("--mtu", "1500").parse().unwrap(),
        eaxc: get("--eaxc-bits", "4,4,4,4"),
    }
}

/// Learns from `captures` and parses the result with the profile schema.
fn learn(captures: &[&Path]) -> (Profile, String) {
    let mut args = vec!["profile", "learn"];
    args.extend(captures.iter().map(|p| p.to_str().unwrap()));
    let o = fhgate(&args);
    assert!(o.status.success(), "learn {captures:?}: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let p =
        Profile::from_toml(&text, Path::new("stdout")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (p, text)
}

fn assert_matches(what: &str, p: &Profile, text: &str, g: &GenSettings) {
    let ctx = || format!("{what}: {g:?}\n{text}");
    // A DU sends DL U-plane and says UL compression in its C-plane; an RU sends UL only.
    if g.ru {
        assert_eq!(p.dl_comp, None, "{}", ctx());
        assert!(
            text.contains("# dl_comp = (undecided)"),
            "an undecided key is said so: {}",
            ctx()
        );
    } else {
        assert_comp("dl_comp", p.dl_comp.as_deref(), &g.comp, text);
    }
    assert_comp("ul_comp", p.ul_comp.as_deref(), &g.comp, text);
    assert_eq!(
        p.comp_hdr.as_deref(),
        Some(if g.comp_hdr { "present" } else { "absent" }),
        "{}",
        ctx()
    );
    assert_eq!(p.carrier_prbs, Some(g.prbs), "{}", ctx());
    assert_eq!(p.numerology, Some(g.numerology), "{}", ctx());
    assert_eq!(p.vlan, g.vlan, "{}", ctx());
    assert_eq!(p.vlan_pcp, g.vlan.map(|_| g.pcp), "{}", ctx());
    assert_eq!(p.mtu, Some(g.mtu), "{}", ctx());
    let l = p.learned.as_ref().expect("a [learned] table");
    assert!(
        l.eaxc_bits_candidates.contains(&g.eaxc),
        "{} not among the candidates: {}",
        g.eaxc,
        ctx()
    );
    assert_eq!(
        p.eaxc_bits.as_ref(),
        l.eaxc_bits_candidates.first(),
        "the key is the first candidate"
    );
    assert_eq!(l.skipped_frames, 0, "{}", ctx());
    for v in l.cu_consistency.values() {
        assert!(
            v == "consistent"
                || v.starts_with("no C-plane")
                || (v.starts_with("undecided") && p.dl_comp.is_none()),
            "{}",
            ctx()
        );
    }
}

/// The learned compression is gen's, or the sample could not decide it
/// (bfp:16 and µ-law at 16 bits look alike without udCompHdr) and the
/// comment above the undecided key lists gen's among the candidates.
fn assert_comp(key: &str, got: Option<&str>, want: &str, text: &str) {
    if got == Some(want) {
        return;
    }
    assert_eq!(got, None, "{key}: learned {got:?}, gen used {want}\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == format!("# {key} = (undecided)"))
        .unwrap_or_else(|| panic!("{key} neither learned nor said undecided\n{text}"));
    assert!(
        lines[at - 1].contains("candidates") && lines[at - 1].contains(want),
        "{key}: {want} not among the candidates\n{text}"
    );
}

#[test]
fn learns_every_shipped_capture_as_gen_made_it() {
    let manifest = std::fs::read_to_string(repo().join("captures/MANIFEST")).unwrap();
    let mut n = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (name, rest) = line.split_once(char::is_whitespace).unwrap();
        let gen = rest.split(" -- ").next().unwrap();
        let flags: Vec<&str> = gen.split_whitespace().collect();
        let path = repo().join("captures").join(name);
        let (p, text) = learn(&[&path]);
        assert_matches(name, &p, &text, &settings(&flags));
        n += 1;
    }
    assert!(n >= 7, "MANIFEST lists {n} captures");
}

fn gen_and_learn(flags: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("g.pcap");
    let mut args = vec!["gen", "-o", pcap.to_str().unwrap()];
    args.extend_from_slice(flags);
    let o = fhgate(&args);
    assert!(o.status.success(), "gen {flags:?}: {}", stderr(&o));
    let (p, text) = learn(&[&pcap]);
    assert_matches(&flags.join(" "), &p, &text, &settings(flags));
}

#[test]
fn learns_bfp_and_uncompressed_at_every_width_with_and_without_udcomphdr() {
    for w in [8, 9, 12, 14, 16] {
        for meth in ["bfp", "none"] {
            let comp = format!("{meth}:{w}");
            for side in ["du", "ru"] {
                gen_and_learn(&[
                    "--side",
                    side,
                    "--prbs",
                    "24",
                    "--antennas",
                    "2",
                    "--slots",
                    "1",
                    "--comp",
                    &comp,
                ]);
                gen_and_learn(&[
                    "--side",
                    side,
                    "--prbs",
                    "24",
                    "--antennas",
                    "2",
                    "--slots",
                    "1",
                    "--comp",
                    &comp,
                    "--no-comp-hdr",
                ]);
            }
        }
    }
}

#[test]
fn learns_block_scaling_and_mu_law_from_udcomphdr_and_from_udcompparam() {
    for comp in [
        "block-scaling:9",
        "mu-law:8",
        "block-scaling:12",
        "mu-law:14",
    ] {
        gen_and_learn(&[
            "--side",
            "ru",
            "--prbs",
            "24",
            "--antennas",
            "1",
            "--slots",
            "2",
            "--comp",
            comp,
        ]);
        gen_and_learn(&[
            "--side",
            "ru",
            "--prbs",
            "24",
            "--antennas",
            "1",
            "--slots",
            "2",
            "--comp",
            comp,
            "--no-comp-hdr",
        ]);
    }
}

#[test]
fn learns_vlan_pcp_prach_numerology_carrier_and_a_non_default_eaxc_split() {
    gen_and_learn(&[
        "--prbs",
        "51",
        "--antennas",
        "2",
        "--slots",
        "2",
        "--vlan",
        "77",
        "--pcp",
        "5",
        "--prach",
        "--comp",
        "bfp:9",
    ]);
    gen_and_learn(&[
        "--numerology",
        "0",
        "--prbs",
        "52",
        "--antennas",
        "1",
        "--slots",
        "1",
        "--comp",
        "bfp:9",
    ]);
    gen_and_learn(&[
        "--numerology",
        "2",
        "--prbs",
        "66",
        "--antennas",
        "1",
        "--slots",
        "1",
        "--comp",
        "bfp:9",
        "--no-comp-hdr",
        "--side",
        "ru",
    ]);
    gen_and_learn(&[
        "--prbs",
        "273",
        "--antennas",
        "4",
        "--slots",
        "1",
        "--comp",
        "bfp:9",
        "--mtu",
        "9000",
    ]);
    gen_and_learn(&[
        "--prbs",
        "24",
        "--antennas",
        "3",
        "--slots",
        "1",
        "--eaxc-bits",
        "2,6,4,4",
        "--du-port",
        "1",
        "--band-sector",
        "3",
    ]);
}

#[test]
fn prach_parameters_and_seq_id_behaviour_are_reported() {
    let (p, _) = learn(&[&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")]);
    let l = p.learned.unwrap();
    assert_eq!(l.section_types.get("3"), Some(&2));
    assert_eq!(l.prach.len(), 1);
    // gen's PRACH: frameStructure FFT 4096 at µ = 1 (from the C-plane bytes, read by tshark in tshark_oracle).
    assert_eq!(l.prach[0].frame_structure, "fft=12,scs=1");
    assert!(
        l.seq_id.iter().all(|f| f.jumps == 0 && f.e_bit_clear == 0),
        "{:?}",
        l.seq_id
    );
    assert_eq!(l.eaxc_ids["u_dl"], ["0x0000", "0x0001"]);
}

#[test]
fn a_cplane_udcomphdr_that_disagrees_with_the_uplane_is_flagged() {
    // gen's C-plane says bfp:9 (udCompHdr, byte 6 of the C-plane common header); rewrite it to none:16.
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read(repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    let mut b = src.clone();
    let mut at = 24;
    let mut patched = 0;
    while at + 16 <= b.len() {
        let len = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = at + 16;
        // VLAN-tagged eCPRI (18-byte header), type 2, sectionType 1 at eCPRI+4+5.
        if b[f + 12..f + 14] == [0x81, 0x00]
            && b[f + 16..f + 18] == [0xAE, 0xFE]
            && b[f + 19] == 2
            && b[f + 18 + 8 + 5] == 1
        {
            assert_eq!(b[f + 18 + 8 + 6], 0x91);
            b[f + 18 + 8 + 6] = 0x00;
            patched += 1;
        }
        at = f + len;
    }
    assert_eq!(patched, 4);
    let path = dir.path().join("mismatch.pcap");
    std::fs::write(&path, b).unwrap();
    let o = fhgate(&["profile", "learn", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = Profile::from_toml(&String::from_utf8_lossy(&o.stdout), &path).unwrap();
    let l = p.learned.unwrap();
    assert_eq!(
        l.cu_consistency["dl"],
        "C-plane udCompHdr says none:16 but the U-plane is bfp:9"
    );
    assert!(
        stderr(&o).contains("C-plane udCompHdr says none:16 but the U-plane is bfp:9"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        p.dl_comp.as_deref(),
        Some("bfp:9"),
        "the U-plane is what the side sends"
    );
}

fn ipv4_frame() -> Vec<u8> {
    let mut f = vec![0xff; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f
}

#[test]
fn an_empty_capture_and_a_capture_without_ecpri_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    write_pcap::<Vec<u8>>(&empty, &[]);
    let o = fhgate(&["profile", "learn", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holds no frames"), "{}", stderr(&o));
    let ip = dir.path().join("ip.pcap");
    write_pcap(&ip, &[ipv4_frame(), ipv4_frame()]);
    let o = fhgate(&["profile", "learn", ip.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("none of the 2 frames is eCPRI")
            && stderr(&o).contains("ethertype 0x0800"),
        "{}",
        stderr(&o)
    );
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let o = fhgate(&["profile", "learn", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn malformed_frames_are_counted_and_the_rest_still_learned() {
    let dir = tempfile::tempdir().unwrap();
    let good = repo().join("captures/ru_40mhz_2ant_bfp9_static.pcap");
    // Good frames from the shipped capture, plus an eCPRI frame cut inside its header, a runt and an IPv4 frame.
    let bad = dir.path().join("bad.pcap");
    let mut cut = vec![0xff; 12];
    cut.extend_from_slice(&[0xAE, 0xFE, 0x10, 0x00]);
    write_pcap(&bad, &[cut, vec![1, 2, 3], ipv4_frame()]);
    let o = fhgate(&[
        "profile",
        "learn",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = Profile::from_toml(&String::from_utf8_lossy(&o.stdout), &bad).unwrap();
    let l = p.learned.unwrap();
    assert_eq!(l.frames, 56 + 3);
    assert_eq!(l.skipped_frames, 3);
    assert_eq!(
        l.warnings.iter().filter(|w| w.contains("skipped")).count(),
        3,
        "{:?}",
        l.warnings
    );
    assert!(
        stderr(&o).contains("skipped: malformed eCPRI"),
        "{}",
        stderr(&o)
    );
    assert_eq!(p.ul_comp.as_deref(), Some("bfp:9"));
}

#[test]
fn a_short_sample_is_warned_about_and_undecidable_keys_are_left_out_with_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let full = repo().join("captures/ru_40mhz_2ant_bfp9_static.pcap");
    let cap = fhgate::io::pcap::read(&full).unwrap();
    // One U-plane frame: no symbol timing, slotId 0 only.
    let one = dir.path().join("one.pcap");
    write_pcap(&one, &[cap.frames[0].data.to_vec()]);
    let o = fhgate(&["profile", "learn", one.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let p = Profile::from_toml(&text, &one).unwrap();
    assert_eq!(p.numerology, None, "{text}");
    assert!(
        text.contains("# numerology = (undecided)") && text.contains("candidates [0, 1, 2, 3, 4]"),
        "{text}"
    );
    assert!(
        stderr(&o).contains("only 1 UL U-plane messages"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn learn_never_overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("du.toml");
    std::fs::write(&out, "# hand-edited\n").unwrap();
    let cap = repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap");
    let o = fhgate(&[
        "profile",
        "learn",
        cap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("exists; not overwriting"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "# hand-edited\n");
}

/// gw.toml for `run --check` in `dir`, with `du_extra` inline in `[du]`.
fn gw(dir: &Path, du_extra: &str) -> PathBuf {
    let p = dir.join("gw.toml");
    std::fs::write(
        &p,
        format!("[du]\nbackend = \"pcap\"\ninput = {:?}\nprofile = \"du.toml\"\n{du_extra}\n[ru]\nbackend = \"pcap\"\noutput = \"ru-out.pcap\"\n", repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")),
    )
    .unwrap();
    p
}

fn run_check(dir: &Path, cfg: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .current_dir(dir)
        .args(["run", "--check", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn a_learned_profile_loads_into_a_side_with_inline_keys_winning() {
    let dir = tempfile::tempdir().unwrap();
    let cap = repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap");
    let o = fhgate(&[
        "profile",
        "learn",
        cap.to_str().unwrap(),
        "-o",
        dir.path().join("du.toml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = gw(dir.path(), "ul_comp = \"bfp:12\"");
    let o = run_check(dir.path(), &cfg);
    assert!(o.status.success(), "{}", stderr(&o));
    // The library reads the profile path as `run` does, relative to the working directory: give it whole here.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"du.toml\"", &format!("{:?}", dir.path().join("du.toml")));
    let c = GatewayConfig::from_toml(&text).unwrap();
    assert_eq!(
        c.du.decode.dl_comp.to_string(),
        ecpri::UdCompHdr::from_spec("bfp:9").unwrap().to_string(),
        "from the profile"
    );
    assert_eq!(
        c.du.decode.ul_comp,
        ecpri::UdCompHdr::from_spec("bfp:12").unwrap(),
        "inline wins"
    );
    assert_eq!(c.du.decode.carrier_prbs, 51);
    assert_eq!(c.du.vlan, Some(2));
    assert_eq!(c.du.mtu, 1500);
    assert_eq!(
        c.ru.decode.carrier_prbs, 273,
        "the RU side without a profile keeps the defaults"
    );
}

#[test]
fn profile_errors_name_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("du.toml"), "carrier_prbs = 51\n").unwrap();
    let o = run_check(dir.path(), &gw(dir.path(), "carrier_prbs = \"51\""));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("du.carrier_prbs: inline du.carrier_prbs is string but profile du.toml gives carrier_prbs as integer"), "{}", stderr(&o));
    std::fs::write(
        dir.path().join("du.toml"),
        "carrier_prbs = 51\ndl_compression = \"bfp:9\"\n",
    )
    .unwrap();
    let o = run_check(dir.path(), &gw(dir.path(), ""));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("du.toml (line 2): unknown field `dl_compression`"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(dir.path().join("du.toml")).unwrap();
    let o = run_check(dir.path(), &gw(dir.path(), ""));
    assert!(
        stderr(&o).contains("du.profile: cannot read du.toml"),
        "{}",
        stderr(&o)
    );
}
