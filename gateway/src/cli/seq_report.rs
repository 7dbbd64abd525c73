//! seqId accounting for the final reports of `inspect` and `sink`. Unlike
//! the pipeline's live counters (`pipeline::stats::SeqTrack`, which are
//! Prometheus counters and so only ever grow), a late frame here takes
//! back the gap it was counted in.

/// seqId bookkeeping of one flow: a frame ahead of the next expected one
/// counts the skipped IDs as a gap; one behind it is a duplicate when its
/// ID was seen within the last 128, else a late (reordered) frame that
/// fills one of the gaps counted before.
#[derive(Debug, Default)]
pub(super) struct SeqReport {
    next: Option<u8>,
    seen: [u64; 4],
    /// IDs skipped and not (yet) arrived late.
    pub gaps: u64,
    /// Frames that arrived after a later one.
    pub reorders: u64,
    /// Frames whose ID was seen within the last 128.
    pub duplicates: u64,
}

impl SeqReport {
    fn bit(&mut self, s: u8, on: bool) {
        let (w, b) = (s as usize / 64, s as u32 % 64);
        if on {
            self.seen[w] |= 1 << b;
        } else {
            self.seen[w] &= !(1 << b);
        }
    }

    /// Notes one frame's seqId.
    pub fn add(&mut self, s: u8) {
        let Some(next) = self.next else {
            self.bit(s, true);
            self.next = Some(s.wrapping_add(1));
            return;
        };
        let d = s.wrapping_sub(next);
        if d < 128 {
            // In order (d = 0) or ahead: the IDs skipped are missing.
            self.gaps += d as u64;
            for k in 0..d {
                self.bit(next.wrapping_add(k), false);
            }
            self.bit(s, true);
            self.next = Some(s.wrapping_add(1));
        } else if self.seen[s as usize / 64] >> (s % 64) & 1 == 1 {
            self.duplicates += 1;
        } else {
            self.reorders += 1;
            self.gaps = self.gaps.saturating_sub(1);
            self.bit(s, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(ids: &[u8]) -> (u64, u64, u64) {
        let mut t = SeqReport::default();
        for &s in ids {
            t.add(s);
        }
        (t.gaps, t.reorders, t.duplicates)
    }

    #[test]
    fn seq_ids_gaps_reorders_and_duplicates() {
        assert_eq!(track(&[0, 1, 2, 3]), (0, 0, 0));
        assert_eq!(track(&[254, 255, 0, 1]), (0, 0, 0), "wraps at 256");
        assert_eq!(track(&[0, 1, 4, 5]), (2, 0, 0));
        assert_eq!(track(&[0, 2, 1, 3]), (0, 1, 0), "a late frame fills its gap");
        assert_eq!(track(&[0, 1, 1, 2, 0]), (0, 0, 2));
        let all: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        assert_eq!(track(&all), (0, 0, 0));
    }
}
