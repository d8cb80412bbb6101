//! The Argo CD capability, its simulator and the health gate.

mod client;
mod common;
mod gate;
mod list_and_auth;
mod sim_shapes;
mod swagger;
