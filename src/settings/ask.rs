//! Resolving `chime ask`: the question as a send would compose it, the
//! answers offered, who may give them and how long to wait.

use super::send::{links, read_text, thread_mode};
use super::*;
use crate::ask::MAX_OPTIONS;
use crate::cli::AskArgs;

/// How long a question waits without `--timeout`: long enough for someone
/// to see it, short enough that a forgotten pipeline does not hang all day.
const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);
/// Slack shows at most 75 characters on a button.
const MAX_LABEL_CHARS: usize = 75;

/// Everything `chime ask` needs: the question as a send (where it goes,
/// what it says), and what makes it a question.
pub struct Ask {
    pub send: Send,
    /// `--option` labels; none: Approve and Reject.
    pub options: Vec<String>,
    /// `--approver`s, added to the route's and the destination's.
    pub approvers: Vec<String>,
    pub wait: Duration,
}

pub fn ask(global: &GlobalArgs, args: AskArgs) -> Result<Ask, Failure> {
    let env = environment();
    let timeout = timeout(args.request_timeout, &env)?;
    let wait = args.timeout.unwrap_or(DEFAULT_WAIT);
    if wait.is_zero() {
        return Err(Failure::usage("--timeout must be longer than 0"));
    }
    check_options(&args.options)?;
    let (profile, state, selection, _) = target(global, &env, &args.target, None)?;
    let mut input = Input {
        title: args.title,
        level: args.level.unwrap_or_default(),
        fields: args.fields,
        links: links(args.links),
        ..Input::default()
    };
    read_text(
        &mut input,
        args.text,
        false,
        false,
        args.level.is_some(),
        output(global),
    )?;
    let ci = Ci::detect(&env);
    let thread = thread_mode(args.thread, None, false, ci.as_ref())?;
    let send = Send {
        at: None,
        dedupe: None,
        ci,
        alert: Default::default(),
        template_fallback: false,
        thread,
        spool: state.spool(),
        queue: false,
        no_spool: true,
        profile,
        selection,
        channel: args.target.channel,
        template: None,
        input,
        timeout,
        dry_run: false,
        json: args.json,
        output: output(global),
        env,
    };
    Ok(Ask {
        send,
        options: args.options,
        approvers: args.approvers,
        wait,
    })
}

fn check_options(options: &[String]) -> Result<(), Failure> {
    if options.len() > MAX_OPTIONS {
        return Err(Failure::usage(format!(
            "{} options given; a question offers at most {MAX_OPTIONS}",
            options.len()
        )));
    }
    for (i, label) in options.iter().enumerate() {
        if label.trim().is_empty() {
            return Err(Failure::usage("--option: a button needs a label"));
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(Failure::usage(format!(
                "--option `{label}` is longer than a button shows ({MAX_LABEL_CHARS} characters)"
            )));
        }
        if options[..i].contains(label) {
            return Err(Failure::usage(format!("--option `{label}` is given twice")));
        }
    }
    Ok(())
}
