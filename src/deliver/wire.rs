//! One try on the wire: the request sent (its body streamed when it
//! carries files) within its time, and the answer read — to its end, or to
//! [`MAX_ANSWER_BYTES`], or to where it broke off — with what that says of
//! whether the platform may have the message.

use std::time::Duration;

use super::net::describe;
use super::upload;
use crate::kinds::{Answer, HttpRequest};

/// Platforms answer in bytes, not megabytes; a huge answer is not worth reading.
/// A longer one is classified from this much, and the rest is never read.
pub(super) const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What one try came to, on the wire.
pub(super) enum Reply {
    /// An answer, read to its end or to [`MAX_ANSWER_BYTES`].
    Answered(Answer),
    /// A status, and then the body broke off: the answer holds what came.
    Cut(Answer, String),
    /// No connection was made, so nothing was sent.
    NotSent(String),
    /// The request went out, in part or in full, and no status came back.
    Unanswered(String),
}

pub(super) async fn send(
    client: &reqwest::Client,
    request: &HttpRequest,
    timeout: Duration,
    progress: bool,
) -> Reply {
    send_reading(client, request, timeout, progress, MAX_ANSWER_BYTES).await
}

/// [`send`], keeping up to `max` bytes of the answer: a read of many
/// records (Slack's users.list) is longer than any answer to a post.
pub(super) async fn send_reading(
    client: &reqwest::Client,
    request: &HttpRequest,
    timeout: Duration,
    progress: bool,
    max: usize,
) -> Reply {
    let builder = client
        .request(request.method.clone(), request.url.expose())
        .timeout(timeout);
    let mut response = match with_body(builder, request, progress).send().await {
        Ok(response) => response,
        Err(err) if err.is_connect() => return Reply::NotSent(describe(err)),
        Err(err) => return Reply::Unanswered(describe(err)),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut bytes = Vec::new();
    // Dropping the response unread closes its connection: the rest never comes.
    let broke = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() == max {
                    break None;
                }
            }
            Ok(None) => break None,
            Err(err) => break Some(describe(err)),
        }
    };
    let answer = Answer {
        status,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    match broke {
        None => Reply::Answered(answer),
        Some(why) => Reply::Cut(answer, why),
    }
}

/// `builder` with the request's headers and body: its text, or its files
/// streamed (`upload.rs`) with their length, and a form's own content type.
fn with_body(
    mut builder: reqwest::RequestBuilder,
    request: &HttpRequest,
    progress: bool,
) -> reqwest::RequestBuilder {
    let streamed = request.upload.as_ref().map(|u| upload::stream(u, progress));
    let form_type = streamed.as_ref().and_then(|s| s.content_type.clone());
    for (name, value) in &request.headers {
        // A form's content type names the boundary the body was built with.
        if form_type.is_some() && name.eq_ignore_ascii_case("content-type") {
            continue;
        }
        builder = builder.header(name, value.expose());
    }
    let Some(streamed) = streamed else {
        return builder.body(request.body.expose().to_owned());
    };
    if let Some(content_type) = form_type {
        builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
    }
    builder
        .header(reqwest::header::CONTENT_LENGTH, streamed.length)
        .body(streamed.body)
}

/// `Retry-After` in seconds (Slack sends whole seconds; some send fractions).
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}
