//! udCompHdr (user data compression header) and the compression methods
//! it names. The same byte appears in U-plane sections and in the
//! C-plane common header of section types 1, 3 and 5, so it is written once
//! here.

use crate::{Error, Result};

/// udCompMeth: how IQ samples of a PRB are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompMethod {
    /// 0: no compression.
    None,
    /// 1: block floating point (udCompParam = exponent).
    Bfp,
    /// 2: block scaling (udCompParam = sblockScaler).
    BlockScaling,
    /// 3: µ-law (udCompParam = compBitWidth, compShift).
    MuLaw,
    /// 4: modulation compression (parameters travel in C-plane ext 4/5).
    ModComp,
    /// 5: BFP with selective RE sending.
    BfpSelectiveRe,
    /// 6: modulation compression with selective RE sending.
    ModCompSelectiveRe,
    /// 7–15: reserved; kept so the byte round-trips.
    Reserved(u8),
}

impl CompMethod {
    /// Decodes the 4-bit udCompMeth.
    pub const fn from_bits(v: u8) -> Self {
        match v & 0xF {
            0 => CompMethod::None,
            1 => CompMethod::Bfp,
            2 => CompMethod::BlockScaling,
            3 => CompMethod::MuLaw,
            4 => CompMethod::ModComp,
            5 => CompMethod::BfpSelectiveRe,
            6 => CompMethod::ModCompSelectiveRe,
            n => CompMethod::Reserved(n),
        }
    }

    /// Encodes as the 4-bit udCompMeth.
    pub const fn bits(self) -> u8 {
        match self {
            CompMethod::None => 0,
            CompMethod::Bfp => 1,
            CompMethod::BlockScaling => 2,
            CompMethod::MuLaw => 3,
            CompMethod::ModComp => 4,
            CompMethod::BfpSelectiveRe => 5,
            CompMethod::ModCompSelectiveRe => 6,
            CompMethod::Reserved(n) => n & 0xF,
        }
    }

    /// Bytes of udCompParam in front of each PRB, if this method's layout
    /// is known from the U-plane alone.
    pub const fn param_len(self) -> Option<usize> {
        match self {
            CompMethod::None | CompMethod::ModComp => Some(0),
            CompMethod::Bfp | CompMethod::BlockScaling | CompMethod::MuLaw => Some(1),
            // Selective RE sending depends on C-plane reMasks: not walkable alone.
            CompMethod::BfpSelectiveRe | CompMethod::ModCompSelectiveRe | CompMethod::Reserved(_) => None,
        }
    }

    /// The name used in text output and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            CompMethod::None => "none",
            CompMethod::Bfp => "bfp",
            CompMethod::BlockScaling => "block-scaling",
            CompMethod::MuLaw => "mu-law",
            CompMethod::ModComp => "modcomp",
            CompMethod::BfpSelectiveRe => "bfp-selective-re",
            CompMethod::ModCompSelectiveRe => "modcomp-selective-re",
            CompMethod::Reserved(_) => "reserved",
        }
    }

    /// Parses a command-line name (`none`, `bfp`, `block-scaling`, `mu-law`, `modcomp`).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "none" => CompMethod::None,
            "bfp" => CompMethod::Bfp,
            "block-scaling" | "bsc" => CompMethod::BlockScaling,
            "mu-law" | "mulaw" => CompMethod::MuLaw,
            "modcomp" => CompMethod::ModComp,
            _ => return None,
        })
    }
}

/// udCompHdr: udIqWidth (4 bits, 0 meaning 16) and udCompMeth (4 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdCompHdr {
    /// IQ sample width in bits, 1–16.
    pub iq_width: u8,
    /// Compression method.
    pub comp_meth: CompMethod,
}

impl UdCompHdr {
    /// No compression, 16-bit I and Q: what a missing udCompHdr means by default.
    pub const UNCOMPRESSED: UdCompHdr = UdCompHdr { iq_width: 16, comp_meth: CompMethod::None };

    /// A header for `comp_meth` at `iq_width` bits.
    pub const fn new(comp_meth: CompMethod, iq_width: u8) -> Self {
        UdCompHdr { iq_width, comp_meth }
    }

    /// Decodes the byte.
    pub const fn from_byte(b: u8) -> Self {
        let w = b >> 4;
        UdCompHdr { iq_width: if w == 0 { 16 } else { w }, comp_meth: CompMethod::from_bits(b & 0xF) }
    }

    /// Encodes the byte (width 16 is written as 0).
    pub const fn to_byte(self) -> u8 {
        ((self.iq_width & 0xF) << 4) | self.comp_meth.bits()
    }

    /// Bytes one PRB occupies on the wire (udCompParam plus 12 REs of I and Q),
    /// or an error naming udCompMeth when the layout is not walkable.
    #[inline]
    pub fn prb_len(self) -> Result<usize> {
        match self.comp_meth.param_len() {
            Some(p) if (1..=16).contains(&self.iq_width) => Ok(p + 3 * self.iq_width as usize),
            Some(_) => Err(Error::ReservedValue {
                field: "oran_fh_cus.udCompHdrWidth",
                offset: 0,
                value: self.iq_width as u32,
            }),
            None => Err(Error::Unsupported {
                field: "oran_fh_cus.udCompHdrMeth",
                offset: 0,
                value: self.comp_meth.bits() as u32,
            }),
        }
    }

    /// Parses `METHOD:WIDTH` as used by `--dl-comp bfp:9`.
    pub fn from_spec(s: &str) -> Option<Self> {
        let (m, w) = s.split_once(':')?;
        let meth = CompMethod::from_name(m)?;
        let w: u8 = w.parse().ok()?;
        if !(1..=16).contains(&w) {
            return None;
        }
        Some(UdCompHdr::new(meth, w))
    }
}

impl core::fmt::Display for UdCompHdr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.comp_meth.name(), self.iq_width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(UdCompHdr::from_byte(b).to_byte(), b);
        }
    }

    #[test]
    fn width_zero_means_sixteen() {
        let h = UdCompHdr::from_byte(0x01);
        assert_eq!(h, UdCompHdr::new(CompMethod::Bfp, 16));
        assert_eq!(UdCompHdr::from_byte(0x91), UdCompHdr::new(CompMethod::Bfp, 9));
    }

    #[test]
    fn prb_lengths() {
        assert_eq!(UdCompHdr::new(CompMethod::Bfp, 9).prb_len(), Ok(28));
        assert_eq!(UdCompHdr::new(CompMethod::None, 16).prb_len(), Ok(48));
        assert_eq!(UdCompHdr::new(CompMethod::ModComp, 2).prb_len(), Ok(6));
        assert!(UdCompHdr::new(CompMethod::BfpSelectiveRe, 9).prb_len().is_err());
    }

    #[test]
    fn spec_strings() {
        assert_eq!(UdCompHdr::from_spec("bfp:9"), Some(UdCompHdr::new(CompMethod::Bfp, 9)));
        assert_eq!(UdCompHdr::from_spec("none:16"), Some(UdCompHdr::UNCOMPRESSED));
        assert_eq!(UdCompHdr::from_spec("bfp:17"), None);
        assert_eq!(UdCompHdr::from_spec("zip:8"), None);
    }
}
