//! pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body
//! and the total length again. Read here: Section Header (byte order,
//! resets the interfaces), Interface Description (link type, `if_tsresol`,
//! `if_tsoffset`), Enhanced Packet, Simple Packet and the obsolete Packet
//! block. Other blocks (statistics, name resolution, ...) are skipped.

use std::time::Duration;

use super::{frame, link, Capture, CaptureError, CutShort, Format, Order, MAX_FRAME};

/// Section Header Block type (a palindrome, so readable before the byte order is known).
pub(super) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Byte offsets within a block (from its start) and within bodies.
mod field {
    pub const BLOCK_TYPE: usize = 0;
    pub const TOTAL_LENGTH: usize = 4;
    pub const BODY: usize = 8;
    /// Type, length and trailing length.
    pub const OVERHEAD: usize = 12;
    /// SHB body: byte-order magic, versions, section length.
    pub const SHB_BODY: usize = 16;
    /// IDB body: link type, reserved, snap length, then options.
    pub const IDB_LINKTYPE: usize = 0;
    pub const IDB_SNAPLEN: usize = 4;
    pub const IDB_OPTIONS: usize = 8;
    /// EPB body: interface, timestamp (high, low), captured and original length, data.
    pub const EPB_INTERFACE: usize = 0;
    pub const EPB_TS_HIGH: usize = 4;
    pub const EPB_TS_LOW: usize = 8;
    pub const EPB_CAPLEN: usize = 12;
    pub const EPB_ORIGLEN: usize = 16;
    pub const EPB_DATA: usize = 20;
    /// SPB body: original length, data.
    pub const SPB_DATA: usize = 4;
}

/// `if_tsresol` and `if_tsoffset` option codes.
const OPT_TSRESOL: u16 = 9;
const OPT_TSOFFSET: u16 = 14;

/// What an Interface Description Block says.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u16,
    snaplen: u32,
    /// `if_tsresol`: bit 7 clear, 10^-n seconds per unit; set, 2^-n.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

impl Interface {
    fn timestamp(&self, units: u64) -> Duration {
        let e = (self.tsresol & 0x7F) as u32;
        let nanos: u128 = if self.tsresol & 0x80 == 0 {
            match e {
                0..=9 => units as u128 * 10u128.pow(9 - e),
                _ => 10u128.checked_pow(e - 9).map_or(0, |d| units as u128 / d),
            }
        } else {
            (units as u128 * 1_000_000_000) >> e
        };
        let total = nanos as i128 + self.tsoffset as i128 * 1_000_000_000;
        Duration::from_nanos(total.clamp(0, u64::MAX as i128) as u64)
    }
}

pub(super) fn parse(b: &[u8]) -> Result<Capture, CaptureError> {
    let mut order = Order { big: false };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut frames = Vec::new();
    let mut cut_short = None;
    let mut at = 0;
    while at < b.len() {
        let left = b.len() - at;
        if left < field::OVERHEAD {
            cut_short = Some(CutShort { offset: at as u64, what: "block header", needed: field::OVERHEAD as u64, available: left as u64 });
            break;
        }
        let block_type = order.u32(b, at + field::BLOCK_TYPE);
        if block_type == SHB_TYPE {
            // The byte order of this section, from its magic.
            let m = order.u32(b, at + field::BODY);
            order = match m {
                BYTE_ORDER_MAGIC => order,
                _ if m.swap_bytes() == BYTE_ORDER_MAGIC => Order { big: !order.big },
                _ => return CaptureError::field(at + field::BODY, "byte_order_magic", format!("{m:#010x} is not 0x1a2b3c4d in either byte order")),
            };
            interfaces.clear();
        } else if at == 0 {
            return CaptureError::field(0, "block_type", "a pcapng file starts with a section header block");
        }
        let total = order.u32(b, at + field::TOTAL_LENGTH) as usize;
        if total < field::OVERHEAD || total % 4 != 0 {
            return CaptureError::field(at + field::TOTAL_LENGTH, "block_total_length", format!("{total} is not a multiple of 4 of at least 12"));
        }
        if total > left {
            cut_short = Some(CutShort { offset: at as u64, what: "block", needed: total as u64, available: left as u64 });
            break;
        }
        let trailer = order.u32(b, at + total - 4) as usize;
        if trailer != total {
            return CaptureError::field(at + total - 4, "block_total_length", format!("trailing copy {trailer} differs from {total}"));
        }
        let body = &b[at + field::BODY..at + total - 4];
        let body_at = at + field::BODY;
        match block_type {
            SHB_TYPE if body.len() < field::SHB_BODY => {
                return CaptureError::field(body_at, "section header", format!("{} body bytes, {} needed", body.len(), field::SHB_BODY));
            }
            IDB_TYPE => interfaces.push(interface(order, body, body_at)?),
            EPB_TYPE | PB_TYPE => {
                if body.len() < field::EPB_DATA {
                    return CaptureError::field(body_at, "packet block", format!("{} body bytes, {} needed", body.len(), field::EPB_DATA));
                }
                // The obsolete Packet Block has a 16-bit interface ID then a drop count.
                let id = if block_type == PB_TYPE { order.u16(body, field::EPB_INTERFACE) as u32 } else { order.u32(body, field::EPB_INTERFACE) };
                let Some(iface) = interfaces.get(id as usize) else {
                    return CaptureError::field(body_at, "interface_id", format!("interface {id} is not described in this section ({} are)", interfaces.len()));
                };
                let caplen = order.u32(body, field::EPB_CAPLEN);
                let origlen = order.u32(body, field::EPB_ORIGLEN);
                if caplen as usize > body.len() - field::EPB_DATA || caplen > MAX_FRAME {
                    return CaptureError::field(body_at + field::EPB_CAPLEN, "captured_packet_length", format!("{caplen} overruns the block ({} data bytes)", body.len() - field::EPB_DATA));
                }
                if origlen < caplen {
                    return CaptureError::field(body_at + field::EPB_ORIGLEN, "original_packet_length", format!("{origlen} is less than captured_packet_length {caplen}"));
                }
                check_link(iface, id)?;
                let units = (order.u32(body, field::EPB_TS_HIGH) as u64) << 32 | order.u32(body, field::EPB_TS_LOW) as u64;
                let data = &body[field::EPB_DATA..field::EPB_DATA + caplen as usize];
                frames.push(frame(iface.link_type, iface.timestamp(units), data, origlen));
            }
            SPB_TYPE => {
                if body.len() < field::SPB_DATA {
                    return CaptureError::field(body_at, "simple packet block", "no original_packet_length");
                }
                let Some(iface) = interfaces.first() else {
                    return CaptureError::field(body_at, "simple packet block", "no interface is described in this section");
                };
                check_link(iface, 0)?;
                let origlen = order.u32(body, 0);
                // The captured length is the original length cut by the snap length and the block.
                let mut caplen = (origlen as usize).min(body.len() - field::SPB_DATA);
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let data = &body[field::SPB_DATA..field::SPB_DATA + caplen];
                frames.push(frame(iface.link_type, Duration::ZERO, data, origlen));
            }
            _ => {}
        }
        at += total;
    }
    Ok(Capture { format: Format::PcapNg, frames, cut_short })
}

fn check_link(iface: &Interface, id: u32) -> Result<(), CaptureError> {
    if link::supported(iface.link_type) {
        Ok(())
    } else {
        Err(CaptureError::LinkType { interface: Some(id), link_type: iface.link_type })
    }
}

/// Reads an Interface Description Block's body.
fn interface(order: Order, body: &[u8], body_at: usize) -> Result<Interface, CaptureError> {
    if body.len() < field::IDB_OPTIONS {
        return CaptureError::field(body_at, "interface description", format!("{} body bytes, {} needed", body.len(), field::IDB_OPTIONS));
    }
    let mut iface = Interface {
        link_type: order.u16(body, field::IDB_LINKTYPE),
        snaplen: order.u32(body, field::IDB_SNAPLEN),
        tsresol: 6,
        tsoffset: 0,
    };
    // Options: code, length, value padded to 4 bytes; code 0 ends them.
    let mut at = field::IDB_OPTIONS;
    while at + 4 <= body.len() {
        let code = order.u16(body, at);
        let len = order.u16(body, at + 2) as usize;
        if code == 0 {
            break;
        }
        let value_at = at + 4;
        if value_at + len > body.len() {
            return CaptureError::field(body_at + at + 2, "option_length", format!("option {code} of {len} bytes overruns the block"));
        }
        let value = &body[value_at..value_at + len];
        match (code, len) {
            (OPT_TSRESOL, 1) => iface.tsresol = value[0],
            (OPT_TSOFFSET, 8) => {
                let v: [u8; 8] = value.try_into().expect("8 bytes");
                iface.tsoffset = if order.big { i64::from_be_bytes(v) } else { i64::from_le_bytes(v) };
            }
            _ => {}
        }
        at = value_at + len.next_multiple_of(4);
    }
    Ok(iface)
}
