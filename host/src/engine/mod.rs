//! The promotion engine: events -> policy -> guardrails -> actions -> gates.

pub mod gate;
pub mod guardrails;
pub mod world;
