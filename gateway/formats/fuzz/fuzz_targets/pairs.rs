//! Any text as `key=value,...`: nothing may panic; what is accepted has
//! distinct, non-empty keys without line breaks, and joining it again
//! reads back the same pairs.
#![no_main]

use fhgate_formats::pairs::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(p) = parse(s) else { return };
    let mut keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.iter().all(|k| !k.is_empty() && !k.contains(['\n', '\r'])));
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), p.len(), "duplicate keys accepted: {p:?}");
    let joined: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(parse(&joined.join(",")).as_ref(), Ok(&p), "{s:?} joined as {joined:?}");
});
