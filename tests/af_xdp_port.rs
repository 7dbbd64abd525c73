//! The AF_XDP port on real veth pairs, each in a fresh network namespace
//! (needs root): every frame steered to the socket (eCPRI untagged,
//! 802.1Q, QinQ, and PTP, ARP, IP alike), none to the kernel, transmit, jumbo frames through multi-buffer,
//! generic and driver mode, clear open errors, detaching on drop and on a
//! crash, and a long paced run without loss.
//!
//! Each test enters its namespace from a thread of its own (`setns`), and
//! mounts a private /sys there, because /sys/class/net shows the network
//! namespace of whoever mounted sysfs (as `ip netns exec` does).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

use std::ffi::CStr;
use std::io::{self, BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ecpri::{CompMethod, UdCompHdr};
use fhgate::config::{AfXdpConfig, XdpCopy, XdpMode};
use fhgate::io::af_xdp::{self, AfXdpRx, AfXdpTx};
use fhgate::io::port_stats::PortEvent;
use fhgate::io::{RxPoll, RxPort, TxPort};
use fhgate::translate::PacketBuf;

const MTU: usize = 9000;

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace holding the veth pair A–B (one queue each, MTU
/// 9000, up); deleted on drop, also when the test panics.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "fhx{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        live::netns_add(&name);
        let ns = Netns { name };
        ns.veth("A", "B", true);
        ns
    }

    fn veth(&self, a: &str, b: &str, up: bool) {
        let n = self.name.as_str();
        ip(&[
            "-n",
            n,
            "link",
            "add",
            a,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
            "type",
            "veth",
            "peer",
            "name",
            b,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
        ]);
        for i in [a, b] {
            ip(&["-n", n, "link", "set", i, "mtu", "9000"]);
            if up {
                ip(&["-n", n, "link", "set", i, "up"]);
            }
        }
    }

    /// Whether an XDP program is attached to `iface`.
    fn xdp_attached(&self, iface: &str) -> bool {
        ip(&["-n", &self.name, "-j", "link", "show", iface]).contains("\"xdp\"")
    }

    /// Waits up to 3 s for `iface` to have no XDP program.
    fn detached(&self, iface: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if !self.xdp_attached(iface) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Runs `f` in a new thread inside this namespace; its panic is ours.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                enter(&self.name);
                f()
            });
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Moves this thread into namespace `name`, with a /sys that shows it.
fn enter(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("open the netns");
    // SAFETY: setns/unshare/mount only change this thread's namespaces and
    // its private mount table; the C strings are NUL-terminated literals.
    unsafe {
        assert_eq!(
            libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET),
            0,
            "setns: {}",
            io::Error::last_os_error()
        );
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNS),
            0,
            "unshare: {}",
            io::Error::last_os_error()
        );
        let none: *const libc::c_char = std::ptr::null();
        assert_eq!(
            libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null()
            ),
            0
        );
        libc::umount2(c"/sys".as_ptr(), libc::MNT_DETACH);
        assert_eq!(
            libc::mount(
                c"sysfs".as_ptr(),
                c"/sys".as_ptr(),
                c"sysfs".as_ptr(),
                0,
                std::ptr::null()
            ),
            0,
            "mount sysfs: {}",
            io::Error::last_os_error()
        );
    }
}

fn config(iface: &str, mode: XdpMode, copy: XdpCopy) -> AfXdpConfig {
    AfXdpConfig {
        interface: iface.into(),
        queue: 0,
        queues: 1,
        mode,
        copy,
        umem_frames: 2048,
        ring_size: 512,
        busy_poll_us: None,
    }
}

fn open(iface: &str, mode: XdpMode) -> (AfXdpRx, AfXdpTx) {
    af_xdp::open(&config(iface, mode, XdpCopy::Auto), MTU)
        .unwrap_or_else(|e| panic!("open {iface}: {e}"))
}

/// Receive buffers for bursts of `n`.
struct Bufs {
    bufs: Vec<PacketBuf>,
    lens: Vec<usize>,
    times: Vec<u64>,
}

impl Bufs {
    fn new(n: usize) -> Bufs {
        Bufs {
            bufs: (0..n).map(|_| PacketBuf::new()).collect(),
            lens: vec![0; n],
            times: vec![0; n],
        }
    }

    /// One burst: the frames received, after `f` has seen each.
    fn recv(&mut self, rx: &mut AfXdpRx, mut f: impl FnMut(&[u8], u64)) -> usize {
        match rx
            .recv(&mut self.bufs, &mut self.lens, &mut self.times)
            .expect("recv")
        {
            RxPoll::Frames(n) => {
                for i in 0..n {
                    f(&self.bufs[i].bytes()[..self.lens[i]], self.times[i]);
                }
                n
            }
            RxPoll::Idle => 0,
            RxPoll::Closed => panic!("a live port never closes"),
        }
    }
}

/// Everything `rx` receives until `want` frames or `wait` passes (then a little more, to catch extras).
fn collect(rx: &mut AfXdpRx, want: usize, wait: Duration) -> Vec<Vec<u8>> {
    let mut b = Bufs::new(64);
    let mut out = Vec::new();
    let t = Instant::now();
    while out.len() < want && t.elapsed() < wait {
        if b.recv(rx, |f, _| out.push(f.to_vec())) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(100) {
        b.recv(rx, |f, _| out.push(f.to_vec()));
    }
    out
}

fn send_all(tx: &mut AfXdpTx, frames: &[Vec<u8>]) {
    for f in frames {
        tx.send(f, 0).expect("send");
    }
    tx.flush().expect("flush");
}

/// A raw AF_PACKET socket on `iface`, to see what the kernel receives.
struct PacketSocket(OwnedFd);

impl PacketSocket {
    fn open(iface: &CStr) -> PacketSocket {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket/bind calls on a sockaddr_ll we fully initialise.
        unsafe {
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK,
                proto as i32,
            );
            assert!(fd >= 0, "{}", io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sa: libc::sockaddr_ll = std::mem::zeroed();
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
            sa.sll_ifindex = libc::if_nametoindex(iface.as_ptr()) as i32;
            let r = libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "{}", io::Error::last_os_error());
            PacketSocket(fd)
        }
    }

    /// Sends one frame.
    fn send(&self, f: &[u8]) {
        // SAFETY: `f` is readable for its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
        assert_eq!(n, f.len() as isize, "{}", io::Error::last_os_error());
    }

    /// Incoming frames seen within `wait`.
    fn collect(&self, wait: Duration) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16384];
        let t = Instant::now();
        while t.elapsed() < wait {
            // SAFETY: `buf` and `sa` are writable for the sizes given.
            let (n, sa) = unsafe {
                let mut sa: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sa as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                );
                (n, sa)
            };
            if n > 0 && sa.sll_pkttype != libc::PACKET_OUTGOING {
                out.push(buf[..n as usize].to_vec());
            } else if n <= 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        out
    }
}

fn sample(name: &str) -> Vec<u8> {
    let all = ecpri::samples::transport_samples().unwrap();
    all.into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sample {name}"))
        .frame
}

/// A DL U-plane frame padded (Ethernet padding after the eCPRI message) to `len` bytes.
fn uplane(prbs: u8, len: usize) -> Vec<u8> {
    let mut f =
        ecpri::samples::uplane_frame(UdCompHdr::new(CompMethod::None, 16), true, &[(0, prbs)])
            .unwrap();
    assert!(f.len() <= len, "{} > {len}", f.len());
    f.resize(len, 0x5A);
    f
}

/// `f` without its outer VLAN tag, if it has one.
fn untag(f: &[u8]) -> Vec<u8> {
    match f.get(12..14) {
        Some([0x81, 0x00] | [0x88, 0xA8]) => [&f[..12], &f[16..]].concat(),
        _ => f.to_vec(),
    }
}

fn arp() -> Vec<u8> {
    let mut f = vec![0xFF; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0xB0, 1, 0x08, 0x06]);
    f.extend_from_slice(&[
        0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0xB0, 1, 192, 0, 2, 2, 0, 0, 0, 0, 0, 0, 192, 0,
        2, 1,
    ]);
    f.resize(60, 0);
    f
}

/// Both directions between ports on A (in `mode`) and B (in `peer`), checked byte for byte.
fn exchange(tag: &str, mode: XdpMode, peer: XdpMode) {
    let ns = Netns::new(tag);
    ns.run(|| {
        let (mut a_rx, mut a_tx) = open("A", mode);
        let (mut b_rx, mut b_tx) = open("B", peer);
        let granted = |m| {
            if m == XdpMode::Generic {
                XdpMode::Generic
            } else {
                XdpMode::Driver
            }
        };
        assert_eq!(a_rx.info().mode, granted(mode));
        assert_eq!(
            b_tx.info().mode,
            granted(peer),
            "veth has native XDP, so auto picks driver mode"
        );
        assert!(a_rx.info().multi_buffer && b_rx.info().multi_buffer);
        assert!(!a_rx.info().zero_copy, "veth has no zero-copy");
        assert!(ns.xdp_attached("A") && ns.xdp_attached("B"));
        let kernel = PacketSocket::open(c"A");

        // B → A: every frame reaches the socket, in order, and none the kernel.
        let ecpri = vec![uplane(4, 226), sample("vlan-8021q"), sample("vlan-qinq")];
        let mut tagged_ip = sample("vlan-8021q");
        tagged_ip[16..18].copy_from_slice(&[0x08, 0x00]);
        let mut qinq_other = sample("vlan-qinq");
        qinq_other[20..22].copy_from_slice(&[0x88, 0xF7]); // PTP behind QinQ
        let other = vec![sample("udp-ipv4"), arp(), tagged_ip, qinq_other];
        let mixed: Vec<Vec<u8>> = vec![
            other[0].clone(),
            ecpri[0].clone(),
            other[1].clone(),
            ecpri[1].clone(),
            other[2].clone(),
            ecpri[2].clone(),
            other[3].clone(),
        ];
        send_all(&mut b_tx, &mixed);
        let got = collect(&mut a_rx, mixed.len(), Duration::from_secs(5));
        assert_eq!(
            got, mixed,
            "every frame, eCPRI or not, byte-exact and in order"
        );
        let seen = kernel.collect(Duration::from_millis(300));
        // The kernel takes the outer VLAN tag off before packet sockets see a frame.
        for f in &mixed {
            assert!(
                !seen.contains(&untag(f)),
                "a frame ({} bytes) leaked to the kernel",
                f.len()
            );
        }

        // A → B, then jumbo frames both ways (multi-buffer: up to 3 UMEM frames each).
        send_all(&mut a_tx, &ecpri);
        assert_eq!(
            collect(&mut b_rx, ecpri.len(), Duration::from_secs(5)),
            ecpri
        );
        let mut jumbo = vec![uplane(166, 8000), uplane(187, 9014)];
        let mut q = sample("vlan-qinq");
        q.resize(9014, 0xA5);
        jumbo.push(q);
        send_all(&mut a_tx, &jumbo);
        assert_eq!(
            collect(&mut b_rx, jumbo.len(), Duration::from_secs(5)),
            jumbo,
            "jumbo A → B"
        );
        send_all(&mut b_tx, &jumbo);
        assert_eq!(
            collect(&mut a_rx, jumbo.len(), Duration::from_secs(5)),
            jumbo,
            "jumbo B → A"
        );

        let (rs, ts) = (a_rx.stats(), a_tx.stats());
        assert_eq!(
            (rs.frames, rs.drops),
            ((mixed.len() + jumbo.len()) as u64, 0),
            "{rs:?}"
        );
        assert_eq!(
            rs.bytes,
            mixed
                .iter()
                .chain(&jumbo)
                .map(|f| f.len() as u64)
                .sum::<u64>()
        );
        assert_eq!(
            (ts.frames, ts.drops, ts.kernel.tx_invalid_descs),
            (6, 0, 0),
            "{ts:?}"
        );
        drop((a_rx, a_tx));
        assert!(
            ns.detached("A"),
            "the program is detached once both halves are dropped"
        );
        assert!(ns.xdp_attached("B"));
        drop((b_rx, b_tx));
        assert!(ns.detached("B"));
    });
}

#[test]
fn generic_mode_steers_ecpri_and_carries_jumbo_frames() {
    exchange("skb", XdpMode::Generic, XdpMode::Generic);
}

#[test]
fn driver_mode_steers_ecpri_and_carries_jumbo_frames() {
    exchange("drv", XdpMode::Driver, XdpMode::Auto);
}

/// veth's native XDP receive does not need a program on the peer.
#[test]
fn driver_mode_works_with_a_generic_mode_peer() {
    exchange("mix", XdpMode::Driver, XdpMode::Generic);
}

#[test]
fn frames_longer_than_a_packet_buffer_are_dropped_and_counted() {
    let ns = Netns::new("big");
    for i in ["A", "B"] {
        ip(&["-n", &ns.name, "link", "set", i, "mtu", "16500"]);
    }
    ns.run(|| {
        let (mut a_rx, _a_tx) = open("A", XdpMode::Auto);
        let b = PacketSocket::open(c"B");
        let big = uplane(4, 16_400);
        let fits = uplane(4, 16_384);
        b.send(&big);
        b.send(&fits);
        assert_eq!(
            collect(&mut a_rx, 1, Duration::from_secs(5)),
            vec![fits],
            "the frame that fits arrives whole"
        );
        let s = a_rx.stats();
        assert_eq!((s.frames, s.drops), (1, 1), "{s:?}");
        let c = a_rx.counters();
        assert_eq!(
            (
                c.get(PortEvent::DropTooLong),
                c.get(PortEvent::DropMalformed)
            ),
            (1, 0),
            "{c}"
        );
        assert_eq!((c.backend(), c.interface()), ("af_xdp", "A"));
    });
}

#[test]
fn full_tx_rings_wait_for_room_instead_of_failing() {
    let ns = Netns::new("full");
    ns.run(|| {
        let small = AfXdpConfig {
            umem_frames: 128,
            ring_size: 64,
            ..config("A", XdpMode::Generic, XdpCopy::Copy)
        };
        let (_a_rx, mut a_tx) = af_xdp::open(&small, MTU).unwrap();
        let kernel = PacketSocket::open(c"B");
        // 2000 jumbo frames (3 UMEM frames each) without a flush: the 64-entry ring fills again and again.
        let f = uplane(187, 9014);
        for _ in 0..2000 {
            a_tx.send(&f, 0).expect("a full ring is not an error");
        }
        a_tx.flush().unwrap();
        let s = a_tx.stats();
        assert_eq!(
            (s.frames, s.drops, s.kernel.tx_invalid_descs),
            (2000, 0, 0),
            "{s:?}"
        );
        let c = a_tx.counters();
        assert_eq!(
            (
                c.get(PortEvent::DropRingFull),
                c.get(PortEvent::KernelTxInvalidDescs)
            ),
            (0, 0),
            "{c}"
        );
        assert!(
            kernel.collect(Duration::from_millis(200)).contains(&f),
            "frames left by B's kernel side"
        );
    });
}

#[test]
fn busy_poll_port_carries_frames() {
    let ns = Netns::new("busy");
    ns.run(|| {
        let busy = AfXdpConfig {
            busy_poll_us: Some(20),
            ..config("A", XdpMode::Auto, XdpCopy::Auto)
        };
        let (mut a_rx, _a_tx) = af_xdp::open(&busy, MTU).unwrap_or_else(|e| panic!("{e}"));
        let (_b_rx, mut b_tx) = open("B", XdpMode::Auto);
        let frames: Vec<Vec<u8>> = (0..100).map(|i| uplane(4, 300 + i)).collect();
        send_all(&mut b_tx, &frames);
        assert_eq!(
            collect(&mut a_rx, frames.len(), Duration::from_secs(5)),
            frames
        );
    });
}

#[test]
fn open_errors_say_what_is_wrong() {
    let ns = Netns::new("err");
    ns.veth("C", "D", false);
    ns.run(|| {
        let err = |c: AfXdpConfig, mtu: usize| match af_xdp::open(&c, mtu) {
            Ok(_) => panic!("{} opened", c.interface),
            Err(e) => e.to_string(),
        };
        let e = err(config("A", XdpMode::Driver, XdpCopy::ZeroCopy), MTU);
        assert!(
            e.contains("lacks AF_XDP zero-copy") && e.contains("xdp_copy = \"copy\""),
            "{e}"
        );
        assert!(
            !ns.xdp_attached("A"),
            "a failed open leaves no program behind"
        );
        let e = err(config("A", XdpMode::Generic, XdpCopy::ZeroCopy), MTU);
        assert!(
            e.contains("zero-copy needs the XDP program in driver mode"),
            "{e}"
        );
        let e = err(config("nope0", XdpMode::Auto, XdpCopy::Auto), MTU);
        assert!(e.contains("no interface named `nope0`"), "{e}");
        let e = err(config("C", XdpMode::Auto, XdpCopy::Auto), MTU);
        assert!(
            e.contains("`C` is down") && e.contains("ip link set C up"),
            "{e}"
        );
        let e = err(config("A", XdpMode::Auto, XdpCopy::Auto), 9500);
        assert!(
            e.contains("has MTU 9000") && e.contains("ip link set A mtu 9500"),
            "{e}"
        );
        let e = err(
            AfXdpConfig {
                queue: 1,
                ..config("A", XdpMode::Auto, XdpCopy::Auto)
            },
            MTU,
        );
        assert!(
            e.contains("queue 1 is out of range") && e.contains("1 RX queue"),
            "{e}"
        );
        // One port per interface: the second finds the first's program.
        let first = open("A", XdpMode::Generic);
        let e = err(config("A", XdpMode::Generic, XdpCopy::Auto), MTU);
        assert!(
            e.contains("another XDP program is already attached") && e.contains("xdp off"),
            "{e}"
        );
        drop(first);
        assert!(ns.detached("A"));
    });
}

/// Not a test by itself: opens a port in `FHGATE_AF_XDP_CRASH_NS` and
/// waits to be killed (run by `program_detaches_when_the_process_is_killed`).
#[test]
#[ignore]
fn crash_helper() {
    let Ok(ns) = std::env::var("FHGATE_AF_XDP_CRASH_NS") else {
        return;
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(&ns);
            let _port = open("A", XdpMode::Driver);
            println!("READY");
            std::thread::sleep(Duration::from_secs(60));
        });
    });
}

#[test]
fn program_detaches_when_the_process_is_killed() {
    let ns = Netns::new("kill");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FHGATE_AF_XDP_CRASH_NS", &ns.name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the helper");
    let out = child.stdout.take().unwrap();
    let ready = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("READY"));
    if !ready {
        let _ = child.kill();
        panic!("the helper did not open its port: {:?}", child.wait());
    }
    assert!(ns.xdp_attached("A"), "the helper's program is attached");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        ns.detached("A"),
        "the kernel detached the program when the link fd closed"
    );
}

#[test]
fn many_frames_in_bursts_arrive_without_loss() {
    const N: u32 = 100_000;
    let ns = Netns::new("many");
    ns.run(|| {
        let cfg = |i: &str| AfXdpConfig {
            umem_frames: 4096,
            ring_size: 1024,
            ..config(i, XdpMode::Auto, XdpCopy::Auto)
        };
        let (mut a_rx, _a_tx) = af_xdp::open(&cfg("A"), MTU).unwrap();
        let (_b_rx, mut b_tx) = af_xdp::open(&cfg("B"), MTU).unwrap();
        let base = uplane(30, 1500);
        let mut frame = base.clone();
        let mut b = Bufs::new(64);
        let (mut sent, mut got) = (0u32, 0u32);
        let mut bad = None;
        let t = Instant::now();
        while got < N && t.elapsed() < Duration::from_secs(120) {
            // Keep at most 512 frames in flight: a pace the receiver keeps up with.
            if sent < N && sent - got <= 512 - 64 {
                for _ in 0..64.min(N - sent) {
                    frame[1496..].copy_from_slice(&sent.to_be_bytes());
                    b_tx.send(&frame, 0).unwrap();
                    sent += 1;
                }
                b_tx.flush().unwrap();
            }
            let n = b.recv(&mut a_rx, |f, time| {
                let ok = f.len() == 1500
                    && f[..1496] == base[..1496]
                    && f[1496..] == got.to_be_bytes()
                    && time > 0;
                if !ok && bad.is_none() {
                    bad = Some(got);
                }
                got += 1;
            });
            if n == 0 && sent == N {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        assert_eq!(bad, None, "frame {bad:?} differs (lost or reordered)");
        assert_eq!((sent, got), (N, N), "after {:?}", t.elapsed());
        let (rs, ts) = (a_rx.stats(), b_tx.stats());
        assert_eq!(
            (rs.frames, rs.bytes, rs.drops),
            (N as u64, N as u64 * 1500, 0),
            "{rs:?}"
        );
        assert_eq!((ts.frames, ts.drops), (N as u64, 0), "{ts:?}");
        assert_eq!(
            rs.kernel.rx_dropped + rs.kernel.rx_ring_full,
            0,
            "{:?}",
            rs.kernel
        );
    });
}
