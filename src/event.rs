//! Events: a JSON object on stdin, or `--event NAME`, shown as a titled block
//! of fields rather than as raw JSON.
//!
//! This module owns the reading of such an object (its keys in the order
//! written) and what each key becomes: the `event` key (else `title`, else
//! `name`) the title, a valid `level` the level, a `text` string the text, and
//! every other key a field — scalars as written, nested values as compact
//! JSON, nulls left out. Whether the event is shown at all is the send's
//! call (`commands/send/compose.rs`): a template, when one is in play, shows what it
//! likes, and sees the keys as variables either way.
//!
//! Fields are bounded here, before any kind sees them: an object is data a
//! program wrote, and a log record with hundreds of keys or a stack trace in
//! one would otherwise make a wall of fields, or several messages. The
//! bounds are Discord's (25 fields an embed, 256 characters a name, 1,024 a
//! value), the tightest of the kinds that show fields side by side.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::message::Level;

/// The most fields an event shows; past it, the last says how many are left out.
pub const MAX_FIELDS: usize = 25;
/// The longest field name shown, in characters.
pub const MAX_KEY: usize = 256;
/// The longest field value shown, in characters.
pub const MAX_VALUE: usize = 1024;

/// The keys that may name an event, first found wins.
const TITLE_KEYS: [&str; 3] = ["event", "title", "name"];

/// A JSON object's keys and values, in the order written (serde_json's own
/// map sorts them, and a reader expects the fields in the order the
/// program wrote them). Nested objects keep serde_json's order.
#[derive(Debug, Default, PartialEq)]
pub struct Object(pub Vec<(String, Value)>);

/// What an event shows, once a send decides to show it as one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub title: Option<String>,
    /// In the object's order, bounded (see [`MAX_FIELDS`]).
    pub fields: Vec<(String, String)>,
    /// Whether the message's text is the input's: `--event`'s TEXT, or the
    /// object's `text` string. Without one, the raw JSON is not shown.
    pub has_text: bool,
}

impl Object {
    /// `text` as an object when, trimmed, it is one; `None` for anything
    /// else (a log line that starts with `{` and is not JSON goes as text).
    pub fn parse(text: &str) -> Option<Object> {
        let trimmed = text.trim();
        if !trimmed.starts_with('{') {
            return None;
        }
        serde_json::from_str(trimmed).ok()
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn string(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Its `text` key, when that is a string.
    pub fn text(&self) -> Option<&str> {
        self.string("text")
    }

    /// Its `level` key, when that names a level.
    pub fn level(&self) -> Option<Level> {
        self.string("level").and_then(Level::parse)
    }

    /// The object as serde_json's map, for the template variables.
    pub fn into_map(self) -> serde_json::Map<String, Value> {
        self.0.into_iter().collect()
    }

    /// What the object shows as an event; `None` when it would show nothing
    /// (`{}`, or only nulls), which then goes as text.
    pub fn event(&self) -> Option<Event> {
        let title_key = TITLE_KEYS
            .into_iter()
            .find(|key| self.string(key).is_some_and(|t| !t.trim().is_empty()));
        let level_used = self.level().is_some();
        let has_text = self.text().is_some();
        let shown = self.0.iter().filter(|(key, value)| {
            let used = Some(key.as_str()) == title_key
                || (key == "level" && level_used)
                || (key == "text" && has_text);
            !used && !value.is_null()
        });
        let fields: Vec<(String, String)> = shown
            .map(|(key, value)| (key.clone(), shown_value(value)))
            .collect();
        let event = Event {
            title: title_key
                .and_then(|key| self.string(key))
                .map(str::to_owned),
            fields: bounded(fields),
            has_text,
        };
        let empty = event.title.is_none() && event.fields.is_empty() && !has_text;
        (!empty).then_some(event)
    }
}

impl Event {
    /// `--event NAME`: the name is the title; TEXT and `-f` say the rest.
    pub fn named(name: &str) -> Event {
        Event {
            title: Some(name.to_owned()),
            fields: Vec::new(),
            has_text: true,
        }
    }
}

/// A scalar as written (a string without its quotes), anything else as compact JSON.
fn shown_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `fields` within [`MAX_FIELDS`], each name and value cut to its bound.
fn bounded(mut fields: Vec<(String, String)>) -> Vec<(String, String)> {
    if fields.len() > MAX_FIELDS {
        let left_out = fields.len() - (MAX_FIELDS - 1);
        fields.truncate(MAX_FIELDS - 1);
        fields.push(("…".into(), format!("{left_out} more keys not shown")));
    }
    fields
        .into_iter()
        .map(|(key, value)| (cut(key, MAX_KEY), cut(value, MAX_VALUE)))
        .collect()
}

/// `text` within `max` characters, the last one an ellipsis when it was cut.
fn cut(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some(_) => {
            let end = text.char_indices().nth(max - 1).map_or(0, |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        deserializer.deserialize_map(InOrder)
    }
}

struct InOrder;

impl<'de> Visitor<'de> for InOrder {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut pairs: Vec<(String, Value)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            // A key given twice keeps its first place and its last value, as
            // serde_json's map (and so the template variables) has it.
            match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some(pair) => pair.1 = value,
                None => pairs.push((key, value)),
            }
        }
        Ok(Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Option<Event> {
        Object::parse(json).and_then(|o| o.event())
    }

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_event_key_is_the_title_and_the_rest_fields_in_order() {
        let shown =
            event(r#"{"event":"user.signed_up","plan":"pro","email":"ada@acme.com"}"#).unwrap();
        assert_eq!(shown.title.as_deref(), Some("user.signed_up"));
        assert_eq!(
            shown.fields,
            pairs(&[("plan", "pro"), ("email", "ada@acme.com")])
        );
        assert!(!shown.has_text);
    }

    #[test]
    fn title_then_name_stand_in_for_a_missing_event_key() {
        let shown = event(r#"{"name":"n","title":"t"}"#).unwrap();
        assert_eq!(shown.title.as_deref(), Some("t"));
        assert_eq!(shown.fields, pairs(&[("name", "n")]));
        let shown = event(r#"{"name":"n","event":7}"#).unwrap();
        assert_eq!(shown.title.as_deref(), Some("n"));
        assert_eq!(shown.fields, pairs(&[("event", "7")]));
    }

    #[test]
    fn scalars_are_written_plain_and_nested_values_as_compact_json() {
        let shown = event(r#"{"n": 3, "ok": true, "x": null, "tags": ["a", "b"], "u": {"id": 1}}"#)
            .unwrap();
        assert_eq!(
            shown.fields,
            pairs(&[
                ("n", "3"),
                ("ok", "true"),
                ("tags", r#"["a","b"]"#),
                ("u", r#"{"id":1}"#)
            ])
        );
    }

    #[test]
    fn a_valid_level_and_a_text_string_are_not_fields() {
        let object = Object::parse(r#"{"level":"error","text":"hi","level2":"x"}"#).unwrap();
        assert_eq!(object.level(), Some(Level::Error));
        let shown = object.event().unwrap();
        assert!(shown.has_text);
        assert_eq!(shown.fields, pairs(&[("level2", "x")]));
        let shown = event(r#"{"level":"loud"}"#).unwrap();
        assert_eq!(shown.fields, pairs(&[("level", "loud")]));
    }

    #[test]
    fn what_is_not_an_object_or_shows_nothing_is_no_event() {
        for text in [
            "{oops} disk full",
            "[1,2]",
            "\"{\"",
            "{}",
            r#"{"a":null}"#,
            "plain",
        ] {
            assert_eq!(event(text), None, "{text}");
        }
        assert!(event("  {\"a\":1}\n").is_some());
    }

    #[test]
    fn fields_are_bounded_in_number_and_length() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let shown = event(&format!("{{{}}}", keys.join(","))).unwrap();
        assert_eq!(shown.fields.len(), MAX_FIELDS);
        assert_eq!(shown.fields[MAX_FIELDS - 1].1, "16 more keys not shown");
        let long = "é".repeat(MAX_VALUE + 10);
        let shown = event(&format!("{{\"v\":\"{long}\"}}")).unwrap();
        let value = &shown.fields[0].1;
        assert_eq!(value.chars().count(), MAX_VALUE);
        assert!(value.ends_with('…'));
    }

    #[test]
    fn a_key_given_twice_keeps_its_place_and_last_value() {
        let object = Object::parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(
            object.0,
            vec![("a".into(), Value::from(3)), ("b".into(), Value::from(2))]
        );
    }
}
