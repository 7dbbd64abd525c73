//! The runner's failure paths: a stage that fails keeps its counters.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ecpri::frame::DecodeConfig;

use super::{start, DirectionSpec, Threading};
use crate::io::memory::MemoryRx;
use crate::io::TxPort;

/// A port that takes `ok` frames, then fails every send the way a deleted
/// interface does (ENXIO).
struct DiesAfter {
    ok: u64,
    sent: Arc<AtomicU64>,
}

impl TxPort for DiesAfter {
    fn send(&mut self, _frame: &[u8], _time_ns: u64) -> io::Result<()> {
        if self.sent.load(Ordering::Relaxed) >= self.ok {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A transmit port that dies mid-stream fails its direction, and the
/// counters of the stage it failed in (packets in and out, frames out)
/// still come back: the report of a run whose port died used to say
/// "0 eCPRI packets in" for that direction.
#[test]
fn a_failed_stage_keeps_its_counters() {
    for threading in [Threading::RunToCompletion, Threading::Pipelined] {
        let comp = ecpri::UdCompHdr::new(ecpri::CompMethod::Bfp, 9);
        let decode = DecodeConfig { dl_comp: comp, ul_comp: comp, comp_hdr: ecpri::uplane::CompHdrMode::Present, ..DecodeConfig::default() };
        let frame = ecpri::samples::uplane_frame(comp, true, &[(0, 53)]).unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let spec = DirectionSpec {
            workers: 2,
            ..DirectionSpec::for_test(Box::new(MemoryRx::new(vec![frame].into(), 5000)), Box::new(DiesAfter { ok: 1000, sent: sent.clone() }), decode, threading)
        };
        let running = start(spec).unwrap();
        let (stats, errors) = running.join_all();
        assert_eq!(errors.len(), 1, "{threading:?}: one stage failed: {errors:?}");
        assert!(format!("{:#}", errors[0]).contains("No such device or address"), "{threading:?}: {:#}", errors[0]);
        let (pin, pout) = stats.totals();
        // Whole bursts handed to the port before it died are counted out;
        // the burst it died in is not.
        assert!((1000 - 32..=1000).contains(&stats.frames_out), "{threading:?}: frames out {}", stats.frames_out);
        assert_eq!(pout, stats.frames_out, "{threading:?}: packets out");
        assert!(pin >= 1000 && pin <= 5000, "{threading:?}: packets in {pin}");
        assert_eq!(sent.load(Ordering::Relaxed), 1000);
    }
}
