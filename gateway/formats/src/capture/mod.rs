//! Capture files: classic pcap (libpcap's format, microsecond or
//! nanosecond timestamps, either byte order) and pcapng, read from bytes
//! into frames in the Ethernet view the gateway's pipeline decodes.
//!
//! Link types: Ethernet as is; Linux cooked captures (`LINUX_SLL`, what
//! `tcpdump -i any` writes, and `LINUX_SLL2`) are converted to Ethernet
//! (see [`link`]); any other is refused by name, per pcapng interface.
//! A frame cut by the snap length (captured shorter than on the wire) is
//! kept with both lengths; a file that stops in the middle of a record
//! keeps the frames before the cut and says at which byte offset it stops.

pub mod link;
mod pcap;
mod pcapng;

use std::fmt;
use std::time::Duration;

/// One captured frame, in the Ethernet view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Frame bytes as captured (Ethernet header first).
    pub data: Vec<u8>,
    /// Length on the wire (exceeds `data.len()` when the capture was snapped).
    pub orig_len: u32,
}

impl Captured {
    /// Whether the snap length cut this frame (fewer bytes captured than were on the wire).
    pub fn is_cut(&self) -> bool {
        self.orig_len as usize > self.data.len()
    }
}

/// Which of the two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Where a file stops in the middle of a record or block (a capture whose
/// writer was killed, or a partial copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutShort {
    /// Byte offset of the record or block that is incomplete.
    pub offset: u64,
    /// What is incomplete: `record header`, `record`, `block header` or `block`.
    pub what: &'static str,
    /// Bytes it needs.
    pub needed: u64,
    /// Bytes the file still has from `offset`.
    pub available: u64,
}

impl fmt::Display for CutShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file stops at byte offset {} in a {} of {} bytes ({} present)", self.offset, self.what, self.needed, self.available)
    }
}

/// A capture file's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Classic pcap or pcapng.
    pub format: Format,
    /// Every complete frame, in file order.
    pub frames: Vec<Captured>,
    /// Set when the file stops in the middle of a record: the frames before it are kept.
    pub cut_short: Option<CutShort>,
}

impl Capture {
    /// Frames the snap length cut.
    pub fn cut_frames(&self) -> usize {
        self.frames.iter().filter(|f| f.is_cut()).count()
    }
}

/// Why a capture cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// Fewer than the 4 bytes of a magic number.
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// Neither a pcap nor a pcapng magic number.
    UnknownMagic {
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// A link type other than Ethernet, LINUX_SLL and LINUX_SLL2.
    LinkType {
        /// The pcapng interface (none for classic pcap).
        interface: Option<u32>,
        /// The LINKTYPE_ value.
        link_type: u16,
    },
    /// A header field that is wrong, at a byte offset of the file.
    Field {
        /// Byte offset of the field.
        offset: u64,
        /// The field, as the format's specification names it.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

impl CaptureError {
    fn field<T>(offset: usize, field: &'static str, why: impl Into<String>) -> Result<T, CaptureError> {
        Err(CaptureError::Field { offset: offset as u64, field, why: why.into() })
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::TooShort { len } => write!(f, "{len} bytes: too short to be a capture file"),
            CaptureError::UnknownMagic { magic } => {
                write!(f, "magic number {:02x}{:02x}{:02x}{:02x} is neither pcap nor pcapng", magic[0], magic[1], magic[2], magic[3])
            }
            CaptureError::LinkType { interface, link_type } => {
                let name = link::name(*link_type).map_or_else(String::new, |n| format!(" ({n})"));
                match interface {
                    Some(i) => write!(f, "interface {i} has link type {link_type}{name}")?,
                    None => write!(f, "link type {link_type}{name}")?,
                }
                write!(f, ": fhgate reads ETHERNET, LINUX_SLL and LINUX_SLL2 captures")
            }
            CaptureError::Field { offset, field, why } => write!(f, "byte offset {offset}: {field}: {why}"),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Reads a capture from its bytes; the format is told by the magic number.
pub fn parse(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let Some(magic) = bytes.first_chunk::<4>() else {
        return Err(CaptureError::TooShort { len: bytes.len() });
    };
    if *magic == pcapng::SHB_TYPE.to_le_bytes() {
        return pcapng::parse(bytes);
    }
    match pcap::Header::magic(magic) {
        Some(_) => pcap::parse(bytes),
        None => Err(CaptureError::UnknownMagic { magic: *magic }),
    }
}

/// Reads a `u16`/`u32`/`u64` at `at` in the byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Order {
    big: bool,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }

    fn u32(self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
}

/// The longest frame either format may hold (libpcap's MAXIMUM_SNAPLEN);
/// a longer length is a corrupt header, not a frame.
pub const MAX_FRAME: u32 = 262_144;

/// Builds a frame in the Ethernet view from what the file holds.
fn frame(link_type: u16, timestamp: Duration, data: &[u8], orig_len: u32) -> Captured {
    let (data, orig_len) = link::to_ethernet(link_type, data, orig_len);
    Captured { timestamp, data, orig_len }
}

#[cfg(test)]
mod tests;
