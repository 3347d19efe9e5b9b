//! A homeserver's answers: the event's id, a room alias's room, or a
//! standard error response (`{"errcode", "error"}`) with its rate-limit
//! wait and a hint at what to do (PLATFORMS.md, "Matrix").

use std::time::Duration;

use serde_json::Value;

use crate::kinds::{Answer, Verdict, classify_http, reason};

/// Reads one answer. A success names the room (a directory look-up's
/// `room_id`) or the event (a send's `event_id`); `Matrix::classify_sent`
/// adds what the request knew.
pub(super) fn classify(answer: &Answer) -> Verdict {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let status = answer.status;
    if (200..300).contains(&status) {
        let text = |key: &str| body[key].as_str().map(str::to_owned);
        return Verdict::Delivered {
            channel: text("room_id"),
            ts: text("event_id"),
        };
    }
    let Some(errcode) = body["errcode"].as_str() else {
        return classify_http(answer).unwrap_or_else(|| Verdict::Rejected {
            error: format!("{status} {} (not a Matrix answer)", reason(status)),
            hint: Some(HOMESERVER_HINT.into()),
        });
    };
    let said = body["error"].as_str().unwrap_or_default();
    let error = format!("{status} {errcode}: {said}");
    if status == 429 || errcode == "M_LIMIT_EXCEEDED" {
        // `retry_after_ms` is deprecated for the `Retry-After` header (v1.10),
        // which Synapse rounds up to whole seconds: the longer of the two.
        let in_body = body["retry_after_ms"].as_u64().map(Duration::from_millis);
        let after = in_body.max(answer.retry_after);
        return Verdict::Retry { after, error };
    }
    if status >= 500 {
        return Verdict::Retry {
            after: answer.retry_after,
            error,
        };
    }
    let hint = hint(status, errcode, &body).map(str::to_owned);
    Verdict::Rejected { error, hint }
}

const HOMESERVER_HINT: &str = "check `homeserver`: the base URL clients use (e.g. https://matrix.example.org), without /_matrix";

/// What the user can do about the refusals a bot meets (PLATFORMS.md, "Matrix").
fn hint(status: u16, errcode: &str, body: &Value) -> Option<&'static str> {
    Some(match errcode {
        "M_UNKNOWN_TOKEN" if body["soft_logout"] == Value::Bool(true) => {
            "the homeserver expired `access_token`: log the bot in again and set the new token"
        }
        "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" => {
            "the homeserver did not accept `access_token`: log in as the bot (POST /_matrix/client/v3/login, or Element's Settings → Help & About → Advanced → Access Token) and set its token; logging out of that session revokes it"
        }
        "M_FORBIDDEN" if status == 403 => {
            "the bot may not post in the room: invite it (/invite @bot:your.server), have it join (it must accept the invite), and check that its power level lets it send messages"
        }
        "M_NOT_FOUND" => {
            "check `room`: the homeserver knows no room by that alias or ID (an alias is #name:server, an ID !…); or the event to reply to or edit is gone"
        }
        "M_UNRECOGNIZED" => HOMESERVER_HINT,
        "M_TOO_LARGE" => {
            "the homeserver refused the message as too large: chime keeps parts well under the spec's 65,536 bytes, so please report this with the output of --dry-run"
        }
        "M_RESOURCE_LIMIT_EXCEEDED" => {
            "the homeserver is over a resource limit (monthly users, storage): ask its admin"
        }
        "M_USER_LOCKED" | "M_USER_SUSPENDED" | "M_USER_DEACTIVATED" => {
            "the bot's account is locked, suspended or deactivated: ask the homeserver's admin"
        }
        _ if status == 401 => {
            "the homeserver did not accept `access_token`: set the bot's current access token"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_rate_limit_waits_the_longer_of_retry_after_ms_and_the_header() {
        let body =
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2345}"#;
        let Verdict::Retry { after, .. } = classify(&answer(429, body, None)) else {
            panic!("a 429 is retried");
        };
        assert_eq!(after, Some(Duration::from_millis(2345)));
        let Verdict::Retry { after, .. } = classify(&answer(429, body, Some(3))) else {
            panic!("a 429 is retried");
        };
        assert_eq!(after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_unknown_token_is_refused_with_a_hint_to_log_the_bot_in() {
        let body = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unrecognised access token","soft_logout":false}"#;
        let Verdict::Rejected { error, hint } = classify(&answer(401, body, None)) else {
            panic!("refused");
        };
        assert_eq!(error, "401 M_UNKNOWN_TOKEN: Unrecognised access token");
        assert!(hint.unwrap().contains("log in as the bot"));
    }

    #[test]
    fn a_server_error_is_retried_and_a_proxy_page_too() {
        let body = r#"{"errcode":"M_UNKNOWN","error":"Internal server error"}"#;
        assert!(matches!(
            classify(&answer(500, body, None)),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify(&answer(502, "<html>Bad Gateway</html>", None)),
            Verdict::Retry { .. }
        ));
    }
}
