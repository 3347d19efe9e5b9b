//! What a send does with its `--file`s before anything goes out: each
//! destination that carries files gets them, within its limit, or the send
//! stops (exit 65, nothing sent); one that carries none gets a line naming
//! each file and its size, said once on stderr; and a send whose files no
//! destination can carry is a usage error, since the files were its point.

use crate::config::Destination;
use crate::exit::{ExitCode, Failure};
use crate::kinds::FileRef;
use crate::kinds::files::human_size;
use crate::message::Message;

/// Refuses files that none of `destinations` can carry.
pub fn someone_carries(files: &[FileRef], destinations: &[&Destination]) -> Result<(), Failure> {
    if files.is_empty() || destinations.iter().any(|d| d.file_limit().is_some()) {
        return Ok(());
    }
    let names: Vec<String> = destinations
        .iter()
        .map(|d| format!("{} ({})", d.name, d.platform.kind()))
        .collect();
    Err(Failure::usage(format!(
        "--file: {} cannot carry files (incoming webhooks take text only), so nothing was sent",
        names.join(", ")
    ))
    .with_hint(
        "send through a kind that takes files (slack-api with files:write, discord, telegram, \
         ntfy, webhook), or drop --file to send the text alone",
    ))
}

/// Refuses a file over `destination`'s limit, before any request is made.
pub fn within_limit(files: &[FileRef], destination: &Destination) -> Result<(), Failure> {
    let Some(limit) = destination.file_limit() else {
        return Ok(());
    };
    let Some(big) = files.iter().find(|f| f.size > limit) else {
        return Ok(());
    };
    let whose = match destination.max_file_size {
        Some(_) => format!("the max_file_size of `{}`", destination.name),
        None => format!("what {} takes", destination.platform.kind()),
    };
    Err(Failure::new(
        ExitCode::Rejected,
        format!(
            "{} is {}, over the {} that is {whose}; nothing was sent",
            big.name,
            human_size(big.size),
            human_size(limit)
        ),
    )
    .with_hint(format!(
        "compress or cut it; if `{}`'s server takes more, set max_file_size on it",
        destination.name
    )))
}

/// For a destination that carries no files: the message names them in its
/// text instead, and the files stay behind.
pub fn name_in_text(message: &mut Message, destination: &Destination) {
    if message.files.is_empty() || destination.file_limit().is_some() {
        return;
    }
    let platform = &destination.platform;
    for file in std::mem::take(&mut message.files) {
        let line = format!("📎 {} (not attached)", file.described());
        message
            .text
            .push_str(&platform.escape(&format!("\n{line}")));
    }
}

/// For a destination that cannot attach a file by its URL: the file is a link.
pub fn urls_as_links(message: &mut Message, destination: &Destination) {
    if !destination.platform.attaches_urls() {
        let urls = std::mem::take(&mut message.file_urls);
        message.links.extend(urls);
    }
}

/// The warning for a destination whose message only names its files.
pub fn not_attached(destination: &Destination, files: &[FileRef]) -> Option<String> {
    if files.is_empty() || destination.file_limit().is_some() {
        return None;
    }
    Some(format!(
        "{} ({}) cannot carry files: its message names {} instead of attaching {}",
        destination.name,
        destination.platform.kind(),
        if files.len() == 1 {
            "the file"
        } else {
            "the files"
        },
        if files.len() == 1 { "it" } else { "them" }
    ))
}
