//! `chime config show`: the profile as chime resolved it, secrets redacted.
//!
//! The output is TOML-shaped so it reads like the file, but it shows what chime
//! will use: `${VAR}` and `{ file = … }` resolved, defaults filled in, and every
//! secret in its redacted form (what a destination's kind returns from
//! [`Platform::describe`](crate::kinds::Platform::describe)). It is for people,
//! not for feeding back to chime.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Location, Profile};

pub fn show(profile: &Profile, location: &Location) -> String {
    let mut out = format!(
        "# {} ({})\n\n[defaults]\n",
        profile.path.display(),
        location.origin
    );
    if let Some(route) = &profile.default_route {
        line(&mut out, "route", &quote(route));
    }
    let timeout = profile.timeout.unwrap_or(super::DEFAULT_TIMEOUT);
    line(&mut out, "timeout", &duration(timeout));
    line(&mut out, "thread_ttl", &duration(profile.thread_ttl));
    for (name, destination) in &profile.destinations {
        show_destination(&mut out, name, destination);
    }
    for (name, route) in &profile.routes {
        let _ = writeln!(out, "\n[routes.{}]", key(name));
        let to: Vec<String> = route.to.iter().map(|d| quote(d)).collect();
        line(&mut out, "to", &format!("[{}]", to.join(", ")));
        if let Some(channel) = &route.channel {
            line(&mut out, "channel", &quote(channel));
        }
        if let Some(template) = &route.template {
            line(&mut out, "template", &quote(template));
        }
        show_timing(&mut out, &route.timing);
    }
    for rule in &profile.rules {
        out.push_str("\n[[rules]]\n");
        line(&mut out, "when", &quote(&rule.when));
        match &rule.action {
            super::Action::Route(route) => line(&mut out, "route", &quote(route)),
            super::Action::Drop => line(&mut out, "drop", "true"),
        }
        if let Some(dedupe) = &rule.dedupe {
            show_dedupe(&mut out, dedupe);
        }
    }
    for (name, template) in &profile.templates {
        let _ = writeln!(out, "\n[templates.{}]", key(name));
        if let Some(title) = &template.title {
            line(&mut out, "title", &quote(title));
        }
        if let Some(text) = &template.text {
            line(&mut out, "text", &quote(text));
        }
    }
    let spool = &profile.spool;
    out.push_str("\n[spool]\n");
    line(&mut out, "max_age", &duration(spool.max_age));
    if let Some(n) = spool.max_attempts {
        line(&mut out, "max_attempts", &n.to_string());
    }
    line(&mut out, "backoff_base", &duration(spool.backoff_base));
    line(&mut out, "backoff_cap", &duration(spool.backoff_cap));
    if let Some(state) = &profile.state {
        show_state(&mut out, state);
    }
    out
}

/// The state server, its password redacted wherever it was given.
fn show_state(out: &mut String, state: &super::StateServer) {
    let _ = writeln!(out, "\n[state]  # url from {}", state.origin);
    line(out, "url", &quote(&state.shown()));
    if let Some(user) = &state.user {
        line(out, "user", &quote(user));
    }
    if state.password.is_some() {
        line(out, "password", &quote("****"));
    }
    line(out, "prefix", &quote(&state.prefix));
    line(out, "connect_timeout", &duration(state.connect_timeout));
    if let Some(ca) = &state.ca_file {
        line(out, "ca_file", &quote(&ca.path.display().to_string()));
    }
}

/// A route's timing keys, those it sets, with their defaults filled in.
fn show_timing(out: &mut String, timing: &crate::timing::Timing) {
    let levels = |levels: &[crate::message::Level]| {
        let names: Vec<String> = levels.iter().map(|l| quote(l.as_str())).collect();
        format!("[{}]", names.join(", "))
    };
    if let Some(dedupe) = &timing.dedupe {
        show_dedupe(out, dedupe);
    }
    if let Some(limit) = &timing.limit {
        let per = humantime::format_duration(limit.per);
        line(out, "limit", &quote(&format!("{}/{per}", limit.count)));
        line(out, "limit_levels", &levels(&limit.levels));
    }
    if let Some(digest) = timing.digest {
        line(out, "digest", &duration(digest));
    }
    if let Some(quiet) = &timing.quiet {
        line(out, "quiet", &quote(&quiet.hours));
        line(out, "timezone", &quote(&quiet.zone_name()));
        line(out, "quiet_levels", &levels(&quiet.levels));
    }
}

fn show_dedupe(out: &mut String, dedupe: &crate::timing::Dedupe) {
    line(out, "dedupe", &duration(dedupe.window));
    if let Some(key) = &dedupe.key {
        line(out, "dedupe_key", &quote(key));
    }
}

/// A destination's table: its kind's settings, then those every kind has.
fn show_destination(out: &mut String, name: &str, destination: &super::Destination) {
    let _ = writeln!(out, "\n[destinations.{}]", key(name));
    line(out, "kind", &quote(destination.platform.kind()));
    for (setting, value) in destination.platform.describe() {
        line(out, setting, &value.to_string());
    }
    if let Some(timeout) = destination.timeout {
        line(out, "timeout", &duration(timeout));
    }
    // Shown even when unset: the kind's own pace is what `pipe` and `flush` keep to.
    line(out, "pace", &duration(destination.pace));
    if let Some(size) = destination.max_file_size {
        line(out, "max_file_size", &size.to_string());
    }
    if !destination.approvers.is_empty() {
        let approvers = toml::Value::Array(
            destination
                .approvers
                .iter()
                .map(|a| a.as_str().into())
                .collect(),
        );
        line(out, "approvers", &approvers.to_string());
    }
    if let Some(ca) = &destination.ca_file {
        line(out, "ca_file", &quote(&ca.path.display().to_string()));
    }
    match &destination.proxy {
        Some(super::ProxyChoice::Direct) => line(out, "proxy", &quote("none")),
        Some(super::ProxyChoice::Via(url)) => line(out, "proxy", &quote(&url.to_string())),
        None => {}
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

/// A TOML string, escaped as TOML escapes it.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A table key, quoted only when TOML needs it.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { name.to_owned() } else { quote(name) }
}

fn duration(d: Duration) -> String {
    quote(&humantime::format_duration(d).to_string())
}
