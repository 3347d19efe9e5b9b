//! Telegram's HTML parse mode: escaping user text, counting the length
//! Telegram counts, and splitting HTML into pieces whose tags balance.

use std::ops::Range;

use crate::kinds::text::{Measure, split};

/// Escapes the three characters Telegram's HTML parse mode reserves (§5.2),
/// and keeps `@name` in user text from becoming a mention that notifies
/// someone: a word joiner after the `@` is invisible but breaks the match.
/// An `@` inside a word, as in an e-mail address, is no mention and stays.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = ' ';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        push_escaped(&mut out, c);
        let word = |c: &char| c.is_alphanumeric() || *c == '_';
        if c == '@' && !word(&previous) && chars.peek().is_some_and(word) {
            out.push('\u{2060}');
        }
        previous = c;
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// The tags Telegram's HTML parse mode takes (§5.2); any other is refused
/// with "Unsupported start tag".
const TAGS: [&str; 16] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// Escapes every `<…>` that is not one of Telegram's [`TAGS`], so markup a
/// template wrote for another platform (Slack's `<!here>`, `<@U123>`) shows
/// as text instead of getting the message refused.
pub(super) fn only_telegram_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('>').filter(|end| !rest[1..*end].contains('<'));
        let known = end.is_some_and(|end| {
            let inner = rest[1..end].strip_prefix('/').unwrap_or(&rest[1..end]);
            let name = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or_default();
            TAGS.contains(&name.to_ascii_lowercase().as_str())
        });
        match end {
            Some(end) if known => {
                out.push_str(&rest[..=end]);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push_str("&lt;");
                rest = &rest[1..];
            }
        }
    }
    out.push_str(&rest.replace('>', "&gt;"));
    out
}

/// What Telegram's parser would say of tags that do not nest (an end tag
/// with no start, or closing another's, or a tag left open); `None` when
/// they do. Entities and attributes are not looked at: chime writes those.
pub(super) fn nesting_error(html: &str) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            return Some("a tag is not closed with `>`".to_owned());
        };
        let inner = &rest[start + 1..start + len];
        rest = &rest[start + len + 1..];
        let Some(name) = inner.strip_prefix('/') else {
            let name = inner.split(char::is_whitespace).next().unwrap_or_default();
            open.push(name.to_ascii_lowercase());
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        match open.pop() {
            Some(top) if top == name => {}
            Some(top) => return Some(format!("`</{name}>` closes `<{top}>`")),
            None => return Some(format!("`</{name}>` has no start tag")),
        }
    }
    open.last()
        .map(|name| format!("`<{name}>` is never closed"))
}

/// Escapes an attribute value, such as a link's URL, which sits between double quotes.
pub(in crate::kinds) fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            c => push_escaped(&mut out, c),
        }
    }
    out
}

/// Splits HTML into pieces of at most `budget` visible UTF-16 units, each with
/// balanced tags.
pub(in crate::kinds) fn chunks(html: &str, budget: usize) -> Vec<String> {
    // Raw length is never less than visible length, so the shared splitter's
    // pieces fit; neighbours are then joined again while they still fit, so
    // escaped text is not split more than it needs.
    let mut ranges: Vec<Range<usize>> = split(html, budget, Measure::Utf16)
        .into_iter()
        .map(|piece| {
            let start = piece.as_ptr() as usize - html.as_ptr() as usize;
            start..start + piece.len()
        })
        .collect();
    // A split inside a tag (`<a href…` has a space) moves to before the tag.
    for i in 1..ranges.len() {
        let piece = &html[ranges[i - 1].clone()];
        if let Some(open) = piece.rfind('<').filter(|at| !piece[*at..].contains('>'))
            && open > 0
        {
            let at = ranges[i - 1].start + open;
            ranges[i - 1].end = at;
            ranges[i].start = at;
        }
    }
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if visible(&html[last.start..range.end]) <= budget => last.end = range.end,
            _ => merged.push(range),
        }
    }
    balance(html, &merged)
}

/// Closes the tags still open at the end of each piece and reopens them at
/// the start of the next.
fn balance(html: &str, ranges: &[Range<usize>]) -> Vec<String> {
    let mut open: Vec<(String, String)> = Vec::new();
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let piece = &html[range.clone()];
        let mut text: String = open.iter().map(|(_, tag)| tag.as_str()).collect();
        text.push_str(piece);
        track_tags(piece, &mut open);
        for (name, _) in open.iter().rev() {
            text.push_str(&format!("</{name}>"));
        }
        out.push(text);
    }
    out
}

/// Updates the stack of open tags (name, opening tag) with the tags in `html`.
fn track_tags(html: &str, open: &mut Vec<(String, String)>) {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            return;
        };
        let tag = &rest[start..=start + len];
        let inner = &tag[1..tag.len() - 1];
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if let Some(at) = open.iter().rposition(|(n, _)| *n == name) {
                open.truncate(at);
            }
        } else {
            let name = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            open.push((name, tag.to_owned()));
        }
        rest = &rest[start + len + 1..];
    }
}

/// The length Telegram counts: text outside tags, entities as the one
/// character they stand for, in UTF-16 units.
pub(in crate::kinds) fn visible(html: &str) -> usize {
    let mut count = 0;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            rest = &rest[end + 1..];
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            count += decoded.len_utf16();
            rest = &rest[len..];
            continue;
        }
        count += c.len_utf16();
        rest = &rest[c.len_utf8()..];
    }
    count
}

/// The character an entity at the start of `s` stands for, and its length.
pub(in crate::kinds) fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.get(..12).unwrap_or(s).find(';')?;
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_that_do_not_nest_are_what_telegram_refuses() {
        assert_eq!(nesting_error("<b>a <i>b</i></b> &lt;c&gt;"), None);
        assert_eq!(
            nesting_error("a</b>").as_deref(),
            Some("`</b>` has no start tag")
        );
        assert_eq!(
            nesting_error("<b><i>x</b></i>").as_deref(),
            Some("`</b>` closes `<i>`")
        );
        assert_eq!(
            nesting_error("<a href=\"x\">x").as_deref(),
            Some("`<a>` is never closed")
        );
    }

    #[test]
    fn visible_length_skips_tags_and_counts_entities_once() {
        // The emoji is two UTF-16 units.
        assert_eq!(visible("<b>a &lt; b</b> &amp; &#128512;"), 10);
        assert_eq!(visible("a & b"), 5);
    }

    #[test]
    fn a_mention_in_user_text_is_broken_but_an_email_address_is_not() {
        assert_eq!(
            escape("ping @durov, mail a@b.example"),
            "ping @\u{2060}durov, mail a@b.example"
        );
        assert_eq!(
            escape_attribute("mailto:a@b?x=\"1\"&y"),
            "mailto:a@b?x=&quot;1&quot;&amp;y"
        );
    }

    #[test]
    fn a_split_inside_template_tags_closes_and_reopens_them() {
        let html = format!("<b>{}</b>", "bold words ".repeat(40));
        let pieces = chunks(&html, 100);
        assert!(pieces.len() > 1);
        for piece in &pieces {
            assert!(
                piece.starts_with("<b>") && piece.ends_with("</b>"),
                "{piece}"
            );
        }
    }

    #[test]
    fn a_split_never_falls_inside_a_tag() {
        let html = format!(
            "{}<a href=\"https://x.example/\">{}</a>",
            "x".repeat(60),
            "y".repeat(30)
        );
        for piece in chunks(&html, 70) {
            assert_eq!(
                piece.matches('<').count(),
                piece.matches('>').count(),
                "{piece}"
            );
        }
    }
}
