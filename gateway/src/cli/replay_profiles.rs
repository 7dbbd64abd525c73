//! `replay --du-profile du.toml --ru-profile ru.toml`: the sides as
//! profiles. The incoming side's profile replaces the decoding flags; with
//! no `--translator` the chain is derived from the two profiles (as `fhgate
//! plan` does); and the chain is checked against the receiving side's
//! profile before a packet moves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use ecpri::frame::DecodeConfig;

use fhgate::config::profile::Profile;
use fhgate::plan::{flow_starts, format_of_decode, format_of_profile, refusal, verify, Declarations, FlowStart, How, Verdict};
use fhgate::translate::effect::Scope;
use fhgate::translate::{ChainSpec, Limits, Selector, TranslatorSpec};

/// The two profiles given, if any.
pub struct Profiles {
    /// `--du-profile`.
    pub du: Option<Profile>,
    /// `--ru-profile`.
    pub ru: Option<Profile>,
}

impl Profiles {
    /// Loads and checks the files given.
    pub fn load(du: Option<&Path>, ru: Option<&Path>) -> Result<Profiles> {
        Ok(Profiles { du: du.map(Profile::load).transpose()?, ru: ru.map(Profile::load).transpose()? })
    }

    /// The profile of the side traffic comes from, and of the side it goes to.
    fn ends(&self, dir: Scope) -> (Option<&Profile>, Option<&Profile>) {
        if dir == Scope::Ul {
            (self.ru.as_ref(), self.du.as_ref())
        } else {
            (self.du.as_ref(), self.ru.as_ref())
        }
    }

    /// `decode` with the incoming side's profile keys over it.
    pub fn ingress_decode(&self, decode: &DecodeConfig, dir: Scope) -> DecodeConfig {
        let Some(p) = self.ends(dir).0 else { return *decode };
        let mut d = format_of_profile(p).decode_over(decode);
        if let Some(c) = p.carrier_prbs {
            d.carrier_prbs = c;
        }
        d
    }

    /// The PRACH and SRS flows with a compression of their own that come
    /// in, in the incoming side's format (`decode`, its profile over the flags).
    pub fn flow_starts(&self, decode: &DecodeConfig, dir: Scope) -> Vec<FlowStart> {
        let (from, to) = self.ends(dir);
        let none = Profile::default();
        flow_starts(from.unwrap_or(&none), to.unwrap_or(&none), &format_of_decode(decode), dir).into_iter().map(|(s, _)| s).collect()
    }

    /// The receiving side's MTU, if its profile gives one.
    pub fn egress_mtu(&self, dir: Scope) -> Option<usize> {
        self.ends(dir).1.and_then(|p| p.mtu)
    }

    /// With both profiles and no `--translator`: the chain `fhgate plan`
    /// derives for direction `dir` from the translators in `dir_`
    /// (default: beside the binary). A difference nothing bridges is an
    /// error naming it.
    pub fn derived_chain(&self, du_file: &Path, ru_file: &Path, translators: Option<&Path>, dir: Scope) -> Result<Vec<ChainSpec>> {
        let (_, _, plan) = super::plan::make_plan(du_file, ru_file, translators)?;
        let flow = fhgate::plan::fold::flow_name(dir);
        let mut lines = Vec::new();
        for l in &plan.lines {
            // The C-plane travels DU -> RU, with the DL chain.
            if l.flow.starts_with(flow) || l.flow == "carrier" || (dir == Scope::Dl && l.flow.starts_with("C-plane")) {
                tracing::info!("plan: {}", plan.line_text(l));
                if matches!(l.how, How::Unbridged(_)) {
                    lines.push(plan.line_text(l));
                }
            }
        }
        if !lines.is_empty() {
            bail!("the profiles differ in ways no available translator bridges (nothing was replayed):\n  {}", lines.join("\n  "));
        }
        let steps = if dir == Scope::Ul { &plan.ul } else { &plan.dl };
        // Replay is offline: a generous deadline, as for --translator.
        let limits = Limits { deadline: std::time::Duration::from_millis(50), ..Default::default() };
        let spec = |s: &fhgate::plan::Step| Arc::new(TranslatorSpec::new(s.spec.module.clone()).with_config(&s.config).with_limits(limits).with_sink(Arc::new(fhgate::logging::TracingLog)));
        let mut chains = Vec::new();
        // Chains of their own (PRACH/SRS eAxCs) first: the first selector that matches takes a packet.
        for o in plan.own.iter().filter(|_| dir == Scope::Ul) {
            let selector = Selector::parse(&o.select()).map_err(|e| anyhow::anyhow!("{e}"))?;
            chains.push(ChainSpec { selector, translators: o.steps.iter().map(spec).collect() });
        }
        if !steps.is_empty() {
            chains.push(ChainSpec { selector: Selector::ALL, translators: steps.iter().map(spec).collect() });
        }
        Ok(chains)
    }

    /// DU profile ∘ chain = RU profile (or back, for `dir` UL) when both
    /// are given; refuses a mismatch naming flow, field, what the chain
    /// gives and what the profile wants.
    pub fn check(&self, chains: &[ChainSpec], dir: Scope) -> Result<()> {
        let (Some(du), Some(ru)) = (&self.du, &self.ru) else { return Ok(()) };
        let decl = Declarations::read(chains)?;
        match verify(chains, &decl, du, ru, dir)? {
            Verdict::Verified(_) => Ok(()),
            Verdict::Mismatch(m) => Err(anyhow!("{}", refusal(&m))),
            Verdict::Unverifiable(e) => {
                tracing::warn!("not verified against the profiles: {e}");
                Ok(())
            }
        }
    }
}

/// The files, for [`Profiles::derived_chain`].
pub fn both(du: &Option<PathBuf>, ru: &Option<PathBuf>) -> Option<(PathBuf, PathBuf)> {
    Some((du.clone()?, ru.clone()?))
}
