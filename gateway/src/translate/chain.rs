//! Chains: translators run in order on one flow. A chain is selected by
//! direction, plane, eAxC pattern (value/mask) and VLAN; the first chain
//! whose selector matches a packet takes it for the whole burst.

use std::fmt;
use std::sync::Arc;

use super::abi::{field, plane, DescriptorImage};
use super::translator::TranslatorSpec;

/// Which packets a chain takes. `None` fields match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selector {
    /// 1 DL, 0 UL.
    pub direction: Option<u8>,
    /// 0 U, 1 C, 2 other eCPRI.
    pub plane: Option<u8>,
    /// eAxC pattern: `eaxc & mask == value` (mask 0: any).
    pub eaxc_value: u16,
    /// eAxC mask.
    pub eaxc_mask: u16,
    /// Innermost VLAN ID (0xFFFF: untagged).
    pub vlan: Option<u16>,
}

impl Selector {
    /// Every eCPRI packet.
    pub const ALL: Selector = Selector { direction: None, plane: None, eaxc_value: 0, eaxc_mask: 0, vlan: None };

    /// Whether the packet described by `d` belongs to the chain.
    #[inline]
    pub fn matches(&self, d: &DescriptorImage) -> bool {
        self.flow_mask().matches(d)
    }

    /// The selector as a mask and value over [`DescriptorImage::flow_word`]
    /// (direction in bits 8–15, plane 16–23, eAxC 32–47, VLAN 48–63).
    #[inline]
    pub fn flow_mask(&self) -> FlowMask {
        // Bit position of a descriptor field within the flow word.
        let at = |byte: usize| (byte - field::VERDICT) * 8;
        let (mut mask, mut value) = (0u64, 0u64);
        if let Some(d) = self.direction {
            mask |= 0xFF << at(field::DIRECTION);
            value |= (d as u64) << at(field::DIRECTION);
        }
        if let Some(p) = self.plane {
            mask |= 0xFF << at(field::PLANE);
            value |= (p as u64) << at(field::PLANE);
        }
        mask |= (self.eaxc_mask as u64) << at(field::EAXC.start);
        value |= ((self.eaxc_value & self.eaxc_mask) as u64) << at(field::EAXC.start);
        if let Some(v) = self.vlan {
            mask |= 0xFFFF << at(field::VLAN.start);
            value |= (v as u64) << at(field::VLAN.start);
        }
        FlowMask { mask, value }
    }

    /// Parses `dir=dl,plane=u,eaxc=0x1000/0xf000,vlan=2` (any subset; `eaxc=N` alone is an exact match).
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut sel = Selector::ALL;
        let num = |v: &str| -> Result<u16, String> {
            let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                Some(h) => u16::from_str_radix(h, 16),
                None => v.parse(),
            };
            r.map_err(|_| format!("`{v}` is not a 16-bit number"))
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| format!("`{item}` is not key=value"))?;
            match k.trim() {
                "dir" | "direction" => {
                    sel.direction = Some(match v {
                        "dl" => 1,
                        "ul" => 0,
                        _ => return Err(format!("direction `{v}`: expected dl or ul")),
                    })
                }
                "plane" => {
                    sel.plane = Some(match v {
                        "u" => plane::U,
                        "c" => plane::C,
                        "other" => plane::OTHER,
                        _ => return Err(format!("plane `{v}`: expected u, c or other")),
                    })
                }
                "eaxc" => {
                    let (val, mask) = match v.split_once('/') {
                        Some((a, m)) => (num(a)?, num(m)?),
                        None => (num(v)?, 0xFFFF),
                    };
                    sel.eaxc_value = val;
                    sel.eaxc_mask = mask;
                }
                "vlan" => sel.vlan = Some(if v == "none" { 0xFFFF } else { num(v)? }),
                _ => return Err(format!("unknown selector key `{k}` (dir, plane, eaxc, vlan)")),
            }
        }
        Ok(sel)
    }
}

/// A [`Selector`] compiled for the hot loop: whether a packet belongs to
/// the chain is one masked compare of its descriptor's flow word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowMask {
    mask: u64,
    value: u64,
}

impl FlowMask {
    /// Whether the packet described by `d` belongs to the chain.
    #[inline]
    pub fn matches(&self, d: &DescriptorImage) -> bool {
        self.matches_flow_word(d.flow_word())
    }

    /// The same for a descriptor's flow word.
    #[inline]
    pub fn matches_flow_word(&self, w: u64) -> bool {
        w & self.mask == self.value
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(d) = self.direction {
            parts.push(format!("dir={}", if d == 1 { "dl" } else { "ul" }));
        }
        if let Some(p) = self.plane {
            parts.push(format!("plane={}", ["u", "c", "other"].get(p as usize).unwrap_or(&"?")));
        }
        if self.eaxc_mask != 0 {
            parts.push(format!("eaxc={:#06x}/{:#06x}", self.eaxc_value, self.eaxc_mask));
        }
        if let Some(v) = self.vlan {
            parts.push(format!("vlan={v}"));
        }
        if parts.is_empty() {
            f.write_str("all")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// A chain as configured: its selector and its translators in order.
#[derive(Clone)]
pub struct ChainSpec {
    /// Which packets it takes.
    pub selector: Selector,
    /// The translators, run in this order.
    pub translators: Vec<Arc<TranslatorSpec>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(dir: u8, pl: u8, eaxc: u16, vlan: u16) -> DescriptorImage {
        let mut d = DescriptorImage::default();
        d.set_direction(dir);
        d.set_plane(pl);
        d.set_eaxc(eaxc);
        d.set_vlan(vlan);
        d
    }

    #[test]
    fn selectors_match_by_each_field() {
        let s = Selector::parse("dir=dl,plane=u,eaxc=0x1000/0xf000,vlan=2").unwrap();
        assert!(s.matches(&desc(1, 0, 0x1234, 2)));
        // The verdict and message type bytes share the flow word but never select.
        let mut d = desc(1, 0, 0x1234, 2);
        d.set_verdict(3);
        d.set_msg_type(7);
        assert!(s.matches(&d));
        assert!(!s.matches(&desc(0, 0, 0x1234, 2)));
        assert!(!s.matches(&desc(1, 1, 0x1234, 2)));
        assert!(!s.matches(&desc(1, 0, 0x2234, 2)));
        assert!(!s.matches(&desc(1, 0, 0x1234, 3)));
        assert_eq!(s.to_string(), "dir=dl,plane=u,eaxc=0x1000/0xf000,vlan=2");
        assert!(Selector::ALL.matches(&desc(0, 2, 7, 0xFFFF)));
        let exact = Selector::parse("eaxc=5,vlan=none").unwrap();
        assert!(exact.matches(&desc(0, 0, 5, 0xFFFF)) && !exact.matches(&desc(0, 0, 4, 0xFFFF)));
        assert!(Selector::parse("color=red").unwrap_err().contains("color"));
    }
}
