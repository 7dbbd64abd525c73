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

use fhgate_sdk::ecpri::iq::{bfp, Encoded, Rounding};
use fhgate_sdk::ecpri::uplane::{SectionRepr, UplaneConfig};
use fhgate_sdk::ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::frame::ID_SEQ_LEN;
use fhgate_sdk::uplane::{copy_section, rewrite_sections, room, write_section_header};
use fhgate_sdk::{
    translator, Config, Counter, Ctx, Direction, Error, InitCtx, InitError, Packet, Plane, Translator, Verdict,
};

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;

/// The translator's state: its settings and counters.
#[derive(Debug)]
pub struct BfpWidth {
    in_hdr: UdCompHdr,
    out_hdr: UdCompHdr,
    direction: Option<Direction>,
    cplane: bool,
    carrier_prbs: u16,
    rounding: Rounding,
    converted: Counter,
    saturated: Counter,
    skipped: Counter,
    cplane_rewritten: Counter,
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

/// Tallies of one packet, added to the counters afterwards.
#[derive(Default)]
struct Tally {
    converted: i64,
    skipped: i64,
    cplane: i64,
    saturated: i64,
}

impl BfpWidth {
    /// Writes one section, converted when it is BFP at `in_width`.
    fn section(&self, s: &SectionRepr<'_>, ucfg: &UplaneConfig, dst: &mut [u8], t: &mut Tally) -> Result<usize, Error> {
        if s.comp(ucfg.static_comp) != self.in_hdr {
            t.skipped += 1;
            return copy_section(s, dst);
        }
        let hl = write_section_header(s, s.ud_comp_hdr.map(|(_, r)| (self.out_hdr, r)), dst)?;
        let e = recompress(self.in_hdr.iq_width, s.iq_data, self.out_hdr.iq_width, self.rounding, &mut dst[hl..])?;
        t.converted += 1;
        t.saturated += e.saturated as i64;
        Ok(hl + e.len)
    }

    /// Rewrites udCompHdr in a C-plane message (after ecpriRtcid/Seqid) in place.
    fn cplane_header(&self, msg: &mut [u8], t: &mut Tally) -> Result<(), Error> {
        let mut c = fhgate_sdk::ecpri::cplane::CplanePacket::new_checked(msg)?;
        if c.ud_comp_hdr() == Some(self.in_hdr) {
            c.set_ud_comp_hdr(self.out_hdr)?;
            t.cplane += 1;
        }
        Ok(())
    }
}

impl Translator for BfpWidth {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let in_width = cfg.int_in("in_width", 1, 16)? as u8;
        let out_width = cfg.int_in("out_width", 1, 16)? as u8;
        let direction = match cfg.choice("direction", &["any", "dl", "ul"], 0)? {
            1 => Some(Direction::Dl),
            2 => Some(Direction::Ul),
            _ => None,
        };
        let (a, b) = (UdCompHdr::new(CompMethod::Bfp, in_width), UdCompHdr::new(CompMethod::Bfp, out_width));
        // What it does to the format: BFP at in_width becomes out_width in
        // the directions it converts (ABI.md §6 `effect`).
        for d in [Direction::Dl, Direction::Ul] {
            if direction.is_none_or(|x| x == d) {
                ctx.declare_comp(d, Some(a), b)?;
            }
        }
        Ok(BfpWidth {
            in_hdr: UdCompHdr::new(CompMethod::Bfp, in_width),
            out_hdr: UdCompHdr::new(CompMethod::Bfp, out_width),
            direction,
            cplane: cfg.bool_or("cplane", true)?,
            carrier_prbs: cfg.opt_int_in("carrier_prbs", 1, 1023)?.unwrap_or(273) as u16,
            rounding: match cfg.choice("rounding", &["nearest", "truncate"], 0)? {
                1 => Rounding::Truncate,
                _ => Rounding::Nearest,
            },
            converted: ctx.counter("converted_sections")?,
            saturated: ctx.counter("saturated_samples")?,
            skipped: ctx.counter("skipped_sections")?,
            cplane_rewritten: ctx.counter("cplane_headers")?,
        })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        let mut t = Tally::default();
        match pkt.plane() {
            Plane::U => {
                if self.direction.is_some_and(|d| d != pkt.direction()) {
                    return Ok(Verdict::Forward);
                }
                let ucfg = pkt.uplane_config(self.in_hdr, self.carrier_prbs);
                let comp_hdr = pkt.ud_comp_hdr_present();
                let me = &*self;
                pkt.rewrite_messages(|m, src, dst| match m.msg_type {
                    0 => rewrite_sections(src, dst, comp_hdr, &ucfg, |s, out| me.section(s, &ucfg, out, &mut t))
                        .map(Some),
                    2 if me.cplane => {
                        room(dst, src.len())?;
                        dst[..src.len()].copy_from_slice(src);
                        me.cplane_header(&mut dst[ID_SEQ_LEN..src.len()], &mut t)?;
                        Ok(Some(src.len()))
                    }
                    _ => Ok(None),
                })?;
            }
            Plane::C if self.cplane => {
                let mut next = Some(pkt.ecpri_offset());
                while let Some(at) = next {
                    let m = pkt.message_at(at)?;
                    let hdr = pkt.cplane(&m).ok().and_then(|c| c.ud_comp_hdr());
                    if m.msg_type == 2 && hdr == Some(self.in_hdr) {
                        self.cplane_header(&mut pkt.payload_mut(&m)[ID_SEQ_LEN..], &mut t)?;
                    }
                    next = m.next_offset();
                }
            }
            _ => return Ok(Verdict::Forward),
        }
        ctx.add(self.converted, t.converted);
        ctx.add(self.skipped, t.skipped);
        ctx.add(self.cplane_rewritten, t.cplane);
        if t.saturated > 0 {
            ctx.add(self.saturated, t.saturated);
        }
        Ok(if t.converted + t.cplane > 0 { Verdict::Modified } else { Verdict::Forward })
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
