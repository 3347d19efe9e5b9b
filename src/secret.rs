//! Secrets: webhook URLs and tokens that must never reach a terminal or a log.
//!
//! A [`Secret`] prints only its redacted form through `Debug` and `Display`, so
//! settings, errors and `--dry-run` output are safe to print whole. The only way
//! to the real value is [`Secret::expose`], used where a request is built.

use std::fmt;

/// A value that must not be printed: a webhook URL, a token, a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    shown: String,
}

impl Secret {
    /// A secret URL: scheme and host stay visible so a reader knows where it goes.
    pub fn url(value: String) -> Secret {
        let shown = redact_url(&value);
        Secret { value, shown }
    }

    /// A secret token: only its well-known prefix (`xoxb-`) stays visible.
    pub fn token(value: String) -> Secret {
        let shown = redact_token(&value);
        Secret { value, shown }
    }

    /// An `Authorization: Bearer` header value for a secret token.
    pub fn bearer(token: &Secret) -> Secret {
        Secret {
            value: format!("Bearer {}", token.value),
            shown: format!("Bearer {}", token.shown),
        }
    }

    /// A value that is safe to show, carried as a `Secret` so request headers
    /// can be one type.
    pub fn public(value: &str) -> Secret {
        Secret {
            value: value.to_owned(),
            shown: value.to_owned(),
        }
    }

    /// A value with its own shown form, for values only partly secret (a
    /// body with a `${NAME}` filled in shows as the body with the name).
    pub fn shown_as(value: String, shown: String) -> Secret {
        Secret { value, shown }
    }

    pub fn expose(&self) -> &str {
        &self.value
    }

    /// True for a value carried as a `Secret` only for its type ([`Secret::public`]).
    pub fn is_public(&self) -> bool {
        self.value == self.shown
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Redacts a URL into something like `https://hooks.slack.com/services/T…/B…/****`.
///
/// Path segments that read like words (`services`, `api`, `webhooks`) are kept so the
/// shape stays recognisable; segments with digits or capitals are identifiers or keys
/// and keep only their first character; the last segment, the query and any user
/// info are always hidden, because that is where platforms put the key.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "****".to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("****@{host}"),
        None => authority.to_owned(),
    };
    let path_only = path.split(['?', '#']).next().unwrap_or("");
    let mut out = format!("{scheme}://{host}");
    let segments: Vec<&str> = path_only.split('/').skip(1).collect();
    // The key is usually last; with a trailing slash, it is the one before.
    let last = segments.iter().rposition(|s| !s.is_empty());
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        // The key is usually last, but an API path may go on after it
        // (`…/{token}/messages/{id}`): a long segment is masked wherever it is.
        if Some(i) == last || segment.len() >= 32 {
            out.push_str("****");
        } else if segment.len() < 16
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_' || c == '.')
        {
            out.push_str(segment);
        } else if let Some(first) = segment.chars().next() {
            out.push(first);
            out.push('…');
        }
    }
    if path.len() > path_only.len() {
        out.push_str("?****");
    }
    out
}

/// Redacts a token, keeping a recognisable prefix such as `xoxb-`.
pub fn redact_token(token: &str) -> String {
    match token.find('-') {
        Some(i) if i <= 5 => format!("{}****", &token[..=i]),
        _ => "****".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_webhook_url_keeps_only_its_shape() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0001/B0002/abcdefSECRET"),
            "https://hooks.slack.com/services/T…/B…/****"
        );
    }

    #[test]
    fn a_trailing_slash_or_a_long_lowercase_key_is_hidden_too() {
        assert_eq!(
            redact_url("https://hooks.zapier.com/hooks/catch/123/lowersecretpath/"),
            "https://hooks.zapier.com/hooks/catch/1…/****/"
        );
        assert_eq!(
            redact_url("https://mm.example.com/hooks/abcdefghijklmnopqrstuvwxyz/"),
            "https://mm.example.com/hooks/****/"
        );
        assert_eq!(
            redact_url("https://x.example.com/averylongsecretsegment/end"),
            "https://x.example.com/a…/****"
        );
    }

    #[test]
    fn a_long_key_is_hidden_even_when_the_path_goes_on_after_it() {
        let token = "Ab".repeat(34);
        assert_eq!(
            redact_url(&format!(
                "https://discord.com/api/webhooks/123/{token}/messages/456"
            )),
            "https://discord.com/api/webhooks/1…/****/messages/****"
        );
    }

    #[test]
    fn query_and_user_info_are_hidden() {
        assert_eq!(
            redact_url("https://user:pw@example.com/hook?key=abc"),
            "https://****@example.com/****?****"
        );
    }

    #[test]
    fn token_keeps_its_prefix() {
        assert_eq!(redact_token("xoxb-1234-5678-secret"), "xoxb-****");
        assert_eq!(redact_token("plainsecret"), "****");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::token("xoxb-1234-abcd".into());
        assert!(!format!("{secret:?} {secret}").contains("1234"));
    }
}
