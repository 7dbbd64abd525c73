//! eCPRI over UDP (IPv4 or IPv6): one non-blocking socket bound to the
//! configured address, read with `recvmmsg` and written with `sendmmsg`,
//! one system call per burst each way.
//!
//! The pipeline works on Ethernet frames, so the receive half wraps each
//! datagram in a synthetic Ethernet + IP + UDP header (zero MACs, the
//! sender as source, the bound address and port as destination, correct
//! lengths and checksums); the side's `udp_port` decode setting, which is
//! the bind port, makes the pipeline find the eCPRI payload in it. The
//! transmit half sends the UDP payload of such a frame, or the eCPRI
//! bytes of an eCPRI-over-Ethernet frame, so that a gateway can bridge
//! an Ethernet RU to a UDP DU.
//!
//! The halves share no memory: the transmit half owns a duplicate of the
//! socket's descriptor, so datagrams leave from the bound address.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use ecpri::ethernet::{EthernetFrame, EthernetRepr, ETHERTYPE_ECPRI, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use ecpri::frame::MessageIter;
use ecpri::ip::{self, Ipv4Repr, Ipv6Repr, UdpRepr, IPV6_HEADER_LEN, PROTO_UDP, UDP_HEADER_LEN};

mod addr_watch;

use addr_watch::AddrWatch;

use super::live::{self, OpenError};
use super::port_stats::PortCounters;
use super::port_stats::PortEvent::{self, *};
use super::{RxPoll, RxPort, TxPort};
use crate::config::UdpConfig;
use crate::packet::{PacketBuf, BURST_CAPACITY, PACKET_CAPACITY};

/// Socket buffers asked for each way (FORCE as root, else capped by rmem_max/wmem_max).
const SOCKET_BUFFER: libc::c_int = 32 << 20;
/// Most datagrams one `recvmmsg` or `sendmmsg` moves.
pub const BATCH: usize = BURST_CAPACITY;
/// Longest a send waits for room in the socket buffer before dropping what is left of a burst.
pub const TX_FULL_WAIT: Duration = Duration::from_millis(100);
const ETH_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
/// The largest UDP payload an IPv4 datagram carries (IPv6 without jumbograms is close).
const MAX_DATAGRAM: usize = 65_507;

/// Bytes of synthetic header before the datagram: Ethernet, IP, UDP.
pub const fn header_len(ipv6: bool) -> usize {
    ETH_HEADER_LEN + if ipv6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN } + UDP_HEADER_LEN
}

// ---------------------------------------------------------------- stats

/// A snapshot of a [`UdpRx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpRxStats {
    /// Datagrams handed to the pipeline, as frames.
    pub frames: u64,
    /// Their bytes (synthetic headers included).
    pub bytes: u64,
    /// Dropped: larger than fits a packet buffer after the synthetic headers.
    pub truncated: u64,
}

/// A snapshot of a [`UdpTx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpTxStats {
    /// Datagrams the kernel took.
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Dropped: neither a UDP frame nor an eCPRI-over-Ethernet frame.
    pub not_ecpri: u64,
    /// Dropped: payload larger than a datagram carries.
    pub too_long: u64,
    /// Dropped: the socket buffer stayed full for [`TX_FULL_WAIT`].
    pub buffer_full: u64,
    /// Dropped: the kernel refused the datagram (no route, too big for the path, ...).
    pub refused: u64,
}

/// What the receive half counts.
const RX_EVENTS: &[PortEvent] = &[Frames, Bytes, DropTruncated];
/// What the transmit half counts.
const TX_EVENTS: &[PortEvent] = &[Frames, Bytes, DropNotEcpri, DropTooLong, DropBufferFull, DropRefused];

// ---------------------------------------------------------------- addresses

fn to_sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>().write(sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>().write(sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// The address in `ss`, if it is IPv4 or IPv6.
fn from_sockaddr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), u32::from_be(sin6.sin6_flowinfo), sin6.sin6_scope_id)))
        }
        _ => None,
    }
}

fn setsockopt_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a live c_int of the size passed.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&v as *const libc::c_int).cast(), size_of::<libc::c_int>() as libc::socklen_t) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// ---------------------------------------------------------------- open

/// Opens a UDP socket bound to `c.bind` that sends to `c.peer`. `mtu` is
/// not needed: datagrams are as large as the eCPRI payload they carry.
pub fn open(c: &UdpConfig, mtu: usize) -> Result<(UdpRx, UdpTx), OpenError> {
    let _ = mtu;
    let port = format!("udp {}", c.bind);
    if c.bind.is_ipv4() != c.peer.is_ipv4() {
        return Err(OpenError::new(
            &port,
            format!("`bind` {} and `peer` {} are of different IP versions", c.bind, c.peer),
            "use IPv4 for both, or IPv6 for both (an IPv4 peer can be written as [::ffff:a.b.c.d]:port)",
        ));
    }
    let domain = if c.bind.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket creation.
    let raw = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(OpenError::new(&port, "cannot open a UDP socket", "").with_source(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Large buffers absorb bursts: FORCE needs CAP_NET_ADMIN, the plain
    // options are capped by net.core.rmem_max / wmem_max.
    for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        if setsockopt_int(&fd, libc::SOL_SOCKET, force, SOCKET_BUFFER).is_err() {
            let _ = setsockopt_int(&fd, libc::SOL_SOCKET, plain, SOCKET_BUFFER);
        }
    }
    let (sa, len) = to_sockaddr(c.bind);
    // SAFETY: `sa` holds a sockaddr of `len` bytes matching the socket's family.
    if unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_storage).cast(), len) } < 0 {
        let e = io::Error::last_os_error();
        let (problem, fix) = match e.raw_os_error() {
            Some(libc::EADDRNOTAVAIL) => (format!("cannot bind to {}: no interface has that address", c.bind), "use an address of this host (`ip addr`), or 0.0.0.0 / [::]"),
            Some(libc::EADDRINUSE) => (format!("cannot bind to {}: the port is in use", c.bind), "stop what holds it (`ss -ulpn`), or choose another port"),
            Some(libc::EACCES | libc::EPERM) => (format!("cannot bind to {}: not permitted", c.bind), "ports below 1024 need root or CAP_NET_BIND_SERVICE"),
            _ => (format!("cannot bind to {}", c.bind), ""),
        };
        return Err(OpenError::new(&port, problem, fix).with_source(e));
    }
    // The bound address, with the port the kernel chose for port 0.
    // SAFETY: zeroed storage is valid; `len` says how much the kernel may write.
    let mut bound: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut blen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `bound` and `blen` are valid for writes.
    let r = unsafe { libc::getsockname(fd.as_raw_fd(), (&mut bound as *mut libc::sockaddr_storage).cast(), &mut blen) };
    let local = if r == 0 { from_sockaddr(&bound).unwrap_or(c.bind) } else { c.bind };
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one or -1.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(OpenError::new(&port, "cannot duplicate the socket for sending", "").with_source(io::Error::last_os_error()));
    }
    // SAFETY: `dup` is a new descriptor that nothing else owns.
    let tx_fd = unsafe { OwnedFd::from_raw_fd(dup) };
    let (rx_counters, tx_counters) = PortCounters::pair("udp", &local.to_string(), RX_EVENTS, TX_EVENTS);
    Ok((UdpRx::new(fd, local, rx_counters), UdpTx::new(tx_fd, c.peer, local, tx_counters)))
}

// ---------------------------------------------------------------- RX

/// `mmsghdr`s and `iovec`s for one batch. Their pointers are rewritten
/// before every system call and only read by the kernel during it.
struct Batch {
    msgs: Box<[libc::mmsghdr]>,
    iovs: Box<[libc::iovec]>,
    addrs: Box<[libc::sockaddr_storage]>,
}

// SAFETY: the raw pointers in `msgs`/`iovs` are scratch: they are set
// just before each syscall by the thread that owns the half, and never
// dereferenced by Rust code, so moving a Batch to another thread is sound.
unsafe impl Send for Batch {}

impl Batch {
    fn new(n: usize) -> Batch {
        // SAFETY: these are plain C structs; all-zero (null pointers, zero lengths) is valid.
        let zero_msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        // SAFETY: as above.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        Batch { msgs: vec![zero_msg; n].into(), iovs: vec![zero_iov; n].into(), addrs: vec![zero_addr; n].into() }
    }
}

/// The receive half: datagrams, each as a synthetic Ethernet/IP/UDP frame.
pub struct UdpRx {
    fd: OwnedFd,
    local: SocketAddr,
    ipv6: bool,
    batch: Batch,
    counters: PortCounters,
    /// Whether the bound address is still there, looked at while idle.
    watch: AddrWatch,
}

impl UdpRx {
    fn new(fd: OwnedFd, local: SocketAddr, counters: PortCounters) -> UdpRx {
        UdpRx {
            fd,
            local,
            ipv6: local.is_ipv6(),
            batch: Batch::new(BATCH),
            counters,
            watch: AddrWatch::new(local, addr_watch::ADDR_CHECK),
        }
    }

    /// The address the socket is bound to (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The counters now.
    pub fn stats(&self) -> UdpRxStats {
        let c = &self.counters;
        UdpRxStats { frames: c.get(Frames), bytes: c.get(Bytes), truncated: c.get(DropTruncated) }
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }
}

/// Writes the synthetic Ethernet + IP + UDP header for a datagram of
/// `len` bytes from `src` to `dst` in front of it (the datagram is
/// already at `buf[header_len(..)..]`) and fills in the checksums.
/// Returns the frame length.
pub fn wrap_datagram(buf: &mut [u8], len: usize, src: SocketAddr, dst: SocketAddr) -> ecpri::Result<usize> {
    let udp_len = UDP_HEADER_LEN + len;
    let ipv6 = dst.is_ipv6();
    let hl = header_len(ipv6);
    let total = hl + len;
    let ethertype = if ipv6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
    EthernetRepr::new([0; 6], [0; 6], ethertype).emit(&mut buf[..ETH_HEADER_LEN])?;
    let ip_len = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Repr {
            tos: 0,
            total_len: (IPV4_HEADER_LEN + udp_len) as u16,
            ident: 0,
            flags_frag: 0x4000, // don't fragment
            ttl: 64,
            protocol: PROTO_UDP,
            checksum: 0,
            src: s.octets(),
            dst: d.octets(),
            options: &[],
        }
        .emit(&mut buf[ETH_HEADER_LEN..])?,
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let (s, d) = (v6(src.ip()), v6(dst.ip()));
            Ipv6Repr { ver_tc_flow: 0x6000_0000, payload_len: udp_len as u16, next_header: PROTO_UDP, hop_limit: 64, src: s, dst: d }
                .emit(&mut buf[ETH_HEADER_LEN..])?
        }
        // An IPv6 sender on an IPv4 socket cannot happen.
        (IpAddr::V6(_), IpAddr::V4(_)) => return Err(ecpri::Error::ReservedValue { field: "ip.version", offset: ETH_HEADER_LEN, value: 6 }),
    };
    // A non-zero placeholder asks fill_checksums for a real UDP checksum over IPv4 too.
    UdpRepr { src_port: src.port(), dst_port: dst.port(), length: udp_len as u16, checksum: 0xFFFF }.emit(&mut buf[ETH_HEADER_LEN + ip_len..])?;
    ip::fill_checksums(&mut buf[ETH_HEADER_LEN..total])?;
    Ok(total)
}

impl RxPort for UdpRx {
    fn wait(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        live::wait_readable(self.fd.as_raw_fd(), timeout)
    }

    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        let n = bufs.len().min(lens.len()).min(times.len()).min(BATCH);
        if n == 0 {
            return Ok(RxPoll::Idle);
        }
        let hl = header_len(self.ipv6);
        let b = &mut self.batch;
        for (i, buf) in bufs[..n].iter_mut().enumerate() {
            // Each datagram lands after the room for its synthetic headers: no copy later.
            // SAFETY: `hl` < PACKET_CAPACITY, so the pointer stays inside the buffer.
            b.iovs[i] = libc::iovec { iov_base: unsafe { buf.bytes_mut().as_mut_ptr().add(hl) }.cast(), iov_len: PACKET_CAPACITY - hl };
            let h = &mut b.msgs[i].msg_hdr;
            h.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut b.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            b.msgs[i].msg_len = 0;
        }
        // SAFETY: the first `n` mmsghdrs point at live iovecs, addresses and
        // buffers of the lengths given, all borrowed for the call.
        let r = unsafe { libc::recvmmsg(self.fd.as_raw_fd(), b.msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                // Idle: a deleted interface shows only as silence, so look whether the address is still there.
                Some(libc::EAGAIN) => self.watch.check(|| self.counters.port()).map(|()| RxPoll::Idle),
                Some(libc::EINTR | libc::ENOMEM | libc::ENOBUFS | libc::ECONNREFUSED) => Ok(RxPoll::Idle),
                _ => Err(e),
            };
        }
        let now = live::unix_ns();
        let (mut out, mut bytes) = (0usize, 0u64);
        for i in 0..r as usize {
            let len = self.batch.msgs[i].msg_len as usize;
            if self.batch.msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.counters.report(DropTruncated, 1, "datagram larger than a packet buffer");
                continue;
            }
            let Some(src) = from_sockaddr(&self.batch.addrs[i]) else { continue };
            // Keep the frames contiguous: a dropped one's buffer moves to the back.
            bufs.swap(out, i);
            match wrap_datagram(bufs[out].bytes_mut(), len, src, self.local) {
                Ok(total) => {
                    lens[out] = total;
                    times[out] = now;
                    bytes += total as u64;
                    out += 1;
                }
                Err(_) => continue,
            }
        }
        self.counters.add(Frames, out as u64);
        self.counters.add(Bytes, bytes);
        Ok(if out == 0 { RxPoll::Idle } else { RxPoll::Frames(out) })
    }
}

// ---------------------------------------------------------------- TX

/// Where the datagram payload is in a frame the pipeline sends: the UDP
/// payload of an IPv4/IPv6 UDP frame, or the eCPRI messages of an
/// eCPRI-over-Ethernet frame (without any Ethernet padding after them).
pub fn datagram_payload(frame: &[u8]) -> Option<std::ops::Range<usize>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let hl = eth.header_len();
    let ipb = &frame[hl..];
    match eth.ethertype() {
        ETHERTYPE_ECPRI => {
            // Trim padding only when the messages walk cleanly; otherwise send every byte.
            let mut it = MessageIter::new(ipb);
            let clean = it.by_ref().all(|m| m.is_ok());
            let end = if clean && it.position() > 0 { it.position() } else { ipb.len() };
            Some(hl..hl + end)
        }
        ETHERTYPE_IPV4 => {
            let r = Ipv4Repr::parse(ipb).ok()?;
            // Not UDP, or a fragment: not a whole datagram.
            if r.protocol != PROTO_UDP || r.flags_frag & 0x3FFF != 0 {
                return None;
            }
            let at = r.header_len();
            let u = UdpRepr::parse(&ipb[at..r.total_len as usize]).ok()?;
            Some(hl + at + UDP_HEADER_LEN..hl + at + u.length as usize)
        }
        ETHERTYPE_IPV6 => {
            let r = Ipv6Repr::parse(ipb).ok()?;
            if r.next_header != PROTO_UDP {
                return None;
            }
            let u = UdpRepr::parse(&ipb[IPV6_HEADER_LEN..IPV6_HEADER_LEN + r.payload_len as usize]).ok()?;
            Some(hl + IPV6_HEADER_LEN + UDP_HEADER_LEN..hl + IPV6_HEADER_LEN + u.length as usize)
        }
        _ => None,
    }
}

/// The transmit half: payloads are copied into an arena in `send` and go
/// out in one `sendmmsg` per burst in `flush`.
pub struct UdpTx {
    fd: OwnedFd,
    peer: libc::sockaddr_storage,
    peer_len: libc::socklen_t,
    /// Queued payloads, back to back; `spans[i]` is where datagram `i` is.
    arena: Box<[u8]>,
    used: usize,
    spans: Vec<(usize, usize)>,
    batch: Batch,
    counters: PortCounters,
    /// Whether the bound address is still there, looked at when the kernel refuses a datagram.
    watch: AddrWatch,
}

impl UdpTx {
    fn new(fd: OwnedFd, peer: SocketAddr, local: SocketAddr, counters: PortCounters) -> UdpTx {
        let (sa, len) = to_sockaddr(peer);
        UdpTx {
            fd,
            peer: sa,
            peer_len: len,
            arena: vec![0u8; BATCH * PACKET_CAPACITY].into(),
            used: 0,
            spans: Vec::with_capacity(BATCH),
            batch: Batch::new(BATCH),
            counters,
            watch: AddrWatch::new(local, Duration::ZERO),
        }
    }

    /// The counters now.
    pub fn stats(&self) -> UdpTxStats {
        let c = &self.counters;
        UdpTxStats {
            frames: c.get(Frames),
            bytes: c.get(Bytes),
            not_ecpri: c.get(DropNotEcpri),
            too_long: c.get(DropTooLong),
            buffer_full: c.get(DropBufferFull),
            refused: c.get(DropRefused),
        }
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }

    /// Sends everything queued with as few `sendmmsg` calls as the kernel
    /// allows. A full socket buffer is waited on (up to [`TX_FULL_WAIT`])
    /// before the rest is dropped; a datagram the kernel refuses is dropped
    /// and the rest still go.
    fn transmit(&mut self) -> io::Result<()> {
        let n = self.spans.len();
        let b = &mut self.batch;
        for (i, &(at, len)) in self.spans.iter().enumerate() {
            // SAFETY: `at + len <= arena.len()` (checked in `send`).
            b.iovs[i] = libc::iovec { iov_base: unsafe { self.arena.as_mut_ptr().add(at) }.cast(), iov_len: len };
            let h = &mut b.msgs[i].msg_hdr;
            h.msg_name = (&mut self.peer as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.peer_len;
            h.msg_iov = &mut b.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        let mut done = 0;
        let mut deadline: Option<Instant> = None;
        let mut result = Ok(());
        while done < n {
            // SAFETY: messages `done..n` point at the live peer address,
            // iovecs and arena bytes set above.
            let r = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), self.batch.msgs.as_mut_ptr().add(done), (n - done) as libc::c_uint, libc::MSG_DONTWAIT) };
            if r > 0 {
                let sent = r as usize;
                let bytes: usize = self.spans[done..done + sent].iter().map(|s| s.1).sum();
                self.counters.add(Frames, sent as u64);
                self.counters.add(Bytes, bytes as u64);
                done += sent;
                continue;
            }
            let e = if r == 0 { io::Error::from_raw_os_error(libc::EAGAIN) } else { io::Error::last_os_error() };
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN | libc::ENOBUFS) => {
                    let d = *deadline.get_or_insert_with(|| Instant::now() + TX_FULL_WAIT);
                    if Instant::now() >= d {
                        self.counters.report(DropBufferFull, (n - done) as u64, "socket buffer full");
                        break;
                    }
                    let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
                    // SAFETY: one valid pollfd; the 1 ms timeout bounds the wait.
                    unsafe { libc::poll(&mut p, 1, 1) };
                }
                Some(libc::EBADF | libc::EFAULT | libc::ENOTSOCK | libc::EINVAL) => {
                    result = Err(e);
                    break;
                }
                // No route from an address that is gone: the interface was deleted.
                Some(libc::ENETUNREACH | libc::EADDRNOTAVAIL | libc::ENODEV | libc::ENXIO) => {
                    if let Err(gone) = self.watch.check(|| self.counters.port()) {
                        result = Err(gone);
                        break;
                    }
                    done += 1;
                    self.counters.report(DropRefused, 1, "refused by the kernel");
                }
                // The first datagram was refused (ECONNREFUSED, EHOSTUNREACH,
                // ENETUNREACH, EMSGSIZE, EPERM from a firewall...): skip it.
                _ => {
                    done += 1;
                    self.counters.report(DropRefused, 1, "refused by the kernel");
                }
            }
        }
        self.spans.clear();
        self.used = 0;
        result
    }
}

impl TxPort for UdpTx {
    fn send(&mut self, frame: &[u8], _time_ns: u64) -> io::Result<()> {
        let Some(r) = datagram_payload(frame) else {
            self.counters.report(DropNotEcpri, 1, "neither a UDP frame nor eCPRI over Ethernet");
            return Ok(());
        };
        let len = r.len();
        if len > MAX_DATAGRAM || len > self.arena.len() {
            self.counters.report(DropTooLong, 1, "larger than a datagram");
            return Ok(());
        }
        if self.spans.len() == BATCH || self.used + len > self.arena.len() {
            self.transmit()?;
        }
        self.arena[self.used..self.used + len].copy_from_slice(&frame[r]);
        self.spans.push((self.used, len));
        self.used += len;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.spans.is_empty() {
            return Ok(());
        }
        self.transmit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_headers_decode_with_correct_checksums() {
        for (src, dst) in [("192.0.2.1:40000", "127.0.0.1:45054"), ("[2001:db8::1]:40000", "[::1]:45054"), ("10.0.0.1:7", "[::]:45054")] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let payload = [0x10u8, 0, 0, 4, 1, 2, 3, 4, 5];
            let mut buf = vec![0u8; 128];
            let hl = header_len(dst.is_ipv6());
            buf[hl..hl + payload.len()].copy_from_slice(&payload);
            let n = wrap_datagram(&mut buf, payload.len(), src, dst).unwrap();
            assert_eq!(n, hl + payload.len());
            let f = &buf[..n];
            // The pipeline's locator finds the payload on the bind port.
            let loc = ecpri::frame::locate(f, Some(45054)).unwrap();
            assert_eq!(&f[loc.ecpri.unwrap()], &payload[..]);
            // Checksums already right: recomputing them changes nothing.
            let mut again = f.to_vec();
            ip::fill_checksums(&mut again[ETH_HEADER_LEN..]).unwrap();
            assert_eq!(again, f);
            assert_ne!(&f[hl - 2..hl], &[0, 0], "a UDP checksum is present");
            assert_eq!(datagram_payload(f), Some(hl..n));
        }
    }

    #[test]
    fn payloads_of_ethernet_frames_skip_tags_and_padding() {
        let s = ecpri::samples::transport_samples().unwrap();
        let q = s.iter().find(|s| s.name == "vlan-qinq").unwrap();
        assert_eq!(datagram_payload(&q.frame), Some(22..q.frame.len()));
        let mut padded = q.frame.clone();
        padded.extend([0; 7]);
        assert_eq!(datagram_payload(&padded), Some(22..q.frame.len()), "Ethernet padding is not sent");
        let v6 = s.iter().find(|s| s.name == "udp-ipv6").unwrap();
        let r = datagram_payload(&v6.frame).unwrap();
        assert_eq!(r, 18 + 48..v6.frame.len());
        // ARP is neither.
        let mut arp = vec![0xFF; 12];
        arp.extend([0x08, 0x06]);
        arp.extend([0; 28]);
        assert_eq!(datagram_payload(&arp), None);
    }
}
