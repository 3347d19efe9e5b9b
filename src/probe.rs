//! `chime test`: is each destination alive, and if not, what to do about it.
//!
//! Sends one short message to each destination through the same delivery
//! engine as `chime send` (retries, timeouts, the kind's `classify` and its
//! hints), but never touches the spool: a test that fails says so and is gone.
//! The result is a table on stdout, one row per destination, followed by the
//! platform's error and the kind's hint for each one that failed.

use futures_util::future::join_all;

use crate::config::Destination;
use crate::deliver::{self, Job, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Target;
use crate::message::{Level, Message};
use crate::report;
use crate::settings::Probe;

pub fn run(probe: Probe) -> Result<ExitCode, Failure> {
    let message = message();
    let runtime = deliver::runtime()?;
    let client = deliver::client();
    let jobs = probe.destinations.iter().map(|name| {
        let destination = &probe.profile.destinations[name];
        test_one(&probe, &client, destination, &message)
    });
    let reports = runtime.block_on(join_all(jobs));
    let failed = reports
        .iter()
        .filter(|r| r.status != Status::Delivered)
        .count();
    // With -q only failures show: `chime -q test` is a quiet health check.
    if !probe.output.quiet || failed > 0 {
        report::text(&table(&reports, probe.output.quiet))?;
    }
    let code = deliver::exit_code(reports.iter().map(|r| r.status));
    if failed > 0 {
        let failure = Failure::new(
            code,
            format!("{failed} of {} destinations failed the test", reports.len()),
        );
        report::failure(probe.output, &failure);
    }
    Ok(code)
}

/// Short, and clearly a test, so nobody in the channel wonders what broke.
fn message() -> Message {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    Message {
        title: None,
        text: format!("chime is set up: this is a test message from {host}"),
        level: Level::Success,
        fields: Vec::new(),
        links: Vec::new(),
        code: false,
        host,
        time: std::time::SystemTime::now(),
        context: Vec::new(),
    }
}

async fn test_one(
    probe: &Probe,
    client: &reqwest::Client,
    destination: &Destination,
    message: &Message,
) -> Report {
    let job = Job {
        name: &destination.name,
        platform: destination.platform.as_ref(),
        payloads: destination.platform.render(message, &Target::default()),
        timeout: probe.timeout_for(destination),
        threads: None,
    };
    deliver::deliver_one(client, job, probe.output.verbose).await
}

fn result(status: Status) -> &'static str {
    match status {
        Status::Delivered => "ok",
        Status::Rejected => "rejected",
        // Nothing is queued by a test; "unreachable" says what the user sees.
        Status::Queued | Status::Failed => "unreachable",
    }
}

/// The table (unless `only_failures`), then one paragraph per failure with
/// the error and the hint.
fn table(reports: &[Report], only_failures: bool) -> String {
    let width = |f: fn(&Report) -> usize, title: &str| {
        reports.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let name_w = width(|r| r.destination.chars().count(), "DESTINATION");
    let kind_w = width(|r| r.kind.len(), "KIND");
    let mut out = String::new();
    if !only_failures {
        out.push_str(&format!(
            "{:<name_w$}  {:<kind_w$}  {:<11}  {:>7}\n",
            "DESTINATION", "KIND", "RESULT", "LATENCY"
        ));
        for r in reports {
            out.push_str(&format!(
                "{:<name_w$}  {:<kind_w$}  {:<11}  {:>4} ms\n",
                r.destination,
                r.kind,
                result(r.status),
                r.elapsed_ms
            ));
        }
    }
    for r in reports.iter().filter(|r| r.status != Status::Delivered) {
        let error = r.error.as_deref().unwrap_or("failed");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{} ({}): {error}\n", r.destination, r.kind));
        let hint = match (&r.hint, r.status) {
            (Some(hint), _) => hint.as_str(),
            (None, Status::Rejected) => "check the destination's settings with `chime config show`",
            (None, _) => {
                "check the network and the URL; the platform may be down (try again later)"
            }
        };
        out.push_str(&format!("  hint: {hint}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, status: Status, error: Option<&str>, hint: Option<&str>) -> Report {
        Report {
            destination: name.to_owned(),
            kind: "slack",
            status,
            http_status: None,
            error: error.map(str::to_owned),
            hint: hint.map(str::to_owned),
            channel: None,
            ts: None,
            parts: 1,
            parts_delivered: 0,
            elapsed_ms: 3,
            spool_id: None,
            retry_after: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn table_has_a_row_per_destination_and_a_hint_per_failure() {
        let text = table(
            &[
                report("ops-hook", Status::Delivered, None, None),
                report(
                    "gone",
                    Status::Rejected,
                    Some("404 no_service"),
                    Some("make a new one"),
                ),
            ],
            false,
        );
        assert!(text.contains("ops-hook     slack  ok"), "{text}");
        assert!(text.contains("gone         slack  rejected"), "{text}");
        assert!(
            text.contains("gone (slack): 404 no_service\n  hint: make a new one"),
            "{text}"
        );
    }
}
