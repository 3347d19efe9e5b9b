//! `chime config check`: everything `load` checks, plus what only running a
//! template or a rule reveals, reported together.
//!
//! Loading already compiles templates and rule expressions and checks every
//! name and value. On top of that each template is rendered, and each rule
//! evaluated for every level, against sample variables, which catches unknown
//! filters and tests, wrong argument counts and type errors. Variables a
//! template may get from `--var` or JSON on stdin are unknown here, so a
//! missing one (even `deploy.version`) is not a problem: only what would fail
//! whatever the variables are. A profile that passes all that is rehearsed
//! (`rehearsal.rs`): each template rendered for each destination it may go
//! to, in CI and outside it, as a send would.

use std::collections::BTreeMap;

use minijinja::UndefinedBehavior;
use minijinja::value::{Serde, Value};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, EnvVars, Location, Problem, Profile, load_source, read};
use crate::exit::Failure;
use crate::message::Level;
use crate::template;

/// What a valid profile holds, for the one-line summary.
pub struct Summary {
    pub destinations: usize,
    pub routes: usize,
    pub rules: usize,
    pub templates: usize,
    /// Secrets other users may read (`Profile::exposures`): said, not failed.
    pub exposures: Vec<String>,
    /// What rendering the templates for their destinations noticed (markup
    /// another platform's): said, not failed.
    pub notes: Vec<String>,
}

/// "1 destination, 2 routes, 0 rules, 1 template"
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = [
            (self.destinations, "destination"),
            (self.routes, "route"),
            (self.rules, "rule"),
            (self.templates, "template"),
        ];
        let parts: Vec<String> = counts
            .iter()
            .map(|(n, noun)| format!("{n} {noun}{}", if *n == 1 { "" } else { "s" }))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Loads and checks the profile; every problem found is in the one error.
pub fn check(location: &Location, env: &EnvVars) -> Result<Summary, Failure> {
    // Read once: the profile may be a pipe, with nothing left to read again.
    let source = read(location)?;
    let (mut problems, profile) = match load_source(location, source.clone(), env) {
        Ok(profile) => (Vec::new(), Some(profile)),
        Err(ConfigError::Invalid { problems, .. }) => (problems, None),
        Err(other) => return Err(other.into()),
    };
    problems.extend(run_samples(&source, env));
    let mut notes = Vec::new();
    if let Some(profile) = profile.as_ref().filter(|_| problems.is_empty()) {
        let rehearsal = super::rehearsal::rehearse(profile, &spans(&source), env);
        problems.extend(rehearsal.problems);
        notes = rehearsal.notes;
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.span.as_ref().map_or(usize::MAX, |s| s.start));
        let mut failure = Failure::from(ConfigError::Invalid {
            path: location.path.clone(),
            text: source,
            problems,
        });
        failure.hint = Some("fix these, then run `chime config check` again".into());
        return Err(failure);
    }
    let profile: Profile = profile.expect("a profile without problems loaded");
    if profile.destinations.is_empty() {
        return Err(Failure::config(format!(
            "{} defines no destinations: there is nothing to send to",
            location.path.display()
        ))
        .with_hint(
            "add a [destinations.NAME] table (`chime config init` writes a commented example), \
             or send without a profile with `--to URL` or CHIME_URL",
        ));
    }
    Ok(Summary {
        destinations: profile.destinations.len(),
        routes: profile.routes.len(),
        rules: profile.rules.len(),
        templates: profile.templates.len(),
        exposures: profile.exposures(),
        notes,
    })
}

/// Where each template's title and text are, for the rehearsal's problems.
fn spans(source: &str) -> super::rehearsal::Spans {
    let Ok(runnable) = toml::from_str::<Runnable>(source) else {
        return Default::default();
    };
    let span = |part: &Option<Spanned<String>>| part.as_ref().map(Spanned::span);
    runnable
        .templates
        .into_iter()
        .map(|(name, t)| (name, [span(&t.title), span(&t.text)]))
        .collect()
}

/// Just the parts of the profile that run, with their positions. Anything
/// malformed here was already reported by `load`.
#[derive(Deserialize)]
struct Runnable {
    #[serde(default)]
    templates: BTreeMap<String, RunnableTemplate>,
    #[serde(default)]
    rules: Vec<RunnableRule>,
}

#[derive(Deserialize)]
struct RunnableTemplate {
    title: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct RunnableRule {
    when: Spanned<String>,
}

fn run_samples(source: &str, env: &EnvVars) -> Vec<Problem> {
    let Ok(runnable) = toml::from_str::<Runnable>(source) else {
        return Vec::new();
    };
    let mut jinja = template::environment();
    jinja.set_undefined_behavior(UndefinedBehavior::Chainable);
    let mut rule_jinja = template::rule_environment();
    rule_jinja.set_undefined_behavior(UndefinedBehavior::Chainable);
    let mut problems = Vec::new();
    for (name, t) in &runnable.templates {
        for (part, source) in [("title", &t.title), ("text", &t.text)] {
            let Some(source) = source else { continue };
            // One that does not compile was reported by `load`.
            if template::check(source.get_ref()).is_err() {
                continue;
            }
            let rendered = jinja
                .template_from_str(source.get_ref())
                .and_then(|tmpl| template::render(&tmpl, &samples(env, Level::Error)));
            if let Err(err) = rendered {
                let message = format!(
                    "template `{name}`: the {part} fails to render with sample variables: {}",
                    template::describe(&err)
                );
                let help = match template::is_bound(&err) {
                    true => template::BOUND_HELP,
                    false => {
                        "check the filters and tests it uses (https://docs.rs/minijinja/latest/minijinja/filters/)"
                    }
                };
                problems.push(Problem::new(Some(source.span()), message).help(help));
            }
        }
    }
    for rule in &runnable.rules {
        if template::check_expression(rule.when.get_ref()).is_err() {
            continue;
        }
        let Ok(expr) = rule_jinja.compile_expression(rule.when.get_ref()) else {
            continue;
        };
        let failed = LEVELS
            .iter()
            .find_map(|level| expr.eval(samples(env, *level)).err());
        if let Some(err) = failed {
            let message = format!(
                "rule `{}` fails to evaluate with sample variables: {}",
                rule.when.get_ref(),
                template::describe(&err)
            );
            problems.push(Problem::new(Some(rule.when.span()), message).help(
                "rules are minijinja expressions, e.g. when = \"level in ['error', 'critical']\"",
            ));
        }
    }
    problems
}

const LEVELS: [Level; 5] = [
    Level::Info,
    Level::Success,
    Level::Warning,
    Level::Error,
    Level::Critical,
];

/// The variables every send has, with plausible values.
fn samples(env: &EnvVars, level: Level) -> Value {
    Value::from(Serde(sample_map(env, level)))
}

/// [`samples`] as a map, for the rehearsal to add to.
pub(super) fn sample_map(
    env: &EnvVars,
    level: Level,
) -> serde_json::Map<String, serde_json::Value> {
    let mut vars = serde_json::Map::new();
    for (name, value) in [
        ("text", "disk almost full on /var"),
        ("title", "Sample title"),
        ("level", level.as_str()),
        ("host", "db1"),
        ("user", "deploy"),
        ("cwd", "/srv/app"),
        ("now", "2025-01-01T12:00:00Z"),
    ] {
        vars.insert(name.into(), value.into());
    }
    vars.insert("env".into(), serde_json::json!(env));
    vars.insert("fields".into(), serde_json::json!({"size": "12G"}));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_filter_is_found_by_rendering() {
        let source = "[templates.a]\ntext = \"{{ text | shout }}\"\n";
        let problems = run_samples(source, &EnvVars::new());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("shout"), "{problems:?}");
    }

    #[test]
    fn variables_a_send_may_bring_are_not_problems() {
        let source = "[templates.a]\ntext = \"{{ deploy.version }} {{ text | upper }}\"\n\
                      [[rules]]\nwhen = \"service.name == 'api'\"\nroute = \"x\"\n";
        assert!(run_samples(source, &EnvVars::new()).is_empty());
    }

    #[test]
    fn a_rule_is_evaluated_for_every_level() {
        let source = "[[rules]]\nwhen = \"level is shouting\"\nroute = \"x\"\n";
        assert_eq!(run_samples(source, &EnvVars::new()).len(), 1);
    }
}
