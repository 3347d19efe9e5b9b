//! One profile with a destination of every kind: one `chime send` reaches them
//! all, concurrently, each payload accepted by its platform's stand-in.

use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault};
use crate::support::discord::Discord;
use crate::support::google_chat::GoogleChat;
use crate::support::gotify::{self, Gotify};
use crate::support::hook::Hook;
use crate::support::matrix::{self, Matrix};
use crate::support::mattermost::Mattermost;
use crate::support::ntfy::{self, Ntfy};
use crate::support::opsgenie::{self, Opsgenie};
use crate::support::pagerduty::{self, PagerDuty};
use crate::support::pushover::{self, Pushover};
use crate::support::smtp::{Mode, Smtp};
use crate::support::teams::Teams;
use crate::support::telegram::{self, Telegram};
use crate::support::{Sandbox, run};

const BOT: &str = "xoxb-000-every-kind-notreal";
const TG_TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
const TG_CHAT: i64 = -1_001_234_567_890;
const PO_TOKEN: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
const PO_USER: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";
const PD_KEY: &str = "R0fakeEventsV2IntegrationKey0001";
const OG_KEY: &str = "eb243592-faa2-4ba2-a551-00000000fake";

fn everything(bed: &Bed) -> Sandbox {
    bed.no_rate_limit();
    bed.add_token(BOT);
    bed.add_channel("#deploys", true);
    let discord = Discord::mount(bed);
    let mattermost = Mattermost::mount(bed);
    let teams = Teams::mount(bed);
    let chat = GoogleChat::mount(bed);
    Hook::mount(bed);
    let tg = Telegram::new();
    bed.mount(telegram::PREFIX, tg.clone());
    tg.add_token(TG_TOKEN);
    tg.add_chat(TG_CHAT, None);
    bed.mount(ntfy::PREFIX, Ntfy::new());
    bed.mount(gotify::PREFIX, Gotify::new());
    let po = Pushover::new();
    po.add_token(PO_TOKEN);
    po.add_user(PO_USER);
    bed.mount(pushover::PREFIX, po);
    let pd = PagerDuty::new();
    pd.add_key(PD_KEY);
    bed.mount(pagerduty::PREFIX, pd);
    let og = Opsgenie::new();
    og.add_key(OG_KEY);
    bed.mount(opsgenie::PREFIX, og);
    bed.mount(matrix::PREFIX, Matrix::new());
    let base = bed.url();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[defaults]
route = "all"
timeout = "5s"

[destinations.slack]
kind = "slack"
url = "{slack}"

[destinations.slack-api]
kind = "slack-api"
token = "{BOT}"
channel = "#deploys"
api_url = "{base}/api"

[destinations.discord]
kind = "discord"
url = "{discord}"

[destinations.teams]
kind = "teams"
url = "{teams}"

[destinations.telegram]
kind = "telegram"
token = "{TG_TOKEN}"
chat_id = {TG_CHAT}
api_url = "{base}/telegram"

[destinations.mattermost]
kind = "mattermost"
url = "{mattermost}"

[destinations.google-chat]
kind = "google-chat"
url = "{chat}"

[destinations.ntfy]
kind = "ntfy"
url = "{base}/ntfy/every-kind"

[destinations.gotify]
kind = "gotify"
url = "{base}/gotify"
token = "{gotify_token}"

[destinations.pushover]
kind = "pushover"
token = "{PO_TOKEN}"
user = "{PO_USER}"
api_url = "{base}/pushover"

[destinations.pagerduty]
kind = "pagerduty"
routing_key = "{PD_KEY}"
api_url = "{base}/pagerduty"

[destinations.opsgenie]
kind = "opsgenie"
api_key = "{OG_KEY}"
api_url = "{base}/opsgenie"

[destinations.matrix]
kind = "matrix"
homeserver = "{base}/matrix"
access_token = "{matrix_token}"
room = "{matrix_room}"

[destinations.webhook]
kind = "webhook"
url = "{base}/hook/every-kind"

# SMTP, not HTTP: no stand-in of the bed answers it (see `with_email`), so
# it is in no route here; `--dry-run` needs no server.
[destinations.email]
kind = "email"
host = "127.0.0.1"
port = 1
tls = "none"
from = "chime <alerts@example.com>"
to = ["oncall@example.com"]

[routes.all]
to = ["slack", "slack-api", "discord", "teams", "telegram", "mattermost", "google-chat", "ntfy", "gotify", "webhook", "pushover", "pagerduty", "opsgenie", "matrix"]
"##,
        slack = bed.webhook("ops"),
        discord = discord.hook(bed, "ops"),
        teams = teams.workflow(bed, "ops"),
        mattermost = mattermost.hook(bed, "ops"),
        chat = chat.space(bed, "ops"),
        gotify_token = gotify::APP_TOKEN,
        matrix_token = matrix::TOKEN,
        matrix_room = matrix::ROOM,
    ));
    sandbox
}

#[test]
fn one_send_reaches_a_destination_of_every_kind() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    let out = run(sandbox.chime(&[
        "send",
        "--json",
        "-t",
        "Deploy <done> & *checked*",
        "-l",
        "success",
        "-f",
        "version=1.4",
        "--link",
        "Run=https://ci.example/1",
        "all ten",
    ]))
    .code(0);
    let lines = out.json_lines();
    assert_eq!(lines.len(), BATCH_LIMITS.len());
    assert!(
        lines.iter().all(|l| l["status"] == "delivered"),
        "{}",
        out.stdout
    );
    assert_eq!(
        bed.delivered().len(),
        BATCH_LIMITS.len(),
        "each stand-in accepted its payload"
    );
    assert!(
        bed.requests().iter().all(|r| r.status < 300),
        "nothing refused"
    );
}

/// [`everything`], and the route `with-email` to all of it and an email
/// destination on `smtp`.
fn with_email(bed: &Bed, smtp: &Smtp) -> Sandbox {
    let sandbox = everything(bed);
    let mut profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    let mut kinds: Vec<&str> = BATCH_LIMITS.iter().map(|(kind, _)| *kind).collect();
    kinds.push("email-live");
    profile.push_str(&format!(
        r#"
[destinations.email-live]
kind = "email"
host = "127.0.0.1"
port = {}
tls = "none"
from = "chime <alerts@example.com>"
to = ["oncall@example.com"]

[routes.with-email]
to = {kinds:?}
"#,
        smtp.port
    ));
    sandbox.profile(&profile);
    sandbox
}

#[test]
fn one_send_reaches_every_kind_and_an_smtp_server_at_once() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), Mode::Plain);
    let sandbox = with_email(&bed, &smtp);
    let out = run(sandbox.chime(&["send", "--json", "-r", "with-email", "-t", "All", "x"])).code(0);
    let lines = out.json_lines();
    assert_eq!(lines.len(), BATCH_LIMITS.len() + 1);
    assert!(
        lines.iter().all(|l| l["status"] == "delivered"),
        "{}",
        out.stdout
    );
    assert_eq!(bed.delivered().len(), BATCH_LIMITS.len());
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].header("subject").as_deref(), Some("[info] All"));
}

#[test]
fn every_kind_is_sent_to_at_once_not_one_after_another() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    for _ in 0..BATCH_LIMITS.len() {
        bed.fault(Fault::Slow(Duration::from_millis(600)));
    }
    let started = Instant::now();
    run(sandbox.chime(&["send", "x"])).code(0);
    assert!(
        started.elapsed() < Duration::from_millis(10 * 600),
        "concurrent, not 10 × 600 ms"
    );
    assert_eq!(bed.delivered().len(), BATCH_LIMITS.len());
}

/// What `chime pipe` puts in one message of each kind (its `batch_limit`),
/// in ASCII, where every measure agrees.
const BATCH_LIMITS: &[(&str, usize)] = &[
    ("slack", 38_608),
    ("slack-api", 8_786),
    ("discord", 3_800),
    ("teams", 20_000),
    ("telegram", 3_500),
    ("mattermost", 15_000),
    ("google-chat", 24_000),
    ("ntfy", 3_500),
    ("gotify", 50_000),
    ("webhook", 2_000),
    ("pushover", 1_000),
    ("pagerduty", 50_000),
    ("opsgenie", 14_000),
    ("matrix", 13_000),
];

/// The kinds that are not HTTP, and so not in [`BATCH_LIMITS`]'s sends to the bed.
const NOT_HTTP_BATCH_LIMITS: &[(&str, usize)] = &[("email", 50_000)];

#[test]
fn a_full_pipe_batch_renders_as_one_message_on_every_kind() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    for (kind, limit) in BATCH_LIMITS.iter().chain(NOT_HTTP_BATCH_LIMITS) {
        let line = "2026-11-24 INFO worker handled request status=200 in 12 ms";
        let count = limit / (line.len() + 1);
        let text: Vec<&str> = std::iter::repeat_n(line, count).collect();
        let text = text.join("\n");
        let out =
            run(sandbox.chime(&["send", "--to", kind, "--code", "--dry-run", "--json", &text]))
                .code(0);
        let parts = out.json_lines();
        assert_eq!(
            parts.len(),
            1,
            "{kind}: a batch of {} bytes became {} messages",
            text.len(),
            parts.len()
        );
    }
}

#[test]
fn a_2xx_whose_body_breaks_off_is_delivered_once_by_every_kind_but_the_slack_web_api() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    for (kind, _) in BATCH_LIMITS {
        bed.clear_faults();
        for _ in 0..3 {
            bed.fault(Fault::ResetMidBody);
        }
        let before = bed.requests().len();
        let out = run(sandbox.chime(&["send", "--to", kind, "--no-spool", "x"]));
        let tries = bed.requests().len() - before;
        // Slack's Web API refuses inside a 200: only its body says it posted.
        let (code, expected) = if *kind == "slack-api" {
            (74, 2)
        } else {
            (0, 1)
        };
        assert_eq!((out.code, tries), (code, expected), "{kind}\n{out}");
    }
}

/// Hostile input for every kind: what the user may pass, however large, must
/// reach every platform whole and within its limits. Each value is made of
/// words unique to it ("f07w0001界") between emoji, so a test can tell
/// whether every word of every value arrived, in order, whatever the kind's
/// markup, splitting and escaping did around it.
mod hostile {
    use serde_json::Value;

    use super::everything;
    use crate::support::bed::{Bed, Request};
    use crate::support::ntfy::decode_header;
    use crate::support::{Run, run_with_stdin};

    /// At least `chars` characters of words tagged `tag`, with emoji and CJK,
    /// so byte, UTF-16 and character counts all differ.
    pub fn words(tag: &str, chars: usize) -> String {
        let mut out = String::new();
        let mut n = 0;
        while out.chars().count() < chars {
            n += 1;
            out.push_str(&format!("{tag}w{n:04}界 😀 "));
        }
        out.trim_end().to_owned()
    }

    /// At least `chars` characters of plain ASCII words tagged `tag`.
    pub fn ascii(tag: &str, chars: usize) -> String {
        let words = (1..).map(|n| format!("{tag}w{n:04} "));
        let mut out: String = words.take(chars / 9 + 1).collect();
        out.truncate(out.trim_end().len());
        out
    }

    /// A URL of exactly 3,000 characters (the most `--link` takes), unique to `tag`.
    pub fn url(tag: &str) -> String {
        let mut url = format!("https://ci.example/{tag}/");
        let mut n = 0;
        while url.len() < 3000 {
            n += 1;
            url.push_str(&format!("seg{n:04}/"));
        }
        url.truncate(3000);
        url
    }

    /// What one `chime send` is given.
    #[derive(Default)]
    pub struct Input {
        pub title: Option<String>,
        pub text: String,
        pub fields: Vec<(String, String)>,
        pub links: Vec<(String, String)>,
        pub code: bool,
    }

    impl Input {
        /// Sends it to every kind at once, the text on stdin.
        pub fn send(&self, bed: &Bed) -> Run {
            let sandbox = everything(bed);
            let mut args: Vec<String> = vec!["send".into(), "--json".into()];
            if let Some(title) = &self.title {
                args.extend(["-t".into(), title.clone()]);
            }
            for (key, value) in &self.fields {
                args.extend(["-f".into(), format!("{key}={value}")]);
            }
            for (label, url) in &self.links {
                args.extend(["--link".into(), format!("{label}={url}")]);
            }
            if self.code {
                args.push("--code".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_stdin(sandbox.chime(&args), self.text.as_bytes())
        }
    }

    /// The words of `text`: runs of letters and digits (emoji and markup separate them).
    fn tokens(text: &str) -> Vec<&str> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect()
    }

    const KINDS: &[(&str, &str)] = &[
        ("slack", "/services/"),
        ("slack-api", "/api/"),
        ("discord", "/discord/"),
        ("teams", "/teams/"),
        ("telegram", "/telegram/"),
        ("mattermost", "/mattermost/"),
        ("google-chat", "/chat/"),
        ("ntfy", "/ntfy/"),
        ("gotify", "/gotify/"),
        ("webhook", "/hook/"),
        ("pushover", "/pushover/"),
        ("pagerduty", "/pagerduty/"),
        ("opsgenie", "/opsgenie/"),
        ("matrix", "/matrix/"),
    ];

    fn strings(value: &Value, keys: &[&str], out: &mut Vec<String>) {
        for key in keys {
            if let Some(s) = value[*key].as_str() {
                out.push(s.to_owned());
            }
        }
    }

    /// What a reader of `kind` sees of one request, in the order it is shown,
    /// and the targets of its links.
    fn shown(kind: &str, request: &Request) -> (Vec<String>, Vec<String>) {
        let mut texts = Vec::new();
        let mut targets = Vec::new();
        match kind {
            "slack" | "slack-api" => {
                let body = request.json();
                for block in body["blocks"].as_array().into_iter().flatten() {
                    texts.extend(block["text"]["text"].as_str().map(str::to_owned));
                    for field in block["fields"].as_array().into_iter().flatten() {
                        texts.extend(field["text"].as_str().map(str::to_owned));
                    }
                    let accessory = block.get("accessory").into_iter();
                    let elements = block["elements"].as_array().into_iter().flatten();
                    for button in accessory.chain(elements) {
                        texts.extend(button["text"]["text"].as_str().map(str::to_owned));
                        targets.extend(button["url"].as_str().map(str::to_owned));
                    }
                }
            }
            "discord" => {
                let body = request.json();
                strings(&body, &["content"], &mut texts);
                for embed in body["embeds"].as_array().into_iter().flatten() {
                    strings(embed, &["title", "description"], &mut texts);
                    for field in embed["fields"].as_array().into_iter().flatten() {
                        strings(field, &["name", "value"], &mut texts);
                    }
                    strings(&embed["footer"], &["text"], &mut texts);
                }
            }
            "teams" => {
                let card = &request.json()["attachments"][0]["content"];
                for element in card["body"].as_array().into_iter().flatten() {
                    strings(element, &["text"], &mut texts);
                    for fact in element["facts"].as_array().into_iter().flatten() {
                        strings(fact, &["title", "value"], &mut texts);
                    }
                    for action in element["actions"].as_array().into_iter().flatten() {
                        strings(action, &["title"], &mut texts);
                        targets.extend(action["url"].as_str().map(str::to_owned));
                    }
                }
            }
            "telegram" => strings(&request.json(), &["text"], &mut texts),
            "mattermost" => {
                let body = request.json();
                strings(&body, &["text"], &mut texts);
                for attachment in body["attachments"].as_array().into_iter().flatten() {
                    strings(attachment, &["pretext", "title", "text"], &mut texts);
                    for field in attachment["fields"].as_array().into_iter().flatten() {
                        strings(field, &["title", "value"], &mut texts);
                    }
                    strings(attachment, &["footer"], &mut texts);
                }
            }
            "google-chat" => {
                let body = request.json();
                for card in body["cardsV2"].as_array().into_iter().flatten() {
                    let card = &card["card"];
                    strings(&card["header"], &["title", "subtitle"], &mut texts);
                    for section in card["sections"].as_array().into_iter().flatten() {
                        for widget in section["widgets"].as_array().into_iter().flatten() {
                            strings(&widget["textParagraph"], &["text"], &mut texts);
                            let buttons = widget["buttonList"]["buttons"].as_array();
                            for button in buttons.into_iter().flatten() {
                                strings(button, &["text"], &mut texts);
                                let url = button["onClick"]["openLink"]["url"].as_str();
                                targets.extend(url.map(str::to_owned));
                            }
                        }
                    }
                }
            }
            "ntfy" => {
                texts.extend(request.header("x-title").map(decode_header));
                texts.push(request.text());
            }
            "gotify" => strings(&request.json(), &["title", "message"], &mut texts),
            // The plain `body`: the HTML is the same words, escaped.
            "matrix" => strings(&request.json(), &["body"], &mut texts),
            "pushover" => {
                let body = request.json();
                strings(&body, &["title", "message", "url_title"], &mut texts);
                targets.extend(body["url"].as_str().map(str::to_owned));
            }
            "pagerduty" => {
                let body = request.json();
                let payload = &body["payload"];
                strings(payload, &["summary"], &mut texts);
                let details = payload["custom_details"].as_object().into_iter().flatten();
                for (key, value) in details {
                    texts.push(key.clone());
                    texts.extend(value.as_str().map(str::to_owned));
                }
                for link in body["links"].as_array().into_iter().flatten() {
                    strings(link, &["text"], &mut texts);
                    targets.extend(link["href"].as_str().map(str::to_owned));
                }
            }
            "opsgenie" => {
                let body = request.json();
                strings(&body, &["message", "description", "note"], &mut texts);
                for (key, value) in body["details"].as_object().into_iter().flatten() {
                    texts.push(key.clone());
                    texts.extend(value.as_str().map(str::to_owned));
                }
            }
            _ => {
                fn walk(value: &Value, out: &mut Vec<String>) {
                    match value {
                        Value::String(s) => out.push(s.clone()),
                        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                        Value::Object(map) => map.values().for_each(|v| walk(v, out)),
                        _ => {}
                    }
                }
                walk(&request.json(), &mut texts);
            }
        }
        // Links written into text: markdown `(url)`, Slack's `<url|…>`, HTML `href="url"`.
        for text in &texts {
            let mut rest = text.as_str();
            while let Some(at) = rest.find("https://") {
                let url = &rest[at..];
                let end = url
                    .find([' ', '\n', ')', '|', '>', '"', '<'])
                    .unwrap_or(url.len());
                targets.push(url[..end].to_owned());
                rest = &url[end..];
            }
        }
        (texts, targets)
    }

    /// Every request every stand-in got was accepted and delivered, and each
    /// kind's readers see every word of the input, in order, and every link
    /// whole as a link.
    #[track_caller]
    pub fn assert_whole(bed: &Bed, input: &Input, out: &Run) {
        let mut problems = Vec::new();
        if out.code != 0 {
            // The command line is too long to be worth printing.
            problems.push(format!(
                "exit code {}\n{}{}",
                out.code, out.stdout, out.stderr
            ));
        }
        let requests = bed.requests();
        let delivered = bed.delivered();
        for request in &requests {
            let (method, path, status) = (&request.method, &request.path, request.status);
            if status >= 300 {
                let answer: String = request.response.chars().take(300).collect();
                problems.push(format!("{method} {path}: refused {status} {answer}"));
            } else if !delivered.iter().any(|d| d.body == request.body) {
                let bytes = request.body.len();
                let answer: String = request.response.chars().take(300).collect();
                problems.push(format!(
                    "{method} {path}: answered {status} but not delivered ({bytes} bytes): {answer}"
                ));
            }
        }
        let mut sources: Vec<(&str, &str)> = Vec::new();
        if let Some(title) = &input.title {
            sources.push(("title", title));
        }
        sources.push(("text", &input.text));
        for (key, value) in &input.fields {
            sources.push(("field key", key));
            sources.push(("field value", value));
        }
        for (label, _) in &input.links {
            sources.push(("link label", label));
        }
        for (kind, prefix) in KINDS {
            let mine: Vec<&Request> = delivered
                .iter()
                .filter(|r| r.path.starts_with(prefix))
                .collect();
            let (mut texts, mut targets) = (Vec::new(), Vec::new());
            for request in &mine {
                let (t, l) = shown(kind, request);
                texts.extend(t);
                targets.extend(l);
            }
            let seen = texts.join("\n");
            let seen = tokens(&seen);
            for (what, source) in &sources {
                let wanted = tokens(source);
                let mut at = seen.iter();
                if let Some(lost) = wanted.iter().find(|w| !at.any(|s| s == *w)) {
                    let (of, parts) = (wanted.len(), mine.len());
                    problems.push(format!(
                        "{kind}: the {what} lost {lost:?} (of {of} words, in {parts} parts)"
                    ));
                }
            }
            if *kind != "webhook" {
                for (label, url) in &input.links {
                    // A Pushover message holds 1,024 characters: a longer URL
                    // can only arrive as text split across parts.
                    let too_long = *kind == "pushover" && url.chars().count() > 1000;
                    if !too_long && !targets.iter().any(|t| t == url) {
                        let label: String = label.chars().take(20).collect();
                        problems.push(format!("{kind}: the link {label:?} is not a whole link"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
fn every_kind_delivers_thirty_fields_with_huge_keys_and_values_whole() {
    let bed = Bed::start();
    let fields = (1..=30)
        .map(|i| {
            let key_chars = if i % 3 == 0 { 10_000 } else { 12 };
            let value_chars = [40, 3000, 10_000][i % 3];
            let key = hostile::words(&format!("k{i:02}"), key_chars);
            let tag = format!("f{i:02}");
            // Some plain ASCII, which packs the most characters into a byte limit.
            let value = match i % 5 {
                0 => hostile::ascii(&tag, value_chars),
                _ => hostile::words(&tag, value_chars),
            };
            (key, value)
        })
        .collect();
    let input = hostile::Input {
        title: Some("Thirty fields".into()),
        text: hostile::words("t", 2000),
        fields,
        ..Default::default()
    };
    let out = input.send(&bed);
    hostile::assert_whole(&bed, &input, &out);
}

#[test]
fn every_kind_delivers_a_5000_character_title_whole() {
    let bed = Bed::start();
    let input = hostile::Input {
        title: Some(hostile::words("h", 5000)),
        text: hostile::words("t", 500),
        fields: vec![("size".into(), "12G".into())],
        links: vec![("Logs".into(), "https://ci.example/42".into())],
        ..Default::default()
    };
    let out = input.send(&bed);
    hostile::assert_whole(&bed, &input, &out);
}

#[test]
fn every_kind_delivers_twenty_long_links_with_long_labels_whole() {
    let bed = Bed::start();
    let links = (1..=20)
        .map(|i| {
            let label_chars = if i % 2 == 0 { 300 } else { 8 };
            let label = hostile::words(&format!("l{i:02}"), label_chars);
            (label, hostile::url(&format!("u{i:02}")))
        })
        .collect();
    let input = hostile::Input {
        title: Some("Twenty links".into()),
        text: hostile::words("t", 300),
        links,
        ..Default::default()
    };
    let out = input.send(&bed);
    hostile::assert_whole(&bed, &input, &out);
}

#[test]
fn every_kind_delivers_long_multibyte_code_with_everything_else_whole() {
    let bed = Bed::start();
    let text: String = (1..=800)
        .map(|i| format!("{}\n", hostile::words(&format!("c{i:03}"), 60)))
        .collect();
    let input = hostile::Input {
        title: Some(hostile::words("h", 400)),
        text,
        fields: (1..=12)
            .map(|i| (format!("key{i}"), hostile::words(&format!("f{i:02}"), 1500)))
            .collect(),
        links: (1..=6)
            .map(|i| {
                let label = hostile::words(&format!("l{i:02}"), 100);
                (label, hostile::url(&format!("u{i:02}")))
            })
            .collect(),
        code: true,
    };
    let out = input.send(&bed);
    hostile::assert_whole(&bed, &input, &out);
}
