//! Parsing a profile so that every mistake in its shape is reported at once,
//! each where it is: the parser is run again on a copy with each mistake it
//! stopped at neutralised, keeping every position.

use std::ops::Range;

use super::validate::RawProfile;
use super::{Problem, suggest};

/// How many shape mistakes one check reports before it gives up on the rest.
const MAX_SHAPE_PROBLEMS: usize = 20;

/// Parses the profile, going on past mistakes in its shape so that every one
/// is reported at once: each mistake the parser stops at is recorded, then
/// neutralised in a copy of the source (an unknown key blanked out, a value of
/// the wrong type replaced by an empty one of the right type), and the copy
/// parsed again. Every edit keeps the byte length, so positions in the copy
/// are positions in the file. What the copy yields is validated too, for the
/// mistakes only a whole profile shows; it is never used to send anything.
/// Gives back the ranges it edited.
pub(super) fn parse(
    source: &str,
    problems: &mut Vec<Problem>,
) -> (Option<RawProfile>, Vec<Range<usize>>) {
    let mut text = source.to_owned();
    let mut repaired = Vec::new();
    for _ in 0..MAX_SHAPE_PROBLEMS {
        let err = match toml::from_str::<RawProfile>(&text) {
            Ok(raw) => return (Some(raw), repaired),
            Err(err) => err,
        };
        // The first failure is always reported; a later one only if the
        // neutralised copy is still well-formed TOML, so no mistake of ours shows.
        if !problems.is_empty() && text.parse::<toml::Table>().is_err() {
            break;
        }
        problems.push(parse_problem(&err));
        match neutralise(&mut text, &err) {
            Some(range) => repaired.push(range),
            None => break,
        }
    }
    (None, repaired)
}

/// Edits `text`, without changing its length, so the parser gets past `err`;
/// gives back the range edited, or `None` when it cannot.
fn neutralise(text: &mut String, err: &toml::de::Error) -> Option<Range<usize>> {
    let span = err
        .span()
        .filter(|s| s.end <= text.len() && text.is_char_boundary(s.start))?;
    let message = err.message();
    let line = line_around(text, span.start);
    if text[line.clone()].trim_start().starts_with('[') {
        // A whole table is wrong (`[rules]` for `[[rules]]`): drop it.
        let end = text[line.end..]
            .find("\n[")
            .map_or(text.len(), |i| line.end + i + 1);
        blank(text, line.start..end);
        return Some(line.start..end);
    }
    if message.starts_with("unknown field") {
        blank(text, line.clone());
        return Some(line);
    }
    let empty = empty_value(message)?;
    // The value and the rest of its line make room for an empty one.
    let after_equals = text[line.start..span.start]
        .rfind('=')
        .map(|i| line.start + i + 1);
    let room = after_equals.map_or(span, |start| start..line.end);
    if empty.len() > room.len() {
        blank(text, line.clone());
        return Some(line);
    }
    let padded = format!("{empty:<width$}", width = room.len());
    text.replace_range(room.clone(), &padded);
    Some(room)
}

/// Whether a problem found in the repaired copy is about a repair: in a
/// value that was replaced, or in a table holding one (an emptied `to` leaves
/// a route that "sends nowhere").
pub(super) fn induced(problem: &Problem, repaired: &[Range<usize>], source: &str) -> bool {
    let Some(span) = &problem.span else {
        return false;
    };
    let header = source
        .get(span.start..)
        .is_some_and(|rest| rest.starts_with('['));
    repaired.iter().any(|range| {
        let inside = span.start < range.end && range.start < span.end.max(span.start + 1);
        let in_table = header
            && range.start > span.start
            && source
                .get(span.start + 1..range.start)
                .is_some_and(|between| !between.contains("\n["));
        inside || in_table
    })
}

/// An empty value of the type a "invalid type: …, expected …" message wants.
fn empty_value(message: &str) -> Option<&'static str> {
    let expected = message.split("expected").nth(1)?;
    [
        ("sequence", "[]"),
        ("string", "\"\""),
        ("map", "{}"),
        ("struct", "{}"),
        ("bool", "false"),
        ("u32", "0"),
        ("u64", "0"),
        ("i64", "0"),
        ("integer", "0"),
    ]
    .iter()
    .find(|(word, _)| expected.contains(word))
    .map(|(_, empty)| *empty)
}

/// The byte range of the line holding `offset`, without its newline.
fn line_around(text: &str, offset: usize) -> std::ops::Range<usize> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    start..end
}

/// Spaces over `range`, newlines kept, so every later offset stays true.
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| match c {
            '\n' => "\n".to_owned(),
            c => " ".repeat(c.len_utf8()),
        })
        .collect();
    text.replace_range(range, &blanked);
}

fn parse_problem(err: &toml::de::Error) -> Problem {
    let message = unquote(err.message().trim());
    let problem = Problem::new(err.span(), message.clone());
    if message.starts_with("invalid type: string") && message.ends_with("expected a sequence") {
        return problem.help("write a list, even of one: to = [\"name\"]");
    }
    if message.starts_with("invalid type: map") && message.ends_with("expected a sequence") {
        return problem.help("each rule is a table of its own: write [[rules]], with two brackets");
    }
    // serde's "unknown field `x`, expected one of `a`, `b`" lists the choices; a
    // typo deserves the one it most likely meant.
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return problem;
    };
    let word = rest.split('`').next().unwrap_or("");
    let choices: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
    match suggest(word, choices) {
        Some(close) => problem.help(format!("did you mean `{close}`?")),
        None => problem,
    }
}

/// serde's "invalid type: string \"…\", expected …" without the string: it
/// is the profile's value, perhaps a webhook URL, and the snippet below the
/// message shows where it is (masked).
fn unquote(message: &str) -> String {
    static QUOTED: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
        regex_lite::Regex::new(
            r#"(invalid (?:type|value): (?:string|character)) (?:"(?:[^"\\]|\\.)*"|`[^`]*`)"#,
        )
        .expect("the pattern is valid")
    });
    QUOTED.replace_all(message, "$1").into_owned()
}
