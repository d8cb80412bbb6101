//! The policy components built from `../policies` by the build script. The
//! default policy is embedded (`builtin:default`); the others are named by
//! path for tests and examples.

include!(concat!(env!("OUT_DIR"), "/policies.rs"));
