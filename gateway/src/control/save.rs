//! `config save`: the running configuration as a TOML file `run -c`
//! accepts, so that what was tuned live can be kept. The file the gateway
//! started from is the base (sides, pipeline, profiles, control, ...);
//! its `[[translator]]` and `[[chain]]` tables are replaced by what runs
//! now. The file is staged beside its destination (`io::output`), so a
//! reader never sees half a file and nothing is overwritten unasked.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::state::{State, Version};
use super::ApiError;
use crate::io::output;
use crate::config::{unflatten_pairs, FaultPolicyConfig, GatewayConfig, TranslatorConfig};

/// Renders the running configuration and writes it to `path`.
pub fn save(state: &State, path: &Path, force: bool) -> Result<Value, ApiError> {
    let text = render(state)?;
    write_new(path, &text, force)?;
    let cfg = GatewayConfig::from_toml(&text).map_err(|e| ApiError { status: 500, message: format!("the saved file does not parse back: {e}") })?;
    Ok(json!({ "path": path, "bytes": text.len(), "translators": cfg.translators.len(), "chains": cfg.chains.len(), "replaced": force }))
}

fn policy_text(p: &FaultPolicyConfig, name_of: &dyn Fn(&str) -> String) -> String {
    match p {
        FaultPolicyConfig::Pass => "pass".into(),
        FaultPolicyConfig::Drop => "drop".into(),
        FaultPolicyConfig::Fallback(f) => format!("fallback:{}", name_of(f)),
    }
}

/// A `[[translator]]` table from a loaded version.
fn version_table(name: &str, v: &Version, name_of: &dyn Fn(&str) -> String) -> Result<toml::Table, ApiError> {
    if v.source == "upload" {
        return Err(ApiError::conflict(format!("translator {name} runs a module uploaded through the API: the gateway has no file of it to name; load it from a path first")));
    }
    let path = std::path::absolute(&v.source).map_err(|e| ApiError::conflict(format!("translator {name}: {}: {e}", v.source)))?;
    let config = unflatten_pairs(&v.config).map_err(|e| ApiError::conflict(format!("translator {name}: {e}")))?;
    let l = &v.spec.limits;
    let mut t = toml::Table::new();
    t.insert("name".into(), name.into());
    t.insert("path".into(), path.display().to_string().into());
    t.insert("config".into(), toml::Value::Table(config));
    t.insert("memory_limit_mib".into(), ((l.memory >> 20) as i64).into());
    t.insert("deadline_us".into(), (l.deadline.as_micros() as i64).into());
    t.insert("fault_policy".into(), policy_text(&v.policy, name_of).into());
    t.insert("fault_limit".into(), i64::from(v.spec.fault_limit.faults).into());
    t.insert("fault_window_s".into(), v.spec.fault_limit.within.as_secs_f64().into());
    Ok(t)
}

/// A `[[translator]]` table as the start-up file gave it (a fallback no chain runs).
fn file_table(t: &TranslatorConfig) -> Result<toml::Table, ApiError> {
    let mut out = toml::Table::new();
    let path = std::path::absolute(&t.path).map_err(|e| ApiError::conflict(format!("translator {}: {}: {e}", t.name, t.path.display())))?;
    out.insert("name".into(), t.name.clone().into());
    out.insert("path".into(), path.display().to_string().into());
    out.insert("config".into(), toml::Value::Table(unflatten_pairs(&t.config).map_err(|e| ApiError::conflict(format!("translator {}: {e}", t.name)))?));
    out.insert("memory_limit_mib".into(), ((t.memory_limit >> 20) as i64).into());
    out.insert("deadline_us".into(), (t.deadline.as_micros() as i64).into());
    out.insert("fault_policy".into(), policy_text(&t.fault_policy, &|f| f.to_string()).into());
    out.insert("fault_limit".into(), i64::from(t.fault_limit).into());
    out.insert("fault_window_s".into(), t.fault_window.as_secs_f64().into());
    Ok(out)
}

/// The running configuration as TOML. A name of which one version runs
/// keeps its name; one of which several versions run (on different
/// stages) is written once per version as `NAME_vN`.
pub fn render(state: &State) -> Result<String, ApiError> {
    let mut table: toml::Table = toml::from_str(&state.base.text).map_err(|e| ApiError { status: 500, message: format!("the start-up file no longer parses: {e}") })?;
    // Every (name, version) a stage runs, in chain order.
    let mut used: Vec<(String, usize)> = Vec::new();
    for (_, stages) in &state.chains {
        for st in stages {
            if !used.contains(&st.current) {
                used.push(st.current.clone());
            }
        }
    }
    let mut versions_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, _) in &used {
        *versions_of.entry(n.as_str()).or_default() += 1;
    }
    let saved_name = |n: &str, v: usize| if versions_of.get(n).copied().unwrap_or(0) > 1 { format!("{n}_v{}", v + 1) } else { n.to_string() };
    let mut names: Vec<String> = used.iter().map(|(n, v)| saved_name(n, *v)).collect();
    // Fallbacks named by a running translator's policy and run by no chain come from the file.
    let mut extra = Vec::new();
    for (n, v) in &used {
        if let FaultPolicyConfig::Fallback(f) = &state.translators[n][*v].policy {
            if versions_of.contains_key(f.as_str()) || extra.iter().any(|t: &&TranslatorConfig| &t.name == f) {
                continue;
            }
            let t = state.base.translators.iter().find(|t| &t.name == f).ok_or_else(|| ApiError::conflict(format!("translator {n}: its fallback `{f}` is not in the start-up file")))?;
            extra.push(t);
        }
    }
    names.extend(extra.iter().map(|t| t.name.clone()));
    if let Some(dup) = names.iter().enumerate().find_map(|(i, n)| names[..i].contains(n).then_some(n)) {
        return Err(ApiError::conflict(format!("two running translators would both be saved as `{dup}`; swap one to another name first")));
    }
    // A fallback that runs in several versions is named by its newest running one.
    let fallback_name = |f: &str| match used.iter().filter(|(n, _)| n == f).map(|(_, v)| *v).max() {
        Some(v) => saved_name(f, v),
        None => f.to_string(),
    };
    let mut translators = Vec::new();
    for (n, v) in &used {
        translators.push(toml::Value::Table(version_table(&saved_name(n, *v), &state.translators[n][*v], &fallback_name)?));
    }
    for t in extra {
        translators.push(toml::Value::Table(file_table(t)?));
    }
    let chains: Vec<toml::Value> = state
        .chains
        .iter()
        .map(|(select, stages)| {
            let mut c = toml::Table::new();
            c.insert("select".into(), select.clone().into());
            c.insert("translators".into(), toml::Value::Array(stages.iter().map(|s| saved_name(&s.current.0, s.current.1).into()).collect()));
            toml::Value::Table(c)
        })
        .collect();
    table.insert("translator".into(), toml::Value::Array(translators));
    table.insert("chain".into(), toml::Value::Array(chains));
    let text = toml::to_string(&table).map_err(|e| ApiError { status: 500, message: format!("cannot write TOML: {e}") })?;
    Ok(format!("# Written by `fhgate ctl config save` at {}: the running configuration.\n{text}", super::body::utc_now()))
}

/// Writes `text` to `path` the one way fhgate writes files
/// (`io::output`): staged beside it, replacing an existing file only when
/// `force`, even one that appears meanwhile.
fn write_new(path: &Path, text: &str, force: bool) -> Result<(), ApiError> {
    if !path.is_absolute() {
        return Err(ApiError::bad("path", format!("{}: give an absolute path (the gateway's working directory is not the caller's)", path.display())));
    }
    if path.extension().and_then(|e| e.to_str()) != Some("toml") {
        return Err(ApiError::bad("path", format!("{}: a configuration file ends in .toml", path.display())));
    }
    if path.file_name().is_none() {
        return Err(ApiError::bad("path", format!("{}: not a file path", path.display())));
    }
    if !force && path.symlink_metadata().is_ok() {
        return Err(ApiError::conflict(format!("{} exists; not replacing it (force replaces it)", path.display())));
    }
    let written = if force { output::write_whole(path, text.as_bytes()) } else { output::write_new(path, text.as_bytes()) };
    written.map_err(|e| ApiError::conflict(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::write_new;

    #[test]
    fn never_replaces_unless_forced_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gw.toml");
        write_new(&p, "a = 1\n", false).unwrap();
        let e = write_new(&p, "a = 2\n", false).unwrap_err();
        assert_eq!(e.status, 409, "{e:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a = 1\n");
        write_new(&p, "a = 3\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a = 3\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left behind");
        assert!(write_new(std::path::Path::new("rel.toml"), "", false).unwrap_err().message.starts_with("path:"));
        assert!(write_new(&dir.path().join("x.txt"), "", false).unwrap_err().message.starts_with("path:"));
    }
}
