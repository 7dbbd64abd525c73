//! The traffic model behind `fhgate gen` (and later `fhgate sink`): a
//! 7.2x carrier described by a few numbers, turned into C-plane and
//! U-plane frames built with the `ecpri` crate. The IQ content is a known
//! test signal, so a receiver can regenerate it and measure IQ error.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use ecpri::cplane;
use ecpri::ethernet::{EthernetRepr, VlanTag, ETHERTYPE_ECPRI};
use ecpri::frame::{Body, FrameRepr, MessageRepr, Payload};
use ecpri::header::{message_type, HeaderRepr};
use ecpri::uplane::{self, AppHeader, UplaneConfig};
use ecpri::iq::Rounding;
use ecpri::{EaxcId, EaxcLayout, SeqId, UdCompHdr};

mod signal;
pub use signal::{reference_iq, reference_prb, SignalLevel, FULL_SCALE, MAX_LEVEL_DBFS, MIN_LEVEL_DBFS};
use signal::reference_iq_keyed;

/// Subcarriers (resource elements) per PRB.
pub const RES_PER_PRB: usize = 12;
/// Symbols per slot (normal cyclic prefix).
pub const SYMBOLS_PER_SLOT: u8 = 14;

/// Which side the stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The DU: DL C-plane and DL U-plane, plus UL C-plane.
    Du,
    /// The RU: UL U-plane.
    Ru,
}

/// A carrier and how it is framed.
#[derive(Debug, Clone)]
pub struct CarrierSpec {
    /// Numerology µ (subcarrier spacing 15 kHz × 2^µ), 0–4.
    pub numerology: u8,
    /// Carrier width in PRBs.
    pub prbs: u16,
    /// Antennas (one eAxC each, RU port = antenna index).
    pub antennas: u8,
    /// U-plane compression.
    pub comp: UdCompHdr,
    /// How BFP rounds mantissas (truncation keeps the shipped captures).
    pub rounding: Rounding,
    /// The test signal's level.
    pub level: SignalLevel,
    /// U-plane sections carry udCompHdr.
    pub comp_hdr: bool,
    /// eAxC bit layout.
    pub eaxc: EaxcLayout,
    /// VLAN tag on every frame, if any.
    pub vlan: Option<VlanTag>,
    /// Largest Ethernet payload (the MTU); U-plane symbols are split at
    /// PRB boundaries to fit.
    pub mtu: usize,
    /// Slots to generate.
    pub slots: u32,
    /// Which side sends.
    pub side: Side,
    /// PRACH: the DU adds a type-3 C-plane section per slot and antenna;
    /// the RU sends that occasion's U-plane on the PRACH eAxC.
    pub prach: bool,
    /// Compression of the PRACH U-plane (and type 3's udCompHdr) when it
    /// differs from `comp`.
    pub prach_comp: Option<UdCompHdr>,
    /// DU_port_ID and BandSector_ID every eAxC of this stream carries.
    pub du_port: u16,
    /// BandSector_ID every eAxC carries.
    pub band_sector: u16,
    /// DU MAC address.
    pub du_mac: [u8; 6],
    /// RU MAC address.
    pub ru_mac: [u8; 6],
}

impl Default for CarrierSpec {
    fn default() -> Self {
        CarrierSpec {
            numerology: 1,
            prbs: 273,
            antennas: 4,
            comp: UdCompHdr::new(ecpri::CompMethod::Bfp, 9),
            rounding: Rounding::Truncate,
            level: SignalLevel::Default,
            comp_hdr: true,
            eaxc: EaxcLayout::default(),
            vlan: None,
            mtu: 1500,
            slots: 2,
            side: Side::Du,
            prach: false,
            prach_comp: None,
            du_port: 0,
            band_sector: 0,
            du_mac: [0x02, 0x00, 0x00, 0x00, 0xD0, 0x01],
            ru_mac: [0x02, 0x00, 0x00, 0x00, 0x20, 0x01],
        }
    }
}

/// What a generated frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrameKind {
    /// A U-plane message (IQ data).
    Uplane,
    /// A C-plane message of section type 1.
    CplaneType1,
    /// A C-plane message of section type 3 (PRACH).
    CplaneType3,
}

impl FrameKind {
    /// The short name reports use: `U`, `C1`, `C3`.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Uplane => "U",
            FrameKind::CplaneType1 => "C1",
            FrameKind::CplaneType3 => "C3",
        }
    }
}

/// One generated frame and when it is due.
#[derive(Debug, Clone)]
pub struct GenFrame {
    /// Time from the start of the stream.
    pub at: Duration,
    /// What it carries.
    pub kind: FrameKind,
    /// Frame bytes.
    pub data: Vec<u8>,
}

/// Slot timing: which frame, subframe and slot a running slot index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotTime {
    /// frameId (8 bits on the wire).
    pub frame: u8,
    /// subframeId.
    pub subframe: u8,
    /// slotId within the subframe.
    pub slot: u8,
}

impl SlotTime {
    /// The `n`-th slot of a stream at numerology `mu`; frameId wraps at 256.
    pub fn of(n: u64, mu: u8) -> Self {
        let per_sf = 1u64 << mu;
        SlotTime { frame: (n / (per_sf * 10)) as u8, subframe: ((n / per_sf) % 10) as u8, slot: (n % per_sf) as u8 }
    }
}

/// Duration of one slot at numerology `mu` (1 ms / 2^µ).
pub fn slot_duration(mu: u8) -> Duration {
    Duration::from_nanos(1_000_000u64 >> mu)
}

/// The key the test signal of a flow is derived from: the values of its
/// eAxC fields, not their packing, so the signal survives an eAxC remap
/// (say 4,4,4,4 → 2,6,4,4) and the receiver rebuilds it under its own
/// layout. Fields that fit 4 bits each are packed as the default 4,4,4,4
/// layout packs them; wider ones are folded in with a hash.
pub fn signal_key(id: EaxcId) -> u16 {
    let f = [id.du_port, id.band_sector, id.cc, id.ru_port];
    if f.iter().all(|&v| v < 16) {
        return f.iter().fold(0u16, |k, &v| (k << 4) | v);
    }
    let x = splitmix64(f.iter().fold(0u64, |k, &v| (k << 16) | v as u64));
    (x >> 48) as u16
}

/// splitmix64's finaliser: a cheap, well-mixed hash.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn direction(side: Side) -> u8 {
    match side {
        Side::Du => 1,
        Side::Ru => 0,
    }
}

/// Sequence counters per flow: message type (plane), direction and eAxC.
#[derive(Default)]
struct SeqCounters(std::collections::HashMap<(u8, u8, u16), u8>);

impl SeqCounters {
    fn next(&mut self, plane: u8, dir: u8, eaxc: u16) -> SeqId {
        let c = self.0.entry((plane, dir, eaxc)).or_default();
        let s = SeqId::whole(*c);
        *c = c.wrapping_add(1);
        s
    }
}

/// Bytes of overhead in one U-plane frame around the PRBs of its single
/// section: eCPRI header, ecpriPcid/Seqid, app header, section header.
fn uplane_overhead(spec: &CarrierSpec) -> usize {
    4 + 4 + 4 + 4 + if spec.comp_hdr { 2 } else { 0 }
}

/// How many PRBs fit one frame under the MTU.
pub fn prbs_per_frame(spec: &CarrierSpec) -> Result<usize> {
    let prb_len = spec.comp.prb_len().map_err(|e| anyhow::anyhow!("{e}"))?;
    let room = spec.mtu.saturating_sub(uplane_overhead(spec)) / prb_len;
    if room == 0 {
        bail!("MTU {} cannot hold one PRB of {} ({} bytes)", spec.mtu, spec.comp, prb_len);
    }
    Ok(room.min(255))
}

fn eth(spec: &CarrierSpec) -> Result<EthernetRepr> {
    let (src, dst) = match spec.side {
        Side::Du => (spec.du_mac, spec.ru_mac),
        Side::Ru => (spec.ru_mac, spec.du_mac),
    };
    let mut e = EthernetRepr::new(dst, src, ETHERTYPE_ECPRI);
    if let Some(t) = spec.vlan {
        e.push_tag(t)?;
    }
    Ok(e)
}

fn frame_bytes(eth: EthernetRepr, msg: MessageRepr<'_>) -> Result<Vec<u8>> {
    let mut f = FrameRepr { eth, transport: None, payload: Payload::Ecpri(vec![msg]), trailer: &[] };
    f.finalize()?;
    Ok(f.to_bytes()?)
}

/// Generates the stream described by `spec` (its first `spec.slots`
/// slots), in time order. For long streams use [`Generator`], which
/// produces one slot at a time.
pub fn generate(spec: &CarrierSpec) -> Result<Vec<GenFrame>> {
    let mut g = Generator::new(spec)?;
    let mut out = Vec::new();
    for _ in 0..spec.slots {
        g.next_slot(&mut out)?;
    }
    Ok(out)
}

/// The stream of a carrier, slot by slot: sequence IDs run on across
/// slots and frameId wraps at 256, so a stream of any length is produced
/// in the memory of one slot.
pub struct Generator {
    spec: CarrierSpec,
    eth: EthernetRepr,
    per_frame: usize,
    prb_len: usize,
    dir: u8,
    /// (eAxC ID, its fields) per antenna, and the PRACH eAxC per antenna.
    ants: Vec<(u16, EaxcId, u16)>,
    seq: SeqCounters,
    samples: Vec<i32>,
    iq: Vec<u8>,
    next: u64,
    saturated: u64,
}

impl Generator {
    /// Checks `spec` and prepares to generate from slot 0 (`spec.slots`
    /// is not used: the caller decides when to stop).
    pub fn new(spec: &CarrierSpec) -> Result<Self> {
        if spec.numerology > 4 {
            bail!("numerology {} is outside 0-4", spec.numerology);
        }
        if spec.prbs == 0 || spec.prbs > 1023 {
            bail!("carrier width {} PRBs is outside 1-1023", spec.prbs);
        }
        let prb_len = spec.comp.prb_len().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut ants = Vec::with_capacity(spec.antennas as usize);
        for ant in 0..spec.antennas {
            let eaxc = eaxc_of(spec, ant)?;
            let prach = if spec.prach { prach_eaxc_of(spec, ant)? } else { eaxc };
            ants.push((eaxc, spec.eaxc.split(eaxc), prach));
        }
        Ok(Generator {
            eth: eth(spec)?,
            per_frame: prbs_per_frame(spec)?,
            prb_len,
            dir: direction(spec.side),
            ants,
            seq: SeqCounters::default(),
            samples: vec![0i32; spec.prbs as usize * RES_PER_PRB * 2],
            iq: vec![0u8; spec.prbs as usize * prb_len],
            next: 0,
            saturated: 0,
            spec: spec.clone(),
        })
    }

    /// Makes slot `n` the next one (its frameId, subframeId and slotId
    /// are slot `n`'s, counted from a frameId-0 frame); sequence IDs run on.
    pub fn start_at(&mut self, n: u64) {
        self.next = n;
    }

    /// The index of the slot [`Generator::next_slot`] produces next.
    pub fn slot_index(&self) -> u64 {
        self.next
    }

    /// Samples the compression could not carry and clipped so far (a
    /// level beyond what the wire holds).
    pub fn saturated_samples(&self) -> u64 {
        self.saturated
    }

    /// Duration of one slot.
    pub fn slot_duration(&self) -> Duration {
        slot_duration(self.spec.numerology)
    }

    /// Appends the frames of the next slot to `out`, in time order.
    pub fn next_slot(&mut self, out: &mut Vec<GenFrame>) -> Result<()> {
        let spec = &self.spec;
        let n = self.next;
        let t = SlotTime::of(n, spec.numerology);
        let slot_ns = 1_000_000u64 >> spec.numerology;
        let sym_ns = slot_ns / SYMBOLS_PER_SLOT as u64;
        let slot_start = n * slot_ns;
        let eth = self.eth;
        if spec.side == Side::Du {
            for (ant, &(eaxc, _, prach_eaxc)) in self.ants.iter().enumerate() {
                let ant = ant as u8;
                for (d, section_id) in [(1u8, 1u16), (0u8, 2u16)] {
                    let msg = cplane_type1(spec, t, d, section_id, ant)?;
                    let data = frame_bytes(eth, rt_control(eaxc, self.seq.next(2, d, eaxc), msg))?;
                    out.push(GenFrame { at: Duration::from_nanos(slot_start), kind: FrameKind::CplaneType1, data });
                }
                if spec.prach {
                    let msg = cplane_type3_prach(spec, t, ant)?;
                    let data = frame_bytes(eth, rt_control(prach_eaxc, self.seq.next(2, 0, prach_eaxc), msg))?;
                    out.push(GenFrame { at: Duration::from_nanos(slot_start), kind: FrameKind::CplaneType3, data });
                }
            }
        }
        let (prb_len, per_frame, dir) = (self.prb_len, self.per_frame, self.dir);
        for sym in 0..SYMBOLS_PER_SLOT {
            let at = Duration::from_nanos(slot_start + sym as u64 * sym_ns + sym_ns / 2);
            for &(eaxc, id, _) in &self.ants {
                let key = signal_key(id);
                for prb in 0..spec.prbs as usize {
                    for re in 0..RES_PER_PRB {
                        let (i, q) = reference_iq_keyed(spec.level, key, t, sym, prb, re);
                        self.samples[(prb * RES_PER_PRB + re) * 2] = i;
                        self.samples[(prb * RES_PER_PRB + re) * 2 + 1] = q;
                    }
                }
                // Truncating by default, as Annex A.1 writes it, so captures stay byte-exact.
                let enc = ecpri::iq::compress(spec.comp, spec.rounding, &self.samples, &mut self.iq)
                    .with_context(|| format!("compressing {}", spec.comp))?;
                debug_assert_eq!(enc.len, self.iq.len());
                self.saturated += enc.saturated as u64;
                let mut start = 0usize;
                while start < spec.prbs as usize {
                    let n_prb = per_frame.min(spec.prbs as usize - start);
                    let section = uplane::SectionRepr {
                        section_id: if dir == 1 { 1 } else { 2 },
                        rb: false,
                        sym_inc: false,
                        start_prbu: start as u16,
                        num_prbu: n_prb as u8,
                        ud_comp_hdr: spec.comp_hdr.then_some((spec.comp, 0)),
                        iq_data: &self.iq[start * prb_len..(start + n_prb) * prb_len],
                    };
                    let header = AppHeader {
                        data_direction: dir,
                        payload_version: 1,
                        filter_index: 0,
                        frame_id: t.frame,
                        subframe_id: t.subframe,
                        slot_id: t.slot,
                        symbol_id: sym,
                    };
                    let um = uplane::MessageRepr { header, sections: vec![section] };
                    let cfg = UplaneConfig {
                        static_comp: spec.comp,
                        comp_hdr: if spec.comp_hdr { uplane::CompHdrMode::Present } else { uplane::CompHdrMode::Absent },
                        carrier_prbs: spec.prbs,
                    };
                    let body = Body::IqData { pc_id: eaxc, seq_id: self.seq.next(0, dir, eaxc), uplane: um, cfg };
                    let msg = MessageRepr { header: HeaderRepr::new(message_type::IQ_DATA, 0), body, padding: &[] };
                    out.push(GenFrame { at, kind: FrameKind::Uplane, data: frame_bytes(eth, msg)? });
                    start += n_prb;
                }
            }
        }
        if spec.prach && spec.side == Side::Ru {
            self.prach_uplane(t, slot_start, sym_ns, out)?;
        }
        self.next += 1;
        Ok(())
    }

    /// The RU's PRACH U-plane for slot `t`: the occasion type 3 schedules
    /// (12 PRBs from PRB 0, symbols 0-11) on each antenna's PRACH eAxC, at
    /// `prach_comp` (else `comp`), filterIndex 1.
    fn prach_uplane(&mut self, t: SlotTime, slot_start: u64, sym_ns: u64, out: &mut Vec<GenFrame>) -> Result<()> {
        let spec = &self.spec;
        let comp = spec.prach_comp.unwrap_or(spec.comp);
        let prbs = PRACH_PRBS.min(spec.prbs as usize);
        let mut samples = vec![0i32; prbs * RES_PER_PRB * 2];
        let mut iq = vec![0u8; prbs * comp.prb_len().map_err(|e| anyhow::anyhow!("{e}"))?];
        for sym in 0..PRACH_SYMBOLS {
            let at = Duration::from_nanos(slot_start + sym as u64 * sym_ns + sym_ns / 2);
            for &(_, _, prach_eaxc) in &self.ants {
                let key = signal_key(spec.eaxc.split(prach_eaxc));
                for prb in 0..prbs {
                    for re in 0..RES_PER_PRB {
                        let (i, q) = reference_iq_keyed(spec.level, key, t, sym, prb, re);
                        samples[(prb * RES_PER_PRB + re) * 2] = i;
                        samples[(prb * RES_PER_PRB + re) * 2 + 1] = q;
                    }
                }
                let enc = ecpri::iq::compress(comp, spec.rounding, &samples, &mut iq).with_context(|| format!("compressing PRACH at {comp}"))?;
                self.saturated += enc.saturated as u64;
                let section = uplane::SectionRepr {
                    section_id: 3,
                    rb: false,
                    sym_inc: false,
                    start_prbu: 0,
                    num_prbu: prbs as u8,
                    ud_comp_hdr: spec.comp_hdr.then_some((comp, 0)),
                    iq_data: &iq,
                };
                let header = AppHeader { filter_index: 1, symbol_id: sym, ..slot_header(t, 0) };
                let cfg = UplaneConfig {
                    static_comp: comp,
                    comp_hdr: if spec.comp_hdr { uplane::CompHdrMode::Present } else { uplane::CompHdrMode::Absent },
                    carrier_prbs: spec.prbs,
                };
                let um = uplane::MessageRepr { header, sections: vec![section] };
                let body = Body::IqData { pc_id: prach_eaxc, seq_id: self.seq.next(0, 0, prach_eaxc), uplane: um, cfg };
                let msg = MessageRepr { header: HeaderRepr::new(message_type::IQ_DATA, 0), body, padding: &[] };
                out.push(GenFrame { at, kind: FrameKind::Uplane, data: frame_bytes(self.eth, msg)? });
            }
        }
        Ok(())
    }
}

/// PRBs of the PRACH occasion gen schedules (type 3's numPrbc).
pub const PRACH_PRBS: usize = 12;
/// Symbols of the PRACH occasion (type 3's numSymbol).
pub const PRACH_SYMBOLS: u8 = 12;

/// The eAxC of antenna `ant`: RU port = antenna.
pub fn eaxc_of(spec: &CarrierSpec, ant: u8) -> Result<u16> {
    Ok(spec.eaxc.join(EaxcId { du_port: spec.du_port, band_sector: spec.band_sector, cc: 0, ru_port: ant as u16 })?)
}

/// The PRACH eAxC of antenna `ant`: RU ports above the data ports.
pub fn prach_eaxc_of(spec: &CarrierSpec, ant: u8) -> Result<u16> {
    Ok(spec.eaxc.join(EaxcId { du_port: spec.du_port, band_sector: spec.band_sector, cc: 0, ru_port: (spec.antennas + ant) as u16 })?)
}

fn rt_control(rtc_id: u16, seq_id: SeqId, cplane: cplane::MessageRepr<'static>) -> MessageRepr<'static> {
    MessageRepr { header: HeaderRepr::new(message_type::RT_CONTROL, 0), body: Body::RtControl { rtc_id, seq_id, cplane }, padding: &[] }
}

fn slot_header(t: SlotTime, dir: u8) -> AppHeader {
    AppHeader { data_direction: dir, payload_version: 1, filter_index: 0, frame_id: t.frame, subframe_id: t.subframe, slot_id: t.slot, symbol_id: 0 }
}

/// Section type 1 for a whole slot of one antenna: one section spanning
/// the carrier (numPrbc = 0 when it is wider than 255 PRBs).
fn cplane_type1(spec: &CarrierSpec, t: SlotTime, dir: u8, section_id: u16, ant: u8) -> Result<cplane::MessageRepr<'static>> {
    let num_prbc = if spec.prbs > 255 { 0 } else { spec.prbs as u8 };
    let common = cplane::CommonSection { section_id, rb: false, sym_inc: false, start_prbc: 0, num_prbc, re_mask: 0xFFF, num_symbol: SYMBOLS_PER_SLOT };
    Ok(cplane::MessageRepr {
        header: cplane::CommonHeader {
            app: slot_header(t, dir),
            number_of_sections: 1,
            fields: cplane::TypeFields::Type1 { ud_comp_hdr: spec.comp, reserved: 0 },
        },
        sections: vec![cplane::SectionRepr {
            fields: cplane::SectionFields::Type1 { common, beam_id: 1 + ant as u16 },
            ci_samples: &[],
            extensions: vec![],
        }],
        trailer: &[],
    })
}

/// Section type 3 for a long-format-free PRACH occasion (format A/B/C,
/// 12 PRBs at the bottom of the carrier) on the antenna's PRACH eAxC.
fn cplane_type3_prach(spec: &CarrierSpec, t: SlotTime, ant: u8) -> Result<cplane::MessageRepr<'static>> {
    let common = cplane::CommonSection { section_id: 3, rb: false, sym_inc: false, start_prbc: 0, num_prbc: PRACH_PRBS as u8, re_mask: 0xFFF, num_symbol: PRACH_SYMBOLS };
    // Half the carrier below its centre, in PRACH subcarrier units (here
    // the same spacing as the carrier): the usual freqOffset of the lowest PRB.
    let freq_offset = -(spec.prbs as i32 * RES_PER_PRB as i32 / 2);
    Ok(cplane::MessageRepr {
        header: cplane::CommonHeader {
            app: slot_header(t, 0),
            number_of_sections: 1,
            fields: cplane::TypeFields::Type3 {
                time_offset: 0,
                frame_structure: cplane::FrameStructure { fft_size: 12, scs: spec.numerology },
                cp_length: 0,
                ud_comp_hdr: spec.prach_comp.unwrap_or(spec.comp),
            },
        },
        sections: vec![cplane::SectionRepr {
            fields: cplane::SectionFields::Type3 { common, beam_id: 1 + ant as u16, freq_offset, reserved: 0 },
            ci_samples: &[],
            extensions: vec![],
        }],
        trailer: &[],
    })
}

#[cfg(test)]
mod tests;
