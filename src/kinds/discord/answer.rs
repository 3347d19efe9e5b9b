//! Discord's answers: delivered, rate limited, or refused with its form
//! errors and a hint at what to do.

use std::time::Duration;

use serde_json::Value;

use crate::kinds::{Answer, Verdict, classify_http};

/// Reads Discord's answer: 200 with the message (we always wait), 204 without,
/// 429 with `retry_after`, or an error `{message, code}` (§4.2, §4.3).
pub(super) fn classify(answer: &Answer) -> Verdict {
    let body: Option<Value> = serde_json::from_str(&answer.body).ok();
    if answer.status == 429 {
        return rate_limited(answer, body.as_ref());
    }
    if let Some(verdict) = classify_http(answer) {
        return verdict;
    }
    delivered(answer.status, body.as_ref()).unwrap_or_else(|| refused(answer, body.as_ref()))
}

/// A 429: the body's `retry_after` is more precise than the header's.
fn rate_limited(answer: &Answer, body: Option<&Value>) -> Verdict {
    let after = body
        .and_then(|b| b["retry_after"].as_f64())
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map(|secs| Duration::from_secs_f64(secs.min(86_400.0)))
        .or(answer.retry_after);
    let scope = match body.and_then(|b| b["global"].as_bool()) {
        Some(true) => " (global)",
        _ => "",
    };
    let error = format!("429 You are being rate limited{scope}");
    Verdict::Retry { after, error }
}

/// A success: only a 200 (`?wait=true`) carries the message it saved.
fn delivered(status: u16, body: Option<&Value>) -> Option<Verdict> {
    match status {
        200 => {
            let field = |key: &str| {
                let value = body.map(|b| &b[key]);
                value.and_then(Value::as_str).map(str::to_owned)
            };
            Some(Verdict::Delivered {
                channel: field("channel_id"),
                ts: field("id"),
            })
        }
        201..=299 => Some(Verdict::Delivered {
            channel: None,
            ts: None,
        }),
        _ => None,
    }
}

/// An error `{message, code}`: "400 Invalid Form Body (code 50035): field: why".
fn refused(answer: &Answer, body: Option<&Value>) -> Verdict {
    let code = body.and_then(|b| b["code"].as_u64());
    let message = body
        .and_then(|b| b["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| answer.body.trim().chars().take(200).collect());
    let mut error = format!("{} {message}", answer.status);
    if let Some(code) = code {
        error.push_str(&format!(" (code {code})"));
    }
    if let Some(details) = body.map(form_errors).filter(|d| !d.is_empty()) {
        error.push_str(": ");
        error.push_str(&details.join("; "));
    }
    match code {
        // Slowmode and the channel's write limit: the message is fine, just early.
        Some(20016 | 20028) => Verdict::Retry {
            after: answer.retry_after,
            error,
        },
        code => Verdict::Rejected {
            hint: hint(answer.status, code).map(str::to_owned),
            error,
        },
    }
}

/// "field.path: message" for each form error, in both Discord's formats: v8+
/// `{"errors": {"content": {"_errors": [{"message": …}]}}}` and the legacy one
/// unversioned URLs get, `{"content": ["…"]}` (§4.2).
fn form_errors(body: &Value) -> Vec<String> {
    fn walk(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(errors)) = map.get("_errors") {
                    for error in errors {
                        let text = error["message"].as_str().unwrap_or("invalid");
                        out.push(format!("{path}: {text}"));
                    }
                }
                for (key, value) in map.iter().filter(|(k, _)| *k != "_errors") {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(value, &path, out);
                }
            }
            Value::Array(items) => {
                let texts = items.iter().filter_map(Value::as_str);
                out.extend(texts.map(|text| format!("{path}: {text}")));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    match body {
        Value::Object(map) if map.contains_key("errors") => walk(&map["errors"], "", &mut out),
        Value::Object(map) if !map.contains_key("code") => walk(body, "", &mut out),
        _ => {}
    }
    out.truncate(5);
    out
}

/// What the user can do about the errors a webhook meets (§4.2).
fn hint(status: u16, code: Option<u64>) -> Option<&'static str> {
    Some(match (status, code) {
        (_, Some(10015 | 50027)) | (401 | 404, None) => {
            "the webhook was deleted or its token is wrong: create a new one in the channel's Edit Channel → Integrations → Webhooks and update the profile (Discord restricts clients that keep using a dead webhook)"
        }
        (_, Some(10003 | 50083)) => {
            "the thread in `thread_id` was deleted or archived: check `thread_id`, or remove it to post in the channel"
        }
        (_, Some(220001)) => {
            "the webhook's channel is a forum: set `thread_id` to a post's thread ID"
        }
        (_, Some(220003 | 220004)) => {
            "this webhook cannot post into that channel or thread: create a webhook in a text channel"
        }
        (_, Some(50001 | 50013)) | (403, None) => {
            "the webhook lacks permission to post there: check the channel's permissions and `thread_id`"
        }
        (_, Some(50006 | 50035 | 50109 | 40005)) | (400, None) => {
            "Discord refused the payload chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_reads_the_precise_retry_after_from_the_body() {
        let answer = Answer {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            body: r#"{"message": "You are being rate limited.", "retry_after": 1.25, "global": false}"#
                .into(),
        };
        assert_eq!(
            classify(&answer),
            Verdict::Retry {
                after: Some(Duration::from_millis(1250)),
                error: "429 You are being rate limited".into()
            }
        );
    }
}
