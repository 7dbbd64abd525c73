//! Per-flow ecpriSeqid offsets for egress renumbering: a fixed-capacity
//! open-addressing table keyed by [`FlowKey`], sized once at construction
//! so that a lookup never allocates.

use crate::classify::FlowKey;

/// Whether egress rewrites ecpriSeqid (O-RAN's sequence ID, the first byte
/// of ecpriSeqid; E bit 1 and subsequence ID 0 on whole messages).
///
/// - `Always`: sequence IDs pass as the sender numbered them until egress
///   splits a message of the flow; a message split into k pieces numbers
///   them ID, ID+1, ..., ID+k-1, and every later message of the flow moves
///   by the k-1 packets added. So the receiver sees the sender's own IDs
///   where nothing split, and IDs that run on without gaps or repeats
///   where something did. The default.
/// - `Off`: sequence IDs pass as they arrive (pieces of a split message
///   repeat its ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeqIdMode {
    /// Shift a flow's IDs by the packets egress splits added to it.
    #[default]
    Always,
    /// Leave ecpriSeqid as it is.
    Off,
}

impl SeqIdMode {
    /// Parses `always` or `off` (the config file's and CLI's spelling).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "always" => Some(SeqIdMode::Always),
            "off" => Some(SeqIdMode::Off),
            _ => None,
        }
    }

    /// The mode a pipeline needs: `Always` when packet counts can change
    /// on the way (egress may split, or a translator may drop or add
    /// packets), `Off` when every packet leaves as one packet.
    pub fn for_pipeline(may_split: bool, counts_may_change: bool) -> Self {
        if may_split || counts_may_change {
            SeqIdMode::Always
        } else {
            SeqIdMode::Off
        }
    }
}

/// A slot key that no flow packs to (the marker bit is always set).
const EMPTY: u64 = 0;

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    offset: u8,
}

/// How far each flow's sequence IDs are moved, for up to `max_flows` flows.
///
/// Linear probing over a power-of-two table at most half full; flows are
/// never removed (a flow is an eAxC on a VLAN in one direction and plane,
/// a set fixed by configuration). When the table is full, new flows are
/// refused and the caller counts them.
#[derive(Debug, Clone)]
pub struct FlowSeqTable {
    slots: Box<[Slot]>,
    mask: usize,
    len: usize,
    max: usize,
}

impl FlowSeqTable {
    /// A table for `max_flows` flows (allocates now, never again).
    pub fn with_capacity(max_flows: usize) -> Self {
        let max = max_flows.max(1);
        let n = (max * 2).next_power_of_two();
        FlowSeqTable { slots: vec![Slot { key: EMPTY, offset: 0 }; n].into_boxed_slice(), mask: n - 1, len: 0, max }
    }

    fn pack(k: FlowKey) -> u64 {
        1 << 63 | ((k.direction as u64 & 1) << 40) | ((k.plane as u64) << 32) | ((k.vlan as u64) << 16) | k.eaxc as u64
    }

    fn slot_of(&self, key: u64) -> usize {
        // Fibonacci hashing: the top bits of key × 2^64/φ.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 32) as usize & self.mask
    }

    /// The flow's offset (added to every sequence ID it sends), made 0 on
    /// first sight. `None` when the table is full.
    #[inline]
    pub fn offset(&mut self, flow: FlowKey) -> Option<&mut u8> {
        let key = Self::pack(flow);
        let mut i = self.slot_of(key);
        loop {
            if self.slots[i].key == key {
                return Some(&mut self.slots[i].offset);
            }
            if self.slots[i].key == EMPTY {
                if self.len >= self.max {
                    return None;
                }
                self.len += 1;
                self.slots[i] = Slot { key, offset: 0 };
                return Some(&mut self.slots[i].offset);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Flows tracked.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no flow is tracked yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most flows the table tracks.
    pub fn capacity(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(eaxc: u16, vlan: u16) -> FlowKey {
        FlowKey { direction: 1, plane: 0, eaxc, vlan }
    }

    #[test]
    fn offsets_are_per_flow_and_wrap() {
        let mut t = FlowSeqTable::with_capacity(4);
        assert_eq!(t.offset(key(1, 5)).copied(), Some(0), "a new flow starts unmoved");
        for _ in 0..300 {
            *t.offset(key(1, 5)).unwrap() = t.offset(key(1, 5)).copied().unwrap().wrapping_add(1);
        }
        assert_eq!(t.offset(key(1, 5)).copied(), Some(300u32 as u8), "wraps at 256");
        assert_eq!(t.offset(key(2, 5)).copied(), Some(0));
        // Direction, plane and VLAN each make another flow.
        assert_eq!(t.offset(FlowKey { direction: 0, ..key(1, 5) }).copied(), Some(0));
        assert_eq!(t.offset(FlowKey { plane: 1, ..key(1, 5) }).copied(), Some(0));
        assert_eq!(t.len(), 4);
        assert_eq!(t.offset(key(1, 6)), None, "full: refused, not grown");
        assert_eq!(t.offset(key(1, 5)).copied(), Some(300u32 as u8), "known flows still count");
    }

    #[test]
    fn many_flows_with_colliding_hashes() {
        let mut t = FlowSeqTable::with_capacity(4096);
        for round in 0..3u8 {
            for e in 0..4096u16 {
                let o = t.offset(key(e, 0xFFFF)).unwrap();
                assert_eq!(*o, round, "eAxC {e}");
                *o += 1;
            }
        }
        assert_eq!(t.len(), 4096);
    }

    #[test]
    fn modes() {
        assert_eq!(SeqIdMode::default(), SeqIdMode::Always);
        assert_eq!(SeqIdMode::from_name("off"), Some(SeqIdMode::Off));
        assert_eq!(SeqIdMode::from_name("sometimes"), None);
        assert_eq!(SeqIdMode::for_pipeline(false, false), SeqIdMode::Off);
        assert_eq!(SeqIdMode::for_pipeline(true, false), SeqIdMode::Always);
        assert_eq!(SeqIdMode::for_pipeline(false, true), SeqIdMode::Always);
    }
}
