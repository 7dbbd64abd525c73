//! `fhgate bench` across two processes: `--role tx` in the testbed's du
//! namespace and `--role rx` in ru, each an `fhgate bench` of its own
//! talking over a control network (a veth pair between du and ru, as a
//! site's management network), around `fhgate run` in gw.
//!
//! Both processes run on this one host, so their CLOCK_REALTIMEs are the
//! same clock: "PTP-synced" trivially. The test checks that the report
//! says which clocks it used, records the PTP offsets given and the
//! control channel's own estimate of the clocks' offset (about 0 here,
//! within half its round trip), and that a peer which is unreachable,
//! never starts, sends other traffic or dies mid-run is a clear error in
//! bounded time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;
#[path = "support/bench.rs"]
mod kit;
use kit::{bench, bench_in, check_iq_exact, check_queues, check_run, dut_config, multiqueue, strs, trials, FAST};
use live::{Proc, Testbed};

/// A control network between du and ru: ctl-du 10.78.0.1 in du, ctl-ru 10.78.0.2 in ru.
fn control_network(tb: &Testbed) {
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("the ip tool");
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let (du, ru) = (tb.ns("du"), tb.ns("ru"));
    ip(&["-n", &du, "link", "add", "ctl-du", "type", "veth", "peer", "name", "ctl-ru", "netns", &ru]);
    ip(&["-n", &du, "addr", "add", "10.78.0.1/30", "dev", "ctl-du"]);
    ip(&["-n", &ru, "addr", "add", "10.78.0.2/30", "dev", "ctl-ru"]);
    ip(&["-n", &du, "link", "set", "ctl-du", "up"]);
    ip(&["-n", &ru, "link", "set", "ctl-ru", "up"]);
}

/// `fhgate bench --role tx ARGS` in namespace `ns` (or here), in the background.
fn tx_side(tb: Option<&Testbed>, args: &[&str]) -> Proc {
    let mut a = vec!["bench", "--role", "tx"];
    a.extend(args);
    let c = match tb {
        Some(tb) => tb.fhgate("du", &a),
        None => {
            let mut c = Command::new(live::fhgate());
            c.args(&a);
            c
        }
    };
    Proc::spawn(c)
}

/// The traffic and trial flags of [`FAST`] that are not in `except`.
fn fast(except: &[&str]) -> Vec<String> {
    FAST.chunks(2).filter(|kv| !except.contains(&kv[0])).flatten().map(|s| s.to_string()).collect()
}

#[test]
fn tx_and_rx_as_two_processes_find_a_zero_loss_rate_and_say_which_clocks() {
    let (tb, _serial) = Testbed::up("h");
    control_network(&tb);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dut_config(dir.path(), "af_xdp", 9, "", "", &[]);
    let mut tx = tx_side(Some(&tb), &["--tx", "af_xdp:du0", "--control", "10.78.0.1:7878", "--ptp-offset", "-15", "--preset", "2t2r-20mhz-bfp9"]);
    tx.wait_for("listening on 10.78.0.1:7878", Duration::from_secs(30));
    let mut args = strs(&["--role", "rx", "--rx", "af_xdp:ru0", "--peer", "10.78.0.1:7878", "--ptp-offset", "40", "--sweep", "50,100"]);
    args.extend(strs(&["--dut-config", &cfg.display().to_string(), "--dut-netns", &tb.ns("gw")]));
    args.extend(fast(&[]));
    let json = dir.path().join("r.json");
    let (code, r, err) = bench_in(&tb.ns("ru"), &args, Some(&json), Duration::from_secs(120));
    let (st, _, tx_err) = tx.finish(Duration::from_secs(20));
    assert_eq!(code, 0, "rx side: {err}\ntx side: {tx_err}");
    assert!(st.success(), "the tx side ends cleanly when the rx side says bye: {tx_err}");
    assert!(tx_err.contains("tx side done"), "{tx_err}");
    check_run(&r);
    let found = r["throughput"]["found_fps"].as_f64().unwrap();
    assert!(found > 0.0, "a zero-loss rate above 0: {err}");
    // The clocks, as the report states them.
    let host = &r["host"];
    assert_eq!(host["clock"], "PTP-synced clocks across hosts", "{host}");
    let ts = host["timestamping"].as_str().unwrap();
    assert!(ts.contains("tx host's clock") && ts.contains("rx host's clock") && ts.contains("software"), "{ts}");
    let off = &host["clock_offset"];
    assert_eq!(off["tx_ptp_offset_ns"], -15.0, "{off}");
    assert_eq!(off["rx_ptp_offset_ns"], 40.0, "{off}");
    let (est, rtt) = (off["control_estimate_ns"].as_f64().unwrap(), off["control_rtt_ns"].as_f64().unwrap());
    // One host, one clock: the estimate is 0 to within half the round trip.
    assert!(rtt > 0.0 && est.abs() <= rtt / 2.0 + 1_000.0, "same clock: estimate {est} ns, round trip {rtt} ns");
    assert!(r["warnings"].to_string().contains("includes their offset"), "{}", r["warnings"]);
    assert!(r["settings"]["tx"].as_str().unwrap().contains("af_xdp:du0"), "{}", r["settings"]);
    assert!(host["tx_nic"].as_str().unwrap().contains("veth"), "the tx side names its NIC: {host}");
    for t in trials(&r) {
        assert_eq!(t["before_sent"], 0, "one clock: nothing arrives before it was sent: {t}");
    }
    // Latency is measured, and the IQ checked on the rx side is exact.
    let s = &r["sweep"][0];
    assert!(s["latency"]["p50_ns"].as_f64().unwrap() > 0.0, "{s}");
    let u: Vec<&Value> = s["flows"].as_array().unwrap().iter().filter(|f| f["flow"].as_str().unwrap().starts_with('U')).collect();
    assert!(!u.is_empty());
    for f in u {
        assert!(f["iq"]["prbs"].as_u64().unwrap() > 0 && f["iq"]["exact"] == true, "{f}");
    }
}

/// The two roles on four-queue ports through a four-queue gateway: the
/// tx side steers each eAxC to its queue, the rx side reads all four, and
/// the report has the tx side's queues from its welcome.
#[test]
fn tx_and_rx_roles_on_four_queue_ports_find_a_zero_loss_rate() {
    let (tb, _serial) = Testbed::up_queues("hq", 4);
    control_network(&tb);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dut_config(dir.path(), "af_xdp", 9, "", "", &[]);
    multiqueue(&cfg, 4);
    let mut tx = tx_side(Some(&tb), &["--tx", "af_xdp:du0,queues=0-3", "--control", "10.78.0.1:7878", "--preset", "2t2r-20mhz-bfp9", "--antennas", "4"]);
    tx.wait_for("listening on 10.78.0.1:7878", Duration::from_secs(30));
    let mut args = strs(&["--role", "rx", "--rx", "af_xdp:ru0,queues=0-3", "--peer", "10.78.0.1:7878", "--antennas", "4", "--sweep", "100"]);
    args.extend(strs(&["--dut-config", &cfg.display().to_string(), "--dut-netns", &tb.ns("gw")]));
    args.extend(fast(&[]));
    let (code, r, err) = bench_in(&tb.ns("ru"), &args, Some(&dir.path().join("r.json")), Duration::from_secs(120));
    let (st, _, tx_err) = tx.finish(Duration::from_secs(20));
    assert_eq!(code, 0, "rx side: {err}\ntx side: {tx_err}");
    assert!(st.success(), "{tx_err}");
    check_run(&r);
    assert!(r["throughput"]["found_fps"].as_f64().unwrap() > 0.0, "a zero-loss rate above 0: {err}");
    check_iq_exact(&r);
    check_queues(&r, 4);
}

#[test]
fn a_peer_unreachable_never_started_mismatched_or_dying_is_a_clear_error_in_bounded_time() {
    let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let quick = |extra: &[&str]| {
        let mut a = strs(extra);
        a.extend(strs(&["--peer-timeout", "2"]));
        a.extend(fast(extra));
        a
    };
    // rx, no tx side at --peer.
    let addr = port();
    let t = Instant::now();
    let (code, _, err) = bench(&quick(&["--role", "rx", "--rx", "af_packet:lo", "--peer", &addr]), None, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--peer") && err.contains(&addr) && err.contains("no tx side answered"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "bounded: {:?}", t.elapsed());
    // tx, no rx side ever connects.
    let addr = port();
    let t = Instant::now();
    let (code, _, err) = bench(&quick(&["--role", "tx", "--tx", "af_packet:lo", "--control", &addr]), None, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--control") && err.contains("no rx side connected"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "bounded: {:?}", t.elapsed());
    // Flags that do not fit the role.
    let (code, _, err) = bench(&strs(&["--role", "rx", "--rx", "af_packet:lo"]), None, Duration::from_secs(30));
    assert_eq!(code, 2);
    assert!(err.contains("--peer is needed"), "{err}");
    // The two sides generate other traffic: both refuse, naming what differs.
    let addr = port();
    let mut tx = tx_side(None, &["--tx", "af_packet:lo", "--control", &addr, "--peer-timeout", "10", "--preset", "2t2r-20mhz-bfp8"]);
    tx.wait_for("listening", Duration::from_secs(20));
    let (code, _, err) = bench(&quick(&["--role", "rx", "--rx", "af_packet:lo", "--peer", &addr]), None, Duration::from_secs(30));
    let (st, _, tx_err) = tx.finish(Duration::from_secs(10));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("disagree on the carrier") && err.contains("bfp:8") && err.contains("bfp:9"), "{err}");
    assert!(!st.success() && tx_err.contains("disagree on the carrier"), "{tx_err}");
    // The tx side dies during the run: the rx side says so, in bounded
    // time, and still writes what it measured.
    let addr = port();
    let mut tx = tx_side(None, &["--tx", "af_packet:lo", "--control", &addr, "--preset", "2t2r-20mhz-bfp9"]);
    tx.wait_for("listening", Duration::from_secs(20));
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let rx_args = quick(&["--role", "rx", "--rx", "af_packet:lo", "--peer", &addr, "--trial", "2", "--warmup", "0.5"]);
    let rx = std::thread::spawn({
        let json = json.clone();
        move || bench(&rx_args, Some(&json), Duration::from_secs(60))
    });
    tx.wait_for("rx side", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(800));
    tx.signal(libc::SIGKILL);
    let t = Instant::now();
    let (code, r, err) = rx.join().unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("control channel") && (err.contains("closed") || err.contains("stopped answering")), "{err}");
    assert!(t.elapsed() < Duration::from_secs(30), "bounded: {:?}", t.elapsed());
    assert!(r["warnings"].to_string().contains("stopped early"), "the run is written with why it stopped: {}", r["warnings"]);
    let _ = Path::new(&json);
}
