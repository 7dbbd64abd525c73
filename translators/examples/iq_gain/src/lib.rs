//! `iq_gain`: scales the power of U-plane IQ samples by a configured
//! number of dB, for an RU whose digital power reference differs from
//! what the DU assumes (or a test setup that needs attenuation).
//!
//! Configuration:
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `gain_db` | −96 to +96, required | power gain; amplitudes are multiplied by 10^(gain_db/20) |
//! | `method`, `width` | as in `comphdr_static` | the static compression of sections without udCompHdr (needed only for such flows) |
//! | `direction` | `"any"` (default), `"dl"`, `"ul"` | which U-plane messages to scale |
//! | `carrier_prbs` | 1–1023, default 273 | the carrier width numPrbu = 0 stands for |
//! | `rounding` | `"nearest"` (default), `"truncate"` | how BFP mantissas are re-quantised: to nearest (about 7 dB cleaner) or by truncation (O-RAN Annex A.1 as written); every RU decodes either |
//!
//! Each section is re-quantised in its own compression: decompressed (into
//! `i32`, exact for every BFP exponent), every sample multiplied with
//! rounding (half away from zero), and compressed again with the same
//! method and width (so BFP exponents, block scalers and µ-law shifts are
//! recomputed). What the compression cannot carry is saturated: BFP
//! beyond exponent 15, the other methods beyond 16 bits. Lengths do not
//! change. Methods the codec cannot redo without C-plane state (modulation
//! compression) pass unchanged, counted as skipped. Samples the
//! compression saturated are counted (`saturated_samples`); every clipped
//! sample, those and the (practically impossible) products beyond `i32`,
//! is counted in `clipped_samples`.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::ecpri::iq::{self, Rounding, SAMPLES_PER_PRB};
use fhgate_sdk::ecpri::uplane::SectionRepr;
use fhgate_sdk::ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::frame::ID_SEQ_LEN;
use fhgate_sdk::{
    translator, Config, ConfigError, Counter, Ctx, Direction, Error, InitCtx, InitError, Packet, Plane, Translator,
    Verdict,
};

/// Fraction bits of the fixed-point gain.
const GAIN_FRAC: u32 = 24;
/// PRBs re-quantised per step (a 1.5 KB stack buffer).
const CHUNK: usize = 16;

/// e^x for |x| up to about 700, accurate to a few ulp (core has no `exp`).
pub fn exp(x: f64) -> f64 {
    // ln 2 split in two (fdlibm's ln2_hi and ln2_lo), so k·ln2 is exact.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    let t = x / core::f64::consts::LN_2;
    let k = if t >= 0.0 { (t + 0.5) as i64 } else { (t - 0.5) as i64 };
    let r = x - k as f64 * LN2_HI - k as f64 * LN2_LO;
    // |r| <= ln2/2: 20 Taylor terms are far below one ulp.
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for n in 1..=20 {
        term *= r / n as f64;
        sum += term;
    }
    let k = k.clamp(-1022, 1023);
    sum * f64::from_bits(((k + 1023) as u64) << 52)
}

/// The amplitude factor of a power gain in dB, 10^(db/20).
pub fn amplitude(db: f64) -> f64 {
    exp(db * core::f64::consts::LN_10 / 20.0)
}

/// Multiplies each sample by `gain` (fixed point, [`GAIN_FRAC`] fraction
/// bits), rounding half away from zero and saturating to `i32`; returns
/// how many saturated.
pub fn scale(x: &mut [i32], gain: i64) -> u32 {
    let half = 1i128 << (GAIN_FRAC - 1);
    let mut clipped = 0;
    for s in x.iter_mut() {
        // Up to 2^31 · 2^40: i128.
        let p = *s as i128 * gain as i128;
        let q = if p >= 0 { (p + half) >> GAIN_FRAC } else { -((-p + half) >> GAIN_FRAC) };
        let c = q.clamp(i32::MIN as i128, i32::MAX as i128);
        clipped += (c != q) as u32;
        *s = c as i32;
    }
    clipped
}

/// Samples clipped by one re-quantisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clipped {
    /// By the gain, beyond `i32`.
    pub scaling: u32,
    /// By the compression, which could not carry them.
    pub saturated: u32,
}

/// Re-quantises the whole PRBs of `data` (compressed as `comp`) in place,
/// BFP rounded as `rounding` says.
pub fn requantise(comp: UdCompHdr, data: &mut [u8], gain: i64, rounding: Rounding) -> Result<Clipped, Error> {
    let len = comp.prb_len()?;
    let mut x = [0i32; CHUNK * SAMPLES_PER_PRB];
    let mut clipped = Clipped::default();
    for chunk in data.chunks_mut(CHUNK * len) {
        let k = chunk.len() / len;
        if k == 0 {
            break;
        }
        let x = &mut x[..k * SAMPLES_PER_PRB];
        iq::decompress(comp, chunk, x)?;
        clipped.scaling += scale(x, gain);
        clipped.saturated += iq::compress(comp, rounding, &*x, &mut chunk[..k * len])?.saturated;
    }
    Ok(clipped)
}

/// The translator's state.
#[derive(Debug)]
pub struct IqGain {
    gain: i64,
    static_comp: Option<UdCompHdr>,
    direction: Option<Direction>,
    carrier_prbs: u16,
    rounding: Rounding,
    scaled: Counter,
    skipped: Counter,
    clipped: Counter,
    saturated: Counter,
}

impl Translator for IqGain {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let db = cfg.f64("gain_db")?;
        if !(-96.0..=96.0).contains(&db) {
            return Err(ConfigError::invalid("gain_db", "must be between -96 and 96").into());
        }
        let gain = (amplitude(db) * (1u64 << GAIN_FRAC) as f64 + 0.5) as i64;
        let method = cfg.str_or("method", "bfp")?;
        let method = CompMethod::from_name(method).ok_or(ConfigError::invalid(
            "method",
            "expected \"bfp\", \"none\", \"block-scaling\", \"mu-law\" or \"modcomp\"",
        ))?;
        let static_comp = cfg.opt_int_in("width", 1, 16)?.map(|w| UdCompHdr::new(method, w as u8));
        let direction = match cfg.choice("direction", &["any", "dl", "ul"], 0)? {
            1 => Some(Direction::Dl),
            2 => Some(Direction::Ul),
            _ => None,
        };
        ctx.declare_note("iq", format_args!("gain:{db}dB"))?;
        Ok(IqGain {
            gain,
            static_comp,
            direction,
            carrier_prbs: cfg.opt_int_in("carrier_prbs", 1, 1023)?.unwrap_or(273) as u16,
            rounding: match cfg.choice("rounding", &["nearest", "truncate"], 0)? {
                1 => Rounding::Truncate,
                _ => Rounding::Nearest,
            },
            scaled: ctx.counter("scaled_sections")?,
            skipped: ctx.counter("skipped_sections")?,
            clipped: ctx.counter("clipped_samples")?,
            saturated: ctx.counter("saturated_samples")?,
        })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        if pkt.plane() != Plane::U || self.direction.is_some_and(|d| d != pkt.direction()) {
            return Ok(Verdict::Forward);
        }
        let present = pkt.ud_comp_hdr_present();
        let static_comp = match (present, self.static_comp) {
            (true, s) => s.unwrap_or(UdCompHdr::UNCOMPRESSED),
            (false, Some(s)) => s,
            (false, None) => return Err(Error::Invalid("sections carry no udCompHdr: configure `method` and `width`")),
        };
        let ucfg = pkt.uplane_config(static_comp, self.carrier_prbs);
        // Check that every section parses before editing any in place, so
        // that a malformed frame is left as it was.
        for m in pkt.messages() {
            let m = m?;
            let p = pkt.payload(&m);
            if m.msg_type == 0 && fhgate_sdk::uplane::is_whole(p) {
                for s in fhgate_sdk::ecpri::uplane::sections(&p[ID_SEQ_LEN..], present, &ucfg) {
                    s.map_err(|e| e.at(m.payload_offset() + ID_SEQ_LEN))?;
                }
            }
        }
        let (mut scaled, mut skipped, mut clipped, mut saturated) = (0i64, 0i64, 0i64, 0i64);
        let mut next = Some(pkt.ecpri_offset());
        while let Some(at) = next {
            let m = pkt.message_at(at)?;
            next = m.next_offset();
            if m.msg_type != 0 || !fhgate_sdk::uplane::is_whole(pkt.payload(&m)) {
                continue;
            }
            // Sections keep their length, so each is found, then edited in place.
            let base = m.payload_offset() + ID_SEQ_LEN;
            let end = m.end();
            let mut cursor = base + fhgate_sdk::ecpri::uplane::field::APP_HEADER_LEN;
            while cursor < end {
                let (iq_at, iq_len, comp, len) = {
                    let s = SectionRepr::parse(&pkt.bytes()[cursor..end], present, &ucfg).map_err(|e| e.at(cursor))?;
                    let hl = s.buffer_len() - s.iq_data.len();
                    (cursor + hl, s.iq_data.len(), s.comp(static_comp), s.buffer_len())
                };
                match comp.comp_meth {
                    CompMethod::None | CompMethod::Bfp | CompMethod::BlockScaling | CompMethod::MuLaw => {
                        let data = &mut pkt.bytes_mut()[iq_at..iq_at + iq_len];
                        let c = requantise(comp, data, self.gain, self.rounding)?;
                        clipped += (c.scaling + c.saturated) as i64;
                        saturated += c.saturated as i64;
                        scaled += 1;
                    }
                    _ => skipped += 1,
                }
                cursor += len;
            }
        }
        ctx.add(self.scaled, scaled);
        ctx.add(self.skipped, skipped);
        ctx.add(self.clipped, clipped);
        if saturated > 0 {
            ctx.add(self.saturated, saturated);
        }
        Ok(if scaled > 0 { Verdict::Modified } else { Verdict::Forward })
    }
}

translator! {
    name: "iq_gain",
    version: "1.0.0",
    planes: "u",
    types: "0",
    translator: IqGain,
}

#[cfg(test)]
mod tests;
