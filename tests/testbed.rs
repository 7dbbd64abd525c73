//! The live testbed end to end (scripts/testbed): the DU emulator (`fhgate
//! gen`) in namespace du sends a 7.2x stream through `fhgate run` in gw —
//! bfp_width 8 → 12 and eaxc_remap 4/4/4/4 → 2/6/4/4 — to the RU emulator
//! (`fhgate sink`) in ru, over AF_XDP or AF_PACKET on real veth pairs.
//! Every frame must arrive, translated, with nothing lost, at a rate the
//! veth path sustains. Each test builds its own namespaces (a unique
//! prefix) and tears them down on drop, even when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;
use cli::{repo, translators};
use live::{fhgate, Proc, Testbed};


/// The gateway configuration: gateway/gw.testbed.toml with `backend`,
/// the translators' absolute paths, a free metrics port and generous
/// deadlines (the machine is shared with the emulators).
fn gateway_config(dir: &Path, backend: &str) -> PathBuf {
    let t = translators();
    let text = std::fs::read_to_string(repo().join("gateway/gw.testbed.toml"))
        .unwrap()
        .replace("backend = \"af_xdp\"", &format!("backend = \"{backend}\""))
        .replace("target/translators/", &format!("{}/", t.display()))
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        .replace("deadline_us = 2000", "deadline_us = 200000");
    let p = dir.join("gw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// What the DU emulator sends: 20 MHz at 30 kHz (51 PRBs), 2 antennas,
/// BFP 8-bit with udCompHdr, VLAN 5, DU port 1 (so the eAxC remap shows),
/// PRACH (section type 3) in every slot.
const GEN: &[&str] = &[
    "gen",
    "--prbs",
    "51",
    "--antennas",
    "2",
    "--comp",
    "bfp:8",
    "--mtu",
    "9000",
    "--vlan",
    "5",
    "--du-port",
    "1",
    "--prach",
    "--json",
];

/// The RU emulator: decodes as the RU does (2/6/4/4, BFP 12, udCompHdr
/// present) and checks IQ against the signal as BFP 8 carried it, which
/// the lossless 8 → 12 widening must keep exactly.
fn sink(tb: &Testbed, port: &str) -> Proc {
    let mut p = Proc::spawn(tb.fhgate(
        "ru",
        &[
            "sink",
            "--port",
            port,
            "--eaxc-bits",
            "2,6,4,4",
            "--dl-comp",
            "bfp:12",
            "--ul-comp",
            "bfp:12",
            "--comp-hdr",
            "present",
            "--signal-comp",
            "bfp:8",
            "--idle-timeout",
            "3",
            "--json",
        ],
    ));
    p.wait_for("sink receiving", Duration::from_secs(30));
    p
}

/// Port options for a deep receive ring: the sink (a debug build that
/// checks every PRB's IQ) shares two cores with the gateway and gen, and
/// must absorb the moments it is not scheduled.
fn deep_rx(backend: &str) -> &'static str {
    match backend {
        "af_xdp" => ",xdp_ring_size=8192,umem_frames=32768",
        _ => ",packet_blocks=256",
    }
}

fn gateway(tb: &Testbed, cfg: &Path) -> Proc {
    let mut p = Proc::spawn(tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap(), "--json"]));
    p.wait_for("running", Duration::from_secs(60));
    p
}

/// Runs the DU emulator to the end; returns its JSON summary.
fn gen(tb: &Testbed, port: &str, rate: &str, slots: &str) -> serde_json::Value {
    let mut args = GEN.to_vec();
    args.extend(["--port", port, "--rate", rate, "--slots", slots]);
    let o = tb.fhgate("du", &args).output().expect("gen runs");
    assert!(
        o.status.success(),
        "gen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("gen --json: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Every frame gen sent arrived at the sink, valid, in sequence, with the
/// RU's eAxC layout and the IQ exactly as BFP 8 carried it; returns the
/// sink's compression counts.
fn assert_all_arrived_translated(
    sent: &serde_json::Value,
    got: &serde_json::Value,
    log: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let frames = sent["frames"].as_u64().unwrap();
    assert!(frames > 0);
    assert_eq!(
        got["frames"], frames,
        "every frame arrives: sent {sent}\ngot {got}\n{log}"
    );
    assert_eq!(got["invalid"], 0, "{got}");
    assert_eq!(
        got["by_type"], sent["by_type"],
        "C1, C3 and U frames all arrive"
    );
    assert_eq!(
        (
            got["seq_gaps"].as_u64(),
            got["seq_reorders"].as_u64(),
            got["seq_duplicates"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{got}"
    );
    // eaxc_remap 4/4/4/4 → 2/6/4/4: DU port 1 now sits in the top two bits.
    for e in got["eaxc_ids"].as_array().unwrap() {
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
    let iq = &got["iq"];
    assert!(
        iq["prbs"].as_u64().unwrap() > 0 && iq["exact"] == true,
        "8 → 12 bit is lossless: {iq}"
    );
    got["compression"].as_object().unwrap().clone()
}

/// The gateway's own counters at exit: nothing malformed, nothing lost.
fn assert_gateway_clean(run: &serde_json::Value, sent_frames: u64) {
    assert!(run["malformed"].as_array().unwrap().is_empty(), "{run}");
    assert!(
        run["egress_errors"].as_object().unwrap().is_empty(),
        "{run}"
    );
    let flows = run["flows"].as_array().unwrap();
    let sum = |k: &str| flows.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        (sum("packets_in"), sum("packets_out")),
        (sent_frames, sent_frames),
        "{run}"
    );
}

fn end_to_end(backend: &str, name: &str) {
    let (tb, _serial) = Testbed::up(name);
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), backend);
    let rx = sink(&tb, &format!("{backend}:ru0{}", deep_rx(backend)));
    let gw = gateway(&tb, &cfg);
    let sent = gen(&tb, &format!("{backend}:du0"), "10000", "100");
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    assert!(st.success(), "sink: {got}\n{log}");
    let comp = assert_all_arrived_translated(&sent, &got, &log);
    assert_eq!(comp.keys().collect::<Vec<_>>(), vec!["bfp:12"], "{got}");
    assert_eq!(
        got["cplane_ud_comp_hdr"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["bfp:12"],
        "{got}"
    );
    gw.signal(libc::SIGINT);
    let (st, run, log) = gw.finish(Duration::from_secs(30));
    assert!(st.success(), "run: {log}");
    assert_gateway_clean(&run, sent["frames"].as_u64().unwrap());
}

#[test]
fn af_xdp_gateway_translates_every_frame_between_du_and_ru() {
    end_to_end("af_xdp", "x");
}

#[test]
fn af_packet_gateway_translates_every_frame_between_du_and_ru() {
    end_to_end("af_packet", "p");
}

/// The other direction: the RU emulator (`gen --side ru`, 2/6/4/4, BFP
/// 12) sends UL U-plane through the gateway's UL chain (bfp_width 12 -> 8,
/// eaxc_remap back to 4/4/4/4) to a DU-side sink, which checks every
/// frame, the DU's eAxC layout and the IQ. Narrowing is lossy, so the IQ
/// is checked against an EVM bound rather than for exactness.
#[test]
fn af_xdp_gateway_translates_ul_uplane_from_ru_to_du() {
    let (tb, _serial) = Testbed::up("l");
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_xdp");
    let mut rx = Proc::spawn(tb.fhgate(
        "du",
        &[
            "sink",
            "--port",
            &format!("af_xdp:du0{}", deep_rx("af_xdp")),
            "--eaxc-bits",
            "4,4,4,4",
            "--dl-comp",
            "bfp:8",
            "--ul-comp",
            "bfp:8",
            "--comp-hdr",
            "present",
            "--signal-comp",
            "bfp:12",
            "--max-evm",
            "2",
            "--idle-timeout",
            "3",
            "--json",
        ],
    ));
    rx.wait_for("sink receiving", Duration::from_secs(30));
    let gw = gateway(&tb, &cfg);
    let o = tb
        .fhgate(
            "ru",
            &[
                "gen",
                "--side",
                "ru",
                "--prbs",
                "51",
                "--antennas",
                "2",
                "--comp",
                "bfp:12",
                "--eaxc-bits",
                "2,6,4,4",
                "--du-port",
                "1",
                "--mtu",
                "9000",
                "--vlan",
                "5",
                "--json",
                "--port",
                "af_xdp:ru0",
                "--rate",
                "10000",
                "--slots",
                "100",
            ],
        )
        .output()
        .expect("gen runs");
    assert!(
        o.status.success(),
        "gen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    assert!(
        st.success(),
        "sink (EVM within 2 %, every frame valid): {got}\n{log}"
    );
    let frames = sent["frames"].as_u64().unwrap();
    assert!(frames > 0);
    assert_eq!(
        got["frames"], frames,
        "every frame arrives: sent {sent}\ngot {got}"
    );
    assert_eq!(got["invalid"], 0, "{got}");
    assert_eq!(
        (
            got["seq_gaps"].as_u64(),
            got["seq_reorders"].as_u64(),
            got["seq_duplicates"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{got}"
    );
    // Back in the DU's 4/4/4/4 layout: DU port 1 in the top four bits.
    for e in got["eaxc_ids"].as_array().unwrap() {
        assert_eq!(
            (
                e["du_port"].as_u64(),
                e["band_sector"].as_u64(),
                e["cc"].as_u64()
            ),
            (Some(1), Some(0), Some(0)),
            "{e}"
        );
        assert_eq!(e["id"].as_u64().unwrap() & 0xFFF0, 0x1000, "{e}");
    }
    assert_eq!(
        got["compression"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["bfp:8"],
        "{got}"
    );
    let iq = &got["iq"];
    assert!(iq["prbs"].as_u64().unwrap() > 0, "IQ checked: {iq}");
    assert!(
        iq["evm_pct"].as_f64().unwrap() < 2.0,
        "12 -> 8 bit keeps the signal: {iq}"
    );
    gw.signal(libc::SIGINT);
    let (st, run, log) = gw.finish(Duration::from_secs(30));
    assert!(st.success(), "run: {log}");
    assert_gateway_clean(&run, frames);
    let t = run["translators"].as_array().unwrap();
    let narrow = t
        .iter()
        .find(|t| t["chain"] == 2 && t["stage"] == 0)
        .unwrap();
    assert_eq!(
        narrow["counters"]["converted_sections"]
            .as_u64()
            .map(|n| n > 0),
        Some(true),
        "{narrow}"
    );
}

/// Reloads mid-stream (SIGHUP after editing the configuration): one that
/// would change the egress format (bfp_width's output 12 → 9 bits) is
/// refused, since the running egress cannot follow it; one that keeps the
/// format (rounding) is hot-swapped. Nothing is lost: every frame arrives
/// at 12 bits with the IQ exact.
#[test]
fn hot_swap_mid_stream_loses_no_frame() {
    let (tb, _serial) = Testbed::up("s");
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_xdp");
    let rx = sink(&tb, &format!("af_xdp:ru0{}", deep_rx("af_xdp")));
    let gw = gateway(&tb, &cfg);
    let pid = gw.child.as_ref().unwrap().id() as i32;
    let cfg2 = cfg.clone();
    let swapper = std::thread::spawn(move || {
        let original = std::fs::read_to_string(&cfg2).unwrap();
        let reload = |from: &str, to: &str| {
            std::fs::write(&cfg2, original.replacen(from, to, 1)).unwrap();
            // SAFETY: signalling the gateway process this test started.
            unsafe { libc::kill(pid, libc::SIGHUP) };
        };
        // 8 -> 9 changes the egress format the running egress decodes
        // with (and what the RU side says it takes): refused, the running
        // chain carries on.
        std::thread::sleep(Duration::from_millis(800));
        reload("config = { in_width = 8, out_width = 12 }", "config = { in_width = 8, out_width = 9 }");
        // The same format, rounded another way: swapped mid-stream.
        std::thread::sleep(Duration::from_millis(800));
        reload("config = { in_width = 8, out_width = 12 }", "config = { in_width = 8, out_width = 12, rounding = \"truncate\" }");
    });
    // About 3 s of traffic, so the swaps land in the middle; slow enough
    // that the sink (a debug build, checking every PRB's IQ) keeps up on
    // two cores while the gateway compiles the new module.
    let sent = gen(&tb, "af_xdp:du0", "3000", "290");
    swapper.join().unwrap();
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    gw.signal(libc::SIGINT);
    let (gw_st, run, gw_log) = gw.finish(Duration::from_secs(30));
    assert!(gw_log.contains("reload failed, still running the previous translators") && gw_log.contains("chain gives bfp:9"), "the 8 -> 9 reload is refused: {gw_log}");
    assert!(gw_log.contains("hot-swapped"), "the gateway swapped: {gw_log}");
    assert!(st.success(), "sink: {got}\n{log}");
    let comp = assert_all_arrived_translated(&sent, &got, &format!("{log}\n{gw_log}"));
    assert_eq!(comp.keys().collect::<Vec<_>>(), ["bfp:12"], "every frame at the running format: {comp:?}\n{gw_log}");
    assert!(gw_st.success(), "run: {gw_log}");
    assert_gateway_clean(&run, sent["frames"].as_u64().unwrap());
}

/// `fhgate ctl` operates the running gateway while gen → run → sink
/// stream: it loads a second bfp_width (8 → 12, rounding by truncation:
/// widening is lossless either way), swaps the DL chain's first stage to
/// it, rolls back, changes its config and swaps again, rolls back again.
/// The sink gets every frame, in sequence, at 12 bits with the IQ exact.
#[test]
fn ctl_swaps_and_rolls_back_mid_stream_and_loses_no_frame() {
    let (tb, _serial) = Testbed::up("c");
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_xdp");
    let sock = dir.path().join("ctl.sock");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[control]\nlisten = \"unix:{}\"\n", sock.display())).unwrap();
    let rx = sink(&tb, &format!("af_xdp:ru0{}", deep_rx("af_xdp")));
    let gw = gateway(&tb, &cfg);
    let wasm = translators().join("bfp_width.wasm");
    let operator = std::thread::spawn(move || {
        let connect = format!("unix:{}", sock.display());
        let ctl = |args: &[&str]| {
            let mut a = vec!["ctl", "--connect", connect.as_str()];
            a.extend_from_slice(args);
            let o = Command::new(fhgate()).args(&a).output().expect("fhgate ctl runs");
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            assert!(o.status.success(), "ctl {args:?}: {out}{}", String::from_utf8_lossy(&o.stderr));
            out
        };
        std::thread::sleep(Duration::from_millis(600));
        let mut log = vec![ctl(&["load", "trunc", wasm.to_str().unwrap(), "--config", "in_width=8,out_width=12,rounding=\"truncate\"", "--deadline-us", "200000"])];
        for step in [
            &["swap", "0", "0", "trunc"][..],
            &["rollback", "0", "0"],
            &["config", "trunc", "in_width=8,out_width=12"],
            &["swap", "0", "0", "trunc"],
            &["rollback", "0", "0"],
        ] {
            std::thread::sleep(Duration::from_millis(300));
            log.push(ctl(step));
        }
        log.push(ctl(&["--json", "status"]));
        log
    });
    // About 3 s of traffic, as hot_swap_mid_stream_loses_no_frame.
    let sent = gen(&tb, "af_xdp:du0", "3000", "290");
    let log = operator.join().unwrap();
    let (st, got, sink_log) = rx.finish(Duration::from_secs(60));
    gw.signal(libc::SIGINT);
    let (gw_st, run, gw_log) = gw.finish(Duration::from_secs(30));
    // Two swaps and two rollbacks; the config change made trunc v2 while
    // trunc ran nowhere (rolled back), so it cut nothing over.
    let cuts: Vec<&str> = log.iter().filter(|l| l.starts_with("chain 0 stage 0: ")).map(|l| l["chain 0 stage 0: ".len()..].split(',').next().unwrap()).collect();
    assert_eq!(cuts, ["trunc v1", "widen v1", "trunc v2", "widen v1"], "{log:?}");
    assert_eq!(log[3], "trunc v2\n", "{log:?}");
    // The changes landed mid-stream: the DL chain's first stage (fresh
    // since the last rollback) ran fewer bursts than its second, which ran
    // them all, and more than none.
    let status: serde_json::Value = serde_json::from_str(log.last().unwrap()).unwrap();
    let stages = &status["chains"][0]["stages"];
    let calls = |i: usize| stages[i]["counters"]["calls"].as_u64().unwrap();
    assert_eq!((stages[0]["translator"].as_str(), stages[0]["rollbacks_available"].as_u64()), (Some("widen"), Some(0)), "{status}");
    assert!(calls(0) > 0 && calls(0) < calls(1), "stage 0 ran {} bursts since the last rollback, stage 1 {}: {status}", calls(0), calls(1));
    assert_eq!(stages[0]["workers_agree"], true, "{status}");
    assert!(st.success(), "sink: {got}\n{sink_log}");
    let comp = assert_all_arrived_translated(&sent, &got, &format!("{sink_log}\n{gw_log}"));
    assert_eq!(comp.keys().collect::<Vec<_>>(), ["bfp:12"], "{comp:?}");
    assert!(gw_st.success(), "run: {gw_log}");
    assert_gateway_clean(&run, sent["frames"].as_u64().unwrap());
}

/// eCPRI over UDP end to end: gen sends datagrams from du to the
/// gateway's DU-side socket, the gateway translates and sends datagrams on
/// to the sink's socket in ru (the addresses scripts/testbed assigns).
#[test]
fn udp_gateway_translates_every_datagram_between_du_and_ru() {
    let (tb, _serial) = Testbed::up("u");
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(dir.path(), "af_xdp");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "backend = \"af_xdp\"\ninterface = \"gw-du\"",
            "backend = \"udp\"\nbind = \"10.77.1.2:5000\"\npeer = \"10.77.1.1:5000\"",
        )
        .replace(
            "backend = \"af_xdp\"\ninterface = \"gw-ru\"",
            "backend = \"udp\"\nbind = \"10.77.2.2:5000\"\npeer = \"10.77.2.1:5000\"",
        );
    assert_eq!(text.matches("backend = \"udp\"").count(), 2);
    std::fs::write(&cfg, text).unwrap();
    let rx = sink(&tb, "udp:10.77.2.1:5000,10.77.2.2:5000");
    let gw = gateway(&tb, &cfg);
    let sent = gen(&tb, "udp:10.77.1.1:5000,10.77.1.2:5000", "10000", "100");
    let (st, got, log) = rx.finish(Duration::from_secs(60));
    assert!(st.success(), "sink: {got}\n{log}");
    assert_all_arrived_translated(&sent, &got, &log);
    gw.signal(libc::SIGINT);
    let (st, run, log) = gw.finish(Duration::from_secs(30));
    assert!(st.success(), "run: {log}");
    assert_gateway_clean(&run, sent["frames"].as_u64().unwrap());
}

/// Without the capabilities a live port needs, the error says which is
/// missing and what to do, and nothing is left attached.
#[test]
fn live_ports_name_the_missing_capability() {
    let (tb, _serial) = Testbed::up("c");
    for port in ["af_xdp:du0", "af_packet:du0"] {
        // setpriv drops to nobody with no capabilities, inside namespace du.
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &tb.ns("du"),
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .args([
                fhgate(),
                "gen",
                "--port",
                port,
                "--slots",
                "1",
                "--prbs",
                "51",
                "--antennas",
                "1",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{port}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains("lacks") && e.contains("CAP_NET_RAW") && e.contains("run fhgate as root"),
            "{port}: {e}"
        );
    }
    let link = Command::new("ip")
        .args(["-n", &tb.ns("du"), "link", "show", "du0"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "no program left attached"
    );
}
