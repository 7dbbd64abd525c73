//! Any text as a gateway configuration (TOML) and as a translator's
//! `key=value` list: nothing may panic, and an accepted configuration
//! holds what validation promises (no key twice in a translator's config
//! table, chain names that exist, no chain hidden by an earlier one).
#![no_main]

use fhgate::config::GatewayConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = fhgate::translate::parse_config_pairs(s);
    let Ok(c) = GatewayConfig::from_toml(s) else { return };
    for t in &c.translators {
        let mut keys: Vec<&str> = t.config.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "translator {} has a key twice", t.name);
    }
    for ch in &c.chains {
        assert!(ch.translators.iter().all(|n| c.translators.iter().any(|t| &t.name == n)));
    }
});
