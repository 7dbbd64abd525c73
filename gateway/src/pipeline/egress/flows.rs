//! Per-flow U-plane compression at egress: flows whose format differs
//! from their direction's (a PRACH or SRS eAxC with its own compression,
//! or the flows a chain limited to some eAxCs converts) are read with
//! their own. A small fixed table built at start; a lookup is a scan of
//! its few entries, with no allocation or lock, and none at all while the
//! table is empty.

use std::fmt;

use ecpri::UdCompHdr;

/// Most entries one table holds (PRACH and SRS eAxCs, chain selectors).
pub const MAX_FLOW_FORMATS: usize = 32;

/// One entry: the U-plane flows it matches and their compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowFormat {
    /// dataDirection (1 DL, 0 UL); `None` matches both.
    pub data_direction: Option<u8>,
    /// eAxC pattern: `eaxc & eaxc_mask == eaxc_value` (mask 0xFFFF: one eAxC).
    pub eaxc_value: u16,
    /// eAxC mask.
    pub eaxc_mask: u16,
    /// Innermost VLAN ID (0xFFFF untagged); `None` matches any.
    pub vlan: Option<u16>,
    /// The flows' compression (udCompHdr, or the static one).
    pub comp: UdCompHdr,
}

impl FlowFormat {
    /// Whether a message of `data_direction`, `eaxc` and `vlan` is one of these flows.
    #[inline]
    pub fn matches(&self, data_direction: u8, eaxc: u16, vlan: u16) -> bool {
        self.data_direction.is_none_or(|d| d == data_direction) && eaxc & self.eaxc_mask == self.eaxc_value & self.eaxc_mask && self.vlan.is_none_or(|v| v == vlan)
    }
}

impl fmt::Display for FlowFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.data_direction {
            Some(1) => "DL",
            Some(_) => "UL",
            None => "DL/UL",
        };
        write!(f, "{dir} U-plane eAxC {:#06x}", self.eaxc_value)?;
        if self.eaxc_mask != 0xFFFF {
            write!(f, "/{:#06x}", self.eaxc_mask)?;
        }
        if let Some(v) = self.vlan {
            write!(f, " VLAN {v}")?;
        }
        write!(f, ": {}", self.comp)
    }
}

/// The table is full: more flows differ than egress can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowFormatsFull;

impl fmt::Display for FlowFormatsFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_FLOW_FORMATS} U-plane flows need a format of their own at egress")
    }
}

impl std::error::Error for FlowFormatsFull {}

/// Per-flow compression, first match wins; a flow no entry matches takes
/// its direction's ([`super::EgressConfig::decode`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FlowFormats {
    len: usize,
    entries: [FlowFormat; MAX_FLOW_FORMATS],
}

impl Default for FlowFormats {
    fn default() -> Self {
        Self::NONE
    }
}

impl fmt::Debug for FlowFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

const UNUSED: FlowFormat = FlowFormat { data_direction: None, eaxc_value: 0, eaxc_mask: 0, vlan: None, comp: UdCompHdr::UNCOMPRESSED };

impl FlowFormats {
    /// No entry: every flow reads with its direction's format.
    pub const NONE: FlowFormats = FlowFormats { len: 0, entries: [UNUSED; MAX_FLOW_FORMATS] };

    /// Appends an entry (after the ones it must not shadow).
    pub fn push(&mut self, f: FlowFormat) -> Result<(), FlowFormatsFull> {
        if self.len == MAX_FLOW_FORMATS {
            return Err(FlowFormatsFull);
        }
        self.entries[self.len] = f;
        self.len += 1;
        Ok(())
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &FlowFormat> {
        self.entries[..self.len].iter()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The compression of the flow, if an entry gives one.
    #[inline]
    pub fn lookup(&self, data_direction: u8, eaxc: u16, vlan: u16) -> Option<UdCompHdr> {
        self.entries[..self.len].iter().find(|f| f.matches(data_direction, eaxc, vlan)).map(|f| f.comp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_a_full_table_says_so() {
        let c = |s| UdCompHdr::from_spec(s).unwrap();
        let mut t = FlowFormats::NONE;
        assert_eq!(t.lookup(0, 4, 0xFFFF), None);
        t.push(FlowFormat { data_direction: Some(0), eaxc_value: 4, eaxc_mask: 0xFFFF, vlan: None, comp: c("bfp:14") }).unwrap();
        t.push(FlowFormat { data_direction: None, eaxc_value: 0, eaxc_mask: 0xFFF0, vlan: Some(5), comp: c("bfp:12") }).unwrap();
        assert_eq!(t.lookup(0, 4, 5), Some(c("bfp:14")));
        assert_eq!(t.lookup(1, 4, 5), Some(c("bfp:12")), "another direction falls through to the next");
        assert_eq!(t.lookup(1, 4, 6), None, "another VLAN");
        assert_eq!(t.lookup(0, 0x14, 5), None, "outside the mask");
        while t.push(t.entries[0]).is_ok() {}
        assert_eq!(t.iter().count(), MAX_FLOW_FORMATS);
        assert_eq!(t.push(t.entries[0]), Err(FlowFormatsFull));
    }
}
