//! `chime spool list --dest NAME`: a name checked against what knows it.
//!
//! A name with nothing queued is an answer ("no pending messages for
//! NAME"); a typo must not pass for one, so a name neither a profile nor a
//! spool knows is a usage error naming those that are known. The profiles
//! are read only when a spool does not know the name, and only for their
//! destinations' names (not validated, their secrets not needed): listing
//! never needs a profile that works.

use std::collections::BTreeMap;

use super::{EnvVars, environment, locate, profile_named};
use crate::cli::{GlobalArgs, SpoolCommand};
use crate::config;
use crate::exit::Failure;
use crate::spool::{Spool, State};
use crate::state::StateDir;

/// Refuses a `spool list --dest` that names no destination anyone knows.
pub fn check_dest(
    global: &GlobalArgs,
    spools: &[Spool],
    command: &SpoolCommand,
) -> Result<(), Failure> {
    let SpoolCommand::List(args) = command else {
        return Ok(());
    };
    let mut known: BTreeMap<String, ()> = BTreeMap::new();
    for spool in spools {
        for state in [State::Pending, State::Dead] {
            let names = spool.destinations(state).unwrap_or_default();
            known.extend(names.into_iter().map(|name| (name, ())));
        }
    }
    let unknown =
        |known: &BTreeMap<String, ()>| args.dest.iter().find(|n| !known.contains_key(*n)).cloned();
    if unknown(&known).is_none() {
        return Ok(());
    }
    let env = environment();
    known.extend(profile_destinations(global, &env).map(|name| (name, ())));
    match unknown(&known) {
        None => Ok(()),
        Some(name) => Err(Failure::usage(format!(
            "no destination `{name}` in the profile or the spool (from --dest)"
        ))
        .with_hint(config::known_list("destination", &name, &known))),
    }
}

/// The destinations of the profile chime would use and, when none is named,
/// of every profile with a spool; a profile that cannot be read has none.
fn profile_destinations(global: &GlobalArgs, env: &EnvVars) -> impl Iterator<Item = String> {
    let mut locations = vec![locate(global, env).ok()];
    if !profile_named(global, env)
        && let Ok(dir) = StateDir::open(env)
    {
        let profiles = dir.profiles().unwrap_or_default();
        locations.extend(profiles.iter().map(|state| state.location(env)));
    }
    let locations = locations.into_iter().flatten();
    locations.flat_map(|location| config::destination_names(&location))
}
