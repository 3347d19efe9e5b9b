//! Settings: the command line, the environment and the profile, resolved once.
//!
//! Precedence is applied here and nowhere else: built-in defaults < profile <
//! `CHIME_*` environment < flags. Everything downstream reads a `Settings` and
//! never looks at raw flags or `std::env` again. Where a value came from is kept
//! when an error may need to say it ("route `opz` (from CHIME_ROUTE)").

use std::io::{IsTerminal, Read};
use std::time::Duration;

use crate::ci::Ci;
use crate::cli::{FlushArgs, GlobalArgs, PipeArgs, RunArgs, SendArgs, Where};
use crate::config::{self, EnvVars, Profile};
use crate::exit::Failure;
use crate::message::{Level, Link};
use crate::spool::{Spool, SpoolError};
use crate::state::{ProfileState, StateDir};

/// The most `chime send` reads from stdin: a message, not a file (a 16 MiB
/// log still makes hundreds of Slack messages). Past it, nothing is sent.
const MAX_STDIN: u64 = 16 << 20;

pub use crate::config::DEFAULT_TIMEOUT;

pub use crate::report::Output;

/// Where a send goes, before rules are evaluated.
#[derive(Clone, Debug)]
pub enum Selection {
    /// `--to`: named destinations, bypassing routes.
    Destinations(Vec<String>),
    /// `--route` or `CHIME_ROUTE`, with where the names came from.
    Routes(Vec<String>, &'static str),
    /// Neither: the profile's rules, then its default route.
    Auto,
}

/// What the user wants to say, as typed.
#[derive(Clone, Debug, Default)]
pub struct Input {
    pub text: String,
    pub title: Option<String>,
    pub level: Level,
    pub fields: Vec<(String, String)>,
    pub links: Vec<Link>,
    pub vars: Vec<(String, String)>,
    /// Variables from a JSON object on stdin.
    pub json: serde_json::Map<String, serde_json::Value>,
    pub code: bool,
}

/// Everything `chime send` needs.
pub struct Send {
    pub profile: Profile,
    pub selection: Selection,
    pub channel: Option<String>,
    pub template: Option<String>,
    pub input: Input,
    /// From `--timeout` or `CHIME_TIMEOUT`; overrides the profile's.
    pub timeout: Option<Duration>,
    pub dry_run: bool,
    pub json: bool,
    /// `--queue`: straight to the spool.
    pub queue: bool,
    /// `--no-spool`: fail rather than queue.
    pub no_spool: bool,
    pub spool: Spool,
    /// `--thread KEY` or `--update KEY`.
    pub thread: Option<ThreadMode>,
    pub output: Output,
    pub env: EnvVars,
    /// The CI run chime is part of, if any.
    pub ci: Option<Ci>,
}

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
    pub timeout: Option<Duration>,
    pub host: String,
    pub output: Output,
    /// The CI run the stream comes from, named in every message.
    pub ci: Option<Ci>,
    /// The environment, for rules (`env.*`).
    pub env: EnvVars,
}

/// `chime run` as resolved from the command line.
pub struct Job {
    pub command: Vec<String>,
    pub on: crate::cli::On,
    pub tail: usize,
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

/// `chime flush` as resolved from the command line.
pub struct Flush {
    /// The profiles whose spools this flush delivers: the one named, or
    /// every profile that has messages waiting.
    pub profiles: Vec<Flushable>,
    pub only: Vec<String>,
    pub all: bool,
    pub wait: Option<Duration>,
    pub timeout: Option<Duration>,
    pub output: Output,
}

/// One profile's spool, and the profile to deliver it with, or why that
/// profile could not be loaded (its messages then wait).
pub struct Flushable {
    pub spool: Spool,
    pub profile: Result<Profile, Failure>,
}

/// How a send relates to earlier ones under the same key.
#[derive(Clone, Debug)]
pub struct ThreadMode {
    pub key: String,
    /// `--update`: edit the earlier message instead of replying to it.
    pub update: bool,
    pub broadcast: bool,
}

impl Send {
    /// The timeout for one destination: flag/env, then the destination's, then the profile's.
    pub fn timeout_for(&self, destination: &config::Destination) -> Duration {
        self.timeout
            .or(destination.timeout)
            .or(self.profile.timeout)
            .unwrap_or(DEFAULT_TIMEOUT)
    }
}

pub fn environment() -> EnvVars {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

pub fn output(global: &GlobalArgs) -> Output {
    let stderr_is_terminal = std::io::stderr().is_terminal();
    // https://no-color.org: set and not empty means no colour.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Output {
        quiet: global.quiet,
        verbose: global.verbose,
        stderr_is_terminal,
        colour: stderr_is_terminal && !no_color,
    }
}

/// Loads the profile and opens its state: the profile's own spool, in a
/// state directory that passed its checks (see `state.rs`).
pub fn profile_and_spool(
    global: &GlobalArgs,
    env: &EnvVars,
) -> Result<(Profile, ProfileState), Failure> {
    let location = locate(global, env)?;
    let profile = config::load(&location, env)?;
    let state = match StateDir::open(env).and_then(|dir| dir.profile(&location)) {
        Ok(state) => state,
        // Never use what someone else may have planted.
        Err(err @ SpoolError::Untrusted { .. }) => return Err(Failure::from(err)),
        // A disk that is full or read-only must not stop a message that can
        // go now; what cannot go is then reported as not kept.
        Err(err) => StateDir::unusable(env, &location).ok_or_else(|| Failure::from(err))?,
    };
    Ok((profile, state))
}

fn locate(global: &GlobalArgs, env: &EnvVars) -> Result<config::Location, Failure> {
    Ok(config::locate(
        global.config.as_deref(),
        global.profile.as_deref(),
        env,
    )?)
}

/// The spools `chime spool …` looks at: the named profile's, or every profile's.
pub fn spools(global: &GlobalArgs) -> Result<Vec<Spool>, Failure> {
    let env = environment();
    let dir = StateDir::open(&env).map_err(Failure::from)?;
    if profile_named(global, &env) {
        let location = locate(global, &env)?;
        let state = dir.profile(&location).map_err(Failure::from)?;
        return Ok(vec![state.spool()]);
    }
    let profiles = dir.profiles().map_err(Failure::from)?;
    Ok(profiles
        .iter()
        .map(crate::state::ProfileState::spool)
        .collect())
}

/// True when the command line or the environment names the profile, so a
/// flush or a spool command keeps to it; otherwise they cover every profile.
pub fn profile_named(global: &GlobalArgs, env: &EnvVars) -> bool {
    let set = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
    global.config.is_some()
        || global.profile.is_some()
        || set("CHIME_CONFIG")
        || set("CHIME_PROFILE")
}

/// Loads the profile named by `--config`, `CHIME_CONFIG`, `--profile` or `CHIME_PROFILE`.
pub fn profile(global: &GlobalArgs, env: &EnvVars) -> Result<Profile, Failure> {
    let location = config::locate(global.config.as_deref(), global.profile.as_deref(), env)?;
    Ok(config::load(&location, env)?)
}

/// `--timeout`, else `CHIME_TIMEOUT`.
fn timeout(flag: Option<Duration>, env: &EnvVars) -> Result<Option<Duration>, Failure> {
    match (flag, env.get("CHIME_TIMEOUT").filter(|v| !v.is_empty())) {
        (Some(timeout), _) => Ok(Some(timeout)),
        (None, Some(text)) => crate::cli::parse_duration(text).map(Some).map_err(|e| {
            Failure::usage(format!("CHIME_TIMEOUT: {e}"))
                .with_hint("set it like CHIME_TIMEOUT=10s, or unset it to use the profile's")
        }),
        (None, None) => Ok(None),
    }
}

/// Resolves `chime flush`: the profile named, or, when none is named (the
/// cron line), every profile with messages waiting, each loaded as it was
/// when they were queued.
pub fn flush(global: &GlobalArgs, args: FlushArgs) -> Result<Flush, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    let profiles = if profile_named(global, &env) || !args.dest.is_empty() {
        let (profile, state) = profile_and_spool(global, &env)?;
        if let Some(name) = args
            .dest
            .iter()
            .find(|n| !profile.destinations.contains_key(*n))
        {
            let help = config::known_list("destination", name, &profile.destinations);
            return Err(
                Failure::config(format!("unknown destination `{name}` (from --dest)"))
                    .with_hint(help),
            );
        }
        vec![Flushable {
            spool: state.spool(),
            profile: Ok(profile),
        }]
    } else {
        every_profile(global, &env)?
    };
    Ok(Flush {
        profiles,
        only: args.dest,
        all: args.all,
        wait: args.wait,
        timeout,
        output: output(global),
    })
}

/// Every profile with messages waiting, and the default profile whenever
/// its file exists, so that its mistakes are reported as they always were.
fn every_profile(global: &GlobalArgs, env: &EnvVars) -> Result<Vec<Flushable>, Failure> {
    let dir = StateDir::open(env).map_err(Failure::from)?;
    let default = locate(global, env)?;
    let mut found = Vec::new();
    for state in dir.profiles().map_err(Failure::from)? {
        let spool = state.spool();
        let is_default = state.key == crate::state::DEFAULT_PROFILE;
        if !(spool.has_any_pending() || is_default && default.path.is_file()) {
            continue;
        }
        let profile = match state.location(env) {
            Some(location) => config::load(&location, env).map_err(Failure::from),
            None => Err(Failure::config("its profile file is not known")),
        };
        if is_default && let Err(failure) = profile {
            return Err(failure);
        }
        found.push(Flushable { spool, profile });
    }
    if found.is_empty() && default.path.is_file() {
        let (profile, state) = profile_and_spool(global, env)?;
        found.push(Flushable {
            spool: state.spool(),
            profile: Ok(profile),
        });
    }
    Ok(found)
}

/// `--to`, else `--route`, else `CHIME_ROUTE`, else the profile's rules and default.
fn selection(to: Vec<String>, routes: Vec<String>, env: &EnvVars) -> Selection {
    if !to.is_empty() {
        Selection::Destinations(to)
    } else if !routes.is_empty() {
        Selection::Routes(routes, "from --route")
    } else if let Some(route) = env.get("CHIME_ROUTE").filter(|r| !r.is_empty()) {
        Selection::Routes(vec![route.clone()], "from CHIME_ROUTE")
    } else {
        Selection::Auto
    }
}

/// Resolves `chime pipe`.
pub fn pipe(global: &GlobalArgs, args: PipeArgs) -> Result<Pipe, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    let (profile, state) = profile_and_spool(global, &env)?;
    let selection = selection(args.target.to, args.target.routes, &env);
    check_names(&profile, &selection, None)?;
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
        timeout,
        host: hostname(),
        output: output(global),
        ci: Ci::detect(&env),
        env,
    })
}

/// Everything `chime test` needs.
pub struct Probe {
    pub profile: Profile,
    /// The destinations to test, in the profile's order when none were named.
    pub destinations: Vec<String>,
    /// From `--timeout` or `CHIME_TIMEOUT`; overrides the destination's and the profile's.
    pub timeout: Option<Duration>,
    pub output: Output,
}

impl Probe {
    pub fn timeout_for(&self, destination: &config::Destination) -> Duration {
        self.timeout
            .or(destination.timeout)
            .or(self.profile.timeout)
            .unwrap_or(DEFAULT_TIMEOUT)
    }
}

/// Resolves `chime test`.
pub fn probe(global: &GlobalArgs, args: crate::cli::TestArgs) -> Result<Probe, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    let profile = profile(global, &env)?;
    if let Some(name) = args
        .dests
        .iter()
        .find(|n| !profile.destinations.contains_key(*n))
    {
        let help = config::known_list("destination", name, &profile.destinations);
        return Err(Failure::config(format!("unknown destination `{name}`")).with_hint(help));
    }
    let mut destinations: Vec<String> = if args.dests.is_empty() {
        profile.destinations.keys().cloned().collect()
    } else {
        args.dests
    };
    let mut seen = std::collections::BTreeSet::new();
    destinations.retain(|name| seen.insert(name.clone()));
    if destinations.is_empty() {
        return Err(Failure::config(format!(
            "{} defines no destinations to test",
            profile.path.display()
        ))
        .with_hint("add a [destinations.NAME] table; `chime config init` writes an example"));
    }
    Ok(Probe {
        profile,
        destinations,
        timeout,
        output: output(global),
    })
}

/// This machine's name, for messages.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Resolves `chime run`. The command runs whatever the profile says, so
/// trouble with the report's settings is kept in the job, to be told after
/// the command has run (see `run`).
pub fn job(global: &GlobalArgs, args: RunArgs) -> Job {
    let name = args.name.unwrap_or_else(|| args.command.join(" "));
    let output = output(global);
    Job {
        report: reporting(global, args.target, args.template, output),
        command: args.command,
        on: args.on,
        tail: args.tail,
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
    let (profile, state) = profile_and_spool(global, &env)?;
    let selection = selection(target.to, target.routes, &env);
    check_names(&profile, &selection, template.as_deref())?;
    let send = Send {
        ci: Ci::detect(&env),
        thread: None,
        spool: state.spool(),
        queue: false,
        no_spool: false,
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

/// Resolves `chime send`.
pub fn send(global: &GlobalArgs, args: SendArgs) -> Result<Send, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    let (profile, state) = profile_and_spool(global, &env)?;
    let selection = selection(args.target.to, args.target.routes, &env);
    check_names(&profile, &selection, args.template.as_deref())?;
    let mut input = Input {
        title: args.title,
        level: args.level.unwrap_or_default(),
        fields: args.fields,
        links: args
            .links
            .into_iter()
            .map(|(label, url)| Link { label, url })
            .collect(),
        vars: args.vars,
        code: args.code,
        ..Input::default()
    };
    read_text(
        &mut input,
        args.text,
        args.json_input,
        args.template.is_some(),
        args.level.is_some(),
    )?;
    let spool = state.spool();
    let ci = Ci::detect(&env);
    let thread = match (args.thread, args.update) {
        (Some(key), _) if key.is_empty() => {
            let ci = ci.as_ref().ok_or_else(|| {
                Failure::usage("--thread needs a KEY outside CI").with_hint(
                    "give one, e.g. --thread deploy-42; inside a CI run the run is the default",
                )
            })?;
            Some(ThreadMode {
                key: ci.thread_key(),
                update: false,
                broadcast: args.broadcast,
            })
        }
        (Some(key), _) => Some(ThreadMode {
            key,
            update: false,
            broadcast: args.broadcast,
        }),
        (None, Some(key)) => Some(ThreadMode {
            key,
            update: true,
            broadcast: false,
        }),
        (None, None) => None,
    };
    Ok(Send {
        ci,
        thread,
        spool,
        queue: args.queue,
        no_spool: args.no_spool,
        profile,
        selection,
        channel: args.target.channel,
        template: args.template,
        input,
        timeout,
        dry_run: args.dry_run,
        json: args.json,
        output: output(global),
        env,
    })
}

/// Unknown names on the command line are configuration errors (exit 78), and
/// caught before stdin is read or anything is sent.
fn check_names(
    profile: &Profile,
    selection: &Selection,
    template: Option<&str>,
) -> Result<(), Failure> {
    let unknown = |noun: &str, name: &str, origin: &str, help: String| {
        Failure::config(format!("unknown {noun} `{name}` ({origin})")).with_hint(help)
    };
    match selection {
        Selection::Destinations(names) => {
            if let Some(name) = names
                .iter()
                .find(|n| !profile.destinations.contains_key(*n))
            {
                let help = config::known_list("destination", name, &profile.destinations);
                return Err(unknown("destination", name, "from --to", help));
            }
        }
        Selection::Routes(names, origin) => {
            if let Some(name) = names.iter().find(|n| !profile.routes.contains_key(*n)) {
                let help = config::known_list("route", name, &profile.routes);
                return Err(unknown("route", name, origin, help));
            }
        }
        Selection::Auto => {}
    }
    if let Some(name) = template.filter(|t| !profile.templates.contains_key(*t)) {
        let help = config::known_list("template", name, &profile.templates);
        return Err(unknown("template", name, "from --template", help));
    }
    Ok(())
}

/// TEXT is the joined arguments; `-`, or no TEXT with stdin not a terminal, reads stdin.
fn read_text(
    input: &mut Input,
    args: Vec<String>,
    json_input: bool,
    has_template: bool,
    level_given: bool,
) -> Result<(), Failure> {
    let wants_stdin = args == ["-"] || (args.is_empty() && !std::io::stdin().is_terminal());
    if !wants_stdin {
        input.text = args.join(" ");
        return Ok(());
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_STDIN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::from(e).caused_by("while reading stdin"))?;
    if bytes.len() as u64 > MAX_STDIN {
        return Err(Failure::usage(format!(
            "stdin holds more than {} MiB, more than a message should; nothing was sent",
            MAX_STDIN >> 20
        ))
        .with_hint("stream it with `chime pipe`, or send its end: `tail -n 200 | chime send`"));
    }
    // Invalid UTF-8 is replaced, never fatal: a log with a stray byte must still go out.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if json_input || has_template {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => return json_vars(input, map, level_given),
            Ok(_) if json_input => {
                return Err(Failure::usage(
                    "--json-input: stdin is JSON but not an object",
                ));
            }
            Err(err) if json_input => {
                return Err(
                    Failure::usage(format!("--json-input: stdin is not JSON ({err})")).with_hint(
                        "pipe a JSON object like {\"text\": \"…\"}, or drop --json-input",
                    ),
                );
            }
            _ => {}
        }
    }
    input.text = text.trim_end_matches(['\n', '\r']).to_owned();
    Ok(())
}

/// A JSON object's keys become template variables; `text`, `title` and `level`
/// also fill those parts of the message when no flag did.
fn json_vars(
    input: &mut Input,
    map: serde_json::Map<String, serde_json::Value>,
    level_given: bool,
) -> Result<(), Failure> {
    let string = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(text) = string("text") {
        input.text = text;
    }
    if input.title.is_none() {
        input.title = string("title");
    }
    if !level_given && let Some(level) = string("level") {
        input.level = Level::parse(&level).ok_or_else(|| {
            Failure::usage(format!(
                "stdin: `level` is `{level}`; expected info, success, warning, error or critical"
            ))
        })?;
    }
    input.json = map;
    Ok(())
}
