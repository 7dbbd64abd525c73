//! What the pipeline hands the translator host: packet buffers
//! ([`crate::packet`]) each with its classified metadata, gathered in a
//! [`Burst`]. Nothing here allocates once the pool and the burst exist.

use ecpri::frame::DecodeConfig;

use super::abi::{DescriptorImage, SLOT_SIZE};
use crate::classify::classify;
pub use crate::packet::{BufPool, PacketBuf, BURST_CAPACITY, PACKET_CAPACITY};

// The ABI's slot is a packet buffer: a translator may grow a packet to
// its buffer's capacity and no further (ABI.md §3 `capacity`).
const _: () = assert!(PACKET_CAPACITY == SLOT_SIZE);
// `Packet::wire_len` holds any frame length a buffer does.
const _: () = assert!(PACKET_CAPACITY <= u16::MAX as usize);

/// Most packets the pipeline should put in a burst.
pub const BURST_MAX_IN: usize = 64;

/// A packet: its buffer, its length and its classified metadata.
pub struct Packet {
    /// The frame, in `buf[..len]`.
    pub buf: PacketBuf,
    /// Frame length.
    pub len: usize,
    /// The descriptor fields from [`classify`], `None` when the frame is
    /// not eCPRI or does not decode: then it bypasses every translator.
    pub desc: Option<DescriptorImage>,
    /// Direction of the port it came in on (for non-U/C-plane messages).
    pub port_direction: u8,
    /// Which chain it goes through this burst (set by the host).
    pub(crate) route: u16,
    /// Capture or receive timestamp, ns since the Unix epoch (what a
    /// pcap sink writes); extras and split pieces inherit their parent's.
    pub time_ns: u64,
    /// When the pipeline received it, ns on the monotonic clock (for the
    /// added-latency histogram).
    pub arrival_ns: u64,
    /// As received and classified: no translator has rewritten it (so
    /// egress, decoding as ingress did, need not walk it again).
    pub pristine: bool,
    /// Did not classify on ingress (not eCPRI, or malformed): no
    /// translator sees it, and egress sends it as it came, in its place.
    pub passthrough: bool,
    /// Its length as it arrived (or as its maker wrote it), before egress
    /// padded it to the Ethernet minimum: what its headers may be read in.
    pub wire_len: u16,
}

/// `route` of a packet no chain selects.
pub(crate) const NO_ROUTE: u16 = u16::MAX;

impl Packet {
    /// Wraps a received frame of `len` bytes in `buf` and classifies it.
    pub fn new(buf: PacketBuf, len: usize, cfg: &DecodeConfig, port_direction: u8) -> Packet {
        let len = len.min(PACKET_CAPACITY);
        let desc = classify(&buf.bytes()[..len], cfg, port_direction);
        let pristine = desc.is_some();
        Packet { buf, len, desc, port_direction, route: NO_ROUTE, time_ns: 0, arrival_ns: 0, pristine, passthrough: !pristine, wire_len: len as u16 }
    }

    /// The frame without the zeros egress padded it with: the bytes that
    /// came in. A PTP message or header is read only there, so padding
    /// never completes a truncated one.
    #[inline]
    pub fn unpadded_len(&self) -> usize {
        self.len.min(self.wire_len as usize)
    }

    /// Copies `frame` into a buffer from `pool` and classifies it; `None`
    /// when the pool is empty or the frame is too long.
    pub fn from_frame(pool: &mut BufPool, frame: &[u8], cfg: &DecodeConfig, port_direction: u8) -> Option<Packet> {
        if frame.len() > PACKET_CAPACITY {
            return None;
        }
        let mut buf = pool.get()?;
        buf.bytes_mut()[..frame.len()].copy_from_slice(frame);
        Some(Packet::new(buf, frame.len(), cfg, port_direction))
    }

    /// The frame.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf.bytes()[..self.len]
    }

    /// Classifies the frame again (after a translator changed it). A
    /// translator's output goes through egress, whatever classify says.
    pub fn reclassify(&mut self, cfg: &DecodeConfig) {
        self.desc = classify(&self.buf.bytes()[..self.len], cfg, self.port_direction);
        self.pristine = false;
        self.passthrough = false;
    }
}

/// Up to [`BURST_CAPACITY`] packets in order. The pipeline pushes at most
/// [`BURST_MAX_IN`] received packets; after processing it holds the
/// outputs in order, extras right after the packet they came from.
pub struct Burst {
    pub(crate) pkts: Vec<Packet>,
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    /// An empty burst (allocates its fixed capacity now).
    pub fn new() -> Burst {
        Burst { pkts: Vec::with_capacity(BURST_CAPACITY) }
    }

    /// Appends a packet; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, p: Packet) -> Result<(), Packet> {
        if self.pkts.len() >= BURST_CAPACITY {
            return Err(p);
        }
        self.pkts.push(p);
        Ok(())
    }

    /// Packets in the burst.
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// Whether it is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// The packets.
    #[inline]
    pub fn packets(&self) -> &[Packet] {
        &self.pkts
    }

    /// The packets, writable.
    #[inline]
    pub fn packets_mut(&mut self) -> &mut [Packet] {
        &mut self.pkts
    }

    /// Takes the packets out in order (the burst keeps its capacity).
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, Packet> {
        self.pkts.drain(..)
    }

    /// Gives every buffer back to `pool`.
    pub fn recycle(&mut self, pool: &mut BufPool) {
        for p in self.pkts.drain(..) {
            pool.put(p.buf);
        }
    }
}
