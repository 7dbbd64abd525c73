//! The result of a bench run, as `--json FILE` writes it and `bench
//! compare` reads it back. DEVELOPERS.md and `bench --help` describe the
//! schema; `SCHEMA` names its version, bumped on any incompatible change.
//! Rates are Ethernet frames per second, times nanoseconds.

use serde::{Deserialize, Serialize};

/// The schema this build writes.
pub const SCHEMA: &str = "fhgate-bench/1";

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// fhgate's version.
    pub fhgate_version: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// What was asked for.
    pub settings: Settings,
    /// Where it ran.
    pub host: Host,
    /// The throughput search (RFC 2544 §26.1).
    pub throughput: Throughput,
    /// Trials at fractions of the found rate (latency, integrity, loss).
    pub sweep: Vec<Trial>,
    /// The device bench started, if any, and what it counted.
    pub dut: Option<serde_json::Value>,
    /// Problems worth a reader's attention (rx saw nothing, tx limited...).
    pub warnings: Vec<String>,
}

/// The run's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// The transmit port spec, and its namespace.
    pub tx: String,
    /// The receive port spec, and its namespace.
    pub rx: String,
    /// The traffic: preset name or "custom", and its description.
    pub traffic: String,
    /// The carrier in words (PRBs, antennas, compression...).
    pub carrier: String,
    /// Frames per second of the carrier in real time (its slot timing).
    pub realtime_fps: f64,
    /// Mean frame length sent, bytes.
    pub mean_frame_bytes: f64,
    /// Seconds of each trial's measured part.
    pub trial_seconds: f64,
    /// Seconds of traffic before each trial's measured part, not counted.
    pub warmup_seconds: f64,
    /// Seconds the receiver waits after the last frame is sent.
    pub drain_seconds: f64,
    /// Most seconds bench waits after a trial for the device to go quiet.
    pub settle_seconds: f64,
    /// Search resolution, frames per second.
    pub resolution_fps: f64,
    /// Loss tolerated in the search, as a ratio (0: none).
    pub loss_tolerance: f64,
    /// Sweep points, percent of the found rate.
    pub sweep_percent: Vec<f64>,
    /// IQ is checked on one U-plane frame in this many.
    pub iq_every: u32,
    /// The device's configuration when bench started it.
    pub dut_config: Option<String>,
}

/// The host and how it measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// Kernel hostname.
    pub hostname: String,
    /// CPU model and logical CPUs.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Transmit interface's driver (ethtool), backend.
    pub tx_nic: String,
    /// Receive interface's driver (ethtool), backend.
    pub rx_nic: String,
    /// Queues (AF_XDP) or fanout sockets (AF_PACKET) of the transmit port;
    /// written only when more than one, so a one-queue report is unchanged.
    #[serde(default = "one_queue", skip_serializing_if = "is_one_queue")]
    pub tx_queues: u32,
    /// The same of the receive port.
    #[serde(default = "one_queue", skip_serializing_if = "is_one_queue")]
    pub rx_queues: u32,
    /// How send and receive times are taken, and on which clock.
    pub timestamping: String,
    /// [`ONE_CLOCK`] (both ends in one process), or for `--role tx` and
    /// `--role rx`: [`PTP_CLOCKS`] when both gave a PTP offset, else
    /// [`UNVERIFIED_CLOCKS`].
    #[serde(default = "one_clock")]
    pub clock: String,
    /// Cross-host runs: what is known of the two clocks' offset.
    #[serde(default)]
    pub clock_offset: Option<ClockOffset>,
}

/// A port's queue count when none is written.
pub(super) fn one_queue() -> u32 {
    1
}

/// Whether a queue count is the one left unwritten.
pub(super) fn is_one_queue(n: &u32) -> bool {
    *n == 1
}

fn one_clock() -> String {
    ONE_CLOCK.into()
}

/// [`Host::clock`] of a run whose two ends share one process.
pub const ONE_CLOCK: &str = "one clock";
/// [`Host::clock`] of a run across two hosts whose PTP offsets were both
/// given or read (`--ptp-offset` on each side).
pub const PTP_CLOCKS: &str = "PTP-synced clocks across hosts";
/// [`Host::clock`] of a run across two hosts when at least one side gave
/// no PTP offset: nothing says the clocks are synchronised.
pub const UNVERIFIED_CLOCKS: &str = "two hosts' clocks (synchronisation not verified)";

/// What a cross-host run knows of the offset between the tx host's and
/// the rx host's clocks; each latency includes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClockOffset {
    /// The tx host's offset from its PTP master (ptp4l/phc2sys), ns, as
    /// given by `--ptp-offset` there or read with `pmc`.
    pub tx_ptp_offset_ns: Option<f64>,
    /// The rx host's, likewise.
    pub rx_ptp_offset_ns: Option<f64>,
    /// Where each came from (`given`, `pmc`), tx then rx.
    pub ptp_offset_source: Vec<String>,
    /// The tx clock minus the rx clock, estimated over the control
    /// channel as NTP does (the exchange with the least round trip), ns.
    pub control_estimate_ns: f64,
    /// That exchange's round trip, ns: the estimate is good to half of it.
    pub control_rtt_ns: f64,
}

impl ClockOffset {
    /// [`Host::clock`] for these offsets: PTP-synced only when both
    /// hosts' offsets from their PTP master are known.
    pub fn clock(&self) -> &'static str {
        if self.tx_ptp_offset_ns.is_some() && self.rx_ptp_offset_ns.is_some() {
            PTP_CLOCKS
        } else {
            UNVERIFIED_CLOCKS
        }
    }

    /// The sides that gave no PTP offset, in words (`None`: both gave one).
    pub fn missing_ptp(&self) -> Option<&'static str> {
        match (self.tx_ptp_offset_ns.is_some(), self.rx_ptp_offset_ns.is_some()) {
            (true, true) => None,
            (true, false) => Some("the rx side"),
            (false, true) => Some("the tx side"),
            (false, false) => Some("neither side"),
        }
    }
}

/// The throughput search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    /// Highest rate with loss within the tolerance, frames per second (0: none found).
    pub found_fps: f64,
    /// The same in Mbit/s of Ethernet frames (without preamble and IFG).
    pub found_mbps: f64,
    /// The same as a multiple of the carrier's real-time rate.
    pub found_realtime: f64,
    /// The highest rate the transmitter reached flat out.
    pub max_offered_fps: f64,
    /// Whether the found rate is the transmitter's ceiling (the device lost nothing even flat out).
    pub tx_limited: bool,
    /// Every search trial, in order.
    pub trials: Vec<Trial>,
    /// A longer trial at the found rate (stepped down by the resolution while it loses), if asked for.
    pub confirmation: Option<Trial>,
}

/// One trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// What it is: `max`, `search`, `confirm` or `sweep`.
    pub kind: String,
    /// Percent of the found rate (sweep trials).
    pub percent: Option<f64>,
    /// Rate asked for (none: flat out).
    pub target_fps: Option<f64>,
    /// Rate offered in the measured part.
    pub offered_fps: f64,
    /// Frames sent in the measured part.
    pub sent: u64,
    /// Of them, received.
    pub received: u64,
    /// sent − received.
    pub lost: u64,
    /// lost / sent.
    pub loss_ratio: f64,
    /// Whether loss is within the tolerance.
    pub pass: bool,
    /// Frames received twice.
    pub duplicates: u64,
    /// Frames received after a later one of their flow (by place in the flow's sequence).
    pub reordered: u64,
    /// seqIds missing at the end (lost frames show here too).
    pub seq_gaps: u64,
    /// Frames that did not decode.
    pub malformed: u64,
    /// Frames that decode but match nothing bench sent.
    pub unmatched: u64,
    /// Frames of an earlier trial or lap, ignored.
    pub stale: u64,
    /// Frames received before their send time by the two hosts' clocks
    /// (cross-host runs: the clocks are further apart than the latency);
    /// counted, with latency 0.
    #[serde(default)]
    pub before_sent: u64,
    /// Frames that arrived before the later lap in their table slot was
    /// sent (a whole frameId window late): their lap is ambiguous.
    #[serde(default)]
    pub aliased: u64,
    /// The frameId window at this trial's rate: 128 laps of the pool, s.
    /// Frames later than this alias a later lap.
    #[serde(default)]
    pub frame_id_window_s: f64,
    /// Latency reached half the window, or frames were aliased: this
    /// trial's duplicates, reordering and loss may be misattributed.
    #[serde(default)]
    pub lap_ambiguous: bool,
    /// Frames of this trial that arrived after the drain time (counted as lost).
    pub late: u64,
    /// Frames the transmit port itself dropped (ring full): not offered.
    pub tx_dropped: u64,
    /// Frames the receive port or its kernel dropped (bench too slow): counted as lost.
    pub rx_port_drops: u64,
    /// Warm-up frames sent.
    pub warmup_sent: u64,
    /// Seconds the measured part took.
    pub seconds: f64,
    /// Latency over every flow.
    pub latency: Option<Latency>,
    /// Latency CDF, (ns, fraction ≤) pairs.
    pub latency_cdf: Vec<(f64, f64)>,
    /// Latency histogram, (bin low ns, bin high ns, frames).
    pub latency_histogram: Vec<(f64, f64, u64)>,
    /// Per flow.
    pub flows: Vec<Flow>,
}

/// Latency of a set of frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Frames measured.
    pub frames: u64,
    /// Minimum, ns.
    pub min_ns: f64,
    /// Median, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// 99.9th percentile, ns.
    pub p999_ns: f64,
    /// Maximum, ns.
    pub max_ns: f64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Mean |difference| of consecutive frames' latencies within a flow (IPDV, RFC 3393), ns.
    pub jitter_ns: f64,
}

/// One flow's integrity and latency in a trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    /// `U DL 0:0:0:1`: plane, direction, eAxC fields DU:BS:CC:RU.
    pub flow: String,
    /// Frames sent in the measured part.
    pub sent: u64,
    /// Of them, received.
    pub received: u64,
    /// sent − received.
    pub lost: u64,
    /// Frames received twice.
    pub duplicates: u64,
    /// Frames received after a later one (by place in the flow's sequence).
    pub reordered: u64,
    /// seqIds missing.
    pub seq_gaps: u64,
    /// Frames of this flow that did not decode.
    pub malformed: u64,
    /// Frames of this flow that matched nothing sent.
    pub unmatched: u64,
    /// Latency of this flow's frames.
    pub latency: Option<Latency>,
    /// IQ error against gen's signal (U-plane).
    pub iq: Option<Iq>,
}

/// IQ error of the PRBs checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Iq {
    /// PRBs compared.
    pub prbs: u64,
    /// EVM in percent (0 when exact).
    pub evm_pct: f64,
    /// EVM in dB, none when exact.
    pub evm_db: Option<f64>,
    /// Every sample identical.
    pub exact: bool,
    /// PRBs that could not be decompressed.
    pub undecodable: u64,
}
