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
use crate::io::{RxPoll, RxPort, TxPort};
use crate::translate::{PacketBuf, PACKET_CAPACITY};

/// How long `send` waits for room in a full TX ring before dropping the frame.
const TX_WAIT: Duration = Duration::from_millis(100);

/// What both halves share: the attachment and the socket. Nothing in it
/// is mutated after `open`.
pub(super) struct Shared {
    // Field order is drop order: the link first, which detaches the
    // program, then the program and map, then the socket and its memory.
    pub(super) _link: OwnedFd,
    pub(super) _prog: OwnedFd,
    pub(super) _map: OwnedFd,
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
    pub(super) stats: PortStats,
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
    pub(super) stats: PortStats,
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
        PortStats { kernel: self.shared.kernel_stats(), ..self.stats }
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
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll> {
        let want = bufs.len().min(lens.len()).min(times.len());
        if self.busy_poll {
            // Busy poll: this call runs the driver's NAPI poll in our thread.
            let _ = self.shared.xsk.kick(false);
        }
        let avail = self.rx.available();
        let mut used = 0u32;
        let mut n = 0usize;
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
                    self.stats.drops += 1;
                }
                break;
            }
            let buf = bufs[n].bytes_mut();
            let mut len = 0usize;
            let mut ok = true;
            for i in used..end {
                let d = self.rx.get(i);
                let dl = d.len as usize;
                if ok {
                    if !self.umem.holds(d.addr, dl) || len + dl > PACKET_CAPACITY {
                        ok = false;
                    } else {
                        buf[len..len + dl].copy_from_slice(self.umem.bytes(d.addr, dl));
                        len += dl;
                    }
                }
                self.recycle(d.addr);
            }
            if ok {
                lens[n] = len;
                n += 1;
                self.stats.frames += 1;
                self.stats.bytes += len as u64;
            } else {
                self.stats.drops += 1;
            }
            used = end;
        }
        self.rx.release(used);
        if used > 0 {
            self.refill();
        }
        if n == 0 {
            // Zero-copy drivers may wait to be told the fill ring has frames again.
            if self.zero_copy && !self.busy_poll && self.fill.needs_wakeup() {
                let _ = self.shared.xsk.kick(false);
            }
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
        PortStats { kernel: self.shared.kernel_stats(), ..self.stats }
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
            Err(e) if !transient(&e) => Err(e),
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
            self.stats.drops += 1;
            return Ok(());
        }
        let k = len.div_ceil(CHUNK) as u32;
        if !self.room(k)? {
            self.stats.drops += 1;
            return Ok(());
        }
        for (i, piece) in frame.chunks(CHUNK).enumerate() {
            // `room` made sure `k` frames are free.
            let Some(addr) = self.free.pop() else { break };
            self.umem.bytes_mut(addr, piece.len()).copy_from_slice(piece);
            let options = if (i as u32) + 1 < k { libc::XDP_PKT_CONTD } else { 0 };
            self.tx.push(libc::xdp_desc { addr, len: piece.len() as u32, options });
        }
        self.stats.frames += 1;
        self.stats.bytes += len as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_out()?;
        self.reclaim();
        Ok(())
    }
}

impl Drop for AfXdpRx {
    fn drop(&mut self) {
        let s = self.stats();
        let k = s.kernel;
        tracing::info!(
            port = %self.shared.port, frames = s.frames, bytes = s.bytes, drops = s.drops,
            rx_dropped = k.rx_dropped, rx_invalid_descs = k.rx_invalid_descs, rx_ring_full = k.rx_ring_full,
            rx_fill_ring_empty_descs = k.rx_fill_ring_empty_descs,
            "af_xdp RX closed"
        );
    }
}

impl Drop for AfXdpTx {
    fn drop(&mut self) {
        // Send what is still queued, best effort.
        let _ = self.push_out();
        let s = self.stats();
        let k = s.kernel;
        tracing::info!(
            port = %self.shared.port, frames = s.frames, bytes = s.bytes, drops = s.drops,
            tx_invalid_descs = k.tx_invalid_descs, tx_ring_empty_descs = k.tx_ring_empty_descs,
            "af_xdp TX closed"
        );
    }
}
