//! A message as the text of each `m.room.message` part: `formatted_body`
//! (HTML) and `body` (its plain-text fallback), heading, this part's share
//! of the body, footer, packed so that each part's content fits the
//! homeserver's event size limit.
//!
//! What counts is the content as JSON: every block is measured escaped, both
//! renderings together ([`Block::size`]). A block too big for a part alone
//! is cut at words into pieces that fit, its tags closed and reopened.

use crate::kinds::telegram::html::{chunks, entity, escape_attribute, visible};
use crate::kinds::text::{Measure, cut};
use crate::message::{Level, Message};

use super::escape;

/// The most JSON one part's `body` and `formatted_body` take together. An
/// edit carries them twice (`m.new_content` and the `* ` fallback), and
/// the whole event, signatures and references included, must stay within
/// the spec's 65,536 bytes: 2 × 29,000 leaves 7 KB for the rest.
pub(super) const PART_MAX: usize = 29_000;
/// Room for the part marker, " (9999/9999)", and the separators around the body.
const FRAME: usize = 64;
/// A title longer than this is cut in the heading and kept whole in the body.
const TITLE_MAX: usize = 256;

/// One part's two renderings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text {
    pub html: String,
    pub plain: String,
}

/// What joins a block to the one before it when both land in one part.
#[derive(Clone, Copy, Debug)]
enum Separator {
    Paragraph,
    Line,
}

impl Separator {
    fn html(self) -> &'static str {
        match self {
            Separator::Paragraph => "<br><br>",
            Separator::Line => "<br>",
        }
    }

    fn plain(self) -> &'static str {
        match self {
            Separator::Paragraph => "\n\n",
            Separator::Line => "\n",
        }
    }
}

/// One piece of a message in both renderings; `separator` is `None` for a
/// piece that continues a split block, which starts a part of its own
/// only when it does not fit.
struct Block {
    html: String,
    plain: String,
    separator: Option<Separator>,
}

impl Block {
    /// What the block costs in the content's JSON.
    fn size(&self) -> usize {
        json_len(&self.html) + json_len(&self.plain)
    }
}

/// The length of `text` as a JSON string's contents.
fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6, |s| s.len() - 2)
}

fn emoji(level: Level) -> Option<&'static str> {
    (level != Level::Info).then(|| level.emoji())
}

/// The text of each part: heading, this part's share of the body, footer.
pub(super) fn parts(message: &Message) -> Vec<Text> {
    let (heading, title_cut) = heading(message);
    let host = message.host.trim();
    let footer = Text {
        html: match host {
            "" => String::new(),
            host => format!("<i>{}</i>", escape(host)),
        },
        plain: host.to_owned(),
    };
    let frame = FRAME + Block::size(&block(&heading)) + Block::size(&block(&footer));
    let budget = PART_MAX.saturating_sub(frame);
    let bodies = pack(blocks(message, title_cut, budget), budget);
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut footer = footer.clone();
            if let Some(marker) = crate::kinds::marker(i, count) {
                for text in [&mut footer.html, &mut footer.plain] {
                    text.push_str(if text.is_empty() { "" } else { " " });
                    text.push_str(&marker);
                }
            }
            let pieces = [&heading, &body, &footer];
            Text {
                html: joined(pieces.map(|t| t.html.as_str()), "<br><br>"),
                plain: joined(pieces.map(|t| t.plain.as_str()), "\n\n"),
            }
        })
        .collect()
}

fn block(text: &Text) -> Block {
    Block {
        html: text.html.clone(),
        plain: text.plain.clone(),
        separator: None,
    }
}

fn joined(pieces: [&str; 3], separator: &str) -> String {
    let kept: Vec<&str> = pieces.into_iter().filter(|s| !s.is_empty()).collect();
    kept.join(separator)
}

/// "⚠️ <b>Title</b>", the title cut if it is long; says whether it was cut.
fn heading(message: &Message) -> (Text, bool) {
    let title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let (title, was_cut) = cut(title, TITLE_MAX, Measure::Chars);
    let mut html = Vec::new();
    let mut plain = Vec::new();
    if let Some(emoji) = emoji(message.level) {
        html.push(emoji.to_owned());
        plain.push(emoji.to_owned());
    }
    if !title.is_empty() {
        html.push(format!("<b>{}</b>", escape(&title)));
        plain.push(title);
    }
    let heading = Text {
        html: html.join(" "),
        plain: plain.join(" "),
    };
    (heading, was_cut)
}

/// The body as blocks no larger than `budget`: the whole title when the
/// heading had to cut it, the text, the fields, the links.
fn blocks(message: &Message, title_cut: bool, budget: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let text_block = |piece: &str| (piece.replace('\n', "<br>"), plain(piece));
    if title_cut && let Some(title) = &message.title {
        let title = format!("<b>{}</b>", escape(title.trim()));
        fit(
            &mut blocks,
            &title,
            Separator::Paragraph,
            budget,
            &text_block,
        );
    }
    if !message.text.trim().is_empty() {
        let text = message.text.trim_end();
        if message.code {
            let code = |piece: &str| (format!("<pre><code>{piece}</code></pre>"), plain(piece));
            fit(&mut blocks, text, Separator::Paragraph, budget, &code);
        } else {
            fit(&mut blocks, text, Separator::Paragraph, budget, &text_block);
        }
    }
    for (i, (key, value)) in message.fields.iter().enumerate() {
        let line = format!("<b>{}</b>: {}", escape(key), escape(value));
        fit(&mut blocks, &line, line_separator(i), budget, &text_block);
    }
    for (i, link) in message.links.iter().enumerate() {
        let url = escape_attribute(&link.url);
        let line = format!("<a href=\"{url}\">{}</a>", escape(&link.label));
        let with_url = |piece: &str| (piece.to_owned(), format!("{}: {}", plain(piece), link.url));
        fit(&mut blocks, &line, line_separator(i), budget, &with_url);
    }
    blocks
}

/// A list's first line starts a paragraph; the others follow line by line.
fn line_separator(index: usize) -> Separator {
    if index == 0 {
        Separator::Paragraph
    } else {
        Separator::Line
    }
}

/// Adds `html`, rendered by `render` into its HTML and plain text, as one
/// block, or as pieces of it that each fit `budget`.
fn fit(
    blocks: &mut Vec<Block>,
    html: &str,
    separator: Separator,
    budget: usize,
    render: &dyn Fn(&str) -> (String, String),
) {
    let mut pending = vec![html.to_owned()];
    let mut first = true;
    while let Some(piece) = pending.pop() {
        let (html, plain) = render(&piece);
        let block = Block {
            html,
            plain,
            separator: first.then_some(separator),
        };
        let units = visible(&piece);
        if block.size() <= budget || units < 2 {
            blocks.push(block);
            first = false;
            continue;
        }
        // Pieces sized by what this one costs a unit, with a margin for
        // text denser in escapes than the average; one still too big is cut
        // again. In order: the later ones wait under the first.
        let share = (units as u128 * budget as u128 * 9 / 10 / block.size() as u128) as usize;
        let pieces = chunks(&piece, share.clamp(1, units.div_ceil(2)));
        if pieces.len() < 2 {
            blocks.push(block);
            first = false;
            continue;
        }
        pending.extend(pieces.into_iter().rev());
    }
}

/// Packs blocks, in order, into as few bodies as fit `budget`.
fn pack(blocks: Vec<Block>, budget: usize) -> Vec<Text> {
    let mut bodies = vec![Text {
        html: String::new(),
        plain: String::new(),
    }];
    let mut used = 0;
    for block in blocks {
        let size = block.size();
        let body = bodies.last_mut().expect("bodies is never empty");
        let separator = block.separator.unwrap_or(Separator::Line);
        let cost = size + separator.html().len() + separator.plain().len();
        if body.html.is_empty() && body.plain.is_empty() {
            (body.html, body.plain, used) = (block.html, block.plain, size);
        } else if used + cost <= budget {
            body.html.push_str(separator.html());
            body.html.push_str(&block.html);
            body.plain.push_str(separator.plain());
            body.plain.push_str(&block.plain);
            used += cost;
        } else {
            bodies.push(Text {
                html: block.html,
                plain: block.plain,
            });
            used = size;
        }
    }
    bodies
}

/// The plain text a reader sees of chime's HTML: tags dropped, a `<br>` a
/// line break, entities decoded.
pub(super) fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            let name = rest[1..end].trim_start_matches('/');
            if name.trim_end_matches('/').trim().eq_ignore_ascii_case("br") {
                out.push('\n');
            }
            rest = &rest[end + 1..];
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            out.push(decoded);
            rest = &rest[len..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Link;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: escape(text),
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
    fn a_message_has_an_escaped_bold_title_fields_links_and_the_host_in_both_renderings() {
        let mut m = message("disk <90%\nsoon");
        m.title = Some("Backup <done>".into());
        m.level = Level::Success;
        m.fields = vec![("size".into(), "12 G".into())];
        m.links = vec![Link {
            label: "Logs".into(),
            url: "https://ci.example/?a=1&b=\"2\"".into(),
        }];
        let parts = parts(&m);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            parts[0].html,
            "✅ <b>Backup &lt;done&gt;</b><br><br>disk &lt;90%<br>soon<br><br><b>size</b>: 12 G\
             <br><br><a href=\"https://ci.example/?a=1&amp;b=&quot;2&quot;\">Logs</a><br><br><i>web1</i>"
        );
        assert_eq!(
            parts[0].plain,
            "✅ Backup <done>\n\ndisk <90%\nsoon\n\nsize: 12 G\n\n\
             Logs: https://ci.example/?a=1&b=\"2\"\n\nweb1"
        );
    }

    #[test]
    fn code_goes_in_pre_and_code_and_stays_plain_in_the_body() {
        let mut m = message("fn main() { x < y }\n");
        m.code = true;
        let part = &parts(&m)[0];
        assert!(
            part.html
                .starts_with("<pre><code>fn main() { x &lt; y }</code></pre>"),
            "{}",
            part.html
        );
        assert!(part.plain.starts_with("fn main() { x < y }"));
    }

    #[test]
    fn long_text_splits_into_marked_parts_whose_json_fits() {
        let m = message(&"word <&> \"q\" ".repeat(12_000));
        let parts = parts(&m);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        for (i, part) in parts.iter().enumerate() {
            let size = json_len(&part.html) + json_len(&part.plain);
            assert!(size <= PART_MAX, "part {i}: {size} bytes");
            assert!(
                part.plain
                    .ends_with(&format!("({}/{})", i + 1, parts.len()))
            );
        }
    }

    #[test]
    fn control_characters_count_as_json_escapes_them() {
        let m = message(&"\u{1}".repeat(20_000));
        for part in parts(&m) {
            assert!(json_len(&part.html) + json_len(&part.plain) <= PART_MAX);
        }
    }
}
