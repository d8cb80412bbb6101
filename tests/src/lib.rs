//! End-to-end tests for Baton.
