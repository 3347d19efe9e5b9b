//! chime's integration tests: the real binary against a local stand-in for Slack.
//! One test binary (see `autotests = false` in Cargo.toml), so the suite links once.

mod ask;
mod bed_selftest;
mod bounds;
mod completion;
mod crash;
mod discord;
mod disk;
mod events;
mod every_kind;
mod files;
mod fuzz;
mod google_chat;
mod hostile;
mod mattermost;
mod ntfy;
mod pipe;
mod profile;
mod profileless;
mod proxies;
mod redaction;
mod run;
mod scheduling;
mod send;
mod setup;
mod shared_state;
mod show;
mod spool;
mod state;
mod support;
mod teams;
mod telegram;
mod threads;
mod timing;
mod tls;
mod webhook;
