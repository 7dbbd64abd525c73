//! The gateway as a bridge on a site (issue 14 §1): the DU and RU
//! namespaces share one IP subnet (scripts/testbed), and everything that
//! is not fronthaul crosses only through `fhgate run`. Ping and a 10 MB
//! TCP transfer must arrive intact on AF_XDP and on AF_PACKET; with
//! `[passthrough] classes = "none"` nothing crosses and the gateway counts
//! what it kept back. Needs root, as CI has.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use live::{Proc, Testbed};

/// The RU end of the site subnet (scripts/testbed; the DU end is 10.77.0.1).
const RU_IP: &str = "10.77.0.2";

/// A gateway configuration with no translators: `backend` on both
/// sides, the passthrough classes as given.
fn config(dir: &std::path::Path, backend: &str, classes: &str) -> PathBuf {
    let side = |name: &str, iface: &str| {
        format!("[{name}]\nbackend = \"{backend}\"\ninterface = \"{iface}\"\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n\n")
    };
    let text = format!("{}{}[passthrough]\nclasses = {classes}\n", side("du", "gw-du"), side("ru", "gw-ru"));
    let p = dir.join(format!("site-{backend}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fhgate-site-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `fhgate run` in the gw namespace and waits until it runs.
fn gateway(tb: &Testbed, cfg: &std::path::Path) -> Proc {
    let mut p = Proc::spawn(tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap()]));
    p.wait_for("running;", Duration::from_secs(60));
    p
}

/// `ping -c N` from the DU namespace to the RU's address; whether all came back.
fn ping(tb: &Testbed, n: u32) -> (bool, String) {
    let o = Command::new("ip")
        .args(["netns", "exec", &tb.ns("du"), "ping", "-n", "-c", &n.to_string(), "-i", "0.2", "-W", "2", RU_IP])
        .output()
        .expect("ping is needed (scripts/setup installs iputils-ping)");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Forgets what the DU learnt (or failed to learn) of the RU's MAC address.
fn flush_neighbours(tb: &Testbed) {
    let st = Command::new("ip").args(["-n", &tb.ns("du"), "neigh", "flush", "all"]).status().unwrap();
    assert!(st.success(), "ip neigh flush");
}

/// Runs `f` on a thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: String, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let path = format!("/var/run/netns/{ns}");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: a valid namespace descriptor; affects the calling thread only.
        assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {ns}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// FNV-1a, a checksum for comparing what was sent with what arrived.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| (h ^ *x as u64).wrapping_mul(0x100_0000_01b3))
}

/// Sends 10 MB of pseudo-random bytes from the DU namespace to a listener
/// in the RU namespace; returns (sent checksum, received checksum, bytes received, seconds).
fn tcp_10mb(tb: &Testbed) -> (u64, u64, usize, f64) {
    let data: Vec<u8> = {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..10 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let sent = fnv(&data);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = in_ns(tb.ns("ru"), move || {
        let l = TcpListener::bind((RU_IP, 5201)).expect("listen in the RU namespace");
        ready_tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut got = Vec::with_capacity(10 << 20);
        s.read_to_end(&mut got).expect("the transfer ends cleanly");
        got
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("the listener is up");
    let t = Instant::now();
    let client = in_ns(tb.ns("du"), move || {
        let mut s = TcpStream::connect_timeout(&format!("{RU_IP}:5201").parse().unwrap(), Duration::from_secs(10)).expect("connect through the gateway");
        s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(&data).expect("send 10 MB");
        s.shutdown(std::net::Shutdown::Write).unwrap();
    });
    client.join().expect("client");
    let got = server.join().expect("server");
    (sent, fnv(&got), got.len(), t.elapsed().as_secs_f64())
}

/// A counter from the Prometheus text in the report.
fn metric(report: &str, name: &str, labels: &str) -> u64 {
    let key = format!("{name}{{{labels}}} ");
    report
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in the report:\n{report}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs the gateway's report through `fhgate run`'s plain-text output.
fn report_of(p: Proc) -> String {
    p.signal(libc::SIGINT);
    let mut p = p;
    let mut child = p.child.take().unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(30), "fhgate run did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    p.drain();
    assert!(child.wait().unwrap().success(), "fhgate run failed:\n{}\n{out}", p.seen.join("\n"));
    out
}

fn bridges_ping_and_tcp(backend: &str, tag: &str) {
    let (tb, _serial) = Testbed::up(tag);
    let dir = scratch(tag);
    // Without the gateway nothing crosses: the namespaces are joined only through it.
    let (ok, out) = ping(&tb, 1);
    assert!(!ok, "ping crossed with no gateway running:\n{out}");

    let gw = gateway(&tb, &config(&dir, backend, "\"all\""));
    flush_neighbours(&tb);
    let (ok, out) = ping(&tb, 5);
    assert!(ok, "{backend}: ping through the gateway failed:\n{out}");
    let (sent, got, len, secs) = tcp_10mb(&tb);
    println!("{backend}: 10 MB over TCP through fhgate in {secs:.2} s ({:.1} Mbit/s)", len as f64 * 8.0 / secs / 1e6);
    assert_eq!(len, 10 << 20, "{backend}: every byte arrived");
    assert_eq!(got, sent, "{backend}: checksum of what arrived equals what was sent");
    let report = report_of(gw);
    // Counted on both sides, per class; nothing blocked.
    for (dir, from, to) in [("dl", "du", "ru"), ("ul", "ru", "du")] {
        for class in ["arp", "ip"] {
            let rx = metric(&report, "fhgate_passthrough_rx_total", &format!("direction=\"{dir}\",side=\"{from}\",class=\"{class}\""));
            let tx = metric(&report, "fhgate_passthrough_tx_total", &format!("direction=\"{dir}\",side=\"{to}\",class=\"{class}\""));
            assert!(rx > 0 && tx == rx, "{backend} {dir} {class}: {rx} received, {tx} sent\n{report}");
        }
        assert_eq!(metric(&report, "fhgate_passthrough_blocked_total", &format!("direction=\"{dir}\",side=\"{from}\",class=\"ip\"")), 0);
    }
    // 10 MB in TCP segments of at most 8 948 bytes (MTU 9000): at least 1 172 IP frames DU → RU.
    let ip_dl = metric(&report, "fhgate_passthrough_rx_total", "direction=\"dl\",side=\"du\",class=\"ip\"");
    assert!(ip_dl >= 1172, "{ip_dl} IP frames DU → RU");
    let delay_n = metric(&report, "fhgate_passthrough_delay_ns_count", "direction=\"dl\"");
    assert!(delay_n >= ip_dl, "every frame's added delay is measured: {delay_n} of {ip_dl}");
    println!(
        "{backend}: passthrough delay DL p50 {} ns, p99 {} ns",
        metric(&report, "fhgate_passthrough_delay_ns", "direction=\"dl\",quantile=\"0.5\""),
        metric(&report, "fhgate_passthrough_delay_ns", "direction=\"dl\",quantile=\"0.99\"")
    );

    // Policy none: nothing crosses, and what was kept back is counted.
    let gw = gateway(&tb, &config(&dir, backend, "\"none\""));
    // Forget the RU's MAC address, so the DU must ask for it again (ARP).
    flush_neighbours(&tb);
    let (ok, out) = ping(&tb, 2);
    assert!(!ok, "{backend}: ping crossed with passthrough none:\n{out}");
    let report = report_of(gw);
    let blocked = metric(&report, "fhgate_passthrough_blocked_total", "direction=\"dl\",side=\"du\",class=\"arp\"");
    assert!(blocked > 0, "{backend}: the DU's ARP requests are counted as blocked\n{report}");
    assert_eq!(metric(&report, "fhgate_passthrough_rx_total", "direction=\"dl\",side=\"du\",class=\"arp\""), blocked);
    for class in ["arp", "ip", "ptp", "lldp", "other"] {
        assert_eq!(metric(&report, "fhgate_passthrough_tx_total", &format!("direction=\"dl\",side=\"ru\",class=\"{class}\"")), 0, "{class}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn af_xdp_bridges_ping_and_tcp_and_policy_none_blocks() {
    bridges_ping_and_tcp("af_xdp", "sbx");
}

#[test]
fn af_packet_bridges_ping_and_tcp_and_policy_none_blocks() {
    bridges_ping_and_tcp("af_packet", "sbp");
}
