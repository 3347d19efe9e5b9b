//! chime's integration tests: the real binary against a local stand-in for Slack.

mod support;
