//! Templates and rule expressions, both minijinja.
//!
//! Values interpolated into a text template are escaped for the destination's
//! markup (for Slack: `&`, `<`, `>`), while the template's own literal text is
//! kept as written, so a template may use `<@U123>` or `<!here>` and a user's
//! `a < b` still arrives intact. A value can opt out with `|safe`. Titles are
//! plain text and never escaped here; kinds escape them where needed.
//!
//! A profile's templates and rules are code its author wrote, run on every
//! message, so each run is bounded: minijinja's fuel caps both the steps it
//! takes and the memory it makes, and the output has a cap of its own. A
//! runaway loop or a string doubled forty times is then a template error the
//! caller names (exit 78), never a hang or an abort. Every environment comes
//! from [`environment`] or [`rule_environment`] so none escapes the bound.

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value};

use crate::ci::Ci;
use crate::fields::EnvVars;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Template, UndefinedBehavior};

/// Name under which text templates run; its auto-escape is the markup's.
const TEXT: &str = "text";
const TITLE: &str = "title";

/// The work one render may do, in minijinja's fuel: about one instruction,
/// or 64 bytes of data made, per unit. A million is many times what any
/// message needs, stops a loop of loops in well under a second, and caps
/// what a template can allocate at about 64 MiB.
const FUEL: u64 = 1_000_000;
/// A rule is one expression, evaluated for every message (and for every
/// level by `config check`): a tenth of that, about 6 MiB of data.
const RULE_FUEL: u64 = 100_000;
/// The most one template may write: several times the largest message any
/// platform takes, so only a runaway template reaches it.
const MAX_OUTPUT: usize = 4 << 20;

/// Escapes a plain string into a destination's markup.
pub type Escape = fn(&str) -> String;

/// An environment for templates, bounded (see [`FUEL`]).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env
}

/// An environment for rule expressions, bounded (see [`RULE_FUEL`]).
pub fn rule_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(RULE_FUEL));
    env
}

/// Renders `template`, refusing output over [`MAX_OUTPUT`].
pub fn render(template: &Template, vars: &Value) -> Result<String, Error> {
    template.render(vars).and_then(capped)
}

/// `output` if it is within [`MAX_OUTPUT`], for renders made another way.
pub fn capped(output: String) -> Result<String, Error> {
    if output.len() > MAX_OUTPUT {
        let detail = format!("{TOO_LARGE} {} MiB", MAX_OUTPUT >> 20);
        return Err(Error::new(ErrorKind::InvalidOperation, detail));
    }
    Ok(output)
}

const TOO_LARGE: &str = "its output is larger than";

/// Whether `err` is one of the bounds above rather than a mistake in the
/// template's logic: the fix is a smaller loop, not another filter.
pub fn is_bound(err: &Error) -> bool {
    err.kind() == ErrorKind::OutOfFuel || err.detail().is_some_and(|d| d.starts_with(TOO_LARGE))
}

/// What to say to someone whose template hit a bound.
pub const BOUND_HELP: &str =
    "a template may take about a million steps and write at most 4 MiB: make its loops shorter";

/// Checks that a template source compiles.
pub fn check(source: &str) -> Result<(), String> {
    environment()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Checks that a rule expression compiles.
pub fn check_expression(source: &str) -> Result<(), String> {
    rule_environment()
        .compile_expression(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Evaluates a rule expression against the message's variables.
pub fn matches(expression: &str, vars: &Value) -> Result<bool, String> {
    let env = rule_environment();
    let expr = env
        .compile_expression(expression)
        .map_err(|e| describe(&e))?;
    expr.eval(vars)
        .map(|v| v.is_true())
        .map_err(|e| describe(&e))
}

/// Renders titles and texts for one markup.
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    pub fn new(escape: Escape) -> Renderer {
        let mut env = environment();
        // A misspelt or missing variable printed is an error that names it,
        // never a silent blank; `{% if ci.branch %}` and `| default("…")`
        // still test for one.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|name| match name {
            TEXT => AutoEscape::Custom("markup".into()),
            _ => AutoEscape::None,
        });
        env.set_formatter(move |out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Custom(_)) && !value.is_safe() {
                let text = if value.is_none() || value.is_undefined() {
                    String::new()
                } else {
                    value.to_string()
                };
                out.write_str(&escape(&text))?;
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        Renderer { env }
    }

    /// Renders a text template: values escaped, literal markup kept.
    pub fn text(&self, source: &str, vars: &Value) -> Result<String, String> {
        self.render(TEXT, source, vars)
    }

    /// Renders a title template as plain text.
    pub fn title(&self, source: &str, vars: &Value) -> Result<String, String> {
        self.render(TITLE, source, vars)
    }

    fn render(&self, name: &str, source: &str, vars: &Value) -> Result<String, String> {
        let template = self
            .env
            .template_from_named_str(name, source)
            .map_err(|e| describe(&e))?;
        render(&template, vars).map_err(|e| describe_in(&e, source))
    }
}

/// What templates and rules see of where chime runs: `host, user, cwd, now`,
/// `env.*` and, in CI, `ci.*`. `chime pipe`'s rules see the same.
pub fn surroundings(env: &EnvVars, ci: Option<&Ci>) -> BTreeMap<String, Value> {
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    vars.insert("host".into(), Value::from(host));
    let user = env
        .get("USER")
        .or_else(|| env.get("LOGNAME"))
        .cloned()
        .unwrap_or_default();
    vars.insert("user".into(), Value::from(user));
    vars.insert(
        "cwd".into(),
        Value::from(env.get("PWD").cloned().unwrap_or_default()),
    );
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    vars.insert("now".into(), Value::from(now));
    vars.insert("env".into(), Value::from(Serde(env)));
    // Outside CI `ci` is undefined, so `ci is defined` tells where chime runs
    // (rules use it) and printing `ci.branch` is an error naming it.
    if let Some(ci) = ci {
        vars.insert("ci".into(), Value::from(Serde(ci)));
    }
    vars
}

/// For destinations whose text is data, not markup: nothing to escape.
pub fn plain(text: &str) -> String {
    text.to_owned()
}

/// [`describe`], naming the expression that was undefined: minijinja's own
/// error does not say which.
fn describe_in(err: &Error, source: &str) -> String {
    let expression = err
        .range()
        .and_then(|range| source.get(range))
        .filter(|_| err.kind() == ErrorKind::UndefinedError);
    match expression {
        Some(expression) => {
            let mut text = format!(
                "`{}` is undefined: check its spelling, or test for it where it may be \
                 missing (`{{% if ci is defined %}}` outside CI)",
                expression.trim()
            );
            if let Some(line) = err.line() {
                text.push_str(&format!(" (template line {line})"));
            }
            text
        }
        None => describe(err),
    }
}

/// One line: the error's kind and detail, and the line within the template.
pub fn describe(err: &Error) -> String {
    let mut text = match (err.kind(), err.detail()) {
        (ErrorKind::OutOfFuel, _) => {
            "it does too much work: a loop runs too long or builds too much".to_owned()
        }
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    if let Some(line) = err.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::Serde;

    fn slack(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    #[test]
    fn values_are_escaped_but_template_markup_is_kept() {
        let vars = Value::from(Serde(serde_json::json!({"text": "a < b & c"})));
        let out = Renderer::new(slack)
            .text("<!here> {{ text }}", &vars)
            .unwrap();
        assert_eq!(out, "<!here> a &lt; b &amp; c");
    }

    #[test]
    fn titles_are_plain() {
        let vars = Value::from(Serde(
            serde_json::json!({"level": "error", "host": "db<1>"}),
        ));
        let out = Renderer::new(slack)
            .title("{{ level | upper }} on {{ host }}", &vars)
            .unwrap();
        assert_eq!(out, "ERROR on db<1>");
    }

    #[test]
    fn a_runaway_template_is_stopped_but_a_large_message_is_not() {
        let renderer = Renderer::new(plain);
        let vars = Value::from(Serde(serde_json::json!({"text": "x".repeat(3 << 20)})));
        assert_eq!(renderer.text("{{ text }}", &vars).unwrap().len(), 3 << 20);
        let loops =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        assert!(
            renderer
                .text(loops, &vars)
                .unwrap_err()
                .contains("too much work")
        );
        let big = renderer.text("{{ text }}{{ text }}", &vars).unwrap_err();
        assert!(big.contains("larger than 4 MiB"), "{big}");
    }

    #[test]
    fn rules_evaluate_against_variables() {
        let vars = Value::from(Serde(serde_json::json!({"level": "error"})));
        assert!(matches("level in ['error', 'critical']", &vars).unwrap());
        assert!(!matches("level == 'info'", &vars).unwrap());
        assert!(check_expression("level in [").is_err());
    }

    #[test]
    fn a_rule_may_test_a_variable_the_event_lacks() {
        let rule = "event == 'feature.used' and feature not in ['export', 'api']";
        let lacking = Value::from(Serde(serde_json::json!({"event": "feature.used"})));
        assert!(matches(rule, &lacking).unwrap());
        let export = Value::from(Serde(
            serde_json::json!({"event": "feature.used", "feature": "export"}),
        ));
        assert!(!matches(rule, &export).unwrap());
        let other = Value::from(Serde(serde_json::json!({"level": "info"})));
        assert!(!matches(rule, &other).unwrap());
    }
}
