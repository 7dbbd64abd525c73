//! `bfp_width`: re-compresses U-plane IQ data from block floating point
//! at one udIqWidth to another (8 → 12, 9 → 14, or narrower), for an RU
//! and a DU that were built for different BFP widths.
//!
//! Configuration:
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `in_width` | 1–16, required | udIqWidth of the BFP data to convert |
//! | `out_width` | 1–16, required | udIqWidth to convert it to |
//! | `direction` | `"any"` (default), `"dl"`, `"ul"` | U-plane messages of which direction to convert |
//! | `cplane` | `true` (default) | also rewrite udCompHdr in C-plane common headers (section types 1, 3, 5) |
//! | `carrier_prbs` | 1–1023, default 273 | the carrier width numPrbu = 0 stands for |
//! | `rounding` | `"nearest"` (default), `"truncate"` | how mantissas are re-quantised when narrowing: to nearest (about 7 dB cleaner) or by truncation (O-RAN Annex A.1 as written, bit-exact with fhi_lib); every RU decodes either |
//! | `exponent` | `"least"` (default), `"input"` | a widened PRB's exponent: the least that holds it (Annex A.1), or the input's with the mantissas sign-extended (only when `out_width` ≥ `in_width`). Both decode to the same samples; the bytes differ wherever the input exponent is above 0 |
//!
//! A U-plane section is converted when its compression is BFP at
//! `in_width`: the section's udCompHdr when it carries one, else (static
//! compression) by configuration. Other sections pass unchanged and are
//! counted (`skipped_sections`). Widening is exact, at every exponent
//! 0–15: every sample decompresses to the value it had. A narrowed PRB
//! whose exponent would exceed 15 is sent at 15 with its mantissas
//! saturated; those samples are counted (`saturated_samples`). The packet grows or shrinks; later
//! sections and messages move, and ecpriPayload, the concatenation
//! padding and the IP/UDP lengths and checksums follow.
//!
//! For a DU at width a and an RU at width b, run two instances: one with
//! `in_width=a, out_width=b, direction="dl"` (which also tells the RU, in
//! the C-plane, to send b), and one with `in_width=b, out_width=a,
//! direction="ul", cplane=false`.
//!
//! The IQ conversion is `ecpri`'s fused BFP path
//! (`iq::convert::bfp_recompress`), which works in the exponent domain.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::comp::CompChange;
use fhgate_sdk::ecpri::iq::{bfp, Encoded, Rounding};
use fhgate_sdk::ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::uplane::room;
use fhgate_sdk::{translator, Config, ConfigError, Ctx, Error, InitCtx, InitError, Packet, Translator, Verdict};

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;

/// The translator's state: the change it makes (widths, direction,
/// counters) and how it rounds.
#[derive(Debug)]
pub struct BfpWidth {
    change: CompChange,
    rounding: Rounding,
    /// Keep the input's exponents (`exponent = "input"`).
    keep_exponent: bool,
}

/// Bytes of one BFP PRB at width `w`.
const fn prb_len(w: u8) -> usize {
    1 + 3 * w as usize
}

/// Re-compresses the whole BFP PRBs of `src` from width `a` to `b` into
/// `dst`, keeping each udCompParam's reserved nibble; returns the bytes
/// written and the samples saturated.
///
/// This is ecpri's fused `bfp_recompress`, `compress(b, decompress(a,
/// src))` in the `i32` domain bit for bit.
pub fn recompress(a: u8, src: &[u8], b: u8, rounding: Rounding, dst: &mut [u8]) -> Result<Encoded, Error> {
    room(dst, src.len() / prb_len(a) * prb_len(b))?;
    Ok(fhgate_sdk::ecpri::iq::convert::bfp_recompress(a, src, b, rounding, dst)?)
}

/// [`recompress`] through a 16-PRB stack buffer of `i32` samples:
/// decompress a chunk at `a`, compress it at `b`, copy the reserved
/// nibbles. The definition, kept as a reference for the fused path.
pub fn recompress_chunked(a: u8, src: &[u8], b: u8, rounding: Rounding, dst: &mut [u8]) -> Result<Encoded, Error> {
    const CHUNK: usize = 16;
    let (la, lb) = (prb_len(a), prb_len(b));
    let n = src.len() / la;
    room(dst, n * lb)?;
    let mut x = [0i32; CHUNK * 24];
    let mut saturated = 0;
    let mut i = 0;
    while i < n {
        let k = CHUNK.min(n - i);
        let s = &src[i * la..(i + k) * la];
        let d = &mut dst[i * lb..(i + k) * lb];
        bfp::decompress(a, s, &mut x[..k * 24])?;
        saturated += bfp::compress(b, rounding, &x[..k * 24], d)?.saturated;
        for j in 0..k {
            d[j * lb] |= s[j * la] & 0xF0;
        }
        i += k;
    }
    Ok(Encoded { len: n * lb, saturated })
}

/// Widens the whole BFP PRBs of `src` from width `a` to `b` ≥ `a` into
/// `dst` keeping each PRB's udCompParam (exponent and reserved nibble):
/// every mantissa is sign-extended, so `m · 2^e` is unchanged.
pub fn widen_keeping_exponent(a: u8, src: &[u8], b: u8, dst: &mut [u8]) -> Result<Encoded, Error> {
    use fhgate_sdk::ecpri::iq::uncompressed;
    let (la, lb) = (prb_len(a), prb_len(b));
    let n = src.len() / la;
    room(dst, n * lb)?;
    let mut x = [0i32; 24];
    for i in 0..n {
        let (s, d) = (&src[i * la..(i + 1) * la], &mut dst[i * lb..(i + 1) * lb]);
        d[0] = s[0];
        // The uncompressed codec packs plain two's complement fields, read
        // as the top bits of 16: m at a bits reads as m << (16 - a), which
        // written at b bits must be m << (16 - b).
        uncompressed::decompress(a, &s[1..], &mut x)?;
        for v in &mut x {
            *v >>= b - a;
        }
        uncompressed::compress(b, &x, &mut d[1..])?;
    }
    Ok(Encoded { len: n * lb, saturated: 0 })
}

impl Translator for BfpWidth {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let in_width = cfg.int_in("in_width", 1, 16)? as u8;
        let out_width = cfg.int_in("out_width", 1, 16)? as u8;
        let (a, b) = (UdCompHdr::new(CompMethod::Bfp, in_width), UdCompHdr::new(CompMethod::Bfp, out_width));
        // Declares what it does to the format: BFP at in_width becomes
        // out_width in the directions it converts (ABI.md §6 `effect`).
        let change = CompChange::init(cfg, ctx, a, b)?;
        let rounding = match cfg.choice("rounding", &["nearest", "truncate"], 0)? {
            1 => Rounding::Truncate,
            _ => Rounding::Nearest,
        };
        let keep_exponent = cfg.choice("exponent", &["least", "input"], 0)? == 1;
        if keep_exponent && out_width < in_width {
            return Err(ConfigError::invalid(
                "exponent",
                "\"input\" keeps the input's exponents, which only widening can (out_width >= in_width)",
            )
            .into());
        }
        Ok(BfpWidth { change, rounding, keep_exponent })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        let (a, b, r) = (self.change.in_hdr.iq_width, self.change.out_hdr.iq_width, self.rounding);
        if self.keep_exponent {
            self.change.translate(pkt, ctx, |src, dst| widen_keeping_exponent(a, src, b, dst))
        } else {
            self.change.translate(pkt, ctx, |src, dst| recompress(a, src, b, r, dst))
        }
    }
}

translator! {
    name: "bfp_width",
    version: "1.0.0",
    planes: "u,c",
    types: "0,2",
    plan: [
        "dl_comp:in_width={du.dl_comp.width},out_width={ru.dl_comp.width},direction=\"dl\"",
        "ul_comp:in_width={ru.ul_comp.width},out_width={du.ul_comp.width},direction=\"ul\",cplane=false",
    ],
    translator: BfpWidth,
}

#[cfg(test)]
mod tests;
