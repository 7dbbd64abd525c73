//! What egress reports: why a packet could not be sent as asked
//! ([`EgressError`], by [`EgressErrorKind`]), what it does with frames past
//! the MTU it cannot split ([`OversizePolicy`]), and its counters.

use core::fmt;

use ecpri::Error;

/// What becomes of a frame larger than the MTU that egress cannot split
/// (it did not decode, it is not eCPRI, or its message is not a U-plane
/// one). Every such frame is counted by what was done
/// ([`crate::pipeline::stats::Stats::oversize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OversizePolicy {
    /// Not sent (the default: a frame past the MTU would be lost or
    /// rejected on the link anyway, and may harm the receiver).
    #[default]
    Drop,
    /// Sent whole, past the MTU.
    Forward,
    /// Cut to the MTU and sent (the rest of the frame is lost).
    Cut,
}

impl OversizePolicy {
    /// Every policy.
    pub const ALL: [OversizePolicy; 3] = [OversizePolicy::Drop, OversizePolicy::Forward, OversizePolicy::Cut];

    /// `drop`, `forward` or `cut`: the config file's and CLI's spelling.
    pub fn name(self) -> &'static str {
        match self {
            OversizePolicy::Drop => "drop",
            OversizePolicy::Forward => "forward",
            OversizePolicy::Cut => "cut",
        }
    }

    /// Parses [`OversizePolicy::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// What the counters call a frame handled this way.
    pub fn outcome(self) -> &'static str {
        match self {
            OversizePolicy::Drop => "dropped",
            OversizePolicy::Forward => "forwarded",
            OversizePolicy::Cut => "cut",
        }
    }
}

/// Why a packet could not be sent as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EgressErrorKind {
    /// The frame does not decode.
    Malformed,
    /// Larger than the MTU and not splittable: a C-plane or other
    /// non-U-plane message, a radio-transport fragment, non-eCPRI traffic,
    /// or a U-plane section using symInc or whose pieces' startPrbu would
    /// not fit 10 bits.
    NotSplittable,
    /// One PRB with the headers it needs is larger than the MTU.
    PrbTooLarge,
    /// ecpriPayload disagrees with the content and cannot be repaired.
    PayloadSize,
    /// More concatenated messages than [`MAX_MESSAGES`].
    TooManyMessages,
    /// More pieces than [`MAX_PIECES`], or the sink has no buffers.
    NoBuffers,
    /// A translated U-plane message whose sections, read with the egress
    /// format (compression, udCompHdr), do not fill its ecpriPayload: the
    /// translators emit another format than egress was given.
    FormatMismatch,
    /// As [`EgressErrorKind::FormatMismatch`], where the egress format is
    /// what the chain's translators declared (ABI.md §6 `effect`): a
    /// translator's output contradicts its declaration.
    BadOutput,
}

impl EgressErrorKind {
    /// Number of kinds (the length of [`EgressStats::errors`]).
    pub const COUNT: usize = 8;
    /// Every kind, in counter order.
    pub const ALL: [EgressErrorKind; Self::COUNT] = [
        EgressErrorKind::Malformed,
        EgressErrorKind::NotSplittable,
        EgressErrorKind::PrbTooLarge,
        EgressErrorKind::PayloadSize,
        EgressErrorKind::TooManyMessages,
        EgressErrorKind::NoBuffers,
        EgressErrorKind::FormatMismatch,
        EgressErrorKind::BadOutput,
    ];

    /// A short, stable name, used as a counter label.
    pub fn name(self) -> &'static str {
        match self {
            EgressErrorKind::Malformed => "malformed",
            EgressErrorKind::NotSplittable => "not_splittable",
            EgressErrorKind::PrbTooLarge => "prb_too_large",
            EgressErrorKind::PayloadSize => "payload_size",
            EgressErrorKind::TooManyMessages => "too_many_messages",
            EgressErrorKind::NoBuffers => "no_buffers",
            EgressErrorKind::FormatMismatch => "format_mismatch",
            EgressErrorKind::BadOutput => "bad_output",
        }
    }

    /// How to fix errors of this kind, when the fix is a setting.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            EgressErrorKind::FormatMismatch => Some(
                "the translators emit a U-plane format egress was not told about: give it with \
                 --egress-dl-comp/--egress-ul-comp (replay) or the receiving side's dl_comp, ul_comp \
                 and comp_hdr keys (run); the frames were forwarded unchanged",
            ),
            EgressErrorKind::BadOutput => Some(
                "a translator wrote another U-plane format than it declared (`fhgate translator check` lists its \
                 effects), or a flow has a format of its own no profile names (prach_comp, srs_comp): the frames \
                 were forwarded unchanged, or dropped where the translator blamed has fault_policy drop (its \
                 faults are in the translator summary); fix the translator, its configuration or the profiles",
            ),
            EgressErrorKind::PrbTooLarge => Some("raise the egress MTU (--mtu, or the receiving side's mtu key)"),
            _ => None,
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// A packet egress could not send as asked: the kind, the field at fault
/// (Wireshark's name where one exists) and its byte offset in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressError {
    /// What went wrong.
    pub kind: EgressErrorKind,
    /// The field at fault.
    pub field: &'static str,
    /// Its offset in the frame.
    pub offset: usize,
    /// The codec's error, when the frame did not decode.
    pub cause: Option<Error>,
}

impl EgressError {
    pub(super) fn new(kind: EgressErrorKind, field: &'static str, offset: usize) -> Self {
        EgressError { kind, field, offset, cause: None }
    }

    pub(super) fn mismatch(offset: usize, declared: bool) -> Self {
        let kind = if declared { EgressErrorKind::BadOutput } else { EgressErrorKind::FormatMismatch };
        EgressError::new(kind, "ecpri.size", offset)
    }

    pub(super) fn malformed(e: Error) -> Self {
        EgressError { kind: EgressErrorKind::Malformed, field: e.field(), offset: e.offset().unwrap_or(0), cause: Some(e) }
    }
}

impl fmt::Display for EgressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cause, self.kind) {
            (Some(e), _) => write!(f, "{}: {e}", self.kind.name()),
            (None, EgressErrorKind::FormatMismatch) => write!(
                f,
                "{}: the U-plane sections, read with the egress format, do not fill ecpriPayload ({} at offset {})",
                self.kind.name(),
                self.field,
                self.offset
            ),
            (None, _) => write!(f, "{}: {} at offset {}", self.kind.name(), self.field, self.offset),
        }
    }
}

impl std::error::Error for EgressError {}

/// Counters of one [`Egress`]; plain integers, read by the metrics thread
/// from snapshots the worker publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressStats {
    /// Packets handed to [`Egress::process_frame`].
    pub packets_in: u64,
    /// Packets that left (in place or as pieces).
    pub packets_out: u64,
    /// Packets split because they exceeded the MTU.
    pub split: u64,
    /// Packets those splits produced.
    pub pieces: u64,
    /// Messages whose ecpriPayload was corrected.
    pub sizes_fixed: u64,
    /// Messages whose C bit was corrected.
    pub cbits_fixed: u64,
    /// Padding bytes cut so that a frame fits the MTU.
    pub bytes_trimmed: u64,
    /// Frames padded to the 60-byte Ethernet minimum.
    pub padded: u64,
    /// Messages whose ecpriSeqid was moved (pieces of a split, and later
    /// messages of their flow).
    pub renumbered: u64,
    /// Radio-transport fragments (E bit 0 or subsequence ID set), whose
    /// ecpriSeqid is left as it is.
    pub fragments_kept: u64,
    /// Messages of flows the full sequence table could not take.
    pub flows_untracked: u64,
    /// Frames that did not decode on ingress or are not eCPRI, passed as
    /// they came (no translator saw them).
    pub untouched: u64,
    /// Errors by [`EgressErrorKind`], in [`EgressErrorKind::ALL`] order.
    pub errors: [u64; EgressErrorKind::COUNT],
}

impl EgressStats {
    /// Errors of one kind.
    pub fn errors_of(&self, k: EgressErrorKind) -> u64 {
        self.errors[k.index()]
    }

    /// Errors of every kind.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}
