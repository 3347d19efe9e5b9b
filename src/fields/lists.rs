//! Keys whose value is a list of strings (an email's `to`), read as the
//! other keys are: `${NAME}` expanded, a wrong type reported where it is.

use super::{Fields, Problem};

impl Fields<'_> {
    /// An optional list of plain strings (`to = ["a@x", "b@y"]`), each with
    /// `${NAME}` expanded; a single string is a list of one.
    pub fn strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        let value = self.take(key)?;
        let span = value.span();
        let items = match value.into_inner() {
            toml::Value::Array(items) => items,
            one => vec![one],
        };
        let mut out = Vec::new();
        for item in items {
            let toml::Value::String(s) = item else {
                let message = format!("`{key}` of {} must be a list of strings", self.whose);
                self.problems.push(Problem::new(Some(span), message));
                return None;
            };
            out.push(self.expand(&s, span.clone())?);
        }
        Some(out)
    }
}
