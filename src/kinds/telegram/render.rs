//! A message as the text of each part: heading, this part's share of the
//! body, footer, packed to fit Telegram's two limits.

use crate::kinds::text::{Measure, cut};
use crate::message::{Level, Message};

use super::html::{chunks, escape, escape_attribute, only_telegram_tags, visible};

/// "1-4096 characters after entities parsing" (§5.1).
const TEXT_MAX: usize = 4096;
/// "Text is too long": the Bot API's limit on the raw HTML, before parsing (§5.1).
const RAW_MAX: usize = 32_768;
/// Room for the part marker, " (99/99)", and a margin.
const MARKER_ROOM: usize = 12;
/// A title longer than this is cut in the heading and kept whole in the text.
const TITLE_MAX: usize = 256;
/// The blank line between heading, body and footer.
const PARAGRAPH: &str = "\n\n";

fn emoji(level: Level) -> Option<&'static str> {
    (level != Level::Info).then(|| level.emoji())
}

/// One piece of a message, with what separates it from the piece before it
/// when both land in the same message; `None` starts a new message, as the
/// continuation of a split does.
struct Block {
    html: String,
    separator: Option<&'static str>,
}

/// The text of each message: heading, this part's share of the body, footer.
pub(super) fn parts(message: &Message) -> Vec<String> {
    let (heading, title_cut) = heading(message);
    let footer = match message.host.trim() {
        "" => String::new(),
        host => format!("<i>{}</i>", escape(host)),
    };
    let frame = 2 * PARAGRAPH.len() + MARKER_ROOM;
    let budget = Budget {
        visible: TEXT_MAX - visible(&heading) - visible(&footer) - frame,
        raw: RAW_MAX - heading.len() - footer.len() - frame,
    };
    let bodies = pack(blocks(message, title_cut, budget.visible), budget);
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let marker = crate::kinds::marker(i, count);
            let footer = match (&marker, footer.is_empty()) {
                (Some(marker), true) => marker.clone(),
                (Some(marker), false) => format!("{footer} {marker}"),
                (None, _) => footer.clone(),
            };
            [heading.as_str(), body.as_str(), footer.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(PARAGRAPH)
        })
        .collect()
}

/// "⚠️ <b>Title</b>", the title cut if it is long; says whether it was cut.
fn heading(message: &Message) -> (String, bool) {
    let title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let (title, was_cut) = cut(title, TITLE_MAX, Measure::Utf16);
    let title = (!title.is_empty()).then(|| format!("<b>{}</b>", escape(&title)));
    let heading = match (emoji(message.level), title) {
        (Some(emoji), Some(title)) => format!("{emoji} {title}"),
        (Some(emoji), None) => emoji.to_owned(),
        (None, Some(title)) => title,
        (None, None) => String::new(),
    };
    (heading, was_cut)
}

/// The body as blocks no larger than `budget`: the whole title when the
/// heading had to cut it, the text, the fields, the links.
fn blocks(message: &Message, title_cut: bool, budget: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    if title_cut && let Some(title) = &message.title {
        let title = format!("<b>{}</b>", escape(title.trim()));
        add(&mut blocks, &title, PARAGRAPH, budget);
    }
    if !message.text.trim().is_empty() {
        let text = only_telegram_tags(&message.text);
        if message.code {
            // Split first, then wrap each piece, so every part has a whole <pre>.
            for (i, chunk) in chunks(&text, budget).into_iter().enumerate() {
                blocks.push(Block {
                    html: format!("<pre>{chunk}</pre>"),
                    separator: (i == 0).then_some(PARAGRAPH),
                });
            }
        } else {
            add(&mut blocks, &text, PARAGRAPH, budget);
        }
    }
    let fields = message
        .fields
        .iter()
        .map(|(key, value)| format!("<b>{}</b>: {}", escape(key), escape(value)));
    add_lines(&mut blocks, fields, budget);
    let links = message.links.iter().map(|link| {
        format!(
            "<a href=\"{}\">{}</a>",
            escape_attribute(&link.url),
            escape(&link.label)
        )
    });
    add_lines(&mut blocks, links, budget);
    blocks
}

/// Adds a paragraph of lines, each as blocks of at most `budget`.
fn add_lines(blocks: &mut Vec<Block>, lines: impl Iterator<Item = String>, budget: usize) {
    for (i, line) in lines.enumerate() {
        add(blocks, &line, if i == 0 { PARAGRAPH } else { "\n" }, budget);
    }
}

/// Adds `html` as blocks of at most `budget`, after `separator`.
fn add(blocks: &mut Vec<Block>, html: &str, separator: &'static str, budget: usize) {
    for (i, chunk) in chunks(html, budget).into_iter().enumerate() {
        blocks.push(Block {
            html: chunk,
            separator: (i == 0).then_some(separator),
        });
    }
}

/// What one part's body may hold: visible UTF-16 units, and raw HTML bytes.
#[derive(Clone, Copy)]
struct Budget {
    visible: usize,
    raw: usize,
}

/// Packs blocks, in order, into as few bodies as fit the budget. A block is
/// at most `budget.visible` already; its raw HTML, at most a few bytes per
/// visible unit plus its link's URL, always fits `budget.raw` alone.
fn pack(blocks: Vec<Block>, budget: Budget) -> Vec<String> {
    let mut bodies = vec![String::new()];
    let mut used = 0;
    for block in blocks {
        let size = visible(&block.html);
        let body = bodies.last_mut().expect("bodies is never empty");
        let fits = block.separator.filter(|sep| {
            used + sep.len() + size <= budget.visible
                && body.len() + sep.len() + block.html.len() <= budget.raw
        });
        if body.is_empty() {
            body.push_str(&block.html);
            used = size;
        } else if let Some(separator) = fits {
            body.push_str(separator);
            body.push_str(&block.html);
            used += separator.len() + size;
        } else {
            bodies.push(block.html);
            used = size;
        }
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Link;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: text.to_owned(),
            level: Level::Info,
            fields: vec![],
            links: vec![],
            code: false,
            host: "web1".into(),
            time: SystemTime::UNIX_EPOCH,
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    #[test]
    fn a_message_has_a_bold_title_fields_links_and_the_host() {
        let mut m = message("disk &lt;90%");
        m.title = Some("Backup <done>".into());
        m.level = Level::Success;
        m.fields = vec![("size".into(), "12 G".into())];
        m.links = vec![Link {
            label: "Logs".into(),
            url: "https://ci.example/?a=1&b=\"2\"".into(),
        }];
        assert_eq!(
            parts(&m),
            vec![
                "✅ <b>Backup &lt;done&gt;</b>\n\ndisk &lt;90%\n\n<b>size</b>: 12 G\n\n\
                 <a href=\"https://ci.example/?a=1&amp;b=&quot;2&quot;\">Logs</a>\n\n<i>web1</i>"
            ]
        );
    }

    #[test]
    fn escaped_text_counts_once_per_entity_so_it_is_not_split_early() {
        let m = message(&"&lt;".repeat(4000));
        assert_eq!(parts(&m).len(), 1);
    }

    #[test]
    fn many_long_links_split_before_the_raw_html_limit() {
        let mut m = message("x");
        let url = format!("https://example.com/{}", "a".repeat(1900));
        m.links = (0..20)
            .map(|i| crate::message::Link {
                label: format!("link {i}"),
                url: url.clone(),
            })
            .collect();
        let parts = parts(&m);
        assert!(parts.len() >= 2, "{} parts", parts.len());
        for part in &parts {
            assert!(part.len() <= RAW_MAX, "{} bytes", part.len());
        }
        let links: usize = parts.iter().map(|p| p.matches("<a href").count()).sum();
        assert_eq!(links, 20, "every link in some part");
    }

    #[test]
    fn long_text_splits_into_parts_within_the_limit() {
        let m = message(&"word ".repeat(3000));
        let parts = parts(&m);
        assert_eq!(parts.len(), 4);
        for (i, part) in parts.iter().enumerate() {
            assert!(visible(part) <= TEXT_MAX);
            assert!(part.ends_with(&format!("({}/4)", i + 1)), "{part}");
        }
    }

    #[test]
    fn a_long_title_is_cut_in_the_heading_and_kept_whole_in_the_text() {
        let mut m = message("body");
        m.title = Some("t".repeat(300));
        let part = &parts(&m)[0];
        assert!(
            part.starts_with(&format!("<b>{}…</b>", "t".repeat(255))),
            "{part}"
        );
        assert!(part.contains(&format!("<b>{}</b>", "t".repeat(300))));
    }
}
