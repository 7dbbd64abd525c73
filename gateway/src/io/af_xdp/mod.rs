//! AF_XDP ports: our own XDP program steers every frame of one interface
//! queue into an AF_XDP socket (eCPRI and everything else: the port is one
//! end of a bridge, DEVELOPERS.md "Passthrough"); the socket's receive
//! half and transmit half serve two pipeline threads.
//!
//! The program is attached with a BPF link, so it detaches when the port
//! is dropped and when the process dies. Frames larger than one 4 KiB UMEM
//! frame (jumbo frames) travel as several descriptors (multi-buffer,
//! `XDP_USE_SG`). The hot path copies each frame once, between the UMEM
//! and the pipeline's own buffers, and makes no allocation, lock or
//! system call per frame.
//!
//! `program` holds the XDP program and the bpf() calls, `xsk` the socket,
//! UMEM and rings, `port` the two halves; this file opens a port and turns
//! each failure into an [`OpenError`] that says what to do.
//!
//! One port per interface: the program is attached to the whole
//! interface, so a second port on another queue of it finds it busy. A
//! port of several queues (`queues = "0-3"`, [`open_queues`]) has one
//! program and XSKMAP and a socket (with its own UMEM) per queue, each
//! split into its two halves: each queue is a lane of its own.
//! veth has native (driver) XDP, also without a program on its peer, but
//! no zero-copy; with multi-buffer it carries jumbo frames in both modes.

mod port;
mod program;
mod xsk;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

pub use self::port::{AfXdpRx, AfXdpTx};
use self::port::{Attachment, KernelPace, Shared};
use self::xsk::{StepError, UmemPart, Xsk, CHUNK};
use super::live::{self, Capability, OpenError};
use super::port_stats::PortCounters;
use crate::config::{AfXdpConfig, XdpCopy, XdpMode};
use crate::packet::PACKET_CAPACITY;

/// Bytes the kernel keeps in front of a received frame in its UMEM frame.
const RX_HEADROOM: usize = 256;
/// Frames per busy-poll run (SO_BUSY_POLL_BUDGET).
const BUSY_POLL_BUDGET: u32 = 64;

/// How an open port runs, as the kernel granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortInfo {
    /// The attach mode of the XDP program: `Driver` or `Generic` (never `Auto`).
    pub mode: XdpMode,
    /// Whether the socket runs zero-copy.
    pub zero_copy: bool,
    /// Whether the socket is bound with multi-buffer (`XDP_USE_SG`).
    pub multi_buffer: bool,
}

/// The kernel's counters for the socket (`struct xdp_statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames dropped for other reasons than invalid descriptors.
    pub rx_dropped: u64,
    /// Invalid descriptors in the fill ring.
    pub rx_invalid_descs: u64,
    /// Invalid descriptors in the TX ring.
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was empty when the kernel looked.
    pub tx_ring_empty_descs: u64,
}

/// A snapshot of one half's counters (see [`AfXdpRx::counters`] for the
/// counter set itself, drops by reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received (RX half) or queued for sending (TX half, published at each flush).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames dropped here, all reasons: too long, malformed descriptors, or no TX room in time.
    pub drops: u64,
    /// The kernel's counters for the whole socket.
    pub kernel: KernelStats,
}

/// Opens an AF_XDP port on `c.interface` queue `c.queue`, able to carry
/// `mtu` bytes of Ethernet payload: loads and attaches the XDP program,
/// creates and binds the socket, and splits it into its two halves. A
/// configuration of more than one queue is refused: [`open_queues`] opens those.
pub fn open(c: &AfXdpConfig, mtu: usize) -> Result<(AfXdpRx, AfXdpTx), OpenError> {
    if c.queues != 1 {
        return Err(OpenError::new(
            format!("af_xdp {} queues {}-{}", c.interface, c.queue, c.queue + c.queues.saturating_sub(1)),
            "this command uses one queue; a socket per queue is for `fhgate run`, `gen`, `sink` and `bench`",
            "give one `queue`",
        ));
    }
    let mut v = open_queues(c, mtu)?;
    v.pop().ok_or_else(|| OpenError::new(format!("af_xdp {}", c.interface), "no queue opened", ""))
}

/// Opens one socket per queue of `c.queue .. c.queue + c.queues` on
/// `c.interface`, each with its own UMEM and its two halves, all in the
/// XSKMAP of one XDP program: a frame the NIC puts on queue `q` reaches
/// queue `q`'s socket. Each queue is checked before anything is attached;
/// a queue the interface lacks is an error naming it and the interface.
pub fn open_queues(c: &AfXdpConfig, mtu: usize) -> Result<Vec<(AfXdpRx, AfXdpTx)>, OpenError> {
    let last = c.queue.saturating_add(c.queues.max(1) - 1);
    let port = if c.queues > 1 { format!("af_xdp {} queues {}-{last}", c.interface, c.queue) } else { format!("af_xdp {} queue {}", c.interface, c.queue) };
    let iface = c.interface.as_str();
    live::require_capabilities(&port, &[Capability::NetRaw, Capability::NetAdmin, Capability::Bpf])?;
    let info = live::check_interface(&port, iface, mtu)?;
    let ifindex = check_sysfs(&port, iface, info.index)?;
    for q in c.queue..=last {
        check_queue(&port, iface, q)?;
    }
    let max_frame = mtu + 18;
    if max_frame > PACKET_CAPACITY {
        return Err(OpenError::new(
            &port,
            format!("an MTU of {mtu} makes frames of {max_frame} bytes, more than the {PACKET_CAPACITY} the pipeline's buffers hold"),
            format!("lower `mtu` to {} or less", PACKET_CAPACITY - 18),
        ));
    }
    if c.copy == XdpCopy::ZeroCopy && c.mode == XdpMode::Generic {
        return Err(OpenError::new(&port, "zero-copy needs the XDP program in driver mode, but xdp_mode is \"generic\"", "set xdp_mode = \"driver\" (or \"auto\"), or xdp_copy = \"copy\""));
    }

    // The program and its map: one entry per queue index up to the last.
    let map = program::create_xsk_map(last.saturating_add(1)).map_err(|e| bpf_error(&port, "creating the XSKMAP", e))?;
    let insns = program::redirect_all(std::os::fd::AsRawFd::as_raw_fd(&map)).map_err(|e| bpf_error(&port, "assembling the XDP program", e))?;
    let prog = program::load_xdp(&insns).map_err(|e| {
        let problem = if e.log.is_empty() {
            "the kernel refused the XDP program".to_string()
        } else {
            format!("the kernel refused the XDP program; verifier log:\n{}", e.log)
        };
        OpenError::new(&port, problem, perm_fix(&e.error).unwrap_or("report this as a bug, with the verifier log")).with_source(e.error)
    })?;
    let (link, mode) = attach(&port, iface, ifindex, &prog, c.mode)?;
    let attachment = Arc::new(Attachment { _link: link, _prog: prog, map });
    (c.queue..=last).map(|q| open_queue(c, q, max_frame, ifindex, mode, &attachment)).collect()
}

/// Opens the socket of queue `queue` and puts it in the attachment's XSKMAP.
fn open_queue(c: &AfXdpConfig, queue: u32, max_frame: usize, ifindex: u32, mode: XdpMode, attachment: &Arc<Attachment>) -> Result<(AfXdpRx, AfXdpTx), OpenError> {
    let port = format!("af_xdp {} queue {queue}", c.interface);
    let iface = c.interface.as_str();
    let xsk = Xsk::new(c.umem_frames, c.ring_size).map_err(|e| socket_error(&port, c, e))?;
    let copy_flag = match c.copy {
        XdpCopy::Copy => libc::XDP_COPY,
        XdpCopy::ZeroCopy => libc::XDP_ZEROCOPY,
        // Zero-copy needs driver mode; in generic mode ask for copy outright.
        XdpCopy::Auto if mode == XdpMode::Generic => libc::XDP_COPY,
        XdpCopy::Auto => 0,
    };
    let flags = copy_flag | libc::XDP_USE_NEED_WAKEUP;
    let multi_buffer = bind(&port, iface, ifindex, c, queue, &xsk, flags, max_frame)?;
    let zero_copy = xsk.zero_copy();
    if let Some(us) = c.busy_poll_us {
        xsk.busy_poll(us, BUSY_POLL_BUDGET).map_err(|e| {
            OpenError::new(&port, "the kernel refused the busy-poll socket options", "remove `busy_poll_us` from the configuration").with_source(e)
        })?;
    }
    program::set_xsk(attachment.map.as_fd(), queue, xsk.fd()).map_err(|e| bpf_error(&port, "putting the socket in the XSKMAP", e))?;

    // Split: fill + RX rings and frames [0, n/2) to RX, TX + completion and [n/2, n) to TX.
    let ((fill, rx), (tx, completion)) = xsk.rings(c.ring_size).map_err(|e| socket_error(&port, c, e))?;
    let half = c.umem_frames / 2;
    let rx_umem = UmemPart::new(&xsk, 0, half);
    let tx_umem = UmemPart::new(&xsk, half, c.umem_frames - half);
    let rx_free: Vec<u64> = rx_umem.frames().collect();
    let tx_free: Vec<u64> = tx_umem.frames().collect();
    let info = PortInfo { mode, zero_copy, multi_buffer };
    tracing::info!(port = %port, ?mode, zero_copy, multi_buffer, umem_frames = c.umem_frames, ring_size = c.ring_size, "af_xdp port open");
    // A single-queue port's counters carry no queue label, as before.
    let label = (c.queues > 1).then_some(queue);
    let (rx_counters, tx_counters) = PortCounters::pair_on_queue("af_xdp", iface, label, port::RX_EVENTS, port::TX_EVENTS);
    let shared = Arc::new(Shared { _attachment: attachment.clone(), xsk, port, info });
    let mut rx = AfXdpRx {
        shared: shared.clone(),
        fill,
        rx,
        umem: rx_umem,
        free: rx_free,
        zero_copy,
        busy_poll: c.busy_poll_us.is_some(),
        counters: rx_counters,
        kernel_pace: KernelPace::new(),
        watch: crate::io::live::IfaceWatch::new(iface, ifindex),
    };
    rx.refill();
    let tx = AfXdpTx {
        shared,
        tx,
        completion,
        umem: tx_umem,
        free: tx_free,
        copy_mode: !zero_copy,
        ring_size: c.ring_size,
        stalled: false,
        unpublished: (0, 0),
        counters: tx_counters,
        kernel_pace: KernelPace::new(),
    };
    Ok((rx, tx))
}

/// Checks that `/sys/class/net` (read for the queue count) describes
/// this thread's network namespace: its ifindex of `iface` must be the
/// kernel's, `index`.
fn check_sysfs(port: &str, iface: &str, index: u32) -> Result<u32, OpenError> {
    let sysfs = std::fs::read_to_string(std::path::Path::new("/sys/class/net").join(iface).join("ifindex")).ok().and_then(|s| s.trim().parse::<u32>().ok());
    match sysfs {
        Some(i) if i == index => Ok(i),
        _ => Err(OpenError::new(
            port,
            format!("`{iface}` is ifindex {index} in this network namespace, but /sys/class/net shows {}", sysfs.map_or("no such interface".to_string(), |i| format!("ifindex {i}"))),
            "/sys is mounted from another network namespace: run fhgate with `ip netns exec NS fhgate ...`, which mounts a matching /sys",
        )),
    }
}

/// Fails unless `iface` has RX and TX queue `queue`.
fn check_queue(port: &str, iface: &str, queue: u32) -> Result<(), OpenError> {
    let dir = std::path::Path::new("/sys/class/net").join(iface).join("queues");
    if dir.join(format!("rx-{queue}")).exists() && dir.join(format!("tx-{queue}")).exists() {
        return Ok(());
    }
    let rx = std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count()).unwrap_or(0);
    Err(OpenError::new(
        port,
        format!("queue {queue} is out of range: `{iface}` has {rx} RX queue(s)"),
        format!("use a queue below {rx}, or add queues (`ethtool -L {iface} combined {}`)", queue.saturating_add(1)),
    ))
}

/// The fix for a permission error, if it is one.
fn perm_fix(e: &io::Error) -> Option<&'static str> {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
        .then_some("run fhgate as root, or with CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (CAP_SYS_ADMIN before Linux 5.8)")
}

fn bpf_error(port: &str, what: &str, e: io::Error) -> OpenError {
    let fix = perm_fix(&e).unwrap_or("check that the kernel has BPF and AF_XDP (CONFIG_BPF_SYSCALL, CONFIG_XDP_SOCKETS)");
    OpenError::new(port, format!("{what} failed"), fix).with_source(e)
}

/// The interface's XDP features as the kernel reports them, for error messages.
fn features(ifindex: u32) -> Option<(bool, String)> {
    let caps = xdp::nic::NicIndex::new(ifindex).query_capabilities().ok()?;
    Some((caps.zero_copy.is_available(), format!("{:?}", caps.xdp_features)))
}

/// Attaches the program in `mode`; `Auto` tries driver mode, then generic.
fn attach(port: &str, iface: &str, ifindex: u32, prog: &OwnedFd, mode: XdpMode) -> Result<(OwnedFd, XdpMode), OpenError> {
    let try_mode = |m: XdpMode| {
        let flags = if m == XdpMode::Driver { program::XDP_FLAGS_DRV_MODE } else { program::XDP_FLAGS_SKB_MODE };
        program::attach_xdp(prog.as_fd(), ifindex, flags)
    };
    let first = if mode == XdpMode::Generic { XdpMode::Generic } else { XdpMode::Driver };
    let err = match try_mode(first) {
        Ok(link) => return Ok((link, first)),
        Err(e) => e,
    };
    let errno = err.raw_os_error().unwrap_or(0);
    if mode == XdpMode::Auto && errno != libc::EBUSY && errno != libc::EPERM {
        tracing::info!(port, error = %err, "driver-mode XDP refused; attaching in generic mode");
        match try_mode(XdpMode::Generic) {
            Ok(link) => return Ok((link, XdpMode::Generic)),
            Err(e) => return Err(attach_error(port, iface, ifindex, XdpMode::Generic, e)),
        }
    }
    Err(attach_error(port, iface, ifindex, first, err))
}

fn attach_error(port: &str, iface: &str, ifindex: u32, mode: XdpMode, e: io::Error) -> OpenError {
    let m = if mode == XdpMode::Driver { "driver" } else { "generic" };
    let (problem, fix) = match e.raw_os_error() {
        Some(libc::EBUSY) | Some(libc::EEXIST) => (
            format!("another XDP program is already attached to `{iface}` (another fhgate port, or another tool)"),
            format!("detach it (`ip link set {iface} xdp off`, or stop the process that owns it); one af_xdp port per interface"),
        ),
        Some(libc::EOPNOTSUPP) if mode == XdpMode::Driver => (
            format!("driver has no native XDP for `{iface}`{}", features(ifindex).map(|f| format!(" (xdp_features: {})", f.1)).unwrap_or_default()),
            "use xdp_mode = \"generic\" (or \"auto\")".to_string(),
        ),
        Some(libc::ERANGE) => (
            format!("the driver of `{iface}` refused XDP in {m} mode at this MTU"),
            format!("lower the MTU of `{iface}` (and of its peer, for veth), or use xdp_mode = \"generic\""),
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => (format!("not allowed to attach an XDP program to `{iface}`"), perm_fix(&e).unwrap_or_default().to_string()),
        _ => (
            format!("attaching the XDP program to `{iface}` in {m} mode failed"),
            if mode == XdpMode::Driver { "try xdp_mode = \"generic\"" } else { "check the kernel supports XDP links (Linux 5.9 or later)" }.to_string(),
        ),
    };
    OpenError::new(port, problem, fix).with_source(e)
}

fn socket_error(port: &str, c: &AfXdpConfig, e: StepError) -> OpenError {
    let fix = match e.error.raw_os_error() {
        Some(libc::EAFNOSUPPORT) => "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)".to_string(),
        Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::ENOMEM) | Some(libc::ENOBUFS) => format!(
            "not enough lockable memory for {} UMEM frames: run as root, raise the limit (`ulimit -l unlimited`), or lower `umem_frames`",
            c.umem_frames
        ),
        _ => perm_fix(&e.error).unwrap_or("check `umem_frames` and `xdp_ring_size`").to_string(),
    };
    OpenError::new(port, format!("{} failed", e.step), fix).with_source(e.error)
}

/// Binds the socket, with multi-buffer where the kernel allows it;
/// returns whether multi-buffer is on.
#[allow(clippy::too_many_arguments, reason = "the open's own values, passed down once")]
fn bind(port: &str, iface: &str, ifindex: u32, c: &AfXdpConfig, queue: u32, xsk: &Xsk, flags: u16, max_frame: usize) -> Result<bool, OpenError> {
    let fits_one = max_frame <= CHUNK - RX_HEADROOM;
    let e = match xsk.bind(ifindex, queue, flags | libc::XDP_USE_SG) {
        Ok(()) => return Ok(true),
        Err(e) => e,
    };
    let errno = e.raw_os_error().unwrap_or(0);
    if errno == libc::EOPNOTSUPP || errno == libc::EINVAL {
        let zc = features(ifindex);
        if c.copy == XdpCopy::ZeroCopy && zc.as_ref().is_some_and(|f| !f.0) {
            return Err(OpenError::new(
                port,
                format!("the driver of `{iface}` lacks AF_XDP zero-copy (xdp_features: {})", zc.map(|f| f.1).unwrap_or_default()),
                "use xdp_copy = \"copy\" (or \"auto\")",
            )
            .with_source(e));
        }
        // Perhaps only multi-buffer is refused: without it, frames must fit one UMEM frame.
        if fits_one {
            tracing::info!(port, error = %e, "multi-buffer refused; binding without it");
            return match xsk.bind(ifindex, queue, flags) {
                Ok(()) => Ok(false),
                Err(e2) => Err(bind_error(port, iface, c, queue, e2)),
            };
        }
        return Err(OpenError::new(
            port,
            format!(
                "the kernel refused multi-buffer (XDP_USE_SG){} on `{iface}`, and frames of up to {max_frame} bytes do not fit one {}-byte UMEM frame",
                if c.copy == XdpCopy::ZeroCopy { " in zero-copy mode" } else { "" },
                CHUNK - RX_HEADROOM
            ),
            format!("lower `mtu` to {} or less, or use xdp_copy = \"copy\" on a kernel with AF_XDP multi-buffer (Linux 6.6 or later)", CHUNK - RX_HEADROOM - 18),
        )
        .with_source(e));
    }
    Err(bind_error(port, iface, c, queue, e))
}

fn bind_error(port: &str, iface: &str, c: &AfXdpConfig, queue: u32, e: io::Error) -> OpenError {
    let (problem, fix) = match e.raw_os_error() {
        Some(libc::EBUSY) => (
            format!("queue {queue} of `{iface}` already has an AF_XDP socket"),
            "stop the other process, or use another queue".to_string(),
        ),
        Some(libc::EOPNOTSUPP) if c.copy == XdpCopy::ZeroCopy => {
            (format!("the driver of `{iface}` lacks AF_XDP zero-copy"), "use xdp_copy = \"copy\" (or \"auto\")".to_string())
        }
        _ => (format!("binding the AF_XDP socket to `{iface}` queue {queue} failed"), perm_fix(&e).unwrap_or("check the queue and the driver").to_string()),
    };
    OpenError::new(port, problem, fix).with_source(e)
}
