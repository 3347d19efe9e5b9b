//! `chime spool list --quarantined`: the damaged or unreadable files a read
//! moved to a spool's `corrupt/` folder, kept for a person to look at.
//!
//! They are never parsed again (they could not be) and never sent: this
//! lists their names, sizes and when they were moved, by name only (a
//! link is shown, never followed), and says how to be rid of them.

use std::time::SystemTime;

use serde_json::json;

use super::timestamp;
use crate::exit::{ExitCode, Failure};
use crate::report::{self, Output};
use crate::spool::Spool;

struct Quarantined {
    profile: String,
    path: std::path::PathBuf,
    bytes: u64,
    moved: Option<SystemTime>,
}

pub fn list(spools: &[Spool], as_json: bool, output: Output) -> Result<ExitCode, Failure> {
    let found: Vec<Quarantined> = spools.iter().flat_map(files).collect();
    if as_json {
        let rows: Vec<_> = found
            .iter()
            .map(|q| {
                json!({
                    "profile": q.profile,
                    "path": q.path.display().to_string(),
                    "bytes": q.bytes,
                    "moved": q.moved.map(timestamp),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        report::text(&format!("{text}\n"))?;
        return Ok(ExitCode::Ok);
    }
    let mut text = String::new();
    for q in &found {
        let moved = q.moved.map(timestamp).unwrap_or_else(|| "?".into());
        text.push_str(&format!(
            "{}  {} bytes  moved {moved}\n",
            q.path.display(),
            q.bytes
        ));
    }
    report::text(&text)?;
    if !output.quiet {
        if found.is_empty() {
            eprintln!("chime: no quarantined files");
        } else {
            eprintln!(
                "chime: {} damaged file(s), never sent: look at them, then delete them with rm",
                found.len()
            );
        }
    }
    Ok(ExitCode::Ok)
}

/// The files of one spool's `corrupt/` folder, oldest name first.
fn files(spool: &Spool) -> Vec<Quarantined> {
    let Ok(dir) = std::fs::read_dir(spool.root().join("corrupt")) else {
        return Vec::new();
    };
    let mut found: Vec<Quarantined> = dir
        .flatten()
        .map(|file| {
            let meta = std::fs::symlink_metadata(file.path()).ok();
            Quarantined {
                profile: spool.profile().to_owned(),
                path: file.path(),
                bytes: meta.as_ref().map_or(0, |m| m.len()),
                moved: meta.and_then(|m| m.modified().ok()),
            }
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}
