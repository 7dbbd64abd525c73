//! [`Packet`]: one input packet of a burst, with its descriptor's
//! metadata, its bytes (editable within the slot's capacity) and the
//! extra outputs produced from it.
//!
//! Layer-aware helpers (eCPRI messages, IP/UDP lengths, VLAN tags) are in
//! [`crate::frame`]; they are methods of `Packet` too.

use crate::abi::{self, flags, plane, Descriptor, Slot, SLOT_SIZE};
use crate::error::Error;
use crate::flow::FlowKey;

/// The descriptor's `plane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plane {
    /// O-RAN U-plane (eCPRI type 0).
    U,
    /// O-RAN C-plane (eCPRI type 2).
    C,
    /// Any other eCPRI message (delay measurement, vendor types, ...).
    Other,
}

/// The descriptor's `direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Downlink, DU → RU (1).
    Dl,
    /// Uplink, RU → DU (0).
    Ul,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Send the packet. If it was edited, the edited bytes are sent
    /// (the SDK reports `MODIFIED` to the host for an edited packet).
    Forward,
    /// Send nothing for this input (its extras are still sent).
    Drop,
    /// Send the packet as edited (`len` bytes).
    Modified,
}

/// One input packet and the room for extra outputs after it.
pub struct Packet<'a> {
    desc: &'a mut Descriptor,
    slot: &'a mut [u8; SLOT_SIZE],
    scratch: &'a mut [u8; SLOT_SIZE],
    extra_descs: &'a mut [Descriptor],
    extra_slots: &'a mut [Slot],
    extra_base: usize,
    extras: usize,
    index: usize,
    pub(crate) len: usize,
    cap: usize,
    pub(crate) ecpri_offset: usize,
    dirty: bool,
    /// `Some(len)` when `scratch` holds the input exactly as received.
    original: Option<usize>,
}

impl core::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Packet")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("descriptor", &*self.desc)
            .field("extras", &self.extras)
            .finish()
    }
}

impl<'a> Packet<'a> {
    /// Wraps input `index`. The caller has checked that `desc.len <=
    /// desc.capacity <= SLOT_SIZE` and that `extra_descs` and
    /// `extra_slots` are the free descriptors from `extra_base` on.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        desc: &'a mut Descriptor,
        slot: &'a mut [u8; SLOT_SIZE],
        scratch: &'a mut [u8; SLOT_SIZE],
        extra_base: usize,
        extra_descs: &'a mut [Descriptor],
        extra_slots: &'a mut [Slot],
    ) -> Self {
        let len = desc.len as usize;
        let cap = desc.capacity as usize;
        let ecpri_offset = desc.ecpri_offset as usize;
        Packet {
            desc,
            slot,
            scratch,
            extra_descs,
            extra_slots,
            extra_base,
            extras: 0,
            index,
            len,
            cap,
            ecpri_offset,
            dirty: false,
            original: None,
        }
    }

    // --- Descriptor metadata (as the host classified the input) ---

    /// The input's index in the burst (its descriptor number).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The descriptor as the host filled it.
    pub fn descriptor(&self) -> &Descriptor {
        self.desc
    }

    /// U-plane, C-plane or other eCPRI.
    pub fn plane(&self) -> Plane {
        match self.desc.plane {
            plane::U => Plane::U,
            plane::C => Plane::C,
            _ => Plane::Other,
        }
    }

    /// DL (DU → RU) or UL (RU → DU).
    pub fn direction(&self) -> Direction {
        if self.desc.direction == 1 {
            Direction::Dl
        } else {
            Direction::Ul
        }
    }

    /// The eCPRI message type of the (first) message.
    pub fn msg_type(&self) -> u8 {
        self.desc.msg_type
    }

    /// The raw eAxC ID (ecpriPcid / ecpriRtcid) of the first message.
    pub fn eaxc(&self) -> u16 {
        self.desc.eaxc
    }

    /// The innermost VLAN ID, if tagged.
    pub fn vlan(&self) -> Option<u16> {
        (self.desc.vlan != abi::NO_VLAN).then_some(self.desc.vlan)
    }

    /// frameId.
    pub fn frame_id(&self) -> u8 {
        self.desc.frame_id
    }

    /// subframeId.
    pub fn subframe_id(&self) -> u8 {
        self.desc.subframe_id
    }

    /// slotId.
    pub fn slot_id(&self) -> u8 {
        self.desc.slot_id
    }

    /// symbolId (startSymbolId in the C-plane).
    pub fn symbol_id(&self) -> u8 {
        self.desc.symbol_id
    }

    /// Sections in the (first) message.
    pub fn section_count(&self) -> usize {
        self.desc.section_count as usize
    }

    /// Where the first sections start in the packet as received (at most 16).
    pub fn section_offsets(&self) -> &[u16] {
        &self.desc.section_offsets[..self.section_count().min(16)]
    }

    /// Whether the message has more sections than [`Packet::section_offsets`] lists.
    pub fn has_more_sections(&self) -> bool {
        self.desc.flags & flags::MORE_SECTIONS != 0
    }

    /// Whether U-plane sections carry udCompHdr (the host's decision for this flow).
    pub fn ud_comp_hdr_present(&self) -> bool {
        self.desc.flags & flags::UD_COMP_HDR != 0
    }

    /// The flow this packet belongs to, for [`crate::FlowTable`].
    pub fn flow_key(&self) -> FlowKey {
        FlowKey { plane: self.desc.plane, direction: self.desc.direction, vlan: self.desc.vlan, eaxc: self.desc.eaxc }
    }

    // --- Bytes ---

    /// Packet length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the packet is empty (never, for a valid input).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes available in the slot (the packet may grow to this).
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The packet.
    pub fn bytes(&self) -> &[u8] {
        &self.slot[..self.len]
    }

    /// The packet, for editing in place.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.dirty = true;
        &mut self.slot[..self.len]
    }

    /// Whether anything has been edited.
    pub fn is_modified(&self) -> bool {
        self.dirty
    }

    /// Sets the length (1 to capacity); bytes gained are zero.
    pub fn set_len(&mut self, len: usize) -> Result<(), Error> {
        if len == 0 {
            return Err(Error::Invalid("a packet cannot be empty: return Verdict::Drop instead"));
        }
        if len > self.cap {
            return Err(Error::Capacity { needed: len, capacity: self.cap });
        }
        if len > self.len {
            self.slot[self.len..len].fill(0);
        }
        self.len = len;
        self.dirty = true;
        Ok(())
    }

    /// Replaces `remove` bytes at `at` by `insert` zero bytes, moving what
    /// follows. The eCPRI offset follows edits made in front of it.
    pub fn splice(&mut self, at: usize, remove: usize, insert: usize) -> Result<(), Error> {
        let old = self.len;
        if at > old || remove > old - at {
            return Err(Error::Invalid("splice range beyond the packet"));
        }
        let new = old - remove + insert;
        if new > self.cap {
            return Err(Error::Capacity { needed: new, capacity: self.cap });
        }
        if new == 0 {
            return Err(Error::Invalid("a packet cannot be empty: return Verdict::Drop instead"));
        }
        if at < self.ecpri_offset && at + remove > self.ecpri_offset {
            return Err(Error::Invalid("splice crosses the start of the eCPRI message"));
        }
        self.slot.copy_within(at + remove..old, at + insert);
        self.slot[at..at + insert].fill(0);
        if at < self.ecpri_offset && at + remove <= self.ecpri_offset {
            self.ecpri_offset = self.ecpri_offset - remove + insert;
        }
        self.len = new;
        self.dirty = true;
        Ok(())
    }

    /// Rebuilds the packet: `f` reads the packet as it is now (`src`) and
    /// writes the new one into `dst` (the whole slot, `capacity` bytes),
    /// returning its length. On error the packet is left as it was.
    pub fn rebuild<F>(&mut self, f: F) -> Result<(), Error>
    where
        F: FnOnce(&[u8], &mut [u8]) -> Result<usize, Error>,
    {
        let len = self.len;
        self.scratch[..len].copy_from_slice(&self.slot[..len]);
        self.original = if self.dirty { None } else { Some(len) };
        let cap = self.cap;
        match f(&self.scratch[..len], &mut self.slot[..cap]) {
            Ok(n) if (1..=cap).contains(&n) => {
                self.len = n;
                self.dirty = true;
                Ok(())
            }
            r => {
                self.slot[..len].copy_from_slice(&self.scratch[..len]);
                match r {
                    Err(e) => Err(e),
                    Ok(0) => Err(Error::Invalid("a packet cannot be empty: return Verdict::Drop instead")),
                    Ok(n) => Err(Error::Capacity { needed: n, capacity: cap }),
                }
            }
        }
    }

    /// Puts the input back as received, if it can; `false` when it was
    /// edited and no copy of the original exists.
    pub(crate) fn restore_original(&mut self) -> bool {
        if !self.dirty {
            return true;
        }
        match self.original {
            Some(len) => {
                self.slot[..len].copy_from_slice(&self.scratch[..len]);
                self.len = len;
                self.ecpri_offset = self.desc.ecpri_offset as usize;
                self.dirty = false;
                true
            }
            None => false,
        }
    }

    /// The whole slot, for the runtime's checksum pass.
    pub(crate) fn slot_mut(&mut self) -> &mut [u8] {
        &mut self.slot[..self.len]
    }

    // --- Extra outputs ---

    /// Extra outputs produced from this input so far.
    pub fn extras(&self) -> usize {
        self.extras
    }

    /// Extra outputs still possible in this burst (ABI `max_out`).
    pub fn extras_left(&self) -> usize {
        self.extra_descs.len().min(self.extra_slots.len()) - self.extras
    }

    fn new_extra(&mut self, len: usize) -> Result<&mut [u8], Error> {
        if len == 0 || len > SLOT_SIZE {
            return Err(Error::Capacity { needed: len, capacity: SLOT_SIZE });
        }
        let k = self.extras;
        if k >= self.extra_descs.len() || k >= self.extra_slots.len() {
            return Err(Error::TooManyExtras);
        }
        let d = &mut self.extra_descs[k];
        *d = *self.desc;
        d.offset = abi::slot_offset(self.extra_base + k) as u32;
        d.len = len as u32;
        d.capacity = SLOT_SIZE as u32;
        d.verdict = abi::verdict::EXTRA;
        d.origin = self.index as u16;
        self.extras += 1;
        Ok(&mut self.extra_slots[k].bytes[..len])
    }

    /// Emits an extra output holding `bytes`, sent right after this input
    /// (and its earlier extras); returns it for further edits.
    pub fn emit_extra(&mut self, bytes: &[u8]) -> Result<&mut [u8], Error> {
        let out = self.new_extra(bytes.len())?;
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Emits an extra output that is a copy of this packet as it is now.
    pub fn emit_extra_copy(&mut self) -> Result<&mut [u8], Error> {
        let len = self.len;
        let k = self.extras;
        let src: &[u8] = &self.slot[..len];
        if k < self.extra_slots.len() {
            self.extra_slots[k].bytes[..len].copy_from_slice(src);
        }
        let out = self.new_extra(len)?;
        Ok(out)
    }

    /// Writes the final verdict and length into the descriptor.
    pub(crate) fn finish(&mut self, verdict: Verdict) {
        use abi::verdict::*;
        self.desc.verdict = match verdict {
            Verdict::Drop => DROP,
            Verdict::Forward if !self.dirty => FORWARD,
            Verdict::Forward | Verdict::Modified => MODIFIED,
        };
        self.desc.len = self.len as u32;
    }
}
