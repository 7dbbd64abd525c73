//! `fhgate bench` on the namespace testbed (scripts/testbed): bench sends
//! from du0 (namespace du) and receives on ru0 (namespace ru) around a
//! device in gw — `fhgate run` started by bench itself (pass-through, BFP
//! 9 → 12, a translator dropping every 1000th packet), a reordering
//! forwarder written here, or nothing at all. Trials are short (0.3–1 s)
//! and the resolution coarse (10 %), so the file runs in well under two
//! minutes; every run is bounded by a timeout, so a hang fails the test.
//! Independent checks: the device's own counters (`run --json`), the
//! translator's drop counter, and the report rendered by Chromium.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;
#[path = "support/bench.rs"]
mod kit;
use cli::{repo, translators};
use kit::{around, bench, check_iq_exact, check_queues, check_run, dut_config, multiqueue, strs, trials};
use live::Testbed;

fn percents(r: &Value) -> Vec<f64> {
    r["sweep"].as_array().unwrap().iter().map(|t| t["percent"].as_f64().unwrap()).collect()
}

#[test]
fn af_xdp_pass_through_found_rate_is_confirmed_and_the_report_renders() {
    let (tb, _serial) = Testbed::up("x");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dut_config(dir.path(), "af_xdp", 9, "", "", &[]);
    let mut args = around(&tb, "af_xdp", Some(&cfg), &["--sweep", "10,50,90,100", "--confirm", "1"]);
    let report = repo().join("target/bench-report");
    args.extend(["--report".into(), report.display().to_string()]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(90));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    let found = r["throughput"]["found_fps"].as_f64().unwrap();
    assert!(found > 0.0, "a zero-loss rate above 0: {err}");
    // Plausibility: a longer trial at the found rate (or one resolution
    // step below it) loses nothing.
    let res = r["settings"]["resolution_fps"].as_f64().unwrap();
    let c = &r["throughput"]["confirmation"];
    assert_eq!(c["pass"], true, "the confirmation lost frames even stepped down: {c}");
    assert_eq!(c["lost"], 0);
    assert!(found - c["target_fps"].as_f64().unwrap() <= res + 1e-6, "confirmed within one resolution step ({res}) of {found}: {c}");
    assert!(c["seconds"].as_f64().unwrap() >= 0.9, "the confirmation is the longer trial");
    assert_eq!(percents(&r), [10.0, 50.0, 90.0, 100.0]);
    for t in r["sweep"].as_array().unwrap() {
        for f in t["flows"].as_array().unwrap().iter().filter(|f| f["flow"].as_str().unwrap().starts_with('U')) {
            if f["received"].as_u64().unwrap() >= 16 {
                assert_eq!(f["iq"]["exact"], true, "pass-through keeps the IQ: {f}");
            }
        }
    }
    assert!(r["host"]["tx_nic"].as_str().unwrap().contains("veth"), "ethtool names the driver: {}", r["host"]["tx_nic"]);
    render_and_check(&report.join("index.html"), &r);
}

/// Four queues on du0, ru0 and the gateway's ports: bench steers each
/// eAxC (four antennas) to TX queue eAxC mod 4 and reads all four RX
/// queues, counting drops over every queue.
#[test]
fn af_xdp_four_queue_ports_through_a_four_queue_gateway_find_a_zero_loss_rate() {
    let (tb, _serial) = Testbed::up_queues("q", 4);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dut_config(dir.path(), "af_xdp", 9, "", "", &[]);
    multiqueue(&cfg, 4);
    let mut args = around(&tb, "af_xdp", Some(&cfg), &["--antennas", "4", "--sweep", "50,100"]);
    for a in args.iter_mut().filter(|a| a.starts_with("af_xdp:")) {
        a.push_str(",queues=0-3");
    }
    let html = dir.path().join("report.html");
    args.extend(["--report".into(), html.display().to_string()]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(120));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    assert!(r["throughput"]["found_fps"].as_f64().unwrap() > 0.0, "a zero-loss rate above 0: {err}");
    check_iq_exact(&r);
    check_queues(&r, 4);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches(", 4 queues").count(), 2, "the HTML report names both ports' queues");
}

#[test]
fn af_packet_pass_through_finds_a_zero_loss_rate() {
    let (tb, _serial) = Testbed::up("p");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dut_config(dir.path(), "af_packet", 9, "", "", &[]);
    let args = around(&tb, "af_packet", Some(&cfg), &["--sweep", "50,100"]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    assert!(r["throughput"]["found_fps"].as_f64().unwrap() > 0.0, "{err}");
    assert!(r["host"]["timestamping"].as_str().unwrap().contains("kernel's software timestamp"));
    assert_eq!(percents(&r), [50.0, 100.0]);
    // compare: the run against itself shows its own figures, unchanged.
    let j = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_fhgate")).arg("bench").arg("compare").arg(&j).arg(&j).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found = format!("{:.0}", r["throughput"]["found_fps"].as_f64().unwrap());
    let line = text.lines().find(|l| l.starts_with("throughput (frames/s)")).expect("a throughput line");
    assert_eq!(line.split_whitespace().collect::<Vec<_>>()[2..5], [found.as_str(), found.as_str(), "+0.0"], "{text}");
    assert!(text.contains("at 50 % of each run's rate") && text.contains("at 100 % of each run's rate"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_fhgate")).args(["bench", "compare", "no-such.json"]).arg(&j).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.json"));
}

#[test]
fn bfp_width_9_to_12_is_measured_with_the_ru_side_decode() {
    translators();
    let (tb, _serial) = Testbed::up("w");
    let dir = tempfile::tempdir().unwrap();
    let widen = "[[translator]]\nname = \"widen\"\npath = \"target/translators/bfp_width.wasm\"\nconfig = { in_width = 9, out_width = 12 }\ndeadline_us = 200000\n";
    let cfg = dut_config(dir.path(), "af_xdp", 12, widen, "dir=dl", &["widen"]);
    let args = around(&tb, "af_xdp", Some(&cfg), &["--sweep", "50", "--rx-comp", "bfp:12", "--iq-every", "4"]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    assert!(r["throughput"]["found_fps"].as_f64().unwrap() > 0.0, "{err}");
    // Widening 9 -> 12 is lossless: the IQ the RU decodes at 12 bits is
    // exactly what gen sent at 9.
    let t = &r["sweep"][0];
    let u: Vec<&Value> = t["flows"].as_array().unwrap().iter().filter(|f| f["flow"].as_str().unwrap().starts_with('U')).collect();
    assert_eq!(u.len(), 2);
    for f in u {
        assert!(f["iq"]["prbs"].as_u64().unwrap() > 0, "{f}");
        assert_eq!(f["iq"]["exact"], true, "{f}");
    }
    // The device really widened every frame (its own counters).
    let w = &r["dut"]["translators"][0];
    assert_eq!(w["name"], "bfp_width", "{}", r["dut"]);
    assert!(w["packets"]["in"].as_u64().unwrap() > 0 && w["packets"]["modified"] == w["packets"]["in"], "{w}");
    assert!(w["counters"]["converted_sections"].as_u64().unwrap() > 0, "{w}");
}

/// The integrator's loop with bench: the DU's profile (static BFP 9,
/// eAxC 4,4,4,4, untagged) and the RU's (BFP 12 both ways with udCompHdr,
/// 2,6,4,4, VLAN 5), `fhgate plan` writes the gateway, and `fhgate bench --profile
/// du.toml --rx-profile ru.toml` measures it with the DU's traffic read as
/// the RU reads it: a zero-loss rate, IQ exact (9 -> 12 widens), and the
/// device ran every frame through its whole derived chain. A profile with
/// a bad value is refused up front, naming the file and the key.
#[test]
fn bench_drives_the_du_profile_through_a_planned_gateway_read_as_the_ru_profile() {
    translators();
    let dir = tempfile::tempdir().unwrap();
    let (du, ru, bad) = (dir.path().join("du.toml"), dir.path().join("ru.toml"), dir.path().join("bad.toml"));
    std::fs::write(&du, "numerology = 1\ncarrier_prbs = 51\ndl_comp = \"bfp:9\"\nul_comp = \"bfp:9\"\ncomp_hdr = \"absent\"\neaxc_bits = \"4,4,4,4\"\nmtu = 9000\n").unwrap();
    // The RU at 12 bits both ways: a DL step that widens the C-plane's
    // udCompHdr tells the RU 12 for UL too (plan refuses an RU at 9 for UL).
    std::fs::write(&ru, "numerology = 1\ncarrier_prbs = 51\ndl_comp = \"bfp:12\"\nul_comp = \"bfp:12\"\ncomp_hdr = \"present\"\neaxc_bits = \"2,6,4,4\"\nvlan = 5\nmtu = 9000\n").unwrap();
    std::fs::write(&bad, "dl_comp = \"bfp:99\"\n").unwrap();
    let (code, _, err) = bench(&strs(&["--tx", "af_packet:lo", "--rx", "af_packet:lo", "--profile", bad.to_str().unwrap()]), None, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml") && err.contains("dl_comp"), "names the file and the key: {err}");
    // The gateway as plan writes it, its capture ports made the testbed's.
    let planned = dir.path().join("planned.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_fhgate"))
        .args(["plan", "--du", du.to_str().unwrap(), "--ru", ru.to_str().unwrap(), "-o", planned.to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&planned).unwrap();
    let port = |iface: &str| format!("backend = \"af_packet\"\ninterface = \"{iface}\"\npacket_blocks = 16");
    // A debug-build device on a loaded machine needs the long deadline the
    // other tests give (plan's default tripped once at load 18).
    let text = text
        .replace("backend = \"pcap\"\ninput = \"du.pcap\"", &port("gw-du"))
        .replace("backend = \"pcap\"\noutput = \"ru.pcap\"", &port("gw-ru"))
        .replace("[[translator]]\n", "[[translator]]\ndeadline_us = 200000\n");
    assert!(!text.contains("\"pcap\"") && text.contains("gw-du") && text.contains("gw-ru"), "both ports replaced in:\n{text}");
    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, text + "\n[pipeline]\nworkers = 1\nburst = 32\nring_size = 1024\n").unwrap();
    let (tb, _serial) = Testbed::up("f");
    let args = around(&tb, "af_packet", Some(&cfg), &["--profile", du.to_str().unwrap(), "--rx-profile", ru.to_str().unwrap(), "--sweep", "50", "--iq-every", "4"]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(90));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    assert!(r["throughput"]["found_fps"].as_f64().unwrap() > 0.0, "{err}");
    assert_eq!(r["settings"]["traffic"], format!("profile {}", du.display()));
    let t = &r["sweep"][0];
    let u: Vec<&Value> = t["flows"].as_array().unwrap().iter().filter(|f| f["flow"].as_str().unwrap().starts_with('U')).collect();
    assert_eq!(u.len(), 2, "{t}");
    for f in u {
        assert!(f["iq"]["prbs"].as_u64().unwrap() > 0, "{f}");
        assert_eq!(f["iq"]["exact"], true, "BFP 9 static in, BFP 12 with udCompHdr out, read under the RU's profile: {f}");
        assert_eq!((f["lost"].as_u64(), f["malformed"].as_u64()), (Some(0), Some(0)), "{f}");
    }
    // The DL chain (chain 0) is the four translators plan chose, and every
    // DL frame went through each of them.
    let dl: Vec<&Value> = r["dut"]["translators"].as_array().unwrap().iter().filter(|t| t["chain"] == 0).collect();
    let names: Vec<&str> = dl.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["comphdr_static", "bfp_width", "eaxc_remap", "vlan_retag"], "{}", r["dut"]);
    for t in &dl {
        assert!(t["packets"]["in"].as_u64().unwrap() > 0, "{t}");
        assert_eq!(t["faults"]["total"], 0, "{t}");
    }
    // comphdr_static takes the U-plane (one section a frame here), and
    // bfp_width widened every one of those sections.
    let u_frames = dl[0]["packets"]["modified"].as_u64().unwrap();
    assert_eq!(dl[0]["packets"]["in"].as_u64(), Some(u_frames), "{}", dl[0]);
    assert_eq!(dl[1]["counters"]["converted_sections"].as_u64(), Some(u_frames), "{}", dl[1]);
}

#[test]
fn a_device_dropping_every_1000th_frame_is_lossy_at_every_rate_with_the_right_ratio() {
    translators();
    let (tb, _serial) = Testbed::up("d");
    let dir = tempfile::tempdir().unwrap();
    let drop = "[[translator]]\nname = \"faulty\"\npath = \"target/translators/drop_nth.wasm\"\nconfig = { every = 1000 }\ndeadline_us = 200000\n";
    let cfg = dut_config(dir.path(), "af_xdp", 9, drop, "", &["faulty"]);
    // 0.5 % tolerated, so that the search finds a rate and the sweep runs.
    // The sweep stays at low rates, where a debug-build device on a
    // loaded machine loses nothing of its own, and trials are long enough
    // (1 s) for 1000 frames.
    let args = around(&tb, "af_xdp", Some(&cfg), &["--trial", "1", "--drain", "1", "--loss-tolerance", "0.5", "--sweep", "15,30"]);
    let (code, r, err) = bench(&args, Some(&dir.path().join("r.json")), Duration::from_secs(90));
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    for t in trials(&r) {
        // Any 1000 frames in a row hold one the device drops.
        let (sent, lost) = (t["sent"].as_u64().unwrap(), t["lost"].as_u64().unwrap());
        assert!(lost >= (sent / 1000).max(1), "lossy at every rate: {t}");
    }
    // Below the device's own limit the frames that never came are the
    // translator's: one in 1000 (frames a stall made arrive after the
    // drain time are lost to RFC 2544 but counted apart as late).
    for t in r["sweep"].as_array().unwrap() {
        let sent = t["sent"].as_u64().unwrap() as f64;
        let lost = t["lost"].as_u64().unwrap().saturating_sub(t["late"].as_u64().unwrap()) as f64;
        assert!((lost - sent / 1000.0).abs() <= 2.0, "{lost} lost of {sent} at {}: expected about {}", t["percent"], sent / 1000.0);
    }
    // The translator's own count is every 1000th of what it was given.
    let t = r["dut"]["translators"].as_array().unwrap().iter().find(|t| t["name"] == "drop_nth").unwrap().clone();
    let (given, dropped) = (t["packets"]["in"].as_u64().unwrap(), t["packets"]["dropped"].as_u64().unwrap());
    assert_eq!(dropped, given / 1000, "{t}");
    assert!(given >= r["dut"]["frames_in"].as_u64().unwrap() * 99 / 100, "the chain takes every frame: {t}");
}

#[test]
fn bad_input_gives_a_clear_error_or_result_and_never_hangs() {
    let (tb, _serial) = Testbed::up("e");
    let dir = tempfile::tempdir().unwrap();
    // An interface that is not there.
    let mut a = around(&tb, "af_xdp", None, &[]);
    a[1] = "af_xdp:nope0".into();
    let t = Instant::now();
    let (code, _, err) = bench(&a, None, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tx") && err.contains("nope0"), "names the flag and the interface: {err}");
    assert!(t.elapsed() < Duration::from_secs(15));
    // A namespace that is not there.
    let mut a = around(&tb, "af_xdp", None, &[]);
    a[3] = "no-such-ns".into();
    let (code, _, err) = bench(&a, None, Duration::from_secs(30));
    assert_eq!(code, 2);
    assert!(err.contains("no-such-ns") && err.contains("ip netns add"), "{err}");
    // Nothing forwards du -> ru: rx sees nothing. A result, bounded in time.
    let json = dir.path().join("nothing.json");
    let a = around(&tb, "af_xdp", None, &["--sweep", "50"]);
    let t = Instant::now();
    let (code, r, err) = bench(&a, Some(&json), Duration::from_secs(45));
    assert_eq!(code, 2, "nothing measured is exit 2: {err}");
    assert!(t.elapsed() < Duration::from_secs(30), "every trial is bounded: {:?}", t.elapsed());
    assert_eq!(r["throughput"]["found_fps"], 0.0);
    assert!(r["warnings"].to_string().contains("received none"), "{}", r["warnings"]);
    assert!(err.contains("received none"), "{err}");
    assert!(r["sweep"].as_array().unwrap().is_empty(), "nothing to sweep");
}

#[test]
fn a_reordering_device_is_reported_as_reordering() {
    let (tb, _serial) = Testbed::up("r");
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = reordering_forwarder(&tb.ns("gw"), "gw-du", "gw-ru", stop.clone());
    let a = around(&tb, "af_packet", None, &["--sweep", "50"]);
    let (code, r, err) = bench(&a, Some(&dir.path().join("r.json")), Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    let forwarded = fwd.join().unwrap();
    assert_eq!(code, 0, "{err}");
    check_run(&r);
    assert!(forwarded > 0);
    let reordered: u64 = trials(&r).iter().map(|t| t["reordered"].as_u64().unwrap()).sum();
    assert!(reordered > 0, "the device holds back every 10th frame: {err}");
    assert!(r["warnings"].to_string().contains("out of order"), "{}", r["warnings"]);
}

/// A device written here: forwards every frame from `from` to `to` in
/// namespace `ns` over raw AF_PACKET sockets, holding back every 10th
/// frame until 4 more have passed (or 20 ms), so it lands behind a later
/// frame of its own flow. Returns the frames forwarded.
fn reordering_forwarder(ns: &str, from: &'static str, to: &'static str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("the testbed's gw namespace");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: plain system calls on sockets this thread owns; buffers outlive them.
        unsafe {
            assert_eq!(libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns");
            let sock = |name: &str| {
                let s = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, (libc::ETH_P_ALL as u16).to_be() as i32);
                assert!(s >= 0);
                let c = std::ffi::CString::new(name).unwrap();
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
                sll.sll_ifindex = libc::if_nametoindex(c.as_ptr()) as i32;
                assert!(sll.sll_ifindex > 0, "{name}");
                assert_eq!(libc::bind(s, (&sll as *const libc::sockaddr_ll).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32), 0);
                s
            };
            let (rx, tx) = (sock(from), sock(to));
            let tv = libc::timeval { tv_sec: 0, tv_usec: 20_000 };
            libc::setsockopt(rx, libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&tv as *const libc::timeval).cast(), std::mem::size_of::<libc::timeval>() as u32);
            let mut held: Option<(Vec<u8>, u32)> = None;
            let mut buf = vec![0u8; 10_000];
            let (mut seen, mut n_fwd) = (0u64, 0u64);
            let send = |b: &[u8]| libc::send(tx, b.as_ptr().cast(), b.len(), 0);
            while !stop.load(Ordering::Relaxed) {
                let n = libc::recv(rx, buf.as_mut_ptr().cast(), buf.len(), 0);
                if n <= 0 {
                    if let Some((h, _)) = held.take() {
                        send(&h);
                        n_fwd += 1;
                    }
                    continue;
                }
                let frame = &buf[..n as usize];
                if frame.len() < 14 || frame[12..14] != [0xAE, 0xFE] {
                    continue;
                }
                seen += 1;
                if held.is_none() && seen % 10 == 0 {
                    held = Some((frame.to_vec(), 4));
                    continue;
                }
                send(frame);
                n_fwd += 1;
                if let Some((h, left)) = held.as_mut() {
                    *left -= 1;
                    if *left == 0 {
                        send(h);
                        n_fwd += 1;
                        held = None;
                    }
                }
            }
            libc::close(rx);
            libc::close(tx);
            n_fwd
        }
    })
}

/// Opens the report in headless Chromium: the DOM must hold the plots
/// with their data (one point per sweep trial on the loss plot, a CDF
/// line per rate, a histogram per rate), and a screenshot is taken
/// (target/bench-report/screenshot.png; the README's copy is docs/bench-report.png).
fn render_and_check(html: &Path, r: &Value) {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    let chromium = chromium.expect("headless Chromium is needed to check the report: scripts/setup installs the Debian package `chromium`");
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        let out = Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("chromium runs");
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom".into()]);
    let sweep = r["sweep"].as_array().unwrap();
    let section = |id: &str| {
        let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("the DOM has no #{id} plot"));
        let end = dom[at..].find("</svg>").expect("the plot is an SVG") + at;
        dom[at..end].to_string()
    };
    let loss = section("loss");
    assert!(loss.contains("<svg"), "inline SVG");
    assert_eq!(loss.matches("<circle").count(), sweep.len(), "one point per sweep trial on the loss plot");
    let cdf = section("cdf");
    let lines: Vec<&str> = cdf.split("<polyline").skip(1).collect();
    assert!(lines.len() >= sweep.len(), "a CDF line per rate (plus the legend's): {}", lines.len());
    let longest = lines.iter().map(|l| l.split("points=\"").nth(1).map_or(0, |p| p.split('"').next().unwrap().split(' ').filter(|s| !s.is_empty()).count())).max().unwrap();
    assert!(longest >= 50, "the CDF lines carry data points: {longest}");
    let hists = dom.matches("class=\"plot hist\"").count();
    assert_eq!(hists, sweep.len(), "a histogram per rate");
    for fetch in ["<script", "<link", "<img", "src=\"http", "href=\"http", "url("] {
        assert!(!dom.contains(fetch), "self-contained: the page holds `{fetch}`");
    }
    let png = html.with_file_name("screenshot.png");
    let _ = std::fs::remove_file(&png);
    run(&["--window-size=1200,2400".into(), format!("--screenshot={}", png.display()), "--hide-scrollbars".into()]);
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "a real screenshot: {} bytes", bytes.len());
}
