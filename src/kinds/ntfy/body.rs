//! ntfy's bodies: the message as plain text, or as Markdown with user text
//! escaped, cut into messages of at most [`BODY_MAX`] bytes each.

use crate::kinds::markdown::Markdown;
use crate::kinds::text::{Block, Measure, longest_run, pack_blocks, split};
use crate::message::Message;

use super::{BODY_MAX, HARD_BREAK, link_target};

/// Escapes what CommonMark would read as markup, with backslashes: inline
/// markers everywhere, block markers (`#`, `-`, `1.`) where they start a line.
const MARKDOWN: Markdown = Markdown {
    entities: &[],
    inline: &['\\', '`', '*', '_', '~', '[', ']', '<', '>', '&', '|'],
    line_start: &['#', '-', '+', '='],
    after_number: &['.', ')'],
    tab_indents: true,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// Undoes [`escape`], for text shown in a code block, where a backslash is literal.
pub(super) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.next_if(|next| c == '\\' && next.is_ascii_punctuation()) {
            Some(escaped) => out.push(escaped),
            None => out.push(c),
        }
    }
    out
}

/// The bodies, in order, each at most [`BODY_MAX`] bytes; `title` is the
/// whole title when the title header could only show the start of it.
pub(super) fn bodies(message: &Message, markdown: bool, title: Option<&str>) -> Vec<String> {
    if !markdown {
        return plain_bodies(message, title);
    }
    let mut blocks: Vec<Block> = Vec::new();
    if let Some(title) = title {
        let title = format!("**{}**", escape(title).replace('\n', HARD_BREAK));
        add(&mut blocks, &title, "\n\n", pieces);
    }
    if !message.text.trim().is_empty() {
        if message.code {
            let code = unescape(&message.text);
            // A fence longer than any run of backticks inside cannot be closed early.
            let fence = "`".repeat(longest_run(&code, '`').max(2) + 1);
            let room = BODY_MAX - 2 * (fence.len() + 1);
            for (i, piece) in pieces(&code, room).into_iter().enumerate() {
                let block = format!("{fence}\n{piece}\n{fence}");
                blocks.push((block, (i == 0).then_some("\n\n")));
            }
        } else {
            add(
                &mut blocks,
                &message.text.replace('\n', HARD_BREAK),
                "\n\n",
                pieces,
            );
        }
    }
    for (i, (key, value)) in message.fields.iter().enumerate() {
        let value = escape(value).replace('\n', HARD_BREAK);
        let line = format!("- **{}**: {value}", escape(key));
        add(&mut blocks, &line, list_separator(i), pieces);
    }
    for (i, link) in message.links.iter().enumerate() {
        let line = format!("- [{}]({})", escape(&link.label), link_target(&link.url));
        add(&mut blocks, &line, list_separator(i), pieces);
    }
    pack_blocks(blocks, BODY_MAX)
}

/// The text as written, then a line per field and per link.
pub(super) fn plain_bodies(message: &Message, title: Option<&str>) -> Vec<String> {
    let mut blocks: Vec<Block> = Vec::new();
    if let Some(title) = title {
        add(&mut blocks, title, "\n\n", plain_pieces);
    }
    if !message.text.trim().is_empty() {
        add(&mut blocks, &message.text, "\n\n", plain_pieces);
    }
    let fields = message.fields.iter().map(|(k, v)| format!("{k}: {v}"));
    let links = message
        .links
        .iter()
        .map(|l| format!("{}: {}", l.label, l.url));
    for (i, line) in fields.enumerate() {
        add(&mut blocks, &line, list_separator(i), plain_pieces);
    }
    for (i, line) in links.enumerate() {
        add(&mut blocks, &line, list_separator(i), plain_pieces);
    }
    pack_blocks(blocks, BODY_MAX)
}

/// A list starts after a blank line; its items follow one per line.
pub(super) fn list_separator(index: usize) -> &'static str {
    if index == 0 { "\n\n" } else { "\n" }
}

pub(super) fn add(
    blocks: &mut Vec<Block>,
    text: &str,
    separator: &'static str,
    split: fn(&str, usize) -> Vec<String>,
) {
    for (i, piece) in split(text, BODY_MAX).into_iter().enumerate() {
        blocks.push((piece, (i == 0).then_some(separator)));
    }
}

pub(super) fn plain_pieces(text: &str, max: usize) -> Vec<String> {
    split(text, max, Measure::Bytes)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Splits by bytes, never leaving an escaping backslash at the end of a piece,
/// where it would escape nothing and its character would lose it.
pub(super) fn pieces(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut carry = String::new();
    for piece in split(text, max - 1, Measure::Bytes) {
        let mut piece = std::mem::take(&mut carry) + piece;
        if longest_run(&piece[piece.trim_end_matches('\\').len()..], '\\') % 2 == 1 {
            piece.pop();
            carry.push('\\');
        }
        out.push(piece);
    }
    if !carry.is_empty() {
        out.push(carry);
    }
    out
}
