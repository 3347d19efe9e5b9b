//! chime's integration tests: the real binary against a local stand-in for Slack.
//! One test binary (see `autotests = false` in Cargo.toml), so the suite links once.

mod bed_selftest;
mod profile;
mod send;
mod setup;
mod spool;
mod support;
mod threads;
