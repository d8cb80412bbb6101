//! The env repo capability against real git: field edits, history,
//! race-safe writes over file:// and smart HTTP.

mod common;
mod race;
mod repo;
mod yaml;
