//! Which lanes each line goes to: the destinations `--to`, `--route` or the
//! rules name, each level settled before anything is read.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Action, Rule};
use crate::exit::Failure;
use crate::kinds::Target;
use crate::message::{Level, Message};
use crate::report;
use crate::settings::{Pipe, Selection};
use crate::stream::journal::{self, Header, Journal, LaneSpec};
use crate::template;

use super::Chunk;
use super::lane::Lane;
use super::moves::blocked;

/// Which lanes each line goes to.
pub(super) struct Router<'p> {
    pub(super) pipe: &'p Pipe,
    pub(super) lanes: Vec<Lane<'p>>,
    /// For `--to`/`--route`: every lane. For rules: lanes per level.
    pub(super) by_level: BTreeMap<u8, Vec<usize>>,
    pub(super) fixed: Option<Vec<usize>>,
    /// The input's offset past what was ingested.
    pub(super) read: u64,
}

/// Where the lines of one level go.
pub(super) enum Way<'p> {
    Route(&'p str),
    /// Nowhere: the rule at this place (from 1) drops them.
    Dropped(usize),
    /// Nowhere: no rule matched and the profile has no default route.
    Unrouted,
}

impl<'p> Router<'p> {
    pub(super) fn new(pipe: &'p Pipe) -> Result<Router<'p>, Failure> {
        let mut router = Router {
            pipe,
            lanes: Vec::new(),
            by_level: BTreeMap::new(),
            fixed: None,
            read: 0,
        };
        let profile = &pipe.profile;
        let targets: Option<Vec<(&str, Option<&str>)>> = match &pipe.selection {
            Selection::Destinations(names) => {
                Some(names.iter().map(|n| (n.as_str(), None)).collect())
            }
            Selection::Routes(names, _) => {
                Some(router.route_targets(names.iter().map(String::as_str)))
            }
            Selection::Auto if profile.rules.is_empty() => match router.auto_route(pipe.level)? {
                Way::Route(default) => Some(router.route_targets([default])),
                _ => return Err(no_route()),
            },
            Selection::Auto => {
                router.route_levels()?;
                None
            }
        };
        if let Some(targets) = targets {
            let lanes = targets
                .into_iter()
                .map(|(name, channel)| router.lane(name, channel))
                .collect();
            router.fixed = Some(lanes);
        }
        Ok(router)
    }

    pub(super) fn route_targets<'n>(
        &self,
        routes: impl IntoIterator<Item = &'n str>,
    ) -> Vec<(&'p str, Option<&'p str>)>
    where
        'p: 'n,
    {
        let mut out: Vec<(&'p str, Option<&'p str>)> = Vec::new();
        for name in routes {
            let route = &self.pipe.profile.routes[name];
            for dest in &route.to {
                if !out.iter().any(|(d, _)| d == dest) {
                    out.push((dest.as_str(), route.channel.as_deref()));
                }
            }
        }
        out
    }

    /// The lane for `name` in the channel a route names, created on first
    /// use: two routes to one destination in two channels are two streams.
    pub(super) fn lane(&mut self, name: &str, route_channel: Option<&'p str>) -> usize {
        let channel = self
            .pipe
            .channel
            .as_deref()
            .or(route_channel)
            .map(str::to_owned);
        let same = |l: &Lane| l.destination.name == name && l.target.channel == channel;
        if let Some(i) = self.lanes.iter().position(same) {
            return i;
        }
        let destination = &self.pipe.profile.destinations[name];
        let target = Target {
            channel,
            ..Target::default()
        };
        let mut lane = Lane::new(destination, target, self.pipe.file_over);
        // What is said of a destination is said once for all its channels.
        if let Some(other) = self.lanes.iter().find(|l| l.destination.name == name) {
            lane.told = std::rc::Rc::clone(&other.told);
        }
        self.lanes.push(lane);
        self.lanes.len() - 1
    }

    /// Settles, before anything is read, where a line of each level it may
    /// have goes, so that no line read can stop the stream for want of a
    /// route. Levels no rule and no default route send anywhere are not sent,
    /// and said so now.
    pub(super) fn route_levels(&mut self) -> Result<(), Failure> {
        let base = self.pipe.level;
        let raised = [Level::Warning, Level::Error, Level::Critical];
        let mut levels = vec![base];
        if self.pipe.level_from_line {
            levels.extend(raised.into_iter().filter(|l| *l > base));
        }
        let mut unrouted = Vec::new();
        for level in levels {
            match self.auto_route(level)? {
                Way::Route(route) => {
                    let targets = self.route_targets([route]);
                    let lanes = targets.into_iter().map(|(n, c)| self.lane(n, c)).collect();
                    self.by_level.insert(level as u8, lanes);
                }
                // Dropped on purpose: no lane, and no warning of a level unrouted.
                Way::Dropped(rule) => {
                    if self.pipe.output.verbose {
                        eprintln!("chime: rule {rule} drops lines at level {}", level.as_str());
                    }
                    self.by_level.insert(level as u8, Vec::new());
                }
                Way::Unrouted => unrouted.push(level.as_str()),
            }
        }
        if self.by_level.is_empty() {
            return Err(no_route());
        }
        if !unrouted.is_empty() {
            let text = format!(
                "lines at level {} match no rule, and the profile has no [defaults] route: they are not sent",
                unrouted.join(", ")
            );
            report::warning(self.pipe.output, &text);
        }
        Ok(())
    }

    /// The route rules pick for a line of `level`, if any. In a stream, rules
    /// see the level (raised per line with --level-from-line), not the text.
    pub(super) fn auto_route(&self, level: Level) -> Result<Way<'p>, Failure> {
        let profile = &self.pipe.profile;
        let mut vars = template::surroundings(&self.pipe.env, self.pipe.ci.as_ref());
        let empty: [(&str, &str); 0] = [];
        vars.insert("level".into(), level.as_str().into());
        vars.insert(
            "title".into(),
            self.pipe.title.clone().unwrap_or_default().into(),
        );
        vars.insert("text".into(), "".into());
        vars.insert("fields".into(), minijinja::Value::from_iter(empty));
        let vars = minijinja::Value::from(vars);
        Ok(match profile.first_rule(&vars)? {
            Some((
                _,
                Rule {
                    action: Action::Route(route),
                    ..
                },
            )) => Way::Route(route),
            Some((rule, _)) => Way::Dropped(rule),
            None => match profile.default_route.as_deref() {
                Some(route) => Way::Route(route),
                None => Way::Unrouted,
            },
        })
    }

    /// Where a line of `level` goes: settled when the stream started.
    pub(super) fn lanes_for(&self, level: Level) -> Vec<usize> {
        match &self.fixed {
            Some(fixed) => fixed.clone(),
            None => self
                .by_level
                .get(&(level as u8))
                .cloned()
                .unwrap_or_default(),
        }
    }

    pub(super) fn ingest(&mut self, chunk: Chunk) {
        for line in &chunk.lines {
            for lane in self.lanes_for(line.level) {
                self.lanes[lane].push(line);
            }
        }
        self.read = self.read.max(chunk.end);
    }

    pub(super) fn close_due(&mut self, interval: Duration, now: Instant) {
        for lane in &mut self.lanes {
            if lane.packer.opened.is_some_and(|t| now >= t + interval) {
                lane.packer.close();
            }
        }
    }

    pub(super) fn close_all(&mut self) {
        self.lanes.iter_mut().for_each(|l| l.packer.close());
    }

    /// When something next needs doing: a batch's interval ends, or a lane's
    /// pace allows a send (or its spool's next entry is due).
    pub(super) fn next_wakeup(&self, interval: Duration) -> Option<Instant> {
        let closes = self
            .lanes
            .iter()
            .filter_map(|l| l.packer.opened.map(|t| t + interval));
        // A lane waiting for another lane of its destination is woken by
        // that lane's end, not by its own pace.
        let lanes = self.lanes.iter().enumerate();
        let free = lanes.filter(|&(index, _)| !blocked(&self.lanes, index));
        let sends = free.filter_map(|(_, lane)| lane.wants_at());
        closes.chain(sends).min()
    }

    /// How far into the input each lane is done.
    pub(super) fn floors(&self) -> Vec<u64> {
        self.lanes.iter().map(|l| l.floor(self.read)).collect()
    }

    /// Lets the journal forget the segments every lane is done with.
    pub(super) fn trim_journal(&self, journal: &Mutex<Option<Journal>>) {
        if let Ok(mut guard) = journal.lock()
            && let Some(journal) = guard.as_mut()
        {
            journal.trim(&self.floors());
        }
    }

    /// What the journal must know to replay this stream.
    pub(super) fn header(&self) -> Header {
        let pipe = self.pipe;
        let lanes = self
            .lanes
            .iter()
            .map(|l| LaneSpec {
                destination: l.destination.name.clone(),
                channel: l.target.channel.clone(),
            })
            .collect();
        let mut routes = BTreeMap::new();
        match &self.fixed {
            Some(fixed) => {
                routes.insert(journal::ALL_LEVELS.to_owned(), fixed.clone());
            }
            None => {
                for level in Level::ALL {
                    routes.insert(level.as_str().to_owned(), self.lanes_for(level));
                }
            }
        }
        // What CI adds to every message (its context, a link to the run).
        let mut proto = Message {
            title: None,
            text: String::new(),
            level: pipe.level,
            fields: Vec::new(),
            links: Vec::new(),
            code: pipe.code,
            host: pipe.host.clone(),
            time: SystemTime::now(),
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        };
        if let Some(ci) = &pipe.ci {
            ci.annotate(&mut proto);
        }
        Header {
            version: 1,
            lanes,
            routes,
            grep: pipe.grep.as_ref().map(|re| re.as_str().to_owned()),
            level: pipe.level,
            level_from_line: pipe.level_from_line,
            title: pipe.title.clone(),
            code: pipe.code,
            host: pipe.host.clone(),
            context: proto.context,
            links: proto.links.into_iter().map(|l| (l.label, l.url)).collect(),
            settled: Vec::new(),
            carry_offset: 0,
            carry_cut: None,
        }
    }
}

pub(super) fn no_route() -> Failure {
    Failure::config(
        "no route for this stream: no rule matched and the profile has no [defaults] route",
    )
    .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
}
