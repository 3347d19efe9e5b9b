//! chime's integration tests: the real binary against a local stand-in for Slack.
//! One test binary (see `autotests = false` in Cargo.toml), so the suite links once.

mod bed_selftest;
mod discord;
mod mattermost;
mod profile;
mod send;
mod support;
