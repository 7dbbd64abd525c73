//! Capture files: read pcap and pcapng, write pcap (Ethernet link type).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
pub use fhgate_formats::capture::{link, Capture, CaptureError, Captured, CutShort, Format};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use super::output::Staged;

/// Reads a pcap or pcapng file (told by its magic number) into frames in
/// the Ethernet view. A file cut short mid-record keeps the frames before
/// the cut, with a warning that names the byte offset; frames cut by the
/// snap length are kept and counted (see [`Capture::cut_frames`]).
pub fn read(path: &Path) -> Result<Capture> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let c = fhgate_formats::capture::parse(&bytes).with_context(|| format!("{}", path.display()))?;
    if let Some(s) = &c.cut_short {
        tracing::warn!("{}: {s}; read the {} frames before it", path.display(), c.frames.len());
    }
    let cut = c.cut_frames();
    if cut > 0 {
        tracing::warn!("{}: {cut} frames were captured shorter than they were on the wire (snap length); they are decoded as far as they go", path.display());
    }
    Ok(c)
}

/// Reads every frame of a pcap or pcapng file, as [`read`] does.
pub fn read_all(path: &Path) -> Result<Vec<Captured>> {
    read(path).map(|c| c.frames)
}

/// Writes frames to a pcap file with nanosecond timestamps, staged
/// (io/output.rs): the file appears under its name only when the command
/// commits it, after this writer is dropped.
pub struct PcapOut {
    w: Option<PcapWriter<BufWriter<File>>>,
    staged: Staged,
    /// Frames written, told to the stage on close (a failed run keeps them as `.partial`).
    frames: u64,
}

impl PcapOut {
    /// Starts writing `path` (through a temporary file beside it); the
    /// [`Commit`](super::output::Commit) puts it in place, over an existing
    /// file only under [`Existing::Replace`](super::output::Existing).
    pub fn create(path: &Path, existing: super::output::Existing) -> Result<(Self, super::output::Commit)> {
        let (f, staged, commit) = super::output::create(path, existing)?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: 65535,
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            // Little-endian, as nearly every capture tool writes on x86 and Arm.
            endianness: pcap_file::Endianness::Little,
            ..Default::default()
        };
        let w = PcapWriter::with_header(BufWriter::new(f), header).with_context(|| format!("writing {}", path.display()))?;
        Ok((PcapOut { w: Some(w), staged, frames: 0 }, commit))
    }

    /// Appends one frame.
    pub fn write(&mut self, timestamp: Duration, data: &[u8]) -> Result<()> {
        let Some(w) = self.w.as_mut() else { anyhow::bail!("{}: already closed", self.staged.target().display()) };
        if let Err(e) = w.write_packet(&PcapPacket::new(timestamp, data.len() as u32, data)) {
            self.staged.failed(&e);
            return Err(e).with_context(|| format!("writing {}", self.staged.target().display()));
        }
        self.frames += 1;
        Ok(())
    }

    /// Flushes and syncs the file; an error here fails the commit.
    fn close(&mut self) -> std::io::Result<()> {
        let Some(w) = self.w.take() else { return Ok(()) };
        self.staged.wrote(self.frames);
        let f = w.into_writer().into_inner().map_err(|e| e.into_error())?;
        f.sync_all().or_else(|e| if e.raw_os_error() == Some(libc::EINVAL) { Ok(()) } else { Err(e) })
    }
}

impl Drop for PcapOut {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            self.staged.failed(&e);
        }
    }
}

/// How a capture is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the pipeline takes frames.
    Fast,
    /// At the capture's own timing.
    Recorded,
    /// At a fixed rate, frames per second.
    Rate(f64),
}

/// A capture file as a receive port: frames in file order, paced.
pub struct PcapRx {
    frames: std::vec::IntoIter<Captured>,
    pace: Pace,
    start: Option<(std::time::Instant, Duration)>,
    sent: u64,
}

impl PcapRx {
    /// Reads `path` (pcap or pcapng) into memory.
    pub fn open(path: &Path, pace: Pace) -> Result<Self> {
        Ok(PcapRx::from_frames(read_all(path)?, pace))
    }

    /// Replays frames already read. A frame longer than a packet buffer
    /// goes through cut to it, and is said so here, once.
    pub fn from_frames(frames: Vec<Captured>, pace: Pace) -> Self {
        let long = frames.iter().filter(|f| f.data.len() > crate::packet::PACKET_CAPACITY).count();
        if long > 0 {
            tracing::warn!("{long} frames are longer than the {}-byte packet buffer: they go through cut to it", crate::packet::PACKET_CAPACITY);
        }
        PcapRx { frames: frames.into_iter(), pace, start: None, sent: 0 }
    }

    /// Frames not yet received.
    pub fn remaining(&self) -> usize {
        self.frames.len()
    }

    /// Whether the next frame is due; the clock is read without a syscall (vDSO).
    fn due(&mut self, ts: Duration) -> bool {
        let now = std::time::Instant::now();
        let (t0, c0) = *self.start.get_or_insert((now, ts));
        let elapsed = now - t0;
        match self.pace {
            Pace::Fast => true,
            Pace::Recorded => elapsed >= ts.saturating_sub(c0),
            Pace::Rate(r) => elapsed.as_secs_f64() * r >= self.sent as f64,
        }
    }
}

impl super::RxPort for PcapRx {
    fn recv(&mut self, bufs: &mut [crate::packet::PacketBuf], lens: &mut [usize], times: &mut [u64]) -> std::io::Result<super::RxPoll> {
        let mut n = 0;
        while n < bufs.len() {
            let Some(next) = self.frames.as_slice().first() else { break };
            if !self.due(next.timestamp) {
                break;
            }
            let f = self.frames.next().expect("peeked");
            let buf = bufs[n].bytes_mut();
            let len = f.data.len().min(buf.len());
            buf[..len].copy_from_slice(&f.data[..len]);
            lens[n] = len;
            times[n] = f.timestamp.as_nanos() as u64;
            self.sent += 1;
            n += 1;
        }
        Ok(if n > 0 {
            super::RxPoll::Frames(n)
        } else if self.frames.len() == 0 {
            super::RxPoll::Closed
        } else {
            super::RxPoll::Idle
        })
    }
}

impl super::TxPort for PcapOut {
    fn send(&mut self, frame: &[u8], time_ns: u64) -> std::io::Result<()> {
        self.write(Duration::from_nanos(time_ns), frame).map_err(std::io::Error::other)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
