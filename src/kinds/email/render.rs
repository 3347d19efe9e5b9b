//! One message as one email (RFC 5322, MIME): the subject, a plain-text
//! part and an HTML part (`multipart/alternative`), and the headers that
//! make it recognisable: a `Message-ID` fixed here, once, and for a thread
//! key a `References` root shared by every message under the key.
//!
//! lettre builds the MIME: it encodes non-ASCII headers (RFC 2047) and
//! picks a body's transfer encoding (7bit, quoted-printable, base64) so
//! that no line passes RFC 5322's 998 characters and the message is
//! plain ASCII on the wire, whatever the server supports.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::{Mailbox, MultiPart, header};

use crate::kinds::text::{Measure, cut};
use crate::message::Message;

/// What a subject shows before a mail client cuts it; RFC 5322 §2.1.1
/// asks for lines under 78, which header folding gives a longer one.
const SUBJECT_MAX: usize = 120;

/// `address` as a mailbox: `a@example.com` or `Name <a@example.com>`.
pub fn mailbox(address: &str) -> Result<Mailbox, String> {
    address.trim().parse::<Mailbox>().map_err(|e| e.to_string())
}

/// The bare address of `address`, for the envelope (`MAIL FROM`, `RCPT TO`);
/// as written when it is not one, for the server to refuse.
pub fn address_of(address: &str) -> String {
    match mailbox(address) {
        Ok(mailbox) => mailbox.email.to_string(),
        Err(_) => address.trim().to_owned(),
    }
}

/// What an email is sent to and from.
pub struct Addresses<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
}

/// The whole email, as it goes over `DATA`, and for each of the message's
/// files the line that stands where its bytes go ([`marker`]).
pub fn email(
    message: &Message,
    addresses: &Addresses<'_>,
    thread: Option<&str>,
) -> (String, Vec<String>) {
    let Addresses { from, to, cc } = *addresses;
    let sender = mailbox(from).unwrap_or_else(|_| Mailbox::new(None, fallback_address()));
    let domain = sender.email.domain().to_owned();
    let id = message_id(&domain);
    let (subject, cut_title) = subject(message);
    let mut builder = lettre::Message::builder()
        .from(sender.clone())
        .subject(subject)
        .date(message.time)
        .message_id(Some(id.clone()))
        .user_agent(concat!("chime/", env!("CARGO_PKG_VERSION")).to_owned())
        // RFC 3834: an auto-responder must not answer it (no vacation
        // replies to an alert address).
        .raw_header(header::HeaderValue::new(
            header::HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    // An address that does not parse is left out of the headers; the
    // envelope still names it, and the server's refusal says why.
    for mailbox in to.iter().filter_map(|a| mailbox(a).ok()) {
        builder = builder.to(mailbox);
    }
    for mailbox in cc.iter().filter_map(|a| mailbox(a).ok()) {
        builder = builder.cc(mailbox);
    }
    if let Some(key) = thread {
        let root = thread_root(key, &domain);
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    // The headers' envelope is not what is sent (the payload carries its
    // own); it is set so that a message without a parsable `To` still builds.
    let envelope =
        lettre::address::Envelope::new(Some(sender.email.clone()), vec![sender.email.clone()])
            .expect("a sender and a recipient");
    let title = cut_title.then(|| message.title.as_deref().unwrap_or_default());
    let mut body = MultiPart::alternative_plain_html(text(message, title), html(message, title));
    let mut markers = Vec::new();
    if !message.files.is_empty() {
        body = MultiPart::mixed().multipart(body);
        for (i, file) in message.files.iter().enumerate() {
            let marker = marker(&id, i);
            body = body.singlepart(attachment(file, &marker));
            markers.push(marker);
        }
    }
    let built = builder
        .envelope(envelope)
        .multipart(body)
        .expect("a message with a sender, a date and a body builds");
    (
        String::from_utf8_lossy(&built.formatted()).into_owned(),
        markers,
    )
}

/// The line that stands for file `index`'s base64 in the rendered email
/// until it is sent (`deliver/smtp/` reads the file then, as the HTTP
/// kinds' uploads do, so the spool keeps one copy of it, not two). Unique
/// to the message, so no text of it can be taken for one.
fn marker(message_id: &str, index: usize) -> String {
    let unique = message_id.trim_matches(['<', '>']).replace('@', ".");
    format!("chime-attachment-{index}-{unique}")
}

/// A file as an attachment whose base64 body is still its marker.
fn attachment(file: &crate::kinds::FileRef, marker: &str) -> lettre::message::SinglePart {
    use lettre::message::header::{ContentTransferEncoding, ContentType};
    let content_type = ContentType::parse(file.content_type())
        .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a type"));
    let body = lettre::message::Body::dangerous_pre_encoded(
        marker.as_bytes().to_vec(),
        ContentTransferEncoding::Base64,
    );
    lettre::message::Attachment::new(file.name.clone()).body(body, content_type)
}

/// Where a message from an unparsable `from` says it comes from; the
/// profile check refuses such a `from`, so only a test reaches this.
fn fallback_address() -> lettre::Address {
    "chime@localhost".parse().expect("a valid address")
}

/// "[error] Backup failed": the level first, so an inbox sorts and filters
/// by it; without a title, the text's first line. Whether the title had to
/// be cut (then the body starts with all of it).
fn subject(message: &Message) -> (String, bool) {
    let title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let (line, from_title) = match title {
        "" => (message.text.lines().find(|l| !l.trim().is_empty()), false),
        title => (Some(title), true),
    };
    let line = line.map_or_else(
        || format!("message from {}", message.host),
        |l| l.split_whitespace().collect::<Vec<_>>().join(" "),
    );
    let (shown, was_cut) = cut(&line, SUBJECT_MAX, Measure::Chars);
    let level = message.level.as_str();
    (format!("[{level}] {shown}"), was_cut && from_title)
}

/// `<chime.TIME.RANDOM@DOMAIN>` (RFC 5322 §3.6.4): unique by the time in
/// milliseconds and 64 random bits, under the sender's domain, which is
/// the part of it a reader's server may check.
fn message_id(domain: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let random = crate::kinds::unique::random_u64();
    format!("<chime.{millis:x}.{random:016x}@{domain}>")
}

/// The `Message-ID` every message under thread `key` refers to: the same
/// on every host, since it is made of the key alone, so no state is needed
/// to thread (a reader's client groups messages by their `References`).
fn thread_root(key: &str, domain: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key.as_bytes());
    let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("<chime.thread.{hex}@{domain}>")
}

/// The plain-text part: the (whole) title when the subject cut it, the
/// text, the fields as aligned lines, the links, and the footer after the
/// signature separator "-- ".
fn text(message: &Message, title: Option<&str>) -> String {
    let mut out = String::new();
    let mut block = |text: &str| {
        if !text.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(text);
        }
    };
    block(title.unwrap_or_default());
    block(message.text.trim_end());
    let width = message
        .fields
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let fields: Vec<String> = message
        .fields
        .iter()
        .map(|(k, v)| format!("{:<width$} {}", format!("{k}:"), indent(v, width + 1)))
        .collect();
    block(&fields.join("\n"));
    let links: Vec<String> = message
        .links
        .iter()
        .map(|l| format!("{}: {}", l.label, l.url))
        .collect();
    block(&links.join("\n"));
    out.push_str("\n\n-- \n");
    out.push_str(&footer(message));
    out.push('\n');
    out
}

/// A value's later lines, indented under its first.
fn indent(value: &str, width: usize) -> String {
    value.replace('\n', &format!("\n{}", " ".repeat(width)))
}

/// The HTML part: every user text escaped, the text as paragraphs (or
/// `<pre>` for `--code`), the fields as a table, the links as a list.
fn html(message: &Message, title: Option<&str>) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif\">\n",
    );
    let colour = message.level.colour();
    out.push_str(&format!(
        "<div style=\"border-left: 4px solid #{colour:06x}; padding-left: 12px\">\n"
    ));
    if let Some(title) = title
        .or(message.title.as_deref())
        .filter(|t| !t.trim().is_empty())
    {
        out.push_str(&format!("<h2>{}</h2>\n", escape(title.trim())));
    }
    let text = message.text.trim_end();
    if message.code && !text.is_empty() {
        out.push_str(&format!("<pre>{}</pre>\n", escape(text)));
    } else if !text.is_empty() {
        for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
            out.push_str(&format!("<p>{}</p>\n", lines(paragraph)));
        }
    }
    if !message.fields.is_empty() {
        out.push_str("<table cellpadding=\"4\" style=\"border-collapse: collapse\">\n");
        for (key, value) in &message.fields {
            out.push_str(&format!(
                "<tr><th align=\"left\" valign=\"top\">{}</th><td>{}</td></tr>\n",
                escape(key),
                lines(value)
            ));
        }
        out.push_str("</table>\n");
    }
    if !message.links.is_empty() {
        out.push_str("<ul>\n");
        for link in &message.links {
            out.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                escape(&link.url),
                escape(&link.label)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(&format!(
        "</div>\n<hr>\n<p style=\"color: #666666; font-size: small\">{}</p>\n</body></html>\n",
        escape(&footer(message))
    ));
    out
}

/// "db1 · 2026-12-04T18:00:00Z · org/repo@main · abc1234": where and when
/// it comes from, and the CI run's context.
fn footer(message: &Message) -> String {
    let mut parts = vec![
        message.host.trim().to_owned(),
        humantime::format_rfc3339_seconds(message.time).to_string(),
    ];
    parts.extend(message.context.iter().cloned());
    parts.retain(|p| !p.is_empty());
    parts.join(" · ")
}

/// Escaped, with its line breaks kept.
fn lines(text: &str) -> String {
    escape(text.trim()).replace('\n', "<br>\n")
}

/// HTML-escapes user text, for element content and quoted attributes alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Level;

    fn message(title: Option<&str>, text: &str) -> Message {
        let mut message = Message::of_chime(Level::Error, title.map(str::to_owned), text.into());
        message.host = "db1".into();
        message
    }

    #[test]
    fn the_subject_is_the_level_and_the_title_or_the_first_line() {
        let titled = message(Some("Backup failed"), "disk full");
        assert_eq!(subject(&titled).0, "[error] Backup failed");
        let untitled = message(None, "\n  disk   full on /var\nmore");
        assert_eq!(subject(&untitled).0, "[error] disk full on /var");
        let long = message(None, &"x".repeat(500));
        let (shown, cut_title) = subject(&long);
        assert_eq!(shown.chars().count(), "[error] ".len() + SUBJECT_MAX);
        assert!(!cut_title, "a cut first line is in the text anyway");
    }

    #[test]
    fn user_text_is_escaped_in_the_html_part() {
        let mut m = message(Some("<b>t</b>"), "a < b & \"c\"");
        m.fields.push(("k<".into(), "v>".into()));
        let html = html(&m, None);
        assert!(html.contains("<h2>&lt;b&gt;t&lt;/b&gt;</h2>"), "{html}");
        assert!(html.contains("a &lt; b &amp; &quot;c&quot;"), "{html}");
        assert!(html.contains("<th align=\"left\" valign=\"top\">k&lt;</th><td>v&gt;</td>"));
    }

    #[test]
    fn a_thread_root_depends_on_the_key_alone() {
        assert_eq!(
            thread_root("deploy-42", "x.org"),
            thread_root("deploy-42", "x.org")
        );
        assert_ne!(
            thread_root("deploy-42", "x.org"),
            thread_root("deploy-43", "x.org")
        );
        assert_ne!(message_id("x.org"), message_id("x.org"));
    }
}
