//! The promotion engine end to end: `promote`, `advance`, `reconcile`,
//! `rollback`, `status` and `demo` through the real binary (on the GitLab
//! and GitHub simulators, every merge method), a stage deployed in two
//! regions, and a policy built for contract 0.1.0 through the same engine.

mod contract_0_1;
mod deadlines;
mod digests;
pub(crate) mod env;
mod flow;
mod invariants;
mod merges;
mod output;
mod reconcile;
mod replay;
mod targets;
