//! Resolving `chime run`: the command runs whatever the profile says, so
//! trouble with the report's settings is kept for after it has run.

use super::*;

/// `chime run` as resolved from the command line.
pub struct Job {
    pub command: Vec<String>,
    pub on: crate::cli::On,
    pub tail: usize,
    /// `--attach-output`, with `--attach-max`.
    pub attach: Option<u64>,
    pub name: String,
    pub timeout: Option<Duration>,
    pub output: Output,
    /// Where the report goes, or why it cannot go anywhere; the latter is
    /// told only once the command has run.
    pub report: Result<Reporting, Failure>,
}

/// Where a job's report goes.
pub struct Reporting {
    /// The send settings the report goes out with; its text and title are filled in here.
    pub send: Send,
    /// Where `--on change` keeps each job's last outcome (the profile's `runs/`).
    pub runs: crate::state::Runs,
}

/// Resolves `chime run`. The command runs whatever the profile says, so
/// trouble with the report's settings is kept in the job, to be told after
/// the command has run (see `run`).
pub fn job(global: &GlobalArgs, args: RunArgs) -> Job {
    let name = args.name.unwrap_or_else(|| args.command.join(" "));
    let output = output(global);
    Job {
        report: reporting(global, args.target, args.template, output).map(|mut r| {
            r.send.dry_run = args.dry_run;
            // A job's reports are alike by its name unless a KEY says otherwise.
            let key = args
                .dedupe
                .map(|key| if key.is_empty() { name.clone() } else { key });
            r.send.dedupe = super::send::DedupeAsk::of(key, args.dedupe_window);
            // An alerting kind's alert is the job's, by its name by default,
            // so a recovery resolves what the failure triggered.
            r.send.alert.key = Some(name.clone());
            r
        }),
        command: args.command,
        on: args.on,
        tail: args.tail,
        attach: args.attach_output.then_some(args.attach_max as u64),
        name,
        timeout: args.timeout,
        output,
    }
}

/// Where `chime run`'s report goes.
fn reporting(
    global: &GlobalArgs,
    target: Where,
    template: Option<String>,
    output: Output,
) -> Result<Reporting, Failure> {
    let env = environment();
    let (profile, state, selection, unkept) =
        super::target(global, &env, &target, template.as_deref())?;
    let send = Send {
        ci: Ci::detect(&env),
        alert: Default::default(),
        template_fallback: true,
        thread: None,
        at: None,
        dedupe: None,
        spool: state.spool(),
        queue: false,
        no_spool: unkept,
        profile,
        selection,
        channel: target.channel,
        template,
        input: Input::default(),
        timeout: None,
        dry_run: false,
        json: false,
        output,
        env,
    };
    Ok(Reporting {
        send,
        runs: state.runs(),
    })
}
