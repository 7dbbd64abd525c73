//! Where split pieces go: the [`PieceSink`] trait, a fixed arena for
//! callers without a pool ([`SplitBuf`]), and the pool-backed sink the
//! burst path uses ([`PoolSink`]). Buffers are taken, never allocated.

use ecpri::frame::DecodeConfig;

use crate::translate::{BufPool, Packet, PacketBuf, PACKET_CAPACITY};

/// Where the pieces of a split packet go: frame buffers the caller owns.
pub trait PieceSink {
    /// Called once before the first piece: can `frames` more be taken?
    /// Returning `false` fails the packet with [`EgressErrorKind::NoBuffers`]
    /// before anything is written.
    fn reserve(&mut self, frames: usize) -> bool;
    /// A buffer of exactly `len` bytes for the next frame. The previous
    /// frame is complete when this is called again or at [`PieceSink::done`].
    fn frame(&mut self, len: usize) -> Option<&mut [u8]>;
    /// The last frame is complete.
    fn done(&mut self) {}
}

/// A fixed arena of frame buffers, for callers without a packet pool.
#[derive(Debug, Clone)]
pub struct SplitBuf {
    data: Box<[u8]>,
    lens: Vec<usize>,
    frame_capacity: usize,
    max_frames: usize,
}

impl SplitBuf {
    /// Room for `max_frames` frames of up to `frame_capacity` bytes (allocates now).
    pub fn new(max_frames: usize, frame_capacity: usize) -> Self {
        SplitBuf {
            data: vec![0; max_frames * frame_capacity].into_boxed_slice(),
            lens: Vec::with_capacity(max_frames),
            frame_capacity,
            max_frames,
        }
    }

    /// Forgets the frames held.
    pub fn clear(&mut self) {
        self.lens.clear();
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Frame `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let at = i * self.frame_capacity;
        &self.data[at..at + self.lens[i]]
    }

    /// The frames in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl PieceSink for SplitBuf {
    fn reserve(&mut self, frames: usize) -> bool {
        self.lens.len() + frames <= self.max_frames
    }

    fn frame(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.frame_capacity || self.lens.len() >= self.max_frames {
            return None;
        }
        let at = self.lens.len() * self.frame_capacity;
        self.lens.push(len);
        Some(&mut self.data[at..at + len])
    }
}

/// Hands out pool buffers for pieces and pushes each finished piece into
/// the burst as a classified [`Packet`].
pub(super) struct PoolSink<'a> {
    pub(super) pool: &'a mut BufPool,
    /// Where finished pieces go, in order.
    pub(super) pieces: &'a mut Vec<Packet>,
    /// How many pieces the burst can still take.
    pub(super) room: usize,
    pub(super) cur: Option<(PacketBuf, usize)>,
    pub(super) decode: DecodeConfig,
    pub(super) port_direction: u8,
    /// The parent's capture and arrival times, which pieces inherit.
    pub(super) times: (u64, u64),
}

impl PoolSink<'_> {
    fn commit(&mut self) {
        if let Some((buf, len)) = self.cur.take() {
            let mut p = Packet::new(buf, len, &self.decode, self.port_direction);
            (p.time_ns, p.arrival_ns) = self.times;
            // A piece egress made is sent as it is, whatever classify says.
            p.passthrough = false;
            self.pieces.push(p);
        }
    }
}

impl PieceSink for PoolSink<'_> {
    fn reserve(&mut self, frames: usize) -> bool {
        self.pool.available() >= frames && frames <= self.room
    }

    fn frame(&mut self, len: usize) -> Option<&mut [u8]> {
        self.commit();
        if len > PACKET_CAPACITY {
            return None;
        }
        let buf = self.pool.get()?;
        let (buf, len) = self.cur.insert((buf, len));
        Some(&mut buf.bytes_mut()[..*len])
    }

    fn done(&mut self) {
        self.commit();
    }
}

impl Drop for PoolSink<'_> {
    fn drop(&mut self) {
        // A piece left unfinished by an error goes back to the pool.
        if let Some((buf, _)) = self.cur.take() {
            self.pool.put(buf);
        }
    }
}