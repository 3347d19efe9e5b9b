//! Resolving `chime pipe`.

use super::*;

/// `chime pipe` as resolved from the command line.
pub struct Pipe {
    pub profile: Profile,
    pub spool: Spool,
    pub selection: Selection,
    pub channel: Option<String>,
    pub title: Option<String>,
    pub level: Level,
    pub interval: Duration,
    pub code: bool,
    pub tee: bool,
    pub grep: Option<regex_lite::Regex>,
    pub level_from_line: bool,
    pub max_pending: usize,
    /// `--file-over`: a batch over this many bytes goes as a file.
    pub file_over: Option<usize>,
    pub timeout: Option<Duration>,
    /// Print each batch's requests instead of sending them.
    pub dry_run: bool,
    pub host: String,
    pub output: Output,
    /// The CI run the stream comes from, named in every message.
    pub ci: Option<Ci>,
    /// The environment, for rules (`env.*`).
    pub env: EnvVars,
}

/// Resolves `chime pipe`.
pub fn pipe(global: &GlobalArgs, args: PipeArgs) -> Result<Pipe, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    // A pipe to a URL typed on the command line still spills to the spool
    // past --max-pending: the next pipe or send to the same URL drains it.
    let (profile, state, selection, _) = target(global, &env, &args.target, None)?;
    Ok(Pipe {
        profile,
        spool: state.spool(),
        selection,
        channel: args.target.channel,
        title: args.title,
        level: args.level.unwrap_or_default(),
        interval: args.interval,
        code: !args.no_code,
        tee: args.tee,
        grep: args.grep,
        level_from_line: args.level_from_line,
        max_pending: args.max_pending,
        file_over: args.file_over,
        timeout,
        dry_run: args.dry_run,
        host: hostname(),
        output: output(global),
        ci: Ci::detect(&env),
        env,
    })
}
