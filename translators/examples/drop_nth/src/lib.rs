//! `drop_nth`: drops every Nth packet it sees and forwards the rest
//! unchanged: a faulty device with a known loss ratio (1/N), for testing
//! receivers and `fhgate bench`.
//!
//! Configuration: `every` (N, 1 or more; required). The count runs over
//! every packet the chain gives this instance, U- and C-plane alike; the
//! `dropped` counter says how many it dropped.
#![cfg_attr(target_arch = "wasm32", no_std)]

use fhgate_sdk::{translator, Config, Counter, Ctx, Error, InitCtx, InitError, Packet, Translator, Verdict};

/// The translator's state.
#[derive(Debug)]
pub struct DropNth {
    every: u64,
    seen: u64,
    dropped: Counter,
}

impl Translator for DropNth {
    fn init(cfg: &Config<'_>, ctx: &mut InitCtx) -> Result<Self, InitError> {
        Ok(DropNth { every: cfg.int_in("every", 1, i64::MAX)? as u64, seen: 0, dropped: ctx.counter("dropped")? })
    }

    fn translate(&mut self, _pkt: &mut Packet<'_>, ctx: &mut Ctx) -> Result<Verdict, Error> {
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            ctx.inc(self.dropped);
            return Ok(Verdict::Drop);
        }
        Ok(Verdict::Forward)
    }
}

translator! {
    name: "drop_nth",
    version: "1.0.0",
    planes: "u,c",
    translator: DropNth,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhgate_sdk::abi::verdict;
    use fhgate_sdk::ecpri::samples::catalog;
    use fhgate_sdk::native::{counter, Harness};

    #[test]
    fn every_nth_packet_is_dropped_and_the_rest_forwarded_unchanged() {
        let s = catalog().unwrap().into_iter().find(|s| s.name == "cplane-st1").unwrap();
        let mut h = Harness::<DropNth>::with_decode("every=3\n", s.decode).unwrap();
        let mut dropped = Vec::new();
        for i in 1..=9 {
            let o = h.translate(&s.frame);
            if o.verdict == verdict::DROP {
                dropped.push(i);
            } else {
                assert_eq!((o.verdict, &o.bytes), (verdict::FORWARD, &s.frame), "packet {i} passes as it came");
            }
        }
        assert_eq!(dropped, [3, 6, 9]);
        assert_eq!(counter("dropped"), Some(3));
        assert!(Harness::<DropNth>::new("every=0\n").is_err(), "N must be 1 or more");
        assert!(Harness::<DropNth>::new("").is_err(), "every is required");
    }
}
