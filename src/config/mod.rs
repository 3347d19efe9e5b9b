//! The profile: where it is found, how it is parsed, and what makes it valid.
//!
//! A profile is one TOML file of destinations, routes, rules and templates.
//! Loading is all-or-nothing: every problem is collected, located by file, line
//! and column, and reported together before anything is sent (exit 78). What a
//! destination's table means is left to its kind (`kinds/`), through [`Fields`].

mod check;
mod show;
mod starter;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::fields::{self, files, redact};
pub use crate::fields::{EnvVars, Fields, Problem, suggest};
pub use check::check;
pub use show::show;
pub use starter::init;

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
}

pub struct Destination {
    pub name: String,
    pub platform: Box<dyn Platform>,
    pub timeout: Option<Duration>,
    /// The pause between two messages when streaming or flushing: the
    /// profile's `pace`, else the platform's sustained rate.
    pub pace: Duration,
    /// [`Destination::identity`], worked out once.
    pub identity: std::sync::OnceLock<String>,
}

impl Profile {
    /// The route of the first `[[rules]]` entry whose `when` is true for
    /// `vars`, if any. A rule that fails is named by its place and route,
    /// never quoted: its text may hold what the profile keeps secret.
    pub fn rule_route(&self, vars: &minijinja::Value) -> Result<Option<&str>, Failure> {
        for (index, rule) in self.rules.iter().enumerate() {
            let matched = template::matches(&rule.when, vars).map_err(|e| {
                Failure::config(format!(
                    "rule {} (to route `{}`) failed: {e}",
                    index + 1,
                    rule.route
                ))
                .with_hint("fix the rule's `when` expression; `chime config check` shows it")
            })?;
            if matched {
                return Ok(Some(&rule.route));
            }
        }
        Ok(None)
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
}

pub struct Route {
    pub to: Vec<String>,
    pub channel: Option<String>,
    pub template: Option<String>,
}

/// `[[rules]]`: when the expression is true for a message, it goes to `route`.
pub struct Rule {
    pub when: String,
    pub route: String,
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

/// How many shape mistakes one check reports before it gives up on the rest.
const MAX_SHAPE_PROBLEMS: usize = 20;

/// Parses the profile, going on past mistakes in its shape so that every one
/// is reported at once: each mistake the parser stops at is recorded, then
/// neutralised in a copy of the source (an unknown key blanked out, a value of
/// the wrong type replaced by an empty one of the right type), and the copy
/// parsed again. Every edit keeps the byte length, so positions in the copy
/// are positions in the file. What the copy yields is validated too, for the
/// mistakes only a whole profile shows; it is never used to send anything.
/// Gives back the ranges it edited.
fn parse(source: &str, problems: &mut Vec<Problem>) -> (Option<RawProfile>, Vec<Range<usize>>) {
    let mut text = source.to_owned();
    let mut repaired = Vec::new();
    for _ in 0..MAX_SHAPE_PROBLEMS {
        let err = match toml::from_str::<RawProfile>(&text) {
            Ok(raw) => return (Some(raw), repaired),
            Err(err) => err,
        };
        // The first failure is always reported; a later one only if the
        // neutralised copy is still well-formed TOML, so no mistake of ours shows.
        if !problems.is_empty() && text.parse::<toml::Table>().is_err() {
            break;
        }
        problems.push(parse_problem(&err));
        match neutralise(&mut text, &err) {
            Some(range) => repaired.push(range),
            None => break,
        }
    }
    (None, repaired)
}

/// Edits `text`, without changing its length, so the parser gets past `err`;
/// gives back the range edited, or `None` when it cannot.
fn neutralise(text: &mut String, err: &toml::de::Error) -> Option<Range<usize>> {
    let span = err
        .span()
        .filter(|s| s.end <= text.len() && text.is_char_boundary(s.start))?;
    let message = err.message();
    let line = line_around(text, span.start);
    if text[line.clone()].trim_start().starts_with('[') {
        // A whole table is wrong (`[rules]` for `[[rules]]`): drop it.
        let end = text[line.end..]
            .find("\n[")
            .map_or(text.len(), |i| line.end + i + 1);
        blank(text, line.start..end);
        return Some(line.start..end);
    }
    if message.starts_with("unknown field") {
        blank(text, line.clone());
        return Some(line);
    }
    let empty = empty_value(message)?;
    // The value and the rest of its line make room for an empty one.
    let after_equals = text[line.start..span.start]
        .rfind('=')
        .map(|i| line.start + i + 1);
    let room = after_equals.map_or(span, |start| start..line.end);
    if empty.len() > room.len() {
        blank(text, line.clone());
        return Some(line);
    }
    let padded = format!("{empty:<width$}", width = room.len());
    text.replace_range(room.clone(), &padded);
    Some(room)
}

/// Whether a problem found in the repaired copy is about a repair: in a
/// value that was replaced, or in a table holding one (an emptied `to` leaves
/// a route that "sends nowhere").
fn induced(problem: &Problem, repaired: &[Range<usize>], source: &str) -> bool {
    let Some(span) = &problem.span else {
        return false;
    };
    let header = source
        .get(span.start..)
        .is_some_and(|rest| rest.starts_with('['));
    repaired.iter().any(|range| {
        let inside = span.start < range.end && range.start < span.end.max(span.start + 1);
        let in_table = header
            && range.start > span.start
            && source
                .get(span.start + 1..range.start)
                .is_some_and(|between| !between.contains("\n["));
        inside || in_table
    })
}

/// An empty value of the type a "invalid type: …, expected …" message wants.
fn empty_value(message: &str) -> Option<&'static str> {
    let expected = message.split("expected").nth(1)?;
    [
        ("sequence", "[]"),
        ("string", "\"\""),
        ("map", "{}"),
        ("struct", "{}"),
        ("bool", "false"),
        ("u32", "0"),
        ("u64", "0"),
        ("i64", "0"),
        ("integer", "0"),
    ]
    .iter()
    .find(|(word, _)| expected.contains(word))
    .map(|(_, empty)| *empty)
}

/// The byte range of the line holding `offset`, without its newline.
fn line_around(text: &str, offset: usize) -> std::ops::Range<usize> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    start..end
}

/// Spaces over `range`, newlines kept, so every later offset stays true.
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| match c {
            '\n' => "\n".to_owned(),
            c => " ".repeat(c.len_utf8()),
        })
        .collect();
    text.replace_range(range, &blanked);
}

fn parse_problem(err: &toml::de::Error) -> Problem {
    let message = unquote(err.message().trim());
    let problem = Problem::new(err.span(), message.clone());
    if message.starts_with("invalid type: string") && message.ends_with("expected a sequence") {
        return problem.help("write a list, even of one: to = [\"name\"]");
    }
    if message.starts_with("invalid type: map") && message.ends_with("expected a sequence") {
        return problem.help("each rule is a table of its own: write [[rules]], with two brackets");
    }
    // serde's "unknown field `x`, expected one of `a`, `b`" lists the choices; a
    // typo deserves the one it most likely meant.
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return problem;
    };
    let word = rest.split('`').next().unwrap_or("");
    let choices: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
    match suggest(word, choices) {
        Some(close) => problem.help(format!("did you mean `{close}`?")),
        None => problem,
    }
}

/// serde's "invalid type: string \"…\", expected …" without the string: it
/// is the profile's value, perhaps a webhook URL, and the snippet below the
/// message shows where it is (masked).
fn unquote(message: &str) -> String {
    static QUOTED: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
        regex_lite::Regex::new(
            r#"(invalid (?:type|value): (?:string|character)) (?:"(?:[^"\\]|\\.)*"|`[^`]*`)"#,
        )
        .expect("the pattern is valid")
    });
    QUOTED.replace_all(message, "$1").into_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    destinations: BTreeMap<String, Spanned<fields::Table>>,
    #[serde(default)]
    routes: BTreeMap<String, Spanned<RawRoute>>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    templates: BTreeMap<String, RawTemplate>,
    #[serde(default)]
    spool: RawSpool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    max_age: Option<Spanned<String>>,
    max_attempts: Option<u32>,
    backoff_base: Option<Spanned<String>>,
    backoff_cap: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    route: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    thread_ttl: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    to: Vec<Spanned<String>>,
    channel: Option<String>,
    template: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    when: Spanned<String>,
    route: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    title: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
}

fn validate(
    raw: RawProfile,
    path: PathBuf,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Option<Profile> {
    let timeout = raw
        .defaults
        .timeout
        .and_then(|t| duration(&t, "defaults.timeout", problems));
    let thread_ttl = raw
        .defaults
        .thread_ttl
        .and_then(|t| duration(&t, "defaults.thread_ttl", problems))
        .unwrap_or(DEFAULT_TTL);
    // Routes are checked against every declared destination, valid or not, so
    // one bad destination is reported once, not again by each route naming it.
    let declared: BTreeMap<String, ()> = raw.destinations.keys().map(|k| (k.clone(), ())).collect();
    let mut destinations = BTreeMap::new();
    for (name, table) in raw.destinations {
        if let Some(dest) = destination(&name, table, env, problems) {
            destinations.insert(name, dest);
        }
    }
    let templates = templates(raw.templates, problems);
    let routes = routes(raw.routes, &declared, &templates, problems);
    let rules = rules(raw.rules, &routes, problems);
    let default_route = raw.defaults.route.map(|route| {
        check_known(&route, "route", &routes, "defaults.route names", problems);
        route.into_inner()
    });
    let spool = spool_policy(raw.spool, problems);
    Some(Profile {
        path,
        default_route,
        timeout,
        destinations,
        routes,
        rules,
        templates,
        spool,
        thread_ttl,
    })
}

fn destination(
    name: &str,
    table: Spanned<fields::Table>,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Option<Destination> {
    let span = table.span();
    let mut table = table.into_inner();
    let mut duration_key = |key: &str| {
        table.remove(key).and_then(|t| {
            let text = Spanned::new(t.span(), t.get_ref().as_str().unwrap_or("").to_owned());
            duration(&text, key, problems)
        })
    };
    let timeout = duration_key("timeout");
    let pace = duration_key("pace");
    let Some(kind) = table.remove("kind") else {
        let help = format!("add `kind = \"…\"`, one of: {}", kinds::KNOWN.join(", "));
        problems.push(
            Problem::new(Some(span), format!("destination `{name}` has no `kind`")).help(help),
        );
        return None;
    };
    let kind_span = kind.span();
    let Some(kind_name) = kind.get_ref().as_str().map(str::to_owned) else {
        problems.push(Problem::new(Some(kind_span), "`kind` must be a string"));
        return None;
    };
    let mut fields = Fields::new(name, table, span, env, problems);
    let Some(platform) = kinds::build(&kind_name, &mut fields) else {
        let mut problem = Problem::new(
            Some(kind_span),
            format!("unknown kind `{kind_name}` for destination `{name}`"),
        );
        problem = match suggest(&kind_name, kinds::KNOWN.iter().copied()) {
            Some(close) => problem.help(format!(
                "did you mean `{close}`? known kinds: {}",
                kinds::KNOWN.join(", ")
            )),
            None => problem.help(format!("known kinds: {}", kinds::KNOWN.join(", "))),
        };
        fields.problem(problem);
        return None;
    };
    fields.finish(&kind_name);
    let pace = pace.unwrap_or_else(|| platform.pace());
    Some(Destination {
        name: name.to_owned(),
        platform,
        timeout,
        pace,
        identity: std::sync::OnceLock::new(),
    })
}

fn templates(
    raw: BTreeMap<String, RawTemplate>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Template> {
    let mut out = BTreeMap::new();
    for (name, t) in raw {
        for (part, source) in [("title", &t.title), ("text", &t.text)] {
            if let Some(source) = source
                && let Err(err) = template::check(source.get_ref())
            {
                let message = format!("template `{name}`: the {part} does not compile: {err}");
                problems.push(Problem::new(Some(source.span()), message));
            }
        }
        let title = t.title.map(Spanned::into_inner);
        let text = t.text.map(Spanned::into_inner);
        out.insert(name, Template { title, text });
    }
    out
}

fn routes(
    raw: BTreeMap<String, Spanned<RawRoute>>,
    destinations: &BTreeMap<String, ()>,
    templates: &BTreeMap<String, Template>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Route> {
    let mut out = BTreeMap::new();
    for (name, route) in raw {
        let span = route.span();
        let route = route.into_inner();
        if route.to.is_empty() {
            let message = format!("route `{name}` sends nowhere: `to` is empty");
            problems.push(Problem::new(Some(span), message).help("list at least one destination"));
        }
        let what = format!("route `{name}` names");
        for dest in &route.to {
            check_known(dest, "destination", destinations, &what, problems);
        }
        if let Some(template) = &route.template {
            check_known(template, "template", templates, &what, problems);
        }
        out.insert(
            name,
            Route {
                to: route.to.into_iter().map(Spanned::into_inner).collect(),
                channel: route.channel,
                template: route.template.map(Spanned::into_inner),
            },
        );
    }
    out
}

fn rules(
    raw: Vec<RawRule>,
    routes: &BTreeMap<String, Route>,
    problems: &mut Vec<Problem>,
) -> Vec<Rule> {
    let mut out = Vec::new();
    for rule in raw {
        if let Err(err) = template::check_expression(rule.when.get_ref()) {
            let message = format!("rule expression does not compile: {err}");
            let help =
                "rules are minijinja expressions, e.g. when = \"level in ['error', 'critical']\"";
            problems.push(Problem::new(Some(rule.when.span()), message).help(help));
        }
        check_known(&rule.route, "route", routes, "a rule names", problems);
        out.push(Rule {
            when: rule.when.into_inner(),
            route: rule.route.into_inner(),
        });
    }
    out
}

/// Reports `name` when it is not a key of `known`.
fn check_known<T>(
    name: &Spanned<String>,
    noun: &str,
    known: &BTreeMap<String, T>,
    context: &str,
    problems: &mut Vec<Problem>,
) {
    if known.contains_key(name.get_ref()) {
        return;
    }
    let message = format!("{context} an unknown {noun} `{}`", name.get_ref());
    problems.push(Problem::new(Some(name.span()), message).help(known_list(
        noun,
        name.get_ref(),
        known,
    )));
}

/// "did you mean `ops`? known routes: ops, critical" — shared with command-line lookups.
pub fn known_list<T>(noun: &str, name: &str, known: &BTreeMap<String, T>) -> String {
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    let list = if names.is_empty() {
        format!("the profile defines no {noun}s")
    } else {
        format!("known {noun}s: {}", names.join(", "))
    };
    match suggest(name, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`? {list}"),
        None => list,
    }
}

fn spool_policy(raw: RawSpool, problems: &mut Vec<Problem>) -> spool::Policy {
    let defaults = spool::Policy::default();
    let mut get = |value: Option<Spanned<String>>, key: &str, default: Duration| {
        value
            .and_then(|v| duration(&v, key, problems))
            .unwrap_or(default)
    };
    spool::Policy {
        max_age: get(raw.max_age, "spool.max_age", defaults.max_age),
        backoff_base: get(
            raw.backoff_base,
            "spool.backoff_base",
            defaults.backoff_base,
        ),
        backoff_cap: get(raw.backoff_cap, "spool.backoff_cap", defaults.backoff_cap),
        max_attempts: raw.max_attempts,
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

fn duration(text: &Spanned<String>, key: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    match humantime::parse_duration(text.get_ref()) {
        Ok(d) if d <= MAX_DURATION => Some(d),
        Ok(_) => {
            let message = format!("`{key}` is too long: at most 100 years");
            problems.push(Problem::new(Some(text.span()), message));
            None
        }
        Err(err) => {
            let message = format!("`{key}` is not a duration: {err}");
            problems.push(
                Problem::new(Some(text.span()), message)
                    .help("write it like \"10s\", \"500ms\" or \"2m\""),
            );
            None
        }
    }
}
