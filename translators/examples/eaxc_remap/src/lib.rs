//! `eaxc_remap`: maps eAxC IDs (ecpriPcid / ecpriRtcid) between the DU's
//! and the RU's view, for a DU and an RU that split the 16 bits
//! differently, number their ports differently, or put PRACH on other RU
//! ports.
//!
//! Configuration:
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `from` | `"4,4,4,4"` (default) | the DU side's bit widths: DU port, band sector, CC, RU port |
//! | `to` | `"4,4,4,4"` (default) | the RU side's bit widths |
//! | `map.<id>` | eAxC ID | explicit entries, DU side → RU side (`map.0x0001=0x0101`); they win over the layouts and get no PRACH offset |
//! | `prach_offset` | integer, default 0 | added to the RU port of PRACH flows |
//! | `prach_eaxc` | array of DU-side IDs | flows that are PRACH |
//! | `prach_learn` | `true` (default) | a C-plane section type 3 message marks its eAxC as PRACH for all traffic (the type 3 message itself always gets the offset) |
//! | `ul` | `"inverse"` (default), `"forward"` | UL U-plane (RU → DU) gets the inverse mapping, or the same one |
//!
//! DU → RU traffic (DL U-plane, every C-plane message, which the DU sends
//! for both directions) is mapped forward: split under `from`, PRACH
//! offset added, joined under `to`. RU → DU traffic (UL U-plane) is mapped
//! back: by the IDs this instance has mapped forward (so PRACH offsets
//! learned from the C-plane undo exactly), else by the layouts alone.
//! Every message of a frame is mapped (concatenated ones too). An ID
//! whose fields do not fit the other layout is an error: the frame is
//! handled by `on_error`, unchanged.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::ecpri::cplane::CplanePacket;
use fhgate_sdk::ecpri::header::message_type;
use fhgate_sdk::ecpri::EaxcLayout;
use fhgate_sdk::frame::ID_SEQ_LEN;
use fhgate_sdk::{
    translator, Config, ConfigError, Counter, Ctx, Direction, Error, FlowTable, InitCtx, InitError, Message, Packet,
    Translator, Value, Verdict,
};

/// Most explicit `map.*` entries.
pub const MAX_MAP: usize = 256;

/// The translator's state.
pub struct EaxcRemap {
    from: EaxcLayout,
    to: EaxcLayout,
    map: FlowTable<u16, u16, 512>,
    /// RU-side ID → DU-side ID, for every ID mapped forward.
    reverse: FlowTable<u16, u16, 2048>,
    /// DU-side IDs known to be PRACH.
    prach: FlowTable<u16, (), 256>,
    prach_offset: u16,
    prach_learn: bool,
    ul_inverse: bool,
    remapped: Counter,
    learned: Counter,
}

impl core::fmt::Debug for EaxcRemap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EaxcRemap").field("from", &self.from).field("to", &self.to).finish_non_exhaustive()
    }
}

fn layout(cfg: &Config<'_>, key: &str) -> Result<EaxcLayout, ConfigError> {
    match cfg.get(key) {
        None => Ok(EaxcLayout::default()),
        Some(Value::Str(s)) => EaxcLayout::from_spec(s)
            .ok_or(ConfigError::invalid(key, "expected four widths adding up to 16, as \"4,4,4,4\"")),
        Some(_) => Err(ConfigError::invalid(key, "expected a string such as \"4,4,4,4\"")),
    }
}

fn eaxc_id(key: &str, v: Value<'_>) -> Result<u16, ConfigError> {
    match v.as_int() {
        Some(i @ 0..=0xFFFF) => Ok(i as u16),
        _ => Err(ConfigError::invalid(key, "expected an eAxC ID, 0 to 0xFFFF")),
    }
}

impl EaxcRemap {
    fn is_prach(&self, du_id: u16) -> bool {
        self.prach.get(du_id).is_some()
    }

    /// DU side → RU side.
    fn forward(&self, x: u16, prach: bool) -> Result<u16, Error> {
        if let Some(&y) = self.map.get(x) {
            return Ok(y);
        }
        let mut id = self.from.split(x);
        if prach || self.is_prach(x) {
            id.ru_port += self.prach_offset;
        }
        self.to.join(id).map_err(|_| Error::Invalid("eAxC ID does not fit the `to` layout"))
    }

    /// RU side → DU side.
    fn inverse(&self, y: u16) -> Result<u16, Error> {
        if let Some(&x) = self.reverse.get(y) {
            return Ok(x);
        }
        self.from.join(self.to.split(y)).map_err(|_| Error::Invalid("eAxC ID does not fit the `from` layout"))
    }

    /// Whether a message is a C-plane section type 3 (PRACH) message.
    fn is_type3(pkt: &Packet<'_>, m: &Message) -> bool {
        m.msg_type == message_type::RT_CONTROL
            && m.payload_size > ID_SEQ_LEN
            && CplanePacket::new_checked(&pkt.payload(m)[ID_SEQ_LEN..]).is_ok_and(|c| c.section_type() == 3)
    }

    /// The new ID of message `m`, and whether it goes forward.
    fn map_message(&self, pkt: &Packet<'_>, m: &Message) -> Result<Option<(u16, bool)>, Error> {
        let Some(x) = pkt.eaxc_of(m) else { return Ok(None) };
        let forward = m.msg_type == message_type::RT_CONTROL || pkt.direction() == Direction::Dl || !self.ul_inverse;
        let y = if forward { self.forward(x, Self::is_type3(pkt, m))? } else { self.inverse(x)? };
        Ok(Some((y, forward)))
    }
}

impl Translator for EaxcRemap {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let mut t = EaxcRemap {
            from: layout(cfg, "from")?,
            to: layout(cfg, "to")?,
            map: FlowTable::new(0),
            reverse: FlowTable::new(0),
            prach: FlowTable::new(()),
            prach_offset: cfg.opt_int_in("prach_offset", 0, 0xFFFF)?.unwrap_or(0) as u16,
            prach_learn: cfg.bool_or("prach_learn", true)?,
            ul_inverse: cfg.choice("ul", &["inverse", "forward"], 0)? == 0,
            remapped: ctx.counter("remapped")?,
            learned: ctx.counter("prach_learned")?,
        };
        // DU -> RU traffic goes from `from` to `to`; UL U-plane back, or
        // forward again with `ul = "forward"`.
        ctx.declare_eaxc_bits(Some(Direction::Dl), Some(t.from), t.to)?;
        if t.ul_inverse {
            ctx.declare_eaxc_bits(Some(Direction::Ul), Some(t.to), t.from)?;
        } else {
            ctx.declare_eaxc_bits(Some(Direction::Ul), Some(t.from), t.to)?;
        }
        let mut n = 0;
        for (k, v) in cfg.prefixed("map.") {
            let key_err = || ConfigError::invalid("map", "keys are eAxC IDs: map.0x0001=0x0101");
            let x = fhgate_sdk::config::parse_int(k).filter(|i| (0..=0xFFFF).contains(i)).ok_or_else(key_err)? as u16;
            let y = eaxc_id("map", v)?;
            n += 1;
            if n > MAX_MAP {
                return Err(ConfigError::invalid("map", "more than 256 entries").into());
            }
            t.map.insert(x, y);
            t.reverse.insert(y, x);
        }
        if let Some(a) = cfg.array("prach_eaxc")? {
            for v in a.iter() {
                let x = eaxc_id("prach_eaxc", v)?;
                if !t.prach.insert(x, ()) {
                    return Err(ConfigError::invalid("prach_eaxc", "more than 255 IDs").into());
                }
                let y = t
                    .forward(x, true)
                    .map_err(|_| ConfigError::invalid("prach_eaxc", "an ID does not fit the `to` layout"))?;
                t.reverse.insert(y, x);
            }
        }
        Ok(t)
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        // Pass 1: learn PRACH flows and check that every message maps, so
        // that a failure leaves the packet untouched.
        for m in pkt.messages() {
            let m = m?;
            if self.prach_learn && Self::is_type3(pkt, &m) {
                if let Some(x) = pkt.eaxc_of(&m) {
                    if self.prach.get(x).is_none() && self.prach.insert(x, ()) {
                        ctx.inc(self.learned);
                    }
                }
            }
            self.map_message(pkt, &m)?;
        }
        // Pass 2: write.
        let mut changed = 0;
        let mut next = Some(pkt.ecpri_offset());
        while let Some(at) = next {
            let m = pkt.message_at(at)?;
            if let (Some(x), Some((y, forward))) = (pkt.eaxc_of(&m), self.map_message(pkt, &m)?) {
                if forward && self.reverse.get(y) != Some(&x) {
                    // Full: the inverse falls back to the layouts.
                    let _ = self.reverse.insert(y, x);
                }
                if x != y {
                    pkt.set_eaxc(&m, y)?;
                    changed += 1;
                }
            }
            next = m.next_offset();
        }
        ctx.add(self.remapped, changed);
        Ok(if changed > 0 { Verdict::Modified } else { Verdict::Forward })
    }
}

translator! {
    name: "eaxc_remap",
    version: "1.0.0",
    planes: "u,c",
    types: "0,2",
    plan: ["eaxc_bits:from=\"{du.eaxc_bits}\",to=\"{ru.eaxc_bits}\""],
    translator: EaxcRemap,
}

#[cfg(test)]
mod tests;
