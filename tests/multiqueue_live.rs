//! Multi-queue live ports end to end (issue 16 §2): the testbed with four
//! queues on every veth end; `fhgate gen` sends each eAxC on its own TX
//! queue of du0 (eAxC mod 4, `af_xdp:du0,queues=0-3`), which a veth
//! delivers to the same RX queue of gw-du; `fhgate run` drains gw-du with
//! a socket per queue (AF_XDP `queues = "0-3"`, or four AF_PACKET sockets
//! in a `fanout = "queue"` group), each lane translating (BFP 8 → 12,
//! eAxC 4/4/4/4 → 2/6/4/4) and sending on its own TX queue of gw-ru, to
//! `fhgate sink` on ru0 (AF_PACKET, or AF_XDP on all four queues). Every frame must arrive, in sequence, with the
//! IQ exact, and the gateway's per-queue counters must show that all four
//! queues carried their flows' frames.
//!
//! A single-queue sender puts every flow on queue 0; `fanout = "eaxc"`
//! (fhgate's classic BPF program in the fanout group) still spreads them
//! over four sockets by eAxC, one flow per socket.
//!
//! What a veth does, measured (DEVELOPERS.md, "Multi-queue live ports"):
//! it hands a frame to the peer's RX queue of the index of the TX queue
//! it left by; a single-queue sender puts everything on queue 0, and
//! PACKET_FANOUT_HASH puts every eCPRI-over-Ethernet frame on one socket
//! (no IP/UDP fields to hash). So the spread here comes from the sender
//! steering flows to queues, as a DU with a queue per antenna group does.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;
use cli::{repo, translators};
use live::{Proc, Testbed};

const QUEUES: u64 = 4;

/// gateway/gw.testbed.toml on `backend` with `lanes` (the key that makes
/// both ports multi-queue), a worker per queue, absolute translator paths,
/// a free metrics port and generous deadlines (a debug build on 2 shared cores).
fn gateway_config(dir: &Path, backend: &str, lanes: &str) -> PathBuf {
    let t = translators();
    let text = std::fs::read_to_string(repo().join("gateway/gw.testbed.toml"))
        .unwrap()
        .replace("backend = \"af_xdp\"", &format!("backend = \"{backend}\""))
        .replace("interface = \"gw-du\"\n", &format!("interface = \"gw-du\"\n{lanes}\n"))
        .replace("interface = \"gw-ru\"\n", &format!("interface = \"gw-ru\"\n{lanes}\n"))
        .replace("workers = 1", &format!("workers = {QUEUES}"))
        .replace("target/translators/", &format!("{}/", t.display()))
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        .replace("deadline_us = 2000", "deadline_us = 200000");
    let text = if backend == "af_packet" {
        // AF_XDP's keys are not AF_PACKET's.
        text.lines().filter(|l| !["xdp_mode", "xdp_copy", "umem_frames", "xdp_ring_size"].iter().any(|k| l.starts_with(k))).collect::<Vec<_>>().join("\n")
    } else {
        text
    };
    let p = dir.join("gw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The RU emulator on ru0 on `port` (one AF_PACKET socket sees every
/// queue; AF_XDP needs a socket per queue, `queues=0-3`), decoding as the
/// RU does and checking IQ against BFP 8's signal.
fn sink(tb: &Testbed, port: &str) -> Proc {
    let mut p = Proc::spawn(tb.fhgate(
        "ru",
        &[
            "sink", "--port", port, "--eaxc-bits", "2,6,4,4", "--dl-comp", "bfp:12", "--ul-comp", "bfp:12", "--comp-hdr", "present",
            "--signal-comp", "bfp:8", "--idle-timeout", "3", "--json",
        ],
    ));
    p.wait_for("sink receiving", Duration::from_secs(30));
    p
}

/// The DU emulator on `port`: 4 antennas (eAxC 0x1000-0x1003, so one
/// per queue), each eAxC on TX queue eAxC mod 4 of du0 when `port` has
/// four queues, all on queue 0 when it has one.
fn gen(tb: &Testbed, port: &str) -> serde_json::Value {
    let args = [
        "gen", "--prbs", "51", "--antennas", "4", "--comp", "bfp:8", "--mtu", "9000", "--du-port", "1", "--json", "--port", port, "--rate", "4000", "--slots",
        "100",
    ];
    let o = tb.fhgate("du", &args).output().expect("gen runs");
    assert!(o.status.success(), "gen: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("gen --json: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn end_to_end(backend: &str, lanes: &str, name: &str, gen_port: &str, sink_port: &str) {
    let (tb, _serial) = Testbed::up_queues(name, QUEUES as u32);
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), backend, lanes);
    let rx = sink(&tb, sink_port);
    let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap(), "--json"]));
    gw.wait_for("running", Duration::from_secs(60));
    let sent = gen(&tb, gen_port);
    let frames = sent["frames"].as_u64().unwrap();
    assert!(frames > 0 && frames % QUEUES == 0, "{sent}");
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    assert!(st.success(), "sink: {got}\n{log}");
    assert_eq!(got["frames"], frames, "every frame arrives: sent {sent}\ngot {got}\n{log}");
    assert_eq!((got["invalid"].as_u64(), got["seq_gaps"].as_u64(), got["seq_reorders"].as_u64(), got["seq_duplicates"].as_u64()), (Some(0), Some(0), Some(0), Some(0)), "{got}");
    assert_eq!(got["by_type"], sent["by_type"], "{got}");
    let iq = &got["iq"];
    assert!(iq["prbs"].as_u64().unwrap() > 0 && iq["exact"] == true, "8 → 12 bit is lossless: {iq}");
    assert_eq!(got["compression"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["bfp:12"], "{got}");
    gw.signal(libc::SIGINT);
    let (st, run, log) = gw.finish(Duration::from_secs(30));
    assert!(st.success(), "run: {log}");
    // The gateway's own per-queue counters: each of gw-du's queues took
    // its eAxC's frames (a quarter), and each of gw-ru's sent them.
    for (side, half) in [("du", "rx"), ("ru", "tx")] {
        let per_queue = live::frames_per_queue(&run, side, half);
        let want: Vec<(u64, u64)> = (0..QUEUES).map(|q| (q, frames / QUEUES)).collect();
        assert_eq!(per_queue, want, "{side} {half}: frames per queue\n{run}");
    }
}

#[test]
fn af_xdp_gateway_carries_every_frame_through_four_queues() {
    // The sink reads ru0's four queues too (a one-queue AF_XDP sink would see a quarter).
    end_to_end("af_xdp", "queues = \"0-3\"", "mx", "af_xdp:du0,queues=0-3", "af_xdp:ru0,queues=0-3");
}

#[test]
fn af_packet_gateway_carries_every_frame_through_a_fanout_of_four() {
    end_to_end("af_packet", "sockets = 4\nfanout = \"queue\"", "mp", "af_xdp:du0,queues=0-3", "af_packet:ru0,packet_blocks=256");
}

/// A one-queue sender (everything on gw-du's RX queue 0, where `queue`
/// fanout gives socket 0 every frame: measured, the per-queue assertion
/// fails with it): the eaxc program still puts each flow on its own
/// socket, a quarter each.
#[test]
fn af_packet_eaxc_fanout_spreads_a_one_queue_sender_by_eaxc() {
    end_to_end("af_packet", "sockets = 4\nfanout = \"eaxc\"", "me", "af_xdp:du0", "af_packet:ru0,packet_blocks=256");
}

/// A fanout group that forms while traffic flows (the DU sends before the
/// gateway starts, as on a site where the gateway restarts): no frame is
/// taken twice and no flow is reordered. Before the members were held
/// until the group had formed, a bound member that had not joined yet took
/// copies, and flows moved between members as the group grew.
#[test]
fn a_fanout_group_that_forms_under_traffic_neither_duplicates_nor_reorders() {
    let (tb, _serial) = Testbed::up_queues("mf", QUEUES as u32);
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_packet", "sockets = 4\nfanout = \"eaxc\"");
    let rx = sink(&tb, "af_packet:ru0,packet_blocks=256");
    let gen = Proc::spawn(tb.fhgate(
        "du",
        &["gen", "--prbs", "51", "--antennas", "4", "--comp", "bfp:8", "--mtu", "9000", "--du-port", "1", "--json", "--port", "af_xdp:du0", "--rate", "1000", "--slots", "100"],
    ));
    std::thread::sleep(Duration::from_millis(300));
    let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap(), "--json"]));
    gw.wait_for("running", Duration::from_secs(60));
    let (st, sent, log) = gen.finish(Duration::from_secs(60));
    assert!(st.success(), "gen: {log}");
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    assert!(st.success(), "sink: {got}\n{log}");
    gw.signal(libc::SIGINT);
    let (st, run, log) = gw.finish(Duration::from_secs(30));
    assert!(st.success(), "run: {log}");
    // Frames the gateway's rings had no room for at its start would show
    // as gaps, or as duplicates after 128 lost (an 8-bit seqId): none here.
    let ports = run["ports"].as_array().unwrap();
    assert!(ports.iter().all(|p| p["counters"]["drop_ring_full"].as_u64().unwrap_or(0) == 0), "the gateway's rings overflowed at start: {run}");
    let frames = got["frames"].as_u64().unwrap();
    assert!(frames > 0 && frames < sent["frames"].as_u64().unwrap(), "the gateway started while gen was sending: sent {sent}, got {got}");
    assert_eq!((got["invalid"].as_u64(), got["seq_gaps"].as_u64(), got["seq_duplicates"].as_u64(), got["seq_reorders"].as_u64()), (Some(0), Some(0), Some(0), Some(0)), "{got}");
    assert!(got["iq"]["exact"] == true, "{got}");
}

/// A queue the interface lacks is refused, naming it and the interface;
/// ports of different queue counts are refused before any port opens.
#[test]
fn missing_queues_and_unequal_ports_are_named() {
    let (tb, _serial) = Testbed::up_queues("mq", 2);
    let o = tb.fhgate("du", &["gen", "--port", "af_xdp:du0,queues=0-3", "--slots", "1"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("queue 2 is out of range: `du0` has 2 RX queue(s)"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_xdp", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replacen("interface = \"gw-du\"\n", "interface = \"gw-du\"\nqueues = \"0-1\"\n", 1).replace("workers = 4", "workers = 1");
    std::fs::write(&cfg, text).unwrap();
    let o = tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap()]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("du.queues gives 2 lane(s) and ru.queues gives 1"), "{e}");
}
