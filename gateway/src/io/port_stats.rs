//! What a live port counts, one way for every backend: a [`PortCounters`]
//! per port half (frames, bytes, drops by reason, the kernel's own
//! counters), whose [`PortCounters::report`] is the one drop log: at most
//! one line a second per port, paced by a [`Pace`].
//!
//! The half that owns a port updates its counters on the hot path, once
//! per burst and once per drop: an index into an array of atomics, no
//! allocation, lock or string lookup. Any thread (metrics, the final
//! report) reads them through a clone, also after the port has moved into
//! a pipeline thread.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// What a port half counts. Each backend counts a subset, listed in its
/// [`PortCounters`]; the names are the same for every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortEvent {
    /// Frames received (RX) or sent (TX).
    Frames,
    /// Their bytes.
    Bytes,
    /// Dropped: longer than a packet buffer, the interface MTU or a datagram.
    DropTooLong,
    /// Dropped: shorter than an Ethernet header.
    DropRunt,
    /// Dropped: cut short on receive (a ring block or a socket buffer too small).
    DropTruncated,
    /// Dropped: a malformed ring entry or descriptor.
    DropMalformed,
    /// Dropped: the ring stayed full (RX: reported by the kernel; TX: no slot came free in time).
    DropRingFull,
    /// Dropped: neither a UDP frame nor an eCPRI-over-Ethernet frame.
    DropNotEcpri,
    /// Dropped: the socket send buffer stayed full.
    DropBufferFull,
    /// Dropped: the kernel refused the datagram (no route, too big for the path, ...).
    DropRefused,
    /// TX kicks the kernel could not complete at once; the frames stay queued.
    Congested,
    /// TX kicks refused because the interface was down or gone; the frames stay queued.
    LinkDown,
    /// Kernel (`xdp_statistics.rx_dropped`): frames dropped for reasons other than invalid descriptors.
    KernelRxDropped,
    /// Kernel (`rx_invalid_descs`): invalid descriptors in the fill ring.
    KernelRxInvalidDescs,
    /// Kernel (`rx_ring_full`): frames dropped because the RX ring was full.
    KernelRxRingFull,
    /// Kernel (`rx_fill_ring_empty_descs`): times the fill ring was empty when a frame arrived.
    KernelFillRingEmpty,
    /// Kernel (`tx_invalid_descs`): invalid descriptors in the TX ring.
    KernelTxInvalidDescs,
    /// Kernel (`tx_ring_empty_descs`): times the TX ring was empty when the kernel looked.
    KernelTxRingEmpty,
}

/// How many kinds of [`PortEvent`] there are.
const EVENTS: usize = PortEvent::KernelTxRingEmpty as usize + 1;

/// Which family of counters an event belongs to, for exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// [`PortEvent::Frames`].
    Frames,
    /// [`PortEvent::Bytes`].
    Bytes,
    /// A frame dropped by the port, for a reason.
    Drop,
    /// A condition that delayed frames without dropping them.
    Condition,
    /// A counter the kernel keeps for the socket.
    Kernel,
}

impl PortEvent {
    /// The event's name, such as `drop_too_long`.
    pub const fn name(self) -> &'static str {
        use PortEvent::*;
        match self {
            Frames => "frames",
            Bytes => "bytes",
            DropTooLong => "drop_too_long",
            DropRunt => "drop_runt",
            DropTruncated => "drop_truncated",
            DropMalformed => "drop_malformed",
            DropRingFull => "drop_ring_full",
            DropNotEcpri => "drop_not_ecpri",
            DropBufferFull => "drop_buffer_full",
            DropRefused => "drop_refused",
            Congested => "congested",
            LinkDown => "link_down",
            KernelRxDropped => "kernel_rx_dropped",
            KernelRxInvalidDescs => "kernel_rx_invalid_descs",
            KernelRxRingFull => "kernel_rx_ring_full",
            KernelFillRingEmpty => "kernel_fill_ring_empty",
            KernelTxInvalidDescs => "kernel_tx_invalid_descs",
            KernelTxRingEmpty => "kernel_tx_ring_empty",
        }
    }

    /// Its family.
    pub const fn kind(self) -> EventKind {
        use PortEvent::*;
        match self {
            Frames => EventKind::Frames,
            Bytes => EventKind::Bytes,
            DropTooLong | DropRunt | DropTruncated | DropMalformed | DropRingFull | DropNotEcpri | DropBufferFull | DropRefused => EventKind::Drop,
            Congested | LinkDown => EventKind::Condition,
            KernelRxDropped | KernelRxInvalidDescs | KernelRxRingFull | KernelFillRingEmpty | KernelTxInvalidDescs | KernelTxRingEmpty => {
                EventKind::Kernel
            }
        }
    }

    /// The name within its family: `too_long` for `drop_too_long`, `rx_dropped` for `kernel_rx_dropped`.
    pub fn short_name(self) -> &'static str {
        let n = self.name();
        n.strip_prefix("drop_").or_else(|| n.strip_prefix("kernel_")).unwrap_or(n)
    }
}

/// Which half of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// The receive half.
    Rx,
    /// The transmit half.
    Tx,
}

impl Half {
    /// `rx` or `tx`.
    pub const fn name(self) -> &'static str {
        match self {
            Half::Rx => "rx",
            Half::Tx => "tx",
        }
    }
}

struct Inner {
    backend: &'static str,
    interface: String,
    /// The queue (AF_XDP) or fanout socket (AF_PACKET) of a port of several.
    queue: Option<u32>,
    half: Half,
    events: &'static [PortEvent],
    values: [AtomicU64; EVENTS],
    log: Pace,
}

/// The counters of one port half, shared by the half that updates them
/// and any thread that reads them. Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct PortCounters(Arc<Inner>);

impl PortCounters {
    /// The counters of both halves of a port of `backend` on `interface`
    /// (for UDP, the bound address), counting `rx` and `tx` events. The
    /// halves share one log [`Pace`], so the port logs at most one drop
    /// line per [`LOG_INTERVAL`].
    pub fn pair(backend: &'static str, interface: &str, rx: &'static [PortEvent], tx: &'static [PortEvent]) -> (PortCounters, PortCounters) {
        Self::pair_on_queue(backend, interface, None, rx, tx)
    }

    /// [`PortCounters::pair`] for one queue (AF_XDP) or fanout socket
    /// (AF_PACKET) of a port of several: its counters carry the index.
    pub fn pair_on_queue(backend: &'static str, interface: &str, queue: Option<u32>, rx: &'static [PortEvent], tx: &'static [PortEvent]) -> (PortCounters, PortCounters) {
        let log = Pace::new(LOG_INTERVAL);
        let half = |half, events| {
            PortCounters(Arc::new(Inner {
                backend,
                interface: interface.to_string(),
                queue,
                half,
                events,
                values: std::array::from_fn(|_| AtomicU64::new(0)),
                log: log.clone(),
            }))
        };
        (half(Half::Rx, rx), half(Half::Tx, tx))
    }

    /// Adds `n` to `event`.
    #[inline]
    pub fn add(&self, event: PortEvent, n: u64) {
        debug_assert!(self.counts(event), "{} does not count {}", self, event.name());
        if n != 0 {
            // Relaxed: counters are independent totals, read for reporting.
            self.0.values[event as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sets `event` to `total`: for counters the kernel keeps and reports as totals.
    #[inline]
    pub fn set(&self, event: PortEvent, total: u64) {
        debug_assert!(self.counts(event), "{} does not count {}", self, event.name());
        self.0.values[event as usize].store(total, Ordering::Relaxed);
    }

    /// Whether this half counts `event`.
    pub fn counts(&self, event: PortEvent) -> bool {
        self.0.events.contains(&event)
    }

    /// The count of `event` now (0 for one this half does not count).
    pub fn get(&self, event: PortEvent) -> u64 {
        self.0.values[event as usize].load(Ordering::Relaxed)
    }

    /// Every event this half counts, with its count now.
    pub fn snapshot(&self) -> impl Iterator<Item = (PortEvent, u64)> + '_ {
        self.0.events.iter().map(|&e| (e, self.get(e)))
    }

    /// Frames this half dropped, all reasons together.
    pub fn drops(&self) -> u64 {
        self.snapshot().filter(|(e, _)| e.kind() == EventKind::Drop).map(|(_, n)| n).sum()
    }

    /// Counts `n` of `event` (a drop, or a condition worth telling) and
    /// logs it with `why`: at most one line per [`LOG_INTERVAL`] for the port.
    pub fn report(&self, event: PortEvent, n: u64, why: &str) {
        self.add(event, n);
        if self.0.log.due() {
            tracing::info!(port = %self.port(), half = self.0.half.name(), event = event.name(), count = n, reason = why, counters = %self, "port event");
        }
    }

    /// The backend: `af_xdp`, `af_packet` or `udp`.
    pub fn backend(&self) -> &'static str {
        self.0.backend
    }

    /// The interface, or for UDP the bound address.
    pub fn interface(&self) -> &str {
        &self.0.interface
    }

    /// Which half.
    pub fn half(&self) -> Half {
        self.0.half
    }

    /// The queue (AF_XDP) or fanout socket (AF_PACKET), on a port of several.
    pub fn queue(&self) -> Option<u32> {
        self.0.queue
    }

    /// The port, e.g. `af_xdp gw-du`, or `af_xdp gw-du queue 2` on a port of several.
    pub fn port(&self) -> String {
        match self.0.queue {
            Some(q) => format!("{} {} queue {q}", self.0.backend, self.0.interface),
            None => format!("{} {}", self.0.backend, self.0.interface),
        }
    }
}

/// `af_xdp gw-du rx: frames=10 bytes=640 drop_too_long=0 ...`
impl fmt::Display for PortCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}:", self.port(), self.0.half.name())?;
        for (e, n) in self.snapshot() {
            write!(f, " {}={n}", e.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for PortCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The shortest time between two drop log lines of a port.
pub const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Says yes at most once per interval, for all clones together (the two
/// halves of a port share the one that paces its log), so a flood of bad
/// frames costs a clock read per drop and not a log line per drop.
#[derive(Clone)]
pub struct Pace {
    interval_ns: u64,
    /// When the next yes may come, in ns since [`epoch`]; 0: at once.
    next_ns: Arc<AtomicU64>,
}

impl Pace {
    /// A pace that says yes at once, then once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Pace { interval_ns: interval.as_nanos() as u64, next_ns: Arc::new(AtomicU64::new(0)) }
    }

    /// Whether it is time; if so, the next yes waits an interval.
    pub fn due(&self) -> bool {
        self.due_at(epoch().elapsed().as_nanos() as u64)
    }

    /// [`Pace::due`] at `now_ns` (ns since [`epoch`]).
    fn due_at(&self, now_ns: u64) -> bool {
        let next = self.next_ns.load(Ordering::Relaxed);
        // Of two clones that find it due together, one wins the exchange.
        now_ns >= next && self.next_ns.compare_exchange(next, now_ns + self.interval_ns, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// The start of the monotonic clock paces are kept on.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PortEvent::*;

    const RX: &[PortEvent] = &[Frames, Bytes, DropTooLong, DropTruncated];
    const TX: &[PortEvent] = &[Frames, Bytes, DropRingFull, LinkDown, KernelTxRingEmpty];

    #[test]
    fn counts_are_read_from_another_thread() {
        let (rx, tx) = PortCounters::pair("af_packet", "gw-du", RX, TX);
        let reader = rx.clone();
        std::thread::spawn(move || {
            rx.add(Frames, 3);
            rx.add(Bytes, 192);
            rx.add(DropTooLong, 1);
            rx.add(DropTooLong, 0);
        })
        .join()
        .unwrap();
        assert_eq!(reader.snapshot().collect::<Vec<_>>(), vec![(Frames, 3), (Bytes, 192), (DropTooLong, 1), (DropTruncated, 0)]);
        assert_eq!(reader.drops(), 1);
        assert_eq!(tx.get(Frames), 0, "each half has its own counters");
        assert_eq!(tx.get(DropTooLong), 0, "not counted by this half");
        tx.set(KernelTxRingEmpty, 7);
        tx.set(KernelTxRingEmpty, 9);
        assert_eq!(tx.get(KernelTxRingEmpty), 9, "kernel totals are set, not added");
        assert_eq!(tx.drops(), 0, "kernel counters and conditions are not drops");
    }

    #[test]
    fn counters_name_their_port_and_events() {
        let (rx, tx) = PortCounters::pair("udp", "127.0.0.1:5000", RX, TX);
        rx.report(DropTruncated, 2, "test");
        assert_eq!(rx.to_string(), "udp 127.0.0.1:5000 rx: frames=0 bytes=0 drop_too_long=0 drop_truncated=2");
        assert_eq!((tx.backend(), tx.interface(), tx.half(), tx.port()), ("udp", "127.0.0.1:5000", Half::Tx, "udp 127.0.0.1:5000".to_string()));
        let (q, _) = PortCounters::pair_on_queue("af_xdp", "gw-du", Some(2), RX, TX);
        assert_eq!((q.queue(), q.port(), rx.queue()), (Some(2), "af_xdp gw-du queue 2".to_string(), None));
        assert_eq!((DropTooLong.short_name(), KernelRxRingFull.short_name(), LinkDown.short_name()), ("too_long", "rx_ring_full", "link_down"));
        assert_eq!((Frames.kind(), DropRefused.kind(), Congested.kind(), KernelFillRingEmpty.kind()), (EventKind::Frames, EventKind::Drop, EventKind::Condition, EventKind::Kernel));
    }

    #[test]
    fn a_pace_says_yes_once_an_interval_for_all_clones() {
        let log = Pace::new(LOG_INTERVAL);
        let other_half = log.clone();
        let s = LOG_INTERVAL.as_nanos() as u64;
        assert!(log.due_at(5));
        assert!(!log.due_at(6));
        assert!(!other_half.due_at(5 + s - 1), "the halves share one pace");
        assert!(other_half.due_at(5 + s));
        assert!(!log.due_at(5 + s + 1));
        assert!(Pace::new(LOG_INTERVAL).due(), "a new pace says yes at once");
    }
}
