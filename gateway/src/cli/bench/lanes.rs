//! bench's ports, of one lane or several: a multi-queue live port
//! (`af_xdp:IF,queues=0-3`, `af_packet:IF,sockets=4`) sends through
//! [`fhgate::io::steer::SteeredTx`] (eAxC mod N, as `fhgate gen`) and receives through
//! [`fhgate::io::merged::MergedRx`] (as `fhgate sink`); its counters are read summed over
//! every lane, so a drop on any queue counts.

use anyhow::{anyhow, Result};
use fhgate::config::Backend;
use fhgate::io::merged::merged;
use fhgate::io::port_stats::{PortCounters, PortEvent};
use fhgate::io::steer::steered;
use fhgate::io::{live, RxPort, TxPort};

use super::host;

/// The counters of every lane of one port half, read as one port's.
#[derive(Clone, Debug)]
pub struct LaneCounters(Vec<PortCounters>);

impl LaneCounters {
    /// The counters of `lanes` (one per lane).
    pub fn new(lanes: Vec<PortCounters>) -> LaneCounters {
        LaneCounters(lanes)
    }

    /// The count of `event` over every lane.
    #[inline]
    pub fn get(&self, event: PortEvent) -> u64 {
        self.0.iter().map(|c| c.get(event)).sum()
    }

    /// Frames dropped by the port's lanes, every reason together.
    pub fn drops(&self) -> u64 {
        self.0.iter().map(PortCounters::drops).sum()
    }

    /// Frames the kernel dropped on the receive side (not counted by [`LaneCounters::drops`]).
    pub fn kernel_drops(&self) -> u64 {
        self.get(PortEvent::KernelRxDropped) + self.get(PortEvent::KernelRxRingFull)
    }

    /// Every drop of the receive side, the port's own and the kernel's.
    pub fn rx_drops(&self) -> u64 {
        self.drops() + self.kernel_drops()
    }

    /// How many lanes (queues or fanout sockets) the port has.
    pub fn queues(&self) -> u32 {
        self.0.len() as u32
    }
}

/// An open port: both halves over all its lanes, and their counters.
pub struct Port {
    /// Frames leaving by the port (steered over the lanes).
    pub tx: Box<dyn TxPort>,
    /// Frames arriving on the port (every lane, in turn).
    pub rx: Box<dyn RxPort>,
    /// The transmit halves' counters.
    pub tx_counters: LaneCounters,
    /// The receive halves' counters.
    pub rx_counters: LaneCounters,
}

/// Opens a port with all its lanes and names its NIC for the report (in
/// the calling thread's namespace). One lane is used as it is.
pub fn open(b: &Backend, mtu: usize, flag: &str) -> Result<(Port, String)> {
    let lanes = live::open_lanes(b, mtu).map_err(|e| anyhow!("{flag}: {e}"))?;
    anyhow::ensure!(!lanes.is_empty(), "{flag}: no queue opened");
    let n = lanes.len();
    let (mut txs, mut rxs, mut txc, mut rxc) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for l in lanes {
        txs.push(l.tx);
        rxs.push(l.rx);
        txc.push(l.tx_counters);
        rxc.push(l.rx_counters);
    }
    let (tx, rx) = (steered(txs)?, merged(rxs));
    let nic = match b {
        Backend::AfXdp(c) => format!(
            "{} (driver {}), AF_XDP",
            c.interface,
            host::driver(&c.interface).unwrap_or_else(|| "unknown".into())
        ),
        Backend::AfPacket(c) => format!(
            "{} (driver {}), AF_PACKET",
            c.interface,
            host::driver(&c.interface).unwrap_or_else(|| "unknown".into())
        ),
        Backend::Udp(_) => "UDP socket".into(),
        Backend::Pcap { .. } => "capture".into(),
    };
    let nic = if n > 1 {
        format!("{nic}, {n} queues")
    } else {
        nic
    };
    Ok((
        Port {
            tx,
            rx,
            tx_counters: LaneCounters::new(txc),
            rx_counters: LaneCounters::new(rxc),
        },
        nic,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PortEvent::*;

    const RX: &[PortEvent] = &[Frames, DropTruncated, KernelRxDropped, KernelRxRingFull];
    const TX: &[PortEvent] = &[Frames, DropRingFull];

    #[test]
    fn drops_and_kernel_counters_are_summed_over_every_lane() {
        let lanes: Vec<(PortCounters, PortCounters)> = (0..4)
            .map(|q| PortCounters::pair_on_queue("af_xdp", "du0", Some(q), RX, TX))
            .collect();
        for (q, (rx, tx)) in lanes.iter().enumerate() {
            let q = q as u64;
            rx.add(DropTruncated, q);
            rx.set(KernelRxDropped, 10 * q);
            rx.set(KernelRxRingFull, 100 * q);
            tx.add(DropRingFull, q + 1);
        }
        let rx = LaneCounters::new(lanes.iter().map(|l| l.0.clone()).collect());
        let tx = LaneCounters::new(lanes.iter().map(|l| l.1.clone()).collect());
        // Lanes 0..4 hold 0+1+2+3 = 6 of each unit.
        assert_eq!(
            (rx.drops(), rx.kernel_drops(), rx.rx_drops()),
            (6, 60 + 600, 666)
        );
        assert_eq!((tx.get(DropRingFull), tx.drops(), tx.queues()), (10, 10, 4));
        let (one, _) = PortCounters::pair("af_xdp", "du0", RX, TX);
        one.set(KernelRxRingFull, 7);
        let one = LaneCounters::new(vec![one]);
        assert_eq!(
            (one.rx_drops(), one.queues()),
            (7, 1),
            "one lane reads as the port itself"
        );
    }

    #[test]
    fn one_queue_is_written_as_before_and_read_from_reports_and_welcomes_without_queues() {
        use super::super::control::Msg;
        use super::super::report::Host;
        let old = r#"{"hostname":"h","cpu":"c","kernel":"k","tx_nic":"a","rx_nic":"b","timestamping":"t"}"#;
        let h: Host = serde_json::from_str(old).unwrap();
        assert_eq!((h.tx_queues, h.rx_queues), (1, 1));
        let one = serde_json::to_value(&h).unwrap();
        assert!(one.get("tx_queues").is_none() && one.get("rx_queues").is_none(), "a one-queue report is unchanged: {one}");
        let four = serde_json::to_value(Host { tx_queues: 4, ..h }).unwrap();
        assert_eq!((four["tx_queues"].as_u64(), four.get("rx_queues")), (Some(4), None));
        let welcome = r#"{"msg":"welcome","version":1,"traffic":{"carrier":"c","frames":1,"fingerprint":2},"epoch_ns":3,"tx":"t","tx_nic":"n","hostname":"h","send_timestamping":"s","ptp_offset":null}"#;
        let Msg::Welcome { tx_queues, .. } = serde_json::from_str(welcome).unwrap() else { panic!("a welcome") };
        assert_eq!(tx_queues, 1, "a tx side that does not say has one queue");
    }
}
