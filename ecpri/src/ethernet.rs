//! Ethernet II with up to two VLAN tags (802.1Q, or 802.1ad outer plus
//! 802.1Q inner). Fronthaul runs eCPRI directly on ethertype 0xAEFE.

use crate::bits::{be16, set_be16};
use crate::error::check_len;
use crate::fields::{FieldValue, FieldVisitor};
use crate::{Error, Result};

/// eCPRI's ethertype.
pub const ETHERTYPE_ECPRI: u16 = 0xAEFE;
/// 802.1Q C-tag.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad S-tag.
pub const TPID_8021AD: u16 = 0x88A8;
/// IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// PTP over Ethernet (S-plane).
pub const ETHERTYPE_PTP: u16 = 0x88F7;
/// LLDP.
pub const ETHERTYPE_LLDP: u16 = 0x88CC;

/// Byte ranges of the untagged header; each tag inserts 4 bytes at 12.
pub mod field {
    use core::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// Ethertype, or the TPID of the first tag.
    pub const TYPE: usize = 12;
    /// Length of the untagged header.
    pub const HEADER_LEN: usize = 14;
    /// Length of one VLAN tag (TPID + TCI).
    pub const TAG_LEN: usize = 4;
}

/// Most tags this codec follows; a third stays in the payload.
pub const MAX_TAGS: usize = 2;

/// The highest VLAN ID fhgate configures or sends: 4095 (0xFFF) is
/// reserved by IEEE 802.1Q (Table 9-2); 0 is a priority tag (PCP only).
/// Frames that carry 4095 still pass through untouched.
pub const MAX_VID: u16 = 4094;

/// One VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// Tag protocol identifier (0x8100 or 0x88A8).
    pub tpid: u16,
    /// Priority code point, 3 bits.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN ID, 12 bits.
    pub vid: u16,
}

impl VlanTag {
    /// A C-tag (0x8100).
    pub const fn c_tag(vid: u16, pcp: u8) -> Self {
        VlanTag { tpid: TPID_8021Q, pcp, dei: false, vid }
    }

    fn from_tci(tpid: u16, tci: u16) -> Self {
        VlanTag { tpid, pcp: (tci >> 13) as u8, dei: tci & 0x1000 != 0, vid: tci & 0x0FFF }
    }

    /// The 16-bit tag control information.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0FFF)
    }
}

const fn is_tpid(t: u16) -> bool {
    t == TPID_8021Q || t == TPID_8021AD
}

/// A zero-copy view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
    tags: u8,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks that the header and its tags are present.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_len(b, "eth.type", field::TYPE, 2)?;
        let mut tags = 0u8;
        while (tags as usize) < MAX_TAGS && is_tpid(be16(b, field::TYPE + 4 * tags as usize)) {
            check_len(b, "vlan.id", field::TYPE + 4 * tags as usize + 2, 4)?;
            tags += 1;
        }
        Ok(EthernetFrame { buffer, tags })
    }

    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::DST].try_into().unwrap_or_default()
    }

    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::SRC].try_into().unwrap_or_default()
    }

    /// How many VLAN tags precede the ethertype.
    pub fn tag_count(&self) -> usize {
        self.tags as usize
    }

    /// Tag `i` (0 = outermost), if present.
    pub fn tag(&self, i: usize) -> Option<VlanTag> {
        if i >= self.tag_count() {
            return None;
        }
        let b = self.buffer.as_ref();
        let at = field::TYPE + 4 * i;
        Some(VlanTag::from_tci(be16(b, at), be16(b, at + 2)))
    }

    /// The innermost VLAN ID, which is the one fronthaul flows are keyed on.
    pub fn vid(&self) -> Option<u16> {
        self.tag_count().checked_sub(1).and_then(|i| self.tag(i)).map(|t| t.vid)
    }

    /// The ethertype after the tags.
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), self.ethertype_offset())
    }

    fn ethertype_offset(&self) -> usize {
        field::TYPE + field::TAG_LEN * self.tag_count()
    }

    /// Header length including tags.
    pub fn header_len(&self) -> usize {
        self.ethertype_offset() + 2
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Rewrites the VID of tag `i` in place, keeping PCP and DEI.
    pub fn set_vid(&mut self, i: usize, vid: u16) {
        if i < self.tag_count() {
            let at = field::TYPE + 4 * i + 2;
            let b = self.buffer.as_mut();
            let tci = (be16(b, at) & 0xF000) | (vid & 0x0FFF);
            set_be16(b, at, tci);
        }
    }

    /// Rewrites the PCP of tag `i` in place.
    pub fn set_pcp(&mut self, i: usize, pcp: u8) {
        if i < self.tag_count() {
            let at = field::TYPE + 4 * i + 2;
            let b = self.buffer.as_mut();
            let tci = (be16(b, at) & 0x1FFF) | ((pcp as u16 & 7) << 13);
            set_be16(b, at, tci);
        }
    }

    /// Bytes after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// The decoded Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EthernetRepr {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// VLAN tags, outermost first; `tag_count` of them are valid.
    pub tags: [VlanTag; MAX_TAGS],
    /// Number of valid tags.
    pub tag_count: u8,
    /// Ethertype after the tags.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// An untagged header.
    pub fn new(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Self {
        EthernetRepr { dst, src, tags: [VlanTag::default(); MAX_TAGS], tag_count: 0, ethertype }
    }

    /// Adds `tag` inside any existing tags; errors if two are present already.
    pub fn push_tag(&mut self, tag: VlanTag) -> Result<()> {
        if self.tag_count as usize >= MAX_TAGS {
            return Err(Error::ValueOutOfRange { field: "vlan", value: 3, max: MAX_TAGS as u32 });
        }
        self.tags[self.tag_count as usize] = tag;
        self.tag_count += 1;
        Ok(())
    }

    /// The valid tags.
    pub fn vlan_tags(&self) -> &[VlanTag] {
        &self.tags[..self.tag_count as usize]
    }

    /// The innermost VLAN ID.
    pub fn vid(&self) -> Option<u16> {
        self.vlan_tags().last().map(|t| t.vid)
    }

    /// Reads the header of `frame`.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Self {
        let mut r = EthernetRepr::new(frame.dst(), frame.src(), frame.ethertype());
        for i in 0..frame.tag_count() {
            r.tags[i] = frame.tag(i).unwrap_or_default();
        }
        r.tag_count = frame.tag_count() as u8;
        r
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        field::HEADER_LEN + field::TAG_LEN * self.tag_count as usize
    }

    /// Writes the header into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        check_len(buf, "eth", 0, n)?;
        if self.tag_count as usize > MAX_TAGS {
            return Err(Error::ValueOutOfRange { field: "vlan", value: self.tag_count as u32, max: 2 });
        }
        buf[field::DST].copy_from_slice(&self.dst);
        buf[field::SRC].copy_from_slice(&self.src);
        let mut at = field::TYPE;
        for t in self.vlan_tags() {
            crate::bits::check_fits("vlan.id", t.vid as u32, 0xFFF)?;
            crate::bits::check_fits("vlan.priority", t.pcp as u32, 0x7)?;
            set_be16(buf, at, t.tpid);
            set_be16(buf, at + 2, t.tci());
            at += 4;
        }
        set_be16(buf, at, self.ethertype);
        Ok(n)
    }

    /// Reports the fields under Wireshark's names.
    pub fn visit<'a, V: FieldVisitor<'a>>(&self, v: &mut V) {
        for t in self.vlan_tags() {
            v.begin("vlan");
            v.field("vlan.etype", FieldValue::U(t.tpid as u64));
            v.field("vlan.priority", FieldValue::U(t.pcp as u64));
            v.field("vlan.dei", FieldValue::Bool(t.dei));
            v.field("vlan.id", FieldValue::U(t.vid as u64));
            v.end();
        }
        v.field("eth.type", FieldValue::U(self.ethertype as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QINQ: [u8; 24] = [
        0x02, 0, 0, 0, 0, 1, // dst
        0x02, 0, 0, 0, 0, 2, // src
        0x88, 0xA8, 0x20, 0x64, // S-tag pcp 1, vid 100
        0x81, 0x00, 0xB0, 0x02, // C-tag pcp 5, dei, vid 2
        0xAE, 0xFE, // eCPRI
        0x10, 0x00,
    ];

    #[test]
    fn deconstruct_qinq() {
        let f = EthernetFrame::new_checked(&QINQ[..]).unwrap();
        assert_eq!(f.dst(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(f.src(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(f.tag_count(), 2);
        assert_eq!(f.tag(0), Some(VlanTag { tpid: TPID_8021AD, pcp: 1, dei: false, vid: 100 }));
        assert_eq!(f.tag(1), Some(VlanTag { tpid: TPID_8021Q, pcp: 5, dei: true, vid: 2 }));
        assert_eq!(f.vid(), Some(2));
        assert_eq!(f.ethertype(), ETHERTYPE_ECPRI);
        assert_eq!(f.header_len(), 22);
        assert_eq!(f.payload(), &[0x10, 0x00]);
    }

    #[test]
    fn construct_qinq() {
        let mut r = EthernetRepr::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ETHERTYPE_ECPRI);
        r.push_tag(VlanTag { tpid: TPID_8021AD, pcp: 1, dei: false, vid: 100 }).unwrap();
        r.push_tag(VlanTag { tpid: TPID_8021Q, pcp: 5, dei: true, vid: 2 }).unwrap();
        assert!(r.push_tag(VlanTag::c_tag(3, 0)).is_err());
        let mut buf = [0u8; 22];
        assert_eq!(r.emit(&mut buf), Ok(22));
        assert_eq!(&buf[..], &QINQ[..22]);
        assert_eq!(EthernetRepr::parse(&EthernetFrame::new_checked(&QINQ[..]).unwrap()), r);
    }

    #[test]
    fn set_vid_keeps_pcp_and_dei() {
        let mut b = QINQ;
        let mut f = EthernetFrame::new_checked(&mut b[..]).unwrap();
        f.set_vid(1, 0xABC);
        f.set_pcp(0, 7);
        assert_eq!(f.tag(1), Some(VlanTag { tpid: TPID_8021Q, pcp: 5, dei: true, vid: 0xABC }));
        assert_eq!(f.tag(0).unwrap().pcp, 7);
        assert_eq!(f.tag(0).unwrap().vid, 100);
    }

    #[test]
    fn truncated_tag_names_field_and_offset() {
        let e = EthernetFrame::new_checked(&QINQ[..17]).unwrap_err();
        assert_eq!(e, Error::Truncated { field: "vlan.id", offset: 14, needed: 4, available: 3 });
        assert!(EthernetFrame::new_checked(&QINQ[..13]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(dst: [u8; 6], src: [u8; 6], et: u16, n in 0usize..=2, vids: [u16; 2], pcps: [u8; 2], deis: [bool; 2]) {
            prop_assume!(!is_tpid(et));
            let mut r = EthernetRepr::new(dst, src, et);
            for i in 0..n {
                r.push_tag(VlanTag { tpid: if i + 1 < n { TPID_8021AD } else { TPID_8021Q }, pcp: pcps[i] & 7, dei: deis[i], vid: vids[i] & 0xFFF }).unwrap();
            }
            let mut buf = [0u8; 22];
            let len = r.emit(&mut buf).unwrap();
            let f = EthernetFrame::new_checked(&buf[..len]).unwrap();
            prop_assert_eq!(EthernetRepr::parse(&f), r);
        }

        #[test]
        fn never_panics(b: alloc::vec::Vec<u8>) {
            if let Ok(f) = EthernetFrame::new_checked(&b[..]) {
                let _ = EthernetRepr::parse(&f);
                let _ = f.payload();
            }
        }
    }
}
