//! Reading one `[destinations.NAME]` table, key by key, for the kind that owns it,
//! and the problems found on the way: located (`diagnostic`), masked where they
//! might show a secret (`redact`), and secret files read within bounds (`files`).
//! Below both the profile (`config`) and the kinds, which each read a table.
//!
//! Each kind takes the keys it understands; whatever is left is an unknown key
//! and reported with a "did you mean". String values expand `${NAME}` from the
//! environment here, once, at load time, so a missing variable is a profile
//! error before anything is sent.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

pub mod diagnostic;
pub mod files;
mod lists;
pub mod redact;

pub use diagnostic::{Problem, suggest};
use files::{ReadError, read_secret};

use crate::secret::Secret;

/// A snapshot of the environment, taken once at start-up.
pub type EnvVars = BTreeMap<String, String>;

pub type Table = BTreeMap<String, Spanned<toml::Value>>;

/// The keys of one destination table, consumed by its kind.
pub struct Fields<'a> {
    pub name: &'a str,
    /// What the table is, as messages name it: "destination `ops`".
    whose: String,
    table: Table,
    span: Range<usize>,
    env: &'a EnvVars,
    problems: &'a mut Vec<Problem>,
    known: Vec<&'static str>,
    /// Where this destination's secrets could be read by other users: a
    /// secret written in the profile itself, or a secret file others may
    /// read (see [`Exposure`]).
    exposed: Vec<Exposure>,
}

/// A secret other users of the machine might read, if its file lets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// Written in the profile, in clear (not `${VAR}`, `{ env }` or `{ file }`).
    InProfile { key: String },
    /// A secret file readable by its group or by everyone.
    File { key: String, path: String },
}

impl<'a> Fields<'a> {
    pub fn new(
        name: &'a str,
        table: Table,
        span: Range<usize>,
        env: &'a EnvVars,
        problems: &'a mut Vec<Problem>,
    ) -> Fields<'a> {
        Fields {
            name,
            whose: format!("destination `{name}`"),
            table,
            span,
            env,
            problems,
            known: Vec::new(),
            exposed: Vec::new(),
        }
    }

    /// The keys of a table that is not a destination's, such as `[state]`,
    /// which messages call `whose`.
    pub fn of_table(
        whose: &str,
        table: Table,
        span: Range<usize>,
        env: &'a EnvVars,
        problems: &'a mut Vec<Problem>,
    ) -> Fields<'a> {
        Fields {
            whose: whose.to_owned(),
            ..Fields::new("", table, span, env, problems)
        }
    }

    /// Records a problem about this destination.
    pub fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Where `key`'s value is in the profile, for a problem found once it
    /// was read.
    pub fn span_of(&self, key: &str) -> Option<Range<usize>> {
        self.table.get(key).map(Spanned::span)
    }

    fn take(&mut self, key: &'static str) -> Option<Spanned<toml::Value>> {
        self.known.push(key);
        self.table.remove(key)
    }

    fn missing(&mut self, key: &str, kind: &str, help: &str) {
        let message = format!("{} (kind {kind}) needs `{key}`", self.whose);
        let span = Some(self.span.clone());
        self.problems
            .push(Problem::new(span, message).help(help.to_owned()));
    }

    /// An optional plain string, with `${NAME}` expanded.
    pub fn string(&mut self, key: &'static str) -> Option<String> {
        let value = self.take(key)?;
        let span = value.span();
        match value.into_inner() {
            toml::Value::String(s) => self.expand(&s, span),
            other => {
                let message = format!(
                    "`{key}` of {} must be a string, not {}",
                    self.whose,
                    other.type_str()
                );
                self.problems.push(Problem::new(Some(span), message));
                None
            }
        }
    }

    /// An optional string with `${NAME}` expanded, and as the profile has it:
    /// the one to use, and the one to show (an expanded value may be a secret).
    pub fn string_as_written(&mut self, key: &'static str) -> Option<(String, String)> {
        let written = match self.table.get(key).map(Spanned::get_ref) {
            Some(toml::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        self.string(key).map(|expanded| (expanded, written))
    }

    /// A required plain string, with `${NAME}` expanded.
    pub fn required_string(&mut self, key: &'static str, kind: &str, help: &str) -> Option<String> {
        if !self.table.contains_key(key) {
            self.missing(key, kind, help);
        }
        self.string(key)
    }

    /// An optional string that may also be written as a whole number, such as
    /// a chat ID: `chat_id = -100123` and `chat_id = "@name"` both read.
    pub fn id(&mut self, key: &'static str) -> Option<String> {
        if let Some(toml::Value::Integer(n)) = self.table.get(key).map(Spanned::get_ref) {
            let n = *n;
            self.take(key);
            return Some(n.to_string());
        }
        self.string(key)
    }

    /// A required [`Fields::id`].
    pub fn required_id(&mut self, key: &'static str, kind: &str, help: &str) -> Option<String> {
        if !self.table.contains_key(key) {
            self.missing(key, kind, help);
        }
        self.id(key)
    }

    /// An optional http(s) URL that is not secret (an API base such as `api_url`).
    pub fn url(&mut self, key: &'static str) -> Option<String> {
        let span = self.table.get(key).map(Spanned::span);
        let url = self.string(key)?;
        self.check_url(key, &url, span).then_some(url)
    }

    /// A required secret URL, such as a webhook: a string, `{ file = … }` or `{ env = … }`.
    pub fn secret_url(&mut self, key: &'static str, kind: &str, help: &str) -> Option<Secret> {
        let span = self.table.get(key).map(Spanned::span);
        let value = self.secret_value(key, kind, help)?;
        self.check_url(key, &value, span)
            .then(|| Secret::url(value))
    }

    /// A required secret token: a string, `{ file = … }` or `{ env = … }`.
    pub fn secret_token(&mut self, key: &'static str, kind: &str, help: &str) -> Option<Secret> {
        self.secret_value(key, kind, help).map(Secret::token)
    }

    /// An optional `true` or `false`.
    pub fn boolean(&mut self, key: &'static str) -> Option<bool> {
        let value = self.take(key)?;
        let span = value.span();
        match value.into_inner() {
            toml::Value::Boolean(b) => Some(b),
            other => {
                let message = format!(
                    "`{key}` of {} must be true or false, not {}",
                    self.whose,
                    other.type_str()
                );
                self.problems.push(Problem::new(Some(span), message));
                None
            }
        }
    }

    /// An optional non-negative whole number, such as a size limit.
    pub fn integer(&mut self, key: &'static str) -> Option<u64> {
        let value = self.take(key)?;
        let span = value.span();
        match value.into_inner() {
            toml::Value::Integer(n) if n >= 0 => u64::try_from(n).ok(),
            _ => {
                let message = format!(
                    "`{key}` of {} must be a whole number of at least 0",
                    self.whose
                );
                self.problems.push(Problem::new(Some(span), message));
                None
            }
        }
    }

    /// An optional table whose values are secrets (HTTP headers that may carry
    /// credentials): each a string, `{ file = … }` or `{ env = … }`.
    pub fn secret_table(&mut self, key: &'static str) -> Vec<(String, Secret)> {
        let Some(value) = self.take(key) else {
            return Vec::new();
        };
        let span = value.span();
        let toml::Value::Table(table) = value.into_inner() else {
            let message = format!(
                "`{key}` of {} must be a table, like {key} = {{ Name = \"value\" }}",
                self.whose
            );
            self.problems.push(Problem::new(Some(span), message));
            return Vec::new();
        };
        let mut entries = Vec::new();
        let before = self.problems.len();
        for (name, raw) in table {
            if let Some(value) = self.secret_from(key, raw, span.clone()) {
                entries.push((name, Secret::token(value)));
            }
        }
        // A snippet would quote the table's line, which may hold other
        // secrets under keys no redaction rule recognises (`Authorization`).
        for problem in &mut self.problems[before..] {
            problem.span = None;
        }
        entries
    }

    /// An optional secret token (or password): absent is fine, present must be well formed.
    pub fn optional_secret_token(&mut self, key: &'static str, kind: &str) -> Option<Secret> {
        if !self.table.contains_key(key) {
            self.known.push(key);
            return None;
        }
        self.secret_token(key, kind, "")
    }

    fn secret_value(&mut self, key: &'static str, kind: &str, help: &str) -> Option<String> {
        let Some(value) = self.take(key) else {
            self.missing(key, kind, help);
            return None;
        };
        let span = value.span();
        self.secret_from(key, value.into_inner(), span)
    }

    fn secret_from(&mut self, key: &str, value: toml::Value, span: Range<usize>) -> Option<String> {
        let raw = match value {
            toml::Value::String(s) => {
                if pieces(&s)
                    .iter()
                    .all(|piece| matches!(piece, Piece::Text(_)))
                {
                    self.exposed.push(Exposure::InProfile {
                        key: key.to_owned(),
                    });
                }
                return self.expand(&s, span);
            }
            toml::Value::Table(t) => t,
            _ => {
                self.problems.push(secret_shape(&self.whose, key, span));
                return None;
            }
        };
        match (raw.get("file"), raw.get("env"), raw.len()) {
            (Some(toml::Value::String(file)), None, 1) => {
                let file = self.expand(file, span.clone())?;
                self.read_secret_file(key, &file, span)
            }
            (None, Some(toml::Value::String(var)), 1) => self.lookup(var, span),
            _ => {
                self.problems.push(secret_shape(&self.whose, key, span));
                None
            }
        }
    }

    fn read_secret_file(&mut self, key: &str, file: &str, span: Range<usize>) -> Option<String> {
        if others_may_read(std::path::Path::new(file)) {
            self.exposed.push(Exposure::File {
                key: key.to_owned(),
                path: file.to_owned(),
            });
        }
        match read_secret(std::path::Path::new(file)) {
            Ok(text) => Some(text.trim_end_matches(['\n', '\r']).to_owned()),
            Err(err) => {
                let message = format!(
                    "cannot read the `{key}` of {} from `{file}`: {err}",
                    self.whose
                );
                let help = match err {
                    ReadError::Io(_) => "check the path and that this user may read the file",
                    _ => "a secret file is a regular file of UTF-8 text, at most 64 KiB",
                };
                self.problems
                    .push(Problem::new(Some(span), message).help(help));
                None
            }
        }
    }

    fn lookup(&mut self, var: &str, span: Range<usize>) -> Option<String> {
        match self.env.get(var) {
            Some(value) if !value.is_empty() => Some(value.clone()),
            found => {
                let state = if found.is_some() {
                    "is empty"
                } else {
                    "is not set"
                };
                let message = format!(
                    "environment variable `{var}` {state} (used by {})",
                    self.whose
                );
                let help =
                    format!("export {var}=… before running chime, or put the value in the profile");
                self.problems
                    .push(Problem::new(Some(span), message).help(help));
                None
            }
        }
    }

    /// Expands every `${NAME}` in `s`; `$$` stands for a literal `$`.
    fn expand(&mut self, s: &str, span: Range<usize>) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        let mut ok = true;
        for piece in pieces(s) {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => match self.lookup(var, span.clone()) {
                    Some(value) => out.push_str(&value),
                    None => ok = false,
                },
            }
        }
        ok.then_some(out)
    }

    /// An optional template that may name secrets as `${NAME}`: its source
    /// as written, and the value of each name in it. Unlike
    /// [`Fields::string`], nothing is expanded here: the kind fills values in
    /// only when it builds a request, so they never land in a payload that is
    /// spooled or shown.
    pub fn template_with_secrets(
        &mut self,
        key: &'static str,
    ) -> Option<(String, BTreeMap<String, Secret>)> {
        let value = self.take(key)?;
        let span = value.span();
        let toml::Value::String(source) = value.into_inner() else {
            let message = format!("`{key}` of {} must be a string", self.whose);
            self.problems.push(Problem::new(Some(span), message));
            return None;
        };
        let mut secrets = BTreeMap::new();
        for piece in pieces(&source) {
            if let Piece::Var(var) = piece
                && let Some(value) = self.lookup(var, span.clone())
            {
                secrets.insert(var.to_owned(), Secret::token(value));
            }
        }
        Some((source, secrets))
    }

    fn check_url(&mut self, key: &str, url: &str, span: Option<Range<usize>>) -> bool {
        match reqwest::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => true,
            // The parse error never quotes the URL, which may be a secret.
            result => {
                let why = result.map_or_else(|e| e.to_string(), |_| "not http or https".into());
                let message = format!(
                    "the `{key}` of {} is not a valid http(s) URL ({why})",
                    self.whose
                );
                self.problems.push(Problem::new(span, message));
                false
            }
        }
    }

    /// Reports every key no kind took, suggesting the closest known one;
    /// gives where the destination's secrets may be exposed.
    pub fn finish(mut self, kind: &str) -> Vec<Exposure> {
        self.unknown_keys(kind, &format!("kind {kind}"));
        self.exposed
    }

    /// Checks the destination as if its `kind` were `guess`, the known kind
    /// closest to the misspelt one, so that one `config check` tells every
    /// mistake rather than one per run; each problem found says so.
    pub fn finish_as_guess(mut self, guess: &str, build: impl FnOnce(&mut Fields<'a>)) {
        let first = self.problems.len();
        build(&mut self);
        let read_as = format!("read as kind `{guess}`");
        for problem in &mut self.problems[first..] {
            problem.message.push_str(&format!(" ({read_as})"));
        }
        self.unknown_keys(guess, &read_as);
    }

    /// `label` says which kind's keys were expected, in the message's parentheses.
    fn unknown_keys(&mut self, kind: &str, label: &str) {
        for (key, value) in std::mem::take(&mut self.table) {
            let mut problem = Problem::new(
                Some(value.span()),
                format!("unknown key `{key}` in {} ({label})", self.whose),
            );
            problem = match suggest(&key, self.known.iter().copied()) {
                Some(close) => problem.help(format!("did you mean `{close}`?")),
                None => problem.help(format!("keys for kind {kind}: {}", self.known.join(", "))),
            };
            self.problems.push(problem);
        }
    }
}

/// Whether a file's group or everyone may read it.
pub fn others_may_read(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o044 != 0)
}

fn secret_shape(whose: &str, key: &str, span: Range<usize>) -> Problem {
    Problem::new(
        Some(span),
        format!(
            "`{key}` of {whose} must be a string, {{ file = \"PATH\" }} or {{ env = \"NAME\" }}"
        ),
    )
}

/// A part of a string that may name environment variables.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'s> {
    /// Text as it stands (`$$` gives a lone `$`).
    Text(&'s str),
    /// `${NAME}`: the name.
    Var(&'s str),
}

/// `s` cut into text and `${NAME}`s; `$$` stands for a literal `$`, and a `$`
/// that starts neither is text.
pub fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push(Piece::Text("$"));
            rest = after;
        } else if let Some(close) = rest.strip_prefix("${").and_then(|r| r.find('}')) {
            out.push(Piece::Var(&rest[2..2 + close]));
            rest = &rest[3 + close..];
        } else {
            out.push(Piece::Text("$"));
            rest = &rest[1..];
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_text_and_names_with_a_doubled_dollar_for_a_dollar() {
        use Piece::{Text, Var};
        assert_eq!(
            pieces("a ${X} $$5 $y ${"),
            vec![
                Text("a "),
                Var("X"),
                Text(" "),
                Text("$"),
                Text("5 "),
                Text("$"),
                Text("y "),
                Text("$"),
                Text("{")
            ]
        );
    }
}
