//! Interop plans: what a chain of translators does to a side's format
//! (folding their declared effects, ABI.md §6 `effect`), checking DU
//! profile ∘ chain = RU profile before a packet moves, and deriving a
//! chain from the translators available (`fhgate plan`).

pub mod fold;

pub use fold::{compare, direction_format, fold, format_of_decode, format_of_profile, Declarations, FoldError, Folded, Mismatch, Stage};
