//! A stand-in for Mattermost incoming webhooks (PLATFORMS.md §8.1), mounted on the bed
//! under `/mattermost/hooks/`. It follows `HandleIncomingWebhook`: the AppError JSON and
//! ids for each refusal, channel and `@user` lookup, locked hooks, the Slack rewrites
//! (`<!channel>` → `@channel`, `<url|label>` → a markdown link), and the server's own
//! split of text over 16,383 characters into several posts, so a test can see whether
//! chime relied on it. Properties (attachments) over 760,000 runes as JSON have an
//! attachment's text cut to fit, without a word (recorded as not delivered), or the post
//! refused with `split_props_length` when there is too little text to cut. Rate limiting is off unless a test turns it on, as on a real
//! server; its 429 (unconfirmed in §8.1) is the `throttled` library's plain
//! "limit exceeded" with `Retry-After` and `X-RateLimit-*` headers. Only JSON bodies
//! are understood; the server also takes forms, which chime never sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::bed::{Answer, Bed, Request, Surface};

pub const PREFIX: &str = "/mattermost/hooks/";
/// `PostMessageMaxRunesV2`.
pub const POST_MAX: usize = 16_383;
/// `PostPropsMaxUserRunes`: a post's properties as JSON, counted in runes.
pub const PROPS_MAX: usize = 800_000 - 40_000;

#[derive(Default)]
pub struct Mattermost {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    hooks: HashMap<String, Hook>,
    channels: Vec<String>,
    users: Vec<String>,
    posts: Vec<Post>,
    disabled: bool,
    rate_limited: bool,
}

struct Hook {
    channel: String,
    locked: bool,
}

/// One post as the server stored it, after its rewrites and splitting.
#[derive(Clone, Debug)]
pub struct Post {
    pub channel: String,
    pub message: String,
    pub props: Value,
}

impl Post {
    /// The words Mattermost would notify for: `@channel`, `@here`, `@all`, `@user`.
    /// Words are split as `getExplicitMentions` splits them.
    pub fn mentions(&self) -> Vec<String> {
        let mut texts = vec![self.message.clone()];
        for attachment in self.props["attachments"].as_array().into_iter().flatten() {
            for key in ["pretext", "text", "title"] {
                texts.extend(attachment[key].as_str().map(str::to_owned));
            }
            for field in attachment["fields"].as_array().into_iter().flatten() {
                texts.extend(field["value"].as_str().map(str::to_owned));
            }
        }
        let word = |c: char| c.is_alphanumeric() || matches!(c, ':' | '.' | '-' | '_' | '@');
        texts
            .iter()
            .flat_map(|t| {
                t.split(|c: char| !word(c))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.starts_with('@') && w.len() > 1)
            .collect()
    }
}

impl Mattermost {
    /// A fresh surface, mounted on `bed`, with the channel `town-square`.
    pub fn mount(bed: &Bed) -> Arc<Mattermost> {
        let mattermost = Arc::new(Mattermost::default());
        mattermost.add_channel("town-square");
        bed.mount(PREFIX, mattermost.clone());
        mattermost
    }

    fn id(name: &str) -> String {
        let alnum: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        format!("fakemmhook{}xxxxxxxxxxxxxxxx", alnum.to_ascii_lowercase())[..26].to_owned()
    }

    /// Creates webhook `name` posting to `town-square` and returns its URL.
    pub fn hook(&self, bed: &Bed, name: &str) -> String {
        self.hook_in(bed, name, "town-square", false)
    }

    /// Creates webhook `name` for `channel`, locked to it or not.
    pub fn hook_in(&self, bed: &Bed, name: &str, channel: &str, locked: bool) -> String {
        let id = Mattermost::id(name);
        let hook = Hook {
            channel: channel.to_owned(),
            locked,
        };
        self.state.lock().unwrap().hooks.insert(id.clone(), hook);
        format!("{}{PREFIX}{id}", bed.url())
    }

    pub fn delete(&self, name: &str) {
        self.state
            .lock()
            .unwrap()
            .hooks
            .remove(&Mattermost::id(name));
    }

    pub fn add_channel(&self, name: &str) {
        self.state.lock().unwrap().channels.push(name.to_owned());
    }

    pub fn add_user(&self, name: &str) {
        self.state.lock().unwrap().users.push(name.to_owned());
    }

    /// As `EnableIncomingWebhooks = false`.
    pub fn disable(&self) {
        self.state.lock().unwrap().disabled = true;
    }

    /// As `RateLimitSettings.Enable = true`, with the bed's buckets.
    pub fn enable_rate_limit(&self) {
        self.state.lock().unwrap().rate_limited = true;
    }

    /// Every post created, in order.
    pub fn posts(&self) -> Vec<Post> {
        self.state.lock().unwrap().posts.clone()
    }
}

fn app_error(status: u16, id: &str, message: &str) -> Answer {
    let body = json!({"id": id, "message": message, "detailed_error": "",
                      "request_id": "fakerequestidxxxxxxxxxxxxx", "status_code": status});
    Answer::json_status(status, &body)
}

impl Surface for Mattermost {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let id = &request.path[PREFIX.len()..];
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return app_error(
                404,
                "api.context.404.app_error",
                "Sorry, we could not find the page.",
            );
        }
        if request.method != "POST" {
            return app_error(405, "api.context.405.app_error", "Method not allowed.");
        }
        let mut state = self.state.lock().unwrap();
        // The limiter is middleware: it answers before the handler looks at anything.
        if state.rate_limited
            && let Err(secs) = limit(&format!("mattermost {id}"))
        {
            return self.throttled(secs);
        }
        if state.disabled {
            let message = "Incoming webhooks have been disabled by the system admin.";
            return app_error(501, "web.incoming_webhook.disabled.app_error", message);
        }
        let content_type = request.header("content-type").unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if matches!(
            media,
            "application/x-www-form-urlencoded" | "multipart/form-data"
        ) {
            return app_error(
                400,
                "api.webhook.incoming.error",
                "Could not decode the multipart payload of incoming webhook.",
            );
        }
        let Ok(Value::Object(hook_request)) = serde_json::from_slice::<Value>(&request.body) else {
            let message = "Unable to parse incoming data";
            return app_error(400, "model.incoming_hook.parse_data.app_error", message);
        };
        let text = hook_request
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("");
        let attachments = hook_request.get("attachments").filter(|a| !a.is_null());
        if text.is_empty() && attachments.is_none() {
            return app_error(
                400,
                "web.incoming_webhook.text.app_error",
                "No text specified",
            );
        }
        let Some(hook) = state.hooks.get(id) else {
            return app_error(
                400,
                "web.incoming_webhook.invalid.app_error",
                "Invalid webhook.",
            );
        };
        let wanted = hook_request
            .get("channel")
            .and_then(Value::as_str)
            .unwrap_or("");
        let channel = if wanted.is_empty() {
            hook.channel.clone()
        } else if let Some(user) = wanted.strip_prefix('@') {
            if !state.users.iter().any(|u| u == user) {
                let message = "Couldn't find the user.";
                return app_error(400, "web.incoming_webhook.user.app_error", message);
            }
            format!("@{user}")
        } else {
            let name = wanted.strip_prefix('#').unwrap_or(wanted);
            if !state.channels.iter().any(|c| c == name) {
                let message = "Couldn't find the channel.";
                return app_error(404, "web.incoming_webhook.channel.app_error", message);
            }
            name.to_owned()
        };
        if hook.locked && channel != hook.channel {
            let message = "This webhook is not permitted to post to the requested channel.";
            return app_error(
                403,
                "web.incoming_webhook.channel_locked.app_error",
                message,
            );
        }
        let message = slack_links(&process_slack_text(text));
        let mut attachments = attachments.cloned().unwrap_or(Value::Null);
        for attachment in attachments.as_array_mut().into_iter().flatten() {
            for key in ["pretext", "text", "title"] {
                if let Some(text) = attachment[key].as_str() {
                    attachment[key] = process_slack_text(text).into();
                }
            }
            for field in attachment["fields"].as_array_mut().into_iter().flatten() {
                if let Some(value) = field["value"].as_str() {
                    field["value"] = process_slack_text(value).into();
                }
            }
        }
        // `SplitWebhookPost`: attachments that do not fit one post's properties go on
        // further posts; one that does not fit alone has its text cut to fit, or, with
        // too little text to cut, the post is refused.
        let mut whole = true;
        for attachment in attachments.as_array_mut().into_iter().flatten() {
            let alone = json!({"attachments": [attachment.clone()], "from_webhook": "true"});
            let over = props_runes(&alone).saturating_sub(PROPS_MAX);
            if over == 0 {
                continue;
            }
            let text: Vec<char> = attachment["text"].as_str().unwrap_or("").chars().collect();
            if text.len() < over {
                let message = format!(
                    "Unable to split webhook post into props size limit of {PROPS_MAX} runes."
                );
                let id = "web.incoming_webhook.split_props_length.app_error";
                return app_error(400, id, &message);
            }
            attachment["text"] = text[..text.len() - over].iter().collect::<String>().into();
            whole = false;
        }
        let props = json!({"attachments": attachments, "from_webhook": "true"});
        // `SplitWebhookPost`: cut every 16,383 runes, attachments on the last post.
        let mut chars: Vec<char> = message.chars().collect();
        let mut pieces = Vec::new();
        while chars.len() > POST_MAX {
            let rest = chars.split_off(POST_MAX);
            pieces.push(std::mem::replace(&mut chars, rest));
        }
        pieces.push(chars);
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let props = if i + 1 == count {
                props.clone()
            } else {
                json!({"from_webhook": "true"})
            };
            let message = piece.into_iter().collect();
            state.posts.push(Post {
                channel: channel.clone(),
                message,
                props,
            });
        }
        let answer = Answer::new(200, "text/plain", "ok");
        // A cut attachment is posted, but not whole.
        if whole { answer.delivered() } else { answer }
    }

    fn throttled(&self, secs: u64) -> Answer {
        Answer::new(429, "text/plain; charset=utf-8", "limit exceeded\n")
            .retry_after(secs)
            .header("x-ratelimit-limit", "100")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &secs.to_string())
    }
}

/// The runes of `value` as Go's `json.Marshal` writes it (`StringInterfaceToJSON`):
/// `&`, `<`, `>`, U+2028 and U+2029 become six-rune `\u` escapes.
fn props_runes(value: &Value) -> usize {
    let json = value.to_string();
    let escaped = json
        .chars()
        .filter(|c| matches!(c, '&' | '<' | '>' | '\u{2028}' | '\u{2029}'))
        .count();
    json.chars().count() + 5 * escaped
}

/// `expandAnnouncement` (user IDs are not rewritten: the stand-in has none).
fn process_slack_text(text: &str) -> String {
    text.replace("<!channel>", "@channel")
        .replace("<!here>", "@here")
        .replace("<!all>", "@all")
}

/// `linkWithTextRegex`: `<url|label>` → `[label](url)`.
fn slack_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let inner_end = after.find(['>', '\n', '<']);
        let link = inner_end
            .filter(|&end| after[end..].starts_with('>'))
            .and_then(|end| after[..end].split_once('|').map(|(u, l)| (u, l, end)))
            .filter(|(url, label, _)| !url.is_empty() && !label.is_empty() && !label.contains('|'));
        match link {
            Some((url, label, end)) => {
                out.push_str(&format!("[{label}]({url})"));
                rest = &after[end + 1..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
