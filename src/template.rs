//! Templates and rule expressions, both minijinja.
//!
//! Values interpolated into a text template are escaped for the destination's
//! markup (for Slack: `&`, `<`, `>`), while the template's own literal text is
//! kept as written, so a template may use `<@U123>` or `<!here>` and a user's
//! `a < b` still arrives intact. A value can opt out with `|safe`. Titles are
//! plain text and never escaped here; kinds escape them where needed.

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error};

/// Name under which text templates run; its auto-escape is the markup's.
const TEXT: &str = "text";
const TITLE: &str = "title";

/// Escapes a plain string into a destination's markup.
pub type Escape = fn(&str) -> String;

/// Checks that a template source compiles.
pub fn check(source: &str) -> Result<(), String> {
    Environment::new()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Checks that a rule expression compiles.
pub fn check_expression(source: &str) -> Result<(), String> {
    Environment::new()
        .compile_expression(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Evaluates a rule expression against the message's variables.
pub fn matches(expression: &str, vars: &Value) -> Result<bool, String> {
    let env = Environment::new();
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
        let mut env = Environment::new();
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
        template.render(vars).map_err(|e| describe(&e))
    }
}

/// For destinations whose text is data, not markup: nothing to escape.
pub fn plain(text: &str) -> String {
    text.to_owned()
}

/// One line: the error's kind and detail, and the line within the template.
pub fn describe(err: &Error) -> String {
    let mut text = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
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
    fn rules_evaluate_against_variables() {
        let vars = Value::from(Serde(serde_json::json!({"level": "error"})));
        assert!(matches("level in ['error', 'critical']", &vars).unwrap());
        assert!(!matches("level == 'info'", &vars).unwrap());
        assert!(check_expression("level in [").is_err());
    }
}
