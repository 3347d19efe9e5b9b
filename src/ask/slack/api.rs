//! The Web API methods asking needs beside posting: reads (form-encoded,
//! as Slack's read methods take them) and writes (JSON), each with the bot
//! token, a rate limit waited out within bounds, and Slack's refusal told
//! apart from a failure to reach it.

use std::time::Duration;

use serde_json::Value;

use crate::ask::Context;
use crate::kinds::{HttpRequest, JSON_UTF8};
use crate::secret::Secret;

/// The longest a call waits for a rate limit to pass, in all.
const MAX_THROTTLED: Duration = Duration::from_secs(30);

/// A method's refusal, a rate limit, or a failure to reach it.
#[derive(Debug)]
pub enum CallError {
    Slack {
        code: String,
        needed: Option<String>,
    },
    /// Throttled for this long (Slack's `Retry-After`).
    Limited(Duration),
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Slack {
                code,
                needed: Some(scope),
            } => write!(f, "{code} (needs {scope})"),
            CallError::Slack { code, .. } => f.write_str(code),
            CallError::Limited(after) => write!(f, "rate limited for {} s", after.as_secs()),
            CallError::Failed(why) => f.write_str(why),
        }
    }
}

/// The Web API as the bot token reaches it.
pub struct Api {
    pub url: String,
    pub token: Secret,
}

/// Whether a call waits out a rate limit or reports it at once (a look
/// that can wait for the next one).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    Wait,
    Once,
}

impl Api {
    /// A reading method.
    pub async fn read(
        &self,
        ctx: &Context<'_>,
        method: &str,
        form: &[(&str, &str)],
        patience: Patience,
    ) -> Result<Value, CallError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().filter(|(_, v)| !v.is_empty()))
            .finish();
        let content_type = "application/x-www-form-urlencoded";
        self.call(ctx, method, body, content_type, patience).await
    }

    /// A writing method.
    pub async fn write(
        &self,
        ctx: &Context<'_>,
        method: &str,
        body: &Value,
    ) -> Result<Value, CallError> {
        self.call(ctx, method, body.to_string(), JSON_UTF8, Patience::Wait)
            .await
    }

    /// The POST of `body` to `method` with the token: also how Socket Mode
    /// is opened, with the app-level token in place of the bot's.
    pub fn request(&self, method: &str, body: &str, content_type: &str) -> HttpRequest {
        HttpRequest {
            method: reqwest::Method::POST,
            url: Secret::public(&format!("{}/{method}", self.url)),
            headers: vec![
                ("content-type".into(), Secret::public(content_type)),
                ("authorization".into(), Secret::bearer(&self.token)),
            ],
            body: Secret::public(body),
            upload: None,
            mail: None,
        }
    }

    async fn call(
        &self,
        ctx: &Context<'_>,
        method: &str,
        body: String,
        content_type: &str,
        patience: Patience,
    ) -> Result<Value, CallError> {
        let request = self.request(method, &body, content_type);
        let mut waited = Duration::ZERO;
        loop {
            let answer = ctx.call(&request).await.map_err(CallError::Failed)?;
            if answer.status == 429 {
                let after = answer.retry_after.unwrap_or(Duration::from_secs(1));
                if patience == Patience::Once || waited + after > MAX_THROTTLED {
                    return Err(CallError::Limited(after));
                }
                tokio::time::sleep(after).await;
                waited += after;
                continue;
            }
            let body: Value = serde_json::from_str(&answer.body).map_err(|_| {
                CallError::Failed(format!("{method} answered {} without JSON", answer.status))
            })?;
            if body["ok"] == true {
                return Ok(body);
            }
            return Err(CallError::Slack {
                code: body["error"].as_str().unwrap_or("unknown_error").to_owned(),
                needed: body["needed"].as_str().map(str::to_owned),
            });
        }
    }
}
