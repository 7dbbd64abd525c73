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
