//! AF_PACKET: the live backend that works on any Ethernet interface, the
//! fallback when AF_XDP is not available.
//!
//! - RX is a TPACKET_V3 ring on its own socket. The kernel fills a block
//!   with frames and hands the whole block over when it is full, or after
//!   [`RETIRE_TIMEOUT_MS`] so that a trickle is not held back. Every frame
//!   comes in, eCPRI or not (the pipeline's `[passthrough]` policy
//!   decides what crosses; frames this host sends are left out by
//!   PACKET_IGNORE_OUTGOING), and the outer VLAN tag that
//!   the kernel strips on receive is put back from the ring's metadata,
//!   so the pipeline sees the frame exactly as it was on the wire.
//! - TX is a TPACKET_V2 ring on a second socket that bypasses the qdisc:
//!   `send` writes a frame into the next free slot, `flush` kicks the
//!   kernel once for the whole burst.
//!
//! The two halves share no memory: each owns its socket and its ring.
//! Layouts are those of `linux/if_packet.h` (see the kernel's
//! `Documentation/networking/packet_mmap.rst`).
//!
//! A port of several sockets (`sockets = 4`) opens that many pairs; the
//! receive sockets join one PACKET_FANOUT group (`fanout`: hash, cpu,
//! queue, or eaxc: fhgate's classic BPF program, `fanout.rs`), so the
//! kernel spreads received frames over them, and each pair is a lane of
//! its own.
//!
//! `rx` and `tx` are the two halves;
//! this file opens a port, maps its rings and turns each failure into an
//! [`OpenError`] that says what to do.

mod fanout;
mod rx;
mod tx;

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

pub use self::rx::{AfPacketRx, AfPacketRxStats};
pub use self::tx::{AfPacketTx, AfPacketTxStats};
use super::live::{self, Capability, OpenError};
use super::port_stats::PortCounters;
use crate::config::{AfPacketConfig, Fanout};

/// How long (ms) the kernel holds a part-filled RX block before handing it over.
pub const RETIRE_TIMEOUT_MS: u32 = 1;
/// Longest wait for a free TX slot when the ring is full, before the frame is dropped.
pub const TX_FULL_WAIT: Duration = Duration::from_millis(100);
/// Ethernet header without tags, and one tag.
const ETH_HEADER_LEN: usize = 14;
const TAG_LEN: usize = 4;
/// Where the MAC addresses end and a tag is inserted.
const TAG_AT: usize = 12;
/// TX frame data starts after the aligned `tpacket2_hdr` (TPACKET2_HDRLEN
/// less the `sockaddr_ll` that is only used on receive).
const TX_DATA_OFFSET: usize = (size_of::<libc::tpacket2_hdr>() + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1);

/// Offsets in the ring structures.
mod field {
    use std::mem::offset_of;

    /// `tpacket_block_desc.hdr`: the V1 block header starts here.
    pub const BLOCK_HDR: usize = offset_of!(libc::tpacket_block_desc, hdr);
    /// `hdr.bh1.block_status`: who owns the block (TP_STATUS_USER = us).
    pub const BLOCK_STATUS: usize = BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, block_status);
    /// `hdr.bh1.num_pkts`.
    pub const NUM_PKTS: usize = BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, num_pkts);
    /// `hdr.bh1.offset_to_first_pkt`.
    pub const FIRST_PKT: usize = BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
    /// `tpacket2_hdr.tp_status`: who owns a TX slot.
    pub const TX_STATUS: usize = offset_of!(libc::tpacket2_hdr, tp_status);
    /// `tpacket2_hdr.tp_len`.
    pub const TX_LEN: usize = offset_of!(libc::tpacket2_hdr, tp_len);
}

// ---------------------------------------------------------------- ring memory

/// A ring mapped from a packet socket; unmapped on drop.
struct Ring {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by exactly one half and only touched by
// the thread that owns that half; the kernel side synchronises through
// the status words with acquire/release.
unsafe impl Send for Ring {}

impl Ring {
    fn map(fd: &OwnedFd, len: usize) -> io::Result<Ring> {
        // SAFETY: a fresh shared mapping of the socket's ring; the kernel
        // checks that `len` matches the ring it set up.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast::<u8>()).map(|ptr| Ring { ptr, len }).ok_or_else(|| io::Error::other("mmap returned null"))
    }

    /// The status word at `off` (4-byte aligned, inside the ring).
    fn status(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off.is_multiple_of(4) && off + 4 <= self.len);
        // SAFETY: `off` is 4-byte aligned and in bounds (callers index
        // blocks and slots that start on 16-byte boundaries); the word is
        // shared with the kernel, hence accessed atomically only.
        unsafe { &*self.ptr.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// A plain u32 at `off` inside a block or slot the caller owns.
    fn read_u32(&self, off: usize) -> u32 {
        debug_assert!(off + 4 <= self.len);
        // SAFETY: in bounds (callers check `off` against the block); the
        // owner holds the block, so the kernel does not write it now.
        unsafe { self.ptr.as_ptr().add(off).cast::<u32>().read_unaligned() }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, and no
        // reference into the ring outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// ---------------------------------------------------------------- socket helpers

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live `T` of the size passed.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (v as *const T).cast(), size_of::<T>() as libc::socklen_t) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn packet_socket() -> io::Result<OwnedFd> {
    // Protocol 0: the socket receives nothing until it is bound with a
    // protocol, which is after its ring is in place.
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: &OwnedFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = protocol.to_be();
    sa.sll_ifindex = ifindex as i32;
    // SAFETY: `sa` is a valid sockaddr_ll of the size passed.
    let r = unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_ll).cast(), size_of::<libc::sockaddr_ll>() as libc::socklen_t) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An OpenError for a failed system call, with what to do about it.
fn sys_error(port: &str, what: &str, e: io::Error) -> OpenError {
    let (problem, fix) = match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => (
            format!("{what}: not permitted"),
            "run fhgate as root, or grant it CAP_NET_RAW: `setcap cap_net_raw,cap_net_admin+ep $(which fhgate)`".to_string(),
        ),
        Some(libc::ENOMEM | libc::ENOBUFS) => (
            format!("{what}: not enough memory for the ring"),
            "lower `packet_blocks` or `packet_block_kib`".to_string(),
        ),
        Some(libc::ENODEV | libc::ENXIO) => (format!("{what}: the interface disappeared"), "check it with `ip link`".to_string()),
        Some(libc::ENETDOWN) => (format!("{what}: the interface is down"), "bring it up with `ip link set IFACE up`".to_string()),
        Some(libc::ENOPROTOOPT) => (
            format!("{what}: this kernel lacks the option"),
            "AF_PACKET ports need Linux 4.20 or later (PACKET_IGNORE_OUTGOING, TPACKET_V3)".to_string(),
        ),
        Some(libc::EAFNOSUPPORT) => (format!("{what}: this kernel has no AF_PACKET"), "load the af_packet module".to_string()),
        Some(libc::EINVAL) => (
            format!("{what}: the kernel rejected the setting"),
            "check the ring geometry: `packet_block_kib` must be a multiple of the page size".to_string(),
        ),
        _ => (what.to_string(), String::new()),
    };
    OpenError::new(port, problem, fix).with_source(e)
}

/// The interface's index in this thread's network namespace.
fn ifindex(port: &str, name: &str) -> Result<u32, OpenError> {
    let c = CString::new(name).map_err(|_| OpenError::new(port, format!("`{name}` is not an interface name"), ""))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        let e = io::Error::last_os_error();
        return Err(OpenError::new(port, format!("there is no interface named `{name}` in this network namespace"), "check the name with `ip link`")
            .with_source(e));
    }
    Ok(i)
}

// ---------------------------------------------------------------- open

/// Opens `c.interface` for eCPRI frames: the receive half on a TPACKET_V3
/// ring, the transmit half on a TPACKET_V2 ring. `mtu` is the largest
/// Ethernet payload the gateway sends; the interface and the ring blocks
/// must hold it. More than one socket is refused: [`open_sockets`] opens those.
pub fn open(c: &AfPacketConfig, mtu: usize) -> Result<(AfPacketRx, AfPacketTx), OpenError> {
    if c.sockets != 1 {
        return Err(OpenError::new(format!("af_packet {}", c.interface), format!("this command uses one socket, not {}; a fanout group is for `fhgate run`, `gen`, `sink` and `bench`", c.sockets), "leave `sockets` out"));
    }
    let mut v = open_sockets(c, mtu)?;
    v.pop().ok_or_else(|| OpenError::new(format!("af_packet {}", c.interface), "no socket opened", ""))
}

/// Opens `c.sockets` socket pairs on `c.interface`; with more than one,
/// their receive sockets join one PACKET_FANOUT group in `c.fanout`'s
/// mode (never with rollover, which would move a flow between sockets
/// under load and reorder it), so each frame reaches exactly one of them.
/// Each pair is a lane of its own; its counters carry its index.
pub fn open_sockets(c: &AfPacketConfig, mtu: usize) -> Result<Vec<(AfPacketRx, AfPacketTx)>, OpenError> {
    let port = format!("af_packet {}", c.interface);
    live::require_capabilities(&port, &[Capability::NetRaw])?;
    let info = live::check_interface(&port, &c.interface, mtu)?;
    let index = ifindex(&port, &c.interface)?;
    let n = c.sockets.max(1);
    let mode = match c.fanout {
        Fanout::Hash => libc::PACKET_FANOUT_HASH,
        Fanout::Cpu => libc::PACKET_FANOUT_CPU,
        Fanout::Queue => libc::PACKET_FANOUT_QM,
        Fanout::Eaxc => libc::PACKET_FANOUT_CBPF,
    };
    let mut group = None;
    let mut lanes = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (label, port) = if n > 1 { (Some(i), format!("af_packet {} socket {i}", c.interface)) } else { (None, port.clone()) };
        let (rx_counters, tx_counters) = PortCounters::pair_on_queue("af_packet", &c.interface, label, rx::EVENTS, tx::EVENTS);
        let rx = AfPacketRx::open(&port, c, index, mtu, rx_counters)?;
        if n > 1 {
            let (id, flags) = match group {
                Some(id) => (id, 0),
                // The first picks a group id no other group uses.
                None => (0, libc::PACKET_FANOUT_FLAG_UNIQUEID),
            };
            let what = format!("joining PACKET_FANOUT group ({} mode)", c.fanout.name());
            group = Some(rx.join_fanout(id, mode, flags).map_err(|e| sys_error(&port, &what, e))?);
            // The program belongs to the group: set once, by its first member.
            if c.fanout == Fanout::Eaxc && i == 0 {
                rx.set_fanout_program(&fanout::eaxc_program()).map_err(|e| sys_error(&port, "setting the eaxc fanout program (PACKET_FANOUT_DATA)", e))?;
            }
        }
        let tx = AfPacketTx::open(&port, c, index, info.mtu, tx_counters)?;
        lanes.push((rx, tx));
    }
    if let Some(id) = group {
        // Every member joined and the group has its program; each takes
        // frames from its stage's first poll on.
        tracing::info!(port = %port, sockets = n, fanout = c.fanout.name(), group = id, "af_packet fanout group open");
    }
    Ok(lanes)
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;

    #[test]
    fn layouts_match_the_kernel_headers() {
        assert_eq!((field::BLOCK_STATUS, field::NUM_PKTS, field::FIRST_PKT), (8, 12, 16));
        assert_eq!((field::TX_STATUS, field::TX_LEN, TX_DATA_OFFSET), (0, 4, 32));
        assert_eq!(size_of::<libc::tpacket3_hdr>(), 48);
        assert_eq!(offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid), 36);
    }

    #[test]
    fn missing_interfaces_are_named() {
        let c = AfPacketConfig { interface: "fhg-nope0".into(), block_size: 1 << 18, blocks: 4, sockets: 1, fanout: Fanout::Hash };
        let Err(e) = open(&c, 1500) else { panic!("opened a missing interface") };
        let s = e.to_string();
        assert!(s.contains("fhg-nope0") && (s.contains("no interface named") || s.contains("lacks")), "{s}");
    }
}
