//! The AF_PACKET port on a real veth pair: each test makes a fresh network
//! namespace with `A` ↔ `B` (MTU 9000), opens the port on `A` and talks
//! to it through plain packet sockets on `B`. Needs root (CAP_NET_ADMIN
//! and CAP_NET_RAW, CAP_SYS_ADMIN for the namespaces).
//!
//! Only the thread that runs a test enters the namespace (`setns` acts on
//! the calling thread). It also gets its own mount namespace with a fresh
//! sysfs, because `/sys/class/net` shows the interfaces of the namespace
//! sysfs was mounted in, not those of the thread (`ip netns exec` does the
//! same). The namespace itself is made and deleted from the test's own
//! thread, so the guard's cleanup runs in the host's namespaces.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

use std::ffi::CString;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecpri::ethernet::{TPID_8021AD, TPID_8021Q};
use fhgate::config::AfPacketConfig;
use fhgate::io::af_packet;
use fhgate::io::port_stats::PortEvent;
use fhgate::io::{RxPoll, RxPort, TxPort};
use fhgate::translate::{PacketBuf, PACKET_CAPACITY};

const A: &str = "A";
const B: &str = "B";

// ---------------------------------------------------------------- namespace

/// A network namespace with a veth pair, deleted on drop (panics included).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "fhg-afp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        live::netns_add(&name);
        let ns = Netns { name };
        ns.ip(&[
            "link",
            "add",
            "name",
            A,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
            "type",
            "veth",
            "peer",
            "name",
            B,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
        ]);
        for dev in [A, B] {
            ns.ip(&["link", "set", "dev", dev, "mtu", "9000", "up"]);
        }
        ns
    }

    /// Runs `ip -n NAME args...`.
    fn ip(&self, args: &[&str]) {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        run(&a);
    }

    /// Moves the calling thread into the namespace, with a sysfs of its own.
    fn enter(&self) {
        let path = format!("/var/run/netns/{}", self.name);
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: a valid namespace descriptor; affects the calling thread only.
        assert_eq!(
            unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: unsharing the mount namespace gives this thread private mounts (CLONE_FS is implied and per-thread).
        assert_eq!(
            unsafe { libc::unshare(libc::CLONE_NEWNS) },
            0,
            "unshare: {}",
            std::io::Error::last_os_error()
        );
        let c = |s: &str| CString::new(s).unwrap();
        let (root, sys, sysfs) = (c("/"), c("/sys"), c("sysfs"));
        // SAFETY: NUL-terminated strings that outlive the calls; only this thread's mount namespace changes.
        unsafe {
            assert_eq!(
                libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null()
                ),
                0
            );
            assert_eq!(
                libc::umount2(sys.as_ptr(), libc::MNT_DETACH),
                0,
                "umount /sys: {}",
                std::io::Error::last_os_error()
            );
            assert_eq!(
                libc::mount(
                    sysfs.as_ptr(),
                    sys.as_ptr(),
                    sysfs.as_ptr(),
                    0,
                    std::ptr::null()
                ),
                0,
                "mount sysfs: {}",
                std::io::Error::last_os_error()
            );
        }
        assert!(
            std::path::Path::new("/sys/class/net/A").exists(),
            "sysfs shows the namespace"
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` tool");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `f` on a thread inside a fresh namespace (threads it spawns are inside too).
fn in_netns<T: Send>(f: impl FnOnce(&Netns) -> T + Send) -> T {
    let ns = Netns::new();
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            f(&ns)
        })
        .join()
    });
    drop(ns);
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

// ---------------------------------------------------------------- plain packet sockets on B

/// A packet socket on one interface, independent of the code under test.
struct Raw {
    fd: OwnedFd,
}

impl Raw {
    fn open(dev: &str, protocol: u16) -> Raw {
        // SAFETY: plain socket creation; protocol 0 receives nothing until bound.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = CString::new(dev).unwrap();
        // SAFETY: NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "{dev}");
        let r = Raw { fd };
        if protocol != 0 {
            r.opt(libc::SOL_PACKET, libc::PACKET_AUXDATA, 1);
            r.opt(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
            r.opt(libc::SOL_SOCKET, libc::SO_RCVBUF, 8 << 20);
            let tv = libc::timeval {
                tv_sec: 2,
                tv_usec: 0,
            };
            // SAFETY: a live timeval of the size passed.
            unsafe {
                libc::setsockopt(
                    r.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    size_of::<libc::timeval>() as u32,
                )
            };
        }
        // SAFETY: all-zero sockaddr_ll is valid.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = protocol.to_be();
        sa.sll_ifindex = index as i32;
        // SAFETY: a valid sockaddr_ll of the size passed.
        let b = unsafe {
            libc::bind(
                r.fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(b, 0, "bind: {}", std::io::Error::last_os_error());
        r
    }

    /// A socket that sends on `dev`.
    fn sender(dev: &str) -> Raw {
        Raw::open(dev, 0)
    }

    /// A socket that receives everything arriving on `dev`.
    fn receiver(dev: &str) -> Raw {
        Raw::open(dev, libc::ETH_P_ALL as u16)
    }

    fn opt(&self, level: i32, name: i32, v: i32) {
        // SAFETY: a live c_int of the size passed.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&v as *const i32).cast(),
                4,
            )
        };
        assert_eq!(
            r,
            0,
            "setsockopt {name}: {}",
            std::io::Error::last_os_error()
        );
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is valid for reads of its length.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            r,
            frame.len() as isize,
            "send {} bytes: {}",
            frame.len(),
            std::io::Error::last_os_error()
        );
    }

    /// The next frame as it was on the wire (the stripped tag put back
    /// from PACKET_AUXDATA), or `None` after 2 s.
    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        let mut ctrl = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero msghdr is valid; pointers are set below.
        let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = ctrl.as_mut_ptr().cast();
        m.msg_controllen = size_of::<[u64; 32]>();
        // SAFETY: `m` points at live buffers of the sizes given.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut m, 0) };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        // SAFETY: walking the control messages the kernel wrote into `ctrl`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&m);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                    let aux = libc::CMSG_DATA(c)
                        .cast::<libc::tpacket_auxdata>()
                        .read_unaligned();
                    if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                        let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                            aux.tp_vlan_tpid
                        } else {
                            TPID_8021Q
                        };
                        let mut tag = tpid.to_be_bytes().to_vec();
                        tag.extend(aux.tp_vlan_tci.to_be_bytes());
                        buf.splice(12..12, tag);
                    }
                }
                c = libc::CMSG_NXTHDR(&m, c);
            }
        }
        Some(buf)
    }

    /// The next eCPRI frame (skipping the kernel's own IPv6 chatter).
    fn recv_ecpri(&self) -> Option<Vec<u8>> {
        loop {
            let f = self.recv()?;
            if ecpri::frame::locate(&f, None).is_ok_and(|l| l.ecpri.is_some()) {
                return Some(f);
            }
        }
    }
}

// ---------------------------------------------------------------- frames

fn config(block_size: u32, blocks: u32) -> AfPacketConfig {
    AfPacketConfig {
        interface: A.into(),
        block_size,
        blocks,
        sockets: 1,
        fanout: fhgate::config::Fanout::Hash,
    }
}

fn default_config() -> AfPacketConfig {
    config(256 << 10, 64)
}

/// `frame` with tags `(tpid, tci)` inserted after the MAC addresses, outermost first.
fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (tpid, tci) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend(tci.to_be_bytes());
    }
    f.extend(&frame[12..]);
    f
}

fn tci(pcp: u16, dei: bool, vid: u16) -> u16 {
    pcp << 13 | (dei as u16) << 12 | vid
}

/// Real 7.2x frames (C-plane and U-plane of one slot), untagged.
fn oran_frames() -> Vec<Vec<u8>> {
    let spec = fhgate::traffic::CarrierSpec {
        prbs: 51,
        antennas: 2,
        slots: 1,
        ..Default::default()
    };
    fhgate::traffic::generate(&spec)
        .expect("a valid carrier")
        .into_iter()
        .map(|f| f.data)
        .collect()
}

/// An untagged eCPRI frame of exactly `len` bytes (an IQ-data message
/// whose payload fills it), the payload a counting pattern from `seed`.
fn ecpri_frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 0xA, 0x02, 0, 0, 0, 0, 0xB, 0xAE, 0xFE, 0x10, 0x00,
    ];
    f.extend(((len - 18) as u16).to_be_bytes());
    f.extend((0..len - 18).map(|i| (i as u8).wrapping_add(seed)));
    f
}

fn non_ecpri_frames() -> Vec<Vec<u8>> {
    let mut arp = vec![0xFF; 6];
    arp.extend([0x02, 0, 0, 0, 0, 0xB, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend([0; 28]);
    let mut ipv4 = vec![0x02, 0, 0, 0, 0, 0xA, 0x02, 0, 0, 0, 0, 0xB, 0x08, 0x00];
    ipv4.extend([
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1, 0xAE, 0xFE, 0xAE,
        0xFE, 0, 8, 0, 0,
    ]);
    ipv4.extend([0; 18]);
    vec![
        arp.clone(),
        ipv4.clone(),
        tagged(&ipv4, &[(TPID_8021Q, tci(7, false, 2))]),
        tagged(&arp, &[(TPID_8021AD, 100), (TPID_8021Q, 2)]),
    ]
}

// ---------------------------------------------------------------- receiving on A

struct Bufs {
    bufs: Vec<PacketBuf>,
    lens: Vec<usize>,
    times: Vec<u64>,
}

impl Bufs {
    fn new() -> Bufs {
        Bufs {
            bufs: (0..64).map(|_| PacketBuf::new()).collect(),
            lens: vec![0; 64],
            times: vec![0; 64],
        }
    }
}

/// Frames the port receives until `want` have come or `wait` has passed,
/// with their receive times.
fn collect(rx: &mut impl RxPort, want: usize, wait: Duration) -> Vec<(Vec<u8>, u64)> {
    let mut b = Bufs::new();
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        match rx
            .recv(&mut b.bufs, &mut b.lens, &mut b.times)
            .expect("recv")
        {
            RxPoll::Frames(n) => {
                out.extend((0..n).map(|i| (b.bufs[i].bytes()[..b.lens[i]].to_vec(), b.times[i])))
            }
            RxPoll::Idle => std::thread::sleep(Duration::from_micros(200)),
            RxPoll::Closed => break,
        }
    }
    out
}

fn frames_of(v: Vec<(Vec<u8>, u64)>) -> Vec<Vec<u8>> {
    v.into_iter().map(|(f, _)| f).collect()
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---------------------------------------------------------------- tests

#[test]
fn frames_arrive_byte_exact_in_order_with_their_vlan_tags_restored() {
    in_netns(|_| {
        let (mut rx, _tx) = af_packet::open(&default_config(), 1500).expect("open");
        let b = Raw::sender(B);
        let oran = oran_frames();
        let samples = ecpri::samples::transport_samples().unwrap();
        let qinq_sample = samples
            .iter()
            .find(|s| s.name == "vlan-qinq")
            .unwrap()
            .frame
            .clone();
        let mut want = Vec::new();
        for (i, f) in oran.iter().enumerate().take(12) {
            want.push(f.clone());
            // 802.1Q with several PCP/DEI/VID values, VID 0 (priority tag) included.
            let (pcp, dei, vid) = [
                (0, false, 0),
                (5, false, 0),
                (7, false, 2),
                (3, true, 100),
                (6, false, 4094),
                (1, false, 1),
            ][i % 6];
            want.push(tagged(f, &[(TPID_8021Q, tci(pcp, dei, vid))]));
            // QinQ: an 802.1ad S-tag outside the C-tag.
            want.push(tagged(
                f,
                &[
                    (TPID_8021AD, tci(pcp, !dei, 300 + vid)),
                    (TPID_8021Q, tci(7 - pcp, dei, vid)),
                ],
            ));
        }
        want.push(qinq_sample);
        // Not eCPRI, interleaved: the port is a bridge end, so they arrive
        // too, in their place (the pipeline's passthrough policy decides).
        let junk = non_ecpri_frames();
        let want: Vec<Vec<u8>> = want
            .iter()
            .enumerate()
            .flat_map(|(i, f)| [junk[i % junk.len()].clone(), f.clone()])
            .collect();
        let t0 = now_ns();
        for f in &want {
            b.send(f);
        }
        let got = collect(&mut rx, want.len(), Duration::from_secs(5));
        let t1 = now_ns();
        assert_eq!(got.len(), want.len(), "every frame arrives");
        for (i, ((g, t), w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "frame {i} byte for byte");
            assert!(
                (t0..=t1).contains(t),
                "frame {i}: kernel time {t} within the test ({t0}..{t1})"
            );
        }
        assert!(
            collect(&mut rx, 1, Duration::from_millis(50)).is_empty(),
            "nothing else"
        );
        let s = rx.stats();
        assert_eq!(
            (s.frames, s.bytes),
            (want.len() as u64, want.iter().map(|f| f.len() as u64).sum())
        );
        assert_eq!(
            (s.too_long, s.truncated, s.malformed, s.ring_full),
            (0, 0, 0, 0)
        );
    });
}

#[test]
fn non_ecpri_frames_are_received_in_order() {
    in_netns(|_| {
        let (mut rx, _tx) = af_packet::open(&default_config(), 1500).expect("open");
        let b = Raw::sender(B);
        let mut want = Vec::new();
        for f in non_ecpri_frames() {
            for _ in 0..10 {
                b.send(&f);
                want.push(f.clone());
            }
        }
        let marker = ecpri_frame(64, 9);
        b.send(&marker);
        want.push(marker);
        let got = frames_of(collect(&mut rx, want.len(), Duration::from_secs(2)));
        assert_eq!(
            got, want,
            "ARP, IPv4, tagged and QinQ frames, then the eCPRI marker, in order"
        );
        assert!(collect(&mut rx, 1, Duration::from_millis(50)).is_empty());
        assert_eq!(rx.stats().frames, want.len() as u64);
    });
}

#[test]
fn sent_frames_arrive_unchanged_and_are_not_looped_back() {
    in_netns(|_| {
        let (mut rx, mut tx) = af_packet::open(&default_config(), 1500).expect("open");
        let b = Raw::receiver(B);
        let mut want = Vec::new();
        for (i, f) in oran_frames().iter().enumerate().take(20) {
            want.push(match i % 3 {
                0 => f.clone(),
                1 => tagged(f, &[(TPID_8021Q, tci(i as u16 % 8, false, 2))]),
                _ => tagged(
                    f,
                    &[
                        (TPID_8021AD, tci(5, true, 100)),
                        (TPID_8021Q, tci(7, false, 2)),
                    ],
                ),
            });
        }
        // Two bursts, each queued frame by frame and kicked once.
        for burst in want.chunks(10) {
            for f in burst {
                tx.send(f, 0).unwrap();
            }
            tx.flush().unwrap();
        }
        for (i, w) in want.iter().enumerate() {
            assert_eq!(b.recv_ecpri().as_ref(), Some(w), "frame {i} at B");
        }
        let s = tx.stats();
        assert_eq!(
            (s.frames, s.bytes),
            (want.len() as u64, want.iter().map(|f| f.len() as u64).sum())
        );
        assert_eq!((s.too_long, s.runt, s.ring_full), (0, 0, 0));
        // The port's own RX saw none of it (the qdisc bypass already keeps
        // it from packet taps), nor an eCPRI frame another socket sends out
        // of A through the stack (PACKET_IGNORE_OUTGOING), which B does get.
        let other = ecpri_frame(100, 42);
        Raw::sender(A).send(&other);
        assert_eq!(
            b.recv_ecpri(),
            Some(other),
            "B gets the other socket's frame"
        );
        assert!(
            collect(&mut rx, 1, Duration::from_millis(100)).is_empty(),
            "no loopback"
        );
        // A frame longer than the interface carries, and a runt, are counted, not sent.
        tx.send(&ecpri_frame(9000 + 14 + 4 + 1, 0), 0).unwrap();
        tx.send(&[0u8; 10], 0).unwrap();
        tx.flush().unwrap();
        let s = tx.stats();
        assert_eq!((s.frames, s.too_long, s.runt), (want.len() as u64, 1, 1));
        let c = tx.counters();
        assert_eq!(
            (
                c.get(PortEvent::DropTooLong),
                c.get(PortEvent::DropRunt),
                c.drops()
            ),
            (1, 1, 2),
            "{c}"
        );
        assert_eq!((c.backend(), c.interface()), ("af_packet", A));
    });
}

#[test]
fn jumbo_frames_up_to_mtu_9000_go_both_ways() {
    in_netns(|_| {
        let (mut rx, mut tx) = af_packet::open(&default_config(), 9000).expect("open");
        let (bs, br) = (Raw::sender(B), Raw::receiver(B));
        // 9000 bytes of payload: 9014 untagged, 9018 with a C-tag after the kernel lets one tag through.
        let plain = ecpri_frame(9014, 1);
        let ctag = tagged(&ecpri_frame(9014, 2), &[(TPID_8021Q, tci(4, false, 7))]);
        let small = ecpri_frame(9000, 3);
        let want = vec![plain, ctag, small];
        for f in &want {
            bs.send(f);
        }
        assert_eq!(
            frames_of(collect(&mut rx, 3, Duration::from_secs(2))),
            want,
            "B to A"
        );
        for f in &want {
            tx.send(f, 0).unwrap();
        }
        tx.flush().unwrap();
        for (i, w) in want.iter().enumerate() {
            assert_eq!(br.recv_ecpri().as_ref(), Some(w), "A to B, frame {i}");
        }
    });
}

#[test]
fn a_hundred_thousand_frames_arrive_in_order_with_none_lost() {
    const N: u64 = 100_000;
    // Frames in flight at most; the veth backlog and the ring hold far more.
    const WINDOW: u64 = 256;
    in_netns(|_| {
        let (mut rx, _tx) = af_packet::open(&default_config(), 1500).expect("open");
        let counters = rx.counters();
        let base: Vec<Vec<u8>> = oran_frames()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i % 2 == 0 {
                    tagged(f, &[(TPID_8021Q, tci(7, false, 2))])
                } else {
                    f.clone()
                }
            })
            .collect();
        // Frame k is base[k % len] with k in its last four bytes (IQ data).
        let frame = move |k: u64| {
            let mut f = base[(k % base.len() as u64) as usize].clone();
            let n = f.len();
            f[n - 4..].copy_from_slice(&(k as u32).to_be_bytes());
            f
        };
        let received = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            let r = received.clone();
            let frame_rx = frame.clone();
            let reader = s.spawn(move || {
                let mut b = Bufs::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut k = 0u64;
                while k < N && Instant::now() < deadline {
                    match rx
                        .recv(&mut b.bufs, &mut b.lens, &mut b.times)
                        .expect("recv")
                    {
                        RxPoll::Frames(n) => {
                            for i in 0..n {
                                let got = &b.bufs[i].bytes()[..b.lens[i]];
                                assert_eq!(got, &frame_rx(k)[..], "frame {k} in order and intact");
                                k += 1;
                            }
                            r.store(k, Ordering::Release);
                        }
                        _ => std::thread::yield_now(),
                    }
                }
                k
            });
            let b = Raw::sender(B);
            let deadline = Instant::now() + Duration::from_secs(60);
            for k in 0..N {
                while k - received.load(Ordering::Acquire) >= WINDOW && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                b.send(&frame(k));
            }
            assert_eq!(reader.join().expect("reader"), N, "all frames arrived");
        });
        assert_eq!(
            (counters.get(PortEvent::Frames), counters.drops()),
            (N, 0),
            "{counters}"
        );
        assert_eq!(counters.get(PortEvent::DropRingFull), 0, "{counters}");
    });
}

#[test]
fn frames_cut_by_the_ring_or_too_long_for_a_buffer_are_counted_and_dropped() {
    in_netns(|ns| {
        // 4 KiB blocks hold a 1500-byte MTU, but not a 5000-byte frame.
        let (mut rx, _tx) = af_packet::open(&config(4096, 8), 1500).expect("open");
        let b = Raw::sender(B);
        let ok = ecpri_frame(200, 4);
        b.send(&ecpri_frame(5000, 5));
        b.send(&ok);
        assert_eq!(
            frames_of(collect(&mut rx, 1, Duration::from_secs(2))),
            vec![ok.clone()]
        );
        let s = rx.stats();
        assert_eq!((s.frames, s.truncated, s.too_long), (1, 1, 0));
        let c = rx.counters();
        assert_eq!(
            (
                c.get(PortEvent::DropTruncated),
                c.get(PortEvent::DropTooLong),
                c.drops()
            ),
            (1, 0, 1),
            "{c}"
        );
        drop(rx);

        // With a 20 000-byte MTU a frame longer than a packet buffer can arrive.
        for dev in [A, B] {
            ns.ip(&["link", "set", "dev", dev, "mtu", "20000"]);
        }
        let (mut rx, _tx) = af_packet::open(&default_config(), 9000).expect("open");
        let long = ecpri_frame(PACKET_CAPACITY + 1, 6);
        let longest = ecpri_frame(PACKET_CAPACITY, 7);
        let tagged_long = tagged(&ecpri_frame(PACKET_CAPACITY - 3, 8), &[(TPID_8021Q, 5)]);
        b.send(&long);
        b.send(&tagged_long);
        b.send(&longest);
        b.send(&ok);
        assert_eq!(
            frames_of(collect(&mut rx, 2, Duration::from_secs(2))),
            vec![longest, ok]
        );
        let s = rx.stats();
        assert_eq!((s.frames, s.truncated, s.too_long), (2, 0, 2), "{s:?}");
        let c = rx.counters();
        assert_eq!(
            (
                c.get(PortEvent::Frames),
                c.get(PortEvent::DropTooLong),
                c.drops()
            ),
            (2, 2, 2),
            "{c}"
        );
    });
}

#[test]
fn open_errors_say_what_is_wrong() {
    in_netns(|ns| {
        let err = |c: &AfPacketConfig, mtu| match af_packet::open(c, mtu) {
            Ok(_) => panic!("opened {c:?} with MTU {mtu}"),
            Err(e) => e.to_string(),
        };
        let e = err(
            &AfPacketConfig {
                interface: "nope0".into(),
                ..default_config()
            },
            1500,
        );
        assert!(
            e.contains("af_packet nope0") && e.contains("no interface named `nope0`"),
            "{e}"
        );
        let e = err(&default_config(), 9001);
        assert!(
            e.contains("has MTU 9000") && e.contains("ip link set A mtu 9001"),
            "{e}"
        );
        let e = err(&config(4096, 8), 9000);
        assert!(
            e.contains("cannot hold a frame of MTU 9000") && e.contains("packet_block_kib"),
            "{e}"
        );
        ns.ip(&["link", "set", "dev", A, "down"]);
        let e = err(&default_config(), 1500);
        assert!(
            e.contains("interface `A` is down") && e.contains("ip link set A up"),
            "{e}"
        );
        ns.ip(&["link", "set", "dev", A, "up"]);
        af_packet::open(&default_config(), 9000).expect("opens once up again");
    });
}
