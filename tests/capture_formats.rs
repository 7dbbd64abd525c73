//! Capture files as other tools write them, read by `fhgate inspect` and
//! `replay` and checked against tshark: pcapng (`editcap -F pcapng`),
//! Linux cooked captures (`tcpdump -i any`: LINUX_SLL and LINUX_SLL2, in
//! pcap and pcapng, built here from the libpcap specification), frames cut
//! by a snap length (`editcap -s`), files cut mid-record, and link types
//! fhgate cannot read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{fhgate, repo};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tool(name: &str, args: &[&str]) -> Output {
    let o = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is installed (scripts/setup): {e}"));
    assert!(o.status.success(), "{name} {args:?}: {}", stderr(&o));
    o
}

/// `tshark -T fields` lines for `fields`.
fn tshark(file: &Path, fields: &[&str]) -> Vec<String> {
    let mut a = vec!["-r", s(file), "-T", "fields", "-E", "separator=|"];
    for f in fields {
        a.extend(["-e", f]);
    }
    String::from_utf8(tool("tshark", &a).stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// The eCPRI and O-RAN fields tshark decodes, which no link layer changes.
const ECPRI: &[&str] = &[
    "ecpri.type",
    "ecpri.size",
    "ecpri.pcid",
    "ecpri.rtcid",
    "ecpri.seqid",
    "oran_fh_cus.sectionId",
    "oran_fh_cus.startPrbu",
    "oran_fh_cus.numPrbu",
    "vlan.id",
];

/// A record of a classic little-endian nanosecond pcap: header fields and data.
struct Record {
    /// Seconds and nanoseconds.
    ts: (u32, u32),
    data: Vec<u8>,
    orig: u32,
    /// Byte offset of its record header.
    offset: usize,
}

/// Reads a little-endian nanosecond classic pcap (what `fhgate gen`
/// writes) per the libpcap file format: the test's own reader, not fhgate's.
fn records(path: &Path) -> (Vec<u8>, Vec<Record>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..4],
        &[0x4D, 0x3C, 0xB2, 0xA1][..],
        "little-endian nanosecond pcap"
    );
    let u32at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32at(at + 8) as usize;
        out.push(Record {
            ts: (u32at(at), u32at(at + 4)),
            data: b[at + 16..at + 16 + incl].to_vec(),
            orig: u32at(at + 12),
            offset: at,
        });
        at += 16 + incl;
    }
    (b[..24].to_vec(), out)
}

/// The Linux cooked header (v1 or v2) the kernel gives an Ethernet frame
/// sent by this host, and the payload after it (VLAN tag kept in the
/// payload, as libpcap reinserts it).
fn cooked(link_type: u32, eth: &[u8]) -> Vec<u8> {
    let (src, proto, rest) = (&eth[6..12], &eth[12..14], &eth[14..]);
    let mut c = Vec::new();
    if link_type == 113 {
        c.extend_from_slice(&[0, 4, 0, 1, 0, 6]); // outgoing, ARPHRD_ETHER, 6-byte address
        c.extend_from_slice(src);
        c.extend_from_slice(&[0, 0]);
        c.extend_from_slice(proto);
    } else {
        c.extend_from_slice(proto);
        c.extend_from_slice(&[0, 0, 0, 0, 0, 7, 0, 1, 4, 6]); // reserved, ifindex 7, ARPHRD_ETHER, outgoing, 6
        c.extend_from_slice(src);
        c.extend_from_slice(&[0, 0]);
    }
    c.extend_from_slice(rest);
    c
}

fn write_pcap(path: &Path, link_type: u32, recs: &[(u32, u32, Vec<u8>, u32)]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xA1B2_3C4Du32.to_le_bytes());
    b.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&262_144u32.to_le_bytes());
    b.extend_from_slice(&link_type.to_le_bytes());
    for (sec, nsec, d, orig) in recs {
        for v in [*sec, *nsec, d.len() as u32, *orig] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(d);
    }
    std::fs::write(path, b).unwrap();
}

fn ng_block(out: &mut Vec<u8>, t: u32, body: &[u8]) {
    let mut body = body.to_vec();
    body.resize(body.len().next_multiple_of(4), 0);
    let len = (body.len() as u32 + 12).to_le_bytes();
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&len);
    out.extend_from_slice(&body);
    out.extend_from_slice(&len);
}

/// A pcapng file: one interface per link type (`if_tsresol` 9: nanoseconds),
/// packets (interface, timestamp in ns, data, wire length).
fn write_pcapng(path: &Path, link_types: &[u16], packets: &[(u32, u64, Vec<u8>, u32)]) {
    let mut b = Vec::new();
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(&mut b, 0x0A0D_0D0A, &shb);
    for lt in link_types {
        let mut idb = lt.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        ng_block(&mut b, 1, &idb);
    }
    for (iface, ts, d, orig) in packets {
        let mut epb = Vec::new();
        for v in [*iface, (ts >> 32) as u32, *ts as u32, d.len() as u32, *orig] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(d);
        ng_block(&mut b, 6, &epb);
    }
    std::fs::write(path, b).unwrap();
}

/// `inspect --json` frames (without the Ethernet addresses and lengths a
/// cooked header changes) and its summary.
fn inspect(file: &Path, extra: &[&str]) -> (Vec<Value>, Value) {
    let mut a = vec!["inspect", s(file), "--json"];
    a.extend_from_slice(extra);
    let o = fhgate(&a);
    assert!(
        o.status.success(),
        "inspect {}: {}",
        file.display(),
        stderr(&o)
    );
    let mut lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap()["summary"].clone();
    for l in &mut lines {
        let m = l.as_object_mut().unwrap();
        m.remove("len");
        if let Some(eth) = m.get_mut("eth").and_then(Value::as_object_mut) {
            eth.remove("dst");
            eth.remove("src");
        }
    }
    (lines, summary)
}

fn shipped(name: &str) -> PathBuf {
    repo().join("captures").join(name)
}

#[test]
fn linux_cooked_captures_decode_like_the_ethernet_original() {
    let dir = tempfile::tempdir().unwrap();
    for cap in [
        "du_20mhz_2ant_bfp9_vlan_prach.pcap",
        "du_100mhz_4ant_bfp8_mtu1500.pcap",
    ] {
        let orig = shipped(cap);
        let (_, recs) = records(&orig);
        let flags = ["--dl-comp", "bfp:9", "--ul-comp", "bfp:9"];
        let (want_frames, want_summary) = inspect(&orig, &flags);
        let want_tshark = tshark(&orig, ECPRI);
        for lt in [113u32, 276] {
            let cooked_recs: Vec<_> = recs
                .iter()
                .map(|r| {
                    (
                        r.ts.0,
                        r.ts.1,
                        cooked(lt, &r.data),
                        r.orig - 14 + if lt == 113 { 16 } else { 20 },
                    )
                })
                .collect();
            let pcap = dir.path().join(format!("{lt}.pcap"));
            write_pcap(&pcap, lt, &cooked_recs);
            let ng = dir.path().join(format!("{lt}.pcapng"));
            let packets: Vec<_> = cooked_recs
                .iter()
                .map(|(sec, ns, d, o)| (0, *sec as u64 * 1_000_000_000 + *ns as u64, d.clone(), *o))
                .collect();
            write_pcapng(&ng, &[lt as u16], &packets);
            for f in [&pcap, &ng] {
                // tshark reads the cooked file as the same eCPRI traffic, from the same senders.
                assert_eq!(tshark(f, ECPRI), want_tshark, "{cap} as {}", f.display());
                let src: Vec<String> = recs
                    .iter()
                    .map(|r| {
                        r.data[6..12]
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect::<Vec<_>>()
                            .join(":")
                    })
                    .collect();
                assert_eq!(tshark(f, &["sll.src.eth"]), src, "{}", f.display());
                let (frames, summary) = inspect(f, &flags);
                assert_eq!(summary, want_summary, "{cap} as {}", f.display());
                assert_eq!(frames, want_frames, "{cap} as {}", f.display());
            }
        }
    }
}

#[test]
fn pcapng_input_inspects_and_replays_like_the_pcap_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let orig = shipped("du_100mhz_4ant_bfp8_mtu1500.pcap");
    let ng = dir.path().join("du.pcapng");
    tool("editcap", &["-F", "pcapng", s(&orig), s(&ng)]);
    assert_eq!(&std::fs::read(&ng).unwrap()[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
    assert_eq!(tshark(&ng, ECPRI), tshark(&orig, ECPRI));
    assert_eq!(
        tshark(&ng, &["frame.time_epoch"]),
        tshark(&orig, &["frame.time_epoch"])
    );
    let flags = ["--dl-comp", "bfp:8", "--ul-comp", "bfp:8"];
    let o = fhgate(&[
        "inspect",
        s(&ng),
        "--json",
        flags[0],
        flags[1],
        flags[2],
        flags[3],
    ]);
    let p = fhgate(&[
        "inspect",
        s(&orig),
        "--json",
        flags[0],
        flags[1],
        flags[2],
        flags[3],
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        o.stdout, p.stdout,
        "inspect reads the pcapng exactly as the pcap (times included)"
    );
    let (a, b) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    for (input, out) in [(&ng, &a), (&orig, &b)] {
        let o = fhgate(&[
            "replay",
            s(input),
            "-o",
            s(out),
            "--mtu",
            "1500",
            flags[0],
            flags[1],
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "replay of the pcapng writes the same bytes"
    );
}

#[test]
fn frames_cut_by_the_snap_length_are_read_with_both_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let orig = shipped("du_20mhz_2ant_bfp9_vlan_prach.pcap");
    let snapped = dir.path().join("s100.pcap");
    tool("editcap", &["-s", "100", s(&orig), s(&snapped)]);
    let lens: Vec<(u64, u64)> = tshark(&snapped, &["frame.len", "frame.cap_len"])
        .iter()
        .map(|l| {
            let (a, b) = l.split_once('|').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let cut = lens.iter().filter(|(w, c)| w > c).count();
    assert!(
        cut > 0 && cut < lens.len(),
        "the capture has frames above and below 100 bytes"
    );
    let o = fhgate(&[
        "inspect",
        s(&snapped),
        "--json",
        "--dl-comp",
        "bfp:9",
        "--ul-comp",
        "bfp:9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, frames) = lines.split_last().unwrap();
    assert_eq!(frames.len(), lens.len());
    for (f, (wire, cap)) in frames.iter().zip(&lens) {
        assert_eq!(f["len"].as_u64(), Some(*cap), "{f}");
        if wire > cap {
            assert_eq!(
                f["cut"],
                serde_json::json!({"captured": cap, "on_wire": wire}),
                "{f}"
            );
        } else {
            assert!(f.get("cut").is_none(), "{f}");
        }
    }
    assert_eq!(summary["summary"]["cut_frames"].as_u64(), Some(cut as u64));
    assert_eq!(
        summary["summary"]["error_frames"].as_u64(),
        Some(0),
        "a cut frame is not a malformed one"
    );
    let out = dir.path().join("o.pcap");
    let o = fhgate(&[
        "replay",
        s(&snapped),
        "-o",
        s(&out),
        "--json",
        "--dl-comp",
        "bfp:9",
        "--ul-comp",
        "bfp:9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["frames_cut"].as_u64(), Some(cut as u64));
}

#[test]
fn a_file_cut_mid_record_keeps_the_frames_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let orig = shipped("ru_40mhz_2ant_bfp9_static.pcap");
    let (_, recs) = records(&orig);
    let bytes = std::fs::read(&orig).unwrap();
    let last = recs.last().unwrap();
    // Cut in the middle of the last record's frame, then in its header.
    for cut in [last.offset + 16 + last.data.len() / 2, last.offset + 7] {
        let f = dir.path().join("cut.pcap");
        std::fs::write(&f, &bytes[..cut]).unwrap();
        let o = fhgate(&[
            "inspect",
            s(&f),
            "--json",
            "--dl-comp",
            "bfp:9",
            "--ul-comp",
            "bfp:9",
            "--comp-hdr",
            "absent",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("byte offset {}", last.offset)),
            "{}",
            stderr(&o)
        );
        let summary: Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap())
                .unwrap();
        assert_eq!(
            summary["summary"]["frames"].as_u64(),
            Some(recs.len() as u64 - 1)
        );
        assert_eq!(
            summary["summary"]["file_cut_at"].as_u64(),
            Some(last.offset as u64)
        );
        // tshark keeps the same frames (and says the file was cut short).
        let t = Command::new("tshark")
            .args(["-r", s(&f), "-T", "fields", "-e", "frame.number"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&t.stdout).lines().count(),
            recs.len() - 1
        );
    }
}

#[test]
fn other_link_types_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // An IPv4/UDP packet as LINKTYPE_RAW writes it: no link-layer header.
    let ip = {
        let mut p = vec![
            0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(&[0x12, 0x34, 0xAE, 0xFE, 0, 12, 0, 0]);
        p.extend_from_slice(&[0x10, 0, 0, 0]);
        p
    };
    let raw_pcap = dir.path().join("raw.pcap");
    write_pcap(&raw_pcap, 101, &[(0, 0, ip.clone(), ip.len() as u32)]);
    let raw_ng = dir.path().join("raw.pcapng");
    let eth = records(&shipped("ru_40mhz_2ant_bfp9_static.pcap"))
        .1
        .remove(0)
        .data;
    write_pcapng(
        &raw_ng,
        &[1, 101],
        &[
            (0, 0, eth.clone(), eth.len() as u32),
            (1, 1, ip.clone(), ip.len() as u32),
        ],
    );
    // tshark reads both as raw IP, not Ethernet.
    assert_eq!(tshark(&raw_pcap, &["ip.dst"]), ["10.0.0.2"]);
    assert_eq!(tshark(&raw_ng, &["ip.dst"]), ["", "10.0.0.2"]);
    for (f, want) in [
        (&raw_pcap, "link type 101 (RAW)"),
        (&raw_ng, "interface 1 has link type 101 (RAW)"),
    ] {
        for cmd in ["inspect", "replay"] {
            let out = dir.path().join("o.pcap");
            let o = if cmd == "inspect" {
                fhgate(&["inspect", s(f)])
            } else {
                fhgate(&["replay", s(f), "-o", s(&out)])
            };
            assert_eq!(
                o.status.code(),
                Some(2),
                "{cmd} {}: {}",
                f.display(),
                stderr(&o)
            );
            assert!(
                stderr(&o).contains(want),
                "{cmd} {}: {}",
                f.display(),
                stderr(&o)
            );
        }
    }
}

/// A network namespace with a veth pair `v0`–`v1`, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "capturing on a veth pair needs root (CI runs as root)"
        );
        let n = Netns(format!("fhio-cap-{}", std::process::id()));
        let ip = |a: &[&str]| {
            assert!(
                Command::new("ip").args(a).status().unwrap().success(),
                "ip {a:?}"
            )
        };
        ip(&["netns", "add", &n.0]);
        ip(&[
            "-n", &n.0, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ]);
        ip(&["-n", &n.0, "link", "set", "v0", "up"]);
        ip(&["-n", &n.0, "link", "set", "v1", "up"]);
        n
    }

    fn exec(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, prog]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_real_any_capture_by_dumpcap_reads_as_tshark_reads_it() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    for (dlt, cooked_len) in [("LINUX_SLL", 16u64), ("LINUX_SLL2", 20)] {
        // What `tcpdump -i any` does: capture on every interface, cooked.
        let file = dir.path().join(format!("{dlt}.pcapng"));
        let mut cap = ns
            .exec("dumpcap")
            .args(["-i", "any", "-y", dlt, "-q", "-w", s(&file)])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dumpcap runs");
        let t0 = std::time::Instant::now();
        while std::fs::metadata(&file).map_or(true, |m| m.len() == 0) {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(10),
                "dumpcap did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let gen = ns
            .exec(env!("CARGO_BIN_EXE_fhgate"))
            .args([
                "gen",
                "--port",
                "af_packet:v0",
                "--slots",
                "2",
                "--prbs",
                "51",
                "--antennas",
                "2",
                "--comp",
                "bfp:9",
            ])
            .output()
            .unwrap();
        assert!(gen.status.success(), "{}", stderr(&gen));
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(cap.id() as i32, libc::SIGINT) };
        cap.wait().unwrap();
        let want: Vec<Vec<String>> = tshark(
            &file,
            &[
                "frame.encap_type",
                "frame.len",
                "sll.etype",
                "ecpri.type",
                "ecpri.size",
            ],
        )
        .iter()
        .map(|l| l.split('|').map(String::from).collect())
        .collect();
        let o = fhgate(&[
            "inspect",
            s(&file),
            "--json",
            "--dl-comp",
            "bfp:9",
            "--ul-comp",
            "bfp:9",
        ]);
        assert!(o.status.success(), "{dlt}: {}", stderr(&o));
        let mut got: Vec<Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        got.pop();
        assert_eq!(got.len(), want.len(), "{dlt}: frames");
        let mut ecpri = 0;
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                w[0],
                if dlt == "LINUX_SLL" { "25" } else { "210" },
                "tshark's encapsulation"
            );
            let wire: u64 = w[1].parse().unwrap();
            assert_eq!(
                g["len"].as_u64(),
                Some(wire - cooked_len + 14),
                "{dlt}: {g} vs {w:?}"
            );
            let etype = u64::from_str_radix(w[2].trim_start_matches("0x"), 16).unwrap();
            assert_eq!(g["eth.type"].as_u64(), Some(etype), "{dlt}: {g} vs {w:?}");
            if !w[3].is_empty() {
                ecpri += 1;
                assert_eq!(
                    g["ecpri.type"].as_u64(),
                    Some(u64::from_str_radix(w[3].trim_start_matches("0x"), 16).unwrap()),
                    "{g}"
                );
                assert_eq!(g["ecpri.size"].as_u64(), Some(w[4].parse().unwrap()), "{g}");
            }
        }
        assert!(
            ecpri >= 64,
            "{dlt}: {ecpri} eCPRI frames captured of the 64 sent"
        );
    }
}
