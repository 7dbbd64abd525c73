//! eAxC bit splits consistent with the IDs a capture shows.

use std::collections::BTreeSet;

/// Every `DU,BS,CC,RU` split (widths summing to 16) under which the bits
/// that vary between `ids` lie in the CC and RU_port fields (antennas and
/// carriers vary; a side's DU port and band sector do not), ranked: the
/// varying bits in RU_port alone first, then nearest to 4,4,4,4.
pub fn candidates(ids: &BTreeSet<u16>) -> Vec<String> {
    let varying = ids.iter().fold(0u16, |acc, &i| acc | (i ^ ids.first().copied().unwrap_or(0)));
    let need = 16 - varying.leading_zeros() as u8; // bits from bit 0 up to the highest varying bit
    let mut out = Vec::new();
    for du in 0..=16u8 {
        for bs in 0..=16 - du {
            for cc in 0..=16 - du - bs {
                let ru = 16 - du - bs - cc;
                if cc + ru < need {
                    continue;
                }
                let in_ru = ru >= need;
                let dist = [du, bs, cc, ru].iter().map(|w| w.abs_diff(4)).sum::<u8>();
                out.push((!in_ru, dist, format!("{du},{bs},{cc},{ru}")));
            }
        }
    }
    out.sort();
    out.into_iter().map(|(_, _, s)| s).collect()
}
