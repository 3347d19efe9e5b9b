//! `[state]`: the state server a fleet shares (a Redis or a Valkey), so that
//! the jobs of one CI run on several runners, or the hosts of a fleet,
//! share threads, job outcomes, dedupe windows, limits and pacing. Talking
//! to it is `state::shared`'s; this reads and checks the table.
//!
//! ```toml
//! [state]
//! url = "rediss://redis.internal:6380/0"   # or CHIME_STATE_URL
//! user = "chime"                           # an ACL user, if not "default"
//! password = "${REDIS_PASSWORD}"           # a secret, like a destination's token
//! prefix = "chime"                         # the start of every key chime makes
//! connect_timeout = "1s"
//! ca_file = "redis-ca.pem"                 # a private CA for rediss://
//! ```

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::trust::CaFile;
use super::{EnvVars, Problem};
use crate::fields::{self, Fields};
use crate::secret::Secret;

/// How long a connection may take to open unless `connect_timeout` says.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_PREFIX: &str = "chime";
const URL_VAR: &str = "CHIME_STATE_URL";

/// The state server, as the profile and the environment give it.
#[derive(Clone, Debug)]
pub struct StateServer {
    /// `redis://` or `rediss://`, with any password in it: shown redacted.
    pub url: Secret,
    /// Where the URL came from, for messages.
    pub origin: &'static str,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub prefix: String,
    pub connect_timeout: Duration,
    pub ca_file: Option<CaFile>,
    /// Where its password may be read by other users (`Profile::exposures`).
    pub exposed: Vec<fields::Exposure>,
}

impl StateServer {
    /// The URL as messages and `config show` give it: no password.
    pub fn shown(&self) -> String {
        shown_url(self.url.expose())
    }

    /// What tells two servers apart, for one connection per server and
    /// login (kept in memory only).
    pub fn key(&self) -> String {
        let password = self.password.as_ref().map(Secret::expose);
        format!(
            "{}\n{}\n{:?}\n{:?}",
            self.url.expose(),
            self.prefix,
            self.user,
            password
        )
    }
}

/// Reads `[state]`, if the profile has it, and `CHIME_STATE_URL`, which sets
/// the URL (or overrides the profile's): none when neither gives one.
pub(super) fn read(
    table: Option<Spanned<fields::Table>>,
    profile: &Path,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Option<StateServer> {
    let from_env = env.get(URL_VAR).filter(|u| !u.is_empty()).cloned();
    let (mut table, span) = match table {
        Some(table) => {
            let span = table.span();
            (table.into_inner(), span)
        }
        None if from_env.is_none() => return None,
        None => (fields::Table::new(), 0..0),
    };
    let connect_timeout = super::validate::duration_field(&mut table, "connect_timeout", problems);
    let ca_file = table
        .remove("ca_file")
        .and_then(|value| super::trust::ca_file("the [state] table", &value, profile, problems));
    let mut fields = Fields::of_table("the [state] table", table, span.clone(), env, problems);
    let written = fields.string_as_written("url");
    // A password in a URL written in clear is a secret in the profile.
    let in_clear = written
        .as_ref()
        .and_then(|(_, raw)| url::Url::parse(raw).ok())
        .is_some_and(|u| u.password().is_some());
    let written = written.map(|(url, _)| url);
    let user = fields.string("user").filter(|u| !u.is_empty());
    let password = fields.optional_secret_token("password", "state");
    let prefix = fields
        .string("prefix")
        .unwrap_or_else(|| DEFAULT_PREFIX.into());
    let mut exposed = fields.finish("state");
    if in_clear {
        exposed.push(fields::Exposure::InProfile { key: "url".into() });
    }
    let (url, origin) = chosen_url(from_env, written, span.clone(), problems)?;
    if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let message = "the [state] `prefix` must be a word without spaces, like \"chime\"";
        problems.push(Problem::new(Some(span), message));
        return None;
    }
    Some(StateServer {
        url: Secret::shown_as(url.clone(), shown_url(&url)),
        origin,
        user,
        password,
        prefix,
        connect_timeout: connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        ca_file,
        exposed,
    })
}

/// The URL to use, `CHIME_STATE_URL`'s over the table's, and where it came
/// from; a problem when there is none or it is no state server's.
fn chosen_url(
    from_env: Option<String>,
    written: Option<String>,
    span: std::ops::Range<usize>,
    problems: &mut Vec<Problem>,
) -> Option<(String, &'static str)> {
    let (url, origin) = match (from_env, written) {
        (Some(url), _) => (url, URL_VAR),
        (None, Some(url)) => (url, "[state] url"),
        (None, None) => {
            let message = "the [state] table has no `url`";
            let help = "add url = \"redis://HOST:6379\", or set CHIME_STATE_URL";
            problems.push(Problem::new(Some(span), message).help(help));
            return None;
        }
    };
    if let Err(why) = check_url(&url) {
        let message = format!("{origin} is not a state server's URL ({why})");
        let help = "give redis://HOST[:PORT][/DB] or rediss://… for TLS";
        problems.push(Problem::new(None, message).help(help));
        return None;
    }
    Some((url, origin))
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        return Err(format!(
            "`{}://` is not redis:// or rediss://",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    Ok(())
}

/// `url` without its password.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            parsed.to_string()
        }
        Err(_) => crate::secret::redact_url(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            shown_url("redis://chime:hunter2@cache:6379/2"),
            "redis://chime:****@cache:6379/2"
        );
        assert_eq!(shown_url("rediss://cache"), "rediss://cache");
    }

    #[test]
    fn only_redis_urls_with_a_host_are_state_servers() {
        assert!(check_url("redis://127.0.0.1:6379").is_ok());
        assert!(check_url("rediss://cache.internal/1").is_ok());
        assert!(check_url("https://cache").is_err());
        assert!(check_url("redis://").is_err());
    }
}
