//! `vlan_retag`: sets, adds or strips the VLAN tag of U-plane and
//! C-plane frames, per plane, so a DU and an RU configured with different
//! VLANs (or one tagging and one not) can talk.
//!
//! Configuration (every key optional; a plane with no key is left alone):
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `mode` | `"set"` (default), `"add"`, `"strip"` | what to do, for both planes |
//! | `u_mode`, `c_mode` | as `mode` | per plane, overriding `mode` |
//! | `u_vlan`, `c_vlan` | 0–4094 (4095 is reserved) | VLAN ID to write |
//! | `u_pcp`, `c_pcp` | 0–7 | priority (PCP) to write |
//! | `tpid` | `0x8100` (default) or `0x88A8` | TPID of an added tag |
//!
//! - `set` rewrites the innermost tag's VID and/or PCP (the one fronthaul
//!   flows are keyed on); an untagged frame gets a tag (VID required).
//! - `add` pushes a new outermost tag (VID required, PCP default 0).
//! - `strip` removes the outermost tag; untagged frames pass unchanged.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::ecpri::ethernet::{VlanTag, TPID_8021AD, TPID_8021Q};
use fhgate_sdk::{
    translator, Config, ConfigError, Counter, Ctx, Error, InitCtx, InitError, Packet, Plane, Translator, Verdict,
};

/// What to do with one plane's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite the innermost tag (add one to untagged frames).
    Set,
    /// Push a new outermost tag.
    Add,
    /// Remove the outermost tag.
    Strip,
}

/// One plane's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneRule {
    /// What to do.
    pub mode: Mode,
    /// VLAN ID to write.
    pub vid: Option<u16>,
    /// PCP to write.
    pub pcp: Option<u8>,
}

/// The translator's state.
#[derive(Debug)]
pub struct VlanRetag {
    u: Option<PlaneRule>,
    c: Option<PlaneRule>,
    tpid: u16,
    retagged: Counter,
    added: Counter,
    stripped: Counter,
}

fn mode(cfg: &Config<'_>, key: &str, default: Mode) -> Result<Mode, ConfigError> {
    let modes = [Mode::Set, Mode::Add, Mode::Strip];
    let d = modes.iter().position(|m| *m == default).unwrap_or(0);
    Ok(modes[cfg.choice(key, &["set", "add", "strip"], d)?])
}

fn rule(cfg: &Config<'_>, p: &str, default: Mode) -> Result<Option<PlaneRule>, ConfigError> {
    let (mk, vk, pk) = match p {
        "u" => ("u_mode", "u_vlan", "u_pcp"),
        _ => ("c_mode", "c_vlan", "c_pcp"),
    };
    let explicit_mode = cfg.contains(mk) || cfg.contains("mode");
    let mode = mode(cfg, mk, default)?;
    let vid = cfg.opt_int_in(vk, 0, i64::from(fhgate_sdk::ecpri::ethernet::MAX_VID))?.map(|v| v as u16);
    let pcp = cfg.opt_int_in(pk, 0, 7)?.map(|v| v as u8);
    if vid.is_none() && pcp.is_none() && !(explicit_mode && mode == Mode::Strip) {
        return Ok(None);
    }
    if mode == Mode::Add && vid.is_none() {
        return Err(ConfigError::invalid(vk, "required when adding a tag"));
    }
    Ok(Some(PlaneRule { mode, vid, pcp }))
}

impl Translator for VlanRetag {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        let default = mode(cfg, "mode", Mode::Set)?;
        let tpid = match cfg.opt_int_in("tpid", 0, 0xFFFF)? {
            None => TPID_8021Q,
            Some(t) if t as u16 == TPID_8021Q || t as u16 == TPID_8021AD => t as u16,
            Some(_) => return Err(ConfigError::invalid("tpid", "must be 0x8100 or 0x88A8").into()),
        };
        let (u, c) = (rule(cfg, "u", default)?, rule(cfg, "c", default)?);
        // The innermost VLAN ID (what flows are keyed on), from the
        // U-plane rule, or the C-plane's when only it is set.
        match u.or(c) {
            Some(PlaneRule { mode: Mode::Set, vid: Some(v), .. }) => ctx.declare_vlan(None, None, Some(v))?,
            Some(PlaneRule { mode: Mode::Add, vid: Some(v), .. }) => ctx.declare_vlan(None, Some(None), Some(v))?,
            Some(PlaneRule { mode: Mode::Strip, .. }) => ctx.declare_vlan(None, None, None)?,
            _ => {}
        }
        Ok(VlanRetag {
            u,
            c,
            tpid,
            retagged: ctx.counter("retagged")?,
            added: ctx.counter("added")?,
            stripped: ctx.counter("stripped")?,
        })
    }

    fn translate(&mut self, pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        let rule = match pkt.plane() {
            Plane::U => self.u,
            Plane::C => self.c,
            Plane::Other => None,
        };
        let Some(r) = rule else { return Ok(Verdict::Forward) };
        let tags = pkt.ethernet()?.tag_count();
        match r.mode {
            Mode::Strip => {
                if pkt.pop_vlan()?.is_none() {
                    return Ok(Verdict::Forward);
                }
                ctx.inc(self.stripped);
            }
            Mode::Set if tags > 0 => {
                let mut eth = pkt.ethernet_mut()?;
                if let Some(v) = r.vid {
                    eth.set_vid(tags - 1, v);
                }
                if let Some(p) = r.pcp {
                    eth.set_pcp(tags - 1, p);
                }
                ctx.inc(self.retagged);
            }
            Mode::Set | Mode::Add => {
                let vid = r.vid.ok_or(Error::Invalid("cannot tag an untagged frame without a VLAN ID"))?;
                let tpid = if tags == 0 { TPID_8021Q } else { self.tpid };
                pkt.push_vlan(VlanTag { tpid, pcp: r.pcp.unwrap_or(0), dei: false, vid })?;
                ctx.inc(self.added);
            }
        }
        Ok(Verdict::Modified)
    }
}

translator! {
    name: "vlan_retag",
    version: "1.0.0",
    planes: "u,c",
    plan: ["vlan:u_vlan={ru.vlan},c_vlan={ru.vlan}", "vlan:u_vlan={du.vlan},c_vlan={du.vlan}", "vlan:mode=\"strip\""],
    translator: VlanRetag,
}

#[cfg(test)]
mod tests;
