//! Classic pcap: a 24-byte file header, then records of a 16-byte header
//! and the frame (the libpcap file format, draft-ietf-opsawg-pcap).

use std::time::Duration;

use super::{frame, link, Capture, CaptureError, CutShort, Format, Order, MAX_FRAME};

/// Byte ranges of the file header and of a record header.
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const MAGIC: Field = 0..4;
    pub const SNAPLEN: Field = 16..20;
    pub const LINKTYPE: Field = 20..24;
    pub const FILE_HEADER: usize = 24;

    pub const TS_SEC: Field = 0..4;
    pub const TS_FRAC: Field = 4..8;
    pub const INCL_LEN: Field = 8..12;
    pub const ORIG_LEN: Field = 12..16;
    pub const RECORD_HEADER: usize = 16;
}

/// What the magic number says.
pub(super) struct Header {
    order: Order,
    nanos: bool,
}

impl Header {
    /// The byte order and timestamp unit of a pcap magic number.
    pub(super) fn magic(m: &[u8; 4]) -> Option<Header> {
        let (le, be) = (u32::from_le_bytes(*m), u32::from_be_bytes(*m));
        for (v, big) in [(le, false), (be, true)] {
            match v {
                0xA1B2_C3D4 => return Some(Header { order: Order { big }, nanos: false }),
                0xA1B2_3C4D => return Some(Header { order: Order { big }, nanos: true }),
                _ => {}
            }
        }
        None
    }
}

pub(super) fn parse(b: &[u8]) -> Result<Capture, CaptureError> {
    let h = b.get(field::MAGIC).and_then(|m| m.try_into().ok()).and_then(Header::magic).ok_or(CaptureError::TooShort { len: b.len() })?;
    if b.len() < field::FILE_HEADER {
        return CaptureError::field(0, "file header", format!("24 bytes needed, {} present", b.len()));
    }
    let o = h.order;
    let snaplen = o.u32(b, field::SNAPLEN.start);
    // The upper 16 bits carry FCS flags, not the link type.
    let link_type = (o.u32(b, field::LINKTYPE.start) & 0xFFFF) as u16;
    if !link::supported(link_type) {
        return Err(CaptureError::LinkType { interface: None, link_type });
    }
    let mut frames = Vec::new();
    let mut cut_short = None;
    let mut at = field::FILE_HEADER;
    while at < b.len() {
        let left = b.len() - at;
        if left < field::RECORD_HEADER {
            cut_short = Some(CutShort { offset: at as u64, what: "record header", needed: field::RECORD_HEADER as u64, available: left as u64 });
            break;
        }
        let r = &b[at..at + field::RECORD_HEADER];
        let incl = o.u32(r, field::INCL_LEN.start);
        let orig = o.u32(r, field::ORIG_LEN.start);
        if incl > MAX_FRAME.max(snaplen) {
            return CaptureError::field(at + field::INCL_LEN.start, "incl_len", format!("{incl} is beyond the snap length {snaplen} and {MAX_FRAME}"));
        }
        if orig < incl {
            return CaptureError::field(at + field::ORIG_LEN.start, "orig_len", format!("{orig} is less than incl_len {incl}"));
        }
        let end = at + field::RECORD_HEADER + incl as usize;
        if end > b.len() {
            cut_short = Some(CutShort { offset: at as u64, what: "record", needed: (end - at) as u64, available: left as u64 });
            break;
        }
        let secs = o.u32(r, field::TS_SEC.start) as u64;
        let frac = o.u32(r, field::TS_FRAC.start) as u64;
        let nanos = if h.nanos { frac } else { frac * 1000 };
        let ts = Duration::from_secs(secs) + Duration::from_nanos(nanos);
        frames.push(frame(link_type, ts, &b[at + field::RECORD_HEADER..end], orig));
        at = end;
    }
    Ok(Capture { format: Format::Pcap, frames, cut_short })
}
