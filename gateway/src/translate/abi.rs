//! The translator ABI v2 wire layout (translators/ABI.md §3): the I/O
//! region's header, its descriptors and packet slots, and the verdicts.
//!
//! [`Descriptor`] is a zero-copy view over the 64 bytes of one descriptor,
//! used both on the guest's region and on the host's own copy of a
//! packet's metadata ([`DescriptorImage`]), so that filling a descriptor is
//! one 64-byte copy.

/// The ABI version this host implements.
pub const ABI_VERSION: u32 = 2;
/// The region header's magic, "FHIO" read as a little-endian u32.
pub const MAGIC: u32 = 0x4F49_4846;
/// Most input descriptors per call (`max_in`).
pub const MAX_IN: usize = 64;
/// Most output descriptors per call (`max_out`).
pub const MAX_OUT: usize = 128;
/// Bytes per packet slot (`slot_size`), and the capacity of every packet.
pub const SLOT_SIZE: usize = 16_384;
/// Distance between the starts of two slots (`slot_stride`). One cache
/// line more than a slot: with a power-of-two stride every slot would
/// start in the same L1 set, and a burst's copies would evict each other.
pub const SLOT_STRIDE: usize = SLOT_SIZE + 64;
/// Length of the region header.
pub const HEADER_LEN: usize = 64;
/// Length of one descriptor.
pub const DESC_LEN: usize = 64;
/// Where descriptor 0 starts, from the region start `R`.
pub const DESCS_AT: usize = HEADER_LEN;
/// Where packet slot 0 starts, from `R`.
pub const SLOTS_AT: usize = DESCS_AT + MAX_OUT * DESC_LEN;
/// Size of the whole I/O region.
pub const IO_REGION_SIZE: usize = SLOTS_AT + MAX_OUT * SLOT_STRIDE;
/// Section offsets a descriptor carries.
pub const MAX_SECTION_OFFSETS: usize = 16;

const _: () = assert!(IO_REGION_SIZE == 2_113_600 && SLOTS_AT == 8_256);

/// Where descriptor `i` starts, from `R`.
#[inline]
pub const fn desc_at(i: usize) -> usize {
    DESCS_AT + i * DESC_LEN
}

/// Where packet slot `i` starts, from `R`.
#[inline]
pub const fn slot_at(i: usize) -> usize {
    SLOTS_AT + i * SLOT_STRIDE
}

/// Verdict values (ABI.md §3).
pub mod verdict {
    /// Send the input unchanged.
    pub const FORWARD: u8 = 0;
    /// Send nothing for this input.
    pub const DROP: u8 = 1;
    /// Send `len` bytes from `offset`.
    pub const MODIFIED: u8 = 2;
    /// An additional packet produced from input `origin`.
    pub const EXTRA: u8 = 3;

    /// The verdict's name in ABI.md.
    pub const fn name(v: u8) -> &'static str {
        match v {
            FORWARD => "FORWARD",
            DROP => "DROP",
            MODIFIED => "MODIFIED",
            EXTRA => "EXTRA",
            _ => "unknown",
        }
    }
}

/// `plane` values of a descriptor.
pub mod plane {
    /// U-plane (eCPRI IQ data).
    pub const U: u8 = 0;
    /// C-plane (eCPRI real-time control).
    pub const C: u8 = 1;
    /// Any other eCPRI message.
    pub const OTHER: u8 = 2;
}

/// `direction` values of a descriptor.
pub mod direction {
    /// Uplink (dataDirection 0; RU→DU for other messages).
    pub const UL: u8 = 0;
    /// Downlink (dataDirection 1; DU→RU for other messages).
    pub const DL: u8 = 1;
}

/// Bits of a descriptor's `flags`.
pub mod flags {
    /// U-plane sections carry udCompHdr.
    pub const UD_COMP_HDR: u16 = 1 << 0;
    /// The message has more than 16 sections.
    pub const MORE_SECTIONS: u16 = 1 << 1;
}

/// `vlan` of an untagged frame.
pub const VLAN_NONE: u16 = 0xFFFF;

/// Byte ranges of the region header and of a descriptor.
pub mod field {
    /// A byte range.
    pub type Field = core::ops::Range<usize>;

    /// Header: magic.
    pub const H_MAGIC: Field = 0..4;
    /// Header: ABI version.
    pub const H_VERSION: Field = 4..8;
    /// Header: `max_in`.
    pub const H_MAX_IN: Field = 8..12;
    /// Header: `max_out`.
    pub const H_MAX_OUT: Field = 12..16;
    /// Header: `slot_size`.
    pub const H_SLOT_SIZE: Field = 16..20;
    /// Header: `slot_stride`.
    pub const H_SLOT_STRIDE: Field = 20..24;

    /// Packet address relative to `R`.
    pub const OFFSET: Field = 0..4;
    /// Packet length.
    pub const LEN: Field = 4..8;
    /// Bytes available at `offset`.
    pub const CAPACITY: Field = 8..12;
    /// Verdict.
    pub const VERDICT: usize = 12;
    /// Direction.
    pub const DIRECTION: usize = 13;
    /// Plane.
    pub const PLANE: usize = 14;
    /// eCPRI message type.
    pub const MSG_TYPE: usize = 15;
    /// ecpriPcid / ecpriRtcid.
    pub const EAXC: Field = 16..18;
    /// Innermost VLAN ID.
    pub const VLAN: Field = 18..20;
    /// Input an extra belongs to.
    pub const ORIGIN: Field = 20..22;
    /// frameId.
    pub const FRAME_ID: usize = 22;
    /// subframeId.
    pub const SUBFRAME_ID: usize = 23;
    /// slotId.
    pub const SLOT_ID: usize = 24;
    /// symbolId (startSymbolId in the C-plane).
    pub const SYMBOL_ID: usize = 25;
    /// Where the eCPRI common header starts.
    pub const ECPRI_OFFSET: Field = 26..28;
    /// Sections in the message.
    pub const SECTION_COUNT: Field = 28..30;
    /// Flags.
    pub const FLAGS: Field = 30..32;
    /// Start of section offset `i`.
    pub const fn section_offset(i: usize) -> Field {
        32 + 2 * i..34 + 2 * i
    }
}

/// Writes the region header (ABI.md §3) into the first 64 bytes of `region`.
pub fn write_header(region: &mut [u8]) {
    let h = &mut region[..HEADER_LEN];
    h.fill(0);
    h[field::H_MAGIC].copy_from_slice(&MAGIC.to_le_bytes());
    h[field::H_VERSION].copy_from_slice(&ABI_VERSION.to_le_bytes());
    h[field::H_MAX_IN].copy_from_slice(&(MAX_IN as u32).to_le_bytes());
    h[field::H_MAX_OUT].copy_from_slice(&(MAX_OUT as u32).to_le_bytes());
    h[field::H_SLOT_SIZE].copy_from_slice(&(SLOT_SIZE as u32).to_le_bytes());
    h[field::H_SLOT_STRIDE].copy_from_slice(&(SLOT_STRIDE as u32).to_le_bytes());
}

/// A zero-copy view of one 64-byte descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Descriptor<T: AsRef<[u8]>> {
    buffer: T,
}

/// A descriptor the host owns: a packet's metadata, ready to be copied
/// into a region in one go.
pub type DescriptorImage = Descriptor<[u8; DESC_LEN]>;

impl DescriptorImage {
    /// What every descriptor the host builds starts from: `capacity` is
    /// [`SLOT_SIZE`] and the verdict FORWARD, the rest 0. The host then
    /// only has to add `offset` and `len` when it fills the region.
    pub fn blank() -> DescriptorImage {
        let mut d = DescriptorImage::default();
        d.set_capacity(SLOT_SIZE as u32);
        d.set_verdict(verdict::FORWARD);
        d
    }

    /// The 64 bytes as an array (copies as a few vector moves).
    #[inline]
    pub fn as_array(&self) -> &[u8; DESC_LEN] {
        &self.buffer
    }

    /// Bytes 12–19 (verdict, direction, plane, msg_type, eaxc, vlan) as a
    /// little-endian u64, so that a chain selector is one masked compare.
    #[inline]
    pub fn flow_word(&self) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.buffer[field::VERDICT..field::VERDICT + 8]);
        u64::from_le_bytes(w)
    }
}

impl Default for DescriptorImage {
    fn default() -> Self {
        Descriptor { buffer: [0; DESC_LEN] }
    }
}

impl<T: AsRef<[u8]>> Descriptor<T> {
    /// Wraps `buffer`, which must be at least 64 bytes long.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= DESC_LEN).then_some(Descriptor { buffer })
    }

    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..DESC_LEN]
    }

    fn u16(&self, f: field::Field) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[f.start], b[f.start + 1]])
    }

    fn u32(&self, f: field::Field) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_le_bytes([b[f.start], b[f.start + 1], b[f.start + 2], b[f.start + 3]])
    }

    /// `offset`: the packet's address relative to `R`.
    pub fn offset(&self) -> u32 {
        self.u32(field::OFFSET)
    }
    /// `len`: packet length.
    pub fn len(&self) -> u32 {
        self.u32(field::LEN)
    }
    /// Whether `len` is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `capacity`.
    pub fn capacity(&self) -> u32 {
        self.u32(field::CAPACITY)
    }
    /// `verdict`.
    pub fn verdict(&self) -> u8 {
        self.buffer.as_ref()[field::VERDICT]
    }
    /// `direction`: 1 DL, 0 UL.
    pub fn direction(&self) -> u8 {
        self.buffer.as_ref()[field::DIRECTION]
    }
    /// `plane`: 0 U, 1 C, 2 other eCPRI.
    pub fn plane(&self) -> u8 {
        self.buffer.as_ref()[field::PLANE]
    }
    /// `msg_type`: the eCPRI message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::MSG_TYPE]
    }
    /// `eaxc`: ecpriPcid / ecpriRtcid, raw.
    pub fn eaxc(&self) -> u16 {
        self.u16(field::EAXC)
    }
    /// `vlan`: innermost VLAN ID, [`VLAN_NONE`] when untagged.
    pub fn vlan(&self) -> u16 {
        self.u16(field::VLAN)
    }
    /// `origin`: the input an extra belongs to.
    pub fn origin(&self) -> u16 {
        self.u16(field::ORIGIN)
    }
    /// frameId.
    pub fn frame_id(&self) -> u8 {
        self.buffer.as_ref()[field::FRAME_ID]
    }
    /// subframeId.
    pub fn subframe_id(&self) -> u8 {
        self.buffer.as_ref()[field::SUBFRAME_ID]
    }
    /// slotId.
    pub fn slot_id(&self) -> u8 {
        self.buffer.as_ref()[field::SLOT_ID]
    }
    /// symbolId (startSymbolId in the C-plane).
    pub fn symbol_id(&self) -> u8 {
        self.buffer.as_ref()[field::SYMBOL_ID]
    }
    /// Where the eCPRI common header starts in the packet.
    pub fn ecpri_offset(&self) -> u16 {
        self.u16(field::ECPRI_OFFSET)
    }
    /// Sections in the message.
    pub fn section_count(&self) -> u16 {
        self.u16(field::SECTION_COUNT)
    }
    /// Flags ([`flags`]).
    pub fn flags(&self) -> u16 {
        self.u16(field::FLAGS)
    }
    /// Start of section `i` (< 16) within the packet.
    pub fn section_offset(&self, i: usize) -> u16 {
        self.u16(field::section_offset(i))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Descriptor<T> {
    /// The 64 bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[..DESC_LEN]
    }

    fn set_u16(&mut self, f: field::Field, v: u16) {
        self.buffer.as_mut()[f].copy_from_slice(&v.to_le_bytes())
    }

    fn set_u32(&mut self, f: field::Field, v: u32) {
        self.buffer.as_mut()[f].copy_from_slice(&v.to_le_bytes())
    }

    /// Sets `offset`.
    pub fn set_offset(&mut self, v: u32) {
        self.set_u32(field::OFFSET, v)
    }
    /// Sets `len`.
    pub fn set_len(&mut self, v: u32) {
        self.set_u32(field::LEN, v)
    }
    /// Sets `capacity`.
    pub fn set_capacity(&mut self, v: u32) {
        self.set_u32(field::CAPACITY, v)
    }
    /// Sets `verdict`.
    pub fn set_verdict(&mut self, v: u8) {
        self.buffer.as_mut()[field::VERDICT] = v
    }
    /// Sets `direction`.
    pub fn set_direction(&mut self, v: u8) {
        self.buffer.as_mut()[field::DIRECTION] = v
    }
    /// Sets `plane`.
    pub fn set_plane(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLANE] = v
    }
    /// Sets `msg_type`.
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::MSG_TYPE] = v
    }
    /// Sets `eaxc`.
    pub fn set_eaxc(&mut self, v: u16) {
        self.set_u16(field::EAXC, v)
    }
    /// Sets `vlan`.
    pub fn set_vlan(&mut self, v: u16) {
        self.set_u16(field::VLAN, v)
    }
    /// Sets `origin`.
    pub fn set_origin(&mut self, v: u16) {
        self.set_u16(field::ORIGIN, v)
    }
    /// Sets frameId, subframeId, slotId and symbolId.
    pub fn set_timing(&mut self, frame: u8, subframe: u8, slot: u8, symbol: u8) {
        let b = self.buffer.as_mut();
        b[field::FRAME_ID] = frame;
        b[field::SUBFRAME_ID] = subframe;
        b[field::SLOT_ID] = slot;
        b[field::SYMBOL_ID] = symbol;
    }
    /// Sets `ecpri_offset`.
    pub fn set_ecpri_offset(&mut self, v: u16) {
        self.set_u16(field::ECPRI_OFFSET, v)
    }
    /// Sets `section_count`.
    pub fn set_section_count(&mut self, v: u16) {
        self.set_u16(field::SECTION_COUNT, v)
    }
    /// Sets `flags`.
    pub fn set_flags(&mut self, v: u16) {
        self.set_u16(field::FLAGS, v)
    }
    /// Sets the start of section `i` (< 16).
    pub fn set_section_offset(&mut self, i: usize, v: u16) {
        self.set_u16(field::section_offset(i), v)
    }
}

impl<T: AsRef<[u8]>> core::fmt::Debug for Descriptor<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Descriptor")
            .field("offset", &self.offset())
            .field("len", &self.len())
            .field("verdict", &self.verdict())
            .field("direction", &self.direction())
            .field("plane", &self.plane())
            .field("msg_type", &self.msg_type())
            .field("eaxc", &format_args!("{:#06x}", self.eaxc()))
            .field("vlan", &self.vlan())
            .field("timing", &(self.frame_id(), self.subframe_id(), self.slot_id(), self.symbol_id()))
            .field("ecpri_offset", &self.ecpri_offset())
            .field("section_count", &self.section_count())
            .field("flags", &self.flags())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_abi_md() {
        assert_eq!(slot_at(0), 8_256);
        assert_eq!(slot_at(1), 8_256 + 16_448);
        assert_eq!(slot_at(127) + SLOT_STRIDE, IO_REGION_SIZE);
        // Slots 0..64 start in 64 different cache lines of a 4 KiB page.
        let lines: std::collections::BTreeSet<usize> = (0..64).map(|i| slot_at(i) % 4096 / 64).collect();
        assert_eq!(lines.len(), 64);
        assert_eq!(desc_at(127) + DESC_LEN, SLOTS_AT);
        assert_eq!(field::section_offset(15).end, DESC_LEN);
    }

    #[test]
    fn descriptor_fields_round_trip() {
        let mut d = DescriptorImage::default();
        d.set_offset(8_256);
        d.set_len(1500);
        d.set_capacity(16_384);
        d.set_verdict(verdict::MODIFIED);
        d.set_direction(direction::DL);
        d.set_plane(plane::C);
        d.set_msg_type(2);
        d.set_eaxc(0x1234);
        d.set_vlan(VLAN_NONE);
        d.set_origin(7);
        d.set_timing(17, 3, 1, 2);
        d.set_ecpri_offset(14);
        d.set_section_count(2);
        d.set_flags(flags::UD_COMP_HDR);
        d.set_section_offset(15, 0xBEEF);
        let b = d.as_bytes();
        assert_eq!(&b[0..4], &[0x40, 0x20, 0, 0]);
        assert_eq!(&b[4..8], &[0xDC, 0x05, 0, 0]);
        assert_eq!(&b[12..16], &[2, 1, 1, 2]);
        assert_eq!(&b[16..20], &[0x34, 0x12, 0xFF, 0xFF]);
        assert_eq!(&b[20..26], &[7, 0, 17, 3, 1, 2]);
        assert_eq!(&b[62..64], &[0xEF, 0xBE]);
        assert_eq!((d.eaxc(), d.origin(), d.slot_id(), d.section_offset(15)), (0x1234, 7, 1, 0xBEEF));
    }

    #[test]
    fn header_is_written() {
        let mut r = vec![0xAAu8; 64];
        write_header(&mut r);
        assert_eq!(&r[..4], b"FHIO");
        assert_eq!(r[4], 2);
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), 64);
        assert_eq!(u32::from_le_bytes(r[16..20].try_into().unwrap()), 16_384);
        assert_eq!(u32::from_le_bytes(r[20..24].try_into().unwrap()), 16_448);
        assert!(r[24..].iter().all(|&b| b == 0));
    }
}
