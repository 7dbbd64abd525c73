use super::*;
use crate::timing::owd::{respond, body_of};
use crate::timing::owd_link::link;

const GW: [u8; 6] = [2, 0, 0, 0, 0x99, 1];
const PEER: [u8; 6] = [2, 0, 0, 0, 0xD0, 1];

/// A port that keeps what is sent on it.
#[derive(Default)]
struct Wire(Vec<Vec<u8>>);

impl crate::io::TxPort for Wire {
    fn send(&mut self, frame: &[u8], _: u64) -> std::io::Result<()> {
        self.0.push(frame.to_vec());
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The initiator thread over one side's rings, with this test as the
/// pipeline: it sends what the injector would, and answers as a peer.
#[test]
fn measures_through_the_rings_and_counts_what_it_does_not_use() {
    let (mut tap, mut inject, ends) = link(GW);
    let spec = OwdSpec { interval: Duration::from_millis(20), timeout: Duration::from_millis(200), mode: Mode::Request };
    let mut run = start(spec, vec![(SideSpec { side: "du", src: GW, dst: PEER, vlan: None }, ends)]).unwrap();
    let mut port = Wire::default();
    let t = Instant::now();
    let mut answered = 0;
    let mut seen = 0;
    while answered < 6 && t.elapsed() < Duration::from_secs(10) {
        inject.send_pending(&mut port).unwrap();
        for f in &port.0[seen..] {
            // What the gateway sent: from its MAC, to the peer, a stamped Request.
            assert_eq!((&f[0..6], &f[6..12]), (&PEER[..], &GW[..]));
            let body = body_of(f).expect("a message 5");
            let rx = crate::io::live::unix_ns();
            let ans = respond(body, rx + 3_000, rx + 4_000).unwrap();
            let mut frame = crate::timing::owd::frame(GW, PEER, &[], ans[0]).unwrap();
            // Answers 2 and 4 are malformed (reserved action) and to another MAC.
            match answered {
                2 => frame[19] = 0x09,
                4 => frame[0] = 0x04,
                _ => {}
            }
            let taken = tap.take(&frame, 5, 14, rx);
            assert_eq!(taken, answered != 4, "only what is addressed to the gateway is taken");
            answered += 1;
        }
        seen = port.0.len();
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    run.finish();
    let r = &run.reports()[0];
    let c = r.counters;
    // Six answered: four delays, one malformed, one never taken (unanswered).
    assert_eq!((c.measured, c.malformed), (4, 1), "{r:?}");
    // Every one sent is answered in time or counted unanswered (the
    // malformed answer's and the misaddressed one's among them).
    assert_eq!(c.started, c.measured + c.unanswered, "{r:?}");
    assert!(c.unanswered >= 2, "{r:?}");
    assert_eq!(r.histogram.count(), 4);
    let [min, _, _, max] = r.quantiles.unwrap();
    // t2 = the send stamp's clock + 3 µs at most a scheduling delay later.
    assert!(min >= 3_000 && max < 1_000_000_000, "{r:?}");
    let text = prometheus(&run.reports());
    assert!(text.contains("fhgate_owd_answered_total{side=\"du\"} 4"), "{text}");
    assert!(text.contains("fhgate_owd_malformed_total{side=\"du\"} 1"), "{text}");
    assert!(text.contains("fhgate_owd_delay_ns_count{side=\"du\"} 4"), "{text}");
    assert!(text.contains("fhgate_owd_last_delay_ns{side=\"du\"} "), "{text}");
    assert_eq!(json(&run.reports())["du"]["answered"], 4);
    let line = summary(&run.reports());
    assert!(line.starts_with(&format!("owd du: {} sent, 4 answered, 0 late, 1 malformed, {} unanswered", c.started, c.unanswered)), "{line}");
    assert!(line.contains(&format!("; delay ns min {min} p50 ")), "{line}");
}

/// A peer that stalls and then answers every outstanding measurement at
/// once (256 IDs, a follow-up each) loses none on the tap's ring before
/// the initiator's next tick (with 64 records the testbed lost some).
#[test]
fn the_tap_holds_every_answer_that_can_be_due_at_once() {
    let (mut tap, _inject, ends) = link(GW);
    let f = crate::timing::owd::frame(GW, PEER, &[], ecpri::owd::OwdRepr { measurement_id: 1, action_type: 2, seconds: 0, nanoseconds: 0, compensation: 0, dummy: &[] }).unwrap();
    for _ in 0..512 {
        assert!(tap.take(&f, 5, 14, 0));
    }
    assert_eq!(ends.tap.ring_full.load(Ordering::Relaxed), 0);
    assert_eq!(ends.answers.slots(), 512);
}

#[test]
fn quantiles_are_nearest_rank() {
    assert_eq!(quantiles(vec![]), None);
    assert_eq!(quantiles(vec![5]), Some([5, 5, 5, 5]));
    assert_eq!(quantiles((1..=100).rev().collect()), Some([1, 50, 99, 100]));
}

/// The forwarding rule in a running pipeline, both threadings: message 5
/// to the gateway's MAC is taken (whether its header decodes or not);
/// message 5 between the DU and the RU, and fronthaul, cross as before.
#[test]
fn the_pipeline_takes_only_what_is_addressed_to_the_gateway() {
    use crate::io::memory::{MemoryRx, MemoryTx};
    use crate::pipeline::runner::{start as start_pipeline, DirectionSpec, Threading};
    use ecpri::owd::{ActionType, OwdRepr};
    let m = |action: ActionType| OwdRepr { measurement_id: 7, action_type: action.to_u8(), seconds: 1, nanoseconds: 2, compensation: 0, dummy: &[] };
    let uplane = ecpri::samples::uplane_frame(ecpri::UdCompHdr::new(ecpri::CompMethod::Bfp, 9), true, &[(0, 12)]).unwrap();
    let to_gw = crate::timing::owd::frame(GW, PEER, &[], m(ActionType::Response)).unwrap();
    let du_to_ru = crate::timing::owd::frame([2, 0, 0, 0, 0x20, 1], PEER, &[], m(ActionType::Request)).unwrap();
    // ecpriPayload 200 in a 60-byte frame: the header does not decode.
    let mut broken = to_gw.clone();
    broken[16..18].copy_from_slice(&200u16.to_be_bytes());
    for threading in [Threading::RunToCompletion, Threading::Pipelined] {
        let (tap, _inject, mut ends) = link(GW);
        let rx = MemoryRx::new(vec![uplane.clone(), to_gw.clone(), du_to_ru.clone(), broken.clone()].into(), 40);
        let tx = MemoryTx::new().keep_first(100);
        let shared = tx.shared();
        let decode = ecpri::frame::DecodeConfig::default();
        let spec = DirectionSpec {
            name: "owd".into(),
            rx: Box::new(rx),
            tx: Box::new(tx),
            lanes: Vec::new(),
            tap: None,
            decode,
            port_direction: 1,
            egress: crate::pipeline::egress::EgressConfig::new(9000, decode),
            chains: Vec::new(),
            workers: 2,
            cores: Default::default(),
                polling: Default::default(),
            burst: 8,
            ring_size: 64,
            threading,
            bridge: Default::default(),
            timing: None,
            owd: crate::timing::owd_link::OwdLink { tap: Some(tap), inject: None },
        };
        start_pipeline(spec).unwrap().join().unwrap();
        let out = shared.kept();
        assert_eq!(out.len(), 20, "{threading:?}: U-plane and the DU's own message 5 cross");
        assert!(out.iter().all(|f| *f == uplane || *f == du_to_ru), "{threading:?}");
        assert_eq!(out.iter().filter(|f| **f == du_to_ru).count(), 10, "{threading:?}");
        let mut taken = Vec::new();
        while let Ok(a) = ends.answers.pop() {
            taken.push(a);
        }
        assert_eq!(taken.len(), 20, "{threading:?}: ten answers, ten broken ones");
        assert_eq!(taken.iter().filter(|a| a.len == 20 && OwdRepr::parse(a.body()) == Ok(m(ActionType::Response))).count(), 10);
        // The broken one: its payload size is beyond the frame, so what came is kept as far as it came.
        assert_eq!(taken.iter().filter(|a| a.len == 60 - 18).count(), 10, "{threading:?}");
        assert_eq!(ends.tap.taken.load(Ordering::Relaxed), 20);
    }
}
