//! SIGHUP with a control API: the reload goes through the same [`State`]
//! as API calls, on the same thread, so the two cannot interleave and
//! neither acts on a picture the other has changed. A translator whose
//! file, config table or limits changed becomes a new version of its
//! name, cut over at every stage that runs that name *now* (which, after
//! API swaps or chain edits, may not be where the file puts it); a stage
//! the API moved to another translator keeps it. The running chains
//! with the new versions are checked against the profiles first (the same
//! [`State::cut_checked`] as every API change), and all stages are cut
//! over at once or none.

use std::sync::Arc;
use std::time::Instant;

use super::state::{State, Version};
use super::ApiError;
use crate::config::TranslatorConfig;
use crate::pipeline::runner::Running;
use crate::translate::TranslatorSpec;

/// A translator a reload found changed in the file.
pub struct Reloaded {
    /// Its spec, compiled and built from the file.
    pub spec: Arc<TranslatorSpec>,
    /// Its table in the file.
    pub file: TranslatorConfig,
    /// FNV-1a 64 of its module file, hex.
    pub hash: String,
}

impl State {
    /// Records each of `changed` as a new version of its name and cuts it
    /// over where that name runs. Returns the stages cut over, as
    /// `(chain, stage, name)`; an error changes nothing.
    pub fn reload(&mut self, changed: Vec<Reloaded>, running: &mut [(&str, Running)]) -> Result<Vec<(usize, usize, String)>, ApiError> {
        // Where each changed name runs now, checked and cut over as one change.
        let targets: Vec<_> = changed.iter().flat_map(|r| self.stages_running(&r.file.name).into_iter().map(|(ci, si)| (ci, si, r.spec.clone()))).collect();
        if !targets.is_empty() {
            self.cut_checked(running, &targets, Instant::now())?;
        }
        let mut cut = Vec::new();
        for r in changed {
            let name = r.file.name.clone();
            let v = Version { spec: r.spec, source: r.file.path.display().to_string(), hash: r.hash, config: r.file.config, policy: r.file.fault_policy };
            let versions = self.translators.entry(name.clone()).or_default();
            versions.push(v);
            let new = versions.len() - 1;
            for &(ci, si, _) in &targets {
                let st = &mut self.chains[ci].1[si];
                if st.current.0 != name {
                    continue;
                }
                let prev = std::mem::replace(&mut st.current, (name.clone(), new));
                st.history.push(prev);
                cut.push((ci, si, name.clone()));
            }
        }
        Ok(cut)
    }
}
