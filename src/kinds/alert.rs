//! What an alerting kind (pagerduty) is told beside the message: which alert
//! the event is about and what it does to it. Chat kinds post and ignore it.
//!
//! An alert is named by a key the platform deduplicates by (PagerDuty's
//! `dedup_key`): every event under one key is about one alert, so a trigger
//! opens it (or adds to it while it is open), and a resolve closes it. The
//! key comes from the send (`commands/send/route.rs` decides): `--dedupe
//! KEY`, else `--thread`/`--update KEY`, else `chime run`'s job name.

/// What an event does to its alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertAction {
    /// Opens the alert, or adds to it while it is open: someone is paged.
    #[default]
    Trigger,
    /// Someone is on it: the alert stays open and pages no one further.
    Acknowledge,
    /// Fixed: the alert closes.
    Resolve,
}

impl AlertAction {
    /// The name the Events API and the flags use: `trigger`, `acknowledge`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Trigger => "trigger",
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Resolve => "resolve",
        }
    }
}

/// The alert one send's event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alert {
    /// The key it is known by; `None` lets the platform assign one (a new
    /// alert each time).
    pub key: Option<String>,
    pub action: AlertAction,
}
