//! The profile: where it is found, how it is parsed, and what makes it valid.
//!
//! A profile is one TOML file of destinations, routes, rules and templates.
//! Loading is all-or-nothing: every problem is collected, located by file, line
//! and column, and reported together before anything is sent (exit 78). What a
//! destination's table means is left to its kind (`kinds/`), through [`Fields`].

mod check;
mod parse;
mod pings;
mod rehearsal;
mod validate;

use parse::{induced, parse};
pub use validate::known_list;
use validate::validate;
mod show;
mod starter;
mod state;
mod timing;
mod trust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::fields::{EnvVars, Fields, Problem, suggest};
use crate::fields::{files, redact};
pub use check::check;
pub use show::show;
pub use starter::init;
pub use state::StateServer;
pub use trust::{CaFile, ProxyChoice};

use crate::exit::Failure;
use crate::kinds::{self, Platform};
use crate::spool;
use crate::template;

/// A loaded, validated profile.
pub struct Profile {
    pub path: PathBuf,
    pub default_route: Option<String>,
    pub timeout: Option<Duration>,
    pub destinations: BTreeMap<String, Destination>,
    pub routes: BTreeMap<String, Route>,
    pub rules: Vec<Rule>,
    pub templates: BTreeMap<String, Template>,
    pub spool: spool::Policy,
    /// How long `--thread`/`--update` keys are remembered.
    pub thread_ttl: Duration,
    /// `[state]` or `CHIME_STATE_URL`: the state server hosts share.
    pub state: Option<StateServer>,
}

pub struct Destination {
    pub name: String,
    pub platform: Box<dyn Platform>,
    pub timeout: Option<Duration>,
    /// The pause between two messages when streaming or flushing: the
    /// profile's `pace`, else the platform's sustained rate.
    pub pace: Duration,
    /// Where its secrets may be read by other users, if their files let them
    /// (`Profile::exposures`).
    pub exposed: Vec<crate::fields::Exposure>,
    /// `ca_file`: a private CA trusted for this destination only.
    pub ca_file: Option<CaFile>,
    /// `proxy`: this destination's own proxy, or none, whatever the environment says.
    pub proxy: Option<ProxyChoice>,
    /// `max_file_size`: the largest file it takes, where its server is set
    /// up otherwise than the kind's default.
    pub max_file_size: Option<u64>,
    /// `approvers`: who may answer `chime ask` here.
    pub approvers: Vec<String>,
    /// [`Destination::identity`], worked out once.
    pub identity: std::sync::OnceLock<String>,
}

impl Profile {
    /// Warnings for secrets other users of the machine can read: the profile
    /// itself when it holds a secret in clear and its group or everyone may
    /// read it, and every such secret file.
    pub fn exposures(&self) -> Vec<String> {
        use crate::fields::Exposure;
        let mut warnings = Vec::new();
        let path = self.path.display();
        let mut profile_readable = crate::fields::others_may_read(&self.path);
        let destinations = self
            .destinations
            .values()
            .map(|d| (format!("destination `{}`", d.name), &d.exposed));
        let state = self
            .state
            .iter()
            .map(|s| ("the [state] table".to_owned(), &s.exposed));
        for (whose, exposed) in destinations.chain(state) {
            for exposure in exposed {
                match exposure {
                    Exposure::InProfile { key } if profile_readable => {
                        // Once: the fix is the same for every secret in it.
                        profile_readable = false;
                        warnings.push(format!(
                            "{path} holds secrets (the `{key}` of {whose}) and other \
                             users may read it: chmod 600 {path}"
                        ));
                    }
                    Exposure::File { key, path: file } => warnings.push(format!(
                        "{file} (the `{key}` of {whose}) may be read by other users: \
                         chmod 600 {file}"
                    )),
                    Exposure::InProfile { .. } => {}
                }
            }
        }
        warnings
    }

    /// The first `[[rules]]` entry whose `when` is true for `vars`, if any,
    /// with its place (from 1). A rule that fails is named by its place and
    /// what it does, never quoted: its text may hold what the profile keeps
    /// secret.
    pub fn first_rule(&self, vars: &minijinja::Value) -> Result<Option<(usize, &Rule)>, Failure> {
        for (index, rule) in self.rules.iter().enumerate() {
            let matched = template::matches(&rule.when, vars).map_err(|e| {
                let what = match &rule.action {
                    Action::Route(route) => format!("to route `{route}`"),
                    Action::Drop => "to drop".to_owned(),
                };
                Failure::config(format!("rule {} ({what}) failed: {e}", index + 1))
                    .with_hint("fix the rule's `when` expression; `chime config check` shows it")
            })?;
            if matched {
                return Ok(Some((index + 1, rule)));
            }
        }
        Ok(None)
    }
}

impl Destination {
    /// The largest file it takes: its `max_file_size`, else its kind's;
    /// `None` when it takes no files.
    pub fn file_limit(&self) -> Option<u64> {
        self.platform
            .file_limit()
            .map(|limit| self.max_file_size.unwrap_or(limit))
    }

    /// A new spool entry of `payloads` for this destination, stamped with
    /// who accepted it ([`Destination::identity`]).
    pub fn entry(&self, payloads: Vec<crate::kinds::Payload>) -> spool::Entry {
        let parts = payloads.len();
        spool::Entry {
            identity: Some(self.identity()),
            ..spool::Entry::new(&self.name, payloads, parts)
        }
    }
}

impl Destination {
    /// Who this destination is, as a short hash of its kind, its URL and the
    /// credentials that pick an account (a bot token's workspace): what a
    /// spool entry is checked against before it is delivered, so a message
    /// never reaches a different webhook that took the same name. A hash,
    /// never the secret itself; the channel is not part of it, since an
    /// entry carries the channel it was rendered for.
    pub fn identity(&self) -> String {
        self.identity
            .get_or_init(|| self.compute_identity())
            .clone()
    }

    fn compute_identity(&self) -> String {
        use sha2::{Digest, Sha256};
        let probe = kinds::Payload::json(&serde_json::json!({}));
        let request = self.platform.request(&probe);
        let mut hash = Sha256::new();
        hash.update(self.platform.kind().as_bytes());
        hash.update(b"\n");
        hash.update(request.url.expose().as_bytes());
        for (name, value) in &request.headers {
            if !value.is_public() {
                hash.update(b"\n");
                hash.update(name.to_ascii_lowercase().as_bytes());
                hash.update(b":");
                hash.update(value.expose().as_bytes());
            }
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What names this destination's records on a state server: its
    /// identity and where it posts (`channel`, `chat_id`, a topic: the
    /// settings `config show` gives, secrets redacted), since two
    /// destinations of one bot token in two channels are one identity but
    /// must not share a thread, a dedupe window or a limit.
    pub fn state_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(self.identity().as_bytes());
        for (key, value) in self.platform.describe() {
            hash.update(format!("\n{key}={value}").as_bytes());
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

pub struct Route {
    pub to: Vec<String>,
    pub channel: Option<String>,
    pub template: Option<String>,
    /// When its messages go, and whether alone (`timing/`).
    pub timing: crate::timing::Timing,
    /// Who may answer `chime ask` through it, beside the destination's.
    pub approvers: Vec<String>,
    /// The healthchecks destination `chime run` pings for its jobs.
    pub ping: Option<String>,
}

/// `[[rules]]`: when the expression is true for a message, it goes to
/// `route`, or nowhere (`drop = true`).
pub struct Rule {
    pub when: String,
    pub action: Action,
    /// `dedupe = "10m"` (and `dedupe_key`) for what it routes, in place of
    /// the route's.
    pub dedupe: Option<crate::timing::Dedupe>,
}

/// What a rule that matches does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Route(String),
    /// Sends nothing: a filter on what alerts, for automatic routing only.
    Drop,
}

impl Rule {
    /// `when = "…"` as a diagnostic may show it: what looks like a URL or
    /// a token in it masked, as in any message about the profile.
    pub fn shown_when(&self) -> String {
        let line = format!("when = {}", toml::Value::String(self.when.clone()));
        redact::Redacted::new(&line).line(1).to_owned()
    }
}

/// `[templates.NAME]`: minijinja sources for the title and the text.
pub struct Template {
    pub title: Option<String>,
    pub text: Option<String>,
}

/// How the profile's path was chosen, for "where did it look" messages.
#[derive(Clone, Debug)]
pub struct Location {
    pub path: PathBuf,
    pub origin: &'static str,
    /// The profile's name, when it was chosen by name rather than by path.
    pub name: Option<String>,
}

/// Where a profile is looked for, first match wins (for `chime config path`).
pub const SEARCH_ORDER: &str = "--config PATH, then $CHIME_CONFIG, then \
    <config dir>/chime/NAME.toml where NAME is --profile, $CHIME_PROFILE or `config`";

impl Location {
    /// Which rule chose this path, and whether there is a profile there.
    pub fn explain(&self) -> String {
        let state = if self.path.is_file() {
            "it exists"
        } else {
            "there is nothing there yet: create it with `chime config init`"
        };
        format!("using {}; {state}", self.origin)
    }
}

/// Why a profile could not be used. Each maps to exit code 78.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no profile at {} ({})", .0.path.display(), .0.origin)]
    NotFound(Location),
    #[error("cannot read or write {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: files::ReadError,
    },
    #[error("the profile {} has {} problem{}:\n\n{}", path.display(), problems.len(),
        if problems.len() == 1 { "" } else { "s" }, render(path, text, problems))]
    Invalid {
        path: PathBuf,
        text: String,
        problems: Vec<Problem>,
    },
    #[error("no config directory: set XDG_CONFIG_HOME or HOME, or pass --config")]
    NoConfigDir,
}

fn render(path: &Path, source: &str, problems: &[Problem]) -> String {
    let redacted = redact::Redacted::new(source);
    let parts: Vec<String> = problems
        .iter()
        .map(|p| p.render(path, source, &redacted))
        .collect();
    parts.join("\n").trim_end().to_owned()
}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Failure {
        let hint = match &err {
            ConfigError::NotFound(_) => {
                "create one with `chime config init`, or point --config / CHIME_CONFIG at an existing profile"
            }
            ConfigError::Invalid { .. } => "fix the profile and run again; nothing was sent",
            _ => "check the path and its permissions",
        };
        Failure::config(err.to_string()).with_hint(hint)
    }
}

/// Picks the profile file: `--config`, else `$CHIME_CONFIG`, else
/// `<config dir>/chime/<profile>.toml` with the profile from `--profile`,
/// `$CHIME_PROFILE` or `config`.
pub fn locate(
    config: Option<&Path>,
    profile: Option<&str>,
    env: &EnvVars,
) -> Result<Location, ConfigError> {
    if let Some(path) = config {
        return Ok(Location {
            path: path.to_owned(),
            origin: "from --config",
            name: None,
        });
    }
    if let Some(path) = env.get("CHIME_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(Location {
            path: path.into(),
            origin: "from CHIME_CONFIG",
            name: None,
        });
    }
    let (name, origin) = match (profile, env.get("CHIME_PROFILE").filter(|p| !p.is_empty())) {
        (Some(name), _) => (name, "profile from --profile"),
        (None, Some(name)) => (name.as_str(), "profile from CHIME_PROFILE"),
        (None, None) => ("config", "the default profile"),
    };
    let dir = dirs::config_dir().ok_or(ConfigError::NoConfigDir)?;
    let path = dir.join("chime").join(format!("{name}.toml"));
    Ok(Location {
        path,
        origin,
        name: Some(name.to_owned()),
    })
}

/// Reads, parses and validates the profile at `location`.
pub fn load(location: &Location, env: &EnvVars) -> Result<Profile, ConfigError> {
    let source = read(location)?;
    load_source(location, source, env)
}

/// The names of the destinations the profile at `location` defines, read
/// without validating it or filling in its variables: enough to tell a typo
/// from a destination with nothing queued (`chime spool list --dest`) when
/// the profile's secrets are not at hand. None when it cannot be read.
pub fn destination_names(location: &Location) -> Vec<String> {
    let table = read(location)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok());
    match table.as_ref().and_then(|t| t.get("destinations")) {
        Some(toml::Value::Table(destinations)) => destinations.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The profile's text, bounded in size (see `files`).
fn read(location: &Location) -> Result<String, ConfigError> {
    files::read_profile(&location.path).map_err(|source| match source.is_not_found() {
        true => ConfigError::NotFound(location.clone()),
        false => ConfigError::Read {
            path: location.path.clone(),
            source,
        },
    })
}

/// Parses and validates `source`, a profile made by chime rather than read
/// from a file (a profile-less send's, see `settings::url`).
pub fn load_text(
    location: &Location,
    source: String,
    env: &EnvVars,
) -> Result<Profile, ConfigError> {
    load_source(location, source, env)
}

/// Parses and validates `source`, the text of the profile at `location`.
fn load_source(location: &Location, source: String, env: &EnvVars) -> Result<Profile, ConfigError> {
    let path = location.path.clone();
    let mut problems = Vec::new();
    let (raw, repaired) = parse(&source, &mut problems);
    let shape_problems = problems.len();
    let profile = raw.and_then(|raw| validate(raw, path.clone(), env, &mut problems));
    // What the parse repaired to go on is its own making, not the user's.
    let mut index = 0;
    problems.retain(|problem| {
        index += 1;
        index <= shape_problems || !induced(problem, &repaired, &source)
    });
    match profile {
        Some(profile) if problems.is_empty() => Ok(profile),
        _ => Err(ConfigError::Invalid {
            path,
            text: source,
            problems,
        }),
    }
}

/// Used when neither the flag, the environment, the destination nor the profile sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a key is remembered unless the profile says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest duration a profile may give: "for ever" in practice, and far
/// enough from the end of what a clock can count that adding it to now
/// cannot overflow (which panicked).
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);
