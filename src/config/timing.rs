//! A route's timing keys (`dedupe`, `dedupe_key`, `limit`, `limit_levels`,
//! `digest`, `quiet`, `quiet_levels`, `timezone`), each read where it is
//! written and its mistakes reported there; what they mean is `timing/`'s.

use serde::Deserialize;
use toml::Spanned;

use super::Problem;
use crate::message::Level;
use crate::timing::{Dedupe, Limit, Quiet, Timing};

/// The keys as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTiming {
    pub dedupe: Option<Spanned<String>>,
    pub dedupe_key: Option<Spanned<String>>,
    pub limit: Option<Spanned<String>>,
    pub limit_levels: Option<Spanned<Vec<String>>>,
    pub digest: Option<Spanned<String>>,
    pub quiet: Option<Spanned<String>>,
    pub quiet_levels: Option<Spanned<Vec<String>>>,
    pub timezone: Option<Spanned<String>>,
}

/// Reads `raw` for the route called `what` (`route \`ops\``).
pub(super) fn timing(raw: RawTiming, what: &str, problems: &mut Vec<Problem>) -> Timing {
    let dedupe = raw
        .dedupe
        .as_ref()
        .and_then(|d| span_of(d, "dedupe", what, problems));
    let digest = raw
        .digest
        .as_ref()
        .and_then(|d| span_of(d, "digest", what, problems));
    if let (None, Some(key)) = (&raw.dedupe, &raw.dedupe_key) {
        let why = "`dedupe_key` without `dedupe`: no window to count repeats in".to_owned();
        let help = "add dedupe = \"10m\" (or how long a window lasts)";
        push(problems, key.span(), what, why, help);
    }
    let dedupe = dedupe.map(|window| Dedupe {
        window,
        key: raw.dedupe_key.map(Spanned::into_inner),
    });
    let mut timing = Timing {
        dedupe,
        digest,
        ..Timing::default()
    };
    let limit_levels = levels(raw.limit_levels, "limit_levels", what, problems);
    if let Some(limit) = raw.limit {
        match Limit::parse(limit.get_ref(), limit_levels) {
            Ok(limit) => timing.limit = Some(limit),
            Err(why) => push(problems, limit.span(), what, why, "write it like \"10/5m\""),
        }
    }
    let quiet_levels = levels(raw.quiet_levels, "quiet_levels", what, problems);
    let zone = raw.timezone.as_ref().map(|z| z.get_ref().as_str());
    // A misspelt zone is told where it is written, and the hours not read.
    if let Some(named) = &raw.timezone
        && let Err(why) = crate::clock::zone(zone)
    {
        push(problems, named.span(), what, why, QUIET_HELP);
        return timing;
    }
    if let Some(quiet) = &raw.quiet {
        match Quiet::parse(quiet.get_ref(), zone, quiet_levels) {
            Ok(quiet) => timing.quiet = Some(quiet),
            Err(why) => push(problems, quiet.span(), what, why, QUIET_HELP),
        }
    } else if let Some(zone) = &raw.timezone {
        let why = "`timezone` is only read for `quiet` hours".to_owned();
        push(problems, zone.span(), what, why, QUIET_HELP);
    }
    timing
}

/// A window's length: a duration, and not zero.
fn span_of(
    text: &Spanned<String>,
    key: &str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<std::time::Duration> {
    let parsed = humantime::parse_duration(text.get_ref().trim());
    parsed.ok().filter(|d| !d.is_zero()).or_else(|| {
        let why = format!("`{key}` is not a duration: `{}`", text.get_ref());
        push(
            problems,
            text.span(),
            what,
            why,
            "write it like \"10m\" or \"1h\"",
        );
        None
    })
}

const QUIET_HELP: &str =
    "write quiet = \"22:00-07:00\", with timezone = \"Europe/Berlin\" if not the local one";

fn push(
    problems: &mut Vec<Problem>,
    span: std::ops::Range<usize>,
    what: &str,
    why: String,
    help: &str,
) {
    problems.push(Problem::new(Some(span), format!("{what}: {why}")).help(help));
}

/// A list of level names, each checked.
fn levels(
    raw: Option<Spanned<Vec<String>>>,
    key: &str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<Vec<Level>> {
    let raw = raw?;
    let span = raw.span();
    let mut out = Vec::new();
    for name in raw.into_inner() {
        match Level::parse(&name) {
            Some(level) => out.push(level),
            None => push(
                problems,
                span.clone(),
                what,
                format!("`{key}` names an unknown level `{name}`"),
                "levels are info, success, warning, error and critical",
            ),
        }
    }
    Some(out)
}
