//! One exchange with a platform, as every kind shapes it: the payload a
//! part is kept as in the spool (no secret in it), the HTTP request made of
//! it with the destination's secrets, and the answer and what it means.

use std::time::Duration;

use super::{FileRef, Mail, ThreadRef, Upload};
use crate::secret::Secret;

/// What one message part says, in the platform's own format, without any
/// secret: this is what the spool keeps.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// The request body: JSON for most kinds, plain text for some.
    pub body: String,
    /// Headers that carry message content (a title, a priority); never secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Which of the platform's operations, when it has several ("" posts).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The `--thread`/`--update` key, for kinds that thread by message; its
    /// parent is looked up only when the part is sent (see `threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadRef>,
    /// Where the body names a secret of the profile (a webhook's body
    /// template may hold `${NAME}`): filled in by [`Platform::request`] only,
    /// so the spool and `--dry-run` keep the name, never the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// The files this part carries, for kinds that carry files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRef>,
}

/// A `${NAME}` at byte `at` of a payload's body, standing for a secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretRef {
    pub at: usize,
    pub name: String,
}

impl Payload {
    /// The same part sent another way (`attach`): a new body for operation
    /// `op`, under the same thread key, with the same files.
    pub fn reworked(&self, body: &serde_json::Value, op: impl Into<String>) -> Payload {
        Payload {
            op: op.into(),
            thread: self.thread.clone(),
            files: self.files.clone(),
            ..Payload::json(body)
        }
    }

    pub fn json(body: &serde_json::Value) -> Payload {
        Payload {
            body: body.to_string(),
            headers: Vec::new(),
            op: String::new(),
            thread: None,
            secrets: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The same part, carrying `files`.
    pub fn with_files(mut self, files: &[FileRef]) -> Payload {
        self.files = files.to_vec();
        self
    }
}

/// One HTTP request, ready to send. Secrets stay wrapped so that logging a
/// request (as `--dry-run` and `-v` do) can never leak them; the body too,
/// since a webhook's may carry one.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: Secret,
    pub headers: Vec<(String, Secret)>,
    pub body: Secret,
    /// A body that carries files, streamed from disk in place of `body`.
    pub upload: Option<Upload>,
    /// Not HTTP at all: the SMTP exchange `kind = "email"` stands for
    /// (`deliver/smtp/`). `body` is then the message as sent and `url`
    /// names the server, for logs and the destination's identity.
    pub mail: Option<Box<Mail>>,
}

impl HttpRequest {
    /// A POST of `payload` to `url` with its content headers and `content_type`.
    pub fn post(url: Secret, payload: &Payload, content_type: &str) -> HttpRequest {
        let mut headers = vec![("content-type".to_owned(), Secret::public(content_type))];
        headers.extend(
            payload
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Secret::public(v))),
        );
        HttpRequest {
            method: reqwest::Method::POST,
            url,
            headers,
            body: Secret::public(&payload.body),
            upload: None,
            mail: None,
        }
    }

    /// The same request with `upload` as its body.
    pub fn uploading(mut self, upload: Upload) -> HttpRequest {
        self.upload = Some(upload);
        self
    }

    pub fn header(mut self, name: &str, value: Secret) -> HttpRequest {
        self.headers.push((name.to_owned(), value));
        self
    }
}

/// JSON with an explicit charset: Slack warns without one, and it costs nothing elsewhere.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A platform's answer to one request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// What an answer means for the message.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Posted. Web APIs say where, so threads and edits can refer to it.
    Delivered {
        channel: Option<String>,
        ts: Option<String>,
    },
    /// Not now: the platform is throttling (with its wait, if it said one) or failing.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Never, as sent: the platform refused it; `hint` says what the user can fix.
    Rejected { error: String, hint: Option<String> },
}

/// The verdict for answers every HTTP platform gives alike: throttling, server
/// trouble and redirects. `None` leaves the answer to the kind.
pub fn classify_http(answer: &Answer) -> Option<Verdict> {
    let status = answer.status;
    let mut error = format!("{status} {}", reason(status));
    // A short plain answer (Slack's `rollup_error`, a proxy's one-liner) says
    // more than the status line; an HTML error page does not.
    let said = answer.body.trim();
    if !said.is_empty() && said.len() <= 200 && !said.starts_with('<') && !said.contains('\n') {
        error = format!("{error}: {said}");
    }
    match status {
        429 => Some(Verdict::Retry {
            after: answer.retry_after,
            error,
        }),
        500..=599 | 408 => Some(Verdict::Retry {
            after: answer.retry_after,
            error,
        }),
        300..=399 => Some(Verdict::Rejected {
            error,
            hint: Some("the URL redirects; use the final URL the platform gave you".into()),
        }),
        _ => None,
    }
}

/// The status's canonical phrase ("Service Unavailable"), or "" for one without.
pub fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}
