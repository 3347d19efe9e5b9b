//! Files that go with a message: what a payload says of each (its name,
//! its size, where its bytes are), and the bodies that carry them — the file
//! as the whole body, or `multipart/form-data` — which the delivery engine
//! streams from disk, so a file is never read whole into memory.
//!
//! A payload names where a file's bytes are: the user's file until the
//! message is put on disk, then the spool's own copy (`spool/files.rs`), so
//! a queued message still has its file when the original is gone.

use std::path::PathBuf;

pub use crate::message::{FileRef, human_size};
use crate::secret::Secret;

/// `64MiB`, `512KiB`, `1GiB`, `1000` (bytes); `MB`/`KB` are read as binary too.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 64MiB"))?;
    let unit = match s[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}`; use KiB, MiB or GiB")),
    };
    Ok(number.saturating_mul(unit))
}

/// A request body that carries files, streamed from disk when sent.
#[derive(Clone, Debug)]
pub enum Upload {
    /// The file's bytes are the whole body (ntfy's `PUT`, Slack's upload URL).
    Raw(FileRef),
    /// `multipart/form-data`, its parts in order, between `boundary`s.
    Form {
        parts: Vec<FormPart>,
        boundary: String,
    },
}

/// One part of a form: a named text field or a file.
#[derive(Clone, Debug)]
pub struct FormPart {
    pub name: String,
    pub content: FormContent,
}

#[derive(Clone, Debug)]
pub enum FormContent {
    /// A field's value, with its content type when it is not plain text
    /// (Discord's `payload_json` is JSON). Wrapped: a webhook's may hold a secret.
    Text {
        value: Secret,
        content_type: Option<&'static str>,
    },
    File(FileRef),
}

impl FormPart {
    pub fn text(name: &str, value: Secret) -> FormPart {
        FormPart {
            name: name.to_owned(),
            content: FormContent::Text {
                value,
                content_type: None,
            },
        }
    }

    pub fn json(name: &str, value: Secret) -> FormPart {
        FormPart {
            name: name.to_owned(),
            content: FormContent::Text {
                value,
                content_type: Some("application/json"),
            },
        }
    }

    pub fn file(name: &str, file: &FileRef) -> FormPart {
        FormPart {
            name: name.to_owned(),
            content: FormContent::File(file.clone()),
        }
    }
}

/// A piece of a body: bytes, or so many bytes of a file.
pub enum Piece {
    Bytes(Vec<u8>),
    File(PathBuf, u64),
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File(_, size) => *size,
        }
    }
}

impl Upload {
    /// A form of `parts`, under a boundary no file's bytes will hold by chance.
    pub fn form(parts: Vec<FormPart>) -> Upload {
        Upload::Form {
            parts,
            boundary: boundary(),
        }
    }

    /// The body's content type, when it is a form.
    pub fn content_type(&self) -> Option<String> {
        match self {
            Upload::Raw(_) => None,
            Upload::Form { boundary, .. } => {
                Some(format!("multipart/form-data; boundary={boundary}"))
            }
        }
    }

    /// The body, in order: what to write and which files to read.
    pub fn pieces(&self) -> Vec<Piece> {
        let (parts, boundary) = match self {
            Upload::Raw(file) => return vec![Piece::File(file.path.clone(), file.size)],
            Upload::Form { parts, boundary } => (parts, boundary),
        };
        let mut pieces = Vec::with_capacity(parts.len() * 3 + 1);
        for part in parts {
            pieces.push(Piece::Bytes(part_head(boundary, part)));
            pieces.push(match &part.content {
                FormContent::Text { value, .. } => Piece::Bytes(value.expose().as_bytes().to_vec()),
                FormContent::File(file) => Piece::File(file.path.clone(), file.size),
            });
            pieces.push(Piece::Bytes(b"\r\n".to_vec()));
        }
        pieces.push(Piece::Bytes(format!("--{boundary}--\r\n").into_bytes()));
        pieces
    }

    /// The files it reads, in order.
    pub fn files(&self) -> Vec<&FileRef> {
        match self {
            Upload::Raw(file) => vec![file],
            Upload::Form { parts, .. } => parts
                .iter()
                .filter_map(|part| match &part.content {
                    FormContent::File(file) => Some(file),
                    FormContent::Text { .. } => None,
                })
                .collect(),
        }
    }

    /// What `--dry-run` and `-v` show of it: each part's name and, for a
    /// file, its name, size and type — never its bytes.
    pub fn describe(&self) -> String {
        let file =
            |f: &FileRef| format!("{} ({}, {})", f.name, human_size(f.size), f.content_type());
        match self {
            Upload::Raw(f) => format!("the bytes of {}", file(f)),
            Upload::Form { parts, .. } => {
                let shown: Vec<String> = parts
                    .iter()
                    .map(|part| match &part.content {
                        FormContent::File(f) => format!("{}: {}", part.name, file(f)),
                        FormContent::Text { value, .. } => format!("{}: {value}", part.name),
                    })
                    .collect();
                format!("multipart/form-data:\n{}", shown.join("\n"))
            }
        }
    }
}

/// `--boundary` and the headers of one part.
fn part_head(boundary: &str, part: &FormPart) -> Vec<u8> {
    let name = quoted(&part.name);
    let mut head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"");
    match &part.content {
        FormContent::File(file) => {
            head.push_str(&format!("; filename=\"{}\"", quoted(&file.name)));
            head.push_str(&format!("\r\nContent-Type: {}", file.content_type()));
        }
        FormContent::Text {
            content_type: Some(content_type),
            ..
        } => head.push_str(&format!("\r\nContent-Type: {content_type}")),
        FormContent::Text { .. } => {}
    }
    head.push_str("\r\n\r\n");
    head.into_bytes()
}

/// A name in a `Content-Disposition` header: quotes and line breaks, which
/// would end it early, percent-encoded as browsers do (WHATWG's HTML form
/// encoding).
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// 32 random hex digits after `chime-`.
fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("chime-");
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(4096), "4.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 200 * 1024), "5.2 MiB");
    }
}
