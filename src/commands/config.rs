//! `chime config …`: starting, locating, checking and showing the profile.
//!
//! Results go to stdout (a path, a summary, the profile), explanations to
//! stderr, so `$(chime config path)` and `chime config show > file` work.

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::commands::completions;
use crate::config::{SEARCH_ORDER, check, init, load, locate, show};
use crate::exit::{ExitCode, Failure};
use crate::report;
use crate::settings;

pub fn command(global: &GlobalArgs, command: ConfigCommand) -> Result<ExitCode, Failure> {
    let env = settings::environment();
    // Located in each arm: completion locates leniently, on its own.
    let located = || locate(global.config.as_deref(), global.profile.as_deref(), &env);
    match command {
        ConfigCommand::Init { force } => {
            let location = located()?;
            init(&location, force)?;
            if !global.quiet {
                eprintln!("chime: wrote {}", location.path.display());
                eprintln!(
                    "next: export SLACK_WEBHOOK_URL=… (your webhook), then: chime config check && chime test"
                );
            }
        }
        ConfigCommand::Check => {
            let location = located()?;
            let summary = check(&location, &env)?;
            for warning in summary.exposures.iter().chain(&summary.notes) {
                report::warning(crate::settings::output(global), warning);
            }
            if !global.quiet {
                report::line(&format!("{}: ok ({summary})", location.path.display()))?;
            }
        }
        ConfigCommand::Show => {
            let location = located()?;
            let profile = load(&location, &env)?;
            report::text(&show(&profile, &location))?;
        }
        ConfigCommand::Names { what } => return completions::names(global, what),
        ConfigCommand::Path => {
            let location = located()?;
            // The path alone, for `$(chime config path)`; the why, asked for
            // with -v, on stderr.
            report::line(&location.path.display().to_string())?;
            if global.verbose && !global.quiet {
                eprintln!("chime: {}", location.explain());
                eprintln!("chime: looked for: {}", SEARCH_ORDER);
            }
        }
    }
    Ok(ExitCode::Ok)
}
