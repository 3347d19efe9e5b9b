//! What an alerting kind (pagerduty, opsgenie) is told beside the message: which alert
//! the event is about and what it does to it. Chat kinds post and ignore it.
//!
//! An alert is named by a key the platform deduplicates by (PagerDuty's
//! `dedup_key`, Opsgenie's `alias`): every event under one key is about one alert, so a trigger
//! opens it (or adds to it while it is open), and a resolve closes it. The
//! key comes from the send (`commands/send/route.rs` decides): `--dedupe
//! KEY`, else `--thread`/`--update KEY`, else `chime run`'s job name.

use sha2::Digest;

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
    /// What a `chime run` report does to the job's alert: a failure triggers
    /// it, a success resolves it, so that with `--on change` the recovery
    /// closes the incident the failure opened.
    pub fn after_run(ok: bool) -> AlertAction {
        match ok {
            true => AlertAction::Resolve,
            false => AlertAction::Trigger,
        }
    }

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

impl Alert {
    /// The key within a platform's `max` characters: as it is when it fits;
    /// past that, its start and a digest of the whole, so two long keys (a
    /// job named by its long command line) stay two alerts, the same each run.
    pub fn key_within(&self, max: usize) -> Option<String> {
        let key = self.key.as_deref()?;
        if key.chars().count() <= max {
            return Some(key.to_owned());
        }
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let start: String = key
            .chars()
            .take(max.saturating_sub(hex.len() + 1))
            .collect();
        Some(format!("{start}~{hex}"))
    }
}

/// An alert's one line: the title, else the text on one line, cut at `max`
/// characters (`empty` when there is neither); and the whole title when
/// the line had to cut it, for the alert's details to keep.
pub fn headline<'m>(
    message: &'m crate::message::Message,
    max: usize,
    empty: &str,
) -> (String, Option<&'m str>) {
    use crate::kinds::text::{Measure, cut};
    let title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let line = match title.is_empty() {
        false => title.to_owned(),
        true => message
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let (shown, was_cut) = cut(&line, max, Measure::Chars);
    let whole_title = (was_cut && !title.is_empty()).then_some(title);
    match shown.is_empty() {
        true => (empty.to_owned(), None),
        false => (shown, whole_title),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_key_is_cut_to_its_limit_and_stays_unique_to_it() {
        let alert = |key: String| Alert {
            key: Some(key),
            action: AlertAction::Trigger,
        };
        let a = alert("a".repeat(300)).key_within(255).unwrap();
        let b = alert(format!("{}b", "a".repeat(299)))
            .key_within(255)
            .unwrap();
        assert_eq!((a.chars().count(), b.chars().count()), (255, 255));
        assert_ne!(a, b);
        assert_eq!(alert("backup".into()).key_within(255).unwrap(), "backup");
        assert_eq!(Alert::default().key_within(255), None);
    }
}
