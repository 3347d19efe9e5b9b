//! A route's `ping`, checked once the profile's destinations are read: it
//! names a heartbeat (`kind = "healthchecks"`), and one the route does not
//! also send its messages to.

use std::collections::BTreeMap;

use super::{Destination, Route};
use crate::fields::Problem;

/// A route's `ping` is a heartbeat: it must name a destination that takes
/// pings, not one that would post each run as a message.
pub(super) fn are_heartbeats(
    routes: &BTreeMap<String, Route>,
    destinations: &BTreeMap<String, Destination>,
    problems: &mut Vec<Problem>,
) {
    for (name, route) in routes {
        let Some(ping) = &route.ping else { continue };
        if route.to.contains(ping) {
            let message = format!(
                "route `{name}` pings `{ping}` and lists it in `to`: each reported run would ping it twice, once without its run id"
            );
            let help = format!("keep `ping = \"{ping}\"` and take `{ping}` out of `to`");
            problems.push(Problem::new(None, message).help(help));
        }
        if let Some(destination) = destinations.get(ping)
            && destination.platform.kind() != "healthchecks"
        {
            let message = format!(
                "route `{name}` pings `{ping}`, a {} destination: `ping` names a healthchecks destination",
                destination.platform.kind()
            );
            let help = "declare the check as `kind = \"healthchecks\"` with its ping URL, or list this destination in `to`";
            problems.push(Problem::new(None, message).help(help));
        }
    }
}
