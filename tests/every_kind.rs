//! One profile with a destination of every kind: one `chime send` reaches them
//! all, concurrently, each payload accepted by its platform's stand-in.

use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault};
use crate::support::discord::Discord;
use crate::support::google_chat::GoogleChat;
use crate::support::hook::Hook;
use crate::support::mattermost::Mattermost;
use crate::support::ntfy::{self, Ntfy};
use crate::support::teams::Teams;
use crate::support::telegram::{self, Telegram};
use crate::support::{Sandbox, run};

const BOT: &str = "xoxb-000-every-kind-notreal";
const TG_TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
const TG_CHAT: i64 = -1_001_234_567_890;

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

[destinations.webhook]
kind = "webhook"
url = "{base}/hook/every-kind"

[routes.all]
to = ["slack", "slack-api", "discord", "teams", "telegram", "mattermost", "google-chat", "ntfy", "webhook"]
"##,
        slack = bed.webhook("ops"),
        discord = discord.hook(bed, "ops"),
        teams = teams.workflow(bed, "ops"),
        mattermost = mattermost.hook(bed, "ops"),
        chat = chat.space(bed, "ops"),
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
        "all nine",
    ]))
    .code(0);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 9);
    assert!(
        lines.iter().all(|l| l["status"] == "delivered"),
        "{}",
        out.stdout
    );
    assert_eq!(
        bed.delivered().len(),
        9,
        "each stand-in accepted its payload"
    );
    assert!(
        bed.requests().iter().all(|r| r.status < 300),
        "nothing refused"
    );
}

#[test]
fn every_kind_is_sent_to_at_once_not_one_after_another() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    for _ in 0..9 {
        bed.fault(Fault::Slow(Duration::from_millis(600)));
    }
    let started = Instant::now();
    run(sandbox.chime(&["send", "x"])).code(0);
    assert!(
        started.elapsed() < Duration::from_millis(9 * 600),
        "concurrent, not 9 × 600 ms"
    );
    assert_eq!(bed.delivered().len(), 9);
}

/// What `chime pipe` puts in one message of each kind (its `batch_limit`),
/// in ASCII, where every measure agrees.
const BATCH_LIMITS: &[(&str, usize)] = &[
    ("slack", 38_608),
    ("slack-api", 38_608),
    ("discord", 3_800),
    ("teams", 20_000),
    ("telegram", 3_500),
    ("mattermost", 15_000),
    ("google-chat", 24_000),
    ("ntfy", 3_500),
    ("webhook", 2_000),
];

#[test]
fn a_full_pipe_batch_renders_as_one_message_on_every_kind() {
    let bed = Bed::start();
    let sandbox = everything(&bed);
    for (kind, limit) in BATCH_LIMITS {
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
