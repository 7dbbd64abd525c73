//! The frames a bench sends: whole slots made once by gen's
//! [`Generator`] and sent round and round, so the offered rate is the
//! port's and the device's, never the signal generator's.
//!
//! The pool spans whole radio frames (frameId 0 to `radio_frames - 1`),
//! so each frame it holds is named by its flow, slot time, symbol and
//! first PRB: [`FrameKey`], the same whether read from the frame sent or
//! from the frame received after the device changed its eAxC layout or
//! compression. Each lap moves frameId on by the pool's radio frames, so
//! `frameId / RADIO_FRAMES` tells [`LAPS`] laps apart (the IQ stays the
//! signal of `frameId mod RADIO_FRAMES`, which the receiver checks
//! against), and seqIds run on across laps: each lap adds the flow's
//! message count.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ecpri::frame::{Body, DecodeConfig, FrameRepr};
use ecpri::uplane::CompHdrMode;
use ecpri::EaxcLayout;
use fhgate::traffic::{CarrierSpec, GenFrame, Generator};

/// What identifies one frame of the pool, read from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameKey {
    /// The flow it belongs to.
    pub flow: FlowKey,
    /// frameId, subframeId, slotId.
    pub time: (u8, u8, u8),
    /// symbolId (0 for C-plane).
    pub symbol: u8,
    /// startPrbu of the first section (U-plane), section type (C-plane).
    pub first: u16,
}

/// A flow: plane (`U` or `C`), dataDirection (1 DL, 0 UL), and the
/// values of the eAxC fields (DU port, band sector, CC, RU port), which
/// an eAxC remap keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// `U` or `C`.
    pub plane: &'static str,
    /// dataDirection.
    pub dir: u8,
    /// DU port, band sector, CC, RU port.
    pub eaxc: [u16; 4],
}

impl FlowKey {
    /// `U DL 1:0:0:3`, as reports print a flow.
    pub fn name(&self) -> String {
        let [d, b, c, r] = self.eaxc;
        format!("{} {} {d}:{b}:{c}:{r}", self.plane, super::super::dir_name(self.dir))
    }

    /// The flow of an eAxC ID read with `layout`.
    pub fn of(plane: &'static str, dir: u8, eaxc: u16, layout: &EaxcLayout) -> FlowKey {
        let e = layout.split(eaxc);
        FlowKey { plane, dir, eaxc: [e.du_port, e.band_sector, e.cc, e.ru_port] }
    }
}

/// The key and seqId of a decoded frame (its first message), or `None`
/// for messages bench does not send.
pub fn key_of(fr: &FrameRepr<'_>, layout: &EaxcLayout) -> Option<(FrameKey, u8)> {
    let m = fr.messages().first()?;
    match &m.body {
        Body::IqData { pc_id, seq_id, uplane, .. } => {
            let h = uplane.header;
            let first = uplane.sections.first().map_or(0, |s| s.start_prbu);
            let flow = FlowKey::of("U", h.data_direction, *pc_id, layout);
            Some((FrameKey { flow, time: (h.frame_id, h.subframe_id, h.slot_id), symbol: h.symbol_id, first }, seq_id.seq_id))
        }
        Body::RtControl { rtc_id, seq_id, cplane } => {
            let a = cplane.header.app;
            let flow = FlowKey::of("C", a.data_direction, *rtc_id, layout);
            let first = cplane.header.fields.section_type() as u16;
            Some((FrameKey { flow, time: (a.frame_id, a.subframe_id, a.slot_id), symbol: 0, first }, seq_id.seq_id))
        }
        _ => None,
    }
}

/// One frame of the pool.
pub struct PoolFrame {
    /// The bytes as generated (lap 0).
    pub data: Vec<u8>,
    /// Index into [`Pool::flows`].
    pub flow: u16,
    /// Byte offset of ecpriSeqid's seqId.
    pub seq_at: usize,
    /// seqId in lap 0.
    pub seq0: u8,
    /// frameId in lap 0 (below [`RADIO_FRAMES`]); its byte follows the seqId's by 3.
    pub frame0: u8,
    /// What one lap adds to the seqId (the flow's messages per lap, mod 256).
    pub lap_step: u8,
    /// Its place among its flow's frames in a lap.
    pub in_flow: u32,
    /// Its flow's frames in a lap.
    pub flow_len: u32,
    /// Whether it is a U-plane frame (carries IQ).
    pub uplane: bool,
}

impl PoolFrame {
    /// The seqId this frame carries in lap `lap`.
    pub fn seq(&self, lap: u64) -> u8 {
        self.seq0.wrapping_add((lap as u8).wrapping_mul(self.lap_step))
    }

    /// The frameId this frame carries in lap `lap`.
    pub fn frame_id(&self, lap: u64) -> u8 {
        (self.frame0 as u64 + RADIO_FRAMES * (lap % LAPS)) as u8
    }

    /// Its place in its flow's sequence over [`LAPS`] laps, given its lap
    /// modulo [`LAPS`]: positions compare modulo `LAPS * flow_len`.
    pub fn position(&self, lap: u64) -> u64 {
        (lap % LAPS) * self.flow_len as u64 + self.in_flow as u64
    }

    /// Byte offset of the frameId (the application header's second byte).
    pub fn frame_at(&self) -> usize {
        self.seq_at + 3
    }
}

/// The frames of whole radio frames of a carrier, and how to find one.
pub struct Pool {
    /// In sending order.
    pub frames: Vec<PoolFrame>,
    /// Every flow the pool sends.
    pub flows: Vec<FlowKey>,
    /// Slots in the pool.
    pub slots: u64,
    /// One slot's duration (the carrier in real time sends the pool in `slots` of them).
    pub slot_duration: Duration,
    index: HashMap<FrameKey, u32>,
}

/// Radio frames (10 ms each) the pool spans.
pub const RADIO_FRAMES: u64 = 2;
/// Laps that frameId tells apart.
pub const LAPS: u64 = 256 / RADIO_FRAMES;

impl Pool {
    /// Generates `RADIO_FRAMES` radio frames of the carrier `spec`.
    pub fn new(spec: &CarrierSpec) -> Result<Pool> {
        let mut gen = Generator::new(spec)?;
        let slots = RADIO_FRAMES * 10 << spec.numerology;
        let mut made: Vec<GenFrame> = Vec::new();
        for _ in 0..slots {
            gen.next_slot(&mut made)?;
        }
        let cfg = DecodeConfig {
            eaxc: spec.eaxc,
            dl_comp: spec.comp,
            ul_comp: spec.comp,
            comp_hdr: if spec.comp_hdr { CompHdrMode::Present } else { CompHdrMode::Absent },
            udp_port: None,
            carrier_prbs: spec.prbs,
        };
        let mut flows: Vec<FlowKey> = Vec::new();
        let mut flow_ids: HashMap<FlowKey, u16> = HashMap::new();
        let mut per_flow: Vec<u32> = Vec::new();
        let mut index = HashMap::new();
        let mut frames = Vec::with_capacity(made.len());
        for (i, f) in made.into_iter().enumerate() {
            let fr = FrameRepr::parse(&f.data, &cfg).with_context(|| format!("bench's own frame {i} does not decode"))?;
            let Some((key, seq)) = key_of(&fr, &spec.eaxc) else { bail!("bench's own frame {i} carries no U- or C-plane message") };
            let loc = ecpri::frame::locate(&f.data, None)?;
            let seq_at = loc.ecpri.map(|r| r.start + 6).context("bench's own frame is not eCPRI")?;
            let flow = *flow_ids.entry(key.flow).or_insert_with(|| {
                flows.push(key.flow);
                per_flow.push(0);
                (flows.len() - 1) as u16
            });
            let in_flow = per_flow[flow as usize];
            per_flow[flow as usize] += 1;
            if index.insert(key, i as u32).is_some() {
                bail!("two frames of the pool share the key {key:?}");
            }
            frames.push(PoolFrame { uplane: key.flow.plane == "U", data: f.data, flow, seq_at, seq0: seq, frame0: key.time.0, lap_step: 0, in_flow, flow_len: 0 });
        }
        for f in &mut frames {
            f.flow_len = per_flow[f.flow as usize];
            f.lap_step = f.flow_len as u8;
        }
        Ok(Pool { frames, flows, slots, slot_duration: gen.slot_duration(), index })
    }

    /// The pool position of the frame with `key`, and its lap modulo [`LAPS`].
    pub fn find(&self, key: &FrameKey) -> Option<(usize, u64)> {
        let mut k = *key;
        k.time.0 = (k.time.0 as u64 % RADIO_FRAMES) as u8;
        self.index.get(&k).map(|&i| (i as usize, key.time.0 as u64 / RADIO_FRAMES))
    }

    /// Frames per second of the carrier in real time.
    pub fn realtime_fps(&self) -> f64 {
        self.frames.len() as f64 / (self.slots as f64 * self.slot_duration.as_secs_f64())
    }

    /// Mean frame length in bytes.
    pub fn mean_frame_bytes(&self) -> f64 {
        self.frames.iter().map(|f| f.data.len()).sum::<usize>() as f64 / self.frames.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_is_found_by_its_own_key_and_laps_change_seq_ids() {
        let spec = CarrierSpec { prbs: 51, antennas: 2, mtu: 1500, prach: true, ..CarrierSpec::default() };
        let p = Pool::new(&spec).unwrap();
        // 40 slots × (2 antennas × (2 C1 + C3) + 14 symbols × 2 antennas).
        assert_eq!(p.slots, 40);
        assert_eq!(p.frames.len(), 40 * (6 + 28));
        assert_eq!(p.flows.len(), 2 * 3 + 2, "per antenna C DL, C UL, PRACH C UL; U DL");
        let cfg = DecodeConfig { eaxc: spec.eaxc, dl_comp: spec.comp, ul_comp: spec.comp, carrier_prbs: 51, ..DecodeConfig::default() };
        for (i, f) in p.frames.iter().enumerate() {
            let fr = FrameRepr::parse(&f.data, &cfg).unwrap();
            let (k, s) = key_of(&fr, &spec.eaxc).unwrap();
            assert_eq!(p.find(&k), Some((i, 0)));
            assert_eq!(s, f.seq0);
            assert_eq!(f.data[f.seq_at], f.seq0, "seq_at points at the seqId");
            assert_eq!(f.data[f.frame_at()], f.frame0, "frame_at points at the frameId");
            assert_eq!(f.frame_id(LAPS + 3), f.frame0 + 6, "laps wrap at LAPS");
            let mut later = k;
            later.time.0 = f.frame_id(5);
            assert_eq!(p.find(&later), Some((i, 5)), "lap 5 is found by its frameId");
        }
        // 34 frames a slot, 2000 slots a second at µ 1. A U-plane flow sends 14 × 40 = 560 messages a lap: 560 mod 256 = 48.
        let u = p.frames.iter().find(|f| f.uplane).unwrap();
        assert_eq!(u.lap_step, 48);
        assert_eq!(u.flow_len, 560);
        let positions: Vec<u64> = p.frames.iter().filter(|f| f.flow == u.flow).map(|f| f.position(1)).collect();
        assert_eq!(positions, (560..1120).collect::<Vec<u64>>(), "a flow's frames take consecutive places");
        assert_eq!(u.seq(1), u.seq0.wrapping_add(48));
        assert!(p.realtime_fps() > 67_000.0 && p.realtime_fps() < 69_000.0, "{}", p.realtime_fps());
    }
}
