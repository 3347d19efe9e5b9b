//! Resolving `chime send`: the message from its flags, stdin or a JSON event,
//! where it goes, and how it relates to earlier ones (`--thread`).

use super::*;
use crate::event::{Event, Object};

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
    /// What a JSON object on stdin, or `--event`, shows when no template
    /// renders the message (`commands/send.rs` decides).
    pub event: Option<crate::event::Event>,
    /// `--event NAME`: the `event` variable, over a JSON object's.
    pub event_name: Option<String>,
    pub code: bool,
    /// `--file`s, in order.
    pub files: Vec<crate::kinds::FileRef>,
    /// `--file-url`s: files already online.
    pub file_urls: Vec<Link>,
    /// What `--file -` read from stdin, kept until the send is done.
    pub stash: Option<std::path::PathBuf>,
}

/// `--dedupe KEY`, with the window it was given, if one was.
#[derive(Clone, Debug)]
pub struct DedupeAsk {
    pub key: String,
    pub window: Option<Duration>,
}

impl DedupeAsk {
    /// `--dedupe KEY` with its `--dedupe-window`, if KEY was given.
    pub fn of(key: Option<String>, window: Option<Duration>) -> Option<DedupeAsk> {
        key.map(|key| DedupeAsk { key, window })
    }
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
    /// `--at` or `--in`: when the message is to go, if not now.
    pub at: Option<std::time::SystemTime>,
    /// `--dedupe KEY` (and its `--dedupe-window`).
    pub dedupe: Option<DedupeAsk>,
    pub output: Output,
    pub env: EnvVars,
    /// The CI run chime is part of, if any.
    pub ci: Option<Ci>,
    /// A failing template falls back to the message without it, with a
    /// warning: `chime run`'s report is never lost to a template.
    pub template_fallback: bool,
    /// What the event does to its alert, on alerting kinds (pagerduty, opsgenie).
    pub alert: AlertAsk,
}

/// `--resolve` or `--acknowledge`, or what `chime run`'s outcome makes of its
/// report, and the alert's key when no flag names one.
#[derive(Clone, Debug, Default)]
pub struct AlertAsk {
    pub action: crate::kinds::AlertAction,
    /// Typed as a flag: a send none of whose destinations alert is then a
    /// mistake, not a message to post.
    pub typed: bool,
    /// The key when neither --dedupe nor --thread/--update names one:
    /// `chime run`'s job name.
    pub key: Option<String>,
}

impl AlertAsk {
    /// `--resolve` or `--acknowledge`, which need the alert's key: PagerDuty
    /// drops a resolve it cannot match to an alert.
    fn typed(
        resolve: bool,
        acknowledge: bool,
        dedupe: &Option<String>,
        thread: &Option<ThreadMode>,
    ) -> Result<AlertAsk, Failure> {
        use crate::kinds::AlertAction;
        let (action, flag) = match (resolve, acknowledge) {
            (true, _) => (AlertAction::Resolve, "--resolve"),
            (false, true) => (AlertAction::Acknowledge, "--acknowledge"),
            (false, false) => return Ok(AlertAsk::default()),
        };
        if dedupe.is_none() && thread.is_none() {
            return Err(Failure::usage(format!(
                "{flag} needs the key of the alert it is about"
            ))
            .with_hint("give the key its trigger was sent with: --dedupe KEY (or --thread/--update KEY)"));
        }
        Ok(AlertAsk {
            action,
            typed: true,
            key: None,
        })
    }
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

/// Resolves `chime send`.
pub fn send(global: &GlobalArgs, args: SendArgs) -> Result<Send, Failure> {
    let env = environment();
    let timeout = timeout(args.timeout, &env)?;
    let (profile, state, selection, unkept) =
        target(global, &env, &args.target, args.template.as_deref())?;
    let mut input = Input {
        title: args.title,
        level: args.level.unwrap_or_default(),
        fields: args.fields,
        links: links(args.links),
        vars: args.vars,
        code: args.code,
        file_urls: links(args.file_urls),
        ..Input::default()
    };
    let spool = state.spool();
    let stdin_is_a_file = args.files.iter().any(|p| p.as_os_str() == "-");
    let shown = (args.file_names.as_slice(), args.file_titles.as_slice());
    let attached = super::files::attachments(&args.files, shown, args.photo, &spool)?;
    (input.files, input.stash) = (attached.files, attached.stash);
    if !stdin_is_a_file {
        read_text(
            &mut input,
            args.text,
            args.json_input,
            args.template.is_some(),
            args.level.is_some(),
            output(global),
        )?;
    } else {
        input.text = args.text.join(" ");
    }
    if let Some(name) = args.event {
        named_event(&mut input, name);
    }
    let ci = Ci::detect(&env);
    let thread = thread_mode(args.thread, args.update, args.broadcast, ci.as_ref())?;
    Ok(Send {
        alert: AlertAsk::typed(args.resolve, args.acknowledge, &args.dedupe, &thread)?,
        at: when(args.at.as_deref(), args.in_)?,
        dedupe: DedupeAsk::of(args.dedupe, args.dedupe_window),
        ci,
        template_fallback: false,
        thread,
        spool,
        queue: args.queue,
        no_spool: args.no_spool || unkept,
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

/// `--at TIME` or `--in DURATION` as a moment.
fn when(
    at: Option<&str>,
    after: Option<Duration>,
) -> Result<Option<std::time::SystemTime>, Failure> {
    let now = crate::clock::now();
    match (at, after) {
        (Some(text), _) => crate::clock::parse_at(text, now)
            .map(Some)
            .map_err(|why| Failure::usage(format!("--at: {why}"))),
        (None, Some(after)) => Ok(Some(now + after)),
        (None, None) => Ok(None),
    }
}

/// `--link`s and `--file-url`s as clap read them.
pub(super) fn links(pairs: Vec<(String, String)>) -> Vec<Link> {
    pairs
        .into_iter()
        .map(|(label, url)| Link { label, url })
        .collect()
}

/// `--thread KEY` (or, empty, the CI run's key) or `--update KEY`.
pub(super) fn thread_mode(
    thread: Option<String>,
    update: Option<String>,
    broadcast: bool,
    ci: Option<&Ci>,
) -> Result<Option<ThreadMode>, Failure> {
    let mode = match (thread, update) {
        (Some(key), _) if key.is_empty() => {
            let ci = ci.ok_or_else(|| {
                Failure::usage("--thread needs a KEY outside CI").with_hint(
                    "give one, e.g. --thread deploy-42; inside a CI run the run is the default",
                )
            })?;
            Some(ThreadMode {
                key: ci.thread_key(),
                update: false,
                broadcast,
            })
        }
        (Some(key), _) => Some(ThreadMode {
            key,
            update: false,
            broadcast,
        }),
        (None, Some(key)) => Some(ThreadMode {
            key,
            update: true,
            broadcast: false,
        }),
        (None, None) => None,
    };
    Ok(mode)
}

/// TEXT is the joined arguments; `-`, or no TEXT with stdin not a terminal, reads stdin.
pub(super) fn read_text(
    input: &mut Input,
    args: Vec<String>,
    json_input: bool,
    has_template: bool,
    level_given: bool,
    output: Output,
) -> Result<(), Failure> {
    let wants_stdin = args == ["-"] || (args.is_empty() && !std::io::stdin().is_terminal());
    if !wants_stdin {
        input.text = args.join(" ");
        return Ok(());
    }
    crate::report::reading_stdin(output);
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
    // Invalid UTF-8 is replaced, never fatal: a log with a stray byte must
    // still go out. Valid text keeps the buffer it was read into (issue 11:
    // a send holds its text as few times as it can).
    let mut text = String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
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
    } else if let Some(object) = Object::parse(&text) {
        return event_input(input, object, text, level_given);
    }
    text.truncate(text.trim_end_matches(['\n', '\r']).len());
    // A terminal program's output keeps its colours; a code block would show
    // the escapes as text.
    input.text = match input.code {
        true => crate::stream::lines::plain(&text),
        false => text,
    };
    Ok(())
}

/// A JSON object's keys become template variables; `text`, `title` and `level`
/// also fill those parts of the message when no flag did.
fn json_vars(
    input: &mut Input,
    map: serde_json::Map<String, serde_json::Value>,
    level_given: bool,
) -> Result<(), Failure> {
    for key in ["text", "title", "level"] {
        if map.get(key).is_some_and(|v| !v.is_string() && !v.is_null()) {
            return Err(Failure::usage(format!("stdin: `{key}` must be a string"))
                .with_hint(format!("write it in quotes, like {{\"{key}\": \"…\"}}")));
        }
    }
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

/// `--event NAME`: the title of the event a JSON object on stdin makes, or
/// of one of its own.
fn named_event(input: &mut Input, name: String) {
    let event = input.event.get_or_insert_with(|| Event::named(&name));
    event.title = Some(name.clone());
    input.event_name = Some(name);
}

/// A JSON object on stdin with no template asked for: its keys are
/// variables, a valid `level` the level and its `text` string the text, and
/// what it shows as an event is kept for a send that no template renders. A
/// route's template may still render it: the text it sees is then the raw
/// JSON, as it was before events, unless the object has a `text`. Nothing in
/// it is an error — a log record is no place for a usage error.
fn event_input(
    input: &mut Input,
    object: Object,
    raw: String,
    level_given: bool,
) -> Result<(), Failure> {
    if !level_given && let Some(level) = object.level() {
        input.level = level;
    }
    input.event = object.event();
    input.text = match object.text() {
        Some(text) => text.to_owned(),
        None => {
            let mut raw = raw;
            raw.truncate(raw.trim_end_matches(['\n', '\r']).len());
            raw
        }
    };
    input.json = object.into_map();
    Ok(())
}

/// The most `chime send` reads from stdin: a message, not a file (a 16 MiB
/// log still makes hundreds of Slack messages). Past it, nothing is sent.
const MAX_STDIN: u64 = 16 << 20;
