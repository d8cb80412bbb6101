//! The promotion engine end to end: `promote`, `advance`, `rollback`,
//! `status` and `demo` through the real binary, and a policy built for
//! contract 0.1.0 through the same engine.

mod contract_0_1;
mod digests;
pub(crate) mod env;
mod flow;
mod invariants;
mod replay;
