//! A webhook's `body` template: compiled and proved once, rendered for each
//! part, and the secrets it names filled in only when a request is built.
//!
//! `${NAME}` in the template stands for a secret from the environment, like
//! anywhere in a profile, but it is not expanded when the profile loads: a
//! rendered body waits in the spool and is printed by `--dry-run`, so a
//! payload keeps the `${NAME}` and where it is ([`SecretRef`]), and
//! [`Body::fill`] puts the value in as the request goes out. Only text the
//! template writes itself counts, which minijinja's output spans tell apart
//! from values: a `${NAME}` in a message is the user's and is sent as typed,
//! or any message could pull a secret into a channel. A `${NAME}` inside a
//! tag (`{{ "${X}" }}`) or a block whose output is captured (a macro,
//! `{% filter %}`, `{% set %}`) would never be filled in, so it is refused.
//! `$$` writes a lone `$`.

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value as Jinja};
use minijinja::{AutoEscape, Environment, OutputSpan, OutputSpanKind};
use serde_json::Value;

use crate::fields::{Piece, pieces};
use crate::kinds::SecretRef;
use crate::secret::Secret;

const BODY: &str = "body";
const JSON: &str = "json";

/// A compiled body template and the secrets it names.
pub struct Body {
    env: Environment<'static>,
    secrets: BTreeMap<String, Secret>,
}

/// One rendered body: its `${NAME}`s still in, and where they are.
pub struct Rendered {
    pub body: String,
    pub secrets: Vec<SecretRef>,
}

impl Body {
    /// Compiles `source` and proves it makes JSON of `sample`, so a broken
    /// template is a profile error, not a message lost at send time.
    pub fn new(
        source: String,
        secrets: BTreeMap<String, Secret>,
        sample: &Value,
    ) -> Result<Body, String> {
        if let Some(name) = name_in_a_tag(&source) {
            return Err(misplaced(name));
        }
        let mut env = environment();
        env.add_template_owned(BODY, source)
            .map_err(|e| crate::template::describe(&e))?;
        let body = Body { env, secrets };
        let rendered = body
            .render(sample)
            .map_err(|e| crate::template::describe(&e))?;
        if let Some(name) = body.unmarked(&rendered) {
            return Err(misplaced(name));
        }
        let filled = body.fill(&rendered.body, &rendered.secrets);
        if let Err(e) = serde_json::from_str::<Value>(&filled) {
            // Quoted as rendered, before filling in: the secrets stay names.
            let shown: String = rendered.body.chars().take(200).collect();
            return Err(format!("it does not make JSON ({e}): {shown}"));
        }
        Ok(body)
    }

    /// Renders the body for `vars`, marking each `${NAME}` the template wrote.
    pub fn render(&self, vars: &Value) -> Result<Rendered, minijinja::Error> {
        let template = self.env.get_template(BODY)?;
        let (output, spans) = template.render_with_spans(Jinja::from(Serde(vars)))?;
        let output = crate::template::capped(output)?;
        Ok(self.mark(&output, &spans))
    }

    /// `body` as sent: each `${NAME}` that `refs` marks, filled in. A mark
    /// that does not fit the body (a spool entry from another profile) is
    /// left as it stands rather than trusted.
    pub fn fill(&self, body: &str, refs: &[SecretRef]) -> String {
        let mut out = String::with_capacity(body.len());
        let mut done = 0;
        for SecretRef { at, name } in refs {
            let reference = format!("${{{name}}}");
            let fits = *at >= done && body.get(*at..).is_some_and(|r| r.starts_with(&reference));
            let Some(value) = self.secrets.get(name).filter(|_| fits) else {
                continue;
            };
            out.push_str(&body[done..*at]);
            out.push_str(value.expose());
            done = at + reference.len();
        }
        out.push_str(&body[done..]);
        out
    }

    /// Resolves `$$` and marks the `${NAME}`s in what the template's own text
    /// wrote; what values wrote stays as it is.
    fn mark(&self, output: &str, spans: &[OutputSpan]) -> Rendered {
        let mut body = String::with_capacity(output.len());
        let mut secrets = Vec::new();
        let mut done = 0;
        for span in spans.iter().filter(|s| s.kind() == OutputSpanKind::Raw) {
            let range = span.output_range();
            let Some(raw) = output.get(range.clone()).filter(|_| range.start >= done) else {
                continue;
            };
            body.push_str(&output[done..range.start]);
            for piece in pieces(raw) {
                match piece {
                    Piece::Text(text) => body.push_str(text),
                    Piece::Var(name) => {
                        if self.secrets.contains_key(name) {
                            let at = body.len();
                            secrets.push(SecretRef {
                                at,
                                name: name.to_owned(),
                            });
                        }
                        body.push_str(&format!("${{{name}}}"));
                    }
                }
            }
            done = range.end;
        }
        body.push_str(&output[done..]);
        Rendered { body, secrets }
    }

    /// A name of ours in `rendered` that no mark covers: written by a
    /// captured block, so it would go out as `${NAME}`.
    fn unmarked<'a>(&'a self, rendered: &Rendered) -> Option<&'a str> {
        self.secrets.keys().map(String::as_str).find(|name| {
            let written = rendered.body.matches(&format!("${{{name}}}")).count();
            written > rendered.secrets.iter().filter(|r| r.name == *name).count()
        })
    }
}

/// Every `{{ value }}` is written as JSON, so no value can break the document;
/// `|safe` writes one raw.
fn environment() -> Environment<'static> {
    let mut env = crate::template::environment();
    env.set_auto_escape_callback(|name| match name {
        BODY => AutoEscape::Custom(JSON.into()),
        _ => AutoEscape::None,
    });
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            out.write_str(value.as_str().unwrap_or_default())?;
            return Ok(());
        }
        let json = serde_json::to_string(value).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
        })?;
        out.write_str(&json)?;
        Ok(())
    });
    env
}

/// The first `${NAME}` inside a `{{ }}`, `{% %}` or `{# #}` tag of `source`.
fn name_in_a_tag(source: &str) -> Option<&str> {
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => "#}",
            _ => {
                rest = after;
                continue;
            }
        };
        let end = after.find(close).map_or(after.len(), |i| i + close.len());
        let named = pieces(&after[..end])
            .into_iter()
            .find_map(|piece| match piece {
                Piece::Var(name) => Some(name),
                Piece::Text(_) => None,
            });
        if named.is_some() {
            return named;
        }
        rest = &after[end..];
    }
    None
}

fn misplaced(name: &str) -> String {
    format!(
        "`${{{name}}}` stands inside a tag or a captured block, where chime cannot fill it in; \
         write it in the template's own text"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(source: &str) -> Result<Body, String> {
        let secrets = BTreeMap::from([("KEY".to_owned(), Secret::token("s3cr3t".into()))]);
        Body::new(source.into(), secrets, &serde_json::json!({"text": "hi"}))
    }

    #[test]
    fn a_name_the_template_writes_is_marked_and_filled_but_one_in_a_value_is_not() {
        let body = body(r#"{"k": "${KEY}", "t": {{ text }}, "p": "$$5"}"#).unwrap();
        let rendered = body
            .render(&serde_json::json!({"text": "hi ${KEY}"}))
            .unwrap();
        assert_eq!(
            rendered.body,
            r#"{"k": "${KEY}", "t": "hi ${KEY}", "p": "$5"}"#
        );
        assert_eq!(
            body.fill(&rendered.body, &rendered.secrets),
            r#"{"k": "s3cr3t", "t": "hi ${KEY}", "p": "$5"}"#
        );
    }

    #[test]
    fn a_name_inside_a_tag_or_a_captured_block_is_refused() {
        for source in [
            r#"{"k": {{ "${KEY}" }}}"#,
            r#"{% if false %}{{ "${KEY}" }}{% endif %}{}"#,
            r#"{% set k %}${KEY}{% endset %}{"k": "{{ k|safe }}"}"#,
        ] {
            let err = body(source).err().expect(source);
            assert!(err.contains("`${KEY}` stands inside"), "{source}: {err}");
        }
    }

    #[test]
    fn a_mark_that_does_not_fit_the_body_is_left_alone() {
        let body = body(r#"{"k": "${KEY}"}"#).unwrap();
        let wrong = [SecretRef {
            at: 3,
            name: "KEY".into(),
        }];
        assert_eq!(
            body.fill(r#"{"k": "${KEY}"}"#, &wrong),
            r#"{"k": "${KEY}"}"#
        );
        let past_the_end = [SecretRef {
            at: 99,
            name: "KEY".into(),
        }];
        assert_eq!(body.fill("{}", &past_the_end), "{}");
    }
}
