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
use ecpri::{EaxcId, EaxcLayout, SeqId, UdCompHdr};

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
    /// Add a type-3 PRACH C-plane section per slot (DU side).
    pub prach: bool,
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
            comp_hdr: true,
            eaxc: EaxcLayout::default(),
            vlan: None,
            mtu: 1500,
            slots: 2,
            side: Side::Du,
            prach: false,
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

/// The known test signal: QPSK-like symbols whose power steps down by
/// 6 dB every PRB over a cycle of 4, so BFP exponents vary across a symbol.
/// Depends only on values that the U-plane carries (the eAxC fields, the
/// slot, the symbol and the PRB), so a receiver can rebuild it from the
/// frame it got, whatever eAxC layout or compression it arrives in.
pub fn reference_iq(eaxc: EaxcId, t: SlotTime, symbol: u8, prb: usize, re: usize) -> (i16, i16) {
    reference_iq_keyed(signal_key(eaxc), t, symbol, prb, re)
}

/// The 24 samples (I, Q interleaved) of one PRB of the test signal.
pub fn reference_prb(eaxc: EaxcId, t: SlotTime, symbol: u8, prb: usize) -> [i16; ecpri::iq::SAMPLES_PER_PRB] {
    let key = signal_key(eaxc);
    let mut out = [0i16; ecpri::iq::SAMPLES_PER_PRB];
    for re in 0..RES_PER_PRB {
        let (i, q) = reference_iq_keyed(key, t, symbol, prb, re);
        out[2 * re] = i;
        out[2 * re + 1] = q;
    }
    out
}

fn reference_iq_keyed(key: u16, t: SlotTime, symbol: u8, prb: usize, re: usize) -> (i16, i16) {
    let x = splitmix64(
        (key as u64) << 48
            ^ (t.frame as u64) << 40
            ^ (t.subframe as u64) << 32
            ^ (t.slot as u64) << 24
            ^ (symbol as u64) << 16
            ^ (prb * RES_PER_PRB + re) as u64,
    );
    let amp: i32 = 12_000 >> (prb % 4);
    let lvl = |bits: u64| -> i16 {
        let l = [-3, -1, 1, 3][(bits & 3) as usize];
        (l * amp / 3) as i16
    };
    (lvl(x), lvl(x >> 2))
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
    samples: Vec<i16>,
    iq: Vec<u8>,
    next: u64,
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
            let prach = if spec.prach && spec.side == Side::Du { prach_eaxc_of(spec, ant)? } else { eaxc };
            ants.push((eaxc, spec.eaxc.split(eaxc), prach));
        }
        Ok(Generator {
            eth: eth(spec)?,
            per_frame: prbs_per_frame(spec)?,
            prb_len,
            dir: direction(spec.side),
            ants,
            seq: SeqCounters::default(),
            samples: vec![0i16; spec.prbs as usize * RES_PER_PRB * 2],
            iq: vec![0u8; spec.prbs as usize * prb_len],
            next: 0,
            spec: spec.clone(),
        })
    }

    /// The index of the slot [`Generator::next_slot`] produces next.
    pub fn slot_index(&self) -> u64 {
        self.next
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
                        let (i, q) = reference_iq_keyed(key, t, sym, prb, re);
                        self.samples[(prb * RES_PER_PRB + re) * 2] = i;
                        self.samples[(prb * RES_PER_PRB + re) * 2 + 1] = q;
                    }
                }
                // Truncating, as Annex A.1 writes it, so captures stay byte-exact.
                let written = ecpri::iq::compress(spec.comp, ecpri::iq::Rounding::Truncate, &self.samples, &mut self.iq)
                    .with_context(|| format!("compressing {}", spec.comp))?
                    .len;
                debug_assert_eq!(written, self.iq.len());
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
        self.next += 1;
        Ok(())
    }
}

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
    let common = cplane::CommonSection { section_id: 3, rb: false, sym_inc: false, start_prbc: 0, num_prbc: 12, re_mask: 0xFFF, num_symbol: 12 };
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
                ud_comp_hdr: spec.comp,
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
mod tests {
    use super::*;
    use ecpri::frame::DecodeConfig;

    #[test]
    fn slot_time_numbering() {
        assert_eq!(SlotTime::of(0, 1), SlotTime { frame: 0, subframe: 0, slot: 0 });
        assert_eq!(SlotTime::of(21, 1), SlotTime { frame: 1, subframe: 0, slot: 1 });
        assert_eq!(SlotTime::of(10 * 256, 0), SlotTime { frame: 0, subframe: 0, slot: 0 }, "frameId wraps at 256");
    }

    #[test]
    fn splits_symbols_at_prb_boundaries_under_the_mtu() {
        let spec = CarrierSpec { prbs: 273, antennas: 1, slots: 1, mtu: 1500, comp: UdCompHdr::new(ecpri::CompMethod::Bfp, 8), ..Default::default() };
        let frames = generate(&spec).unwrap();
        let per = prbs_per_frame(&spec).unwrap();
        assert_eq!(per, (1500 - 18) / 25);
        let d = DecodeConfig { dl_comp: spec.comp, ..DecodeConfig::default() };
        let mut covered = vec![0u32; 273];
        for f in &frames {
            assert!(f.data.len() - 14 <= 1500, "Ethernet payload within the MTU");
            let fr = FrameRepr::parse(&f.data, &d).unwrap();
            if let Body::IqData { uplane, .. } = &fr.messages()[0].body {
                if uplane.header.symbol_id == 0 {
                    for s in &uplane.sections {
                        let start = s.start_prbu as usize;
                        for c in &mut covered[start..start + s.num_prbu as usize] {
                            *c += 1;
                        }
                    }
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1), "every PRB of a symbol is sent exactly once");
    }

    #[test]
    fn iq_decodes_back_to_the_reference_signal() {
        let spec = CarrierSpec { prbs: 10, antennas: 2, slots: 1, comp: UdCompHdr::new(ecpri::CompMethod::None, 16), ..Default::default() };
        let d = DecodeConfig::default();
        let mut checked = 0;
        for f in generate(&spec).unwrap() {
            let fr = FrameRepr::parse(&f.data, &d).unwrap();
            if let Body::IqData { pc_id, uplane, .. } = &fr.messages()[0].body {
                let h = uplane.header;
                let t = SlotTime { frame: h.frame_id, subframe: h.subframe_id, slot: h.slot_id };
                let s = &uplane.sections[0];
                let mut out = vec![0i32; 10 * 24];
                ecpri::iq::decompress(spec.comp, s.iq_data, &mut out).unwrap();
                for prb in 0..10 {
                    for re in 0..12 {
                        let (i, q) = reference_iq(d.eaxc.split(*pc_id), t, h.symbol_id, prb, re);
                        assert_eq!((out[(prb * 12 + re) * 2], out[(prb * 12 + re) * 2 + 1]), (i as i32, q as i32));
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 2 * 14);
    }

    #[test]
    fn signal_key_is_the_eaxc_fields_not_their_packing() {
        let l4444 = EaxcLayout::default();
        let l2644 = EaxcLayout::from_spec("2,6,4,4").unwrap();
        let id = EaxcId { du_port: 1, band_sector: 0, cc: 0, ru_port: 3 };
        // Under the default layout the key is the raw ID (captures keep their bytes).
        assert_eq!(signal_key(id), l4444.join(id).unwrap());
        let (a, b) = (l4444.join(id).unwrap(), l2644.join(id).unwrap());
        assert_ne!(a, b, "the remap changes the raw ID");
        let t = SlotTime::of(7, 1);
        assert_eq!(reference_prb(l4444.split(a), t, 3, 5), reference_prb(l2644.split(b), t, 3, 5));
        // Wide fields still give distinct keys.
        let wide = |bs| signal_key(EaxcId { du_port: 0, band_sector: bs, cc: 0, ru_port: 0 });
        assert_ne!(wide(20), wide(21));
    }

    #[test]
    fn slot_by_slot_is_the_same_stream_as_generate() {
        let spec = CarrierSpec { prbs: 30, antennas: 2, slots: 3, prach: true, ..Default::default() };
        let all = generate(&spec).unwrap();
        let mut g = Generator::new(&spec).unwrap();
        let mut parts = Vec::new();
        for n in 0..3 {
            assert_eq!(g.slot_index(), n);
            let before = parts.len();
            g.next_slot(&mut parts).unwrap();
            assert!(parts[before..].iter().all(|f| f.at >= g.slot_duration() * n as u32));
        }
        assert_eq!(all.len(), parts.len());
        assert!(all.iter().zip(&parts).all(|(a, b)| a.data == b.data && a.at == b.at && a.kind == b.kind));
        let kinds = |k| all.iter().filter(|f| f.kind == k).count();
        assert_eq!((kinds(FrameKind::CplaneType1), kinds(FrameKind::CplaneType3)), (3 * 2 * 2, 3 * 2));
        assert_eq!(kinds(FrameKind::Uplane), 3 * 14 * 2);
    }

    #[test]
    fn frame_id_wraps_and_seq_ids_run_on_in_a_long_stream() {
        // µ = 4: 160 slots per radio frame; 256 frames later frameId is 0 again.
        let spec = CarrierSpec { numerology: 4, prbs: 1, antennas: 1, side: Side::Ru, ..Default::default() };
        let d = DecodeConfig { ul_comp: spec.comp, ..DecodeConfig::default() };
        let mut g = Generator::new(&spec).unwrap();
        let mut out = Vec::new();
        let mut seq = 0u8;
        for n in 0..256 * 160 + 1u64 {
            out.clear();
            g.next_slot(&mut out).unwrap();
            if n % 160 != 0 {
                seq = seq.wrapping_add(14);
                continue;
            }
            let fr = FrameRepr::parse(&out[0].data, &d).unwrap();
            let Body::IqData { uplane, seq_id, .. } = &fr.messages()[0].body else { panic!() };
            assert_eq!(uplane.header.frame_id, (n / 160) as u8);
            assert_eq!(seq_id.seq_id, seq);
            seq = seq.wrapping_add(14);
        }
    }

    #[test]
    fn sequence_ids_run_on_per_eaxc_and_plane() {
        let spec = CarrierSpec { prbs: 273, antennas: 2, slots: 2, ..Default::default() };
        let d = DecodeConfig { dl_comp: spec.comp, ..DecodeConfig::default() };
        let mut next: std::collections::HashMap<(u8, u8, u16), u8> = Default::default();
        for f in generate(&spec).unwrap() {
            let fr = FrameRepr::parse(&f.data, &d).unwrap();
            let m = &fr.messages()[0];
            let (id, s) = m.body.eaxc_and_seq().unwrap();
            let dir = match &m.body {
                Body::IqData { uplane, .. } => uplane.header.data_direction,
                Body::RtControl { cplane, .. } => cplane.header.app.data_direction,
                _ => unreachable!(),
            };
            let e = next.entry((m.header.message_type, dir, id)).or_insert(s.seq_id);
            assert_eq!(s.seq_id, *e);
            *e = e.wrapping_add(1);
        }
    }
}
