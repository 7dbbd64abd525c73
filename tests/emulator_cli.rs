//! The DU/RU emulator: `fhgate gen` into captures and onto a UDP port,
//! `fhgate sink` from captures and from the port. Every frame generated
//! arrives valid, counted by type, with its IQ matching the known test
//! signal; corrupted, removed, duplicated and reordered frames are told;
//! translated streams (BFP 8 → 12, eAxC 4,4,4,4 → 2,6,4,4) still measure
//! IQ error against the signal; slot timing takes real time; long streams
//! run in bounded memory; SIGTERM stops cleanly with a report.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fhgate::io::pcap::{read_all, Captured, PcapOut};
use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo};

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fhgate starts")
}

/// Runs a command that ends with `--json` and returns its exit code and report.
fn json(args: &[&str]) -> (i32, Value) {
    let o = fhgate(args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: {e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

fn gen(out: &Path, flags: &[&str]) -> Value {
    let mut args = vec!["gen", "-o", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(flags);
    let (code, v) = json(&args);
    assert_eq!(code, 0, "{v}");
    v
}

fn sink(input: &Path, flags: &[&str]) -> (i32, Value) {
    let mut args = vec!["sink", "--input", input.to_str().unwrap(), "--json"];
    args.extend_from_slice(flags);
    json(&args)
}

fn evm(report: &Value) -> f64 {
    report["iq"]["evm_pct"]
        .as_f64()
        .unwrap_or_else(|| panic!("no EVM in {report}"))
}

fn write(path: &Path, frames: &[Captured]) {
    let (mut o, commit) = PcapOut::create(path, fhgate::io::output::Existing::Replace).unwrap();
    for f in frames {
        o.write(f.timestamp, &f.data).unwrap();
    }
    drop(o);
    commit.commit().unwrap();
}

fn is_uplane(f: &Captured) -> bool {
    // Untagged eCPRI: ethertype at 12, message type at 15.
    f.data[12..14] == [0xAE, 0xFE] && f.data[15] == 0
}

#[test]
fn every_generated_frame_arrives_valid_with_the_test_signal() {
    let dir = tempfile::tempdir().unwrap();
    // BFP with udCompHdr, PRACH, VLAN: the sink's counts are gen's.
    let p = dir.path().join("du.pcap");
    let g = gen(
        &p,
        &[
            "--prbs",
            "51",
            "--antennas",
            "2",
            "--comp",
            "bfp:9",
            "--slots",
            "4",
            "--prach",
            "--vlan",
            "3",
        ],
    );
    let n = g["frames"].as_u64().unwrap();
    let n_s = n.to_string();
    let (code, r) = sink(
        &p,
        &[
            "--dl-comp",
            "bfp:9",
            "--ul-comp",
            "bfp:9",
            "--expect",
            &n_s,
            "--max-evm",
            "1",
        ],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (
            r["frames"].as_u64(),
            r["valid"].as_u64(),
            r["invalid"].as_u64()
        ),
        (Some(n), Some(n), Some(0))
    );
    assert_eq!(r["by_type"], g["by_type"], "frames by type");
    assert_eq!(
        r["by_type"]["C3"],
        4 * 2,
        "one PRACH section type 3 per antenna and slot"
    );
    assert_eq!(
        (
            r["seq_gaps"].as_u64(),
            r["seq_reorders"].as_u64(),
            r["seq_duplicates"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(r["compression"], serde_json::json!({"bfp:9": 4 * 14 * 2}));
    assert_eq!(r["iq"]["prbs"], 4 * 14 * 2 * 51, "every PRB checked");
    let e = evm(&r);
    assert!(e > 0.0 && e < 1.0, "BFP 9 adds a little error: {e} %");
    // Against the signal as BFP 9 carries it, nothing differs.
    let (_, r) = sink(&p, &["--dl-comp", "bfp:9", "--signal-comp", "bfp:9"]);
    assert_eq!(r["iq"]["exact"], true, "{}", r["iq"]);

    // Uncompressed: exact.
    let p = dir.path().join("none.pcap");
    let g = gen(
        &p,
        &[
            "--prbs",
            "20",
            "--antennas",
            "1",
            "--comp",
            "none:16",
            "--slots",
            "2",
        ],
    );
    let (code, r) = sink(&p, &["--carrier-prbs", "20", "--max-evm", "0"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["frames"], g["frames"]);
    assert_eq!((evm(&r), r["iq"]["exact"].as_bool()), (0.0, Some(true)));

    // RU side, static compression (no udCompHdr): UL U-plane only.
    let p = dir.path().join("ru.pcap");
    let g = gen(
        &p,
        &[
            "--side",
            "ru",
            "--prbs",
            "106",
            "--antennas",
            "2",
            "--comp",
            "bfp:9",
            "--no-comp-hdr",
            "--slots",
            "2",
        ],
    );
    let (code, r) = sink(
        &p,
        &[
            "--ul-comp",
            "bfp:9",
            "--comp-hdr",
            "absent",
            "--max-evm",
            "1",
        ],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["by_type"], g["by_type"]);
    let flows = r["flows"].as_array().unwrap();
    assert!(
        flows
            .iter()
            .all(|f| f["plane"] == "U" && f["direction"] == "UL"),
        "{flows:?}"
    );
    // Decoded with the wrong static compression, the stream does not pass.
    let (code, r) = sink(
        &p,
        &[
            "--ul-comp",
            "bfp:8",
            "--comp-hdr",
            "absent",
            "--max-evm",
            "1",
        ],
    );
    assert_eq!(code, 1, "{r}");
}

#[test]
fn sink_checks_levels_beyond_int16_without_wrapping() {
    let dir = tempfile::tempdir().unwrap();
    // +40 dBFS: PRB 0 peaks at 3 276 800, 100 times int16 full scale. BFP
    // 9 carries it with exponents 14 down to 11; a wrapping int16 decode
    // would make every PRB noise.
    let p = dir.path().join("loud.pcap");
    let g = gen(
        &p,
        &[
            "--prbs",
            "24",
            "--antennas",
            "1",
            "--comp",
            "bfp:9",
            "--slots",
            "1",
            "--level-dbfs",
            "+40",
            "--rounding",
            "nearest",
        ],
    );
    assert_eq!(g["saturated_samples"], 0, "BFP 9 carries +40 dBFS");
    let (code, r) = sink(
        &p,
        &[
            "--dl-comp",
            "bfp:9",
            "--level-dbfs",
            "+40",
            "--max-evm",
            "1",
        ],
    );
    assert_eq!(code, 0, "{r}");
    let e = evm(&r);
    assert!(e > 0.0 && e < 1.0, "only BFP 9's quantisation: {e} %");
    // Against the signal as BFP 9 rounded to nearest carries it: exact.
    let (code, r) = sink(
        &p,
        &[
            "--dl-comp",
            "bfp:9",
            "--level-dbfs",
            "+40",
            "--signal-comp",
            "bfp:9",
            "--rounding",
            "nearest",
            "--max-evm",
            "0",
        ],
    );
    assert_eq!((code, &r["iq"]["exact"]), (0, &Value::Bool(true)), "{r}");
    assert!(
        r["iq_reference"].as_str().unwrap().contains("+40.0 dBFS"),
        "{}",
        r["iq_reference"]
    );
    // Truncation is not what gen did: the carried reference differs.
    let (_, r) = sink(
        &p,
        &[
            "--dl-comp",
            "bfp:9",
            "--level-dbfs",
            "+40",
            "--signal-comp",
            "bfp:9",
        ],
    );
    assert_eq!(r["iq"]["exact"], false);
    // Told the wrong level, the sink sees the stream is not the signal.
    let (code, r) = sink(&p, &["--dl-comp", "bfp:9", "--max-evm", "1"]);
    assert_eq!(code, 1, "{r}");

    // Exponents 0-15 at BFP 12: exact against the carried signal.
    let p = dir.path().join("sweep.pcap");
    gen(
        &p,
        &[
            "--prbs",
            "32",
            "--antennas",
            "1",
            "--comp",
            "bfp:12",
            "--slots",
            "1",
            "--exponents",
            "0-15",
        ],
    );
    let (code, r) = sink(
        &p,
        &[
            "--dl-comp",
            "bfp:12",
            "--exponents",
            "0-15",
            "--signal-comp",
            "bfp:12",
            "--max-evm",
            "0",
        ],
    );
    assert_eq!((code, &r["iq"]["exact"]), (0, &Value::Bool(true)), "{r}");
    let o = fhgate(&[
        "sink",
        "--input",
        p.to_str().unwrap(),
        "--exponents",
        "0-15",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--exponents needs --signal-comp"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Uncompressed 16-bit cannot carry +40 dBFS: gen clips and says so.
    let p = dir.path().join("clipped.pcap");
    let g = gen(
        &p,
        &[
            "--prbs",
            "4",
            "--antennas",
            "1",
            "--comp",
            "none:16",
            "--slots",
            "1",
            "--level-dbfs",
            "40",
        ],
    );
    assert!(g["saturated_samples"].as_u64().unwrap() > 0, "{g}");
    let o = fhgate(&["gen", "-o", p.to_str().unwrap(), "--level-dbfs", "100"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--level-dbfs 100"));
    let o = fhgate(&[
        "gen",
        "-o",
        p.to_str().unwrap(),
        "--exponents",
        "0-15",
        "--comp",
        "none:16",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--exponents needs BFP"));
}

#[test]
fn translated_stream_still_measures_iq_error_against_the_signal() {
    let st = Command::new(repo().join("scripts/build-translators"))
        .current_dir(repo())
        .status()
        .expect("build-translators runs");
    assert!(st.success(), "scripts/build-translators failed");
    let t = repo().join("target/translators");
    let dir = tempfile::tempdir().unwrap();
    let du = dir.path().join("du.pcap");
    let ru = dir.path().join("ru.pcap");
    let g = gen(
        &du,
        &[
            "--prbs",
            "106",
            "--antennas",
            "2",
            "--comp",
            "bfp:8",
            "--slots",
            "2",
            "--du-port",
            "1",
            "--prach",
        ],
    );
    let o = cli::replay_widen_and_remap(&t, &du, &ru, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let ru_side = [
        "--eaxc-bits",
        "2,6,4,4",
        "--dl-comp",
        "bfp:12",
        "--ul-comp",
        "bfp:12",
        "--carrier-prbs",
        "106",
    ];
    let mut flags = ru_side.to_vec();
    flags.extend(["--signal-comp", "bfp:8"]);
    let (code, r) = sink(&ru, &flags);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["invalid"], 0);
    assert_eq!(r["seq_gaps"], 0, "nothing lost");
    // Every C-plane message arrived; U-plane symbols may be split differently at BFP 12.
    assert_eq!(
        (r["by_type"]["C1"].clone(), r["by_type"]["C3"].clone()),
        (g["by_type"]["C1"].clone(), g["by_type"]["C3"].clone())
    );
    assert_eq!(
        r["iq"]["prbs"],
        2 * 14 * 2 * 106,
        "every PRB arrived and was checked"
    );
    // Widening 8 → 12 is lossless: the signal as BFP 8 carried it, exactly.
    assert_eq!(r["iq"]["exact"], true, "{}", r["iq"]);
    let widths: Vec<&String> = r["compression"].as_object().unwrap().keys().collect();
    assert_eq!(widths, ["bfp:12"]);
    assert_eq!(
        r["cplane_ud_comp_hdr"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["bfp:12"]
    );
    // eAxC IDs in the RU's layout: DU port 1 in the top 2 bits.
    for e in r["eaxc_ids"].as_array().unwrap() {
        assert_eq!(
            (
                e["du_port"].as_u64(),
                e["band_sector"].as_u64(),
                e["cc"].as_u64()
            ),
            (Some(1), Some(0), Some(0)),
            "{e}"
        );
        assert_eq!(e["id"].as_u64().unwrap() & 0xFFF0, 0x4000, "{e}");
    }
    // Against the ideal signal: BFP 8's own error, small but not zero.
    let (code, r) = sink(&ru, &[&ru_side[..], &["--max-evm", "2"]].concat());
    assert_eq!(code, 0, "{r}");
    let e = evm(&r);
    assert!(e > 0.1 && e < 2.0, "{e} %");
    // Decoded with the DU's layout instead, the IDs name other flows: the check sees it.
    let (code, r) = sink(
        &ru,
        &[
            "--dl-comp",
            "bfp:12",
            "--ul-comp",
            "bfp:12",
            "--carrier-prbs",
            "106",
            "--max-evm",
            "2",
        ],
    );
    assert_eq!(code, 1);
    assert!(evm(&r) > 50.0, "{}", r["iq"]);
}

#[test]
fn corrupted_frames_are_counted_invalid_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("good.pcap");
    let g = gen(
        &p,
        &[
            "--prbs",
            "20",
            "--antennas",
            "1",
            "--slots",
            "2",
            "--comp",
            "bfp:9",
        ],
    );
    let mut frames = read_all(&p).unwrap();
    let u: Vec<usize> = (0..frames.len())
        .filter(|&i| is_uplane(&frames[i]))
        .collect();
    // eCPRI revision 2 in one frame, another cut short inside its IQ data.
    frames[u[3]].data[14] = 0x20;
    let len = frames[u[5]].data.len();
    frames[u[5]].data.truncate(len - 7);
    let bad = dir.path().join("bad.pcap");
    write(&bad, &frames);
    let o = fhgate(&[
        "sink",
        "--input",
        bad.to_str().unwrap(),
        "--dl-comp",
        "bfp:9",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "invalid frames fail the run");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (r["frames"].clone(), r["invalid"].as_u64()),
        (g["frames"].clone(), Some(2))
    );
    let ex = r["error_examples"].as_array().unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(
        (ex[0]["frame"].as_u64(), ex[0]["field"].as_str()),
        (Some(u[3] as u64 + 1), Some("ecpri.revision"))
    );
    assert_eq!(ex[0]["offset"], 14, "the offset of the field in the frame");
    assert!(
        ex[1]["field"].is_string() && ex[1]["offset"].is_u64(),
        "{}",
        ex[1]
    );
    // The errors are named on standard error too, and the text report says FAIL.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("ecpri.revision") && stderr.contains("offset 14"),
        "{stderr}"
    );
    let o = fhgate(&[
        "sink",
        "--input",
        bad.to_str().unwrap(),
        "--dl-comp",
        "bfp:9",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("invalid 2") && text.contains("result: FAIL"),
        "{text}"
    );
}

#[test]
fn removed_duplicated_and_reordered_frames_show_in_seq_ids() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("good.pcap");
    gen(
        &p,
        &[
            "--prbs",
            "20",
            "--antennas",
            "2",
            "--slots",
            "3",
            "--comp",
            "bfp:9",
        ],
    );
    let frames = read_all(&p).unwrap();
    let total = frames.len();
    let u: Vec<usize> = (0..total).filter(|&i| is_uplane(&frames[i])).collect();

    // Three U-plane frames removed from the middle: three gaps; --expect tells the loss too.
    let gone = [u[10], u[20], u[21]];
    let kept: Vec<Captured> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, f)| f.clone())
        .collect();
    let cut = dir.path().join("cut.pcap");
    write(&cut, &kept);
    let (code, r) = sink(&cut, &["--dl-comp", "bfp:9"]);
    assert_eq!(code, 0, "gaps alone are reported, not failed: {r}");
    assert_eq!(
        (r["seq_gaps"].as_u64(), r["frames"].as_u64()),
        (Some(3), Some(total as u64 - 3))
    );
    let per_flow: u64 = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seq_gaps"].as_u64().unwrap())
        .sum();
    assert_eq!(per_flow, 3);
    let (code, r) = sink(
        &cut,
        &["--dl-comp", "bfp:9", "--expect", &total.to_string()],
    );
    assert_eq!(code, 1, "{}", r["failures"]);

    // One frame twice, and two frames of one flow swapped.
    let mut odd = frames.clone();
    odd.insert(u[7] + 1, frames[u[7]].clone());
    let (a, b) = (u[30], u[32]);
    odd.swap(a + 1, b + 1);
    let path = dir.path().join("odd.pcap");
    write(&path, &odd);
    let (code, r) = sink(&path, &["--dl-comp", "bfp:9"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (
            r["seq_duplicates"].as_u64(),
            r["seq_reorders"].as_u64(),
            r["seq_gaps"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{r}"
    );

    // inspect accounts for seqIds the same way: a late frame fills the gap
    // it opened, and the next frame in order is no gap.
    for (file, want) in [(&cut, (3, 0, 0)), (&path, (0, 1, 1))] {
        let o = fhgate(&[
            "inspect",
            file.to_str().unwrap(),
            "--json",
            "--dl-comp",
            "bfp:9",
        ]);
        assert!(
            o.status.success(),
            "inspect {}: {}",
            file.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let flows = summary["summary"]["flows"].as_array().unwrap().clone();
        let sum = |k: &str| flows.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(
            (sum("seq_gaps"), sum("seq_reorders"), sum("seq_duplicates")),
            want,
            "inspect {}",
            file.display()
        );
    }
}

#[test]
fn slot_timed_gen_takes_real_time_and_pps_paces() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("slots.pcap");
    // µ = 0: 1 ms slots; 150 of them take at least about 150 ms.
    let t = Instant::now();
    let g = gen(
        &p,
        &[
            "--rate",
            "slot",
            "--numerology",
            "0",
            "--prbs",
            "12",
            "--antennas",
            "1",
            "--slots",
            "150",
        ],
    );
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(120), "{took:?}");
    assert!(g["seconds"].as_f64().unwrap() >= 0.12, "{g}");
    assert_eq!(
        (g["slots"].as_u64(), g["rate"].as_str()),
        (Some(150), Some("slot"))
    );
    assert!(
        g["late_slots"].is_u64(),
        "slot timing reports late slots: {g}"
    );
    // The pcap is the same stream as a flat-out run writes.
    let q = dir.path().join("max.pcap");
    let m = gen(
        &q,
        &[
            "--numerology",
            "0",
            "--prbs",
            "12",
            "--antennas",
            "1",
            "--slots",
            "150",
        ],
    );
    assert!(m["late_slots"].is_null());
    assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&q).unwrap());

    // 2000 frames/s: 160 frames take at least about 80 ms.
    let t = Instant::now();
    let g = gen(
        &p,
        &[
            "--rate",
            "2000",
            "--prbs",
            "12",
            "--antennas",
            "1",
            "--slots",
            "10",
        ],
    );
    assert_eq!(g["frames"], 160);
    assert!(
        t.elapsed() >= Duration::from_millis(64),
        "{:?}",
        t.elapsed()
    );

    // --duration alone bounds the run.
    let g = gen(
        &p,
        &[
            "--rate",
            "slot",
            "--numerology",
            "0",
            "--prbs",
            "12",
            "--antennas",
            "1",
            "--duration",
            "0.2",
        ],
    );
    let slots = g["slots"].as_u64().unwrap();
    assert!((50..=260).contains(&slots), "{g}");
}

/// Peak resident memory (VmHWM, kB) of a child, polled until it exits.
fn peak_rss_kb(mut c: Child) -> u64 {
    let status = format!("/proc/{}/status", c.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak = kb;
            }
        }
        if let Some(st) = c.try_wait().unwrap() {
            assert!(st.success());
            return peak;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn streaming_gen_keeps_memory_bounded() {
    // 400 slots of 273 PRBs uncompressed is about 73 MB of frames; gen
    // holds one slot (about 180 kB) at a time.
    let args = |slots: &'static str| -> Vec<&'static str> {
        vec![
            "gen",
            "-o",
            "/dev/null",
            "--prbs",
            "273",
            "--antennas",
            "1",
            "--comp",
            "none:16",
            "--slots",
            slots,
        ]
    };
    let small = peak_rss_kb(spawn(&args("40")));
    let big = peak_rss_kb(spawn(&args("400")));
    assert!(small > 0 && big > 0);
    assert!(
        big < small + 16 * 1024,
        "peak RSS {big} kB for 400 slots against {small} kB for 40"
    );
}

/// A UDP port number that is free now.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn finish(c: Child) -> (i32, Value, String) {
    let o = c.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{stderr}", String::from_utf8_lossy(&o.stdout)));
    (o.status.code().unwrap_or(-1), v, stderr)
}

#[test]
fn gen_to_sink_over_udp_loopback() {
    let (a, b) = (free_udp_port(), free_udp_port());
    let sink_port = format!("udp:127.0.0.1:{b},127.0.0.1:{a}");
    let gen_port = format!("udp:127.0.0.1:{a},127.0.0.1:{b}");
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got.pcap");
    let s = spawn(&[
        "sink",
        "--port",
        &sink_port,
        "--idle-timeout",
        "1",
        "--duration",
        "20",
        "--dl-comp",
        "bfp:9",
        "-o",
        got.to_str().unwrap(),
        "--max-evm",
        "1",
        "--json",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let (code, g) = json(&[
        "gen",
        "--port",
        &gen_port,
        "--numerology",
        "0",
        "--prbs",
        "24",
        "--antennas",
        "2",
        "--prach",
        "--slots",
        "100",
        "--json",
    ]);
    assert_eq!(code, 0, "{g}");
    assert_eq!(g["rate"], "slot", "a port is slot-timed by default");
    let (code, r, stderr) = finish(s);
    assert_eq!(code, 0, "{r} {stderr}");
    assert_eq!(r["frames"], g["frames"], "every frame arrived");
    assert_eq!(r["by_type"], g["by_type"]);
    assert_eq!(
        (r["invalid"].as_u64(), r["seq_gaps"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["iq"]["prbs"], 100 * 14 * 2 * 24);
    assert!(evm(&r) < 1.0);
    // What arrived was written too: Ethernet/IP/UDP frames to the bind port.
    let frames = read_all(&got).unwrap();
    assert_eq!(frames.len() as u64, g["frames"].as_u64().unwrap());
    let (code, r2) = sink(&got, &["--udp-port", &b.to_string(), "--dl-comp", "bfp:9"]);
    assert_eq!(code, 0);
    assert_eq!(r2["iq"], r["iq"]);
}

fn sigterm(c: &Child) {
    // SAFETY: kill(2) on the pid of a child this test started and has not waited for.
    let rc = unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

#[test]
fn sigterm_stops_gen_and_sink_cleanly_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.pcap");
    let g = spawn(&[
        "gen",
        "-o",
        p.to_str().unwrap(),
        "--rate",
        "slot",
        "--prbs",
        "12",
        "--antennas",
        "1",
        "--slots",
        "1000000",
        "--json",
    ]);
    let s = spawn(&[
        "sink",
        "--port",
        &format!("udp:127.0.0.1:{},127.0.0.1:9", free_udp_port()),
        "--json",
    ]);
    std::thread::sleep(Duration::from_millis(400));
    sigterm(&g);
    sigterm(&s);
    let (code, r, stderr) = finish(g);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(r["interrupted"], true);
    let slots = r["slots"].as_u64().unwrap();
    assert!(slots > 0 && slots < 1_000_000, "{r}");
    // What was written before the signal is a whole, valid capture.
    let (code, v) = sink(&p, &["--expect", &r["frames"].to_string()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["frames"], r["frames"]);
    let (code, r, stderr) = finish(s);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        (r["interrupted"].as_bool(), r["frames"].as_u64()),
        (Some(true), Some(0))
    );
}

/// `sink --output` records what arrived, which cannot be made again: an
/// existing file is refused before anything is read, and left byte for
/// byte; `--force` replaces it with the frames that arrived.
#[test]
fn sink_never_replaces_an_existing_recording_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("captures/du_100mhz_4ant_bfp8_mtu1500.pcap");
    let out = dir.path().join("arrived.pcap");
    std::fs::write(&out, b"last week's recording").unwrap();
    let args = ["sink", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--no-iq"];
    let o = fhgate(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("--output") && err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"last week's recording");
    let o = fhgate(&[&args[..], &["--force"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_all(&out).unwrap().len(), read_all(&input).unwrap().len());
}
