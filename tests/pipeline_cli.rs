//! The pipeline through `fhgate replay`, on captures built here: frames
//! keep their place per flow with one worker or several, timestamps never
//! go backwards, malformed and oversize frames meet the MTU policy,
//! sequence IDs and padding pass through, a translator's output in a
//! format egress was not told is never rewritten, translator faults and
//! counters reach the summary, and --pace, --tap work. tshark is the
//! oracle for "decodes without malformed".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fhgate::io::pcap::{read_all, Captured, PcapOut};

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo, translators};
#[path = "support/flows.rs"]
mod flows;
use flows::{assert_monotonic, flow, padded, per_flow};

fn write(path: &Path, frames: &[Captured]) {
    let (mut w, commit) = PcapOut::create(path, fhgate::io::output::Existing::Replace).unwrap();
    for f in frames {
        w.write(f.timestamp, &f.data).unwrap();
    }
    drop(w);
    commit.commit().unwrap();
}

/// `fhgate gen -o` into `dir/name` with `args`; returns the frames.
fn gen(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Vec<Captured>) {
    let p = dir.join(name);
    let mut a = vec!["gen", "-o", p.to_str().unwrap()];
    a.extend_from_slice(args);
    let o = fhgate(&a);
    assert!(
        o.status.success(),
        "gen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let frames = read_all(&p).unwrap();
    (p, frames)
}

/// Replays `input` to `dir/out.pcap` with `args`; returns the JSON
/// summary and the frames written.
fn replay(input: &Path, out: &Path, args: &[&str]) -> (serde_json::Value, Vec<Captured>) {
    let mut a = vec![
        "replay",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
    ];
    a.extend_from_slice(args);
    let o = fhgate(&a);
    assert!(
        o.status.success(),
        "replay {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (j, read_all(out).unwrap())
}

/// `got` is `want`, frame for frame and timestamp for timestamp; on a
/// difference, says where (without printing whole frames).
fn assert_same(got: &[Captured], want: &[Captured], what: &str) {
    let first = got
        .iter()
        .zip(want)
        .position(|(g, w)| (g.timestamp, &g.data) != (w.timestamp, &w.data));
    if let Some(i) = first {
        let (g, w) = (&got[i], &want[i]);
        let byte = g.data.iter().zip(&w.data).position(|(a, b)| a != b);
        panic!(
            "{what}: frame {i} differs: {} bytes at {:?} vs {} bytes at {:?}; first differing byte {byte:?} ({:?} vs {:?}); flows {:?} vs {:?}",
            g.data.len(),
            g.timestamp,
            w.data.len(),
            w.timestamp,
            byte.map(|b| g.data[b]),
            byte.map(|b| w.data[b]),
            flow(&g.data),
            flow(&w.data)
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: frame count");
}

/// tshark's malformed and expert messages per frame, decoding as `prefs`.
fn tshark_complaints(path: &Path, prefs: &[&str]) -> Vec<(usize, String)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args([
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-e",
        "frame.number",
        "-e",
        "_ws.malformed",
        "-e",
        "_ws.expert.message",
    ]);
    for p in prefs {
        cmd.args(["-o", p]);
    }
    let o = cmd.output().expect("tshark is installed (scripts/setup)");
    assert!(
        o.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let mut c = l.split('\t');
            let n: usize = c.next()?.parse().ok()?;
            let rest: Vec<&str> = c.filter(|v| !v.is_empty()).collect();
            (!rest.is_empty()).then(|| (n, rest.join(" ")))
        })
        .collect()
}

const STATIC_BFP12_DL: [&str; 7] = [
    "oran_fh_cus.oran.iq_bitwidth_down:12",
    "oran_fh_cus.oran.ud_comp_down:Block Floating Point Compression",
    "oran_fh_cus.oran.ud_comp_hdr_down:FALSE",
    "oran_fh_cus.oran.iq_bitwidth_up:12",
    "oran_fh_cus.oran.ud_comp_up:Block Floating Point Compression",
    "oran_fh_cus.oran.ud_comp_hdr_up:FALSE",
    "oran_fh_cus.oran.rbs_in_uplane_section:51",
];

/// A static-compression (no udCompHdr) DU capture through bfp_width
/// 9 → 12 with an egress override that says 9 bits (before issue 13 this
/// was the default: egress read with --dl-comp): egress cannot read the
/// 12-bit sections as 9-bit ones, so it forwards them as they are, counts
/// a format mismatch per frame with its flow and field, says how to fix
/// it, and counts them sent. With the format from the chain's declared
/// effects (no flag) or told it, there are no errors. tshark finds
/// nothing malformed either way.
#[test]
fn widened_static_bfp_read_with_a_wrong_egress_format_is_forwarded_unchanged() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let (input, frames) = gen(
        dir.path(),
        "du_static.pcap",
        &[
            "--side",
            "du",
            "--prbs",
            "51",
            "--antennas",
            "2",
            "--comp",
            "bfp:9",
            "--no-comp-hdr",
            "--slots",
            "2",
            "--mtu",
            "9000",
        ],
    );
    let u_in = frames
        .iter()
        .filter(|f| flow(&f.data).is_some_and(|k| k.0 == 0))
        .count();
    assert!(u_in > 50);
    let bfp = format!(
        "{}:in_width=9,out_width=12,carrier_prbs=51",
        t.join("bfp_width.wasm").display()
    );
    let decode = [
        "--dl-comp",
        "bfp:9",
        "--ul-comp",
        "bfp:9",
        "--comp-hdr",
        "absent",
        "--carrier-prbs",
        "51",
        "--translator",
        bfp.as_str(),
    ];
    let wrong = [
        &decode[..],
        &["--egress-dl-comp", "bfp:9", "--egress-ul-comp", "bfp:9"],
    ]
    .concat();
    let out = dir.path().join("out.pcap");
    let (j, written) = replay(&input, &out, &wrong);
    assert_eq!(
        written.len(),
        frames.len(),
        "every frame sent, none split or lost: {j}"
    );
    assert_eq!(j["frames_out"].as_u64(), Some(frames.len() as u64));
    assert_eq!(
        j["egress_errors"]["format_mismatch"].as_u64(),
        Some(u_in as u64),
        "{j}"
    );
    let ef = j["egress_error_flows"].as_array().unwrap();
    assert_eq!(ef.len(), 2, "one entry per U-plane flow: {j}");
    for e in ef {
        assert_eq!(
            (
                e["kind"].as_str(),
                e["field"].as_str(),
                e["flow"]["plane"].as_str(),
                e["flow"]["direction"].as_str()
            ),
            (
                Some("format_mismatch"),
                Some("ecpri.size"),
                Some("u"),
                Some("dl")
            ),
            "{e}"
        );
    }
    assert!(
        j["egress_error_hints"]["format_mismatch"]
            .as_str()
            .unwrap()
            .contains("--egress-dl-comp"),
        "{j}"
    );
    // packets_out counts what was written, per flow.
    for f in j["flows"].as_array().unwrap() {
        assert_eq!(f["packets_out"], f["packets_in"], "{f}");
    }
    assert!(
        tshark_complaints(&out, &STATIC_BFP12_DL).is_empty(),
        "{:?}",
        tshark_complaints(&out, &STATIC_BFP12_DL)
    );
    let o = fhgate(&[
        "inspect",
        out.to_str().unwrap(),
        "--json",
        "--dl-comp",
        "bfp:12",
        "--ul-comp",
        "bfp:12",
        "--comp-hdr",
        "absent",
        "--carrier-prbs",
        "51",
    ]);
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["error_frames"], 0, "{last}");
    // The text summary says the same, with the fix.
    let o = fhgate(
        &[
            &[
                "replay",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ][..],
            &wrong[..],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("format_mismatch in ecpri.size, flow U DL")
            && text.contains("--egress-dl-comp"),
        "{text}"
    );

    // Told the format, egress reads it: no errors, the same frames.
    let (j, told) = replay(
        &input,
        &out,
        &[
            &decode[..],
            &["--egress-dl-comp", "bfp:12", "--egress-ul-comp", "bfp:12"],
        ]
        .concat(),
    );
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    assert_eq!(
        told.iter().map(|f| &f.data).collect::<Vec<_>>(),
        written.iter().map(|f| &f.data).collect::<Vec<_>>()
    );
    let (j, derived) = replay(&input, &out, &decode);
    assert!(
        j["egress_errors"].as_object().unwrap().is_empty(),
        "the chain declares bfp:12: {j}"
    );
    assert_eq!(
        derived.iter().map(|f| &f.data).collect::<Vec<_>>(),
        written.iter().map(|f| &f.data).collect::<Vec<_>>()
    );
}

/// The 20 MHz DU capture with a malformed frame (a U-plane frame cut
/// inside its IQ) and an S-plane PTP frame in the middle.
fn with_malformed(dir: &Path) -> (PathBuf, Vec<Captured>) {
    let mut frames = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    let at = frames.len() / 2;
    let victim = (at..frames.len())
        .find(|&i| flow(&frames[i].data).is_some_and(|k| k.0 == 0))
        .unwrap();
    let mut bad = frames[victim].clone();
    bad.data.truncate(bad.data.len() - 40);
    frames.insert(victim, bad);
    let mut ptp = frames[at].clone();
    ptp.data = vec![0x01, 0x1B, 0x19, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x88, 0xF7];
    ptp.data.resize(60, 0);
    frames.insert(at, ptp);
    // Distinct, rising timestamps, so order can be seen in them.
    for (i, f) in frames.iter_mut().enumerate() {
        f.timestamp = Duration::from_micros(1_000_000 + 10 * i as u64);
    }
    let p = dir.join("malformed.pcap");
    write(&p, &frames);
    (p, frames)
}

/// With one worker the output is the input, frame for frame, in order,
/// timestamps included; the malformed frame is counted and stays in its
/// place. With 2 and 3 workers every flow keeps its order, the frames
/// are the same as with one, and timestamps never go backwards.
#[test]
fn frames_keep_their_place_per_flow_with_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (input, frames) = with_malformed(dir.path());
    let decode = ["--dl-comp", "bfp:9", "--ul-comp", "bfp:9"];
    let out = dir.path().join("out.pcap");
    let (j, one) = replay(&input, &out, &decode);
    assert_same(
        &one,
        &padded(&frames),
        "one worker: the same frames, in the same order, with the same timestamps",
    );
    assert_eq!(j["malformed"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["malformed"][0]["count"], 1, "{j}");
    let want = per_flow(&padded(&frames));
    for workers in ["2", "3"] {
        let (j, got) = replay(
            &input,
            &out,
            &[&decode[..], &["--workers", workers]].concat(),
        );
        assert_monotonic(&got, &format!("--workers {workers}"));
        let got = per_flow(&got);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "--workers {workers}: the same flows"
        );
        for (k, frames) in &want {
            assert!(
                got[k] == *frames,
                "--workers {workers}: flow {k:?} in order, the same frames ({} vs {})",
                got[k].len(),
                frames.len()
            );
        }
        assert_eq!(j["frames_out"].as_u64(), Some(frames.len() as u64));
    }
}

/// A malformed 9 600-byte frame and a 1 500-byte MTU: dropped and counted
/// by default, forwarded or cut at the MTU when the policy says so; the
/// summary names the policy and the count.
#[test]
fn oversize_frames_meet_the_configured_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    let mut jumbo = frames
        .iter()
        .find(|f| flow(&f.data).is_some_and(|k| k.0 == 0))
        .unwrap()
        .clone();
    jumbo.data.resize(9600, 0xA5);
    // ecpriPayload claims it all: the bytes past the first section do not
    // decode as sections, so the frame is malformed.
    jumbo.data[18 + 2..18 + 4].copy_from_slice(&((9600 - 18 - 4) as u16).to_be_bytes());
    frames.insert(3, jumbo);
    let input = dir.path().join("jumbo.pcap");
    write(&input, &frames);
    let out = dir.path().join("out.pcap");
    let decode = ["--dl-comp", "bfp:9", "--ul-comp", "bfp:9", "--mtu", "1500"];
    for (policy, len) in [
        (None, None),
        (Some("drop"), None),
        (Some("forward"), Some(9600)),
        (Some("cut"), Some(18 + 1500)),
    ] {
        let mut args = decode.to_vec();
        if let Some(p) = policy {
            args.extend(["--oversize", p]);
        }
        let (j, got) = replay(&input, &out, &args);
        let name = policy.unwrap_or("drop");
        assert_eq!(j["oversize"]["policy"]["dl"], name, "{j}");
        let outcome = match name {
            "drop" => "dropped",
            "forward" => "forwarded",
            _ => "cut",
        };
        assert_eq!(j["oversize"][outcome], 1, "{j}");
        match len {
            None => assert_eq!(got.len(), frames.len() - 1, "{name}"),
            Some(n) => {
                assert_eq!(got.len(), frames.len());
                assert_eq!(got[3].data.len(), n, "{name}");
                assert_eq!(got[3].data[..], frames[3].data[..n]);
            }
        }
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, f)| i == 3 || f.data.len() - 18 <= 1500 || policy == Some("forward")));
    }
    let o = fhgate(
        &[
            &[
                "replay",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ][..],
            &decode[..],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("oversize (dl): policy drop") && text.contains("dropped 1"),
        "{text}"
    );
}

/// When nothing splits, every flow's sequence IDs pass as the DU numbered
/// them (here from 9, not 0); padded 64-byte C-plane frames leave as 64
/// bytes. The output is the input, byte for byte.
#[test]
fn sequence_ids_and_padding_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    let mut n_padded = 0;
    for f in &mut frames {
        let Some((t, ..)) = flow(&f.data) else {
            continue;
        };
        f.data[18 + 6] = f.data[18 + 6].wrapping_add(9);
        if t == 2 && f.data.len() < 60 {
            f.data.resize(64, 0);
            n_padded += 1;
        }
    }
    assert!(n_padded > 0, "the capture has short C-plane frames");
    // And a C-plane frame shorter than 60 bytes, which leaves padded to 60.
    let runt = frames
        .iter()
        .position(|f| flow(&f.data).is_some_and(|k| k.0 == 2))
        .unwrap();
    let mut short = frames[runt].clone();
    let content = 18 + 4 + u16::from_be_bytes([short.data[18 + 2], short.data[18 + 3]]) as usize;
    short.data.truncate(content);
    assert!(short.data.len() < 60);
    frames.insert(runt + 1, short);
    frames[runt + 1].data[18 + 6] = frames[runt + 1].data[18 + 6].wrapping_add(1);
    let input = dir.path().join("in.pcap");
    write(&input, &frames);
    let out = dir.path().join("out.pcap");
    let (j, got) = replay(&input, &out, &["--dl-comp", "bfp:9", "--ul-comp", "bfp:9"]);
    assert_same(&got, &padded(&frames), "sequence IDs and padding");
    assert!(j["egress_errors"].as_object().unwrap().is_empty(), "{j}");
    assert!(tshark_complaints(
        &out,
        &[
            "oran_fh_cus.oran.iq_bitwidth_down:9",
            "oran_fh_cus.oran.ud_comp_hdr_down:TRUE"
        ]
    )
    .is_empty());
}

/// --pace recorded keeps the capture's timing (the replay takes as long as
/// the capture spans, and the output carries its timestamps); --pace
/// rate:N sends N frames a second; fast is faster than either.
#[test]
fn pacing_follows_the_capture_or_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let slot = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    let mut frames: Vec<Captured> = slot.iter().cycle().take(60).cloned().collect();
    // 60 frames over 0.59 s.
    for (i, f) in frames.iter_mut().enumerate() {
        f.timestamp = Duration::from_secs(1_700_000_000) + Duration::from_millis(10 * i as u64);
    }
    let input = dir.path().join("in.pcap");
    write(&input, &frames);
    let out = dir.path().join("out.pcap");
    let decode = ["--dl-comp", "bfp:9", "--ul-comp", "bfp:9"];
    let run =
        |input: &Path, pace: &str| replay(input, &out, &[&decode[..], &["--pace", pace]].concat());
    // Lower bounds are what pacing guarantees; the upper ones only catch a
    // replay that waits for something else (the machine may be loaded).
    let (j, got) = run(&input, "recorded");
    assert_same(&got, &padded(&frames), "recorded: the capture's timestamps");
    let secs = j["seconds"].as_f64().unwrap();
    assert!(
        (0.55..20.0).contains(&secs),
        "recorded pace took {secs} s for a 0.59 s capture"
    );
    let (j, got) = run(&input, "rate:100");
    let secs = j["seconds"].as_f64().unwrap();
    assert!(
        (0.55..20.0).contains(&secs),
        "60 frames at 100/s took {secs} s"
    );
    assert_eq!(got.len(), 60);
    // Fast ignores the capture's timing: 60 frames a second apart (59 s
    // recorded) go through at once.
    for (i, f) in frames.iter_mut().enumerate() {
        f.timestamp = Duration::from_secs(1_700_000_000 + i as u64);
    }
    let slow = dir.path().join("slow.pcap");
    write(&slow, &frames);
    let (j, got) = run(&slow, "fast");
    assert!(j["seconds"].as_f64().unwrap() < 20.0, "fast: {j}");
    assert_same(
        &got,
        &padded(&frames),
        "fast: the capture's timestamps all the same",
    );
}

/// --tap writes every ingress frame as it came, with its timestamp, even
/// those a translator changes or the MTU policy drops.
#[test]
fn the_tap_gets_every_ingress_frame() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let (input, frames) = with_malformed(dir.path());
    let out = dir.path().join("out.pcap");
    let tap = dir.path().join("tap.pcap");
    let bfp = format!(
        "{}:in_width=9,out_width=12",
        t.join("bfp_width.wasm").display()
    );
    let (_, got) = replay(
        &input,
        &out,
        &[
            "--dl-comp",
            "bfp:9",
            "--ul-comp",
            "bfp:9",
            "--egress-dl-comp",
            "bfp:12",
            "--egress-ul-comp",
            "bfp:12",
            "--translator",
            bfp.as_str(),
            "--tap",
            tap.to_str().unwrap(),
        ],
    );
    assert_same(&read_all(&tap).unwrap(), &frames, "the tap");
    assert_ne!(got, frames, "the output was translated");
}

/// A translator that traps on every call is disabled after 5 faults: the
/// text and JSON summaries say so (for a CI script: `jq
/// '.translators_disabled'`), with its calls, faults by kind and packets
/// by verdict. A well-behaved translator's own counters are there too.
#[test]
fn translator_faults_and_counters_reach_the_summary() {
    let t = translators();
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let out = dir.path().join("out.pcap");
    let hostile = repo().join("translators/hostile/unreachable.wat");
    let bfp = format!(
        "{}:in_width=8,out_width=12",
        t.join("bfp_width.wasm").display()
    );
    let args = [
        "--dl-comp",
        "bfp:8",
        "--ul-comp",
        "bfp:8",
        "--egress-dl-comp",
        "bfp:12",
        "--egress-ul-comp",
        "bfp:12",
        "--mtu",
        "1500",
        "--translator",
        bfp.as_str(),
        "--translator",
        hostile.to_str().unwrap(),
    ];
    let (j, _) = replay(&input, &out, &args);
    let ts = j["translators"].as_array().unwrap();
    assert_eq!(ts.len(), 2, "{j}");
    let (w, h) = (&ts[0], &ts[1]);
    assert_eq!(w["name"], "bfp_width");
    assert_eq!(w["disabled"], false);
    assert_eq!(w["faults"]["total"], 0);
    assert!(
        w["counters"]["converted_sections"].as_u64().unwrap() > 0,
        "{w}"
    );
    assert!(w["packets"]["modified"].as_u64().unwrap() > 0, "{w}");
    assert_eq!(h["disabled"], true, "{h}");
    assert_eq!(
        h["faults"]["trap"], 5,
        "5 faults within 10 s disable it: {h}"
    );
    assert_eq!(h["calls"], 5, "{h}");
    assert!(h["packets"]["fault_policy"].as_u64().unwrap() > 0, "{h}");
    assert_eq!(j["translators_disabled"], serde_json::json!([h["name"]]));
    let o = fhgate(
        &[
            &[
                "replay",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ][..],
            &args[..],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("disabled YES") && text.contains("converted_sections"),
        "{text}"
    );
    // A deadline fault is counted as one.
    let looping = repo().join("translators/hostile/infinite_loop.wat");
    let (j, _) = replay(
        &input,
        &out,
        &[
            "--dl-comp",
            "bfp:8",
            "--ul-comp",
            "bfp:8",
            "--translator",
            looping.to_str().unwrap(),
        ],
    );
    let l = &j["translators"][0];
    assert_eq!(
        (l["disabled"].as_bool(), l["faults"]["deadline"].as_u64()),
        (Some(true), Some(5)),
        "{l}"
    );
}

/// A U-plane section with startPrbu + numPrbu past the carrier, and a
/// C-plane section with startPrbc + numPrbc past it, are malformed: counted
/// by `replay` (and forwarded untouched, in place) and reported by
/// `inspect`, each naming its field.
#[test]
fn prbs_outside_the_carrier_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = read_all(&repo().join("captures/du_20mhz_2ant_bfp9_vlan_prach.pcap")).unwrap();
    // VLAN-tagged: eCPRI at 18; the U-plane section at 18 + 8 + 4, the
    // C-plane type 1 section at 18 + 8 + 8.
    let u = frames
        .iter()
        .position(|f| flow(&f.data).is_some_and(|k| k.0 == 0))
        .unwrap();
    let c = frames
        .iter()
        .position(|f| flow(&f.data).is_some_and(|k| k.0 == 2) && f.data[18 + 8 + 5] == 1)
        .unwrap();
    assert_eq!(frames[u].data[30 + 3], 51, "a whole 51-PRB carrier");
    frames[u].data[31] &= 0xFC;
    frames[u].data[32] = 10;
    frames[c].data[35] &= 0xFC;
    frames[c].data[36] = 10;
    frames[c].data[37] = 51;
    let input = dir.path().join("in.pcap");
    write(&input, &frames);
    let out = dir.path().join("out.pcap");
    let (j, got) = replay(
        &input,
        &out,
        &[
            "--dl-comp",
            "bfp:9",
            "--ul-comp",
            "bfp:9",
            "--carrier-prbs",
            "51",
        ],
    );
    let m: BTreeMap<String, u64> = j["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{} {}",
                    e["kind"].as_str().unwrap(),
                    e["field"].as_str().unwrap()
                ),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        m,
        BTreeMap::from([
            ("beyond_carrier oran_fh_cus.numPrbu".to_string(), 1),
            ("beyond_carrier oran_fh_cus.numPrbc".to_string(), 1)
        ]),
        "{j}"
    );
    assert_same(&got, &padded(&frames), "forwarded untouched, in place");
    let o = fhgate(&[
        "inspect",
        input.to_str().unwrap(),
        "--json",
        "--dl-comp",
        "bfp:9",
        "--ul-comp",
        "bfp:9",
        "--carrier-prbs",
        "51",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    let errors: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("error").is_some())
        .collect();
    assert_eq!(errors.len(), 2, "{text}");
    for (e, (frame, field)) in errors.iter().zip([
        (
            c.min(u),
            if c < u {
                "oran_fh_cus.numPrbc"
            } else {
                "oran_fh_cus.numPrbu"
            },
        ),
        (
            c.max(u),
            if c < u {
                "oran_fh_cus.numPrbu"
            } else {
                "oran_fh_cus.numPrbc"
            },
        ),
    ]) {
        assert_eq!(
            (
                e["frame"].as_u64(),
                e["error"]["kind"].as_str(),
                e["error"]["field"].as_str()
            ),
            (Some(frame as u64 + 1), Some("beyond_carrier"), Some(field)),
            "{e}"
        );
    }
}
