//! One message standing for many held ones: "37 more in the last 5 min",
//! then a line per message (its time, level, title and first line), oldest
//! first. The destination's kind splits it like any long message.

use std::time::Duration;

use jiff::tz::TimeZone;

use crate::clock;
use crate::message::{Level, Message};
use crate::spool::{Heading, Note};

/// The digest of `notes` (oldest first, at least one), its text escaped by
/// `escape` for the destination's markup.
pub fn digest(notes: &[&Note], escape: &dyn Fn(&str) -> String) -> Message {
    let zone = clock::local();
    let level = notes.iter().map(|n| n.level).max().unwrap_or_default();
    let lines: Vec<String> = notes.iter().map(|note| line(note, &zone)).collect();
    Message::of_chime(level, Some(heading(notes)), escape(&lines.join("\n")))
}

/// "37 more in the last 5 min", "12 messages in the last 1 h", "9 messages
/// during quiet hours (22:00-07:00)".
fn heading(notes: &[&Note]) -> String {
    let count = notes.len();
    let messages = if count == 1 { "message" } else { "messages" };
    let span = |secs: u64| clock::span(Duration::from_secs(secs));
    match &notes[0].heading {
        Heading::Limit { secs } => format!("{count} more in the last {}", span(*secs)),
        Heading::Interval { secs } => format!("{count} {messages} in the last {}", span(*secs)),
        Heading::Quiet { hours } => format!("{count} {messages} during quiet hours ({hours})"),
    }
}

/// `10:42  warning  disk full: /var is at 97%`.
fn line(note: &Note, zone: &TimeZone) -> String {
    let time = clock::clock_time(note.at, zone);
    let what = match (&note.title, note.line.is_empty()) {
        (Some(title), false) => format!("{title}: {}", note.line),
        (Some(title), true) => title.clone(),
        (None, _) => note.line.clone(),
    };
    format!("{time}  {}  {what}", note.level.as_str())
}

/// What a digest says of a message: its first line, cut at `MAX_LINE` characters.
pub fn note_line(text: &str) -> String {
    const MAX_LINE: usize = 200;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match first.char_indices().nth(MAX_LINE) {
        Some((cut, _)) => format!("{}…", &first[..cut]),
        None => first.to_owned(),
    }
}

/// A note of a message held for a digest.
pub fn note(
    title: Option<&str>,
    level: Level,
    text: &str,
    channel: Option<&str>,
    heading: Heading,
) -> Note {
    Note {
        title: title.map(str::to_owned),
        level,
        line: note_line(text),
        at: clock::now(),
        channel: channel.map(str::to_owned),
        heading,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_headed_by_its_count_and_lists_each_message() {
        let notes: Vec<Note> = (0..3)
            .map(|i| {
                note(
                    Some(&format!("check {i}")),
                    if i == 2 { Level::Error } else { Level::Warning },
                    "failed\nmore",
                    None,
                    Heading::Limit { secs: 300 },
                )
            })
            .collect();
        let refs: Vec<&Note> = notes.iter().collect();
        let message = digest(&refs, &|s| s.to_owned());
        assert_eq!(message.title.as_deref(), Some("3 more in the last 5 min"));
        assert_eq!(message.level, Level::Error);
        assert_eq!(message.text.lines().count(), 3);
        assert!(
            message.text.contains("warning  check 0: failed"),
            "{}",
            message.text
        );
    }

    #[test]
    fn a_note_keeps_the_first_line_cut_short() {
        assert_eq!(note_line("\n  \nfirst\nsecond"), "first");
        assert_eq!(note_line(&"x".repeat(300)).chars().count(), 201);
    }
}
