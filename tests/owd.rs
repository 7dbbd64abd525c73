//! eCPRI one-way delay (message type 5): the frames fhgate builds for
//! every action type, decoded by tshark's eCPRI dissector (the oracle),
//! field by field and without an expert warning.

use std::process::Command;

use ecpri::owd::{ActionType, OwdRepr};
use fhgate::timing::owd::{frame, respond, Initiator, Mode};

#[path = "support/write_pcap.rs"]
mod write_pcap;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/live.rs"]
mod live;

#[test]
fn tshark_decodes_every_action_type_as_built() {
    let t = 1_767_225_600_123_456_789u64;
    let mut msgs: Vec<OwdRepr<'static>> = Vec::new();
    let mut i = Initiator::new(1_000_000_000);
    for mode in [Mode::Request, Mode::FollowUp, Mode::Remote] {
        msgs.extend(i.start(mode, t));
    }
    let b = |m: &OwdRepr<'_>| {
        let mut v = vec![0u8; m.buffer_len()];
        m.emit(&mut v).unwrap();
        v
    };
    msgs.extend(respond(&b(&msgs[0]), t + 5_000, t + 6_000).unwrap());
    msgs.extend(respond(&b(&msgs[3]), t + 5_000, t + 6_000).unwrap());
    msgs.push(OwdRepr { measurement_id: 200, action_type: ActionType::RemoteRequestWithFollowUp.to_u8(), seconds: 0, nanoseconds: 0, compensation: 0, dummy: &[] });
    msgs.push(OwdRepr { compensation: 1234 << 16, ..msgs[4] });
    let actions: Vec<u8> = msgs.iter().map(|m| m.action_type).collect();
    assert_eq!(actions, vec![0, 1, 5, 3, 2, 0, 4, 2], "every action type once or more");
    let frames: Vec<Vec<u8>> = msgs.iter().map(|m| frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], None, *m).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("owd.pcap");
    write_pcap::write_pcap(&p, &frames);
    let o = Command::new("tshark")
        .args(["-r", p.to_str().unwrap(), "-T", "fields", "-E", "separator=,", "-e", "ecpri.type", "-e", "ecpri.measurementid", "-e", "ecpri.actiontype", "-e", "ecpri.sec", "-e", "ecpri.nanosec", "-e", "ecpri.compval", "-e", "_ws.expert"])
        .output()
        .expect("tshark is installed (scripts/setup installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for (m, l) in msgs.iter().zip(&lines) {
        let want = format!("0x05,0x{:02x},0x{:02x},{},{},{},", m.measurement_id, m.action_type, m.seconds, m.nanoseconds, m.compensation);
        assert_eq!(*l, want, "tshark against what was built");
    }
}

/// `fhgate owd` in the DU namespace against `fhgate sink` at the other
/// end of the same veth pair (gw-du, no gateway running): every
/// measurement answered, in every mode. Both ends stamp with the one
/// CLOCK_REALTIME, so the delay is the veth path's plus the stacks' own:
/// it must be at least 0 and, stated bound, below 2 ms at p50 on this
/// loaded 2-core machine (a veth hop alone is a few µs).
#[test]
fn owd_against_sink_over_a_veth_pair() {
    let (tb, _serial) = live::Testbed::up("o");
    let mut sink = live::Proc::spawn(tb.fhgate("gw", &["sink", "--port", "af_packet:gw-du", "--idle-timeout", "5", "--no-iq"]));
    sink.wait_for("sink receiving", std::time::Duration::from_secs(30));
    for mode in ["request", "follow-up", "remote"] {
        let o = tb.fhgate("du", &["owd", "--port", "af_packet:du0", "--mode", mode, "--count", "50", "--interval-ms", "5", "--timeout-ms", "500", "--json"]).output().unwrap();
        assert!(o.status.success(), "{mode}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((j["started"].as_u64(), j["measured"].as_u64()), (Some(50), Some(50)), "{mode}: {j}");
        assert_eq!((j["malformed"].as_u64(), j["unknown"].as_u64(), j["late"].as_u64()), (Some(0), Some(0), Some(0)), "{mode}: {j}");
        let d = &j["delay_ns"];
        assert!(d["min"].as_i64().unwrap() >= 0, "{mode}: one clock, no negative delay: {j}");
        assert!(d["p50"].as_i64().unwrap() < 2_000_000, "{mode}: {j}");
        eprintln!("owd {mode}: {d}");
    }
}
