//! Shared helpers for the benchmarks: deterministic test signals.
