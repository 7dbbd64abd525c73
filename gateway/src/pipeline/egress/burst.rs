//! A worker's burst through egress ([`Egress::process`]): each packet
//! edited in place, split into pool buffers, or handled by the oversize
//! policy; the burst is rebuilt only when one split or was dropped.

use ecpri::ethernet::EthernetFrame;

use super::sink::PoolSink;
use super::frame::UDCOMPHDR_AFTER_DIRECTION;
use super::{header_flow, Egress, EgressError, EgressErrorKind, EgressStats, Emitted, OversizePolicy, MIN_FRAME};
use crate::classify::FlowKey;
use crate::pipeline::stats::Stats;
use crate::translate::{BufPool, Burst, FaultPolicy, Packet, WorkerHost, BURST_CAPACITY};

/// What [`Egress::process`] did with a burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BurstEgress {
    /// Packets in the burst before.
    pub packets_in: usize,
    /// Packets in it after.
    pub packets_out: usize,
    /// Packets split.
    pub split: usize,
    /// Packets with an error that still fit the MTU, forwarded as they were.
    pub forwarded_with_error: usize,
    /// Packets larger than the MTU that could not be split (an error, or
    /// not decoded on ingress), handled by [`OversizePolicy`].
    pub oversize: usize,
    /// Of those, the ones not sent.
    pub dropped: usize,
    /// Messages that contradict their chain's declared effects, dropped by
    /// the blamed translator's fault policy.
    pub policy_dropped: usize,
}

/// What becomes of a packet of the burst: kept (edited in place),
/// replaced by the pieces `pieces[a..b]`, or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Keep,
    Replace(usize, usize),
    Drop,
}

/// Puts `p` back into the burst (which held at least as many before).
fn keep(burst: &mut Burst, pool: &mut BufPool, p: Packet) {
    if let Err(p) = burst.push(p) {
        pool.put(p.buf);
    }
}

impl Egress {
    /// Processes every packet of `burst` in order (a pipeline worker calls
    /// this once per burst, after the translators). Pieces of split packets
    /// take buffers from `pool`, take their parent's place in the burst and
    /// its timestamps; the parent's buffer goes back to `pool`. A packet
    /// with an error is counted in `stats` by kind, field and flow, then
    /// forwarded unchanged; one larger than the MTU that cannot be split is
    /// handled by [`OversizePolicy`] and counted in `stats.oversize`.
    /// Packets that did not decode on ingress ([`Packet::passthrough`])
    /// keep their place and their bytes. Frames shorter than
    /// [`MIN_FRAME`] are padded with zeros.
    pub fn process(&mut self, burst: &mut Burst, pool: &mut BufPool, stats: &mut Stats) -> BurstEgress {
        self.process_with(burst, pool, stats, None)
    }

    /// [`Egress::process`] after `host` ran the burst: a U-plane message
    /// that contradicts its chain's declared effects
    /// ([`EgressErrorKind::BadOutput`]) is also a fault of the translator
    /// blamed for it ([`WorkerHost::bad_output`]), whose fault policy
    /// `drop` drops the message; otherwise it is forwarded unchanged.
    pub fn process_with(&mut self, burst: &mut Burst, pool: &mut BufPool, stats: &mut Stats, mut host: Option<&mut WorkerHost>) -> BurstEgress {
        // Packets are edited where they lie: moving them (a buffer and a
        // descriptor image each) twice per burst cost more than the checks.
        // Only when one splits or is dropped is the burst rebuilt.
        let mut pieces = std::mem::take(&mut self.pieces);
        let mut fates = std::mem::take(&mut self.fates);
        let decode = self.classify_decode;
        let n = burst.len();
        let mut r = BurstEgress { packets_in: n, ..BurstEgress::default() };
        let mut out = 0usize;
        for i in 0..n {
            let p = &mut burst.pkts[i];
            let len = p.len;
            if p.passthrough {
                let fate = self.untouched(p, stats, &mut r);
                out += (fate == Fate::Keep) as usize;
                fates.push(fate);
                continue;
            }
            if p.pristine && self.pristine_ok && self.pass_pristine(&mut p.buf.bytes_mut()[..len]) {
                pad(p, &mut self.stats);
                fates.push(Fate::Keep);
                out += 1;
                continue;
            }
            let start = pieces.len();
            let res = {
                let mut sink = PoolSink {
                    pool: &mut *pool,
                    pieces: &mut pieces,
                    // What is already out, and one slot for each packet still to come.
                    room: BURST_CAPACITY.saturating_sub(out + (n - i - 1)),
                    cur: None,
                    decode,
                    port_direction: p.port_direction,
                    times: (p.time_ns, p.arrival_ns),
                };
                self.process_frame(&mut p.buf.bytes_mut()[..len], &mut sink)
            };
            let fate = match res {
                Ok(Emitted::InPlace { len }) => {
                    p.len = len;
                    p.wire_len = len as u16;
                    pad(p, &mut self.stats);
                    Fate::Keep
                }
                Ok(Emitted::Split { .. }) => {
                    r.split += 1;
                    Fate::Replace(start, pieces.len())
                }
                Err(e) => {
                    // The maps have an entry after the first error of that
                    // kind (and field and flow), so counting allocates only then.
                    *stats.egress_errors.entry(e.kind.name()).or_default() += 1;
                    let flow = p.desc.as_ref().map(FlowKey::of).or_else(|| header_flow(p.data(), self.cfg.decode.udp_port, p.port_direction));
                    *stats.egress_error_flows.entry((e.kind.name(), e.field, flow)).or_default() += 1;
                    let policy = match host.as_deref_mut() {
                        Some(h) if e.kind == EgressErrorKind::BadOutput && self.translators_doing(p, &e) => h.bad_output(p.route, e.field, e.offset),
                        _ => FaultPolicy::Pass,
                    };
                    if policy == FaultPolicy::Drop {
                        r.policy_dropped += 1;
                        fates.push(Fate::Drop);
                        continue;
                    }
                    self.shift_untouched(p);
                    let fate = self.oversize(p, stats, &mut r);
                    if fate == Fate::Keep {
                        r.forwarded_with_error += 1;
                        pad(p, &mut self.stats);
                    }
                    fate
                }
            };
            out += match fate {
                Fate::Keep => 1,
                Fate::Replace(a, b) => b - a,
                Fate::Drop => 0,
            };
            fates.push(fate);
        }
        if r.split + r.dropped + r.policy_dropped > 0 {
            let mut staging = std::mem::take(&mut self.staging);
            staging.extend(burst.drain());
            let mut new = pieces.drain(..);
            for (p, fate) in staging.drain(..).zip(fates.iter()) {
                match *fate {
                    Fate::Keep => keep(burst, pool, p),
                    Fate::Drop => pool.put(p.buf),
                    Fate::Replace(a, b) => {
                        pool.put(p.buf);
                        for piece in new.by_ref().take(b - a) {
                            keep(burst, pool, piece);
                        }
                    }
                }
            }
            drop(new);
            self.staging = staging;
        }
        fates.clear();
        self.fates = fates;
        self.pieces = pieces;
        r.packets_out = burst.len();
        r
    }

    /// Whether a `bad_output` message is its translator's doing: its
    /// sections do not read with the declared format (static compression,
    /// or a broken layout), or its udCompHdr still says the ingress format
    /// the chain declared converting from (lying_effects' lie). A header
    /// in a third format is not blamed: it is as likely a flow whose own
    /// format no profile names (PRACH at 14 bits without `prach_comp`,
    /// which bfp_width 9 -> 12 rightly leaves alone) as a translator that
    /// wrote another width; egress counts it per flow either way. (The
    /// host's verdicts cannot tell: the SDK reports a message it copied
    /// unchanged as modified.)
    fn translators_doing(&self, p: &Packet, e: &EgressError) -> bool {
        if e.field != "oran_fh_cus.udCompHdr" {
            return true;
        }
        let f = p.data();
        let Some((&hdr, &dir)) = f.get(e.offset).zip(e.offset.checked_sub(UDCOMPHDR_AFTER_DIRECTION).and_then(|i| f.get(i))) else { return true };
        ecpri::UdCompHdr::from_byte(hdr) == self.classify_decode.uplane(dir >> 7).static_comp
    }

    /// A packet that did not decode on ingress, or is not eCPRI: counted,
    /// its sequence ID moved with its flow's (when it can be read), sent
    /// as it is within the MTU, else as [`OversizePolicy`] says.
    fn untouched(&mut self, p: &mut Packet, stats: &mut Stats, r: &mut BurstEgress) -> Fate {
        self.stats.packets_in += 1;
        self.stats.untouched += 1;
        self.shift_untouched(p);
        let fate = self.oversize(p, stats, r);
        if fate == Fate::Keep {
            self.stats.packets_out += 1;
            pad(p, &mut self.stats);
        }
        fate
    }

    /// Applies the oversize policy to a packet egress leaves as it is:
    /// `Keep` when it fits the MTU (or is forwarded or cut), `Drop` when
    /// the policy drops it.
    fn oversize(&mut self, p: &mut Packet, stats: &mut Stats, r: &mut BurstEgress) -> Fate {
        // Shorter than an Ethernet header: fits any MTU (and is padded).
        let Ok(eth) = EthernetFrame::new_checked(p.data()).map(|e| e.header_len()) else { return Fate::Keep };
        if p.len - eth <= self.cfg.mtu {
            return Fate::Keep;
        }
        r.oversize += 1;
        *stats.oversize.entry(self.cfg.oversize.outcome()).or_default() += 1;
        match self.cfg.oversize {
            OversizePolicy::Drop => {
                r.dropped += 1;
                Fate::Drop
            }
            OversizePolicy::Forward => Fate::Keep,
            OversizePolicy::Cut => {
                p.len = eth + self.cfg.mtu;
                Fate::Keep
            }
        }
    }
}

/// Pads a frame shorter than [`MIN_FRAME`] with zeros (its buffer holds
/// [`PACKET_CAPACITY`](crate::translate::PACKET_CAPACITY) bytes).
#[inline]
fn pad(p: &mut Packet, stats: &mut EgressStats) {
    if p.len < MIN_FRAME {
        p.buf.bytes_mut()[p.len..MIN_FRAME].fill(0);
        p.len = MIN_FRAME;
        stats.padded += 1;
    }
}
