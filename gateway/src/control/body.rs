//! Request bodies and paths to [`Command`]s. Every refusal is a 4xx whose
//! message names the field (`config.in_width`, `translator`, `chain`).

use std::time::Duration;

use serde_json::{Map, Value};

use super::layout::ChainEdit;
use super::{ApiError, Command, Source};
use crate::pipeline::stats::Stats;

/// Parses a JSON object body (empty means `{}`), refusing keys not in `known`.
fn object(bytes: &[u8], known: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::bad("body", format!("not JSON: {e}")))?;
    let Value::Object(m) = v else { return Err(ApiError::bad("body", "expected a JSON object")) };
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad(k, format!("unknown field; expected one of {}", known.join(", "))));
    }
    Ok(m)
}

fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad(key, format!("expected a string, got {other}"))),
    }
}

fn required(m: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    string(m, key)?.ok_or_else(|| ApiError::bad(key, "missing"))
}

fn number(m: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| ApiError::bad(key, format!("expected a non-negative integer, got {v}"))),
    }
}

/// A config object to `key=value` pairs (values in TOML syntax, nested
/// objects as dotted keys), as a `[[translator]] config` table gives them.
fn config_pairs(v: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Value::Object(m) = v else { return Err(ApiError::bad("config", format!("expected an object, got {v}"))) };
    let mut table = toml::Table::new();
    for (k, v) in m {
        let t = toml::Value::try_from(v).map_err(|e| ApiError::bad(&format!("config.{k}"), format!("{v} has no TOML form: {e}")))?;
        table.insert(k.clone(), t);
    }
    Ok(crate::config::flatten_table(&table))
}

/// `POST /v1/translators` with JSON: `{"name", "path", "config"?, "deadline_us"?}`.
pub fn load_json(bytes: &[u8]) -> Result<Command, ApiError> {
    let m = object(bytes, &["name", "path", "config", "deadline_us"])?;
    Ok(Command::Load {
        name: required(&m, "name")?,
        source: Source::Path(required(&m, "path")?.into()),
        config: config_pairs(m.get("config"))?,
        deadline: number(&m, "deadline_us")?.map(Duration::from_micros),
    })
}

/// `POST /v1/translators?name=N&config=JSON&deadline_us=D` with an
/// `application/wasm` body: the module's bytes.
pub fn upload(query: &str, bytes: Vec<u8>) -> Result<Command, ApiError> {
    let mut m = Map::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (percent_decode(k).map_err(|e| ApiError::bad("query", e))?, percent_decode(v).map_err(|e| ApiError::bad(k, e))?);
        let value = match k.as_str() {
            "config" => serde_json::from_str(&v).map_err(|e| ApiError::bad("config", format!("not JSON: {e}")))?,
            "deadline_us" => Value::from(v.parse::<u64>().map_err(|_| ApiError::bad("deadline_us", format!("`{v}` is not a non-negative integer")))?),
            "name" => Value::String(v),
            _ => return Err(ApiError::bad(&k, "unknown query parameter; expected name, config, deadline_us")),
        };
        m.insert(k, value);
    }
    if bytes.is_empty() {
        return Err(ApiError::bad("body", "no module bytes"));
    }
    Ok(Command::Load {
        name: required(&m, "name")?,
        source: Source::Bytes(bytes),
        config: config_pairs(m.get("config"))?,
        deadline: number(&m, "deadline_us")?.map(Duration::from_micros),
    })
}

/// `POST /v1/translators/{name}/config`: `{"config": {...}}`.
pub fn config_json(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let m = object(bytes, &["config"])?;
    if !m.contains_key("config") {
        return Err(ApiError::bad("config", "missing"));
    }
    config_pairs(m.get("config"))
}

/// `POST /v1/chains/{chain}/stages/{stage}`: `{"translator", "version"?}`.
pub fn swap_json(bytes: &[u8]) -> Result<(String, Option<usize>), ApiError> {
    let m = object(bytes, &["translator", "version"])?;
    Ok((required(&m, "translator")?, number(&m, "version")?.map(|v| v as usize)))
}

/// `POST /v1/config/save`: `{"path", "force"?}`.
pub fn save_json(bytes: &[u8]) -> Result<Command, ApiError> {
    let m = object(bytes, &["path", "force"])?;
    let force = match m.get("force") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(ApiError::bad("force", format!("expected true or false, got {other}"))),
    };
    Ok(Command::Save { path: required(&m, "path")?.into(), force })
}

/// `POST /v1/chains`: `{"select", "translators": ["name" | {"name", "version"}], "at"?}`.
pub fn chain_add_json(bytes: &[u8]) -> Result<ChainEdit, ApiError> {
    let m = object(bytes, &["select", "translators", "at"])?;
    let Some(Value::Array(list)) = m.get("translators") else { return Err(ApiError::bad("translators", "missing, or not an array")) };
    let mut translators = Vec::new();
    for (i, t) in list.iter().enumerate() {
        translators.push(match t {
            Value::String(n) => (n.clone(), None),
            Value::Object(o) => (required(o, "name").map_err(|e| ApiError::bad(&format!("translators[{i}]"), e.message))?, number(o, "version")?.map(|v| v as usize)),
            other => return Err(ApiError::bad(&format!("translators[{i}]"), format!("expected a name or {{\"name\", \"version\"}}, got {other}"))),
        });
    }
    Ok(ChainEdit::Add { select: required(&m, "select")?, translators, at: number(&m, "at")?.map(|v| v as usize) })
}

/// `{"order": [indices]}` (chains or a chain's stages).
pub fn order_json(bytes: &[u8]) -> Result<Vec<usize>, ApiError> {
    let m = object(bytes, &["order"])?;
    let Some(Value::Array(list)) = m.get("order") else { return Err(ApiError::bad("order", "missing, or not an array")) };
    list.iter().enumerate().map(|(i, v)| v.as_u64().map(|v| v as usize).ok_or_else(|| ApiError::bad(&format!("order[{i}]"), format!("expected an index, got {v}")))).collect()
}

/// `POST /v1/chains/{chain}/stages`: `{"translator", "version"?, "at"?}`.
pub fn stage_add_json(chain: usize, bytes: &[u8]) -> Result<ChainEdit, ApiError> {
    let m = object(bytes, &["translator", "version", "at"])?;
    Ok(ChainEdit::AddStage { chain, translator: required(&m, "translator")?, version: number(&m, "version")?.map(|v| v as usize), at: number(&m, "at")?.map(|v| v as usize) })
}

/// `POST /v1/canary`: `{"translator", "chain"?, "stage"?, "version"?,
/// "config"?, "sample"?: "1/N", "flows"?: [eAxC], "promote_when"?, "auto"?,
/// "compare_only"?}`:
/// a loaded translator at one stage (`chain` and `stage`), or a loaded
/// translator's new `config` wherever it runs.
pub fn canary_json(bytes: &[u8]) -> Result<Command, ApiError> {
    use super::canary::{CanaryStart, SampleSpec};
    use super::Change;
    let m = object(bytes, &["translator", "chain", "stage", "version", "config", "sample", "flows", "promote_when", "auto", "compare_only"])?;
    let translator = required(&m, "translator")?;
    let (chain, stage, version) = (number(&m, "chain")?, number(&m, "stage")?, number(&m, "version")?.map(|v| v as usize));
    let candidate = match (chain, stage, m.get("config")) {
        (Some(c), Some(s), None) => Change::Swap { chain: c as usize, stage: s as usize, translator, version },
        (None, None, Some(_)) if version.is_none() => Change::Config { translator, config: config_pairs(m.get("config"))? },
        (None, None, Some(_)) => return Err(ApiError::bad("version", "a config candidate is the newest version with another config; give no version")),
        (_, _, Some(_)) => return Err(ApiError::bad("config", "give either chain and stage (a swap) or config (a config change), not both")),
        (Some(_), None, None) => return Err(ApiError::bad("stage", "missing (with chain)")),
        (None, Some(_), None) => return Err(ApiError::bad("chain", "missing (with stage)")),
        (None, None, None) => return Err(ApiError::bad("chain", "missing: give chain and stage, or config")),
    };
    let sample = match (string(&m, "sample")?, m.get("flows")) {
        (Some(_), Some(_)) => return Err(ApiError::bad("flows", "give sample or flows, not both")),
        (None, Some(Value::Array(list))) if !list.is_empty() => SampleSpec::Flows(
            list.iter()
                .enumerate()
                .map(|(i, v)| v.as_u64().filter(|&e| e <= u16::MAX as u64).map(|e| e as u16).ok_or_else(|| ApiError::bad(&format!("flows[{i}]"), format!("expected an eAxC ID (0-65535), got {v}"))))
                .collect::<Result<_, _>>()?,
        ),
        (None, Some(other)) => return Err(ApiError::bad("flows", format!("expected a non-empty array of eAxC IDs, got {other}"))),
        (Some(s), None) => {
            let n = s.trim().strip_prefix("1/").and_then(|n| n.parse::<u32>().ok()).filter(|&n| n >= 1);
            SampleSpec::Every(n.ok_or_else(|| ApiError::bad("sample", format!("`{s}`: expected 1/N with N >= 1")))?)
        }
        (None, None) => SampleSpec::Every(16),
    };
    let criteria_text = string(&m, "promote_when")?.unwrap_or_default();
    let criteria = super::canary::criteria::Criteria::parse(&criteria_text).map_err(|e| {
        let field = if e.key().is_empty() { "promote_when".to_string() } else { format!("promote_when.{}", e.key()) };
        ApiError::bad(&field, e)
    })?;
    let flag = |key: &str| match m.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad(key, format!("expected true or false, got {other}"))),
    };
    let (auto, compare_only) = (flag("auto")?, flag("compare_only")?);
    Ok(Command::Canary(super::CanaryCall::Start(CanaryStart { candidate, sample, criteria, criteria_text, auto, compare_only })))
}

/// A body that must be empty or `{}` (rollback).
pub fn empty_json(bytes: &[u8]) -> Result<(), ApiError> {
    object(bytes, &[]).map(|_| ())
}

/// The chain and stage indices of a path.
pub fn position(chain: &str, stage: &str) -> Result<(usize, usize), ApiError> {
    let c = chain.parse().map_err(|_| ApiError::bad("chain", format!("`{chain}` is not a chain index")))?;
    let s = stage.parse().map_err(|_| ApiError::bad("stage", format!("`{stage}` is not a stage index")))?;
    Ok((c, s))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.ok_or_else(|| format!("bad %-escape at byte {i}"))?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| format!("not UTF-8 after decoding (byte {})", e.utf8_error().valid_up_to()))
}

/// Byte strings compared in time independent of where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Now, UTC, RFC 3339 with milliseconds.
pub fn utc_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rfc3339(d.as_secs() as i64, Some(d.subsec_millis()))
}

/// Seconds since the epoch as RFC 3339 UTC, with milliseconds if given
/// (days to a civil date: the proleptic Gregorian calendar, eras of 400
/// years, Howard Hinnant's algorithm).
pub fn rfc3339(secs: i64, millis: Option<u32>) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let frac = millis.map(|m| format!(".{m:03}")).unwrap_or_default();
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Per-flow counters for `status`.
pub fn flows_json(s: &Stats) -> Value {
    Value::Array(
        s.flows
            .iter()
            .map(|(k, c)| {
                serde_json::json!({
                    "direction": if k.direction == 1 { "dl" } else { "ul" },
                    "plane": match k.plane { 0 => "u", 1 => "c", _ => "other" },
                    "eaxc": k.eaxc, "vlan": if k.vlan == 0xFFFF { Value::Null } else { Value::from(k.vlan) },
                    "packets_in": c.packets_in, "packets_out": c.packets_out, "bytes_in": c.bytes_in, "bytes_out": c.bytes_out,
                    "seq_gaps": c.seq_gaps, "seq_reorders": c.seq_reorders,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0, Some(0)), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(rfc3339(951_827_696, Some(7)), "2000-02-29T12:34:56.007Z");
        assert_eq!(rfc3339(1_798_761_600, None), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn refusals_name_the_field() {
        let e = load_json(br#"{"name": "w", "path": 3}"#).unwrap_err();
        assert_eq!((e.status, e.message.starts_with("path:")), (400, true), "{e:?}");
        assert!(load_json(br#"{"name": "w"}"#).unwrap_err().message.starts_with("path: missing"));
        assert!(load_json(br#"{"name": "w", "path": "x.wasm", "confg": {}}"#).unwrap_err().message.starts_with("confg: unknown field"));
        assert!(load_json(br#"{"name": "w", "path": "x.wasm", "config": {"a": null}}"#).unwrap_err().message.starts_with("config.a:"));
        assert!(load_json(b"{nope").unwrap_err().message.starts_with("body: not JSON"));
        assert!(swap_json(br#"{"translator": "w", "version": -1}"#).unwrap_err().message.starts_with("version:"));
        assert!(position("x", "0").unwrap_err().message.starts_with("chain:"));
        assert!(upload("name=w&bogus=1", vec![0]).unwrap_err().message.starts_with("bogus:"));
        let canary = |b: &str| canary_json(b.as_bytes()).unwrap_err().message;
        assert!(canary(r#"{"translator": "w", "chain": 0, "stage": 0, "promote_when": "evm<=x"}"#).starts_with("promote_when.evm:"));
        assert!(canary(r#"{"translator": "w", "chain": 0, "stage": 0, "sample": "1/0"}"#).starts_with("sample:"));
        assert!(canary(r#"{"translator": "w", "chain": 0}"#).starts_with("stage:"));
        assert!(canary(r#"{"translator": "w", "chain": 0, "stage": 0, "flows": [70000]}"#).starts_with("flows[0]:"));
        assert!(canary(r#"{"translator": "w", "chain": 0, "stage": 0, "auto": 1}"#).starts_with("auto:"));
    }

    #[test]
    fn config_objects_flatten_like_toml_tables() {
        let pairs = config_json(br#"{"config": {"in_width": 8, "direction": "ul", "t": {"x": true}}}"#).unwrap();
        assert_eq!(pairs, vec![("in_width".into(), "8".into()), ("direction".into(), "\"ul\"".into()), ("t.x".into(), "true".into())]);
        let Command::Load { name, config, .. } = upload("name=w2&config=%7B%22in_width%22%3A8%7D", vec![0]).unwrap() else { panic!() };
        assert_eq!((name.as_str(), config), ("w2", vec![("in_width".into(), "8".into())]));
    }
}
