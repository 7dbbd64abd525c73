//! `key=value,key=value` lists: a translator's configuration on the
//! command line (`--translator X.wasm:k=v,...`, `translator check
//! --config`). Values are written as in TOML (ABI.md §4), so commas inside
//! brackets, braces and double quotes do not split.
//!
//! The pairs go to the translator one per line (`key=value\n`), so a key
//! given twice and a line break inside a pair are refused: the first would
//! silently hide the second, and the line break would inject a key.

use std::collections::BTreeSet;
use std::fmt;

/// Why a list of pairs is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairsError {
    /// An item without `=`, or with an empty key.
    NotKeyValue {
        /// The item as written.
        item: String,
    },
    /// The same key twice.
    Duplicate {
        /// The key.
        key: String,
    },
    /// A double quote or bracket that is never closed.
    Unbalanced {
        /// What is left open: `"` or `[`/`{`.
        what: &'static str,
    },
    /// A line break inside a key or value.
    LineBreak {
        /// The key of the pair.
        key: String,
    },
}

impl fmt::Display for PairsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairsError::NotKeyValue { item } => write!(f, "`{item}` is not key=value"),
            PairsError::Duplicate { key } => write!(f, "key `{key}` is given twice"),
            PairsError::Unbalanced { what } => write!(f, "a `{what}` is never closed"),
            PairsError::LineBreak { key } => write!(f, "key `{key}`: a line break is not allowed in a key or value"),
        }
    }
}

impl std::error::Error for PairsError {}

/// Splits `key=value,...` at commas outside brackets, braces and quotes;
/// keys and values are trimmed, empty items skipped.
pub fn parse(s: &str) -> Result<Vec<(String, String)>, PairsError> {
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(PairsError::Unbalanced { what: "\"" });
    }
    if depth != 0 {
        return Err(PairsError::Unbalanced { what: if depth > 0 { "[" } else { "]" } });
    }
    items.push(&s[start..]);
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items.into_iter().filter(|i| !i.trim().is_empty()) {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => (k.trim(), v.trim()),
            _ => return Err(PairsError::NotKeyValue { item: item.to_string() }),
        };
        if item.contains(['\n', '\r']) {
            return Err(PairsError::LineBreak { key: k.to_string() });
        }
        out.push((k.to_string(), v.to_string()));
    }
    if let Some(key) = first_duplicate(out.iter().map(|(k, _)| k.as_str())) {
        return Err(PairsError::Duplicate { key: key.to_string() });
    }
    Ok(out)
}

/// The first key that appears a second time, if any.
pub fn first_duplicate<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = BTreeSet::new();
    keys.into_iter().find(|k| !seen.insert(*k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap()
    }

    #[test]
    fn splits_outside_brackets_and_quotes() {
        let p = pairs(r#"out_width=12,map=[1,2,3],name="a,\"b\"",gain_db=-3.5, t = {x=1,y=2}"#);
        let want = [("out_width", "12"), ("map", "[1,2,3]"), ("name", r#""a,\"b\"""#), ("gain_db", "-3.5"), ("t", "{x=1,y=2}")];
        assert_eq!(p, want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert!(pairs("").is_empty());
        assert!(pairs(" , ,").is_empty());
    }

    #[test]
    fn a_key_given_twice_is_refused_by_name() {
        assert_eq!(parse("in_width=8,out_width=12,in_width=9"), Err(PairsError::Duplicate { key: "in_width".into() }));
        // Spacing does not make it another key.
        assert_eq!(parse("a=1, a =2"), Err(PairsError::Duplicate { key: "a".into() }));
        assert!(parse("a=1,b=\"a=1\"").is_ok());
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert_eq!(parse("novalue"), Err(PairsError::NotKeyValue { item: "novalue".into() }));
        assert_eq!(parse("=3"), Err(PairsError::NotKeyValue { item: "=3".into() }));
        assert_eq!(parse("a=\"open,b=1"), Err(PairsError::Unbalanced { what: "\"" }));
        assert_eq!(parse("a=[1,2"), Err(PairsError::Unbalanced { what: "[" }));
        assert_eq!(parse("a=1]"), Err(PairsError::Unbalanced { what: "]" }));
        assert_eq!(parse("a=\"x\ny=2\""), Err(PairsError::LineBreak { key: "a".into() }));
    }
}
