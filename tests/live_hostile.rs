//! A hostile network against `fhgate run` (issue 12, live ports): raw
//! frames from a packet socket in the DU namespace of the testbed, through
//! the gateway on AF_XDP, AF_PACKET and UDP, into a packet socket in the
//! RU namespace. Runts, frames at and past the MTU and the packet buffer,
//! jumbo frames, truncated eCPRI and O-RAN headers, eCPRI sizes that lie,
//! bogus VLAN stacks, PTP of every length 0..44, of wrong versions and
//! message types, over L2 and UDP; datagrams of 0 bytes to 64 KiB on the
//! UDP backend; a flood far above what the rings hold.
//!
//! For each frame the test's own reading of the standards says what must
//! happen: forwarded byte for byte (padded to 60 bytes when shorter; a
//! whole PTP event message with its residence time added to
//! correctionField and its UDP checksum still right), or dropped with a
//! counter that names the reason. The gateway's report must say so, good
//! traffic sent after the attack must still arrive, and the gateway must
//! exit cleanly. Needs root, as CI has.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

use std::ffi::CString;
use std::mem::{size_of, zeroed};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use live::{in_ns, Proc, Testbed};

/// Every side's `mtu` (the largest Ethernet payload sent): the veths carry 9000.
const SIDE_MTU: usize = 1500;
const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// Source MACs that tell the phases apart at the receiver.
const ATTACK_SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const FLOOD_SRC: [u8; 6] = [2, 0, 0, 0, 0, 3];
const GOOD_SRC: [u8; 6] = [2, 0, 0, 0, 0, 4];

// ---------------------------------------------------------------- packet sockets

/// A packet socket bound to one interface, opened in the calling thread's namespace.
struct Raw(OwnedFd);

impl Raw {
    fn open(iface: &str) -> Raw {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto as i32) };
        assert!(fd >= 0, "packet socket: {}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = CString::new(iface).unwrap();
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "no interface {iface}");
        // SAFETY: plain data; all-zero is valid.
        let mut sa: libc::sockaddr_ll = unsafe { zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = index as i32;
        // SAFETY: `sa` is a sockaddr_ll of the size given.
        let r = unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_ll).cast(), size_of::<libc::sockaddr_ll>() as u32) };
        assert_eq!(r, 0, "bind {iface}: {}", std::io::Error::last_os_error());
        let raw = Raw(fd);
        // The kernel strips a VLAN tag before packet sockets see a frame;
        // PACKET_AUXDATA gives it back. Our own sends are not received.
        raw.opt(libc::SOL_PACKET, libc::PACKET_AUXDATA, 1);
        raw.opt(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        raw.opt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 64 << 20);
        let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
        // SAFETY: a timeval of the size given.
        unsafe { libc::setsockopt(raw.0.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&tv as *const libc::timeval).cast(), size_of::<libc::timeval>() as u32) };
        raw
    }

    fn opt(&self, level: i32, name: i32, v: i32) {
        // SAFETY: an int of the size given.
        let r = unsafe { libc::setsockopt(self.0.as_raw_fd(), level, name, (&v as *const i32).cast(), size_of::<i32>() as u32) };
        assert_eq!(r, 0, "setsockopt {level}/{name}: {}", std::io::Error::last_os_error());
    }

    /// Sends one frame; the kernel's error if it refuses it.
    fn send(&self, f: &[u8]) -> std::io::Result<()> {
        // SAFETY: `f` is valid for reads of its length.
        let r = unsafe { libc::send(self.0.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        assert_eq!(r as usize, f.len(), "a short send");
        Ok(())
    }

    /// The next frame as it was on the wire (its VLAN tag put back), or
    /// `None` after 100 ms without one.
    fn recv(&self, buf: &mut [u8]) -> Option<Vec<u8>> {
        let mut cmsg = [0u64; 16];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: `msg` points at live buffers of the lengths given.
        let n = unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return None;
        }
        let mut f = buf[..n as usize].to_vec();
        // SAFETY: walking the control messages the kernel just wrote into `cmsg`.
        let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !c.is_null() {
            // SAFETY: `c` is a control message header inside `cmsg`.
            let h = unsafe { &*c };
            if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == libc::PACKET_AUXDATA {
                // SAFETY: PACKET_AUXDATA carries a tpacket_auxdata.
                let aux: libc::tpacket_auxdata = unsafe { libc::CMSG_DATA(c).cast::<libc::tpacket_auxdata>().read_unaligned() };
                if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                    let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { aux.tp_vlan_tpid } else { 0x8100 };
                    let mut tag = tpid.to_be_bytes().to_vec();
                    tag.extend((aux.tp_vlan_tci as u16).to_be_bytes());
                    f.splice(12..12, tag);
                }
            }
            // SAFETY: as above.
            c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
        }
        Some(f)
    }
}

/// Receives on `iface` in namespace `ns` until `stop` is set and the port
/// has been quiet for half a second: the frames not from `FLOOD_SRC`, in
/// arrival order, and how many came from it. Each frame from `GOOD_SRC`
/// is signalled on `good_seen`, for a sender that waits for each.
fn receiver(ns: String, iface: &'static str, stop: Arc<AtomicBool>, good_seen: Option<mpsc::Sender<()>>) -> (mpsc::Receiver<()>, std::thread::JoinHandle<(Vec<Vec<u8>>, usize)>) {
    let (ready_tx, ready) = mpsc::channel();
    let h = in_ns(ns, move || {
        let raw = Raw::open(iface);
        ready_tx.send(()).unwrap();
        let (mut got, mut flood) = (Vec::new(), 0usize);
        let mut buf = vec![0u8; 1 << 16];
        let mut quiet = Instant::now();
        loop {
            match raw.recv(&mut buf) {
                Some(f) => {
                    quiet = Instant::now();
                    if f.len() >= 12 && f[6..12] == FLOOD_SRC {
                        flood += 1;
                    } else {
                        if let (Some(s), true) = (&good_seen, f.len() >= 12 && f[6..12] == GOOD_SRC) {
                            let _ = s.send(());
                        }
                        got.push(f);
                    }
                }
                None if stop.load(Ordering::Relaxed) && quiet.elapsed() > Duration::from_millis(500) => break,
                None => {}
            }
        }
        (got, flood)
    });
    (ready, h)
}

// ---------------------------------------------------------------- frames

fn eth(src: [u8; 6], tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = DST.to_vec();
    f.extend(src);
    for (tpid, tci) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend(tci.to_be_bytes());
    }
    f.extend(ethertype.to_be_bytes());
    f.extend(payload);
    f
}

/// An eCPRI common header (revision 1) with `size` as ecpriPayload, then `payload`.
fn ecpri(msg_type: u8, size: usize, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0x10, msg_type];
    m.extend((size as u16).to_be_bytes());
    m.extend(payload);
    m
}

/// ecpriPcid, ecpriSeqid and the O-RAN common header of a DL U-plane message.
const UPLANE_HEAD: [u8; 8] = [0, 0, 0, 0x80, 0x90, 0, 0, 0];

/// A Sync of 44 bytes (IEEE 1588-2019 Table 35), sequenceId 0x1234.
fn sync() -> Vec<u8> {
    let mut m = vec![0x00, 0x02, 0x00, 0x2C, 0, 0, 0, 0];
    m.extend([0; 8]); // correctionField
    m.extend([0; 4]);
    m.extend([0x02, 0x11, 0x22, 0xFF, 0xFE, 0x33, 0x44, 0x55, 0x00, 0x01]);
    m.extend([0x12, 0x34, 0x00, 0x00]);
    m.extend([0; 10]);
    m
}

/// The Internet checksum of `b` (RFC 1071), as a sum to fold.
fn sum16(b: &[u8]) -> u32 {
    b.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32).sum()
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

const IP_SRC: [u8; 4] = [10, 77, 0, 1];
const IP_DST: [u8; 4] = [10, 77, 0, 2];

/// An IPv4/UDP frame; `udp_len`/`total_len` override the true lengths, a
/// checksum is computed unless `no_checksum`.
fn ipv4_udp(dport: u16, payload: &[u8], udp_len: Option<u16>, total_len: Option<u16>, no_checksum: bool) -> Vec<u8> {
    let ul = udp_len.unwrap_or(8 + payload.len() as u16);
    let mut udp = [319u16.to_be_bytes(), dport.to_be_bytes(), ul.to_be_bytes(), [0, 0]].concat();
    udp.extend(payload);
    if !no_checksum {
        let pseudo = [&IP_SRC[..], &IP_DST, &[0, 17], &(udp.len() as u16).to_be_bytes()].concat();
        let c = match !fold(sum16(&pseudo) + sum16(&udp)) {
            0 => 0xFFFF,
            c => c,
        };
        udp[6..8].copy_from_slice(&c.to_be_bytes());
    }
    let tl = total_len.unwrap_or(20 + udp.len() as u16);
    let mut ip = vec![0x45, 0];
    ip.extend(tl.to_be_bytes());
    ip.extend([0, 1, 0x40, 0, 64, 17, 0, 0]);
    ip.extend(IP_SRC);
    ip.extend(IP_DST);
    let c = !fold(sum16(&ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend(udp);
    eth(ATTACK_SRC, &[], 0x0800, &ip)
}

/// The attack: every frame named.
fn attacks() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |n: &str, f: Vec<u8>| v.push((n.to_string(), f));
    let a = ATTACK_SRC;
    let up = |extra: usize| [&UPLANE_HEAD[..], &vec![0; extra]].concat();
    add("runt: ethertype only", eth(a, &[], 0xAEFE, &[]));
    add("runt: eCPRI header only", eth(a, &[], 0xAEFE, &ecpri(0, 0, &[])));
    add("eCPRI size larger than the frame", eth(a, &[], 0xAEFE, &ecpri(0, 9000, &[0, 0])));
    add("eCPRI size smaller than the frame", eth(a, &[], 0xAEFE, &ecpri(0, 2, &up(40))));
    add("O-RAN header cut", eth(a, &[], 0xAEFE, &ecpri(0, 6, &UPLANE_HEAD[..6])));
    add("section header cut", eth(a, &[], 0xAEFE, &ecpri(0, 11, &up(3))));
    add("C-plane cut", eth(a, &[], 0xAEFE, &ecpri(2, 10, &[0, 0, 0, 0x80, 0x90, 0, 0, 0, 1, 1])));
    add("eCPRI revision 7", eth(a, &[], 0xAEFE, &[&[0x70, 0, 0, 28][..], &up(20)].concat()));
    add("eCPRI message type 0xFF", eth(a, &[], 0xAEFE, &ecpri(0xFF, 30, &[0; 30])));
    add("VLAN tag, nothing behind", [&DST[..], &a, &[0x81, 0, 0, 7]].concat());
    add("VLAN tag, empty eCPRI", eth(a, &[(0x8100, 7)], 0xAEFE, &[]));
    add("QinQ eCPRI", eth(a, &[(0x88A8, 5), (0x8100, 7)], 0xAEFE, &ecpri(0, 28, &up(20))));
    add("QinQ, nothing behind", [&DST[..], &a, &[0x88, 0xA8, 0, 5, 0x81, 0, 0, 7]].concat());
    add("three tags", eth(a, &[(0x88A8, 5), (0x8100, 7), (0x8100, 9)], 0xAEFE, &ecpri(0, 28, &up(20))));
    let s = sync();
    for n in 0..=44 {
        add(&format!("PTP over L2, {n} bytes"), eth(a, &[], 0x88F7, &s[..n]));
    }
    for ver in [0u8, 1, 3, 15, 0x12] {
        let mut m = s.clone();
        m[1] = ver;
        add(&format!("PTP versionPTP byte {ver:#x}"), eth(a, &[], 0x88F7, &m));
    }
    for t in 0..16u8 {
        let mut m = s.clone();
        m[0] = t;
        add(&format!("PTP messageType {t}"), eth(a, &[], 0x88F7, &m));
    }
    for (what, len) in [("65535", 65535u16), ("0", 0)] {
        let mut m = s.clone();
        m[2..4].copy_from_slice(&len.to_be_bytes());
        add(&format!("PTP messageLength {what}"), eth(a, &[], 0x88F7, &m));
    }
    for (what, c) in [("max", i64::MAX), ("min", i64::MIN)] {
        let mut m = s.clone();
        m[8..16].copy_from_slice(&c.to_be_bytes());
        add(&format!("PTP correctionField {what}"), eth(a, &[], 0x88F7, &m));
    }
    add("PTP in QinQ", eth(a, &[(0x88A8, 5), (0x8100, 7)], 0x88F7, &s));
    for n in [0, 1, 10, 33, 34, 35, 43, 44] {
        add(&format!("PTP over UDP, {n} bytes"), ipv4_udp(319, &s[..n], None, None, false));
    }
    add("PTP over UDP, UDP length past the datagram", ipv4_udp(319, &s, Some(200), None, false));
    add("PTP over UDP, UDP length under its header", ipv4_udp(319, &s, Some(4), None, false));
    add("PTP over UDP, IP length under its header", ipv4_udp(319, &s, None, Some(10), false));
    add("PTP over UDP without a checksum", ipv4_udp(320, &s, None, None, true));
    add("IPv4 runt", eth(a, &[], 0x0800, &[0x45, 0, 0, 20]));
    add("IPv6 runt", eth(a, &[], 0x86DD, &[0x60, 0, 0, 0, 0, 8, 17]));
    for n in [1500, 1501, 1504, 1508, 8990, 9000] {
        add(&format!("eCPRI, {n}-byte payload"), eth(a, &[], 0xAEFE, &ecpri(0, n - 4, &up(n - 12))));
    }
    add("eCPRI, 1504-byte payload in QinQ", eth(a, &[(0x88A8, 5), (0x8100, 7)], 0xAEFE, &ecpri(0, 1500, &up(1492))));
    for n in [1500, 1501, 9000] {
        add(&format!("ethertype 0x88B5, {n}-byte payload"), eth(a, &[], 0x88B5, &vec![0xA5; n]));
    }
    v
}

/// What the test expects of a frame, by its own reading of the standards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Forwarded as it came (padded to 60 bytes when shorter).
    Forward,
    /// Past the side's MTU: dropped and counted (the default oversize policy).
    Oversize,
    /// Never reaches a packet socket: the kernel drops a VLAN-tagged frame
    /// with fewer than the tag's 4 and 2 more bytes after the Ethernet
    /// header, before any AF_PACKET tap (AF_XDP sees it first).
    KernelDrops,
}

/// The VLAN tags (up to two) before the ethertype: the header's length.
fn header_len(f: &[u8]) -> usize {
    let mut at = 12;
    for _ in 0..2 {
        match f.get(at..at + 2) {
            Some([0x81, 0x00]) | Some([0x88, 0xA8]) if f.len() >= at + 6 => at += 4,
            _ => break,
        }
    }
    at + 2
}

fn fate(f: &[u8], backend: &str) -> Fate {
    if backend == "af_packet" && matches!(&f[12..14], [0x81, 0x00] | [0x88, 0xA8]) && f.len() < 20 {
        return Fate::KernelDrops;
    }
    if f.len() - header_len(f) > SIDE_MTU {
        return Fate::Oversize;
    }
    Fate::Forward
}

/// Where a PTP message lies: its offset and length, and the UDP checksum's
/// offset when there is one (0x88F7 through up to two tags, or IPv4 UDP to 319/320).
fn ptp_in(f: &[u8]) -> Option<(usize, usize, Option<usize>)> {
    let at = header_len(f);
    match f.get(at - 2..at)? {
        [0x88, 0xF7] => Some((at, f.len() - at, None)),
        [0x08, 0x00] => {
            let ip = &f[at..];
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            if ip.len() < 28 || ip[9] != 17 || total < 28 || total > ip.len() {
                return None;
            }
            let udp = &ip[20..total];
            let ul = u16::from_be_bytes([udp[4], udp[5]]) as usize;
            let dport = u16::from_be_bytes([udp[2], udp[3]]);
            if ul < 8 || ul > udp.len() || !(dport == 319 || dport == 320) {
                return None;
            }
            let cs = (udp[6..8] != [0, 0]).then_some(at + 26);
            Some((at + 28, ul - 8, cs))
        }
        _ => None,
    }
}

/// IEEE 1588-2019 §13: a message that is whole is an event message
/// (Ok(true)) or not; otherwise the kind of fault (the gateway's metric label).
fn ptp_check(m: &[u8]) -> Result<bool, &'static str> {
    if m.len() < 34 {
        return Err("truncated");
    }
    if m[1] & 0xF != 2 {
        return Err("version");
    }
    // Table 36, and each type's fixed body (§13.6-13.12).
    let min = match m[0] & 0xF {
        0 | 1 | 8 | 0xC | 0xD => 44,
        2 | 3 | 9 | 0xA => 54,
        0xB => 64,
        _ => return Err("message_type"),
    };
    let declared = u16::from_be_bytes([m[2], m[3]]) as usize;
    if declared < min || declared > m.len() {
        return Err("length");
    }
    Ok(m[0] & 0xF < 4)
}

/// Checks one forwarded frame against what was sent; returns what the
/// transparent clock must have done ("corrected", or a malformed kind).
fn check_forwarded(name: &str, sent: &[u8], got: &[u8]) -> Option<Result<(), &'static str>> {
    let padded_len = sent.len().max(60);
    assert_eq!(got.len(), padded_len, "{name}: forwarded at its length, padded to 60 only when shorter");
    assert!(got[sent.len()..].iter().all(|b| *b == 0), "{name}: padding is zeros");
    let ptp = ptp_in(sent).map(|(at, len, cs)| (at, len, cs, ptp_check(&sent[at..at + len])));
    let mut allowed = 0..0;
    let mut udp_cs = None;
    let verdict = match ptp {
        Some((at, _, cs, Ok(true))) => {
            allowed = at + 8..at + 16;
            udp_cs = cs;
            let old = i64::from_be_bytes(sent[allowed.clone()].try_into().unwrap());
            let new = i64::from_be_bytes(got[allowed.clone()].try_into().unwrap());
            // Residence time in ns × 2^16, under a second; saturating at the largest value (§13.3.2.9).
            let add = (new as i128) - (old as i128);
            if old != i64::MAX {
                assert!(add >= 0 && add % 65536 == 0 && add < (1_000_000_000i128 << 16), "{name}: correctionField {old:#x} -> {new:#x}");
            } else {
                assert_eq!(new, i64::MAX, "{name}: the largest correction stays");
            }
            Some(Ok(()))
        }
        Some((_, _, _, Ok(false))) => Some(Ok(())),
        Some((_, _, _, Err(kind))) => Some(Err(kind)),
        None => None,
    };
    for (i, (s, g)) in sent.iter().zip(got).enumerate() {
        let may = allowed.contains(&i) || udp_cs.is_some_and(|c| i == c || i == c + 1);
        assert!(s == g || may, "{name}: byte {i} changed from {s:#04x} to {g:#04x}");
    }
    if let Some(c) = udp_cs {
        // The whole UDP checksum, recomputed here: still right after the correction.
        let at = header_len(got);
        let ip = &got[at..];
        let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        let udp = &ip[20..total];
        let pseudo = [&ip[12..20], &[0, 17], &(udp.len() as u16).to_be_bytes()].concat();
        assert_eq!(fold(sum16(&pseudo) + sum16(udp)), 0xFFFF, "{name}: UDP checksum at {c} right after the correction");
    }
    verdict
}

// ---------------------------------------------------------------- gateway

/// A gateway configuration with `backend` on both sides, `side_extra`
/// added to each side and `extra` after them.
fn config(dir: &Path, backend: &str, side_extra: &str, extra: &str) -> PathBuf {
    let side = |name: &str, iface: &str| {
        format!("[{name}]\nbackend = \"{backend}\"\ninterface = \"{iface}\"\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = {SIDE_MTU}\n{side_extra}\n")
    };
    let p = dir.join(format!("hostile-{backend}.toml"));
    std::fs::write(&p, format!("{}{}{extra}", side("du", "gw-du"), side("ru", "gw-ru"))).unwrap();
    p
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fhgate-hostile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gateway(tb: &Testbed, cfg: &Path) -> Proc {
    let mut p = Proc::spawn(tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap()]));
    p.wait_for("running;", Duration::from_secs(60));
    p
}

/// A metric of the report's Prometheus text, 0 when absent (counters
/// that never counted are not all printed).
fn metric(report: &str, key: &str) -> u64 {
    report.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' '))).map_or(0, |v| v.trim().parse().unwrap())
}

/// `run: P eCPRI packets in, Q out, F frames in, G out, ...`: (F, G).
fn frames_in_out(report: &str) -> (u64, u64) {
    let l = report.lines().find(|l| l.starts_with("run: ")).unwrap_or_else(|| panic!("no run line:\n{report}"));
    let w: Vec<&str> = l.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let at = |word: &str| w.iter().position(|x| *x == word).unwrap();
    let f = at("frames");
    (w[f - 1].parse().unwrap(), w[f + 2].parse().unwrap())
}

/// Every flow the report counts out was counted in at least as often:
/// no flow gets frames it never received.
fn flows_out_within_in(report: &str, what: &str) {
    for l in report.lines().filter(|l| l.starts_with("fhgate_packets_out_total{")) {
        let (labels, out) = l.trim_start_matches("fhgate_packets_out_total").rsplit_once(' ').unwrap();
        let out: u64 = out.parse().unwrap();
        let inn = metric(report, &format!("fhgate_packets_in_total{labels}"));
        assert!(out <= inn, "{what}: flow {labels} sent {out} packets but received {inn}\n{report}");
    }
}

/// The 32 frames of a shipped capture (valid DL/UL eCPRI for this config), from `GOOD_SRC`.
fn good_frames() -> Vec<Vec<u8>> {
    let c = fhgate::io::pcap::read_all(&cli::repo().join("captures/du_16prb_bfp8_exp0-15.pcap")).unwrap();
    c.into_iter()
        .map(|f| {
            let mut d = f.data;
            d[6..12].copy_from_slice(&GOOD_SRC);
            d
        })
        .collect()
}

/// Asserts the good frames arrived, in order, as sent (padded when short).
fn good_arrived(got: &[Vec<u8>], good: &[Vec<u8>], what: &str) {
    let arrived: Vec<&Vec<u8>> = got.iter().filter(|f| f[6..12] == GOOD_SRC).collect();
    assert_eq!(arrived.len(), good.len(), "{what}: good frames after the attack");
    for (g, s) in arrived.iter().zip(good) {
        assert_eq!(&g[..s.len()], &s[..], "{what}: a good frame arrived changed");
    }
}

// ---------------------------------------------------------------- tests

fn hostile_frames(backend: &str, tag: &str) {
    let (tb, _serial) = Testbed::up(tag);
    let dir = scratch(tag);
    let gw = gateway(&tb, &config(&dir, backend, "", ""));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready, rx) = receiver(tb.ns("ru"), "ru0", stop.clone(), None);
    ready.recv_timeout(Duration::from_secs(10)).expect("the receiver is up");
    let frames = attacks();
    let good = good_frames();
    let (to_send, good2) = (frames.clone(), good.clone());
    let refused = in_ns(tb.ns("du"), move || {
        let raw = Raw::open("du0");
        let mut refused = Vec::new();
        for (name, f) in &to_send {
            // A pace the rings never drop at: this phase tests content, the flood below tests load.
            std::thread::sleep(Duration::from_micros(300));
            if let Err(e) = raw.send(f) {
                refused.push(format!("{name}: {e}"));
            }
        }
        for f in &good2 {
            std::thread::sleep(Duration::from_micros(300));
            raw.send(f).expect("a good frame is sent");
        }
        refused
    })
    .join()
    .unwrap();
    assert!(refused.is_empty(), "the kernel refused to send: {refused:?}");
    std::thread::sleep(Duration::from_millis(300));
    let report = gw.report();
    stop.store(true, Ordering::Relaxed);
    let (got, _) = rx.join().unwrap();

    // Frame by frame, in order.
    let attack_got: Vec<&Vec<u8>> = got.iter().filter(|f| f[6..12] == ATTACK_SRC).collect();
    let mut next = attack_got.iter();
    let (mut oversize, mut kernel, mut corrected) = (0u64, 0u64, 0u64);
    let mut malformed = std::collections::BTreeMap::<&str, u64>::new();
    for (name, f) in &frames {
        match fate(f, backend) {
            Fate::Oversize => oversize += 1,
            Fate::KernelDrops => kernel += 1,
            Fate::Forward => {
                let g = next.next().unwrap_or_else(|| panic!("{backend}: `{name}` ({} bytes) did not arrive\n{report}", f.len()));
                match check_forwarded(&format!("{backend}: {name}"), f, g) {
                    Some(Ok(())) if ptp_in(f).is_some_and(|(at, len, _)| ptp_check(&f[at..at + len]) == Ok(true)) => corrected += 1,
                    Some(Err(kind)) => *malformed.entry(kind).or_default() += 1,
                    _ => {}
                }
            }
        }
    }
    assert!(next.next().is_none(), "{backend}: more frames arrived than were forwarded");
    good_arrived(&got, &good, backend);

    // The report says what happened to each.
    for kind in ["truncated", "version", "message_type", "length"] {
        let n = metric(&report, &format!("fhgate_ptp_malformed_total{{direction=\"dl\",kind=\"{kind}\"}}"));
        assert_eq!(n, malformed.get(kind).copied().unwrap_or(0), "{backend}: malformed PTP ({kind}) counted\n{report}");
    }
    let counted_corrected: u64 = report
        .lines()
        .filter(|l| l.starts_with("fhgate_ptp_messages_total{direction=\"dl\"") && l.contains("action=\"corrected\""))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted_corrected, corrected, "{backend}: PTP event messages corrected\n{report}");
    assert_eq!(metric(&report, "fhgate_oversize_total{outcome=\"dropped\"}"), oversize, "{backend}: oversize frames dropped and counted\n{report}");
    assert!(report.contains(&format!("oversize (dl): policy drop (--oversize, or the receiving side's oversize key); {oversize} frames")), "{report}");
    assert!(report.contains("oversize (ul): policy drop (--oversize, or the receiving side's oversize key); 0 frames"), "{backend}: nothing was too big UL\n{report}");
    let sent = (frames.len() + good.len()) as u64;
    let (fin, fout) = frames_in_out(&report);
    assert_eq!(fin, sent - kernel, "{backend}: every frame that reached the port was received\n{report}");
    assert_eq!(fout, fin - oversize, "{backend}: every frame received left, but the oversize ones\n{report}");
    flows_out_within_in(&report, backend);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn af_xdp_survives_hostile_frames_and_counts_each_drop() {
    hostile_frames("af_xdp", "hx");
}

#[test]
fn af_packet_survives_hostile_frames_and_counts_each_drop() {
    hostile_frames("af_packet", "hp");
}

/// Frames far faster than the gateway takes them, into rings made small
/// on purpose: what does not fit is dropped and counted by the port, what
/// was received all leaves, and good frames sent after the flood arrive.
fn flood(backend: &str, tag: &str, small_rings: &str, ring_drops: &[&str]) {
    let (tb, _serial) = Testbed::up(tag);
    let dir = scratch(tag);
    let gw = gateway(&tb, &config(&dir, backend, small_rings, ""));
    let stop = Arc::new(AtomicBool::new(false));
    let (seen_tx, seen) = mpsc::channel();
    let (ready, rx) = receiver(tb.ns("ru"), "ru0", stop.clone(), Some(seen_tx));
    ready.recv_timeout(Duration::from_secs(10)).expect("the receiver is up");
    let flood: Vec<Vec<u8>> = attacks()
        .into_iter()
        .map(|(_, mut f)| {
            f[6..12].copy_from_slice(&FLOOD_SRC);
            f
        })
        .filter(|f| fate(f, backend) != Fate::KernelDrops)
        .collect();
    let good = good_frames();
    let good2 = good.clone();
    const N: usize = 200_000;
    let (secs, refused) = in_ns(tb.ns("du"), move || {
        let raw = Raw::open("du0");
        let t = Instant::now();
        let refused = (0..N).filter(|i| raw.send(&flood[i % flood.len()]).is_err()).count();
        let secs = t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(500));
        // One at a time, each awaited: the rings are tiny on purpose, and on
        // a loaded machine a paced train could overrun them again (counted,
        // but then this would not show that traffic crosses after a flood).
        for (i, f) in good2.iter().enumerate() {
            raw.send(f).expect("a good frame is sent");
            seen.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| panic!("good frame {i} did not cross within 2 s of the flood"));
        }
        (secs, refused)
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let report = gw.report();
    stop.store(true, Ordering::Relaxed);
    let (got, flood_got) = rx.join().unwrap();
    let (fin, fout) = frames_in_out(&report);
    let labels = format!("side=\"du\",half=\"rx\",backend=\"{backend}\",interface=\"gw-du\"");
    let dropped: u64 = ring_drops.iter().map(|r| metric(&report, &r.replace("LABELS", &labels))).sum();
    println!("{backend}: {N} frames in {secs:.2} s ({:.0} kpps), {refused} refused by the sender's kernel; gateway took {fin}, its port counted {dropped} dropped ({ring_drops:?}); {flood_got} reached the RU", N as f64 / secs / 1e3);
    assert!(dropped > 0, "{backend}: the flood overran the rings and the port counted it\n{report}");
    assert!(fin + dropped <= (N + good.len()) as u64, "{backend}: no more counted than sent\n{report}");
    let oversize = metric(&report, "fhgate_oversize_total{outcome=\"dropped\"}");
    assert_eq!(fout, fin - oversize, "{backend}: every frame received left, but the oversize ones\n{report}");
    good_arrived(&got, &good, &format!("{backend} after the flood\n{report}"));
    flows_out_within_in(&report, backend);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn af_xdp_flood_is_counted_and_good_traffic_flows_after() {
    let k = |c: &str| format!("fhgate_port_kernel_total{{LABELS,counter=\"{c}\"}}");
    // The kernel's per-frame drops: RX ring full, or no buffer (fill ring
    // empty, which it also counts in fill_ring_empty: not added twice).
    flood("af_xdp", "fx", "xdp_ring_size = 64\numem_frames = 128\n", &[&k("rx_ring_full"), &k("rx_dropped")]);
}

#[test]
fn af_packet_flood_is_counted_and_good_traffic_flows_after() {
    flood("af_packet", "fp", "packet_block_kib = 4\npacket_blocks = 2\n", &["fhgate_port_drops_total{LABELS,reason=\"ring_full\"}"]);
}

/// Datagrams of 0 bytes to 64 KiB into a UDP side, and frames that are
/// not eCPRI out of it: what a packet buffer holds crosses as a frame
/// whose UDP payload is the datagram, what it does not is dropped and
/// counted as truncated; past the RU side's MTU, the oversize policy drops
/// it; frames that cannot become a datagram are counted as not eCPRI.
#[test]
fn udp_side_takes_datagrams_of_any_size_and_counts_what_it_drops() {
    let (tb, _serial) = Testbed::up("hu");
    let dir = scratch("hu");
    let side = |name: &str, port: &str| format!("[{name}]\n{port}\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n\n");
    let cfg = dir.join("udp.toml");
    let du = side("du", "backend = \"udp\"\nbind = \"10.77.1.2:45054\"\npeer = \"10.77.1.1:45054\"");
    std::fs::write(&cfg, du + &side("ru", "backend = \"af_packet\"\ninterface = \"gw-ru\"")).unwrap();
    let gw = gateway(&tb, &cfg);
    let stop = Arc::new(AtomicBool::new(false));
    let (ready, rx) = receiver(tb.ns("ru"), "ru0", stop.clone(), None);
    ready.recv_timeout(Duration::from_secs(10)).expect("the receiver is up");
    let big = |n: usize| ecpri(0, n - 4, &[&UPLANE_HEAD[..], &vec![0x5A; n - 12]].concat());
    // A packet buffer holds 16 384 bytes, 42 of them the synthetic headers.
    let datagrams: Vec<(&str, Vec<u8>)> = vec![
        ("0 bytes", vec![]),
        ("1 byte", vec![0x10]),
        ("eCPRI header only", ecpri(0, 0, &[])),
        ("eCPRI size past the datagram", ecpri(0, 5000, &UPLANE_HEAD)),
        ("O-RAN header cut", ecpri(0, 6, &UPLANE_HEAD[..6])),
        ("1472 bytes", big(1472)),
        ("8972 bytes: a 9000-byte IP packet, the RU side's MTU", big(8972)),
        ("8973 bytes: past the RU side's MTU", big(8973)),
        ("16342 bytes: a full packet buffer", big(16342)),
        ("16343 bytes", big(16343)),
        ("30000 bytes", big(30000)),
        ("65507 bytes", big(65507)),
    ];
    let sent: Vec<Vec<u8>> = datagrams.iter().map(|d| d.1.clone()).collect();
    let good = good_frames();
    let good2 = good.clone();
    in_ns(tb.ns("du"), move || {
        let s = UdpSocket::bind("10.77.1.1:45054").expect("bind in the DU namespace");
        for d in &sent {
            std::thread::sleep(Duration::from_millis(2));
            s.send_to(d, "10.77.1.2:45054").expect("sent");
        }
    })
    .join()
    .unwrap();
    // UL: Ethernet frames from the RU into the UDP side: ARP cannot become a datagram; eCPRI can.
    let (dg_ready_tx, dg_ready) = mpsc::channel();
    let du_rx = in_ns(tb.ns("du"), move || {
        let s = UdpSocket::bind("10.77.1.1:45054").expect("bind in the DU namespace");
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        dg_ready_tx.send(()).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = Vec::new();
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    });
    dg_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    in_ns(tb.ns("ru"), move || {
        let raw = Raw::open("ru0");
        raw.send(&eth(ATTACK_SRC, &[], 0x0806, &[0; 28])).unwrap();
        for f in &good2 {
            std::thread::sleep(Duration::from_micros(300));
            raw.send(f).unwrap();
        }
    })
    .join()
    .unwrap();
    let dl_datagrams = du_rx.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let report = gw.report();
    stop.store(true, Ordering::Relaxed);
    let (got, _) = rx.join().unwrap();

    // DL: each datagram that fits crossed whole, as the UDP payload of an IPv4 frame.
    let frames: Vec<&Vec<u8>> = got.iter().filter(|f| f.len() > 42 && f[12..14] == [0x08, 0x00]).collect();
    let crossed: Vec<&(&str, Vec<u8>)> = datagrams.iter().filter(|d| d.1.len() <= 8972).collect();
    assert_eq!(frames.len(), crossed.len(), "datagrams that fit crossed\n{report}");
    for (f, (name, d)) in frames.iter().zip(&crossed) {
        let udp_len = u16::from_be_bytes([f[38], f[39]]) as usize;
        assert_eq!(udp_len, 8 + d.len(), "{name}: UDP length");
        assert_eq!(&f[42..42 + d.len()], &d[..], "{name}: the datagram crossed unchanged");
        assert_eq!(&f[26..34], &[10, 77, 1, 1, 10, 77, 1, 2], "{name}: sender and bound address");
    }
    let du_rx = |what: &str| metric(&report, &format!("fhgate_port_drops_total{{side=\"du\",half=\"rx\",backend=\"udp\",interface=\"10.77.1.2:45054\",reason=\"{what}\"}}"));
    assert_eq!(du_rx("truncated"), 3, "datagrams larger than a packet buffer are counted\n{report}");
    assert_eq!(metric(&report, "fhgate_oversize_total{outcome=\"dropped\"}"), 2, "past the RU side's MTU: dropped, counted\n{report}");
    let du_tx = |what: &str| metric(&report, &format!("fhgate_port_drops_total{{side=\"du\",half=\"tx\",backend=\"udp\",interface=\"10.77.1.2:45054\",reason=\"{what}\"}}"));
    assert_eq!(du_tx("not_ecpri"), 1, "the ARP frame cannot be a datagram: counted\n{report}");
    // UL: the good frames arrive as their eCPRI bytes.
    assert_eq!(dl_datagrams.len(), good.len(), "every eCPRI frame from the RU reached the DU as a datagram\n{report}");
    for (d, f) in dl_datagrams.iter().zip(&good) {
        assert_eq!(&d[..], &f[14..], "an eCPRI frame's datagram is its eCPRI bytes");
    }
    // Flows out are the flows in: eCPRI over UDP is counted out as it was counted in.
    let line = report.lines().find(|l| l.starts_with("run: ")).unwrap();
    let w: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let (pin, pout): (u64, u64) = (w[1].parse().unwrap(), w[5].parse().unwrap());
    assert_eq!(pout + 2, pin, "eCPRI packets out are those in but the two oversize ones: {line}\n{report}");
    flows_out_within_in(&report, "udp");
    std::fs::remove_dir_all(&dir).ok();
}

/// A reload (SIGHUP) that the profile check refuses says so, and that
/// the running chain carries on; packets have been moving all along.
#[test]
fn a_refused_reload_says_the_running_chain_carries_on() {
    let tr = cli::translators();
    let (tb, _serial) = Testbed::up("hr");
    let dir = scratch("hr");
    let side = |name: &str, iface: &str, dl: &str| format!("[{name}]\nbackend = \"af_packet\"\ninterface = \"{iface}\"\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"{dl}\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n\n");
    let text = |out: u32| {
        format!(
            "{}{}[[translator]]\nname = \"widen\"\npath = \"{}\"\nconfig = {{ in_width = 8, out_width = {out} }}\n\n[[chain]]\nselect = \"dir=dl\"\ntranslators = [\"widen\"]\n",
            side("du", "gw-du", "bfp:8"),
            side("ru", "gw-ru", "bfp:12"),
            tr.join("bfp_width.wasm").display()
        )
    };
    let cfg = dir.join("reload.toml");
    std::fs::write(&cfg, text(12)).unwrap();
    let mut gw = gateway(&tb, &cfg);
    std::fs::write(&cfg, text(9)).unwrap();
    gw.signal(libc::SIGHUP);
    gw.wait_for("reload failed", Duration::from_secs(60));
    let line = gw.seen.iter().find(|l| l.contains("reload failed")).unwrap().clone();
    gw.drain();
    let log = gw.seen.join("\n");
    let report = gw.report();
    assert!(line.contains("still running the previous translators"), "{line}");
    assert!(log.contains("reload refused; the running chain carries on") && log.contains("chain gives bfp:9"), "says what was refused and why:\n{log}");
    assert!(!log.contains("before any packet moved"), "a running gateway has moved packets:\n{log}");
    assert!(report.starts_with("run: ") || report.contains("\nrun: "), "{report}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The gateway's own interface deleted while traffic crosses (the veth
/// goes with its peer): the gateway stops by itself, without a signal,
/// prints its report and exits non-zero naming the port that is gone.
fn interface_deleted(backend: &str, tag: &str) {
    let (tb, _serial) = Testbed::up(tag);
    let dir = scratch(tag);
    let cfg = config(&dir, backend, "", "");
    let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "--json", "-c", cfg.to_str().unwrap()]));
    gw.wait_for("running;", Duration::from_secs(60));
    let good = good_frames();
    let ru = tb.ns("ru");
    in_ns(tb.ns("du"), move || {
        let raw = Raw::open("du0");
        for (i, f) in good.iter().cycle().take(600).enumerate() {
            if i == 300 {
                let out = std::process::Command::new("ip").args(["-n", &ru, "link", "del", "ru0"]).output().expect("ip");
                assert!(out.status.success(), "ip link del: {}", String::from_utf8_lossy(&out.stderr));
            }
            std::thread::sleep(Duration::from_micros(500));
            raw.send(f).expect("a frame is sent");
        }
    })
    .join()
    .unwrap();
    let (st, json, log) = gw.finish(Duration::from_secs(15));
    assert_eq!(st.code(), Some(2), "{backend}: exits with an error of its own:\n{log}");
    assert!(log.contains(&format!("{backend} gw-ru: the interface is gone")), "{backend}: the error names the port:\n{log}");
    let ports = json["ports"].to_string();
    assert!(ports.contains("gw-ru") && json["frames_in"].as_u64().is_some_and(|n| n >= 300), "{backend}: the report is still given: {json}\n{log}");
    // The DL stage is the one that failed (its TX port died): its counters
    // are still in the report (they used to be lost: "0 eCPRI packets in").
    let dl_in = packets(&json, "packets_in");
    assert!(dl_in >= 300, "{backend}: the failed DL stage's packets in: {dl_in}\n{json}\n{log}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The sum of one counter over the flows of `run --json`'s report (only
/// the DU sends here, so they are the DL pipeline's).
fn packets(json: &serde_json::Value, key: &str) -> u64 {
    json["flows"].as_array().into_iter().flatten().map(|f| f[key].as_u64().unwrap_or(0)).sum()
}

/// The DU side on UDP, its interface deleted while datagrams cross: a
/// bound socket neither fails nor receives once its address is gone, so
/// the gateway looks (when idle) and stops, naming the port, with the
/// report, the failed stage's counters included.
#[test]
fn udp_interface_deleted_while_running_stops_with_a_named_error_and_a_report() {
    let (tb, _serial) = Testbed::up("du");
    let dir = scratch("du");
    let side = |name: &str, port: &str| format!("[{name}]\n{port}\neaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n\n");
    let cfg = dir.join("udp.toml");
    let du = side("du", "backend = \"udp\"\nbind = \"10.77.1.2:45054\"\npeer = \"10.77.1.1:45054\"");
    std::fs::write(&cfg, du + &side("ru", "backend = \"af_packet\"\ninterface = \"gw-ru\"")).unwrap();
    let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "--json", "-c", cfg.to_str().unwrap()]));
    gw.wait_for("running;", Duration::from_secs(60));
    let good = good_frames();
    let du_ns = tb.ns("du");
    in_ns(tb.ns("du"), move || {
        let s = UdpSocket::bind("10.77.1.1:45054").expect("bind in the DU namespace");
        for f in good.iter().cycle().take(300) {
            std::thread::sleep(Duration::from_micros(500));
            s.send_to(&f[14..], "10.77.1.2:45054").expect("sent");
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = std::process::Command::new("ip").args(["-n", &du_ns, "link", "del", "du0"]).output().expect("ip");
    assert!(out.status.success(), "ip link del: {}", String::from_utf8_lossy(&out.stderr));
    let (st, json, log) = gw.finish(Duration::from_secs(15));
    assert_eq!(st.code(), Some(2), "exits with an error of its own:\n{log}");
    assert!(log.contains("udp 10.77.1.2:45054: the interface is gone") && log.contains("no interface has 10.77.1.2"), "the error names the port:\n{log}");
    assert!(json["ports"].to_string().contains("10.77.1.2:45054"), "the report is still given: {json}\n{log}");
    let dl_in = packets(&json, "packets_in");
    assert_eq!(dl_in, 300, "every datagram is counted in the failed DL stage\n{json}\n{log}");
    assert_eq!(packets(&json, "packets_out"), 300, "and out\n{json}\n{log}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Sends the good frames `rounds` times from the DU namespace's du0, then
/// deletes du0 (and its peer gw-du with it); returns how many were sent.
fn send_then_delete_du0(tb: &Testbed, rounds: usize) -> usize {
    let good = good_frames();
    let sent = good.len() * rounds;
    in_ns(tb.ns("du"), move || {
        let raw = Raw::open("du0");
        for f in good.iter().cycle().take(sent) {
            std::thread::sleep(Duration::from_micros(500));
            raw.send(f).expect("a frame is sent");
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = std::process::Command::new("ip").args(["-n", &tb.ns("du"), "link", "del", "du0"]).output().expect("ip");
    assert!(out.status.success(), "ip link del: {}", String::from_utf8_lossy(&out.stderr));
    sent
}

/// A run that captures a live DU into a file fails when the DU's port is
/// deleted: the frames it captured are kept as `F.partial` (an existing
/// `F.partial` is left alone: `F.partial.1`), `F` stays as it was, and
/// stderr and `--json` say where they are.
#[test]
fn a_failed_run_keeps_its_capture_as_partial_beside_what_it_leaves_alone() {
    let (tb, _serial) = Testbed::up("pk");
    let dir = scratch("pk");
    let capture = dir.join("ru-side.pcap");
    std::fs::write(&capture, b"precious").unwrap();
    let older = dir.join("ru-side.pcap.partial");
    std::fs::write(&older, b"an earlier partial").unwrap();
    let common = "eaxc_bits = \"4,4,4,4\"\ncarrier_prbs = 51\nnumerology = 1\ndl_comp = \"bfp:8\"\nul_comp = \"bfp:8\"\ncomp_hdr = \"present\"\nmtu = 9000\n";
    let cfg = dir.join("capture.toml");
    std::fs::write(&cfg, format!("[du]\nbackend = \"af_packet\"\ninterface = \"gw-du\"\n{common}\n[ru]\nbackend = \"pcap\"\noutput = \"{}\"\n{common}", capture.display())).unwrap();
    // --force: even a run allowed to replace the capture leaves it when it fails.
    let mut gw = Proc::spawn(tb.fhgate("gw", &["run", "--json", "--force", "-c", cfg.to_str().unwrap()]));
    gw.wait_for("running;", Duration::from_secs(60));
    let sent = send_then_delete_du0(&tb, 10);
    let (st, json, log) = gw.finish(Duration::from_secs(15));
    assert_eq!(st.code(), Some(2), "the run failed:\n{log}");
    assert!(log.contains("af_packet gw-du: the interface is gone"), "{log}");
    assert_eq!(std::fs::read(&capture).unwrap(), b"precious", "the target is left as it was");
    assert_eq!(std::fs::read(&older).unwrap(), b"an earlier partial", "an existing .partial is left as it was");
    let kept = dir.join("ru-side.pcap.partial.1");
    let frames = fhgate::io::pcap::read_all(&kept).unwrap_or_else(|e| panic!("{}: {e:#}\n{log}", kept.display()));
    let ours = frames.iter().filter(|f| f.data.len() > 12 && f.data[6..12] == GOOD_SRC).count();
    assert_eq!(ours, sent, "every frame captured before the failure is kept\n{log}");
    assert!(log.contains(&format!("kept as {}", kept.display())) && log.contains(&format!("{} already exists", older.display())), "stderr says where, and what it skipped:\n{log}");
    let p = &json["partial"][0];
    assert_eq!((p["output"].as_str(), p["kept_as"].as_str(), p["frames"].as_u64()), (Some(capture.to_str().unwrap()), Some(kept.to_str().unwrap()), Some(frames.len() as u64)), "{json}");
    assert_eq!(p["skipped"][0].as_str(), Some(older.to_str().unwrap()), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn af_xdp_interface_deleted_while_running_stops_with_a_named_error_and_a_report() {
    interface_deleted("af_xdp", "dx");
}

#[test]
fn af_packet_interface_deleted_while_running_stops_with_a_named_error_and_a_report() {
    interface_deleted("af_packet", "dp");
}

/// A port that is down when the gateway starts: refused at once, naming
/// the interface and the command that brings it up.
#[test]
fn a_port_down_at_start_is_refused_naming_it() {
    let (tb, _serial) = Testbed::up("dd");
    let dir = scratch("dd");
    let out = std::process::Command::new("ip").args(["-n", &tb.ns("gw"), "link", "set", "gw-ru", "down"]).output().expect("ip");
    assert!(out.status.success());
    for backend in ["af_xdp", "af_packet"] {
        let cfg = config(&dir, backend, "", "");
        let out = tb.fhgate("gw", &["run", "-c", cfg.to_str().unwrap()]).output().expect("fhgate runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{backend}: refused:\n{err}");
        assert!(err.contains("interface `gw-ru` is down") && err.contains("ip link set gw-ru up"), "{backend}: names it and the fix:\n{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `sink --output F` on a port whose interface is deleted while it
/// receives: it fails naming the port (a receive ring on a deleted
/// interface only goes quiet: it used to end by its idle timeout as if
/// the stream had ended), keeps what it captured as `F.partial`, leaves
/// `F` as it was, and its `--json` report says so.
#[test]
fn a_sink_whose_interface_is_deleted_keeps_its_capture_as_partial() {
    let (tb, _serial) = Testbed::up("sk");
    let dir = scratch("sk");
    let capture = dir.join("sink.pcap");
    std::fs::write(&capture, b"precious").unwrap();
    // --force: even a sink allowed to replace the capture leaves it when it fails.
    let mut sink = Proc::spawn(tb.fhgate("gw", &["sink", "--port", "af_packet:gw-du", "--output", capture.to_str().unwrap(), "--force", "--no-iq", "--idle-timeout", "30", "--json"]));
    sink.wait_for("sink receiving", Duration::from_secs(60));
    let sent = send_then_delete_du0(&tb, 4);
    let (st, json, log) = sink.finish(Duration::from_secs(15));
    assert_eq!(st.code(), Some(2), "the sink failed:\n{log}");
    assert!(log.contains("af_packet gw-du: the interface is gone"), "{log}");
    assert_eq!(std::fs::read(&capture).unwrap(), b"precious", "the target is left as it was");
    let kept = dir.join("sink.pcap.partial");
    let frames = fhgate::io::pcap::read_all(&kept).unwrap_or_else(|e| panic!("{}: {e:#}\n{log}", kept.display()));
    assert_eq!(frames.iter().filter(|f| f.data.len() > 12 && f.data[6..12] == GOOD_SRC).count(), sent, "{log}");
    assert_eq!(json["partial"][0]["kept_as"].as_str(), Some(kept.to_str().unwrap()), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}
