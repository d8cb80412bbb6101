//! The env repo capability against real git: field edits, history,
//! race-safe writes over file:// and smart HTTP.

pub mod common;
mod race;
mod repo;
mod yaml;
