//! `kind = "slack"`: Slack incoming webhooks.
//!
//! Success is HTTP 200 with the plain body `ok` and nothing else; errors are a
//! status with the bare error code as the body (`404 no_service`). App webhooks
//! ignore `channel`, `username` and icons; legacy ones honour them, so they are
//! sent only when the profile or the command line sets them.

use serde_json::{Map, Value};

use crate::fields::Fields;
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, classify_http,
    describe_identity,
};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

pub struct Webhook {
    url: Secret,
    channel: Option<String>,
    identity: Map<String, Value>,
}

impl Webhook {
    pub fn from_fields(fields: &mut Fields) -> Webhook {
        let help = "set `url` to the webhook URL from the Slack app's Incoming Webhooks page, e.g. url = \"${SLACK_WEBHOOK_URL}\"";
        let url = fields
            .secret_url("url", "slack", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        let channel = fields.string("channel");
        let mut identity = Map::new();
        for key in ["username", "icon_emoji", "icon_url"] {
            if let Some(value) = fields.string(key) {
                identity.insert(key.into(), Value::String(value));
            }
        }
        Webhook {
            url,
            channel,
            identity,
        }
    }
}

impl Platform for Webhook {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn markup(&self) -> Escape {
        super::escape
    }

    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let mut extra = self.identity.clone();
        if let Some(channel) = target.channel.as_ref().or(self.channel.as_ref()) {
            extra.insert("channel".into(), Value::String(channel.clone()));
        }
        super::render(message, &extra, super::MESSAGE_CHARS_BUDGET)
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        HttpRequest::post(self.url.clone(), payload, JSON_UTF8)
    }

    fn batch_limit(&self) -> usize {
        super::BATCH_LIMIT
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(channel) = &self.channel {
            out.push(("channel", channel.as_str().into()));
        }
        describe_identity(&self.identity, &super::IDENTITY, &mut out);
        out
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        let body = answer.body.trim();
        if answer.status == 200 && body == "ok" {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        let code: String = body.chars().take(200).collect();
        let error = format!("{} {code}", answer.status);
        Verdict::Rejected {
            error,
            hint: hint(&code).map(str::to_owned),
        }
    }
}

/// What the user can do about each error Slack documents for webhooks.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "no_service" | "no_active_hooks" | "no_service_id" | "no_team" | "team_disabled"
        | "invalid_token" => {
            "the webhook was removed or disabled: create a new one in the Slack app's Incoming Webhooks page and update the profile"
        }
        "channel_not_found" => {
            "the webhook's channel no longer exists: create a webhook for an existing channel"
        }
        "channel_is_archived" => {
            "the channel is archived: unarchive it, or create a webhook for another channel"
        }
        "action_prohibited" => {
            "a workspace admin restricted posting here: ask them, or use another channel"
        }
        "posting_to_general_channel_denied" => {
            "only some members may post to #general: use another channel"
        }
        "invalid_payload" | "invalid_blocks" | "no_text" | "too_many_attachments" => {
            "Slack refused the payload chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}
