//! Action buttons (`X-Actions`, `Actions`, `Action`) as ntfy parses and checks them
//! (`server/actions.go`): the JSON form (a value starting with `[`) or the simple one
//! (`http, Approve, https://…, method=POST, body=…, headers.X=…, clear=true; view, …`,
//! values quoted with `"` or `'` when they hold a `,` or `;`), at most three. A refusal is
//! `40018 invalid request: actions invalid; <why>`, the why in ntfy's words.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// `actionsMax`.
const MAX: usize = 3;
const KINDS: [&str; 3] = ["view", "broadcast", "http"];
const WITH_URL: [&str; 2] = ["view", "http"];

/// One action button as ntfy keeps it, and sends it to subscribers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Action {
    pub id: String,
    /// `view`, `broadcast` or `http`, lowercased.
    pub action: String,
    pub label: String,
    /// Clear the notification once the action succeeds.
    pub clear: bool,
    pub url: Option<String>,
    /// Uppercased; empty means the phone app's default, POST.
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub intent: Option<String>,
    pub extras: BTreeMap<String, String>,
}

impl Action {
    /// The action as a message's `actions` shows it (`omitempty` as in `types.go`).
    pub fn json(&self) -> Value {
        let mut shown = json!({"id": self.id, "action": self.action, "label": self.label,
                               "clear": self.clear});
        let optional = [
            ("url", &self.url),
            ("body", &self.body),
            ("intent", &self.intent),
        ];
        for (key, value) in optional {
            if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
                shown[key] = value.as_str().into();
            }
        }
        if !self.method.is_empty() {
            shown["method"] = self.method.as_str().into();
        }
        if !self.headers.is_empty() {
            shown["headers"] = json!(self.headers);
        }
        if !self.extras.is_empty() {
            shown["extras"] = json!(self.extras);
        }
        shown
    }
}

/// `parseActions`: the actions of a header value, or why they are refused.
pub fn parse(value: &str) -> Result<Vec<Action>, String> {
    let value = value.trim();
    let mut actions = if value.starts_with('[') {
        from_json(value)?
    } else {
        Simple {
            input: value,
            pos: 0,
        }
        .parse()?
    };
    for (i, action) in actions.iter_mut().enumerate() {
        action.id = format!("act{i:07}");
        action.action = action.action.to_lowercase();
        action.method = action.method.to_uppercase();
    }
    if actions.len() > MAX {
        return Err(format!("only {MAX} actions allowed"));
    }
    actions.iter().try_for_each(check)?;
    Ok(actions)
}

fn check(action: &Action) -> Result<(), String> {
    let kind = action.action.as_str();
    if !KINDS.contains(&kind) {
        return Err(format!(
            "parameter 'action' cannot be '{kind}', valid values are 'view', 'broadcast' and 'http'"
        ));
    }
    if action.label.is_empty() {
        return Err("parameter 'label' is required".into());
    }
    if WITH_URL.contains(&kind) && action.url.as_deref().unwrap_or_default().is_empty() {
        return Err(format!("parameter 'url' is required for action '{kind}'"));
    }
    let bodiless = matches!(action.method.as_str(), "GET" | "HEAD");
    if kind == "http" && bodiless && action.body.as_deref().is_some_and(|b| !b.is_empty()) {
        return Err(format!(
            "parameter 'body' cannot be set if method is {}",
            action.method
        ));
    }
    Ok(())
}

/// Go's `json.Unmarshal` into `[]*action`: keys matched case-insensitively, unknown ones
/// ignored. Its error texts are Go's and not reproduced: the bed says only "JSON error".
fn from_json(value: &str) -> Result<Vec<Action>, String> {
    let invalid = |why: &dyn std::fmt::Display| format!("JSON error: {why}");
    let parsed: Value = serde_json::from_str(value).map_err(|e| invalid(&e))?;
    let items = parsed.as_array().ok_or_else(|| invalid(&"not an array"))?;
    items
        .iter()
        .map(|item| action_from_json(item).map_err(|e| invalid(&e)))
        .collect()
}

fn action_from_json(item: &Value) -> Result<Action, String> {
    let object = item.as_object().ok_or("an action is not an object")?;
    let mut action = Action::default();
    for (key, value) in object {
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("{key} is not a string"))
        };
        let map = || -> Result<BTreeMap<String, String>, String> {
            let entries = value.as_object().ok_or(format!("{key} is not an object"))?;
            let pair = |(k, v): (&String, &Value)| Some((k.clone(), v.as_str()?.to_owned()));
            entries
                .iter()
                .map(pair)
                .collect::<Option<_>>()
                .ok_or(format!("{key}: not strings"))
        };
        match key.to_ascii_lowercase().as_str() {
            "action" => action.action = text()?,
            "label" => action.label = text()?,
            "clear" => action.clear = value.as_bool().ok_or("clear is not a boolean")?,
            "url" => action.url = Some(text()?),
            "method" => action.method = text()?,
            "body" => action.body = Some(text()?),
            "intent" => action.intent = Some(text()?),
            "headers" => action.headers = map()?,
            "extras" => action.extras = map()?,
            _ => {}
        }
    }
    Ok(action)
}

/// The simple format's parser (`actionParser`), position by position.
struct Simple<'a> {
    input: &'a str,
    pos: usize,
}

impl Simple<'_> {
    fn parse(mut self) -> Result<Vec<Action>, String> {
        let mut actions = vec![];
        while !self.eof() {
            actions.push(self.action()?);
        }
        Ok(actions)
    }

    /// Sections up to a `;` or the end.
    fn action(&mut self) -> Result<Action, String> {
        let mut action = Action::default();
        for section in 0.. {
            let (key, value, last) = self.section()?;
            populate(&mut action, section, &key, value)?;
            self.spaces();
            if last {
                break;
            }
        }
        Ok(action)
    }

    /// One `key=value` or bare value, up to a `,`, a `;` or the end.
    fn section(&mut self) -> Result<(String, String, bool), String> {
        self.spaces();
        let key = self.key();
        let (c, width) = self.peek();
        if is_end(c) {
            self.pos += width;
            return Ok((key, String::new(), is_last(c)));
        }
        if c == Some('"') || c == Some('\'') {
            let (value, last) = self.quoted(c.unwrap())?;
            return Ok((key, value, last));
        }
        let start = self.pos;
        loop {
            let (c, width) = self.peek();
            if is_end(c) {
                let value = self.input[start..self.pos].trim().to_owned();
                self.pos += width;
                return Ok((key, value, is_last(c)));
            }
            self.pos += width;
        }
    }

    /// `actionsKeyRegex`: `^([-.\w]+)\s*=\s*`.
    fn key(&mut self) -> String {
        let rest = &self.input[self.pos..];
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        let name_len: usize = rest
            .chars()
            .take_while(|c| word(*c))
            .map(char::len_utf8)
            .sum();
        let after = &rest[name_len..];
        let trimmed = after.trim_start();
        if name_len == 0 || !trimmed.starts_with('=') {
            return String::new();
        }
        let value_start = trimmed[1..].trim_start();
        self.pos += rest.len() - value_start.len();
        rest[..name_len].to_owned()
    }

    fn quoted(&mut self, quote: char) -> Result<(String, bool), String> {
        self.pos += 1;
        let start = self.pos;
        let mut prev = None;
        loop {
            let (c, width) = self.peek();
            let Some(c) = c else {
                return Err(format!(
                    "unexpected end of input, quote started at position {start}"
                ));
            };
            if c == quote && prev != Some('\\') {
                let escaped = format!("\\{quote}");
                let value = self.input[start..self.pos].replace(&escaped, &quote.to_string());
                self.pos += width;
                self.spaces();
                let (c, width) = self.peek();
                if !is_end(c) {
                    let c = c.unwrap_or_default();
                    return Err(format!(
                        "unexpected character '{c}' at position {}",
                        self.pos
                    ));
                }
                self.pos += width;
                return Ok((value, is_last(c)));
            }
            prev = Some(c);
            self.pos += width;
        }
    }

    fn spaces(&mut self) {
        while let (Some(' ' | '\t' | '\r' | '\n'), width) = self.peek() {
            self.pos += width;
        }
    }

    fn peek(&self) -> (Option<char>, usize) {
        let c = self.input[self.pos..].chars().next();
        (c, c.map_or(0, char::len_utf8))
    }

    fn eof(&self) -> bool {
        self.pos >= self.input.len()
    }
}

fn is_end(c: Option<char>) -> bool {
    matches!(c, None | Some(';' | ','))
}

fn is_last(c: Option<char>) -> bool {
    matches!(c, None | Some(';'))
}

/// `populateAction`: a bare first value is the action, the second the label, the third
/// the URL of a `view` or `http`.
fn populate(action: &mut Action, section: usize, key: &str, value: String) -> Result<(), String> {
    let key = match (key, section) {
        ("", 0) => "action",
        ("", 1) => "label",
        ("", 2) if WITH_URL.contains(&action.action.as_str()) => "url",
        ("", _) => return Err(format!("term '{value}' unknown")),
        (key, _) => key,
    };
    if let Some(name) = key.strip_prefix("headers.") {
        action.headers.insert(name.to_owned(), value);
        return Ok(());
    }
    if let Some(name) = key.strip_prefix("extras.") {
        action.extras.insert(name.to_owned(), value);
        return Ok(());
    }
    match key.to_lowercase().as_str() {
        "action" => action.action = value,
        "label" => action.label = value,
        "clear" => {
            action.clear = match value.to_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => {
                    return Err(format!(
                        "parameter 'clear' cannot be '{value}', only boolean values are allowed (true/yes/1/false/no/0)"
                    ));
                }
            }
        }
        "url" => action.url = Some(value),
        "method" => action.method = value,
        "body" => action.body = Some(value),
        "intent" => action.intent = Some(value),
        _ => return Err(format!("key '{key}' unknown")),
    }
    Ok(())
}
