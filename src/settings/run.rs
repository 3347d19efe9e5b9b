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
    /// No report was asked for: only `--ping`, with no profile, route or
    /// URL to report to. A missing profile is then not worth a word.
    pub ping_only: bool,
    /// Where the heartbeats go, or why they cannot (told before the command
    /// starts, as the first ping would have gone then).
    pub pings: Result<Vec<PingTo>, Failure>,
    /// `--dry-run`: the pings are shown, not sent.
    pub dry_run: bool,
}

/// Where a job's report goes.
pub struct Reporting {
    /// The send settings the report goes out with; its text and title are filled in here.
    pub send: Send,
    /// Where `--on change` keeps each job's last outcome (the profile's `runs/`).
    pub runs: crate::state::Runs,
}

/// One heartbeat destination of a job.
pub struct PingTo {
    pub destination: String,
    pub place: PingPlace,
}

/// Where a ping's destination is declared, and its spool kept.
pub enum PingPlace {
    /// In the profile the report goes through: the job's `Reporting`.
    Report,
    /// A URL typed after `--ping`: no profile holds it, so a ping that cannot
    /// go waits in that URL's own spool for the next run with it.
    Typed { profile: Box<Profile>, spool: Spool },
}

/// Resolves `chime run`. The command runs whatever the profile says, so
/// trouble with the report's settings is kept in the job, to be told after
/// the command has run (see `run`).
pub fn job(global: &GlobalArgs, args: RunArgs) -> Job {
    let name = args.name.unwrap_or_else(|| args.command.join(" "));
    let output = output(global);
    let env = environment();
    let ping_only = !args.ping.is_empty() && nothing_to_report_to(global, &args.target, &env);
    let report = reporting(global, args.target, args.template, output).map(|mut r| {
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
    });
    Job {
        pings: pings(&args.ping, &report, &env),
        report,
        ping_only,
        dry_run: args.dry_run,
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

/// Whether nothing says where a report would go: no route, destination or
/// URL, and no profile file where the default one would be.
fn nothing_to_report_to(global: &GlobalArgs, target: &Where, env: &EnvVars) -> bool {
    let set = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
    let named = !target.routes.is_empty()
        || !target.to.is_empty()
        || global.config.is_some()
        || global.profile.is_some()
        || ["CHIME_URL", "CHIME_ROUTE", "CHIME_CONFIG", "CHIME_PROFILE"]
            .into_iter()
            .any(set);
    !named && locate(global, env).is_ok_and(|location| !location.path.exists())
}

/// The job's heartbeat destinations: each `--ping` (a URL, or a destination
/// of the profile) and the `ping` of each route the report goes through.
fn pings(
    given: &[String],
    report: &Result<Reporting, Failure>,
    env: &EnvVars,
) -> Result<Vec<PingTo>, Failure> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    for ping in given {
        if url::is_url(ping) {
            out.push(typed_ping(ping, env)?);
        } else {
            names.push(ping.clone());
        }
    }
    let Ok(reporting) = report else {
        return match names.first() {
            // The report says what is wrong with the profile, after the job.
            None => Ok(out),
            Some(name) => Err(Failure::usage(format!(
                "--ping {name} names a destination, and the profile could not be read"
            ))
            .with_hint(
                "fix the profile (its trouble is told after the command), or give the ping URL",
            )),
        };
    };
    let profile = &reporting.send.profile;
    let routes = match &reporting.send.selection {
        Selection::Routes(routes, _) => routes.clone(),
        Selection::Auto => profile.default_route.iter().cloned().collect(),
        Selection::Destinations(_) => Vec::new(),
    };
    names.extend(
        routes
            .iter()
            .filter_map(|route| profile.routes.get(route)?.ping.clone()),
    );
    names.sort();
    names.dedup();
    for name in names {
        out.push(named_ping(profile, name)?);
    }
    Ok(out)
}

/// A ping to the profile's destination `name`, which must take heartbeats.
fn named_ping(profile: &Profile, name: String) -> Result<PingTo, Failure> {
    let Some(destination) = profile.destinations.get(&name) else {
        return Err(
            Failure::usage(format!("--ping names no destination `{name}`")).with_hint(
                config::known_list("destination", &name, &profile.destinations),
            ),
        );
    };
    if destination.platform.kind() != "healthchecks" {
        return Err(Failure::usage(format!(
            "--ping {name}: a {} destination takes messages, not heartbeats",
            destination.platform.kind()
        ))
        .with_hint("give a ping URL, or a destination of `kind = \"healthchecks\"`"));
    }
    Ok(PingTo {
        destination: name,
        place: PingPlace::Report,
    })
}

/// A ping URL typed on the command line, as its own profile-less destination.
fn typed_ping(ping: &str, env: &EnvVars) -> Result<PingTo, Failure> {
    let adhoc = url::adhoc(&[ping.to_owned()], &[], Some("healthchecks"), env)?
        .expect("a URL makes a destination");
    Ok(PingTo {
        destination: url::URL_DEST.to_owned(),
        place: PingPlace::Typed {
            spool: adhoc.state.spool(),
            profile: Box::new(adhoc.profile),
        },
    })
}
