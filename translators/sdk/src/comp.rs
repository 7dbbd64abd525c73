//! Converting U-plane IQ from one udCompHdr to another, for translators
//! that change compression method or width (`bfp_width`, `comp_convert`):
//! the settings they share, their declared effects, and the walk over a
//! packet that rewrites each section (and udCompHdr in the C-plane), with
//! the IQ conversion itself left to the translator.

use ecpri::iq::Encoded;
use ecpri::uplane::{SectionRepr, UplaneConfig};
use ecpri::UdCompHdr;

use crate::config::Config;
use crate::ctx::{Counter, Ctx, InitCtx};
use crate::error::{Error, InitError};
use crate::frame::ID_SEQ_LEN;
use crate::packet::{Direction, Packet, Plane, Verdict};
use crate::uplane::{copy_section, rewrite_sections, room, write_section_header};

/// What a compression change converts, and where.
#[derive(Debug, Clone, Copy)]
pub struct CompChange {
    /// The compression converted from (a section's udCompHdr, or the
    /// static compression when sections carry none).
    pub in_hdr: UdCompHdr,
    /// The compression converted to.
    pub out_hdr: UdCompHdr,
    /// U-plane messages of this direction only (`None`: both).
    pub direction: Option<Direction>,
    /// Also rewrite udCompHdr in C-plane common headers (section types 1, 3, 5).
    pub cplane: bool,
    /// The carrier width numPrbu = 0 stands for.
    pub carrier_prbs: u16,
    counters: [Counter; 4],
}

/// Tallies of one packet, added to the counters afterwards.
#[derive(Default)]
struct Tally {
    converted: i64,
    skipped: i64,
    cplane: i64,
    saturated: i64,
}

impl CompChange {
    /// Reads the shared keys (`direction`, `cplane`, `carrier_prbs`),
    /// declares the effect (`dl_comp`/`ul_comp IN -> OUT` for each
    /// direction converted) and defines the counters
    /// (`converted_sections`, `saturated_samples`, `skipped_sections`,
    /// `cplane_headers`).
    pub fn init(cfg: &Config<'_>, ctx: &mut InitCtx, in_hdr: UdCompHdr, out_hdr: UdCompHdr) -> Result<CompChange, InitError> {
        let direction = match cfg.choice("direction", &["any", "dl", "ul"], 0)? {
            1 => Some(Direction::Dl),
            2 => Some(Direction::Ul),
            _ => None,
        };
        for d in [Direction::Dl, Direction::Ul] {
            if direction.is_none_or(|x| x == d) {
                ctx.declare_comp(d, Some(in_hdr), out_hdr)?;
            }
        }
        Ok(CompChange {
            in_hdr,
            out_hdr,
            direction,
            cplane: cfg.bool_or("cplane", true)?,
            carrier_prbs: cfg.opt_int_in("carrier_prbs", 1, 1023)?.unwrap_or(273) as u16,
            counters: [
                ctx.counter("converted_sections")?,
                ctx.counter("saturated_samples")?,
                ctx.counter("skipped_sections")?,
                ctx.counter("cplane_headers")?,
            ],
        })
    }

    /// Writes one section, its IQ converted by `convert` (source PRBs,
    /// destination) when its compression is `in_hdr`, else copied.
    fn section<F>(&self, s: &SectionRepr<'_>, ucfg: &UplaneConfig, dst: &mut [u8], t: &mut Tally, convert: &F) -> Result<usize, Error>
    where
        F: Fn(&[u8], &mut [u8]) -> Result<Encoded, Error>,
    {
        if s.comp(ucfg.static_comp) != self.in_hdr {
            t.skipped += 1;
            return copy_section(s, dst);
        }
        let hl = write_section_header(s, s.ud_comp_hdr.map(|(_, r)| (self.out_hdr, r)), dst)?;
        let e = convert(s.iq_data, &mut dst[hl..])?;
        t.converted += 1;
        t.saturated += e.saturated as i64;
        Ok(hl + e.len)
    }

    /// Rewrites udCompHdr in a C-plane message (after ecpriRtcid/Seqid) in place.
    fn cplane_header(&self, msg: &mut [u8], t: &mut Tally) -> Result<(), Error> {
        let mut c = ecpri::cplane::CplanePacket::new_checked(msg)?;
        if c.ud_comp_hdr() == Some(self.in_hdr) {
            c.set_ud_comp_hdr(self.out_hdr)?;
            t.cplane += 1;
        }
        Ok(())
    }

    /// Converts one packet: each U-plane section at `in_hdr` (of the
    /// direction converted) through `convert`, which writes the whole
    /// PRBs of its source into its destination and says how many bytes
    /// and saturated samples; udCompHdr `in_hdr` in C-plane headers
    /// becomes `out_hdr`. The packet grows or shrinks as it must.
    pub fn translate<F>(&self, pkt: &mut Packet<'_>, ctx: &mut Ctx, convert: F) -> Result<Verdict, Error>
    where
        F: Fn(&[u8], &mut [u8]) -> Result<Encoded, Error>,
    {
        let mut t = Tally::default();
        match pkt.plane() {
            Plane::U => {
                if self.direction.is_some_and(|d| d != pkt.direction()) {
                    return Ok(Verdict::Forward);
                }
                let ucfg = pkt.uplane_config(self.in_hdr, self.carrier_prbs);
                let comp_hdr = pkt.ud_comp_hdr_present();
                pkt.rewrite_messages(|m, src, dst| match m.msg_type {
                    0 => rewrite_sections(src, dst, comp_hdr, &ucfg, |s, out| self.section(s, &ucfg, out, &mut t, &convert))
                        .map(Some),
                    2 if self.cplane => {
                        room(dst, src.len())?;
                        dst[..src.len()].copy_from_slice(src);
                        self.cplane_header(&mut dst[ID_SEQ_LEN..src.len()], &mut t)?;
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
        let [converted, saturated, skipped, cplane] = self.counters;
        ctx.add(converted, t.converted);
        ctx.add(skipped, t.skipped);
        ctx.add(cplane, t.cplane);
        if t.saturated > 0 {
            ctx.add(saturated, t.saturated);
        }
        Ok(if t.converted + t.cplane > 0 { Verdict::Modified } else { Verdict::Forward })
    }
}
