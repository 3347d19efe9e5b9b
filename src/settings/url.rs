//! Sending without a profile (issue 12): `--to URL` or `CHIME_URL` stand for a
//! profile of one destination, built here so that everything downstream
//! (rendering, delivery, the spool, `chime flush`) sees an ordinary profile.
//!
//! The URL is a secret like any other: the profile written here never holds
//! it, only `url = "${CHIME_URL}"`, so it is read from the environment when
//! the profile is built, redacted as every `${VAR}` secret is, and never
//! reaches the spool. A message queued from `CHIME_URL` lives in the spool of
//! the profile `@url` (one for every profile-less send); `chime flush` builds
//! that profile again from `CHIME_URL` and `CHIME_KIND`, and the
//! destination's identity (a hash of kind and URL) makes sure it goes to the
//! same webhook or is dead-lettered. A URL typed on the command line cannot
//! be found again by a later flush, so such a send is never queued: what
//! cannot go now is reported as not kept (exit 74).

use super::*;

/// The profile name whose state holds what profile-less sends queue.
pub const URL_PROFILE: &str = "@url";

/// The destination's name in a profile-less send: the variable it came from.
pub const URL_DEST: &str = "CHIME_URL";

/// Where a profile-less URL came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlOrigin {
    /// `CHIME_URL`: can be read again at flush time, so it may queue.
    Env,
    /// `--to URL`: gone once chime exits, so it never queues.
    Args,
}

/// A profile-less destination, resolved.
pub struct Adhoc {
    pub profile: Profile,
    pub state: ProfileState,
    pub origin: UrlOrigin,
}

/// True when a `--to` value is a URL rather than a destination's name.
pub fn is_url(to: &str) -> bool {
    to.starts_with("https://") || to.starts_with("http://")
}

/// The profile-less destination the command line or the environment asks
/// for, if any: a `--to URL`, else `CHIME_URL` when neither `--to` nor
/// `--route` is given (a profile's own routes win over the environment).
pub fn adhoc(
    to: &[String],
    routes: &[String],
    kind: Option<&str>,
    env: &EnvVars,
) -> Result<Option<Adhoc>, Failure> {
    let given = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let (url, origin) = match to {
        [one] if is_url(one) => (one.clone(), UrlOrigin::Args),
        many if many.iter().any(|t| is_url(t)) => {
            return Err(Failure::usage(
                "--to URL takes one URL, and no destination names beside it",
            ));
        }
        [] if routes.is_empty() => match given(URL_DEST) {
            Some(url) => (url, UrlOrigin::Env),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let kind = match kind.map(str::to_owned).or_else(|| given("CHIME_KIND")) {
        Some(kind) => kind,
        None => infer_kind(&url).map(str::to_owned).ok_or_else(|| {
            Failure::usage(format!(
                "cannot tell the kind of the URL {} from its host",
                origin_name(origin)
            ))
            .with_hint(format!(
                "give it with --kind (or CHIME_KIND), one of: {}",
                crate::kinds::KNOWN.join(", ")
            ))
        })?,
    };
    let profile = build(&kind, &url, origin, env)?;
    let location = match origin {
        UrlOrigin::Env => location(URL_PROFILE),
        // Each typed URL keeps its own spool (what a pipe spills), drained by
        // the next send or pipe to the same URL.
        UrlOrigin::Args => {
            let identity = profile.destinations.values().next().map(|d| d.identity());
            location(&format!("{URL_PROFILE}-{}", identity.unwrap_or_default()))
        }
    };
    let state = open_state(&location, env)?;
    Ok(Some(Adhoc {
        profile,
        state,
        origin,
    }))
}

/// Where a profile-less spool is kept: the state of the profile `name`.
fn location(name: &str) -> config::Location {
    config::Location {
        path: name.into(),
        origin: "a profile-less send",
        name: Some(name.to_owned()),
    }
}

/// The profile to flush the state `name` with, when it is a profile-less
/// one: `@url` is built again from the environment; a typed URL's cannot be.
pub fn flushing(name: &str, env: &EnvVars) -> Option<Result<Profile, Failure>> {
    if name == URL_PROFILE {
        return Some(for_flush(env));
    }
    name.starts_with(URL_PROFILE).then(|| {
        Err(Failure::config(
            "messages kept for a URL typed on the command line (a pipe's spill to --to URL, or the pings of --ping URL)",
        )
        .with_hint("no profile holds the URL: they go with the next `chime send --to`, `chime pipe --to` or `chime run --ping` with the same URL"))
    })
}

/// The profile `chime flush` delivers `@url`'s spool with, built again from
/// `CHIME_URL` and `CHIME_KIND`.
fn for_flush(env: &EnvVars) -> Result<Profile, Failure> {
    let missing = || {
        Failure::config(
            "they were queued for the URL in CHIME_URL, which is not set \
             (or its kind cannot be told): set CHIME_URL and CHIME_KIND as when \
             they were queued and flush again",
        )
    };
    let url = env
        .get(URL_DEST)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)?;
    let kind = match env.get("CHIME_KIND").filter(|v| !v.is_empty()) {
        Some(kind) => kind.clone(),
        None => infer_kind(url).ok_or_else(missing)?.to_owned(),
    };
    build(&kind, url, UrlOrigin::Env, env)
}

fn origin_name(origin: UrlOrigin) -> &'static str {
    match origin {
        UrlOrigin::Env => "in CHIME_URL",
        UrlOrigin::Args => "given with --to",
    }
}

/// The profile of one destination for `url`, whose text names the URL only
/// as `${CHIME_URL}`; a URL from the command line is handed in through a
/// copy of the environment, never written anywhere.
fn build(kind: &str, url: &str, origin: UrlOrigin, env: &EnvVars) -> Result<Profile, Failure> {
    if !crate::kinds::KNOWN.contains(&kind) {
        return Err(Failure::usage(format!("unknown kind `{kind}`"))
            .with_hint(format!("one of: {}", crate::kinds::KNOWN.join(", "))));
    }
    if let Some((_, needs, hint)) = NOT_BY_URL.iter().find(|(k, ..)| *k == kind) {
        return Err(Failure::usage(*needs).with_hint(*hint));
    }
    let mut env = env.clone();
    let table = match kind {
        "telegram" => {
            let bot = telegram(url).ok_or_else(|| {
                Failure::usage(format!(
                    "the telegram URL {} needs a bot token and a chat id",
                    origin_name(origin)
                ))
                .with_hint("give it as https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<CHAT>, or write a profile")
            })?;
            env.insert(TOKEN_VAR.to_owned(), bot.token);
            format!(
                "token = \"${{{TOKEN_VAR}}}\"\nchat_id = \"{}\"\napi_url = \"{}\"\n",
                bot.chat_id, bot.api_url
            )
        }
        _ => {
            env.insert(URL_DEST.to_owned(), url.to_owned());
            format!("url = \"${{{URL_DEST}}}\"\n")
        }
    };
    let text = format!("[destinations.{URL_DEST}]\nkind = \"{kind}\"\n{table}");
    config::load_text(&location(URL_PROFILE), text, &env).map_err(|err| {
        Failure::usage(format!(
            "the URL {} does not make a {kind} destination",
            origin_name(origin)
        ))
        .caused_by(err.to_string())
    })
}

/// The kinds a URL alone cannot make, with what they need and where it goes:
/// a secret such a kind sends in a header or a body would otherwise have to
/// be typed into a URL, which ends up in logs.
const NOT_BY_URL: &[(&str, &str, &str)] = &[
    (
        "slack-api",
        "a slack-api destination needs a bot token and a channel as well as a URL",
        "use a Slack incoming webhook's URL (kind slack), or write a profile",
    ),
    (
        "gotify",
        "a gotify destination needs an application token as well as a URL",
        "write a profile with `url` and `token`: chime sends the token in a header, never in a URL",
    ),
    (
        "pushover",
        "a pushover destination needs an application token and a user key, not a URL",
        "write a profile with `token` and `user`: chime sends them in the request's body, never in a URL",
    ),
    (
        "opsgenie",
        "an opsgenie destination needs an API key as well as a URL",
        "write a profile with `api_key` (an API integration's key): chime sends it in a header, never in a URL",
    ),
    (
        "pagerduty",
        "a pagerduty destination needs a routing key, not a URL",
        "write a profile with `routing_key` (the integration's Integration Key): it goes in the event's body, never in a URL",
    ),
    (
        "matrix",
        "a matrix destination needs an access token and a room as well as a URL",
        "write a profile with `homeserver`, `access_token` and `room`: chime sends the token in a header, never in a URL",
    ),
    (
        "email",
        "an email destination is an SMTP server, a sender and recipients, not a URL",
        "write a profile with `host`, `from` and `to` (`chime config init` has an example)",
    ),
];

/// The name a Telegram bot token taken from the URL is filled in under, in
/// chime's own copy of the environment only.
const TOKEN_VAR: &str = "CHIME_URL_TOKEN";

/// What a Telegram Bot API URL holds.
#[derive(Debug, PartialEq, Eq)]
struct Bot {
    api_url: String,
    token: String,
    chat_id: String,
}

/// `<api>/bot<TOKEN>[/method]?chat_id=<CHAT>`, the URL people paste from the
/// Bot API's documentation; None unless both the token and the chat are in it.
fn telegram(url: &str) -> Option<Bot> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let at = base.rfind("/bot")?;
    let token = base[at + 4..].split('/').next()?;
    let chat_id = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("chat_id="))?;
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:@".contains(c))
    };
    let api_url = &base[..at];
    let api_ok = !api_url.contains(['"', '\\', '\n']);
    (!token.is_empty() && !chat_id.is_empty() && plain(token) && plain(chat_id) && api_ok).then(
        || Bot {
            api_url: api_url.to_owned(),
            token: token.to_owned(),
            chat_id: chat_id.to_owned(),
        },
    )
}

/// The kind a webhook URL's well-known host says, if it says one.
pub fn infer_kind(url: &str) -> Option<&'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let path = &rest[end..];
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if host == "hooks.slack.com" {
        Some("slack")
    } else if (host == "discord.com" || host == "discordapp.com" || under("discord.com"))
        && path.starts_with("/api/webhooks/")
    {
        Some("discord")
    } else if under("powerplatform.com") || under("logic.azure.com") {
        Some("teams")
    } else if host == "chat.googleapis.com" {
        Some("google-chat")
    } else if host == "ntfy.sh" {
        Some("ntfy")
    } else if host == "api.telegram.org" && path.starts_with("/bot") {
        Some("telegram")
    } else if host == "hc-ping.com" {
        Some("healthchecks")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{Bot, infer_kind, telegram};

    #[test]
    fn a_telegram_url_gives_its_token_and_chat() {
        let bot = telegram("https://api.telegram.org/bot123:AA-b_c/sendMessage?chat_id=-100123");
        let expected = Bot {
            api_url: "https://api.telegram.org".into(),
            token: "123:AA-b_c".into(),
            chat_id: "-100123".into(),
        };
        assert_eq!(bot, Some(expected));
        assert_eq!(
            telegram("https://api.telegram.org/bot123:AA/sendMessage"),
            None
        );
        assert_eq!(
            telegram("https://api.telegram.org/bot/sendMessage?chat_id=1"),
            None
        );
        assert_eq!(
            telegram("https://api.telegram.org/bot1:A/x?chat_id=1\"x"),
            None
        );
    }

    #[test]
    fn well_known_hosts_name_their_kind() {
        let cases = [
            ("https://hooks.slack.com/services/T/B/x", Some("slack")),
            ("https://discord.com/api/webhooks/1/abc", Some("discord")),
            ("https://discordapp.com/api/webhooks/1/abc", Some("discord")),
            (
                "https://ptb.discord.com/api/webhooks/1/abc",
                Some("discord"),
            ),
            ("https://discord.com/channels/1", None),
            (
                "https://prod-01.westeurope.logic.azure.com:443/workflows/x",
                Some("teams"),
            ),
            (
                "https://default1.environment.api.powerplatform.com/x",
                Some("teams"),
            ),
            (
                "https://chat.googleapis.com/v1/spaces/A/messages?key=k",
                Some("google-chat"),
            ),
            ("https://ntfy.sh/my-topic", Some("ntfy")),
            (
                "https://api.telegram.org/bot123:abc/sendMessage",
                Some("telegram"),
            ),
            ("https://HOOKS.SLACK.COM./services/x", Some("slack")),
            ("https://evil.example/hooks.slack.com/", None),
            ("https://hooks.slack.com.evil.example/x", None),
            ("https://user@ntfy.sh/t", Some("ntfy")),
            ("https://chat.example.org/hooks/abc", None),
            ("ftp://hooks.slack.com/x", None),
        ];
        for (url, kind) in cases {
            assert_eq!(infer_kind(url), kind, "{url}");
        }
    }
}
