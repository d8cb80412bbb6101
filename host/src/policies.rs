//! The policies embedded in the binary: the default policy
//! (`builtin:default`) and the SLO policy (`builtin:slo`, which the metrics
//! variant of `baton demo` runs), built from `../policies` by the build
//! script. Tests name every other
//! component by path through `test_policies.rs` in `OUT_DIR`, which only
//! the tests and benches include.

include!(concat!(env!("OUT_DIR"), "/policies.rs"));
