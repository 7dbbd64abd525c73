//! PTP through the gateway (issue 14 §2): ptp4l as master in the DU
//! namespace and as slave in the RU namespace, L2 transport (`-2`) and
//! software timestamps (`-S`), through `fhgate run` on AF_XDP and on
//! AF_PACKET, against a direct veth pair measured in the same test.
//!
//! Both ptp4l run `free_running`: they share this host's clock, which
//! neither may steer; the slave still measures offset and mean path delay
//! from the four timestamps and the correctionFields. With the
//! transparent clock on, the gateway's residence time is in the
//! correctionFields and leaves the path delay; with it off, it shows up
//! in the path delay. The figures are printed; the bounds asserted are
//! stated below (on AF_PACKET; on AF_XDP over veth the receive timestamp
//! comes too late for them, see `through_gateway`). A missing ptp4l or no
//! root fails the test with the reason.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use live::{Proc, Testbed};

/// How long each ptp4l pair runs: the free-running slave prints one
/// sample about every 2 s.
const RUN: Duration = Duration::from_secs(14);

/// The slave's mean path delay through the gateway with the transparent
/// clock on may exceed the direct pair's by at most this, ns. What the
/// software timestamps miss (the frame between the gateway's transmit
/// clock read and the kernel's send, and scheduling on a loaded shared
/// machine) stays in the path delay.
const TC_ON_EXCESS_MAX_NS: i64 = 60_000;
/// The slave's offset (median of its samples) stays within this, ns.
const OFFSET_MAX_NS: i64 = 60_000;

/// The ptp4l configuration: fast sync and delay requests, a sample per
/// summary, and no clock steering.
const PTP4L_CFG: &str = "[global]\nlogSyncInterval -3\nlogMinDelayReqInterval -3\nlogAnnounceInterval -2\nannounceReceiptTimeout 3\nsummary_interval -3\nfree_running 1\ntx_timestamp_timeout 200\n";

fn require_tools() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test needs root (namespaces, veth, AF_XDP), as CI has");
    let v = Command::new("ptp4l").arg("-v").output();
    assert!(v.is_ok_and(|o| o.status.success()), "ptp4l is missing: install linuxptp (scripts/setup does)");
}

/// What `ethtool -T IF` (in namespace `ns`) says the NIC timestamps, as
/// the labels of `fhgate_port_timestamping`: hardware_rx, hardware_tx and
/// the PHC (`ptpN` or `none`). The oracle for the gateway's own ioctl.
fn ethtool_timestamping(ns: &str, iface: &str) -> (bool, bool, String) {
    let o = Command::new("ip").args(["netns", "exec", ns, "ethtool", "-T", iface]).output().expect("ethtool runs (scripts/setup installs it)");
    assert!(o.status.success(), "ethtool -T {iface}: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let cap = |c: &str| text.lines().any(|l| l.trim() == c);
    let phc = text.lines().find_map(|l| l.strip_prefix("PTP Hardware Clock: ")).expect("ethtool names the PHC").trim().to_string();
    let phc = if phc == "none" { phc } else { format!("ptp{phc}") };
    (cap("hardware-receive") && cap("hardware-raw-clock"), cap("hardware-transmit") && cap("hardware-raw-clock"), phc)
}

/// The slave's samples: (offset ns, mean path delay ns).
struct Samples(Vec<(i64, i64)>);

impl Samples {
    fn median(mut v: Vec<i64>) -> i64 {
        v.sort_unstable();
        v[v.len() / 2]
    }
    fn delay(&self) -> i64 {
        Self::median(self.0.iter().map(|s| s.1).collect())
    }
    fn offset(&self) -> i64 {
        Self::median(self.0.iter().map(|s| s.0).collect())
    }
}

fn ptp4l(ns: &str, iface: &str, cfg: &Path, slave: bool) -> Child {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "ptp4l", "-f", cfg.to_str().unwrap(), "-i", iface, "-2", "-S", "-m"]);
    if slave {
        c.arg("-s");
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("ptp4l starts")
}

/// Runs a master on (ns_m, if_m) and a slave on (ns_s, if_s) for [`RUN`];
/// returns the slave's samples after the first.
fn measure(cfg: &Path, (ns_m, if_m): (&str, &str), (ns_s, if_s): (&str, &str), what: &str) -> Samples {
    let mut m = ptp4l(ns_m, if_m, cfg, false);
    let mut s = ptp4l(ns_s, if_s, cfg, true);
    std::thread::sleep(RUN);
    for c in [&mut m, &mut s] {
        let _ = c.kill();
    }
    let mut out = String::new();
    std::io::Read::read_to_string(s.stdout.as_mut().unwrap(), &mut out).unwrap();
    let _ = (m.wait(), s.wait());
    // "ptp4l[..]: master offset    -23 s0 freq   +12 path delay   1598"
    let v: Vec<(i64, i64)> = out
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let o = w.iter().position(|x| *x == "offset")?;
            let d = w.iter().position(|x| *x == "delay")?;
            Some((w.get(o + 1)?.parse().ok()?, w.get(d + 1)?.parse().ok()?))
        })
        .skip(1)
        .collect();
    assert!(v.len() >= 3, "{what}: the slave gave {} samples in {RUN:?}:\n{out}", v.len());
    println!("{what}: path delay samples {:?} ns, offsets {:?} ns", v.iter().map(|s| s.1).collect::<Vec<_>>(), v.iter().map(|s| s.0).collect::<Vec<_>>());
    Samples(v)
}

/// A veth pair between two fresh namespaces, removed on drop.
struct Direct(String);

impl Direct {
    fn new() -> Direct {
        let p = format!("pd{}", std::process::id() % 100_000);
        let ip = |a: &[&str]| assert!(Command::new("ip").args(a).status().unwrap().success(), "ip {a:?}");
        let (a, b) = (format!("{p}a"), format!("{p}b"));
        ip(&["netns", "add", &a]);
        ip(&["netns", "add", &b]);
        ip(&["-n", &a, "link", "add", "pa0", "type", "veth", "peer", "name", "pb0", "netns", &b]);
        ip(&["-n", &a, "link", "set", "pa0", "up"]);
        ip(&["-n", &b, "link", "set", "pb0", "up"]);
        Direct(p)
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        for s in ["a", "b"] {
            let _ = Command::new("ip").args(["netns", "del", &format!("{}{s}", self.0)]).status();
        }
    }
}

fn gateway_config(dir: &Path, backend: &str, tc: &str) -> PathBuf {
    let side = |name: &str, iface: &str| {
        format!("[{name}]\nbackend = \"{backend}\"\ninterface = \"{iface}\"\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n\n")
    };
    let p = dir.join(format!("ptp-{backend}-{tc}.toml"));
    std::fs::write(&p, format!("{}{}[ptp]\ntransparent_clock = \"{tc}\"\n", side("du", "gw-du"), side("ru", "gw-ru"))).unwrap();
    p
}

/// The gateway's report after SIGINT (stdout), the run checked to have succeeded.
fn stop(mut p: Proc) -> String {
    p.signal(libc::SIGINT);
    let mut child = p.child.take().unwrap();
    let st = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    p.drain();
    assert!(st.success(), "fhgate run: {st}\n{}", p.seen.join("\n"));
    out
}

fn metric(report: &str, key: &str) -> u64 {
    report.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' '))).map_or(0, |v| v.trim().parse().unwrap())
}

/// One backend: TC on and off through the gateway; returns what failed.
fn through_gateway(backend: &str, tag: &str, cfg: &Path, dir: &Path, direct: i64) -> Vec<String> {
    let mut failed = Vec::new();
    let (tb, _serial) = Testbed::up(tag);
    let (du, ru) = (tb.ns("du"), tb.ns("ru"));
    let mut delays = Vec::new();
    for tc in ["one_step", "off"] {
        let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "-c", gateway_config(dir, backend, tc).to_str().unwrap()]));
        gw.wait_for("running;", Duration::from_secs(60));
        let s = measure(cfg, (&du, "du0"), (&ru, "ru0"), &format!("{backend} tc={tc}"));
        let report = stop(gw);
        let k = |m: &str, d: &str| format!("fhgate_ptp_messages_total{{direction=\"{d}\",message=\"{m}\",action=\"corrected\"}}");
        let (sync, dreq) = (metric(&report, &k("Sync", "dl")), metric(&report, &k("Delay_Req", "ul")));
        let malformed: u64 = ["dl", "ul"].iter().flat_map(|d| ["truncated", "version", "message_type", "length"].map(|x| metric(&report, &format!("fhgate_ptp_malformed_total{{direction=\"{d}\",kind=\"{x}\"}}")))).sum();
        assert_eq!(malformed, 0, "ptp4l's messages are well formed");
        let res = |d: &str, q: &str| metric(&report, &format!("fhgate_ptp_residence_ns{{direction=\"{d}\",quantile=\"{q}\"}}"));
        println!(
            "{backend} tc={tc}: slave path delay {} ns (direct {direct} ns), offset {} ns; corrected Sync {sync}, Delay_Req {dreq}; residence p50/p99 DL {}/{} ns, UL {}/{} ns",
            s.delay(),
            s.offset(),
            res("dl", "0.5"),
            res("dl", "0.99"),
            res("ul", "0.5"),
            res("ul", "0.99")
        );
        // Each live port says what its NIC can timestamp, as ethtool does,
        // and that the transparent clock uses software timestamps.
        for (side, iface) in [("du", "gw-du"), ("ru", "gw-ru")] {
            let (rx, tx, phc) = ethtool_timestamping(&tb.ns("gw"), iface);
            let line = format!("fhgate_port_timestamping{{side=\"{side}\",interface=\"{iface}\",hardware_rx=\"{rx}\",hardware_tx=\"{tx}\",phc=\"{phc}\",used=\"software\"}} 1");
            assert!(report.contains(&line), "{backend}: {line} missing from\n{report}");
        }
        if tc == "one_step" {
            assert!(sync > 0 && dreq > 0, "{backend}: Sync and Delay_Req corrected ({sync}, {dreq})\n{report}");
            assert!(report.contains("fhgate_ptp_transparent_clock{direction=\"dl\",mode=\"one_step\",timestamps=\"software\"} 1"), "{report}");
            // AF_XDP on veth: the frame waits for the veth's NAPI poll (a
            // softirq a loaded machine defers by milliseconds) before the
            // XDP program hands it to the gateway, so the software receive
            // timestamp comes after that wait and the correction cannot
            // cover it (captures showed 4.4 ms transits corrected by 80 µs;
            // the medians of three runs with TC on were 30 µs, 80 µs and
            // 870 µs against 1.7-2 µs direct).
            // AF_PACKET's receive timestamp is the kernel's, taken when the
            // frame is queued, before that wait. So the path-delay bound
            // holds for AF_PACKET; AF_XDP's figures are printed (DEVELOPERS.md).
            if backend == "af_packet" && s.delay() - direct > TC_ON_EXCESS_MAX_NS {
                failed.push(format!("{backend}: with the transparent clock the path delay {} ns exceeds the direct pair's {direct} ns by more than {TC_ON_EXCESS_MAX_NS}", s.delay()));
            }
            if backend == "af_packet" && s.offset().abs() > OFFSET_MAX_NS {
                failed.push(format!("{backend}: offset {} ns beyond {OFFSET_MAX_NS}", s.offset()));
            }
        } else {
            assert_eq!((sync, dreq), (0, 0), "{backend}: off corrects nothing");
        }
        delays.push(s.delay());
    }
    println!("{backend}: path delay with the transparent clock {} ns, without {} ns, direct {direct} ns", delays[0], delays[1]);
    if backend == "af_packet" && delays[1] <= delays[0] {
        failed.push(format!("{backend}: without the transparent clock the residence time should show in the path delay ({} ns vs {} ns)", delays[1], delays[0]));
    }
    failed
}

#[test]
fn ptp4l_through_the_gateway_with_and_without_the_transparent_clock() {
    require_tools();
    let dir = std::env::temp_dir().join(format!("fhgate-ptp-site-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("ptp4l.cfg");
    std::fs::write(&cfg, PTP4L_CFG).unwrap();
    let direct = {
        let d = Direct::new();
        measure(&cfg, (&format!("{}a", d.0), "pa0"), (&format!("{}b", d.0), "pb0"), "direct veth").delay()
    };
    // Both backends run before judging, so a failure reports every figure.
    let mut failed = through_gateway("af_xdp", "px", &cfg, &dir, direct);
    failed.extend(through_gateway("af_packet", "pp", &cfg, &dir, direct));
    std::fs::remove_dir_all(&dir).ok();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
