//! The timing fields of a frame's first C-plane or U-plane message, read
//! without the decode settings the sections need (compression, udCompHdr,
//! eAxC split): a site capture's timing can be measured before its
//! profile is known. U-plane and C-plane share the first four bytes of
//! the application header (dataDirection, frameId, subframeId, slotId,
//! symbolId / startSymbolId).

use ecpri::frame::{locate, MessageIter};
use ecpri::header::message_type;

use super::ota::AirTime;

/// Which plane a timed message is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plane {
    /// U-plane (eCPRI IQ data).
    U,
    /// C-plane (eCPRI real-time control).
    C,
}

/// A timed message's flow and air time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgTiming {
    /// U- or C-plane.
    pub plane: Plane,
    /// dataDirection: 1 DL, 0 UL.
    pub direction: u8,
    /// ecpriPcid / ecpriRtcid.
    pub eaxc: u16,
    /// Innermost VLAN ID, if tagged.
    pub vlan: Option<u16>,
    /// ecpriSeqid's sequence ID.
    pub seq_id: u8,
    /// frameId, subframeId, slotId, (start)symbolId.
    pub air: AirTime,
}

/// Why a frame has no timing fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTiming {
    /// Not eCPRI (PTP, ARP, ...), or eCPRI of another message type.
    NotTimed,
    /// Headers that do not decode (cut short, a wrong length): the field
    /// and its offset in the frame.
    Malformed {
        /// The field at fault.
        field: &'static str,
        /// Its offset in the frame.
        offset: usize,
    },
}

/// ecpriPcid/Rtcid and ecpriSeqid, then the application header's first four bytes.
const ID_SEQ_LEN: usize = 4;
const APP_TIMING_LEN: usize = 4;

/// Reads the first eCPRI message of `frame` (eCPRI over Ethernet, or UDP
/// to/from `udp_port`).
pub fn message_timing(frame: &[u8], udp_port: Option<u16>) -> Result<MsgTiming, NoTiming> {
    let loc = locate(frame, udp_port).map_err(|e| NoTiming::Malformed { field: e.field(), offset: e.offset().unwrap_or(0) })?;
    let range = loc.ecpri.ok_or(NoTiming::NotTimed)?;
    let (msg_range, msg) = match MessageIter::new(&frame[range.clone()]).next() {
        Some(Ok(m)) => m,
        Some(Err(e)) => return Err(NoTiming::Malformed { field: e.field(), offset: range.start + e.offset().unwrap_or(0) }),
        None => return Err(NoTiming::Malformed { field: "ecpri.header", offset: range.start }),
    };
    let plane = match msg.message_type() {
        message_type::IQ_DATA => Plane::U,
        message_type::RT_CONTROL => Plane::C,
        _ => return Err(NoTiming::NotTimed),
    };
    let p = msg.payload();
    let at = range.start + msg_range.start + ecpri::header::field::HEADER_LEN;
    if p.len() < ID_SEQ_LEN + APP_TIMING_LEN {
        let field = if p.len() < ID_SEQ_LEN { "ecpri.pcid" } else { "oran_fh_cus.frameId" };
        return Err(NoTiming::Malformed { field, offset: at + p.len().min(ID_SEQ_LEN) });
    }
    let h = &p[ID_SEQ_LEN..];
    let w = u16::from_be_bytes([h[2], h[3]]);
    Ok(MsgTiming {
        plane,
        direction: h[0] >> 7,
        eaxc: u16::from_be_bytes([p[0], p[1]]),
        vlan: loc.vid,
        seq_id: p[2],
        air: AirTime { frame_id: h[1], subframe_id: (w >> 12) as u8, slot_id: ((w >> 6) & 0x3F) as u8, symbol_id: (w & 0x3F) as u8 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An untagged U-plane frame with hand-packed timing fields.
    fn frame(msg_type: u8, dir: u8, frame_id: u8, sf: u8, slot: u8, sym: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&0xAEFEu16.to_be_bytes());
        let w: u16 = (sf as u16) << 12 | (slot as u16) << 6 | sym as u16;
        let body = [0x12, 0x34, 7, 0x80, dir << 7 | 0x10, frame_id, (w >> 8) as u8, w as u8, 0, 0];
        f.extend_from_slice(&[0x10, msg_type, 0, body.len() as u8]);
        f.extend_from_slice(&body);
        f
    }

    #[test]
    fn reads_both_planes_fields() {
        let t = message_timing(&frame(0, 1, 200, 9, 3, 13), None).unwrap();
        assert_eq!(t.plane, Plane::U);
        assert_eq!((t.direction, t.eaxc, t.seq_id, t.vlan), (1, 0x1234, 7, None));
        assert_eq!(t.air, AirTime { frame_id: 200, subframe_id: 9, slot_id: 3, symbol_id: 13 });
        let t = message_timing(&frame(2, 0, 1, 2, 63, 63), None).unwrap();
        assert_eq!((t.plane, t.direction), (Plane::C, 0));
        assert_eq!(t.air, AirTime { frame_id: 1, subframe_id: 2, slot_id: 63, symbol_id: 63 }, "out-of-range values are read as carried");
    }

    #[test]
    fn other_frames_and_short_ones_are_told_apart() {
        assert_eq!(message_timing(&frame(5, 1, 0, 0, 0, 0), None), Err(NoTiming::NotTimed));
        let mut arp = frame(0, 1, 0, 0, 0, 0);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(message_timing(&arp, None), Err(NoTiming::NotTimed));
        let mut short = frame(0, 1, 0, 0, 0, 0);
        short.truncate(14 + 4 + 6);
        short[17] = 6;
        assert_eq!(message_timing(&short, None), Err(NoTiming::Malformed { field: "oran_fh_cus.frameId", offset: 22 }));
    }
}
