//! Interop plans: what a chain of translators does to a side's format
//! (folding their declared effects, ABI.md §6.1), checking DU profile ∘
//! chain = RU profile before a packet moves (`verify`), and deriving a
//! chain from the translators available (`derive`, `fhgate plan`), and
//! naming what differs in the C-plane alone (`cplane`).

pub mod cplane;
pub mod derive;
pub mod fold;
pub mod render;
pub mod verify;

pub use derive::{derive, Available, How, Plan, Step};
pub use fold::{compare, direction_format, flow_starts, fold, format_of_decode, format_of_profile, Declarations, FlowOut, FlowStart, FoldError, Folded, Mismatch, Stage};
pub use verify::{check_config, refusal, verify, CheckError, EgressFormat, Verdict};
