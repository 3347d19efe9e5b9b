//! `config check`'s rehearsal: each template rendered as a send renders it,
//! for every destination it may be sent to — those of the routes that name
//! it, or every destination for a template no route names (`--template`
//! picks it) — once as in CI and once outside it.
//!
//! What would fail there is a problem at the template: a variable undefined
//! outside CI (`ci.*`), a text the kind cannot build (a webhook's `body`),
//! or one the platform refuses (Telegram's HTML). Markup written for
//! another platform, which the kind shows as text, is a note. Variables a
//! send may bring (`--var`, a JSON event, `-f`) get sample values, every
//! path the template looks up, so that only what fails whatever they are is
//! reported.

use std::collections::BTreeMap;
use std::ops::Range;

use minijinja::value::Value;
use serde_json::{Map, Value as Json, json};

use super::{Destination, EnvVars, Problem, Profile, Template};
use crate::kinds::Target;
use crate::message::{Level, Message};
use crate::template::{self, Renderer};

/// Where each template's title and text are in the profile.
pub type Spans = BTreeMap<String, [Option<Range<usize>>; 2]>;

/// What the rehearsal found: problems fail the check, notes are said.
#[derive(Default)]
pub struct Rehearsal {
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

/// Renders every template through every destination it may be sent to.
pub fn rehearse(profile: &Profile, spans: &Spans, env: &EnvVars) -> Rehearsal {
    let mut found = Rehearsal::default();
    for (name, template) in &profile.templates {
        let vars = [true, false].map(|in_ci| (in_ci, sample_vars(template, env, in_ci)));
        for (destination, channel) in audience(profile, name) {
            let take = Take {
                name,
                template,
                destination,
                channel,
                spans: &spans.get(name).cloned().unwrap_or_default(),
            };
            // One finding per destination is enough: both runs say the same.
            for (in_ci, vars) in &vars {
                if take.play(vars, *in_ci, &mut found) {
                    break;
                }
            }
        }
    }
    found.notes.sort();
    found.notes.dedup();
    found
}

/// The destinations (and route channel) a template may be sent to.
fn audience<'p>(profile: &'p Profile, name: &str) -> Vec<(&'p Destination, Option<&'p str>)> {
    let mut routed: Vec<_> = profile
        .routes
        .values()
        .filter(|route| route.template.as_deref() == Some(name))
        .flat_map(|route| {
            let channel = route.channel.as_deref();
            route.to.iter().map(move |to| (to, channel))
        })
        .filter_map(|(to, channel)| Some((profile.destinations.get(to)?, channel)))
        .collect();
    if routed.is_empty() {
        routed = profile.destinations.values().map(|d| (d, None)).collect();
    }
    routed
}

/// One template sent to one destination.
struct Take<'a> {
    name: &'a str,
    template: &'a Template,
    destination: &'a Destination,
    channel: Option<&'a str>,
    spans: &'a [Option<Range<usize>>; 2],
}

impl Take<'_> {
    /// Renders, builds and judges the message; true when it found a problem.
    fn play(&self, vars: &Value, in_ci: bool, found: &mut Rehearsal) -> bool {
        let platform = &self.destination.platform;
        let renderer = Renderer::new(platform.markup());
        let title = match self.template.title.as_deref() {
            Some(source) => renderer.title(source, vars).map(Some),
            None => Ok(Some("Sample title".to_owned())),
        };
        let title = match title {
            Ok(title) => title,
            Err(err) => return self.failed(0, &err, in_ci, found),
        };
        let text = match self.template.text.as_deref() {
            Some(source) => renderer.text(source, vars),
            None => Ok(platform.escape("disk almost full on /var")),
        };
        let text = match text {
            Ok(text) => text,
            Err(err) => return self.failed(1, &err, in_ci, found),
        };
        if let Some(markup) = foreign_markup(&text, platform.kind()) {
            found.notes.push(format!(
                "template `{}` writes Slack markup `{markup}`, which `{}` ({}) shows as text",
                self.name,
                self.destination.name,
                platform.kind()
            ));
        }
        let message = sample_message(title, text);
        let refused = platform.check(&message).err().or_else(|| {
            let target = Target {
                channel: self.channel.map(str::to_owned),
                ..Target::default()
            };
            let payloads = platform.render(&message, &target);
            payloads.iter().find_map(|p| platform.refusal(p))
        });
        let Some(why) = refused else {
            return false;
        };
        let part = if self.template.text.is_some() { 1 } else { 0 };
        let message = format!(
            "template `{}`: what it renders cannot go to `{}` ({}): {why}",
            self.name,
            self.destination.name,
            platform.kind()
        );
        let help = "check the markup the template writes: each kind takes its own";
        found
            .problems
            .push(Problem::new(self.spans[part].clone(), message).help(help));
        true
    }

    /// A part (0 title, 1 text) that does not render for this destination.
    fn failed(&self, part: usize, err: &str, in_ci: bool, found: &mut Rehearsal) -> bool {
        let which = ["title", "text"][part];
        let (when, help) = match in_ci {
            true => ("", "check the variables and filters it uses"),
            false => (
                " outside CI",
                "outside CI `ci` is undefined: guard it with `{% if ci is defined %}…{% endif %}`, \
                 or give a default, as in `{{ ci.branch | default(\"local\") }}`",
            ),
        };
        // The same for every destination: said once.
        let message = format!(
            "template `{}`: the {which} fails to render{when}: {err}",
            self.name
        );
        if !found.problems.iter().any(|p| p.message == message) {
            found
                .problems
                .push(Problem::new(self.spans[part].clone(), message).help(help));
        }
        true
    }
}

/// The message a send would build around a rendered title and text.
fn sample_message(title: Option<String>, text: String) -> Message {
    Message {
        title: title.filter(|t| !t.trim().is_empty()),
        text,
        level: Level::Error,
        fields: vec![("size".into(), "12G".into())],
        links: Vec::new(),
        code: false,
        host: "db1".into(),
        time: std::time::SystemTime::now(),
        context: Vec::new(),
        files: Vec::new(),
        file_urls: Vec::new(),
    }
}

/// Slack's own markup (`<!here>`, `<@U123>`, `<#C123>`), where a kind that
/// is not Slack's shows it as it is.
fn foreign_markup(text: &str, kind: &str) -> Option<String> {
    if kind.starts_with("slack") || kind == "mattermost" {
        return None;
    }
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find(['>', '<', ' ']).unwrap_or(rest.len());
        let inner = &rest[..end];
        let slack = inner.starts_with('!') || inner.starts_with("@U") || inner.starts_with("#C");
        if slack && rest[end..].starts_with('>') && inner.len() > 1 {
            return Some(format!("<{inner}>"));
        }
    }
    None
}

/// The variables a send has, with plausible values, and a sample for every
/// other path the template looks up (`deploy.version`), which a send may
/// bring; `ci` only when `in_ci`.
fn sample_vars(template: &Template, env: &EnvVars, in_ci: bool) -> Value {
    let mut vars = super::check::sample_map(env, Level::Error);
    if in_ci {
        vars.insert("ci".into(), sample_ci());
    }
    let jinja = template::environment();
    for source in [&template.title, &template.text].into_iter().flatten() {
        let Ok(compiled) = jinja.template_from_str(source) else {
            continue;
        };
        for path in compiled.undeclared_variables(true) {
            if path != "ci" && !path.starts_with("ci.") || in_ci {
                fill(&mut vars, &path);
            }
        }
    }
    Value::from(minijinja::value::Serde(vars))
}

/// What `ci.*` holds in a CI run.
fn sample_ci() -> Json {
    json!({
        "provider": "github", "repo": "acme/app", "branch": "main", "commit": "0123abc",
        "run_url": "https://ci.example/acme/app/runs/1", "job": "build", "actor": "deploy",
        "run_id": "1",
    })
}

/// Adds a sample value at `path` (`a.b.c`) where nothing is yet.
fn fill(vars: &mut Map<String, Json>, path: &str) {
    let mut at = vars;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let last = names.peek().is_none();
        let slot = at.entry(name.to_owned()).or_insert_with(|| match last {
            true => json!("sample"),
            false => Json::Object(Map::new()),
        });
        match slot {
            Json::Object(inner) if !last => at = inner,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_markup_is_found_only_where_it_is_foreign() {
        assert_eq!(
            foreign_markup("<!here> disk full", "telegram").as_deref(),
            Some("<!here>")
        );
        assert_eq!(
            foreign_markup("cc <@U123ABC>", "discord").as_deref(),
            Some("<@U123ABC>")
        );
        assert_eq!(foreign_markup("<!here> disk full", "slack"), None);
        assert_eq!(foreign_markup("a < b and c > d", "telegram"), None);
        assert_eq!(foreign_markup("<b>bold</b>", "telegram"), None);
    }

    #[test]
    fn paths_a_template_looks_up_get_samples_without_hiding_what_is_there() {
        let mut vars = Map::new();
        vars.insert("fields".into(), json!({"size": "12G"}));
        fill(&mut vars, "deploy.version");
        fill(&mut vars, "fields.owner");
        fill(&mut vars, "fields.size");
        assert_eq!(vars["deploy"], json!({"version": "sample"}));
        assert_eq!(vars["fields"], json!({"size": "12G", "owner": "sample"}));
    }
}
