//! Resolving `chime flush`: the profile named, or every profile with messages
//! waiting, each loaded as it was when they were queued.

use super::*;

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
    /// Whether it runs in CI (`Threads::searching`).
    pub in_ci: bool,
}

/// One profile's spool, and the profile to deliver it with, or why that
/// profile could not be loaded (its messages then wait).
pub struct Flushable {
    pub spool: Spool,
    pub profile: Result<Profile, Failure>,
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
        in_ci: crate::ci::Ci::detect(&env).is_some(),
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
        let waiting = spool.has_any_pending() || spool.has_any_held() || state.has_windows();
        if !(waiting || is_default && default.path.is_file()) {
            continue;
        }
        let location = state.location(env);
        let adhoc = location.as_ref().and_then(|l| l.name.as_deref());
        let profile = match (
            adhoc.and_then(|name| super::url::flushing(name, env)),
            location,
        ) {
            (Some(profile), _) => profile,
            (None, Some(location)) => config::load(&location, env).map_err(Failure::from),
            (None, None) => Err(Failure::config("its profile file is not known")),
        };
        if is_default && let Err(failure) = profile {
            return Err(failure);
        }
        if let Ok(profile) = &profile {
            super::share(&state, profile, global);
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
