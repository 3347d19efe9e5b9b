//! `kind = "webhook"`: any HTTP endpoint, with a body the profile shapes.
//!
//! The body is the neutral message as JSON, or what the `body` template (a
//! minijinja template producing JSON) makes of it. In the template every
//! `{{ value }}` is written as JSON — a string arrives quoted and escaped, a
//! list or map as JSON — so no user text can break the document; `|safe`
//! writes a value raw. There is no markup to escape: the receiver gets the
//! user's text as written.
//!
//! With `max_bytes`, a body that would be larger is split by its text into
//! several requests, each carrying the rest of the message and `part`/`parts`.
//! With `secret`, each attempt is signed afresh: `X-Chime-Timestamp` is the
//! Unix time and `X-Chime-Signature` is `v1=` and the hex HMAC-SHA256 of
//! `"{timestamp}.{body}"`, so a receiver can check origin and freshness. A
//! `${NAME}` in the body template is a secret filled in only as a request is
//! built (see `body`): the spool and `--dry-run` keep its name.
//! Header values may be secrets and are always shown redacted.
//!
//! 2xx is delivered; 429, 408 and 5xx are worth a retry; any other answer is
//! a refusal.

mod body;

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fields::{Fields, Problem};
use crate::kinds::files::{FormPart, Piece};
use crate::kinds::text::{Measure, split};
use crate::kinds::{
    Answer, HttpRequest, Payload, Platform, SecretRef, Target, Verdict, classify_http,
};
use crate::kinds::{FileRef, Upload};
use crate::message::{Link, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

use body::{Body, Rendered};

/// How many times a split is tightened when escaping made a part too large.
const FIT_TRIES: usize = 16;
/// The smallest text piece worth a request of its own.
const MIN_PIECE: usize = 16;

pub struct Webhook {
    url: Secret,
    method: reqwest::Method,
    headers: Vec<(String, Secret)>,
    body: Option<Body>,
    /// The body template as the profile has it, `${NAME}`s unfilled, for
    /// `chime config show`.
    body_as_written: Option<String>,
    secret: Option<Secret>,
    max_bytes: Option<usize>,
}

impl Webhook {
    pub fn from_fields(fields: &mut Fields) -> Webhook {
        let help = "set `url` to the endpoint to call, e.g. url = \"${ALERT_HOOK_URL}\"";
        let url = fields
            .secret_url("url", "webhook", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        let method = method(fields);
        let headers = headers(fields);
        let (body, body_as_written) = match fields.template_with_secrets("body") {
            Some((source, secrets)) => (body(fields, source.clone(), secrets), Some(source)),
            None => (None, None),
        };
        let secret = fields.optional_secret_token("secret", "webhook");
        let max_bytes = fields
            .integer("max_bytes")
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Webhook {
            url,
            method,
            headers,
            body,
            body_as_written,
            secret,
            max_bytes,
        }
    }

    /// The body for one part: the template's output, or the message as JSON.
    fn body(&self, message: &Message, text: &str, part: usize, parts: usize) -> Rendered {
        let vars = variables(message, text, part, parts);
        match self.body.as_ref().map(|body| body.render(&vars)) {
            Some(Ok(rendered)) => rendered,
            // A template that rendered a sample at load time fails here only on
            // a value it could not format; the message itself is not lost.
            Some(Err(_)) | None => Rendered {
                body: vars.to_string(),
                secrets: Vec::new(),
            },
        }
    }

    /// A payload's body as it goes out, its secrets filled in.
    fn filled(&self, body: &str, secrets: &[SecretRef]) -> String {
        match &self.body {
            Some(template) if !secrets.is_empty() => template.fill(body, secrets),
            _ => body.to_owned(),
        }
    }
}

impl Platform for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    /// The body template rendered a sample at load time; a real message can
    /// still trip it (a filter on a value it cannot take), and then nothing
    /// must go out in its place.
    fn check(&self, message: &Message) -> Result<(), String> {
        let Some(template) = &self.body else {
            return Ok(());
        };
        let vars = variables(message, &message.text, 1, 1);
        let rendered = template.render(&vars).map_err(|e| {
            let why = crate::template::describe(&e);
            format!("its `body` template failed to render this message: {why}")
        })?;
        let body = self.filled(&rendered.body, &rendered.secrets);
        serde_json::from_str::<Value>(&body)
            .map(drop)
            .map_err(|e| format!("its `body` template did not make JSON of this message ({e})"))
    }

    fn markup(&self) -> Escape {
        plain
    }

    /// The files go with the last part.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        let mut payloads: Vec<Payload> = self
            .bodies(message)
            .into_iter()
            .map(|rendered| Payload {
                body: rendered.body,
                headers: Vec::new(),
                op: String::new(),
                thread: None,
                secrets: rendered.secrets,
                files: Vec::new(),
            })
            .collect();
        if let Some(last) = payloads.last_mut() {
            last.files = message.files.clone();
        }
        payloads
    }

    /// The body is filled in here, as late as can be, and shows unfilled.
    /// With files, the body is a form: the JSON as `payload`, each file as
    /// `files[n]`, and the signature covers the whole form.
    fn request(&self, payload: &Payload) -> HttpRequest {
        let body = self.filled(&payload.body, &payload.secrets);
        let upload =
            (!payload.files.is_empty()).then(|| form(&body, &payload.body, &payload.files));
        let mut headers = Vec::with_capacity(self.headers.len() + 3);
        if !self.headers.iter().any(|(name, _)| name == "content-type") {
            headers.push((
                "content-type".to_owned(),
                Secret::public("application/json"),
            ));
        }
        headers.extend(self.headers.iter().cloned());
        if let Some(secret) = &self.secret {
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let signature = match &upload {
                Some(upload) => sign_pieces(secret.expose(), &timestamp, &upload.pieces()),
                None => sign(secret.expose(), &timestamp, &body),
            };
            headers.push(("x-chime-timestamp".into(), Secret::public(&timestamp)));
            headers.push((
                "x-chime-signature".into(),
                Secret::public(&format!("v1={signature}")),
            ));
        }
        HttpRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers,
            body: Secret::shown_as(body, payload.body.clone()),
            upload,
            mail: None,
        }
    }

    /// What a receiver takes is its own business: as much as a request may
    /// hold, unless `max_file_size` says less.
    fn file_limit(&self) -> Option<u64> {
        Some(FILE_LIMIT)
    }

    /// `method` is shown even when defaulted, since receivers differ on it.
    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("url", self.url.to_string().into()),
            ("method", self.method.as_str().into()),
        ];
        if !self.headers.is_empty() {
            // Any header may carry a credential, so every value is redacted.
            let headers: toml::Table = self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.to_string().into()))
                .collect();
            out.push(("headers", headers.into()));
        }
        if let Some(written) = &self.body_as_written {
            out.push(("body", written.as_str().into()));
        }
        if let Some(secret) = &self.secret {
            out.push(("secret", secret.to_string().into()));
        }
        if let Some(max) = self.max_bytes {
            out.push(("max_bytes", i64::try_from(max).unwrap_or(i64::MAX).into()));
        }
        out
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        if (200..300).contains(&answer.status) {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        let said: String = answer.body.trim().chars().take(200).collect();
        let mut error = answer.status.to_string();
        if !said.is_empty() {
            error.push(' ');
            error.push_str(&said);
        }
        Verdict::Rejected {
            error,
            hint: hint(answer.status).map(str::to_owned),
        }
    }
}

impl Webhook {
    /// One body, or several within `max_bytes` split by the message's text.
    fn bodies(&self, message: &Message) -> Vec<Rendered> {
        let whole = self.body(message, &message.text, 1, 1);
        let Some(max) = self.max_bytes.filter(|max| self.sent_len(&whole) > *max) else {
            return vec![whole];
        };
        let frame = self.sent_len(&self.body(message, "", 9999, 9999));
        if frame + MIN_PIECE > max {
            // Not even a little text fits beside the rest of the message:
            // send it whole and let the receiver say what it accepts.
            return vec![whole];
        }
        let mut budget = max - frame;
        for _ in 0..FIT_TRIES {
            let pieces = split(&message.text, budget, Measure::Bytes);
            let count = pieces.len();
            let bodies: Vec<Rendered> = pieces
                .iter()
                .enumerate()
                .map(|(i, piece)| self.body(message, piece, i + 1, count))
                .collect();
            let largest = bodies.iter().map(|b| self.sent_len(b)).max().unwrap_or(0);
            if largest <= max {
                return bodies;
            }
            // Escaping grew the text; shrink the pieces by the same ratio.
            let grown = (largest - frame).max(1);
            let shrunk = budget * (max - frame) / grown;
            budget = shrunk.min(budget - 1);
            if budget < MIN_PIECE {
                break;
            }
        }
        vec![whole]
    }

    /// How long a body is as sent, its secrets filled in.
    fn sent_len(&self, rendered: &Rendered) -> usize {
        self.filled(&rendered.body, &rendered.secrets).len()
    }
}

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
/// The largest file a webhook sends unless `max_file_size` says otherwise.
const FILE_LIMIT: u64 = 100 << 20;

/// The form a message with files goes as: the JSON (`filled`, shown as
/// `shown`) as `payload`, then each file as `files[n]`.
fn form(filled: &str, shown: &str, files: &[FileRef]) -> Upload {
    let json = Secret::shown_as(filled.to_owned(), shown.to_owned());
    let mut parts = vec![FormPart::json("payload", json)];
    for (n, file) in files.iter().enumerate() {
        parts.push(FormPart::file(&format!("files[{n}]"), file));
    }
    Upload::form(parts)
}

/// [`sign`] over a body of pieces, its files read as they will be sent.
fn sign_pieces(secret: &str, timestamp: &str, pieces: &[Piece]) -> String {
    use std::io::Read;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => mac.update(bytes),
            Piece::File(path, size) => {
                let Ok(file) = std::fs::File::open(path) else {
                    continue;
                };
                let mut reader = file.take(*size);
                let mut slice = vec![0; 64 * 1024];
                while let Ok(n @ 1..) = reader.read(&mut slice) {
                    mac.update(&slice[..n]);
                }
            }
        }
    }
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hint(status: u16) -> Option<&'static str> {
    Some(match status {
        401 | 403 => "the receiver refused chime's credentials: check `headers` and `secret`",
        404 | 410 => "nothing answers at `url` any more: check the URL",
        405 => "the receiver does not take this method: set `method` to POST, PUT or PATCH",
        413 => "the receiver refused the size: set `max_bytes` below its limit",
        400 | 415 | 422 => {
            "the receiver refused the body: check the `body` template with `chime send --dry-run`"
        }
        _ => return None,
    })
}

/// What the body template sees, and the default body: the neutral message.
fn variables(message: &Message, text: &str, part: usize, parts: usize) -> Value {
    let fields: Vec<Value> = message
        .fields
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let links: Vec<Value> = message
        .links
        .iter()
        .map(|Link { label, url }| json!({"label": label, "url": url}))
        .collect();
    json!({
        "title": message.title,
        "text": text,
        "level": message.level.as_str(),
        "emoji": message.level.emoji(),
        "colour": format!("#{:06X}", message.level.colour()),
        "host": message.host,
        "time": humantime::format_rfc3339_seconds(message.time).to_string(),
        "timestamp": message.time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "fields": fields,
        "links": links,
        "code": message.code,
        "part": part,
        "parts": parts,
    })
}

fn method(fields: &mut Fields) -> reqwest::Method {
    // The value is quoted as written: `${NAME}` may hold anything.
    let Some((given, written)) = fields.string_as_written("method") else {
        return reqwest::Method::POST;
    };
    match given.to_ascii_uppercase().as_str() {
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        "PATCH" => reqwest::Method::PATCH,
        _ => {
            let message = format!(
                "`method` of destination `{}` must be POST, PUT or PATCH, not `{written}`",
                fields.name
            );
            fields.problem(Problem::new(None, message));
            reqwest::Method::POST
        }
    }
}

/// Header names are lowercased, as HTTP/2 sends them, so a profile's
/// `Content-Type` replaces chime's default rather than doubling it.
fn headers(fields: &mut Fields) -> Vec<(String, Secret)> {
    let mut headers = Vec::new();
    for (name, value) in fields.secret_table("headers") {
        let valid_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let valid_value = reqwest::header::HeaderValue::from_str(value.expose()).is_ok();
        if valid_name && valid_value {
            headers.push((name.to_ascii_lowercase(), value));
            continue;
        }
        let what = if valid_name { "value" } else { "name" };
        let message = format!(
            "header `{name}` of destination `{}` has an invalid {what}",
            fields.name
        );
        let help = "header names are letters, digits and `-`; values are one line of text";
        fields.problem(Problem::new(None, message).help(help));
    }
    headers
}

/// Compiles the `body` template and proves it makes JSON from a sample message,
/// so a broken template is a profile error, not a message lost at send time.
fn body(
    fields: &mut Fields,
    source: String,
    secrets: std::collections::BTreeMap<String, Secret>,
) -> Option<Body> {
    let sample = Message {
        title: Some("Sample".into()),
        text: "sample \"text\"".into(),
        level: crate::message::Level::Info,
        fields: vec![("key".into(), "value".into())],
        links: vec![Link {
            label: "Logs".into(),
            url: "https://example.com/".into(),
        }],
        code: false,
        host: "host".into(),
        time: SystemTime::now(),
        context: Vec::new(),
        files: Vec::new(),
        file_urls: Vec::new(),
    };
    let vars = variables(&sample, &sample.text, 1, 1);
    match Body::new(source, secrets, &vars) {
        Ok(body) => Some(body),
        Err(why) => {
            let message = format!(
                "the `body` template of destination `{}` is not usable: {why}",
                fields.name
            );
            let help = "values are written as JSON, so write {\"text\": {{ text }}} without quotes around {{ text }}";
            fields.problem(Problem::new(None, message).help(help));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with Python's hmac module.
        assert_eq!(
            sign("secret", "1700000000", r#"{"text":"hi"}"#),
            "3ad1ab8e3e2036926574b48bb349a6926291abb28309d44d18066d4f51de2112"
        );
    }
}
