use super::*;

const T: u64 = 1_767_225_600_123_456_789;

fn bytes(m: &OwdRepr<'_>) -> Vec<u8> {
    let mut b = vec![0u8; m.buffer_len()];
    m.emit(&mut b).unwrap();
    b
}

#[test]
fn request_response_gives_t2_minus_t1() {
    let mut i = Initiator::new(1_000_000_000);
    let sent = i.start(Mode::Request, T);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].action(), sent[0].timestamp_ns()), (Some(ActionType::Request), T as u128));
    // The responder receives it 12 345 ns later.
    let answer = respond(&bytes(&sent[0]), T + 12_345, T + 20_000).unwrap();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].action(), Some(ActionType::Response));
    let (ev, reply) = i.receive(&bytes(&answer[0]), T + 30_000);
    assert_eq!(ev, OwdEvent::Delay { id: 0, ns: 12_345 });
    assert!(reply.is_none());
    // The same answer again names nothing outstanding.
    assert_eq!(i.receive(&bytes(&answer[0]), T + 31_000).0, OwdEvent::Unknown(0));
    assert_eq!(i.counters, OwdCounters { started: 1, measured: 1, unknown: 1, ..Default::default() });
}

#[test]
fn follow_up_and_compensation() {
    let mut i = Initiator::new(1_000_000_000);
    let sent = i.start(Mode::FollowUp, T);
    assert_eq!(sent.iter().map(|m| m.action()).collect::<Vec<_>>(), vec![Some(ActionType::RequestWithFollowUp), Some(ActionType::FollowUp)]);
    assert_eq!(sent[0].timestamp_ns(), 0, "t1 travels in the Follow_Up");
    assert_eq!(sent[1].timestamp_ns(), T as u128);
    let answer = respond(&bytes(&sent[0]), T + 7_000, T + 8_000).unwrap();
    assert!(respond(&bytes(&sent[1]), T + 7_100, T + 8_000).unwrap().is_empty(), "no answer to a Follow_Up");
    // tCV2 of 500 ns (ns x 2^16) comes off t2.
    let with_comp = OwdRepr { compensation: 500 << 16, ..answer[0] };
    assert_eq!(i.receive(&bytes(&with_comp), T + 9_000).0, OwdEvent::Delay { id: 0, ns: 6_500 });
}

#[test]
fn remote_request_measures_the_peers_request() {
    let mut i = Initiator::new(1_000_000_000);
    let sent = i.start(Mode::Remote, T);
    assert_eq!((sent[0].action(), sent[0].timestamp_ns()), (Some(ActionType::RemoteRequest), 0));
    // The peer starts a Request at T + 50 µs; it arrives 9 µs later.
    let req = respond(&bytes(&sent[0]), T + 40_000, T + 50_000).unwrap();
    assert_eq!((req[0].action(), req[0].timestamp_ns()), (Some(ActionType::Request), (T + 50_000) as u128));
    let (ev, reply) = i.receive(&bytes(&req[0]), T + 59_000);
    assert_eq!(ev, OwdEvent::Delay { id: 0, ns: 9_000 });
    let reply = reply.unwrap();
    assert_eq!((reply.action(), reply.timestamp_ns()), (Some(ActionType::Response), (T + 59_000) as u128));
}

#[test]
fn bad_answers_are_counted_never_trusted() {
    let mut i = Initiator::new(1_000_000);
    let sent = i.start(Mode::Request, T);
    let answer = respond(&bytes(&sent[0]), T + 1_000, T + 2_000).unwrap();
    // Cut short, reserved action, out-of-range nanoseconds.
    let b = bytes(&answer[0]);
    assert_eq!(i.receive(&b[..10], T).0, OwdEvent::Malformed("ecpri.measurementid", 0));
    let mut r = b.clone();
    r[1] = 9;
    assert_eq!(i.receive(&r, T).0, OwdEvent::Malformed("ecpri.actiontype", 1));
    let mut n = b.clone();
    n[8..12].copy_from_slice(&2_000_000_000u32.to_be_bytes());
    assert_eq!(i.receive(&n, T).0, OwdEvent::Malformed("ecpri.nanosec", 8));
    // A Follow_Up where a Response belongs.
    let wrong = OwdRepr { action_type: ActionType::FollowUp.to_u8(), ..answer[0] };
    assert_eq!(i.receive(&bytes(&wrong), T).0, OwdEvent::WrongAction(5));
    // The right answer, after the 1 ms timeout.
    assert_eq!(i.receive(&b, T + 1_000_001).0, OwdEvent::Late(0));
    assert_eq!(i.counters, OwdCounters { started: 1, measured: 0, malformed: 3, unknown: 0, wrong_action: 1, late: 1, unanswered: 0 });
}

#[test]
fn frames_carry_the_message_and_come_back_out() {
    let m = owd(3, ActionType::Request, T);
    let f = frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], &[VlanTag::c_tag(5, 7)], m).unwrap();
    assert_eq!(f.len(), 60);
    let body = body_of(&f).unwrap();
    assert_eq!(body.len(), 20);
    assert_eq!(OwdRepr::parse(body).unwrap(), m);
    // ecpriMessage sits after 14 + 4 (VLAN tag) + 1 bytes: make it IQ data.
    let mut u = f.clone();
    assert_eq!(u[19], 5);
    u[19] = 0;
    assert!(body_of(&u).is_none());
}

#[test]
fn expiry_counts_unanswered_once_and_a_later_answer_late() {
    let mut i = Initiator::new(1_000_000);
    let a = i.start(Mode::Request, T);
    let b = i.start(Mode::Request, T + 500_000);
    assert_eq!(i.outstanding(), 2);
    i.expire(T + 1_200_000);
    assert_eq!((i.counters.unanswered, i.outstanding()), (1, 1), "only the first is past its 1 ms");
    i.expire(T + 1_300_000);
    assert_eq!(i.counters.unanswered, 1, "counted once");
    // The first's answer still comes: late, not a delay; the second's is in time.
    let ans_a = respond(&bytes(&a[0]), T + 2_000, T + 3_000).unwrap();
    assert_eq!(i.receive(&bytes(&ans_a[0]), T + 1_400_000).0, OwdEvent::Late(0));
    let ans_b = respond(&bytes(&b[0]), T + 502_000, T + 503_000).unwrap();
    assert_eq!(i.receive(&bytes(&ans_b[0]), T + 1_400_000).0, OwdEvent::Delay { id: 1, ns: 2_000 });
    assert_eq!(i.counters, OwdCounters { started: 2, measured: 1, late: 1, unanswered: 1, ..Default::default() });
}

#[test]
fn the_send_time_replaces_the_start_time() {
    let mut i = Initiator::new(1_000_000);
    let sent = i.start(Mode::Request, T);
    // The message left 400 µs after it was queued: t1 and the timeout start then.
    i.sent(0, T + 400_000);
    i.expire(T + 1_200_000);
    assert_eq!(i.counters.unanswered, 0, "the timeout counts from the send");
    let ans = respond(&bytes(&sent[0]), T + 403_000, T + 404_000).unwrap();
    assert_eq!(i.receive(&bytes(&ans[0]), T + 1_300_000).0, OwdEvent::Delay { id: 0, ns: 3_000 });
}

#[test]
fn stamping_writes_t1_where_the_action_carries_it() {
    let mac = [2, 0, 0, 0, 0, 1];
    let mut i = Initiator::new(1_000_000);
    let mut follow = None;
    let mut frames: Vec<Vec<u8>> = [Mode::Request, Mode::FollowUp, Mode::Remote].iter().flat_map(|m| i.start(*m, T)).map(|m| frame(mac, mac, &[], m).unwrap()).collect();
    let got: Vec<Option<Stamped>> = frames.iter_mut().enumerate().map(|(k, f)| stamp(f, T + 1_000 * (k as u64 + 1), &mut follow)).collect();
    let at = |k: usize| OwdRepr::parse(body_of(&frames[k]).unwrap()).unwrap();
    // Request: t1 is its send time.
    assert_eq!(got[0], Some(Stamped { id: 0, action: ActionType::Request, t_ns: T + 1_000 }));
    assert_eq!(at(0).timestamp_ns(), (T + 1_000) as u128);
    // Request with follow-up: stays zero; its Follow_Up carries its send time, not the Follow_Up's.
    assert_eq!(got[1], Some(Stamped { id: 1, action: ActionType::RequestWithFollowUp, t_ns: T + 2_000 }));
    assert_eq!(at(1).timestamp_ns(), 0);
    assert_eq!((got[2], at(2).timestamp_ns()), (None, (T + 2_000) as u128));
    // Remote request: reported for its timeout, timestamp zero.
    assert_eq!(got[3], Some(Stamped { id: 2, action: ActionType::RemoteRequest, t_ns: T + 4_000 }));
    assert_eq!(at(3).timestamp_ns(), 0);
    // A Response keeps the receive time it carries; not a message 5: nothing.
    let mut r = frame(mac, mac, &[], respond(&bytes(&at(0)), T + 9, T + 10).unwrap()[0]).unwrap();
    assert_eq!(stamp(&mut r, T + 99_000, &mut follow), None);
    assert_eq!(OwdRepr::parse(body_of(&r).unwrap()).unwrap().timestamp_ns(), (T + 9) as u128);
    // ecpriMessage (after 14 + 1 bytes) made IQ data.
    r[15] = 0;
    assert_eq!(stamp(&mut r, T, &mut follow), None);
}
