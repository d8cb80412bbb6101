//! The promotion engine end to end: `promote`, `advance`, `rollback`,
//! `status` and `demo` through the real binary.

pub(crate) mod env;
mod flow;
mod replay;
