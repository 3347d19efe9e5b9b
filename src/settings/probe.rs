//! Resolving `chime test`: which destinations, and with what timeout.

use super::*;

/// Everything `chime test` needs.
pub struct Probe {
    pub profile: Profile,
    /// The destinations to test, in the profile's order when none were named.
    pub destinations: Vec<String>,
    /// From `--timeout` or `CHIME_TIMEOUT`; overrides the destination's and the profile's.
    pub timeout: Option<Duration>,
    /// `--json`: a line per destination instead of the table.
    pub json: bool,
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
    let adhoc = match args.dests.is_empty() {
        true => url::adhoc(args.to.as_slice(), &[], args.kind.as_deref(), &env)?,
        false => None,
    };
    if let Some(adhoc) = adhoc {
        return Ok(Probe {
            profile: adhoc.profile,
            destinations: vec![url::URL_DEST.to_owned()],
            timeout,
            json: args.json,
            output: output(global),
        });
    }
    if args.to.is_some() || args.kind.is_some() {
        return Err(Failure::usage("--to takes a webhook URL (https://…)")
            .with_hint("name a profile's destinations without --to: `chime test DEST`"));
    }
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
        json: args.json,
        output: output(global),
    })
}
