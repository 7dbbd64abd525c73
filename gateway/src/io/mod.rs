//! Packet I/O backends behind two small traits, so that capture files and
//! live ports (AF_XDP, AF_PACKET, UDP) plug into the same pipeline.
//! Both work in bursts: one call moves many frames.

pub mod af_packet;
pub mod af_xdp;
pub mod live;
pub mod memory;
pub mod merged;
pub mod output;
pub mod port_stats;
pub mod steer;
pub mod pcap;
pub mod timestamping;
pub mod udp;

use std::io;

use crate::packet::PacketBuf;

/// What a receive call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxPoll {
    /// This many frames were written into the buffers.
    Frames(usize),
    /// Nothing now; poll again.
    Idle,
    /// The source has ended (end of a capture file).
    Closed,
}

/// A port frames arrive on.
pub trait RxPort: Send {
    /// Receives up to `bufs.len()` frames: frame `i` into `bufs[i]`, its
    /// length into `lens[i]` and its receive time (ns since the Unix
    /// epoch) into `times[i]`.
    fn recv(&mut self, bufs: &mut [PacketBuf], lens: &mut [usize], times: &mut [u64]) -> io::Result<RxPoll>;

    /// Sleeps until a frame may be there or `timeout` has passed (adaptive
    /// polling's idle back-off: one syscall per sleep, never per frame).
    /// False when the port cannot wait: the caller keeps polling.
    fn wait(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }
}

/// A port frames leave on. Frames are queued one by one and go out in
/// bursts: a live backend fills its ring in `send` and kicks it in `flush`.
pub trait TxPort: Send {
    /// Queues one frame; `time_ns` (ns since the Unix epoch) is recorded
    /// by backends that keep timestamps.
    fn send(&mut self, frame: &[u8], time_ns: u64) -> io::Result<()>;
    /// Sends everything queued; called once per burst.
    fn flush(&mut self) -> io::Result<()>;
}
