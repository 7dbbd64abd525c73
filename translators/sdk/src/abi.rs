//! The ABI v2 memory layout (translators/ABI.md §3): the I/O region, its
//! header and the 64-byte packet descriptors, as `#[repr(C)]` types.
//!
//! Integers in the region are little-endian; wasm32 and every native
//! target the SDK is tested on are little-endian, so fields are read as
//! plain struct fields.

#[cfg(target_endian = "big")]
compile_error!("the fhgate ABI is little-endian: the SDK reads descriptors as native structs");

/// The ABI version this SDK implements (`fhgate_abi_version`).
pub const ABI_VERSION: i32 = 2;
/// The region header's magic, "FHIO".
pub const MAGIC: u32 = 0x4F49_4846;
/// Most input descriptors per `fhgate_process` call (`max_in`).
pub const MAX_IN: usize = 64;
/// Most output descriptors per call (`max_out`).
pub const MAX_OUT: usize = 128;
/// Bytes of one packet slot (`slot_size`).
pub const SLOT_SIZE: usize = 16_384;
/// Distance between the starts of two slots (`slot_stride`): a cache line
/// more than a slot, so that slots do not all start in the same cache set.
pub const SLOT_STRIDE: usize = SLOT_SIZE + 64;
/// Bytes of the region header.
pub const HEADER_LEN: usize = 64;
/// Bytes of one descriptor.
pub const DESCRIPTOR_LEN: usize = 64;
/// Where descriptor 0 starts in the region.
pub const DESCRIPTORS_OFFSET: usize = HEADER_LEN;
/// Where slot 0 starts in the region (the data area).
pub const SLOTS_OFFSET: usize = DESCRIPTORS_OFFSET + MAX_OUT * DESCRIPTOR_LEN;
/// `IO_REGION_SIZE`: header, 128 descriptors and 128 slots.
pub const IO_REGION_SIZE: usize = SLOTS_OFFSET + MAX_OUT * SLOT_STRIDE;
/// `vlan` of an untagged packet.
pub const NO_VLAN: u16 = 0xFFFF;

/// Offset of slot `i` from the start of the region.
pub const fn slot_offset(i: usize) -> usize {
    SLOTS_OFFSET + i * SLOT_STRIDE
}

/// Byte offsets of the region header's fields.
pub mod header {
    /// u32 magic, [`super::MAGIC`].
    pub const MAGIC: usize = 0;
    /// u32 ABI version.
    pub const VERSION: usize = 4;
    /// u32 `max_in`.
    pub const MAX_IN: usize = 8;
    /// u32 `max_out`.
    pub const MAX_OUT: usize = 12;
    /// u32 `slot_size`.
    pub const SLOT_SIZE: usize = 16;
    /// u32 `slot_stride`.
    pub const SLOT_STRIDE: usize = 20;
}

/// Descriptor `verdict` values.
pub mod verdict {
    /// Send the input unchanged.
    pub const FORWARD: u8 = 0;
    /// Send nothing for this input.
    pub const DROP: u8 = 1;
    /// Send `len` bytes from `offset`.
    pub const MODIFIED: u8 = 2;
    /// An additional packet produced from input `origin`.
    pub const EXTRA: u8 = 3;
}

/// Descriptor `plane` values.
pub mod plane {
    /// O-RAN U-plane (eCPRI type 0).
    pub const U: u8 = 0;
    /// O-RAN C-plane (eCPRI type 2).
    pub const C: u8 = 1;
    /// Any other eCPRI message.
    pub const OTHER: u8 = 2;
}

/// Descriptor `flags` bits.
pub mod flags {
    /// U-plane sections carry udCompHdr.
    pub const UD_COMP_HDR: u16 = 1 << 0;
    /// The message has more than 16 sections (only 16 offsets are given).
    pub const MORE_SECTIONS: u16 = 1 << 1;
}

/// One packet descriptor, exactly as in ABI.md §3.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    /// The packet's address relative to the region.
    pub offset: u32,
    /// Packet length in bytes.
    pub len: u32,
    /// Bytes available at `offset`.
    pub capacity: u32,
    /// One of [`verdict`].
    pub verdict: u8,
    /// 1 DL (DU→RU), 0 UL (RU→DU).
    pub direction: u8,
    /// One of [`plane`].
    pub plane: u8,
    /// eCPRI message type.
    pub msg_type: u8,
    /// ecpriPcid / ecpriRtcid, raw.
    pub eaxc: u16,
    /// Innermost VLAN ID, [`NO_VLAN`] when untagged.
    pub vlan: u16,
    /// For an extra output, the input it belongs to.
    pub origin: u16,
    /// frameId.
    pub frame_id: u8,
    /// subframeId.
    pub subframe_id: u8,
    /// slotId.
    pub slot_id: u8,
    /// symbolId (startSymbolId in the C-plane).
    pub symbol_id: u8,
    /// Where the eCPRI common header starts in the packet.
    pub ecpri_offset: u16,
    /// Sections in the message.
    pub section_count: u16,
    /// [`flags`] bits.
    pub flags: u16,
    /// Start of each of the first 16 sections within the packet.
    pub section_offsets: [u16; 16],
}

impl Descriptor {
    /// An all-zero descriptor.
    pub const ZERO: Descriptor = Descriptor {
        offset: 0,
        len: 0,
        capacity: 0,
        verdict: 0,
        direction: 0,
        plane: 0,
        msg_type: 0,
        eaxc: 0,
        vlan: 0,
        origin: 0,
        frame_id: 0,
        subframe_id: 0,
        slot_id: 0,
        symbol_id: 0,
        ecpri_offset: 0,
        section_count: 0,
        flags: 0,
        section_offsets: [0; 16],
    };
}

/// The whole I/O region, 8-byte aligned.
#[repr(C, align(8))]
pub struct IoRegion {
    /// The header, written by the host.
    pub header: [u8; HEADER_LEN],
    /// Descriptors 0–127.
    pub descriptors: [Descriptor; MAX_OUT],
    /// Packet slots 0–127.
    pub slots: [Slot; MAX_OUT],
}

/// One packet slot and the gap that makes its stride [`SLOT_STRIDE`].
#[repr(C)]
pub struct Slot {
    /// The packet's bytes.
    pub bytes: [u8; SLOT_SIZE],
    gap: [u8; SLOT_STRIDE - SLOT_SIZE],
}

impl Slot {
    /// An all-zero slot.
    pub const ZERO: Slot = Slot { bytes: [0; SLOT_SIZE], gap: [0; SLOT_STRIDE - SLOT_SIZE] };
}

impl IoRegion {
    /// An all-zero region (what a fresh instance's memory holds).
    pub const ZERO: IoRegion = IoRegion {
        header: [0; HEADER_LEN],
        descriptors: [Descriptor::ZERO; MAX_OUT],
        slots: [Slot::ZERO; MAX_OUT],
    };

    /// Writes the header fields the host writes before init.
    pub fn write_header(&mut self) {
        let h = &mut self.header;
        h.fill(0);
        h[header::MAGIC..header::MAGIC + 4].copy_from_slice(&MAGIC.to_le_bytes());
        h[header::VERSION..header::VERSION + 4].copy_from_slice(&(ABI_VERSION as u32).to_le_bytes());
        h[header::MAX_IN..header::MAX_IN + 4].copy_from_slice(&(MAX_IN as u32).to_le_bytes());
        h[header::MAX_OUT..header::MAX_OUT + 4].copy_from_slice(&(MAX_OUT as u32).to_le_bytes());
        h[header::SLOT_SIZE..header::SLOT_SIZE + 4].copy_from_slice(&(SLOT_SIZE as u32).to_le_bytes());
        h[header::SLOT_STRIDE..header::SLOT_STRIDE + 4].copy_from_slice(&(SLOT_STRIDE as u32).to_le_bytes());
    }
}

const _: () = {
    assert!(core::mem::size_of::<Descriptor>() == DESCRIPTOR_LEN);
    assert!(core::mem::size_of::<IoRegion>() == IO_REGION_SIZE);
    assert!(IO_REGION_SIZE == 2_113_600);
    assert!(core::mem::size_of::<Slot>() == SLOT_STRIDE);
    assert!(core::mem::offset_of!(IoRegion, descriptors) == DESCRIPTORS_OFFSET);
    assert!(core::mem::offset_of!(IoRegion, slots) == SLOTS_OFFSET);
    assert!(core::mem::offset_of!(Descriptor, verdict) == 12);
    assert!(core::mem::offset_of!(Descriptor, eaxc) == 16);
    assert!(core::mem::offset_of!(Descriptor, origin) == 20);
    assert!(core::mem::offset_of!(Descriptor, frame_id) == 22);
    assert!(core::mem::offset_of!(Descriptor, ecpri_offset) == 26);
    assert!(core::mem::offset_of!(Descriptor, flags) == 30);
    assert!(core::mem::offset_of!(Descriptor, section_offsets) == 32);
};
