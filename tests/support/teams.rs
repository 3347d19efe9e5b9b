//! A stand-in for a Microsoft Teams Workflows webhook (PLATFORMS.md §6.1), mounted on the
//! bed under `/teams/`.
//!
//! The trigger answers `202 Accepted` to any signed request and posts the card afterwards;
//! a card the flow cannot post (over 28 KB as sent or as Teams stores it, not an Adaptive
//! Card message) is dropped with only a failed run to show for it, exactly the silent loss
//! chime must avoid. So the bed marks a request delivered only when the card would have
//! reached the channel, and [`Teams::failed_runs`] is the run history. Unsigned requests get 401
//! `DirectApiAuthorizationRequired` and unknown or deleted flows 404; those bodies follow
//! the Logic Apps error shape, with messages of our own where none was confirmed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use super::bed::{Answer, Bed, Request, Surface};

/// "The message size limit is 28 KB" (§6.1); 28,000 is the stricter reading of "KB".
pub const MAX_REQUEST: usize = 28_000;
pub const TOO_LARGE: &str =
    "The payload is too large. Please make sure the size is less than 28KB.";
/// What Teams counts when the flow posts the card: "Message properties size exceeded.
/// Actual message properties size: 28897 bytes, whereas max allowed size is 28672 bytes"
/// for a request of 24,453 bytes (MicrosoftDocs/msteams-docs#11274). The card travels on
/// as a JSON string inside the chat message, so every quote and backslash costs twice;
/// the stand-in counts the request re-encoded as one JSON string against 28 KiB.
pub const MAX_STORED: usize = 28_672;
const CARD: &str = "application/vnd.microsoft.card.adaptive";

#[derive(Default)]
pub struct Teams {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Flow id → its signature; absent once deleted.
    flows: HashMap<String, String>,
    failed_runs: Vec<String>,
}

impl Teams {
    /// Mounts a fresh stand-in on `bed`.
    pub fn mount(bed: &Bed) -> Arc<Teams> {
        let teams = Arc::new(Teams::default());
        bed.mount("/teams/", Arc::clone(&teams) as Arc<dyn Surface>);
        teams
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The URL of a live workflow named `name`, shaped like Power Automate's.
    pub fn workflow(&self, bed: &Bed, name: &str) -> String {
        let id = flow_id(name);
        let sig = format!("fakesig{id}xxxxxxxx");
        self.state().flows.insert(id.clone(), sig.clone());
        format!(
            "{}/teams/workflows/{id}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}",
            bed.url()
        )
    }

    /// The workflow is deleted: its URL now answers 404.
    pub fn delete(&self, name: &str) {
        self.state().flows.remove(&flow_id(name));
    }

    /// Why each accepted request failed to post, as the flow's run history says.
    pub fn failed_runs(&self) -> Vec<String> {
        self.state().failed_runs.clone()
    }
}

fn flow_id(name: &str) -> String {
    let alnum: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("0f10{}", alnum.to_ascii_lowercase())
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::json_status(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

impl Surface for Teams {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let id = request
            .path
            .strip_prefix("/teams/workflows/")
            .and_then(|rest| rest.strip_suffix("/triggers/manual/paths/invoke"))
            .unwrap_or("");
        let Some(sig) = self.state().flows.get(id).cloned() else {
            return error(404, "WorkflowNotFound", "The workflow could not be found.");
        };
        let query = request.query.as_deref().unwrap_or("");
        if !query.split('&').any(|pair| pair == format!("sig={sig}")) {
            let message = "The request must be authenticated only by Shared Access scheme.";
            return error(401, "DirectApiAuthorizationRequired", message);
        }
        if let Err(secs) = limit(id) {
            return self.throttled(secs);
        }
        let accepted = Answer::new(202, "text/plain", "");
        match check(&request.body) {
            Ok(()) => accepted.delivered(),
            Err(why) => {
                self.state().failed_runs.push(why);
                accepted
            }
        }
    }

    fn throttled(&self, secs: u64) -> Answer {
        let message = "The workflow has been throttled; retry after the interval in Retry-After.";
        error(429, "WorkflowRequestsThrottled", message).retry_after(secs)
    }
}

/// What the flow's "post card" step would refuse, in its run-history words.
fn check(body: &[u8]) -> Result<(), String> {
    if body.len() > MAX_REQUEST {
        return Err(TOO_LARGE.to_owned());
    }
    let stored = stored_size(&String::from_utf8_lossy(body));
    if stored > MAX_STORED {
        return Err(format!(
            "MessageSizeExceeded-Message properties size exceeded. Actual message properties size: {stored} bytes, whereas max allowed size is {MAX_STORED} bytes"
        ));
    }
    let message: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    if message["type"] != "message" {
        return Err("`type` must be \"message\"".into());
    }
    let attachments = message["attachments"].as_array().filter(|a| !a.is_empty());
    let Some(attachments) = attachments else {
        return Err("`attachments` must hold a card".into());
    };
    for attachment in attachments {
        if attachment["contentType"] != CARD {
            return Err("Workflows support Adaptive Cards only".into());
        }
        let card = &attachment["content"];
        if card["type"] != "AdaptiveCard" || !card["version"].is_string() {
            return Err("the attachment is not an Adaptive Card".into());
        }
        for element in card["body"].as_array().into_iter().flatten() {
            check_element(element)?;
        }
        for action in card["actions"].as_array().into_iter().flatten() {
            check_action(action)?;
        }
    }
    Ok(())
}

/// The size of `body` once the flow has wrapped it as a JSON string.
pub fn stored_size(body: &str) -> usize {
    Value::String(body.to_owned()).to_string().len()
}

fn check_element(element: &Value) -> Result<(), String> {
    let text = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    match element["type"].as_str() {
        Some("TextBlock") if text(&element["text"]) => Ok(()),
        Some("FactSet") => {
            let facts = element["facts"].as_array().filter(|f| !f.is_empty());
            let ok = facts.is_some_and(|f| {
                f.iter()
                    .all(|fact| fact["title"].is_string() && fact["value"].is_string())
            });
            ok.then_some(())
                .ok_or_else(|| "a FactSet needs facts with a title and a value".into())
        }
        Some("ActionSet") => element["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .try_for_each(check_action),
        other => Err(format!("unsupported or empty element {other:?}")),
    }
}

fn check_action(action: &Value) -> Result<(), String> {
    match action["type"].as_str() {
        Some("Action.OpenUrl") if action["url"].is_string() && action["title"].is_string() => {
            let url = action["url"].as_str().unwrap_or_default();
            if is_uri(url) {
                Ok(())
            } else {
                Err(format!("Action.OpenUrl.url `{url}` is not a valid URI"))
            }
        }
        Some("Action.Submit") => Err("Action.Submit is not supported".into()),
        other => Err(format!("unsupported action {other:?}")),
    }
}

/// What the Adaptive Card schema's `"format": "uri"` takes for `Action.OpenUrl.url`
/// (adaptivecards.io/schemas/adaptive-card.json): an absolute RFC 3986 URI, only
/// unreserved, reserved and `%XX` characters after a scheme.
fn is_uri(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let bytes = rest.as_bytes();
    let chars_ok = bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        _ => b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b),
    });
    scheme_ok && chars_ok && !rest.is_empty()
}
