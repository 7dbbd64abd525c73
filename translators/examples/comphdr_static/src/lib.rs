//! `comphdr_static`: converts U-plane sections between dynamic and static
//! compression configuration, for a DU that sends udCompHdr in every
//! section and an RU configured for static compression (or the reverse).
//!
//! Configuration:
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `mode` | `"strip"` or `"insert"`, required | remove udCompHdr (and its reserved byte) from every section, or add it |
//! | `method` | `"bfp"` (default), `"none"`, `"block-scaling"`, `"mu-law"`, `"modcomp"` | the static compression |
//! | `width` | 1–16 | its udIqWidth: required to insert; when given to strip, a section with another udCompHdr is an error |
//! | `direction` | `"any"` (default), `"dl"`, `"ul"` | which U-plane messages to convert |
//! | `carrier_prbs` | 1–1023, default 273 | the carrier width numPrbu = 0 stands for |
//!
//! Whether a message carries udCompHdr is the host's decision for the
//! flow (descriptor flag): `strip` leaves messages without it alone, and
//! `insert` messages with it. Each section shrinks or grows by 2 bytes;
//! ecpriPayload, the concatenation padding and the IP/UDP lengths and
//! checksums follow. IQ bytes are copied untouched.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::ecpri::uplane::SectionRepr;
use fhgate_sdk::ecpri::{CompMethod, UdCompHdr};
use fhgate_sdk::uplane::{rewrite_sections, room, write_section_header};
use fhgate_sdk::{
    translator, Config, ConfigError, Counter, Ctx, Direction, Error, InitCtx, InitError, Packet, Plane, Translator,
    Verdict,
};

/// Which way to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sections carry udCompHdr → they do not.
    Strip,
    /// Sections do not carry udCompHdr → they do.
    Insert,
}

/// The translator's state.
#[derive(Debug)]
pub struct ComphdrStatic {
    mode: Mode,
    /// The static compression (`None`: strip whatever the sections say).
    comp: Option<UdCompHdr>,
    direction: Option<Direction>,
    carrier_prbs: u16,
    sections: Counter,
}

impl ComphdrStatic {
    /// Writes one section in the other form.
    fn section(&self, s: &SectionRepr<'_>, dst: &mut [u8]) -> Result<usize, Error> {
        let hdr = match self.mode {
            Mode::Strip => {
                if let (Some(want), Some((got, _))) = (self.comp, s.ud_comp_hdr) {
                    if got != want {
                        return Err(Error::Invalid("a section's udCompHdr differs from the static compression"));
                    }
                }
                None
            }
            // `comp` is required for insert (checked at init).
            Mode::Insert => self.comp.map(|c| (c, 0)),
        };
        let hl = write_section_header(s, hdr, dst)?;
        room(dst, hl + s.iq_data.len())?;
        dst[hl..hl + s.iq_data.len()].copy_from_slice(s.iq_data);
        Ok(hl + s.iq_data.len())
    }
}

impl Translator for ComphdrStatic {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let mode = match cfg.str("mode")? {
            "strip" => Mode::Strip,
            "insert" => Mode::Insert,
            _ => return Err(ConfigError::invalid("mode", "expected \"strip\" or \"insert\"").into()),
        };
        let method = cfg.str_or("method", "bfp")?;
        let method = CompMethod::from_name(method).ok_or(ConfigError::invalid(
            "method",
            "expected \"bfp\", \"none\", \"block-scaling\", \"mu-law\" or \"modcomp\"",
        ))?;
        let width = cfg.opt_int_in("width", 1, 16)?;
        if mode == Mode::Insert && width.is_none() {
            return Err(ConfigError::invalid("width", "required to insert udCompHdr").into());
        }
        let direction = match cfg.choice("direction", &["any", "dl", "ul"], 0)? {
            1 => Some(Direction::Dl),
            2 => Some(Direction::Ul),
            _ => None,
        };
        let comp = width.map(|w| UdCompHdr::new(method, w as u8));
        // udCompHdr comes or goes; a given width is the static compression
        // the sections must (strip) or will (insert) say.
        let strip = mode == Mode::Strip;
        ctx.declare_comp_hdr(direction, Some(strip), !strip)?;
        if let Some(c) = comp {
            for d in [Direction::Dl, Direction::Ul] {
                if direction.is_none_or(|x| x == d) {
                    ctx.declare_comp(d, Some(c), c)?;
                }
            }
        }
        Ok(ComphdrStatic {
            mode,
            comp: width.map(|w| UdCompHdr::new(method, w as u8)),
            direction,
            carrier_prbs: cfg.opt_int_in("carrier_prbs", 1, 1023)?.unwrap_or(273) as u16,
            sections: ctx.counter("sections")?,
        })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        let present = pkt.ud_comp_hdr_present();
        let wanted = match self.mode {
            Mode::Strip => present,
            Mode::Insert => !present,
        };
        if pkt.plane() != Plane::U || !wanted || self.direction.is_some_and(|d| d != pkt.direction()) {
            return Ok(Verdict::Forward);
        }
        // Stripping parses sections by their own udCompHdr; the static
        // compression only matters to read sections without one.
        let ucfg = pkt.uplane_config(self.comp.unwrap_or(UdCompHdr::UNCOMPRESSED), self.carrier_prbs);
        let mut n = 0;
        let me = &*self;
        pkt.rewrite_messages(|m, src, dst| match m.msg_type {
            0 => rewrite_sections(src, dst, present, &ucfg, |s, out| {
                n += 1;
                me.section(s, out)
            })
            .map(Some),
            _ => Ok(None),
        })?;
        ctx.add(self.sections, n);
        Ok(Verdict::Modified)
    }
}

translator! {
    name: "comphdr_static",
    version: "1.0.0",
    planes: "u",
    types: "0",
    plan: [
        "comp_hdr:mode=\"strip\",direction=\"dl\"",
        "comp_hdr:mode=\"strip\",direction=\"ul\"",
        "comp_hdr:mode=\"insert\",direction=\"dl\",method=\"{du.dl_comp.method}\",width={du.dl_comp.width}",
        "comp_hdr:mode=\"insert\",direction=\"ul\",method=\"{ru.ul_comp.method}\",width={ru.ul_comp.width}",
    ],
    translator: ComphdrStatic,
}

#[cfg(test)]
mod tests;
