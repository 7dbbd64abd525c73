//! Live ports: opening a configured backend on a real interface or
//! socket, with the checks that turn a missing capability into an error
//! that says what is missing and what to do about it.
//!
//! Every live backend gives one receive half and one transmit half of the
//! same port. They are used by different pipeline threads (RX of one
//! direction, TX of the other), so each half owns its own buffers and
//! rings and the two share nothing mutable.

use std::fmt;

use super::port_stats::PortCounters;
use super::{RxPort, TxPort};
use crate::config::Backend;

/// Why a live port could not be opened: which port, what is wrong, and
/// what to do about it.
#[derive(Debug)]
pub struct OpenError {
    /// The port, e.g. `af_xdp veth-gw-du queue 0`.
    pub port: String,
    /// What is missing or wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
    /// The system error behind it, if any.
    pub source: Option<std::io::Error>,
}

impl OpenError {
    /// An error for `port`.
    pub fn new(port: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        OpenError { port: port.into(), problem: problem.into(), fix: fix.into(), source: None }
    }

    /// The same, with the system error behind it.
    pub fn with_source(mut self, e: std::io::Error) -> Self {
        self.source = Some(e);
        self
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.port, self.problem)?;
        if let Some(e) = &self.source {
            write!(f, " ({e})")?;
        }
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// The two halves of an open live port, and their counters.
pub struct LivePort {
    /// Frames arriving on the port.
    pub rx: Box<dyn RxPort>,
    /// Frames leaving by the port.
    pub tx: Box<dyn TxPort>,
    /// What the receive half counts, readable after `rx` has moved into a pipeline.
    pub rx_counters: PortCounters,
    /// What the transmit half counts.
    pub tx_counters: PortCounters,
}

/// Opens a live backend. `mtu` is the largest Ethernet payload the
/// gateway sends out of this port; the interface must carry it.
pub fn open(backend: &Backend, mtu: usize) -> Result<LivePort, OpenError> {
    match backend {
        Backend::AfXdp(c) => {
            let (rx, tx) = super::af_xdp::open(c, mtu)?;
            Ok(LivePort { rx_counters: rx.counters(), tx_counters: tx.counters(), rx: Box::new(rx), tx: Box::new(tx) })
        }
        Backend::AfPacket(c) => {
            let (rx, tx) = super::af_packet::open(c, mtu)?;
            Ok(LivePort { rx_counters: rx.counters(), tx_counters: tx.counters(), rx: Box::new(rx), tx: Box::new(tx) })
        }
        Backend::Udp(c) => {
            let (rx, tx) = super::udp::open(c, mtu)?;
            Ok(LivePort { rx_counters: rx.counters(), tx_counters: tx.counters(), rx: Box::new(rx), tx: Box::new(tx) })
        }
        Backend::Pcap { .. } => Err(OpenError::new("pcap", "a capture file is not a live port", "use fhgate::io::pcap")),
    }
}

/// Opens a live backend as one [`LivePort`] per lane: each AF_XDP queue
/// of `queues`, each AF_PACKET socket of `sockets` (one for the rest).
/// Each lane's halves are independent of the others', so each can be
/// driven by a thread of its own.
pub fn open_lanes(backend: &Backend, mtu: usize) -> Result<Vec<LivePort>, OpenError> {
    match backend {
        Backend::AfXdp(c) => Ok(super::af_xdp::open_queues(c, mtu)?
            .into_iter()
            .map(|(rx, tx)| LivePort { rx_counters: rx.counters(), tx_counters: tx.counters(), rx: Box::new(rx), tx: Box::new(tx) })
            .collect()),
        Backend::AfPacket(c) => Ok(super::af_packet::open_sockets(c, mtu)?
            .into_iter()
            .map(|(rx, tx)| LivePort { rx_counters: rx.counters(), tx_counters: tx.counters(), rx: Box::new(rx), tx: Box::new(tx) })
            .collect()),
        other => open(other, mtu).map(|p| vec![p]),
    }
}

/// An interface that is up, has a carrier and carries the MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// ifindex.
    pub index: u32,
    /// Its MTU (largest Ethernet payload).
    pub mtu: usize,
}

/// Looks up `name` and checks that it is up, has a carrier, and that its
/// MTU carries `mtu` bytes of Ethernet payload. `port` names the port in
/// errors. Asks the kernel with ioctls on a socket of this thread's
/// network namespace (sysfs shows the namespace it was mounted in, which
/// after `setns` is not this one).
pub fn check_interface(port: &str, name: &str, mtu: usize) -> Result<InterfaceInfo, OpenError> {
    let missing = || {
        OpenError::new(
            port,
            format!("there is no interface named `{name}` in this network namespace"),
            "check the name with `ip link`, or run fhgate in the namespace that has it (`ip netns exec NS fhgate ...`)",
        )
    };
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(missing());
    }
    // SAFETY: a plain socket call; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(OpenError::new(port, "cannot open a socket to query interfaces", "").with_source(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a socket this function just opened and nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let ioctl = |req: libc::c_ulong| -> std::io::Result<libc::ifreq> {
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: the request reads ifr_name (NUL-terminated: the name is
        // shorter than IFNAMSIZ) and writes the ifreq union.
        let r = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&fd), req as _, &mut ifr) };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(ifr)
        }
    };
    let index = match ioctl(libc::SIOCGIFINDEX) {
        // SAFETY: SIOCGIFINDEX fills ifru_ifindex.
        Ok(r) => (unsafe { r.ifr_ifru.ifru_ifindex }) as u32,
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Err(missing()),
        Err(e) => return Err(OpenError::new(port, format!("cannot look up interface `{name}`"), "").with_source(e)),
    };
    // SAFETY: SIOCGIFFLAGS fills ifru_flags, SIOCGIFMTU ifru_mtu.
    let flags = || ioctl(libc::SIOCGIFFLAGS).map(|r| unsafe { r.ifr_ifru.ifru_flags } as u16 as i32).unwrap_or(0);
    // A link that was just brought up reports its carrier a moment later
    // (a veth when its peer comes up): give it a second.
    let t = std::time::Instant::now();
    let flags = loop {
        let f = flags();
        if f & libc::IFF_UP == 0 || f & libc::IFF_RUNNING != 0 || t.elapsed() > std::time::Duration::from_secs(1) {
            break f;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let if_mtu = ioctl(libc::SIOCGIFMTU).map(|r| unsafe { r.ifr_ifru.ifru_mtu }).unwrap_or(0).max(0) as usize;
    if flags & libc::IFF_UP == 0 {
        return Err(OpenError::new(port, format!("interface `{name}` is down"), format!("bring it up: `ip link set {name} up`")));
    }
    // IFF_RUNNING: the kernel's operational state is up (carrier present).
    if flags & libc::IFF_RUNNING == 0 {
        return Err(OpenError::new(
            port,
            format!("interface `{name}` is up but has no carrier"),
            "connect the link, or bring up its peer (for a veth pair, both ends must be up)",
        ));
    }
    if if_mtu < mtu {
        return Err(OpenError::new(
            port,
            format!("interface `{name}` has MTU {if_mtu}, smaller than the {mtu} bytes this side is configured to send"),
            format!("raise it (`ip link set {name} mtu {mtu}`) or lower this side's `mtu` in the configuration"),
        ));
    }
    Ok(InterfaceInfo { index, mtu: if_mtu })
}

/// The hardware (MAC) address of interface `name` in this thread's
/// network namespace, asked with SIOCGIFHWADDR (as [`check_interface`] asks).
pub fn hardware_address(name: &str) -> std::io::Result<[u8; 6]> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("`{name}` is not an interface name")));
    }
    // SAFETY: a plain socket call; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a socket this function just opened and nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: the request reads ifr_name (NUL-terminated: the name is
    // shorter than IFNAMSIZ) and writes ifru_hwaddr.
    if unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::SIOCGIFHWADDR as _, &mut ifr) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR filled ifru_hwaddr.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    Ok(std::array::from_fn(|i| data[i] as u8))
}

/// Linux capabilities the live backends need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// CAP_NET_RAW: packet and AF_XDP sockets.
    NetRaw = 13,
    /// CAP_NET_ADMIN: attaching XDP programs, binding to devices.
    NetAdmin = 12,
    /// CAP_SYS_ADMIN: loading BPF programs on kernels without CAP_BPF.
    SysAdmin = 21,
    /// CAP_BPF: loading BPF programs (Linux 5.8 and later).
    Bpf = 39,
}

/// Whether this process has `cap` in its effective set.
pub fn has_capability(cap: Capability) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    let Some(hex) = status.lines().find_map(|l| l.strip_prefix("CapEff:")) else { return false };
    u64::from_str_radix(hex.trim(), 16).is_ok_and(|m| m >> (cap as u32) & 1 == 1)
}

/// Fails unless this process has every one of `caps` (any of
/// `CAP_BPF`/`CAP_SYS_ADMIN` counts for `Bpf`).
pub fn require_capabilities(port: &str, caps: &[Capability]) -> Result<(), OpenError> {
    for &c in caps {
        let ok = match c {
            Capability::Bpf => has_capability(Capability::Bpf) || has_capability(Capability::SysAdmin),
            other => has_capability(other),
        };
        if !ok {
            return Err(OpenError::new(
                port,
                format!("this process lacks {c:?} (CAP_{})", cap_name(c)),
                "run fhgate as root, or grant it: `setcap cap_net_raw,cap_net_admin,cap_bpf,cap_sys_admin+ep $(which fhgate)`",
            ));
        }
    }
    Ok(())
}

fn cap_name(c: Capability) -> &'static str {
    match c {
        Capability::NetRaw => "NET_RAW",
        Capability::NetAdmin => "NET_ADMIN",
        Capability::SysAdmin => "SYS_ADMIN",
        Capability::Bpf => "BPF",
    }
}

/// The error of a port whose interface is gone (deleted, or its driver
/// unbound: ENXIO, ENODEV), naming the port: unlike a link that is down,
/// it does not come back, and what is queued on it is lost.
pub fn gone(port: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, format!("{port}: the interface is gone (deleted, or its driver unbound): {e}; frames queued on it are lost"))
}

/// How often an idle receive half looks whether its interface is still there.
pub const IFACE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a port's interface is still there: a receive ring on a deleted
/// interface neither fails nor receives, so an idle receive half looks,
/// at most once per [`IFACE_CHECK`] (an ioctl; never per packet).
#[derive(Debug)]
pub struct IfaceWatch {
    name: std::ffi::CString,
    index: u32,
    next: std::time::Instant,
    /// A socket of the port's network namespace, made when the port
    /// opened: the name is looked up there, whichever namespace the thread
    /// that checks is in (bench opens ports in namespaces per thread and
    /// receives on another; `if_nametoindex` there said "gone" each second).
    ns_socket: Option<std::os::fd::OwnedFd>,
}

impl IfaceWatch {
    /// Watches interface `name`, opened with ifindex `index`; call it in
    /// the port's network namespace.
    pub fn new(name: &str, index: u32) -> IfaceWatch {
        // SAFETY: a plain socket call; the descriptor is owned below.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        // SAFETY: fd is a new descriptor no one else owns.
        let ns_socket = (fd >= 0).then(|| unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        IfaceWatch { name: std::ffi::CString::new(name).unwrap_or_default(), index, next: std::time::Instant::now() + IFACE_CHECK, ns_socket }
    }

    /// The ifindex `name` has now in the port's namespace (0: none).
    fn index_now(&self) -> u32 {
        let Some(sock) = &self.ns_socket else {
            // SAFETY: a NUL-terminated name that outlives the call.
            return unsafe { libc::if_nametoindex(self.name.as_ptr()) };
        };
        let bytes = self.name.as_bytes();
        if bytes.len() >= libc::IFNAMSIZ {
            return 0;
        }
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        use std::os::fd::AsRawFd;
        // SAFETY: SIOCGIFINDEX reads the name and writes the index into req.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut req) } < 0 {
            return 0;
        }
        // SAFETY: SIOCGIFINDEX filled the union's ifindex member.
        unsafe { req.ifr_ifru.ifru_ifindex as u32 }
    }

    /// The port's error ([`gone`], naming the port `port()` gives) once no
    /// interface of that name has the index it was opened with (deleted,
    /// or deleted and made again: the port is bound to the old one).
    pub fn check(&mut self, port: impl FnOnce() -> String) -> std::io::Result<()> {
        let now = std::time::Instant::now();
        if now < self.next {
            return Ok(());
        }
        self.next = now + IFACE_CHECK;
        let index = self.index_now();
        if index == self.index {
            return Ok(());
        }
        let why = if index == 0 { "no interface has that name any more".to_string() } else { format!("it was made again (ifindex {} now, {} when opened)", index, self.index) };
        Err(gone(&port(), std::io::Error::new(std::io::ErrorKind::NotFound, why)))
    }
}

/// Sleeps in poll() until `fd` is readable or `timeout` (rounded up to a
/// millisecond) has passed: how live ports wait when idle. An AF_XDP
/// socket's poll also kicks a driver that asked for a wake-up
/// (need_wakeup); a TPACKET_V3 ring's wakes when a block is handed over.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout: std::time::Duration) -> std::io::Result<bool> {
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(true)
}

/// ns since the Unix epoch, for receive timestamps.
#[inline]
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interface that is there with its index passes; one with another
    /// index (made again) or none (deleted) is gone, naming the port.
    #[test]
    fn an_interface_watch_tells_a_deleted_interface() {
        let lo = check_interface("test lo", "lo", 0).unwrap().index;
        let now = std::time::Instant::now;
        let mut w = IfaceWatch::new("lo", lo);
        assert!(w.check(|| unreachable!("not looked before IFACE_CHECK")).is_ok());
        w.next = now();
        assert!(w.check(|| "af_packet lo".into()).is_ok());
        let mut w = IfaceWatch::new("lo", lo + 1000);
        w.next = now();
        let e = w.check(|| "af_packet lo".into()).unwrap_err().to_string();
        assert!(e.contains("af_packet lo: the interface is gone") && e.contains("made again"), "{e}");
        let mut w = IfaceWatch::new("fhgate-no-such0", 7);
        w.next = now();
        let e = w.check(|| "af_xdp fhgate-no-such0".into()).unwrap_err().to_string();
        assert!(e.contains("af_xdp fhgate-no-such0: the interface is gone") && e.contains("no interface has that name"), "{e}");
    }

    /// A watch made in a port's namespace looks the name up there, even
    /// when a thread in another namespace checks it (bench receives on
    /// its main thread from ports opened in namespaces).
    #[test]
    fn an_interface_watch_looks_in_the_namespace_its_port_opened_in() {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "this test needs root (a network namespace), as CI has");
        let ns = format!("fhiw{}", std::process::id() % 100_000);
        let ip = |args: &[&str]| assert!(std::process::Command::new("ip").args(args).status().unwrap().success(), "ip {args:?}");
        ip(&["netns", "add", &ns]);
        // Removed however the test ends.
        struct Gone(String);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
            }
        }
        let _gone = Gone(ns.clone());
        ip(&["-n", &ns, "link", "add", "iwa0", "type", "veth", "peer", "name", "iwb0"]);
        ip(&["-n", &ns, "link", "set", "iwa0", "up"]);
        ip(&["-n", &ns, "link", "set", "iwb0", "up"]);
        let path = format!("/run/netns/{ns}");
        let watch = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            use std::os::fd::AsRawFd;
            // SAFETY: setns on this thread only, with a namespace file we hold open.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            let index = check_interface("test", "iwa0", 0).unwrap().index;
            IfaceWatch::new("iwa0", index)
        })
        .join()
        .unwrap();
        let mut w = watch;
        w.next = std::time::Instant::now();
        let r = w.check(|| "af_xdp iwa0".into());
        assert!(r.is_ok(), "iwa0 is there in its namespace: {r:?}");
        // SAFETY: a NUL-terminated name.
        assert_eq!(unsafe { libc::if_nametoindex(c"iwa0".as_ptr()) }, 0, "and not in this thread's");
    }

    #[test]
    fn loopback_is_checked_and_missing_interfaces_are_named() {
        let lo = check_interface("test", "lo", 1500).expect("lo is up with a large MTU");
        assert_eq!(lo.index, 1);
        let e = check_interface("af_xdp nope0", "nope0", 1500).unwrap_err();
        assert!(e.to_string().contains("no interface named `nope0`"), "{e}");
        let e = check_interface("p", "lo", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("has MTU") && e.to_string().contains("ip link set lo mtu"), "{e}");
    }

    #[test]
    fn capabilities_are_read_from_proc() {
        // Whatever the user, the answer must agree with the effective set
        // in /proc/self/status, read here on its own.
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc is mounted");
        let line = status.lines().find(|l| l.starts_with("CapEff:")).expect("/proc/self/status has CapEff");
        let eff = u64::from_str_radix(line["CapEff:".len()..].trim(), 16).expect("CapEff is hex");
        for cap in [Capability::NetRaw, Capability::NetAdmin, Capability::SysAdmin, Capability::Bpf] {
            assert_eq!(has_capability(cap), eff & (1 << cap as u32) != 0, "{cap:?} against CapEff {eff:#x}");
        }
        // The port tests need these; CI runs as root, which has them.
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "the live-port tests need root (CI runs as root)");
        assert!(require_capabilities("p", &[Capability::NetRaw, Capability::NetAdmin, Capability::Bpf]).is_ok(), "root lacks a capability: CapEff {eff:#x}");
    }
}
