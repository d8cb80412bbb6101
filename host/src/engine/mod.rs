//! The promotion engine: events -> policy -> guardrails -> actions -> gates.

pub mod guardrails;
