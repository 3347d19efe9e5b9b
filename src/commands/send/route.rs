//! Where a send goes: `--to`, the routes named, the first rule that
//! matches, or the default route; and what `--thread`/`--update` mean for
//! each destination's kind.

use minijinja::value::Value;

use super::super::outcome::Dropped;
use super::Delivery;
use crate::config::{Action, Destination, Profile, Rule};
use crate::exit::Failure;
use crate::kinds::{Alert, Target, ThreadRef, Threading};
use crate::report;
use crate::settings::{Selection, Send};

/// A route picked by the rules, with the dedupe its rule sets.
pub(super) type Chosen<'p> = (&'p str, Option<&'p crate::timing::Dedupe>);

/// Where a send goes, or the rule that dropped it.
pub(super) enum Resolved<'p> {
    To(Vec<Delivery<'p>>),
    Dropped(Dropped),
}

/// Picks the destinations: `--to`, else the routes named, else the first rule
/// that matches, else the profile's default route. A destination reached by
/// several routes gets the message once, with the first route's settings.
/// A drop rule is met only on the way through the rules: a route or
/// destination named is sent to, whatever the rules say.
pub(super) fn resolve<'p>(send: &'p Send, vars: &Value) -> Result<Resolved<'p>, Failure> {
    let profile = &send.profile;
    let mut rule_dedupe = None;
    let routes: Vec<&str> = match &send.selection {
        Selection::Destinations(names) => {
            return Ok(Resolved::To(
                names
                    .iter()
                    .map(|name| delivery(send, &profile.destinations[name], None, None))
                    .collect(),
            ));
        }
        Selection::Routes(names, _) => names.iter().map(String::as_str).collect(),
        Selection::Auto => match auto_route(profile, vars)? {
            Ok((route, dedupe)) => {
                rule_dedupe = dedupe;
                vec![route]
            }
            Err(dropped) => return Ok(Resolved::Dropped(dropped)),
        },
    };
    let mut out: Vec<Delivery> = Vec::new();
    for name in routes {
        let route = &profile.routes[name];
        for dest in &route.to {
            if out.iter().any(|d| &d.destination.name == dest) {
                continue;
            }
            let destination = &profile.destinations[dest];
            let mut chosen = delivery(
                send,
                destination,
                route.channel.as_deref(),
                route.template.as_deref(),
            );
            chosen.route = Some((name, &route.timing));
            chosen.dedupe = rule_dedupe.or(route.timing.dedupe.as_ref());
            out.push(chosen);
        }
    }
    Ok(Resolved::To(out))
}

pub(super) fn delivery<'p>(
    send: &'p Send,
    destination: &'p Destination,
    route_channel: Option<&'p str>,
    route_template: Option<&'p str>,
) -> Delivery<'p> {
    let channel = send.channel.as_deref().or(route_channel).map(str::to_owned);
    Delivery {
        destination,
        target: Target {
            channel,
            ..Target::default()
        },
        template: send.template.as_deref().or(route_template),
        thread: None,
        route: None,
        dedupe: None,
    }
}

/// Gives each destination what `--thread`/`--update` mean for its kind: a
/// key its parts carry (resolved when they are sent), or a key the platform
/// threads by itself; a kind that cannot thread or edit posts normally, and
/// says so.
pub(super) fn keys(send: &Send, deliveries: &mut [Delivery]) {
    let Some(mode) = &send.thread else { return };
    let thread = ThreadRef {
        key: mode.key.clone(),
        edit: mode.update,
        broadcast: mode.broadcast,
    };
    for delivery in deliveries {
        let platform = &delivery.destination.platform;
        // An alerting kind's key names its alert instead (see `alerts`).
        if platform.alerts() {
            continue;
        }
        let warn = |what: &str| {
            let name = &delivery.destination.name;
            let text = format!(
                "{name} ({}) cannot {what}; posting normally",
                platform.kind()
            );
            report::warning(send.output, &text);
        };
        if mode.update {
            match platform.edits() {
                true => delivery.thread = Some(thread.clone()),
                false => warn("edit messages"),
            }
            continue;
        }
        match platform.threading() {
            Threading::ByMessage => delivery.thread = Some(thread.clone()),
            Threading::ByKey => delivery.target.thread_key = Some(mode.key.clone()),
            Threading::Fixed => {}
            Threading::Unsupported => warn("thread messages"),
        }
    }
}

/// Gives each alerting destination (pagerduty, opsgenie) the alert its event is
/// about: keyed by `--dedupe KEY`, else `--thread`/`--update KEY`, else the
/// job's name (`chime run`), and triggered unless the send says otherwise.
/// `--resolve` or `--acknowledge` typed for a send that reaches no
/// alerting kind is a mistake: nothing would resolve, and the message
/// would post as news.
pub(super) fn alerts(send: &Send, deliveries: &mut [Delivery]) -> Result<(), Failure> {
    let key = send
        .dedupe
        .as_ref()
        .map(|d| d.key.clone())
        .or_else(|| send.thread.as_ref().map(|t| t.key.clone()))
        .or_else(|| send.alert.key.clone());
    let mut alerting = deliveries
        .iter_mut()
        .filter(|d| d.destination.platform.alerts())
        .peekable();
    if send.alert.typed && alerting.peek().is_none() {
        let flag = format!("--{}", send.alert.action.as_str());
        return Err(Failure::usage(format!(
            "{flag} is for alerting kinds (pagerduty, opsgenie), and this message goes to none"
        ))
        .with_hint(
            "send it to a pagerduty or opsgenie destination, or drop the flag to post the message",
        ));
    }
    for delivery in alerting {
        delivery.target.alert = Alert {
            key: key.clone(),
            action: send.alert.action,
        };
    }
    Ok(())
}

/// The route the rules pick, else the default route; or the drop rule that
/// matched first.
pub(super) fn auto_route<'p>(
    profile: &'p Profile,
    vars: &Value,
) -> Result<Result<Chosen<'p>, Dropped>, Failure> {
    match profile.first_rule(vars)? {
        Some((
            _,
            Rule {
                action: Action::Route(route),
                dedupe,
                ..
            },
        )) => return Ok(Ok((route, dedupe.as_ref()))),
        Some((rule, matched)) => {
            let when = matched.shown_when();
            return Ok(Err(Dropped { rule, when }));
        }
        None => {}
    }
    let route = profile
        .default_route
        .as_deref()
        .map(|route| Ok((route, None)));
    route.ok_or_else(|| {
        Failure::config(format!(
            "no route for this message: no rule matched and {} has no [defaults] route",
            profile.path.display()
        ))
        .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
    })
}
