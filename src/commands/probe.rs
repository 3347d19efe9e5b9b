//! `chime test`: is each destination alive, and if not, what to do about it.
//!
//! Sends one short message to each destination through the same delivery
//! engine as `chime send` (retries, timeouts, the kind's `classify` and its
//! hints), but never touches the spool: a test that fails says so and is gone.
//! The result is a table on stdout, one row per destination, followed by the
//! platform's error and the kind's hint for each one that failed.

use std::time::Duration;

use futures_util::future::join_all;

use crate::ask::Context;
use crate::config::Destination;
use crate::deliver::{self, Job, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Asking;
use crate::message::{Level, Message};
use crate::report;
use crate::settings::Probe;

pub fn run(probe: Probe) -> Result<ExitCode, Failure> {
    let message = message();
    let runtime = deliver::runtime()?;
    let client = deliver::Clients::new();
    let jobs = probe.destinations.iter().map(|name| {
        let destination = &probe.profile.destinations[name];
        test_one(&probe, &client, destination, &message)
    });
    let mut reports = runtime.block_on(join_all(jobs));
    if let Some(server) = &probe.profile.state {
        reports.push(test_state(server));
    }
    let failed = reports
        .iter()
        .filter(|r| r.status != Status::Delivered)
        .count();
    if probe.json {
        let lines: Vec<String> = reports
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
            .collect();
        report::text(&lines.concat())?;
    } else if !probe.output.quiet || failed > 0 {
        // With -q only failures show: `chime -q test` is a quiet health check.
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
        files: Vec::new(),
        file_urls: Vec::new(),
    }
}

async fn test_one(
    probe: &Probe,
    client: &deliver::Clients,
    destination: &Destination,
    message: &Message,
) -> Report {
    let payloads = destination.platform.probe(message);
    let timeout = probe.timeout_for(destination);
    let job = Job::alone(destination, payloads, timeout);
    let mut report = deliver::deliver_one(client, job, probe.output.verbose).await;
    if report.status == Status::Delivered
        && let Ok(Asking::Slack {
            api_url,
            token,
            app_token,
        }) = destination.platform.asking()
    {
        let ctx = Context {
            clients: client,
            destination,
            timeout,
            output: probe.output,
        };
        // `chime ask` listens through Socket Mode: a test that posts but
        // cannot connect would promise approvals that never come.
        if let Err(failure) = crate::ask::slack::check(&ctx, api_url, token, app_token).await {
            report.status = match failure.code {
                ExitCode::TempFail => Status::Failed,
                _ => Status::Rejected,
            };
            report.error = Some(failure.message);
            report.hint = failure.hint;
        }
    }
    report
}

/// The state server's row: does it answer chime, and how fast. One that
/// cannot be reached costs coordination, not messages, but a test is where
/// that must show.
fn test_state(server: &crate::config::StateServer) -> Report {
    let mut report = Report::new("state server", "redis", 1);
    match crate::state::shared::Shared::check(server) {
        Ok(took) => {
            report.status = Status::Delivered;
            report.parts_delivered = 1;
            report.elapsed_ms = took.as_millis();
        }
        Err(why) => {
            let refused =
                why.contains("WRONGPASS") || why.contains("NOAUTH") || why.contains("NOPERM");
            report.status = if refused {
                Status::Rejected
            } else {
                Status::Failed
            };
            report.error = Some(format!("{} ({}): {why}", server.shown(), server.origin));
            report.hint = Some(match refused {
                true => "check the [state] user and password".into(),
                false => format!(
                    "start it, or check the URL and the network; meanwhile each host keeps its \
                     own state (connect_timeout {})",
                    humantime::format_duration(server.connect_timeout)
                ),
            });
        }
    }
    report
}

/// The word for the result column; nothing is queued by a test, so a
/// transient failure is named by what it looked like.
fn result(report: &Report) -> &'static str {
    match (report.status, report.http_status) {
        (Status::Delivered, _) => "ok",
        (Status::Rejected, _) => "rejected",
        (_, Some(429)) => "throttled",
        (_, Some(_)) => "unavailable",
        (_, None) => "unreachable",
    }
}

/// What to do about a failure the platform gave no hint for.
fn default_hint(report: &Report) -> String {
    match (report.status, report.http_status) {
        (Status::Rejected, _) => "check the destination's settings with `chime config show`".into(),
        (_, Some(429)) => match report.retry_after {
            Some(wait) => format!(
                "the platform is rate-limiting: try again in {}",
                humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
            ),
            None => "the platform is rate-limiting: try again in a minute".into(),
        },
        (_, Some(_)) => "the platform is having trouble: try again later".into(),
        (_, None) => "check the network and the URL, or give it longer with --timeout".into(),
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
                result(r),
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
        let hint = r.hint.clone().unwrap_or_else(|| default_hint(r));
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
            held: None,
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
