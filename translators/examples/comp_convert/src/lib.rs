//! `comp_convert`: converts U-plane IQ data between compression methods
//! and widths (BFP, none, block scaling, µ-law; O-RAN.WG4.CUS Annex A),
//! for a DU and an RU that were built for different ones: a DU sending
//! BFP 9-bit to an RU that takes uncompressed 16-bit or µ-law 8-bit.
//!
//! Configuration:
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `in_comp` | `METHOD:WIDTH`, required | the compression to convert from: `none`, `bfp`, `block-scaling` or `mu-law`, width 1–16 (`"bfp:9"`) |
//! | `out_comp` | `METHOD:WIDTH`, required | the compression to convert to; must differ from `in_comp` |
//! | `direction` | `"any"` (default), `"dl"`, `"ul"` | U-plane messages of which direction to convert |
//! | `cplane` | `true` (default) | also rewrite udCompHdr in C-plane common headers (section types 1, 3, 5) |
//! | `carrier_prbs` | 1–1023, default 273 | the carrier width numPrbu = 0 stands for |
//! | `rounding` | `"nearest"` (default), `"truncate"` | how a BFP output is quantised (as `bfp_width`); the other methods quantise as their annex says |
//!
//! Each PRB is decompressed to the wide (`i32`) domain and compressed
//! again (`ecpri::iq::convert::recompress`; BFP to BFP takes its fused
//! path). What the output cannot carry is saturated and counted
//! (`saturated_samples`): BFP at a large exponent holds values beyond
//! 16 bits, which none, block scaling and µ-law cannot. So BFP → none:16
//! is exact for every sample within ±2^15, and every method → none:16 is
//! exact for the values it decodes to. A section is converted when its
//! compression is `in_comp`: its udCompHdr when it carries one (which is
//! rewritten), else (static compression) by configuration; other sections
//! pass unchanged and are counted (`skipped_sections`). The packet grows
//! or shrinks; ecpriPayload and the lengths follow.
//!
//! Modulation compression needs csf and modCompScaler from the C-plane
//! (section extension 4 or 5), which a U-plane message does not carry:
//! it is refused at init. For BFP → BFP `bfp_width` does the same job and
//! is chosen first by `fhgate plan` (files are tried by name).
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::comp::CompChange;
use fhgate_sdk::ecpri::iq::{convert, Rounding};
use fhgate_sdk::ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::uplane::room;
use fhgate_sdk::{translator, Config, ConfigError, Ctx, Error, InitCtx, InitError, Packet, Translator, Verdict};

/// The translator's state.
#[derive(Debug)]
pub struct CompConvert {
    change: CompChange,
    rounding: Rounding,
}

/// Reads `key` as `METHOD:WIDTH`, a method this translator converts.
fn comp_key(cfg: &Config<'_>, key: &str) -> Result<UdCompHdr, ConfigError> {
    let v = cfg.str(key)?;
    let c = UdCompHdr::from_spec(v).ok_or(ConfigError::invalid(
        key,
        "expected \"METHOD:WIDTH\": none, bfp, block-scaling or mu-law, width 1-16 (\"bfp:9\")",
    ))?;
    match c.comp_meth {
        CompMethod::None | CompMethod::Bfp | CompMethod::BlockScaling | CompMethod::MuLaw => Ok(c),
        CompMethod::ModComp => Err(ConfigError::invalid(
            key,
            "modulation compression needs csf and modCompScaler from the C-plane (section extension 4 or 5): not converted",
        )),
        _ => Err(ConfigError::invalid(key, "not a method this translator converts (none, bfp, block-scaling, mu-law)")),
    }
}

/// Converts the whole PRBs of `src` at `a` into `dst` at `b`; returns the
/// bytes written and the samples saturated.
pub fn convert(a: UdCompHdr, src: &[u8], b: UdCompHdr, rounding: Rounding, dst: &mut [u8]) -> Result<fhgate_sdk::ecpri::iq::Encoded, Error> {
    // Both headers were checked at init, so prb_len cannot fail here.
    let (la, lb) = (a.prb_len()?, b.prb_len()?);
    room(dst, src.len() / la * lb)?;
    Ok(convert::recompress(a, src, b, rounding, dst)?)
}

impl Translator for CompConvert {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let a = comp_key(cfg, "in_comp")?;
        let b = comp_key(cfg, "out_comp")?;
        if a == b {
            return Err(ConfigError::invalid("out_comp", "equals in_comp: nothing to convert").into());
        }
        let change = CompChange::init(cfg, ctx, a, b)?;
        let rounding = match cfg.choice("rounding", &["nearest", "truncate"], 0)? {
            1 => Rounding::Truncate,
            _ => Rounding::Nearest,
        };
        Ok(CompConvert { change, rounding })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        let (a, b, r) = (self.change.in_hdr, self.change.out_hdr, self.rounding);
        self.change.translate(pkt, ctx, |src, dst| convert(a, src, b, r, dst))
    }
}

translator! {
    name: "comp_convert",
    version: "1.0.0",
    planes: "u,c",
    types: "0,2",
    plan: [
        "dl_comp:in_comp=\"{du.dl_comp}\",out_comp=\"{ru.dl_comp}\",direction=\"dl\"",
        "ul_comp:in_comp=\"{ru.ul_comp}\",out_comp=\"{du.ul_comp}\",direction=\"ul\",cplane=false",
    ],
    translator: CompConvert,
}

#[cfg(test)]
mod tests;
