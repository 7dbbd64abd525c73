//! AF_PACKET: the live backend that works on any Ethernet interface, the
//! fallback when AF_XDP is not available.
//!
//! - RX is a TPACKET_V3 ring on its own socket. The kernel fills a block
//!   with frames and hands the whole block over when it is full, or after
//!   [`RETIRE_TIMEOUT_MS`] so that a trickle is not held back. A classic
//!   BPF filter lets only eCPRI frames in, and the outer VLAN tag that
//!   the kernel strips on receive is put back from the ring's metadata,
//!   so the pipeline sees the frame exactly as it was on the wire.
//! - TX is a TPACKET_V2 ring on a second socket that bypasses the qdisc:
//!   `send` writes a frame into the next free slot, `flush` kicks the
//!   kernel once for the whole burst.
//!
//! The two halves share no memory: each owns its socket and its ring.
//! Layouts are those of `linux/if_packet.h` (see the kernel's
//! `Documentation/networking/packet_mmap.rst`).

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecpri::ethernet::{ETHERTYPE_ECPRI, TPID_8021AD, TPID_8021Q};

use super::live::{self, Capability, OpenError};
use super::{RxPoll, RxPort, TxPort};
use crate::config::AfPacketConfig;
use crate::translate::{PacketBuf, PACKET_CAPACITY};

/// How long (ms) the kernel holds a part-filled RX block before handing it over.
pub const RETIRE_TIMEOUT_MS: u32 = 1;
/// Longest wait for a free TX slot when the ring is full, before the frame is dropped.
pub const TX_FULL_WAIT: Duration = Duration::from_millis(100);
/// Socket send buffer asked for, so that frames in flight are limited by the ring, not the buffer.
const TX_SNDBUF: libc::c_int = 32 << 20;
/// Ethernet header without tags, and one tag.
const ETH_HEADER_LEN: usize = 14;
const TAG_LEN: usize = 4;
/// Where the MAC addresses end and a tag is inserted.
const TAG_AT: usize = 12;
/// TX frame data starts after the aligned `tpacket2_hdr` (TPACKET2_HDRLEN
/// less the `sockaddr_ll` that is only used on receive).
const TX_DATA_OFFSET: usize = (size_of::<libc::tpacket2_hdr>() + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1);
/// Room an RX block needs besides the frame: block descriptor, frame header, alignment.
const RX_BLOCK_OVERHEAD: usize = 256;

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

// ---------------------------------------------------------------- filter

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const AD_VLAN_PRESENT: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TAG_PRESENT) as u32;
const AD_VLAN_TPID: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TPID) as u32;

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The classic BPF program that accepts eCPRI frames only: ethertype
/// 0xAEFE untagged, behind an 802.1Q tag, or behind 802.1ad + 802.1Q.
/// The kernel may have moved the outer tag into metadata before packet
/// sockets see the frame (the usual case), so both the stripped and the
/// inline shapes are accepted. Jumps are relative: `jt`/`jf` skip that
/// many instructions.
pub const ECPRI_FILTER: [libc::sock_filter; 22] = [
    /* 0 */ bpf(BPF_LD_W_ABS, 0, 0, AD_VLAN_PRESENT),
    /* 1 */ bpf(BPF_JEQ_K, 8, 0, 0), // no stripped tag: inline shapes at 10
    /* 2 */ bpf(BPF_LD_W_ABS, 0, 0, AD_VLAN_TPID),
    /* 3 */ bpf(BPF_JEQ_K, 2, 0, TPID_8021AD as u32), // stripped S-tag: C-tag at 12, at 6
    /* 4 */ bpf(BPF_LD_H_ABS, 0, 0, 12), // stripped C-tag: eCPRI at 12
    /* 5 */ bpf(BPF_JEQ_K, 14, 15, ETHERTYPE_ECPRI as u32),
    /* 6 */ bpf(BPF_LD_H_ABS, 0, 0, 12),
    /* 7 */ bpf(BPF_JEQ_K, 0, 13, TPID_8021Q as u32),
    /* 8 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 9 */ bpf(BPF_JEQ_K, 10, 11, ETHERTYPE_ECPRI as u32),
    /* 10 */ bpf(BPF_LD_H_ABS, 0, 0, 12), // inline shapes
    /* 11 */ bpf(BPF_JEQ_K, 8, 0, ETHERTYPE_ECPRI as u32),
    /* 12 */ bpf(BPF_JEQ_K, 1, 0, TPID_8021Q as u32), // C-tag at 14
    /* 13 */ bpf(BPF_JEQ_K, 2, 7, TPID_8021AD as u32), // S-tag at 16
    /* 14 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 15 */ bpf(BPF_JEQ_K, 4, 5, ETHERTYPE_ECPRI as u32),
    /* 16 */ bpf(BPF_LD_H_ABS, 0, 0, 16),
    /* 17 */ bpf(BPF_JEQ_K, 0, 3, TPID_8021Q as u32),
    /* 18 */ bpf(BPF_LD_H_ABS, 0, 0, 20),
    /* 19 */ bpf(BPF_JEQ_K, 0, 1, ETHERTYPE_ECPRI as u32),
    /* 20 */ bpf(BPF_RET_K, 0, 0, u32::MAX), // accept the whole frame
    /* 21 */ bpf(BPF_RET_K, 0, 0, 0), // reject
];

// ---------------------------------------------------------------- stats

/// A snapshot of an [`AfPacketRx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfPacketRxStats {
    /// Frames handed to the pipeline.
    pub frames: u64,
    /// Their bytes (restored tags included).
    pub bytes: u64,
    /// Dropped: longer than a packet buffer ([`PACKET_CAPACITY`]).
    pub too_long: u64,
    /// Dropped: cut short by the ring (a block smaller than the frame).
    pub truncated: u64,
    /// Dropped: shorter than an Ethernet header, or a ring entry out of bounds.
    pub malformed: u64,
    /// Dropped by the kernel because the ring was full (PACKET_STATISTICS).
    pub ring_full: u64,
}

/// A snapshot of an [`AfPacketTx`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfPacketTxStats {
    /// Frames queued on the ring (published at each flush).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Dropped: longer than the interface carries (MTU + header + one tag), or than a ring slot.
    pub too_long: u64,
    /// Dropped: shorter than an Ethernet header.
    pub runt: u64,
    /// Dropped: no slot came free within [`TX_FULL_WAIT`].
    pub ring_full: u64,
    /// Kicks the kernel could not complete at once (device busy or send buffer full); the frames stay queued.
    pub congested: u64,
    /// Kicks refused because the interface was down or gone; the frames stay queued.
    pub link_down: u64,
}

/// Counters one half publishes and any thread may read.
#[derive(Debug)]
pub struct Counters<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Counters(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl<const N: usize> Counters<N> {
    fn add(&self, i: usize, n: u64) {
        if n != 0 {
            // Relaxed: counters are independent totals, read for reporting.
            self.0[i].fetch_add(n, Ordering::Relaxed);
        }
    }

    fn get(&self, i: usize) -> u64 {
        self.0[i].load(Ordering::Relaxed)
    }
}

/// Shared counters of an [`AfPacketRx`]; [`RxCounters::snapshot`] reads them.
pub type RxCounters = Counters<6>;
/// Shared counters of an [`AfPacketTx`]; [`TxCounters::snapshot`] reads them.
pub type TxCounters = Counters<7>;

mod rx_stat {
    pub const FRAMES: usize = 0;
    pub const BYTES: usize = 1;
    pub const TOO_LONG: usize = 2;
    pub const TRUNCATED: usize = 3;
    pub const MALFORMED: usize = 4;
    pub const RING_FULL: usize = 5;
}

mod tx_stat {
    pub const FRAMES: usize = 0;
    pub const BYTES: usize = 1;
    pub const TOO_LONG: usize = 2;
    pub const RUNT: usize = 3;
    pub const RING_FULL: usize = 4;
    pub const CONGESTED: usize = 5;
    pub const LINK_DOWN: usize = 6;
}

impl RxCounters {
    /// The counters now.
    pub fn snapshot(&self) -> AfPacketRxStats {
        use rx_stat::*;
        AfPacketRxStats {
            frames: self.get(FRAMES),
            bytes: self.get(BYTES),
            too_long: self.get(TOO_LONG),
            truncated: self.get(TRUNCATED),
            malformed: self.get(MALFORMED),
            ring_full: self.get(RING_FULL),
        }
    }
}

impl TxCounters {
    /// The counters now.
    pub fn snapshot(&self) -> AfPacketTxStats {
        use tx_stat::*;
        AfPacketTxStats {
            frames: self.get(FRAMES),
            bytes: self.get(BYTES),
            too_long: self.get(TOO_LONG),
            runt: self.get(RUNT),
            ring_full: self.get(RING_FULL),
            congested: self.get(CONGESTED),
            link_down: self.get(LINK_DOWN),
        }
    }
}

/// Logs drops at most once a second, so a flood of bad frames costs one
/// clock read per drop and not one log line.
struct DropLog {
    last: Option<Instant>,
}

impl DropLog {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return false;
        }
        self.last = Some(now);
        true
    }
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
    // protocol, which is after the filter is in place.
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
/// must hold it.
pub fn open(c: &AfPacketConfig, mtu: usize) -> Result<(AfPacketRx, AfPacketTx), OpenError> {
    let port = format!("af_packet {}", c.interface);
    live::require_capabilities(&port, &[Capability::NetRaw])?;
    let info = live::check_interface(&port, &c.interface, mtu)?;
    let index = ifindex(&port, &c.interface)?;
    let rx = AfPacketRx::open(&port, c, index, mtu)?;
    let tx = AfPacketTx::open(&port, c, index, info.mtu)?;
    Ok((rx, tx))
}

// ---------------------------------------------------------------- RX

/// The receive half: a TPACKET_V3 ring of eCPRI frames.
pub struct AfPacketRx {
    ring: Ring,
    block_size: usize,
    blocks: usize,
    /// The block being read.
    block: usize,
    /// Frames of that block still to read (0: wait for the block to be ours).
    left: u32,
    /// Offset in the block of the next frame's header.
    next: usize,
    counters: Arc<RxCounters>,
    log: DropLog,
    fd: OwnedFd,
}

impl AfPacketRx {
    fn open(port: &str, c: &AfPacketConfig, index: u32, mtu: usize) -> Result<Self, OpenError> {
        let block_size = c.block_size as usize;
        if block_size < mtu + ETH_HEADER_LEN + 2 * TAG_LEN + RX_BLOCK_OVERHEAD {
            return Err(OpenError::new(
                port,
                format!("ring blocks of {block_size} bytes cannot hold a frame of MTU {mtu}"),
                "raise `packet_block_kib` (a block holds at least one whole frame)",
            ));
        }
        let fd = packet_socket().map_err(|e| sys_error(port, "cannot open a packet socket", e))?;
        let v3 = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v3).map_err(|e| sys_error(port, "PACKET_VERSION 3", e))?;
        let prog = libc::sock_fprog { len: ECPRI_FILTER.len() as u16, filter: ECPRI_FILTER.as_ptr().cast_mut() };
        // The kernel copies the program; `prog` only has to live for the call.
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog).map_err(|e| sys_error(port, "attaching the eCPRI filter", e))?;
        let one: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one).map_err(|e| sys_error(port, "PACKET_IGNORE_OUTGOING", e))?;
        // In V3 the frame size only has to divide the block; frames are packed.
        let frame_size = 2048.min(block_size) as u32;
        let req = libc::tpacket_req3 {
            tp_block_size: c.block_size,
            tp_block_nr: c.blocks,
            tp_frame_size: frame_size,
            tp_frame_nr: (c.block_size / frame_size) * c.blocks,
            tp_retire_blk_tov: RETIRE_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|e| sys_error(port, "setting up the RX ring", e))?;
        let len = block_size * c.blocks as usize;
        let ring = Ring::map(&fd, len).map_err(|e| sys_error(port, "mapping the RX ring", e))?;
        bind(&fd, index, libc::ETH_P_ALL as u16).map_err(|e| sys_error(port, "binding the RX socket", e))?;
        Ok(AfPacketRx {
            ring,
            block_size,
            blocks: c.blocks as usize,
            block: 0,
            left: 0,
            next: 0,
            counters: Arc::default(),
            log: DropLog { last: None },
            fd,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> AfPacketRxStats {
        self.counters.snapshot()
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> Arc<RxCounters> {
        self.counters.clone()
    }

    fn block_at(&self) -> usize {
        self.block * self.block_size
    }

    /// Gives the current block back to the kernel and moves to the next.
    fn release_block(&mut self) {
        self.ring.status(self.block_at() + field::BLOCK_STATUS).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.left = 0;
        self.block += 1;
        if self.block == self.blocks {
            self.block = 0;
        }
    }

    /// Takes the next block if the kernel has handed it over.
    fn open_block(&mut self) -> bool {
        let base = self.block_at();
        // Acquire: the kernel writes the frames, then the status.
        let status = self.ring.status(base + field::BLOCK_STATUS).load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return false;
        }
        if status & libc::TP_STATUS_LOSING != 0 {
            self.read_kernel_drops();
        }
        let n = self.ring.read_u32(base + field::NUM_PKTS);
        let first = self.ring.read_u32(base + field::FIRST_PKT) as usize;
        if n == 0 || first < size_of::<libc::tpacket_block_desc>() || first >= self.block_size {
            if n != 0 {
                self.drop_frame(rx_stat::MALFORMED, "ring block out of bounds");
            }
            self.release_block();
            return true;
        }
        self.left = n;
        self.next = first;
        true
    }

    /// PACKET_STATISTICS: frames the kernel dropped for want of ring space
    /// (reading resets them). Only called when a block says it lost some.
    fn read_kernel_drops(&mut self) {
        // SAFETY: plain data; all-zero is valid.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writes of the sizes given.
        let r = unsafe { libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS, (&mut st as *mut libc::tpacket_stats_v3).cast(), &mut len) };
        if r == 0 && st.tp_drops > 0 {
            self.counters.add(rx_stat::RING_FULL, st.tp_drops as u64);
            tracing::info!(port = "af_packet", dropped = st.tp_drops, stats = ?self.stats(), "RX ring full: the kernel dropped frames");
        }
    }

    fn drop_frame(&mut self, reason: usize, why: &str) {
        self.counters.add(reason, 1);
        if self.log.due() {
            tracing::info!(port = "af_packet", reason = why, stats = ?self.stats(), "RX frame dropped");
        }
    }

    /// Reads the frame at `self.next` into `buf`; its length and time, or
    /// `None` when it was dropped. Returns `Err(())` when the block is
    /// corrupt and must be given up.
    fn take_frame(&mut self, buf: &mut PacketBuf) -> Result<Option<(usize, u64)>, ()> {
        let base = self.block_at();
        let at = self.next;
        if at + size_of::<libc::tpacket3_hdr>() > self.block_size {
            return Err(());
        }
        // SAFETY: the header lies inside the block (checked above), which
        // is ours until released; read_unaligned copies it out.
        let h: libc::tpacket3_hdr = unsafe { self.ring.ptr.as_ptr().add(base + at).cast::<libc::tpacket3_hdr>().read_unaligned() };
        self.next = at + h.tp_next_offset as usize;
        let (mac, snap) = (h.tp_mac as usize, h.tp_snaplen as usize);
        if at + mac + snap > self.block_size {
            return Err(());
        }
        if snap < h.tp_len as usize {
            self.drop_frame(rx_stat::TRUNCATED, "truncated by the ring (raise packet_block_kib)");
            return Ok(None);
        }
        if snap < ETH_HEADER_LEN {
            self.drop_frame(rx_stat::MALFORMED, "shorter than an Ethernet header");
            return Ok(None);
        }
        let tag = (h.tp_status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { h.hv1.tp_vlan_tpid } else { TPID_8021Q };
            (tpid, h.hv1.tp_vlan_tci as u16)
        });
        let len = snap + if tag.is_some() { TAG_LEN } else { 0 };
        if len > PACKET_CAPACITY {
            self.drop_frame(rx_stat::TOO_LONG, "longer than a packet buffer");
            return Ok(None);
        }
        // SAFETY: `base + at + mac .. + snap` lies inside the block (checked
        // above), which the kernel does not touch until it is released.
        let data = unsafe { std::slice::from_raw_parts(self.ring.ptr.as_ptr().add(base + at + mac), snap) };
        let out = buf.bytes_mut();
        match tag {
            Some((tpid, tci)) => {
                // Put the tag the kernel stripped back where it was on the wire.
                out[..TAG_AT].copy_from_slice(&data[..TAG_AT]);
                out[TAG_AT..TAG_AT + 2].copy_from_slice(&tpid.to_be_bytes());
                out[TAG_AT + 2..TAG_AT + 4].copy_from_slice(&tci.to_be_bytes());
                out[TAG_AT + TAG_LEN..len].copy_from_slice(&data[TAG_AT..]);
            }
            None => out[..len].copy_from_slice(data),
        }
        Ok(Some((len, h.tp_sec as u64 * 1_000_000_000 + h.tp_nsec as u64)))
    }
}

impl RxPort for AfPacketRx {
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        let cap = bufs.len().min(lens.len()).min(times.len());
        let (mut n, mut bytes) = (0, 0u64);
        // At most one pass over the ring, so a call always returns.
        let mut blocks_seen = 0;
        while n < cap {
            if self.left == 0 {
                if blocks_seen == self.blocks || !self.open_block() {
                    break;
                }
                blocks_seen += 1;
                continue;
            }
            let r = self.take_frame(&mut bufs[n]);
            self.left -= 1;
            match r {
                Ok(Some((len, t))) => {
                    lens[n] = len;
                    times[n] = t;
                    bytes += len as u64;
                    n += 1;
                }
                Ok(None) => {}
                Err(()) => {
                    self.drop_frame(rx_stat::MALFORMED, "ring frame out of bounds");
                    self.left = 0;
                }
            }
            if self.left == 0 {
                self.release_block();
            }
        }
        self.counters.add(rx_stat::FRAMES, n as u64);
        self.counters.add(rx_stat::BYTES, bytes);
        Ok(if n == 0 { RxPoll::Idle } else { RxPoll::Frames(n) })
    }
}

// ---------------------------------------------------------------- TX

/// The transmit half: a TPACKET_V2 ring that bypasses the qdisc.
///
/// A TX ring rather than `sendmmsg`: frames are copied once, into memory
/// the kernel sends from, and a burst costs one `send` with no per-frame
/// `msghdr`/iovec setup or socket-buffer allocation in the syscall.
pub struct AfPacketTx {
    ring: Ring,
    block_size: usize,
    frame_size: usize,
    per_block: usize,
    slots: usize,
    /// The next slot to fill.
    head: usize,
    /// Frames written since the last kick.
    queued: usize,
    /// Longest frame the interface and a slot take.
    max_len: usize,
    /// The last wait for a slot timed out: drop at once while the ring stays full.
    stalled: bool,
    /// Frames and bytes queued since the counters were last published (once per flush).
    unpublished: (u64, u64),
    counters: Arc<TxCounters>,
    log: DropLog,
    fd: OwnedFd,
}

impl AfPacketTx {
    fn open(port: &str, c: &AfPacketConfig, index: u32, if_mtu: usize) -> Result<Self, OpenError> {
        // A frame: MTU of payload, the header and one tag (what the kernel
        // lets through), after the slot header; slots are 16-byte aligned.
        let max_len = if_mtu + ETH_HEADER_LEN + TAG_LEN;
        let frame_size = (TX_DATA_OFFSET + max_len + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1);
        let block_size = (c.block_size as usize).max(frame_size.next_power_of_two());
        let blocks = ((c.block_size as usize * c.blocks as usize) / block_size).max(2);
        let per_block = block_size / frame_size;
        let fd = packet_socket().map_err(|e| sys_error(port, "cannot open a packet socket", e))?;
        let v2 = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v2).map_err(|e| sys_error(port, "PACKET_VERSION 2", e))?;
        let one: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one).map_err(|e| sys_error(port, "PACKET_QDISC_BYPASS", e))?;
        // Skip a frame the kernel finds malformed instead of stopping the ring on it.
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_LOSS, &one).map_err(|e| sys_error(port, "PACKET_LOSS", e))?;
        // Frames in flight count against the send buffer: make it as large
        // as allowed (FORCE needs CAP_NET_ADMIN; the plain one is capped by wmem_max).
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &TX_SNDBUF).is_err() {
            let _ = setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &TX_SNDBUF);
        }
        let req = libc::tpacket_req {
            tp_block_size: block_size as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (per_block * blocks) as u32,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &req).map_err(|e| sys_error(port, "setting up the TX ring", e))?;
        let ring = Ring::map(&fd, block_size * blocks).map_err(|e| sys_error(port, "mapping the TX ring", e))?;
        // Protocol 0: bound to the interface for sending, receives nothing.
        bind(&fd, index, 0).map_err(|e| sys_error(port, "binding the TX socket", e))?;
        Ok(AfPacketTx {
            ring,
            block_size,
            frame_size,
            per_block,
            slots: per_block * blocks,
            head: 0,
            queued: 0,
            max_len,
            stalled: false,
            unpublished: (0, 0),
            counters: Arc::default(),
            log: DropLog { last: None },
            fd,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> AfPacketTxStats {
        self.counters.snapshot()
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> Arc<TxCounters> {
        self.counters.clone()
    }

    fn slot_at(&self, i: usize) -> usize {
        (i / self.per_block) * self.block_size + (i % self.per_block) * self.frame_size
    }

    fn slot_free(&self) -> bool {
        // Acquire: the kernel is done with the slot's bytes before it marks it available.
        let s = self.ring.status(self.slot_at(self.head) + field::TX_STATUS).load(Ordering::Acquire);
        s & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) == 0
    }

    fn drop_frame(&mut self, reason: usize, why: &str) {
        self.counters.add(reason, 1);
        if self.log.due() {
            tracing::info!(port = "af_packet", reason = why, stats = ?self.stats(), "TX frame dropped");
        }
    }

    /// One `send(fd, NULL, 0, MSG_DONTWAIT)`: the kernel sends every queued
    /// slot in order. Congestion and a downed link leave frames queued
    /// (they go with the next kick); only unexpected errors are returned.
    fn kick(&mut self) -> io::Result<bool> {
        if self.queued == 0 {
            return Ok(true);
        }
        // SAFETY: a NULL, zero-length send is how a TX ring is kicked; the
        // kernel reads only the ring.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if r >= 0 {
            // The kernel stops early when the send buffer fills; it sends in
            // order, so the newest request still pending means more to do.
            let newest = if self.head == 0 { self.slots - 1 } else { self.head - 1 };
            let s = self.ring.status(self.slot_at(newest) + field::TX_STATUS).load(Ordering::Acquire);
            if s == libc::TP_STATUS_SEND_REQUEST {
                self.counters.add(tx_stat::CONGESTED, 1);
                return Ok(false);
            }
            self.queued = 0;
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => Ok(false),
            Some(libc::EAGAIN | libc::ENOBUFS) => {
                self.counters.add(tx_stat::CONGESTED, 1);
                Ok(false)
            }
            Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV) => {
                self.counters.add(tx_stat::LINK_DOWN, 1);
                if self.log.due() {
                    tracing::info!(port = "af_packet", error = %e, stats = ?self.stats(), "TX: interface down, frames stay queued");
                }
                Ok(false)
            }
            _ => Err(e),
        }
    }

    /// Kicks until everything queued went out or `budget` is spent.
    fn kick_for(&mut self, budget: Duration) -> io::Result<()> {
        let deadline = Instant::now() + budget;
        while !self.kick()? {
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }

    /// The ring is full: kick and wait up to [`TX_FULL_WAIT`] for the slot
    /// at the head to come free. After one wait has timed out, later ones
    /// give up at once (no syscall per frame) until a slot is free again.
    fn wait_for_slot(&mut self) -> io::Result<bool> {
        if self.stalled {
            return Ok(false);
        }
        let deadline = Instant::now() + TX_FULL_WAIT;
        loop {
            self.kick()?;
            if self.slot_free() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                self.stalled = true;
                return Ok(false);
            }
            let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
            // SAFETY: one valid pollfd; the 1 ms timeout bounds the wait.
            unsafe { libc::poll(&mut p, 1, 1) };
        }
    }
}

impl TxPort for AfPacketTx {
    fn send(&mut self, frame: &[u8], _time_ns: u64) -> io::Result<()> {
        if frame.len() > self.max_len {
            self.drop_frame(tx_stat::TOO_LONG, "longer than the interface MTU allows");
            return Ok(());
        }
        if frame.len() < ETH_HEADER_LEN {
            self.drop_frame(tx_stat::RUNT, "shorter than an Ethernet header");
            return Ok(());
        }
        if self.slot_free() {
            self.stalled = false;
        } else if !self.wait_for_slot()? {
            self.drop_frame(tx_stat::RING_FULL, "TX ring full");
            return Ok(());
        }
        let at = self.slot_at(self.head);
        // SAFETY: the slot is free (status AVAILABLE or WRONG_FORMAT), so
        // the kernel does not read it; `frame.len() <= max_len` fits the
        // slot after its header (frame_size was sized for max_len).
        unsafe {
            let p = self.ring.ptr.as_ptr().add(at);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), p.add(TX_DATA_OFFSET), frame.len());
            p.add(field::TX_LEN).cast::<u32>().write_volatile(frame.len() as u32);
        }
        // Release: the frame bytes and length are visible before the kernel sees the request.
        self.ring.status(at + field::TX_STATUS).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head += 1;
        if self.head == self.slots {
            self.head = 0;
        }
        self.queued += 1;
        self.unpublished.0 += 1;
        self.unpublished.1 += frame.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let (frames, bytes) = std::mem::take(&mut self.unpublished);
        self.counters.add(tx_stat::FRAMES, frames);
        self.counters.add(tx_stat::BYTES, bytes);
        // A short budget: congestion is retried here briefly, then by the next burst's kick.
        self.kick_for(Duration::from_millis(1))
    }
}

impl Drop for AfPacketTx {
    fn drop(&mut self) {
        // Give frames still queued a last chance before the ring goes away.
        let _ = self.flush();
        let _ = self.kick_for(TX_FULL_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;

    /// A classic BPF interpreter for the few instructions the filter uses,
    /// with the VLAN ancillary data given.
    fn run(prog: &[libc::sock_filter], pkt: &[u8], vlan: Option<u16>) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS if i.k == AD_VLAN_PRESENT => a = vlan.is_some() as u32,
                BPF_LD_W_ABS if i.k == AD_VLAN_TPID => a = vlan.unwrap_or(0) as u32,
                BPF_LD_H_ABS => match pkt.get(i.k as usize..i.k as usize + 2) {
                    Some(b) => a = u16::from_be_bytes([b[0], b[1]]) as u32,
                    None => return 0,
                },
                BPF_JEQ_K => pc += if a == i.k { i.jt } else { i.jf } as usize,
                BPF_RET_K => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn frame(types: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for t in types {
            f.extend(t.to_be_bytes());
            f.extend([0x20, 0x05]);
        }
        f.truncate(f.len() - 2);
        f.extend([0x10, 0, 0, 4, 0, 0, 0, 0]);
        f
    }

    #[test]
    fn filter_accepts_ecpri_in_every_shape_and_nothing_else() {
        let accept = |pkt: &[u8], vlan| run(&ECPRI_FILTER, pkt, vlan) != 0;
        // Inline shapes.
        assert!(accept(&frame(&[0xAEFE]), None));
        assert!(accept(&frame(&[0x8100, 0xAEFE]), None));
        assert!(accept(&frame(&[0x88A8, 0x8100, 0xAEFE]), None));
        // The outer tag stripped into metadata.
        assert!(accept(&frame(&[0xAEFE]), Some(0x8100)));
        assert!(accept(&frame(&[0x8100, 0xAEFE]), Some(0x88A8)));
        // Not eCPRI.
        for (types, vlan) in [
            (&[0x0800][..], None),
            (&[0x0806][..], None),
            (&[0x86DD][..], Some(0x8100)),
            (&[0x8100, 0x0800][..], None),
            (&[0x88A8, 0x8100, 0x0806][..], None),
            (&[0x88A8, 0xAEFE][..], None),
            (&[0xAEFE][..], Some(0x88A8)),
            (&[0x8100, 0xAEFE][..], Some(0x8100)),
            (&[0x8100, 0x0800][..], Some(0x88A8)),
        ] {
            assert!(!accept(&frame(types), vlan), "{types:x?} {vlan:?}");
        }
        assert!(!accept(&[0u8; 12], None), "too short to hold a type");
        // Every jump lands inside the program.
        for (pc, i) in ECPRI_FILTER.iter().enumerate() {
            if i.code == BPF_JEQ_K {
                assert!(pc + 1 + (i.jt.max(i.jf) as usize) < ECPRI_FILTER.len(), "{pc}");
            }
        }
    }

    #[test]
    fn layouts_match_the_kernel_headers() {
        assert_eq!((field::BLOCK_STATUS, field::NUM_PKTS, field::FIRST_PKT), (8, 12, 16));
        assert_eq!((field::TX_STATUS, field::TX_LEN, TX_DATA_OFFSET), (0, 4, 32));
        assert_eq!(size_of::<libc::tpacket3_hdr>(), 48);
        assert_eq!(offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid), 36);
    }

    #[test]
    fn missing_interfaces_are_named() {
        let c = AfPacketConfig { interface: "fhg-nope0".into(), block_size: 1 << 18, blocks: 4 };
        let Err(e) = open(&c, 1500) else { panic!("opened a missing interface") };
        let s = e.to_string();
        assert!(s.contains("fhg-nope0") && (s.contains("no interface named") || s.contains("lacks")), "{s}");
    }
}
