//! Capture files: read pcap and pcapng, write pcap (Ethernet link type).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Frame bytes as captured.
    pub data: Vec<u8>,
    /// Length on the wire (may exceed `data` when the capture was snapped).
    pub orig_len: u32,
}

/// Reads every frame of a pcap or pcapng file (detected by magic number).
pub fn read_all(path: &Path) -> Result<Vec<Captured>> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic).with_context(|| format!("{}: too short to be a capture file", path.display()))?;
    f.seek(SeekFrom::Start(0))?;
    let r = BufReader::new(f);
    let mut out = Vec::new();
    if magic == [0x0A, 0x0D, 0x0D, 0x0A] {
        let mut rd = PcapNgReader::new(r).with_context(|| format!("{}: bad pcapng header", path.display()))?;
        while let Some(b) = rd.next_block() {
            let b = b.with_context(|| format!("{}: bad pcapng block after frame {}", path.display(), out.len()))?;
            match b {
                Block::EnhancedPacket(p) => out.push(Captured {
                    timestamp: p.timestamp,
                    orig_len: p.original_len,
                    data: p.data.into_owned(),
                }),
                Block::SimplePacket(p) => out.push(Captured {
                    timestamp: Duration::ZERO,
                    orig_len: p.original_len,
                    data: p.data.into_owned(),
                }),
                _ => {}
            }
        }
    } else {
        let mut rd = PcapReader::new(r).with_context(|| format!("{}: not a pcap or pcapng file", path.display()))?;
        let dl = rd.header().datalink;
        if dl != DataLink::ETHERNET {
            bail!("{}: link type {:?} is not Ethernet", path.display(), dl);
        }
        while let Some(p) = rd.next_packet() {
            let p = p.with_context(|| format!("{}: bad record after frame {}", path.display(), out.len()))?;
            out.push(Captured { timestamp: p.timestamp, orig_len: p.orig_len, data: p.data.into_owned() });
        }
    }
    Ok(out)
}

/// Writes frames to a pcap file with nanosecond timestamps.
pub struct PcapOut {
    w: PcapWriter<BufWriter<File>>,
}

impl PcapOut {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: 65535,
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            // Little-endian, as nearly every capture tool writes on x86 and Arm.
            endianness: pcap_file::Endianness::Little,
            ..Default::default()
        };
        let w = PcapWriter::with_header(BufWriter::new(f), header)?;
        Ok(PcapOut { w })
    }

    /// Appends one frame.
    pub fn write(&mut self, timestamp: Duration, data: &[u8]) -> Result<()> {
        self.w.write_packet(&PcapPacket::new(timestamp, data.len() as u32, data))?;
        Ok(())
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

    /// Replays frames already read.
    pub fn from_frames(frames: Vec<Captured>, pace: Pace) -> Self {
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
    fn recv(&mut self, bufs: &mut [crate::translate::PacketBuf], lens: &mut [usize], times: &mut [u64]) -> std::io::Result<super::RxPoll> {
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
