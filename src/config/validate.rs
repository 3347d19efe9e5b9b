//! Checking a parsed profile: every destination built by its kind, every
//! route, rule and template checked against the rest, every duration read —
//! each problem recorded with where it is, none stopping the others.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::timing::RawTiming;
use super::{
    Action, DEFAULT_TTL, Destination, EnvVars, Fields, MAX_DURATION, Problem, Profile, Route, Rule,
    Template, suggest,
};
use crate::{fields, kinds, spool, template};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
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
    state: Option<Spanned<fields::Table>>,
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
    dedupe: Option<Spanned<String>>,
    dedupe_key: Option<Spanned<String>>,
    limit: Option<Spanned<String>>,
    limit_levels: Option<Spanned<Vec<String>>>,
    digest: Option<Spanned<String>>,
    quiet: Option<Spanned<String>>,
    quiet_levels: Option<Spanned<Vec<String>>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    approvers: Vec<String>,
    ping: Option<Spanned<String>>,
}

impl RawRoute {
    /// Its timing keys, apart.
    fn timing(&mut self) -> RawTiming {
        RawTiming {
            dedupe: self.dedupe.take(),
            dedupe_key: self.dedupe_key.take(),
            limit: self.limit.take(),
            limit_levels: self.limit_levels.take(),
            digest: self.digest.take(),
            quiet: self.quiet.take(),
            quiet_levels: self.quiet_levels.take(),
            timezone: self.timezone.take(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    when: Spanned<String>,
    route: Option<Spanned<String>>,
    drop: Option<Spanned<bool>>,
    dedupe: Option<Spanned<String>>,
    dedupe_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    title: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
}

pub(super) fn validate(
    raw: RawProfile,
    path: PathBuf,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Option<Profile> {
    let timeout = raw
        .defaults
        .timeout
        .and_then(|t| timeout(&t, "defaults.timeout", problems));
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
        if let Some(dest) = destination(&name, table, &path, env, problems) {
            destinations.insert(name, dest);
        }
    }
    let templates = templates(raw.templates, problems);
    let routes = routes(raw.routes, &declared, &templates, problems);
    super::pings::are_heartbeats(&routes, &destinations, problems);
    let rules = rules(raw.rules, &routes, problems);
    let default_route = raw.defaults.route.map(|route| {
        check_known(&route, "route", &routes, "defaults.route names", problems);
        route.into_inner()
    });
    let spool = spool_policy(raw.spool, problems);
    let state = super::state::read(raw.state, &path, env, problems);
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
        state,
    })
}

fn destination(
    name: &str,
    table: Spanned<fields::Table>,
    profile: &std::path::Path,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Option<Destination> {
    let span = table.span();
    let mut table = table.into_inner();
    let timeout = duration_field(&mut table, "timeout", problems);
    let pace = duration_field(&mut table, "pace", problems);
    let max_file_size = size_field(&mut table, "max_file_size", problems);
    let approvers = strings_field(&mut table, "approvers", problems);
    let (ca_file, proxy) = super::trust::settings(name, &mut table, profile, problems);
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
        unknown_kind(name, &kind_name, kind_span, fields);
        return None;
    };
    let exposed = fields.finish(&kind_name);
    let pace = pace.unwrap_or_else(|| platform.pace());
    Some(Destination {
        name: name.to_owned(),
        platform,
        timeout,
        pace,
        ca_file,
        proxy,
        max_file_size,
        approvers,
        exposed,
        identity: std::sync::OnceLock::new(),
    })
}

/// A list of strings, like `approvers = ["U0123ABCD", "@ada"]`.
fn strings_field(table: &mut fields::Table, key: &str, problems: &mut Vec<Problem>) -> Vec<String> {
    let Some(value) = table.remove(key) else {
        return Vec::new();
    };
    let strings: Option<Vec<String>> = value.get_ref().as_array().and_then(|items| {
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect()
    });
    strings.unwrap_or_else(|| {
        let message = format!("`{key}` must be a list of strings, like [\"U0123ABCD\", \"@ada\"]");
        problems.push(Problem::new(Some(value.span()), message));
        Vec::new()
    })
}

/// An unknown kind, with the known ones; the rest of the destination is read
/// as the closest of them, if one is close.
fn unknown_kind(name: &str, kind: &str, span: std::ops::Range<usize>, mut fields: Fields) {
    let close = suggest(kind, kinds::KNOWN.iter().copied());
    let known = kinds::KNOWN.join(", ");
    let help = match close {
        Some(close) => format!("did you mean `{close}`? known kinds: {known}"),
        None => format!("known kinds: {known}"),
    };
    fields.problem(
        Problem::new(
            Some(span),
            format!("unknown kind `{kind}` for destination `{name}`"),
        )
        .help(help),
    );
    if let Some(close) = close {
        fields.finish_as_guess(close, |fields| {
            kinds::build(close, fields);
        });
    }
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
        let mut route = route.into_inner();
        let timing = super::timing::timing(route.timing(), &format!("route `{name}`"), problems);
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
        if let Some(ping) = &route.ping {
            check_known(ping, "destination", destinations, &what, problems);
        }
        out.insert(
            name,
            Route {
                to: route.to.into_iter().map(Spanned::into_inner).collect(),
                channel: route.channel,
                template: route.template.map(Spanned::into_inner),
                timing,
                approvers: route.approvers,
                ping: route.ping.map(Spanned::into_inner),
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
        let drop = rule.drop.as_ref().is_some_and(|d| *d.get_ref());
        let timing = RawTiming {
            dedupe: rule.dedupe,
            dedupe_key: rule.dedupe_key,
            ..RawTiming::default()
        };
        let dedupe = super::timing::timing(timing, "a rule", problems).dedupe;
        let action = match (rule.route, drop) {
            (Some(route), false) => {
                check_known(&route, "route", routes, "a rule names", problems);
                Action::Route(route.into_inner())
            }
            (None, true) => Action::Drop,
            (Some(route), true) => {
                let message =
                    "a rule has both `route` and `drop = true`: it either routes or drops";
                let help =
                    "keep `route` to send what it matches there, or `drop = true` to send nothing";
                problems.push(Problem::new(Some(route.span()), message).help(help));
                Action::Drop
            }
            (None, false) => {
                let message = "a rule has neither `route` nor `drop = true`: it does nothing";
                let help = "add `route = \"NAME\"` to send what it matches there, or `drop = true` to send nothing";
                let span = rule.drop.map_or(rule.when.span(), |d| d.span());
                problems.push(Problem::new(Some(span), message).help(help));
                Action::Drop
            }
        };
        out.push(Rule {
            when: rule.when.into_inner(),
            action,
            dedupe,
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

/// A destination's duration key, taken out of its table; `timeout` may not
/// be zero.
/// A size: bytes, or a string like "25MiB".
fn size_field(table: &mut fields::Table, key: &str, problems: &mut Vec<Problem>) -> Option<u64> {
    let value = table.remove(key)?;
    let parsed = match value.get_ref() {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| "it is negative".to_owned()),
        toml::Value::String(text) => crate::kinds::files::parse_size(text),
        _ => Err("it is neither".to_owned()),
    };
    match parsed {
        Ok(size) => Some(size),
        Err(why) => {
            let message = format!("`{key}` must be a size, like \"25MiB\" or 26214400: {why}");
            problems.push(Problem::new(Some(value.span()), message));
            None
        }
    }
}

pub(super) fn duration_field(
    table: &mut fields::Table,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<Duration> {
    let value = table.remove(key)?;
    let Some(text) = value.get_ref().as_str() else {
        let message = format!("`{key}` must be a duration in quotes, like \"10s\"");
        problems.push(Problem::new(Some(value.span()), message));
        return None;
    };
    let text = Spanned::new(value.span(), text.to_owned());
    match key {
        "timeout" => timeout(&text, key, problems),
        _ => duration(&text, key, problems),
    }
}

/// A duration, and not zero: a zero timeout would make every send give up
/// at once and queue.
fn timeout(text: &Spanned<String>, key: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let timeout = duration(text, key, problems)?;
    if timeout.is_zero() {
        let message = format!("`{key}` must be longer than 0: every send would give up at once");
        problems.push(Problem::new(Some(text.span()), message).help("write it like \"10s\""));
        return None;
    }
    Some(timeout)
}

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
