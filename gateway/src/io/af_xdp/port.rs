//! The two halves of an open AF_XDP port, on the hot path: the receive
//! half copies frames out of its UMEM frames and gives them back through
//! the fill ring, the transmit half copies frames into its UMEM frames and
//! takes them back from the completion ring. One clock read, one publish
//! per ring and at most a few kicks per burst; no allocation or lock.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::xsk::{Consumer, Producer, UmemPart, Xsk, CHUNK};
use super::{KernelStats, PortInfo, PortStats};
use crate::io::live;
use crate::io::port_stats::PortEvent::{self, *};
use crate::io::port_stats::{Pace, PortCounters};
use crate::io::{RxPoll, RxPort, TxPort};
use crate::packet::{PacketBuf, PACKET_CAPACITY};

/// How long `send` waits for room in a full TX ring before dropping the frame.
const TX_WAIT: Duration = Duration::from_millis(100);
/// How often each half copies the kernel's counters into its own.
const KERNEL_STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Calls (bursts or idle polls) between two looks at the clock for that.
const KERNEL_STATS_STRIDE: u32 = 1024;

/// What the receive half counts.
pub(super) const RX_EVENTS: &[PortEvent] =
    &[Frames, Bytes, DropTooLong, DropMalformed, KernelRxDropped, KernelRxInvalidDescs, KernelRxRingFull, KernelFillRingEmpty];
/// What the transmit half counts.
pub(super) const TX_EVENTS: &[PortEvent] = &[Frames, Bytes, DropTooLong, DropRingFull, KernelTxInvalidDescs, KernelTxRingEmpty];

/// The XDP program, its XSKMAP and the link that attaches it: one per
/// port, shared by the sockets of all its queues.
pub(super) struct Attachment {
    // Field order is drop order: the link first, which detaches the
    // program, then the program and map.
    pub(super) _link: OwnedFd,
    pub(super) _prog: OwnedFd,
    pub(super) map: OwnedFd,
}

/// What both halves of one queue share: the attachment and the socket.
/// Nothing in it is mutated after `open`.
pub(super) struct Shared {
    // Field order is drop order: the attachment (detached once the last
    // queue's halves are gone), then the socket and its memory.
    pub(super) _attachment: Arc<Attachment>,
    pub(super) xsk: Xsk,
    pub(super) port: String,
    pub(super) info: PortInfo,
}

impl Shared {
    fn kernel_stats(&self) -> KernelStats {
        match self.xsk.statistics() {
            Ok(s) => KernelStats {
                rx_dropped: s.rx_dropped,
                rx_invalid_descs: s.rx_invalid_descs,
                tx_invalid_descs: s.tx_invalid_descs,
                rx_ring_full: s.rx_ring_full,
                rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs,
                tx_ring_empty_descs: s.tx_ring_empty_descs,
            },
            Err(_) => KernelStats::default(),
        }
    }
}

/// When a half next copies the kernel's counters: a look at the clock
/// every [`KERNEL_STATS_STRIDE`] calls, a copy every [`KERNEL_STATS_INTERVAL`].
pub(super) struct KernelPace {
    calls: u32,
    pace: Pace,
}

impl KernelPace {
    /// A pace that copies at the first look.
    pub(super) fn new() -> Self {
        KernelPace { calls: 0, pace: Pace::new(KERNEL_STATS_INTERVAL) }
    }

    /// Whether this call is the one to copy them.
    #[inline]
    fn due(&mut self) -> bool {
        self.calls = self.calls.wrapping_add(1);
        self.calls.is_multiple_of(KERNEL_STATS_STRIDE) && self.pace.due()
    }
}

impl KernelStats {
    /// Copies the counters `half` reports into its counter set.
    fn publish(&self, half: &PortCounters) {
        let all = [
            (KernelRxDropped, self.rx_dropped),
            (KernelRxInvalidDescs, self.rx_invalid_descs),
            (KernelRxRingFull, self.rx_ring_full),
            (KernelFillRingEmpty, self.rx_fill_ring_empty_descs),
            (KernelTxInvalidDescs, self.tx_invalid_descs),
            (KernelTxRingEmpty, self.tx_ring_empty_descs),
        ];
        for (e, v) in all {
            if half.counts(e) {
                half.set(e, v);
            }
        }
    }
}

/// The snapshot of `counters`, with the kernel's counters read now (and
/// copied into the counter set).
fn snapshot(shared: &Shared, counters: &PortCounters) -> PortStats {
    let kernel = shared.kernel_stats();
    kernel.publish(counters);
    PortStats { frames: counters.get(Frames), bytes: counters.get(Bytes), drops: counters.drops(), kernel }
}

/// The receive half of an AF_XDP port: the fill and RX rings and the
/// first half of the UMEM.
pub struct AfXdpRx {
    pub(super) shared: Arc<Shared>,
    pub(super) fill: Producer<u64>,
    pub(super) rx: Consumer<libc::xdp_desc>,
    pub(super) umem: UmemPart,
    /// Our frames not in the fill ring (capacity: all of them, so pushing never allocates).
    pub(super) free: Vec<u64>,
    /// Zero-copy: the driver may need a wakeup to take new fill-ring frames.
    pub(super) zero_copy: bool,
    pub(super) busy_poll: bool,
    pub(super) counters: PortCounters,
    pub(super) kernel_pace: KernelPace,
    /// Whether the interface is still there, looked at while idle.
    pub(super) watch: live::IfaceWatch,
}

/// The transmit half of an AF_XDP port: the TX and completion rings and
/// the second half of the UMEM.
pub struct AfXdpTx {
    pub(super) shared: Arc<Shared>,
    pub(super) tx: Producer<libc::xdp_desc>,
    pub(super) completion: Consumer<u64>,
    pub(super) umem: UmemPart,
    /// Our frames not in flight.
    pub(super) free: Vec<u64>,
    /// Copy mode: the kernel only sends when kicked, at most 32 frames per kick.
    pub(super) copy_mode: bool,
    pub(super) ring_size: u32,
    /// The last wait for room timed out: until room comes back, frames
    /// are dropped at once rather than each waiting (a dead link must not
    /// slow the pipeline to one frame per wait).
    pub(super) stalled: bool,
    /// Frames and bytes queued since the counters were last published (once per flush).
    pub(super) unpublished: (u64, u64),
    pub(super) counters: PortCounters,
    pub(super) kernel_pace: KernelPace,
}

/// Whether a kick's error only means "not now".
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS) | Some(libc::ENETDOWN) | Some(libc::EINTR) | Some(libc::EOVERFLOW)
    )
}

impl AfXdpRx {
    /// How the port runs.
    pub fn info(&self) -> PortInfo {
        self.shared.info
    }

    /// Frames, bytes and drops received so far, with the kernel's counters.
    pub fn stats(&self) -> PortStats {
        snapshot(&self.shared, &self.counters)
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }

    /// Gives free frames to the kernel: as many as the fill ring takes, one publish.
    pub(super) fn refill(&mut self) {
        let n = self.fill.free(self.free.len() as u32).min(self.free.len() as u32);
        for _ in 0..n {
            if let Some(a) = self.free.pop() {
                self.fill.push(a);
            }
        }
        self.fill.publish();
    }

    /// Takes back the UMEM frame a descriptor used.
    fn recycle(&mut self, addr: u64) {
        if self.umem.owns(addr) {
            self.free.push(addr & !(CHUNK as u64 - 1));
        }
    }
}

impl RxPort for AfXdpRx {
    fn wait(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        live::wait_readable(self.shared.xsk.fd().as_raw_fd(), timeout)
    }

    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        let want = bufs.len().min(lens.len()).min(times.len());
        if self.busy_poll {
            // Busy poll: this call runs the driver's NAPI poll in our thread.
            let _ = self.shared.xsk.kick(false);
        }
        if self.kernel_pace.due() {
            self.shared.kernel_stats().publish(&self.counters);
        }
        let avail = self.rx.available();
        let mut used = 0u32;
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < want && used < avail {
            // One frame: descriptors up to the first without XDP_PKT_CONTD.
            let mut end = used;
            let mut complete = false;
            while end < avail {
                let d = self.rx.get(end);
                end += 1;
                if d.options & libc::XDP_PKT_CONTD == 0 {
                    complete = true;
                    break;
                }
            }
            if !complete {
                if used == 0 && avail >= self.rx.size() {
                    // A full ring without a frame's end: give it all back, counted.
                    for i in 0..avail {
                        let d = self.rx.get(i);
                        self.recycle(d.addr);
                    }
                    used = avail;
                    self.counters.report(DropMalformed, 1, "RX ring full of pieces of one frame");
                }
                break;
            }
            let buf = bufs[n].bytes_mut();
            let mut len = 0usize;
            let mut dropped = None;
            for i in used..end {
                let d = self.rx.get(i);
                let dl = d.len as usize;
                if dropped.is_none() {
                    if !self.umem.holds(d.addr, dl) {
                        dropped = Some((DropMalformed, "descriptor outside the UMEM"));
                    } else if len + dl > PACKET_CAPACITY {
                        dropped = Some((DropTooLong, "longer than a packet buffer"));
                    } else {
                        buf[len..len + dl].copy_from_slice(self.umem.bytes(d.addr, dl));
                        len += dl;
                    }
                }
                self.recycle(d.addr);
            }
            match dropped {
                None => {
                    lens[n] = len;
                    n += 1;
                    bytes += len as u64;
                }
                Some((event, why)) => self.counters.report(event, 1, why),
            }
            used = end;
        }
        self.counters.add(Frames, n as u64);
        self.counters.add(Bytes, bytes);
        self.rx.release(used);
        if used > 0 {
            self.refill();
        }
        if n == 0 {
            // Zero-copy drivers may wait to be told the fill ring has frames again.
            if self.zero_copy && !self.busy_poll && self.fill.needs_wakeup() {
                let _ = self.shared.xsk.kick(false);
            }
            // A deleted interface shows only as silence.
            self.watch.check(|| self.counters.port())?;
            return Ok(RxPoll::Idle);
        }
        let now = live::unix_ns();
        times[..n].fill(now);
        Ok(RxPoll::Frames(n))
    }
}

impl AfXdpTx {
    /// How the port runs.
    pub fn info(&self) -> PortInfo {
        self.shared.info
    }

    /// Frames, bytes and drops sent so far, with the kernel's counters.
    pub fn stats(&self) -> PortStats {
        snapshot(&self.shared, &self.counters)
    }

    /// The counters, readable after the port has moved into a pipeline.
    pub fn counters(&self) -> PortCounters {
        self.counters.clone()
    }

    /// Takes back the frames the kernel has sent.
    fn reclaim(&mut self) {
        let n = self.completion.available();
        for i in 0..n {
            let a = self.completion.get(i);
            if self.umem.owns(a) {
                self.free.push(a & !(CHUNK as u64 - 1));
            }
        }
        self.completion.release(n);
    }

    /// Asks the kernel to send what is in the TX ring; "not now" is not an error.
    fn kick(&self) -> io::Result<()> {
        match self.shared.xsk.kick(true) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO | libc::ENODEV)) => Err(crate::io::live::gone(&self.counters.port(), e)),
            Err(e) if !transient(&e) => Err(io::Error::new(e.kind(), format!("{}: TX kick: {e}", self.counters.port()))),
            _ => Ok(()),
        }
    }

    /// Publishes and kicks until the kernel has taken the TX ring (copy mode
    /// sends at most 32 frames per kick), within a bounded number of kicks.
    fn push_out(&mut self) -> io::Result<()> {
        self.tx.publish();
        if self.tx.drained() {
            return Ok(());
        }
        if !self.copy_mode && !self.tx.needs_wakeup() {
            return Ok(());
        }
        for _ in 0..self.ring_size / 16 + 4 {
            self.kick()?;
            if !self.copy_mode || self.tx.drained() {
                break;
            }
            self.reclaim();
        }
        Ok(())
    }

    /// Whether `k` free frames and TX slots are available, waiting up to
    /// [`TX_WAIT`] (kicking and reclaiming) for them.
    fn room(&mut self, k: u32) -> io::Result<bool> {
        if (self.free.len() as u32) < k {
            self.reclaim();
        }
        if self.free.len() as u32 >= k && self.tx.free(k) >= k {
            self.stalled = false;
            return Ok(true);
        }
        if self.stalled {
            self.push_out()?;
            self.reclaim();
            self.stalled = !(self.free.len() as u32 >= k && self.tx.free(k) >= k);
            return Ok(!self.stalled);
        }
        let start = Instant::now();
        loop {
            self.push_out()?;
            self.reclaim();
            if self.free.len() as u32 >= k && self.tx.free(k) >= k {
                return Ok(true);
            }
            if start.elapsed() > TX_WAIT {
                self.stalled = true;
                tracing::warn!(port = %self.shared.port, "af_xdp TX ring stayed full for {TX_WAIT:?}; dropping frames until it drains");
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

impl TxPort for AfXdpTx {
    fn send(&mut self, frame: &[u8], _time_ns: u64) -> io::Result<()> {
        let len = frame.len();
        let multi = self.shared.info.multi_buffer;
        if len == 0 || len > PACKET_CAPACITY || (!multi && len > CHUNK) {
            self.counters.report(DropTooLong, 1, "empty, or longer than a packet buffer or (without multi-buffer) a UMEM frame");
            return Ok(());
        }
        let k = len.div_ceil(CHUNK) as u32;
        if !self.room(k)? {
            self.counters.report(DropRingFull, 1, "TX ring full");
            return Ok(());
        }
        for (i, piece) in frame.chunks(CHUNK).enumerate() {
            // `room` made sure `k` frames are free.
            let Some(addr) = self.free.pop() else { break };
            self.umem.bytes_mut(addr, piece.len()).copy_from_slice(piece);
            let options = if (i as u32) + 1 < k { libc::XDP_PKT_CONTD } else { 0 };
            self.tx.push(libc::xdp_desc { addr, len: piece.len() as u32, options });
        }
        self.unpublished.0 += 1;
        self.unpublished.1 += len as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let (frames, bytes) = std::mem::take(&mut self.unpublished);
        self.counters.add(Frames, frames);
        self.counters.add(Bytes, bytes);
        if self.kernel_pace.due() {
            self.shared.kernel_stats().publish(&self.counters);
        }
        self.push_out()?;
        self.reclaim();
        Ok(())
    }
}

impl Drop for AfXdpRx {
    fn drop(&mut self) {
        // The last copy of the kernel's counters, then what the half counted.
        self.stats();
        tracing::info!(port = %self.shared.port, counters = %self.counters, "af_xdp RX closed");
    }
}

impl Drop for AfXdpTx {
    fn drop(&mut self) {
        // Send what is still queued, best effort.
        let _ = self.flush();
        self.stats();
        tracing::info!(port = %self.shared.port, counters = %self.counters, "af_xdp TX closed");
    }
}
