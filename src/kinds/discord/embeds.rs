//! A message as Discord embeds: the title, text, fields and links packed, in
//! order, into as few messages as Discord's embed limits allow, each marked
//! with its part when there are several.

use serde_json::{Map, Value, json};

use crate::kinds::text::{cut, split};
use crate::message::{Level, Message};

use super::markup::{code_text, cut_escaped, escape, split_escaped};
use super::{MEASURE, ZERO_WIDTH_SPACE};

/// Limits from PLATFORMS.md §4.1 ("Embed Limits" and the Execute Webhook fields).
const CONTENT_MAX: usize = 2000;
const EMBEDS_MAX: usize = 10;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_PER_EMBED: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
/// Title, descriptions, field names and values and footers of all embeds together.
const EMBEDS_TOTAL_MAX: usize = 6000;
/// Hostnames are short; a bound keeps a strange one from crowding out the text.
const FOOTER_HOST_MAX: usize = 200;
/// " · part 999/999": the room the footer's part marker may take.
const FOOTER_MARKER_ROOM: usize = 16;
/// "```\n" and "\n```" around each part of a code block.
const CODE_FENCES: usize = 8;
/// The link under a label too long to be the link's text.
const OPEN_LINK: &str = "Open link";

/// One piece of the message, in the order it is shown.
enum Unit {
    /// An embed description.
    Text(String),
    /// An embed field: name and value, both within their limits.
    Field(String, String),
}

impl Unit {
    fn size(&self) -> usize {
        match self {
            Unit::Text(text) => MEASURE.of(text),
            Unit::Field(name, value) => MEASURE.of(name) + MEASURE.of(value),
        }
    }
}

#[derive(Default)]
struct Embed {
    description: Option<String>,
    fields: Vec<(String, String)>,
}

/// Renders `message` into one or more payloads, each within Discord's limits.
pub(super) fn payloads(message: &Message) -> Vec<Map<String, Value>> {
    let (headline, title_cut) = headline(message);
    let (footer_host, _) = cut(message.host.trim(), FOOTER_HOST_MAX, MEASURE);
    let overhead = headline.as_deref().map_or(0, |h| MEASURE.of(h))
        + MEASURE.of(&footer_host)
        + FOOTER_MARKER_ROOM;
    let budget = EMBEDS_TOTAL_MAX - overhead;
    // Two descriptions to a message use its 6,000 characters better than one
    // description of 4,096 would.
    let text_max = DESCRIPTION_MAX.min(budget / 2);
    let parts = pack(units(message, title_cut, text_max, budget), budget);
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, embeds)| {
            let marker = (count > 1).then(|| (i + 1, count));
            assemble(message, headline.as_deref(), &footer_host, embeds, marker)
        })
        .collect()
}

/// The first embed's title: the level's emoji and the title, cut to 256 and
/// saying whether it was cut (the whole title then opens the text).
fn headline(message: &Message) -> (Option<String>, bool) {
    let Some(title) = message.title.as_deref().filter(|t| !t.trim().is_empty()) else {
        return (None, false);
    };
    let text = match message.level {
        Level::Info => escape(title),
        level => format!("{} {}", level.emoji(), escape(title)),
    };
    let (text, was_cut) = cut_escaped(&text, TITLE_MAX);
    (Some(text), was_cut)
}

fn units(message: &Message, title_cut: bool, text_max: usize, budget: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let texts = |text: &str| {
        let pieces = split_escaped(text, text_max);
        pieces
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(Unit::Text)
            .collect::<Vec<_>>()
    };
    if title_cut && let Some(title) = &message.title {
        units.extend(texts(&format!("**{}**", escape(title))));
    }
    if message.code {
        let code = code_text(&message.text);
        let pieces = split(&code, text_max - CODE_FENCES, MEASURE);
        let fenced = pieces.into_iter().filter(|p| !p.trim().is_empty());
        units.extend(fenced.map(|p| Unit::Text(format!("```\n{p}\n```"))));
    } else {
        units.extend(texts(&message.text));
    }
    for (key, value) in &message.fields {
        let name = non_blank(escape(key));
        let value = non_blank(escape(value));
        if MEASURE.of(&name) <= FIELD_NAME_MAX && MEASURE.of(&value) <= FIELD_VALUE_MAX {
            units.push(Unit::Field(name, value));
        } else {
            units.extend(texts(&format!("**{name}**\n{value}")));
        }
    }
    units.extend(link_units(
        message,
        text_max,
        text_max.max(DESCRIPTION_MAX.min(budget)),
    ));
    units
}

fn non_blank(text: String) -> String {
    if text.trim().is_empty() {
        ZERO_WIDTH_SPACE.to_string()
    } else {
        text
    }
}

/// Links as markdown, one to a line, never split inside a link: lines are
/// gathered up to `text_max`, and a longer one is a description of its own
/// (up to `whole_max`, what one description in one message can hold). A
/// label too long even for that is written out as text, followed by an
/// "Open link" link to its URL.
fn link_units(message: &Message, text_max: usize, whole_max: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, units: &mut Vec<Unit>| {
        if !current.is_empty() {
            units.push(Unit::Text(std::mem::take(current)));
        }
    };
    for link in &message.links {
        let target = link_target(&link.url);
        let line = format!("[{}]({target})", escape(&link.label));
        let size = MEASURE.of(&line);
        if size > whole_max {
            flush(&mut current, &mut units);
            let label = split_escaped(&escape(&link.label), text_max);
            units.extend(label.into_iter().map(Unit::Text));
            let open = format!("[{OPEN_LINK}]({target})");
            if MEASURE.of(&open) <= whole_max {
                units.push(Unit::Text(open));
            } else {
                // Longer than a description: it can only be text.
                let url = split_escaped(&escape(&link.url), text_max);
                units.extend(url.into_iter().map(Unit::Text));
            }
            continue;
        }
        let sep = usize::from(!current.is_empty());
        if !current.is_empty() && MEASURE.of(&current) + sep + size > text_max {
            flush(&mut current, &mut units);
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    flush(&mut current, &mut units);
    units
}

/// A URL that cannot end the markdown link early.
fn link_target(url: &str) -> String {
    url.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
}

/// Packs units, in order, into messages of at most ten embeds and `budget` characters.
fn pack(units: Vec<Unit>, budget: usize) -> Vec<Vec<Embed>> {
    let mut parts: Vec<Vec<Embed>> = vec![vec![Embed::default()]];
    let mut used = 0;
    for unit in units {
        let size = unit.size();
        let part = parts.last_mut().expect("parts is never empty");
        let last = part.last().expect("a part has an embed");
        let joins_last = match &unit {
            Unit::Text(_) => last.description.is_none() && last.fields.is_empty(),
            Unit::Field(..) => last.fields.len() < FIELDS_PER_EMBED,
        };
        let embeds = part.len() + usize::from(!joins_last);
        let part_is_empty = part.len() == 1 && used == 0;
        let joins_last = if !part_is_empty && (used + size > budget || embeds > EMBEDS_MAX) {
            parts.push(vec![Embed::default()]);
            used = 0;
            true
        } else {
            joins_last
        };
        let part = parts.last_mut().expect("parts is never empty");
        if !joins_last {
            part.push(Embed::default());
        }
        let embed = part.last_mut().expect("a part has an embed");
        match unit {
            Unit::Text(text) => embed.description = Some(text),
            Unit::Field(name, value) => embed.fields.push((name, value)),
        }
        used += size;
    }
    parts
}

fn assemble(
    message: &Message,
    headline: Option<&str>,
    host: &str,
    embeds: Vec<Embed>,
    marker: Option<(usize, usize)>,
) -> Map<String, Value> {
    let count = embeds.len();
    let mut footer = host.to_owned();
    if let Some((part, of)) = marker {
        if !footer.is_empty() {
            footer.push_str(" · ");
        }
        footer.push_str(&format!("part {part}/{of}"));
    }
    let embeds: Vec<Value> = embeds
        .into_iter()
        .enumerate()
        .map(|(i, embed)| {
            let mut json = Map::new();
            if i == 0
                && let Some(title) = headline
            {
                json.insert("title".into(), title.into());
            }
            if let Some(description) = embed.description {
                json.insert("description".into(), description.into());
            }
            if !embed.fields.is_empty() {
                let fields: Vec<Value> = embed
                    .fields
                    .into_iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "inline": false}))
                    .collect();
                json.insert("fields".into(), fields.into());
            }
            json.insert("color".into(), message.level.colour().into());
            if i + 1 == count {
                if !footer.is_empty() {
                    json.insert("footer".into(), json!({"text": footer}));
                }
                let stamp = humantime::format_rfc3339_seconds(message.time).to_string();
                json.insert("timestamp".into(), stamp.into());
            }
            Value::Object(json)
        })
        .collect();
    let mut payload = Map::new();
    if let Some((part, of)) = marker {
        let content = format!("({part}/{of})");
        debug_assert!(MEASURE.of(&content) <= CONTENT_MAX);
        payload.insert("content".into(), content.into());
    }
    payload.insert("embeds".into(), embeds.into());
    // User text must never ping anyone; the webhook default parses user mentions.
    payload.insert("allowed_mentions".into(), json!({"parse": []}));
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: escape(text),
            level: Level::Info,
            fields: vec![],
            links: vec![],
            code: false,
            host: "db1".into(),
            time: SystemTime::UNIX_EPOCH,
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    fn total(embeds: &[Value]) -> usize {
        let len = |v: &Value| v.as_str().map_or(0, |s| MEASURE.of(s));
        embeds
            .iter()
            .map(|e| {
                len(&e["title"])
                    + len(&e["description"])
                    + len(&e["footer"]["text"])
                    + e["fields"].as_array().map_or(0, |fs| {
                        fs.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum()
                    })
            })
            .sum()
    }

    #[test]
    fn long_text_fills_messages_within_every_embed_limit() {
        let text = "word ".repeat(6000);
        let payloads = payloads(&message(&text));
        assert_eq!(payloads.len(), 6);
        for p in &payloads {
            let embeds = p["embeds"].as_array().unwrap();
            assert!(embeds.len() <= EMBEDS_MAX);
            assert!(total(embeds) <= EMBEDS_TOTAL_MAX);
            for e in embeds {
                assert!(MEASURE.of(e["description"].as_str().unwrap()) <= DESCRIPTION_MAX);
            }
        }
        assert_eq!(payloads[0]["content"], "(1/6)");
    }

    #[test]
    fn many_fields_go_25_to_an_embed() {
        let mut m = message("x");
        m.fields = (0..60)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let p = &payloads(&m)[0];
        let sizes: Vec<usize> = p["embeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fields"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![25, 25, 10]);
    }

    #[test]
    fn long_title_is_cut_in_the_embed_title_and_kept_whole_in_the_text() {
        let mut m = message("body");
        m.title = Some("t".repeat(300));
        let p = &payloads(&m)[0];
        let title = p["embeds"][0]["title"].as_str().unwrap();
        assert_eq!(MEASURE.of(title), TITLE_MAX);
        assert_eq!(
            p["embeds"][0]["description"],
            format!("**{}**", "t".repeat(300))
        );
    }

    #[test]
    fn a_link_longer_than_a_description_share_stays_one_whole_link() {
        let mut m = message("x");
        m.title = Some("t".repeat(250));
        let url = format!("https://ci.example/{}", "a".repeat(2980));
        m.links = vec![crate::message::Link {
            label: "l".repeat(300),
            url: url.clone(),
        }];
        let descriptions: Vec<String> = payloads(&m)
            .iter()
            .flat_map(|p| p["embeds"].as_array().unwrap().clone())
            .filter_map(|e| e["description"].as_str().map(str::to_owned))
            .collect();
        let whole = format!("[{}]({url})", "l".repeat(300));
        assert!(descriptions.contains(&whole), "{descriptions:?}");
    }
}
