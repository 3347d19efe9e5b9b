//! How a send's outcome is told: one JSON object per destination on stdout
//! with `--json`, a line per destination on stderr (queued, refused, not
//! kept, with what to do), and `--dry-run`'s requests, secrets redacted.

use serde_json::json;

use crate::config::Destination;
use crate::deliver::{Report, Status};
use crate::exit::Failure;
use crate::kinds::Payload;
use crate::report::{self, Output};

/// `--dry-run`: each request as it would go out, secrets redacted.
pub fn dry_run(rendered: &[(&Destination, Vec<Payload>)], as_json: bool) -> Result<(), Failure> {
    let mut text = String::new();
    for (destination, payloads) in rendered {
        for (i, payload) in payloads.iter().enumerate() {
            let request = destination.platform.request(payload);
            // What the body shows: a secret in it stays a `${NAME}`; a file
            // shows its name, size and type, never its bytes.
            let shown = match &request.upload {
                Some(upload) => upload.describe(),
                None => request.body.to_string(),
            };
            let body: serde_json::Value =
                serde_json::from_str(&shown).unwrap_or(serde_json::Value::String(shown));
            if as_json {
                let headers: serde_json::Map<String, serde_json::Value> = request
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), json!(value.to_string())))
                    .collect();
                let line = json!({
                    "destination": destination.name,
                    "kind": destination.platform.kind(),
                    "part": i + 1,
                    "parts": payloads.len(),
                    "method": request.method.as_str(),
                    "url": request.url.to_string(),
                    "headers": headers,
                    "body": body,
                });
                text.push_str(&format!("{line}\n"));
                continue;
            }
            text.push_str(&format!(
                "# {} ({}), part {} of {}\n{} {}\n",
                destination.name,
                destination.platform.kind(),
                i + 1,
                payloads.len(),
                request.method,
                request.url
            ));
            for (name, value) in &request.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            let pretty = match &body {
                serde_json::Value::String(text) => text.clone(),
                json => serde_json::to_string_pretty(json).unwrap_or_default(),
            };
            text.push_str(&format!("\n{pretty}\n\n"));
        }
    }
    report::text(&text)
}

/// A message a `drop = true` rule matched: the rule's place (from 1) and its
/// `when`, masked as diagnostics are.
pub struct Dropped {
    pub rule: usize,
    pub when: String,
}

/// A dropped message is a success, not news: said only with `-v` (stderr)
/// or `--json` (stdout, so a script can tell it from a delivery).
pub fn dropped(dropped: &Dropped, as_json: bool, output: Output) -> Result<(), Failure> {
    if output.verbose {
        eprintln!(
            "chime: rule {} dropped this message ({})",
            dropped.rule, dropped.when
        );
    }
    if as_json {
        let line = json!({"status": "dropped", "rule": dropped.rule, "when": dropped.when});
        report::line(&line.to_string())?;
    }
    Ok(())
}

/// After delivery: JSON lines on stdout if asked, and a line per destination on stderr.
pub fn deliveries(reports: &[Report], as_json: bool, output: Output) -> Result<(), Failure> {
    let mut unwritten = false;
    if as_json {
        let mut text = String::new();
        for report in reports {
            text.push_str(&serde_json::to_string(report).unwrap_or_default());
            text.push('\n');
        }
        // The sends are done: failing here would tell a script that retries
        // on failure to post the message again. Say so, and let the exit code
        // tell what became of the message.
        if let Err(err) = report::text(&text) {
            unwritten = true;
            report::fate(
                output,
                &format!(
                    "could not write the --json report ({}); what became of each message follows",
                    err.message
                ),
            );
        }
    }
    for report in reports {
        match report.status {
            Status::Delivered => {
                if unwritten || !output.quiet && (output.verbose || output.stderr_is_terminal) {
                    eprintln!(
                        "chime: delivered to {}{}",
                        report.destination,
                        parts_note(report)
                    );
                }
            }
            Status::Queued => {
                if unwritten || !output.quiet {
                    eprintln!("{}", queued(report));
                }
            }
            Status::Held => {
                if let Some(held) = &report.held
                    && (unwritten || !output.quiet)
                {
                    eprintln!("chime: {}: {}", report.destination, held.note);
                }
            }
            Status::Rejected => eprintln!("{}\n", rejected(report)),
            Status::Failed => eprintln!("{}\n", failed(report)),
        }
    }
    Ok(())
}

fn parts_note(report: &Report) -> String {
    if report.parts > 1 {
        format!(" ({} parts, {} ms)", report.parts, report.elapsed_ms)
    } else {
        format!(" ({} ms)", report.elapsed_ms)
    }
}

fn partial(report: &Report) -> Option<String> {
    (report.parts_delivered > 0).then(|| {
        format!(
            "{} of {} parts were delivered before this one",
            report.parts_delivered, report.parts
        )
    })
}

/// `chime: queued for ops-hook (503 Service Unavailable); will retry — id 0193…`
fn queued(report: &Report) -> String {
    let id = report
        .spool_id
        .as_deref()
        .map_or_else(|| "?".to_owned(), crate::spool::short_id);
    let line = match &report.error {
        Some(error) => format!(
            "chime: queued for {} ({error}); will retry — id {id}",
            report.destination
        ),
        None => format!("chime: queued for {} — id {id}", report.destination),
    };
    // A certificate chime does not trust will fail every retry: say what fixes it.
    match &report.hint {
        Some(hint) => format!("{line}\nhint: {hint}"),
        None => line,
    }
}

fn rejected(report: &Report) -> Failure {
    let error = report.error.as_deref().unwrap_or("rejected");
    let mut failure = Failure::new(
        crate::exit::ExitCode::Rejected,
        format!(
            "{} ({}) rejected the message: {error}",
            report.destination, report.kind
        ),
    );
    if let Some(note) = partial(report) {
        failure = failure.caused_by(note);
    }
    if let Some(id) = report.spool_id.as_deref().map(crate::spool::short_id) {
        failure = failure.caused_by(format!(
            "kept in the dead-letter spool as {id}: `chime spool retry {id}` once fixed"
        ));
    }
    match &report.hint {
        Some(hint) => failure.with_hint(hint.clone()),
        None => failure,
    }
}

fn failed(report: &Report) -> Failure {
    let error = report.error.as_deref().unwrap_or("failed");
    let mut failure = Failure::new(
        crate::exit::ExitCode::NotKept,
        format!(
            "could not deliver to {} ({}), and it was not queued: {error}",
            report.destination, report.kind
        ),
    );
    if let Some(note) = partial(report) {
        failure = failure.caused_by(note);
    }
    // A platform that refused it says what to fix; sending again won't help.
    let again = "the message was not saved: run the same command again later \
                 (without --no-spool, and with a writable CHIME_STATE_DIR, chime keeps it and retries)";
    match &report.hint {
        Some(hint) => failure.with_hint(format!("{hint}; the message was not saved")),
        None => failure.with_hint(again),
    }
}
