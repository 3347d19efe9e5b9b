//! `chime ask`: a question with buttons, and the wait for a person's answer.

use clap::Args;

use super::Where;
use super::values::{parse_duration, parse_link, parse_pair, parse_timeout};
use crate::message::Level;

pub(super) const ASK_EXAMPLES: &str = "\
Examples:
  chime ask -r deploys \"Deploy 1.4 to prod?\" && ./deploy.sh
  chime ask --to bot --approver @ada --approver S0123OPS --timeout 2h \"Release 1.4?\"
  chime ask -r ops --option Retry --option Skip --option Abort \"The backup failed\"
  answer=$(chime ask -r ops --option Blue --option Green \"Which pool?\")

Exit codes: 0 the first option was chosen, 1 another one, 124 no answer in
time, 130/143 interrupted (SIGINT/SIGTERM: the question says it was
cancelled), 129 SIGHUP, 65 the platform refused the question, 75 it could
not be posted now (a question is not queued: it needs a live answer), 78 the
destination cannot ask (a webhook kind; approvers on ntfy) or the profile is
wrong.

Environment: CHIME_ROUTE, CHIME_TIMEOUT (for each request), CHIME_CONFIG, CHIME_PROFILE";

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question; `-` (or no TEXT with piped stdin) reads stdin
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,

    #[command(flatten)]
    pub target: Where,

    /// Title shown as the message header
    #[arg(short, long, help_heading = "What")]
    pub title: Option<String>,

    /// Level: sets the emoji, the colour and what rules match
    #[arg(short, long, value_enum, ignore_case = true, help_heading = "What")]
    pub level: Option<Level>,

    /// A field shown as a key/value pair (repeatable)
    #[arg(short, long = "field", value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "What")]
    pub fields: Vec<(String, String)>,

    /// A link shown with the question (repeatable)
    #[arg(long = "link", value_name = "LABEL=URL", value_parser = parse_link, help_heading = "What")]
    pub links: Vec<(String, String)>,

    /// An answer to offer, as a button (repeatable, at most 5; ntfy shows 3)
    /// [default: Approve, Reject]
    ///
    /// The first is the one that makes chime ask exit 0; any other exits 1.
    /// The chosen label is printed on stdout.
    #[arg(long = "option", value_name = "LABEL", help_heading = "Answers")]
    pub options: Vec<String>,

    /// Who may answer (repeatable): a Slack user ID (U…), @handle or user
    /// group (S…); a Telegram user ID or username
    ///
    /// Adds to the route's and the destination's `approvers`. A click by
    /// anyone else is refused to them and not counted. With no approvers at
    /// all, anyone who can see the question may answer it (on ntfy, anyone
    /// who can read the notification: ntfy does not say who pressed).
    #[arg(long = "approver", value_name = "WHO", help_heading = "Answers")]
    pub approvers: Vec<String>,

    /// How long to wait for an answer (e.g. 30m, 2h) [default: 30m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Answers")]
    pub timeout: Option<std::time::Duration>,

    /// Ask in the thread of the first message sent with KEY; in CI, KEY
    /// defaults to the run
    #[arg(long, value_name = "KEY", num_args = 0..=1, default_missing_value = "", help_heading = "Threads")]
    pub thread: Option<String>,

    /// Print the answer as JSON: the option, who chose it and when, where the question is
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// The time one request may take, not the wait (e.g. 10s) [env: CHIME_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, help_heading = "Output")]
    pub request_timeout: Option<std::time::Duration>,
}
