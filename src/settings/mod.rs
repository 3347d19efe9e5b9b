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

mod ask;
mod files;
mod flush;
mod pipe;
mod probe;
mod run;
mod send;
mod spool;
mod url;

pub use crate::config::DEFAULT_TIMEOUT;
pub use ask::{Ask, ask};
pub use flush::{Flush, Flushable, flush};
pub use pipe::{Pipe, pipe};
pub use probe::{Probe, probe};
pub use run::{Job, PingPlace, PingTo, job};
pub use send::{Input, Send, send};
pub use spool::check_dest;

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
    let profile = load(&location, env, global)?;
    let state = open_state(&location, env)?;
    share(&state, &profile, global);
    Ok((profile, state))
}

/// Says where the profile's state is shared with other hosts, if it is.
fn share(state: &ProfileState, profile: &Profile, global: &GlobalArgs) {
    crate::state::shared::attach(&state.dir, profile.state.as_ref(), global.quiet);
}

/// Loads the profile at `location`, warning of secrets other users may read.
fn load(
    location: &config::Location,
    env: &EnvVars,
    global: &GlobalArgs,
) -> Result<Profile, Failure> {
    let profile = config::load(location, env)?;
    for warning in profile.exposures() {
        crate::report::warning(output(global), &warning);
    }
    Ok(profile)
}

/// The state of the profile at `location`, checked for trust.
fn open_state(location: &config::Location, env: &EnvVars) -> Result<ProfileState, Failure> {
    match StateDir::open(env).and_then(|dir| dir.profile(location)) {
        Ok(state) => Ok(state),
        // Never use what someone else may have planted.
        Err(err @ SpoolError::Untrusted { .. }) => Err(Failure::from(err)),
        // A disk that is full or read-only must not stop a message that can
        // go now; what cannot go is then reported as not kept.
        Err(err) => StateDir::unusable(env, location).ok_or_else(|| Failure::from(err)),
    }
}

/// The profile, its state and where the message goes, for a command with
/// `--to`/`--route`: a profile-less URL (see `url.rs`) or the profile's
/// destinations. The flag is true when what cannot go now must not be kept
/// (a URL typed on the command line cannot be found again by a flush).
fn target(
    global: &GlobalArgs,
    env: &EnvVars,
    target: &Where,
    template: Option<&str>,
) -> Result<(Profile, ProfileState, Selection, bool), Failure> {
    if let Some(adhoc) = url::adhoc(&target.to, &target.routes, target.kind.as_deref(), env)? {
        let selection = Selection::Destinations(vec![url::URL_DEST.to_owned()]);
        check_names(&adhoc.profile, &selection, template)?;
        share(&adhoc.state, &adhoc.profile, global);
        let unkept = adhoc.origin == url::UrlOrigin::Args;
        return Ok((adhoc.profile, adhoc.state, selection, unkept));
    }
    if target.kind.is_some() {
        return Err(Failure::usage("--kind goes with --to URL or CHIME_URL")
            .with_hint("a profile's destinations have their kind in the profile"));
    }
    let (profile, state) = profile_and_spool(global, env)?;
    let selection = selection(target.to.clone(), target.routes.clone(), env);
    check_names(&profile, &selection, template)?;
    Ok((profile, state, selection, false))
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

/// The profile whose state holds `spool`, for `chime spool drop` of a
/// message a platform holds (its cancelling needs the destination's
/// credentials): loaded as a flush of every profile loads it.
pub fn profile_of(spool: &Spool) -> Result<Profile, Failure> {
    let env = environment();
    let dir = spool.root().parent().unwrap_or(spool.root()).to_path_buf();
    let key = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let state = ProfileState {
        key: key.unwrap_or_default(),
        dir,
    };
    let location = state.location(&env);
    let adhoc = location.as_ref().and_then(|l| l.name.as_deref());
    match (adhoc.and_then(|name| url::flushing(name, &env)), location) {
        (Some(profile), _) => profile,
        (None, Some(location)) => config::load(&location, &env).map_err(Failure::from),
        (None, None) => Err(Failure::config("its profile file is not known")),
    }
}

/// The spools `chime spool …` would look at, as far as they are there and
/// can be trusted, for completing entry ids: nothing is created, and what
/// fails is left out without a word.
pub fn spools_if_there(global: &GlobalArgs) -> Vec<Spool> {
    let env = environment();
    let Some(dir) = StateDir::if_there(&env) else {
        return Vec::new();
    };
    if profile_named(global, &env) {
        let state = locate(global, &env)
            .ok()
            .and_then(|location| dir.profile_if_there(&location));
        return state.iter().map(ProfileState::spool).collect();
    }
    let profiles = dir.profiles().unwrap_or_default();
    profiles.iter().map(ProfileState::spool).collect()
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
    load(&location, env, global)
}

/// `--timeout`, else `CHIME_TIMEOUT`.
fn timeout(flag: Option<Duration>, env: &EnvVars) -> Result<Option<Duration>, Failure> {
    match (flag, env.get("CHIME_TIMEOUT").filter(|v| !v.is_empty())) {
        (Some(timeout), _) => Ok(Some(timeout)),
        (None, Some(text)) => crate::cli::parse_timeout(text).map(Some).map_err(|e| {
            Failure::usage(format!("CHIME_TIMEOUT: {e}"))
                .with_hint("set it like CHIME_TIMEOUT=10s, or unset it to use the profile's")
        }),
        (None, None) => Ok(None),
    }
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

/// This machine's name, for messages.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
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
