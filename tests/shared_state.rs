//! State shared across machines through Redis: with `CHIME_STATE_URL` (or the
//! profile's `[state]`), thread keys, `run --on change` outcomes, dedupe windows,
//! route limits and pacing are one fleet's, not one machine's; a state server
//! that cannot be reached costs one warning, never a message; and a Slack thread
//! is found again through its message metadata by a machine that remembers
//! nothing. Each host is a [`Sandbox`] of its own (its own HOME, state directory
//! and spool) with the same profile text; the Redis is a real one
//! (`support/redis.rs`), so what chime leaves there is read back and checked.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bed::{Bed, Fault, Request, delivered_lines};
use crate::support::redis::Redis;
use crate::support::{Run, Sandbox, drain, run_within};

/// Obviously fake; distinct enough that a leak into Redis names itself.
const TOKEN: &str = "xoxb-000-FAKESHAREDTOKEN-notreal";
/// Catches a hang; never a measure of speed.
const LIMIT: Duration = Duration::from_secs(60);
/// What chime says when Redis cannot be had, whatever follows.
const WARNING: &str = "state server";

/// The bed as every test here wants it: the bot's token, two channels, and no
/// rate limit unless a test sets one.
fn slack(bed: Bed) -> Bed {
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.add_channel("#builds", true);
    bed.no_rate_limit();
    bed
}

/// The profile every host of a fleet shares: a Slack Web API bot and a
/// webhook without pacing, a paced one of each, and routes that deduplicate
/// and limit; `extra` is added at the end (a `[state]` table).
fn profile(bed: &Bed, extra: &str) -> String {
    format!(
        r##"
[defaults]
route = "ops"
timeout = "30s"

[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#deploys"
api_url = "{api}"
pace = "0s"

[destinations.hook]
kind = "slack"
url = "{hook}"
pace = "0s"

[destinations.paced-bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#builds"
api_url = "{api}"
pace = "1s"

[destinations.paced-hook]
kind = "slack"
url = "{paced}"
pace = "1s"

[routes.ops]
to = ["hook"]

[routes.deduped]
to = ["hook"]
dedupe = "10m"

[routes.limited]
to = ["hook"]
limit = "2/5m"

{extra}
"##,
        api = bed.api_url(),
        hook = bed.webhook("ops"),
        paced = bed.webhook("paced"),
    )
}

/// A machine with `profile` as its default profile, private to its user, as a
/// profile holding a token should be (else chime rightly warns on every run).
fn host(profile: &str) -> Sandbox {
    use std::os::unix::fs::PermissionsExt;
    let host = Sandbox::new();
    host.profile(profile);
    let private = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(host.profile_path(), private).unwrap();
    host
}

/// Machines that share one Slack, one Redis and one profile text.
struct Fleet {
    bed: Bed,
    redis: Redis,
    hosts: Vec<Sandbox>,
}

impl Fleet {
    /// `hosts` machines told of the Redis by `CHIME_STATE_URL`.
    fn new(hosts: usize) -> Fleet {
        Fleet::with(Bed::start(), Redis::start(), hosts, "")
    }

    fn with(bed: Bed, redis: Redis, hosts: usize, extra: &str) -> Fleet {
        let bed = slack(bed);
        let text = profile(&bed, extra);
        let hosts = (0..hosts).map(|_| host(&text)).collect();
        Fleet { bed, redis, hosts }
    }

    /// `chime ARGS…` on host `host`, with `CHIME_STATE_URL` set to the Redis.
    fn chime(&self, host: usize, args: &[&str]) -> Command {
        let mut cmd = self.hosts[host].chime(args);
        cmd.env("CHIME_STATE_URL", self.redis.url());
        cmd
    }

    /// [`Fleet::chime`], run to its end.
    fn go(&self, host: usize, args: &[&str]) -> Run {
        run_within(self.chime(host, args), LIMIT)
    }

    /// `chime ARGS…` on host `host` with nothing but the profile to say where
    /// the state server is.
    fn bare(&self, host: usize, args: &[&str]) -> Run {
        run_within(self.hosts[host].chime(args), LIMIT)
    }

    /// Every key in Redis, checked to be there at all.
    #[track_caller]
    fn keys(&self) -> Vec<String> {
        let keys = self.redis.keys("*");
        assert!(!keys.is_empty(), "chime kept nothing in Redis");
        keys
    }
}

/// A chime started in the background with a pipe to its stdin.
struct Background {
    child: Child,
    command: String,
    stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Background {
    fn start(mut cmd: Command) -> Background {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = format!("{cmd:?}");
        let mut child = cmd.spawn().expect("chime runs");
        Background {
            stdin: child.stdin.take(),
            stdout: Some(drain(child.stdout.take().unwrap())),
            stderr: Some(drain(child.stderr.take().unwrap())),
            child,
            command,
        }
    }

    fn write(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Ends stdin, as a producer that is done does.
    fn close(&mut self) {
        self.stdin.take();
    }

    /// Waits for the end (killing the run, with its process group, past
    /// [`LIMIT`]) and what it said.
    #[track_caller]
    fn finish(mut self) -> Run {
        self.close();
        let deadline = Instant::now() + LIMIT;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                // SAFETY: kill(2) on the process group Sandbox gave the child.
                unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = self.child.wait();
                panic!("still running after {LIMIT:?}: killed\n{}", self.output(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.output(code)
    }

    fn output(&mut self, code: i32) -> Run {
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Run::from_parts(self.command.clone(), code, stdout, stderr)
    }
}

/// Waits until `ready` says so, or fails the test with `what`.
#[track_caller]
fn until<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many lines of `run`'s stderr mention the state server.
fn warnings(run: &Run) -> usize {
    run.stderr.lines().filter(|l| l.contains(WARNING)).count()
}

/// Exactly one line of stderr mentions the state server: warned, and once.
#[track_caller]
fn warned_once(run: Run) -> Run {
    assert_eq!(
        warnings(&run),
        1,
        "one warning about the state server\n{run}"
    );
    run
}

#[track_caller]
fn not_warned(run: Run) -> Run {
    assert_eq!(warnings(&run), 0, "no word of the state server\n{run}");
    run
}

/// The `text` of every message the bed posted, in arrival order.
fn texts(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The Web API messages posted with `chat.postMessage`, as sent, in arrival order.
fn posts(bed: &Bed) -> Vec<Request> {
    let delivered = bed.delivered().into_iter();
    delivered
        .filter(|r| r.path == "/api/chat.postMessage")
        .collect()
}

/// The `ts` Slack gave a posted message.
fn ts(post: &Request) -> String {
    let answer: Value = serde_json::from_str(&post.response).unwrap();
    answer["ts"].as_str().unwrap().to_owned()
}

/// The message a post was a reply to, if it was one.
fn thread_of(post: &Request) -> Option<String> {
    post.json()["thread_ts"].as_str().map(str::to_owned)
}

/// The first title of a `chime run` report.
fn title(payload: &Value) -> String {
    let blocks = payload["blocks"].as_array().unwrap();
    let found = blocks.iter().find_map(|b| b["text"]["text"].as_str());
    found.unwrap_or_default().to_owned()
}

/// An argument of a Web API call, wherever Slack would take it from: the query
/// string, a form body or a JSON body.
fn argument(request: &Request, key: &str) -> Option<String> {
    let query = request.query.as_deref().unwrap_or("").as_bytes();
    let form = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let json = || {
        let body: Value = serde_json::from_slice(&request.body).ok()?;
        match &body[key] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    form(query).or_else(json).or_else(|| form(&request.body))
}

// Threads.

#[test]
fn two_hosts_threading_under_one_key_make_one_thread() {
    let fleet = Fleet::new(2);
    // Without the history scope, only the shared state can tell host B of the
    // thread: the metadata lookup cannot stand in for it.
    fleet.bed.deny_scope("channels:history");
    let thread = |host: usize, text: &str| {
        let args = ["send", "--to", "bot", "--thread", "deploy-1", text];
        fleet.go(host, &args).code(0)
    };
    thread(0, "build");
    fleet.keys();
    thread(1, "test");
    thread(0, "deploy");
    let posts = posts(&fleet.bed);
    assert_eq!(posts.len(), 3);
    assert_eq!(thread_of(&posts[0]), None, "host A starts the thread");
    let parent = ts(&posts[0]);
    assert_eq!(
        thread_of(&posts[1]).as_deref(),
        Some(parent.as_str()),
        "host B replies"
    );
    assert_eq!(thread_of(&posts[2]).as_deref(), Some(parent.as_str()));
}

#[test]
fn two_hosts_threading_under_one_key_at_the_same_moment_make_one_thread() {
    let fleet = Fleet::new(2);
    fleet.bed.deny_scope("channels:history");
    // The first post is slow, so the other host asks while no thread exists yet.
    fleet.bed.fault(Fault::Slow(Duration::from_millis(700)));
    let both: Vec<Background> = (0..2)
        .map(|host| {
            let text = format!("job on host {host}");
            let args = ["send", "--to", "bot", "--thread", "ci-77", &text];
            Background::start(fleet.chime(host, &args))
        })
        .collect();
    for host in both {
        host.finish().code(0);
    }
    let posts = posts(&fleet.bed);
    assert_eq!(posts.len(), 2);
    let top_level: Vec<&Request> = posts.iter().filter(|p| thread_of(p).is_none()).collect();
    assert_eq!(top_level.len(), 1, "one parent, one reply");
    let reply = posts.iter().find(|p| thread_of(p).is_some()).unwrap();
    assert_eq!(thread_of(reply), Some(ts(top_level[0])));
}

#[test]
fn an_update_from_another_host_edits_the_message_the_first_host_posted() {
    let fleet = Fleet::new(2);
    fleet.bed.deny_scope("channels:history");
    let update = |host: usize, text: &str| {
        let args = [
            "send", "--to", "bot", "--update", "deploy-7", "--json", text,
        ];
        fleet.go(host, &args).code(0).json_lines()[0]["ts"].clone()
    };
    let posted = update(0, "deploying…");
    assert_eq!(update(1, "✅ deployed"), posted, "the same message");
    let requests = fleet.bed.delivered();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/api/chat.postMessage", "/api/chat.update"]);
    assert_eq!(requests[1].json()["ts"], posted);
    assert_eq!(requests[1].json()["text"], "✅ deployed");
}

// Job outcomes, dedupe windows and limits.

#[test]
fn on_change_on_one_host_sees_the_outcome_another_host_recorded() {
    let fleet = Fleet::new(2);
    let job = |host: usize, command: &str| {
        let args = [
            "run",
            "--on",
            "change",
            "--name",
            "nightly-backup",
            "--",
            command,
        ];
        fleet.go(host, &args)
    };
    job(0, "false").code(1);
    assert_eq!(fleet.bed.delivered().len(), 1, "host A reports the failure");
    job(1, "false").code(1);
    assert_eq!(
        fleet.bed.delivered().len(),
        1,
        "host B fails the same way: no change, nothing posted"
    );
    job(1, "true").code(0);
    let titles: Vec<String> = fleet
        .bed
        .delivered()
        .iter()
        .map(|r| title(&r.json()))
        .collect();
    assert_eq!(
        titles,
        [
            ":x: nightly-backup failed (exit 1)",
            ":white_check_mark: nightly-backup succeeded"
        ]
    );
}

#[test]
fn with_the_state_server_down_a_host_still_deduplicates_by_itself() {
    let mut fleet = Fleet::new(1);
    fleet.redis.stop();
    for _ in 0..3 {
        let args = ["send", "--dedupe", "disk-full", "/var is 97% full"];
        warned_once(fleet.go(0, &args).code(0));
    }
    assert_eq!(
        texts(&fleet.bed),
        ["/var is 97% full"],
        "one host's own window"
    );
}

#[test]
fn the_same_dedupe_key_from_two_hosts_within_the_window_posts_once() {
    let fleet = Fleet::new(2);
    for host in [0, 1, 0] {
        let args = [
            "send",
            "--dedupe",
            "disk-full",
            "-l",
            "warning",
            "/var is 97% full",
        ];
        fleet.go(host, &args).code(0);
    }
    assert_eq!(texts(&fleet.bed).len(), 1, "{:?}", texts(&fleet.bed));
    fleet.keys();
}

#[test]
fn a_routes_dedupe_window_is_shared_by_every_host() {
    let fleet = Fleet::new(3);
    for host in 0..3 {
        fleet
            .go(host, &["send", "-r", "deduped", "-l", "error", "db slow"])
            .code(0);
    }
    assert_eq!(texts(&fleet.bed).len(), 1, "{:?}", texts(&fleet.bed));
}

#[test]
fn a_routes_limit_counts_the_messages_of_every_host() {
    let fleet = Fleet::new(2);
    fleet
        .go(
            0,
            &["send", "-r", "limited", "-l", "warning", "check 1 failed"],
        )
        .code(0);
    fleet
        .go(
            0,
            &["send", "-r", "limited", "-l", "warning", "check 2 failed"],
        )
        .code(0);
    fleet
        .go(
            1,
            &["send", "-r", "limited", "-l", "warning", "check 3 failed"],
        )
        .code(0);
    let texts = texts(&fleet.bed);
    assert_eq!(texts.len(), 2, "a limit of 2 for the fleet: {texts:?}");
    assert!(!texts.iter().any(|t| t.contains("check 3")), "{texts:?}");
}

// Pacing.

#[test]
fn five_hosts_piping_into_one_paced_channel_stay_within_its_rate_and_lose_no_line() {
    let fleet = Fleet::new(5);
    // Slack's own pace for a webhook, with a little burst for the jitter of
    // five processes: five hosts each keeping only their own pace would send
    // five times too fast.
    fleet.bed.set_rate(2, 1.0);
    let line = |host: usize, n: usize| format!("host {host} line {n:02}");
    let mut pipes: Vec<Background> = (0..5)
        .map(|host| {
            let args = [
                "pipe",
                "--to",
                "paced-hook",
                "--interval",
                "500ms",
                "--timeout",
                "60s",
            ];
            Background::start(fleet.chime(host, &args))
        })
        .collect();
    // Two batches from every host, so each sends more than once.
    for half in [0..10, 10..20] {
        for (host, pipe) in pipes.iter_mut().enumerate() {
            let text: String = half.clone().map(|n| line(host, n) + "\n").collect();
            pipe.write(&text);
        }
        std::thread::sleep(Duration::from_millis(1200));
    }
    for pipe in pipes {
        pipe.finish().code(0);
    }
    let limited = fleet
        .bed
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(
        limited <= 2,
        "{limited} answers of 429: the fleet outran the channel"
    );
    let delivered = delivered_lines(&fleet.bed);
    for host in 0..5 {
        let mine: Vec<&String> = delivered
            .iter()
            .filter(|l| l.starts_with(&format!("host {host} ")))
            .collect();
        let expected: Vec<String> = (0..20).map(|n| line(host, n)).collect();
        assert_eq!(
            mine,
            expected.iter().collect::<Vec<_>>(),
            "host {host}: once each, in order"
        );
    }
    assert_eq!(delivered.len(), 100, "no other line: {delivered:?}");
}

#[test]
fn sends_from_six_hosts_at_once_share_one_pace_per_channel() {
    let fleet = Fleet::new(6);
    fleet.bed.set_rate(2, 1.0);
    let sends: Vec<Background> = (0..6)
        .map(|host| {
            let text = format!("build finished on host {host}");
            Background::start(fleet.chime(host, &["send", "--to", "paced-bot", &text]))
        })
        .collect();
    for send in sends {
        send.finish().code(0);
    }
    let limited = fleet
        .bed
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(
        limited <= 2,
        "{limited} answers of 429: the fleet outran the channel"
    );
    let mut texts = texts(&fleet.bed);
    texts.sort();
    let expected: Vec<String> = (0..6)
        .map(|h| format!("build finished on host {h}"))
        .collect();
    assert_eq!(texts, expected, "each once");
}

#[test]
fn a_threads_first_message_and_its_replies_take_turns_under_one_pace() {
    let fleet = Fleet::new(2);
    // The first names the channel as the profile does (`#builds`), the
    // replies by the ID Slack answered with: one channel, one bucket.
    let steps = [(0, "one"), (1, "two"), (0, "three")];
    for (host, text) in steps {
        let args = ["send", "--to", "paced-bot", "--thread", "build-7", text];
        fleet.go(host, &args).code(0);
    }
    fleet.go(1, &["send", "--to", "paced-bot", "four"]).code(0);
    let buckets = fleet.redis.keys("chime:pace:*");
    assert_eq!(buckets.len(), 1, "one pace for the channel: {buckets:?}");
    assert_eq!(texts(&fleet.bed), ["one", "two", "three", "four"]);
}

#[test]
fn two_destinations_of_one_bot_in_two_channels_keep_their_own_threads_and_windows() {
    let fleet = Fleet::new(1);
    fleet
        .go(0, &["send", "--to", "bot", "--thread", "rel-9", "deploys"])
        .code(0);
    fleet
        .go(
            0,
            &["send", "--to", "paced-bot", "--thread", "rel-9", "builds"],
        )
        .code(0);
    let posts = posts(&fleet.bed);
    assert_eq!(thread_of(&posts[1]), None, "a thread of its own channel");
    assert_eq!(posts[1].json()["channel"], "#builds");
    // One send to both under one dedupe key: a window each, no wait.
    let both = [
        "send",
        "--to",
        "bot",
        "--to",
        "paced-bot",
        "--dedupe",
        "dd",
        "disk full",
    ];
    let run = fleet.go(0, &both).code(0);
    assert!(!run.stderr.contains("cannot deduplicate"), "{run}");
    assert_eq!(
        texts(&fleet.bed)
            .iter()
            .filter(|t| *t == "disk full")
            .count(),
        2
    );
}

#[test]
fn a_claim_left_by_a_killed_host_costs_the_next_host_half_its_time_not_its_message() {
    let fleet = Fleet::new(2);
    fleet.bed.fault(Fault::Slow(Duration::from_secs(20)));
    let mut first = Background::start(fleet.chime(
        0,
        &["send", "--to", "bot", "--thread", "deploy-3", "starting"],
    ));
    until("host A claims the key", || {
        (!fleet.redis.keys("chime:thread-claim:*").is_empty()).then_some(())
    });
    first.child.kill().unwrap();
    let _ = first.child.wait();
    // A platform as far away as a real one: the post needs time of its own.
    fleet.bed.answer_after(Duration::from_millis(300));
    // Time enough that a loaded machine still posts in the half it keeps;
    // waiting the whole of it, as before, would still time out.
    let args = [
        "send",
        "--timeout",
        "10s",
        "--to",
        "bot",
        "--thread",
        "deploy-3",
        "still here",
    ];
    fleet.go(1, &args).code(0);
    assert!(texts(&fleet.bed).contains(&"still here".to_owned()));
}

#[test]
fn a_flush_of_every_profile_reports_a_window_kept_on_the_state_server() {
    let fleet = Fleet::new(1);
    // A profile of its own destination: no other profile's flush closes it.
    let other = fleet.hosts[0].path().join("other.toml");
    let text = format!(
        "[defaults]\nroute = \"ops\"\n[destinations.alerts]\nkind = \"slack\"\nurl = \"{}\"\n\
         pace = \"0s\"\n[routes.ops]\nto = [\"alerts\"]\n",
        fleet.bed.webhook("other")
    );
    std::fs::write(&other, text).unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let other = other.to_str().unwrap();
    for _ in 0..3 {
        let args = [
            "--config",
            other,
            "send",
            "--dedupe",
            "dk",
            "--dedupe-window",
            "1s",
            "disk full",
        ];
        fleet.go(0, &args).code(0);
    }
    std::thread::sleep(Duration::from_millis(1100));
    fleet.go(0, &["flush"]).code(0);
    let texts = texts(&fleet.bed);
    assert_eq!(texts.len(), 2, "the first, then its count: {texts:?}");
}

// When the state server is away.

#[test]
fn redis_stopped_between_sends_costs_one_warning_a_send_and_no_message() {
    let mut fleet = Fleet::new(1);
    let send = |fleet: &Fleet, n: usize| {
        let text = format!("step {n}");
        fleet
            .go(0, &["send", "--to", "bot", "--thread", "nightly", &text])
            .code(0)
    };
    for n in 1..=3 {
        not_warned(send(&fleet, n));
    }
    fleet.redis.stop();
    for n in 4..=6 {
        warned_once(send(&fleet, n));
    }
    fleet.go(0, &["flush", "--all"]).code(0);
    fleet.redis.restart();
    not_warned(send(&fleet, 7));
    let expected: Vec<String> = (1..=7).map(|n| format!("step {n}")).collect();
    assert_eq!(texts(&fleet.bed), expected, "each once, in order");
    let posts = posts(&fleet.bed);
    let parent = ts(&posts[0]);
    for reply in &posts[1..3] {
        assert_eq!(
            thread_of(reply),
            Some(parent.clone()),
            "one thread while Redis was up"
        );
    }
}

#[test]
fn redis_and_slack_both_down_spool_the_message_and_a_flush_delivers_it_once() {
    let mut redis = Redis::start();
    redis.stop();
    let mut fleet = Fleet::with(Bed::down(), redis, 1, "");
    let sent = fleet
        .go(0, &["send", "--to", "paced-hook", "disk full on db-1"])
        .code(75);
    warned_once(sent);
    fleet.bed.come_up();
    fleet.go(0, &["flush", "--all"]).code(0);
    assert_eq!(texts(&fleet.bed), ["disk full on db-1"]);
    fleet.redis.restart();
    fleet.go(0, &["flush", "--all"]).code(0);
    assert_eq!(texts(&fleet.bed), ["disk full on db-1"], "not again");
}

#[test]
fn redis_stopped_during_a_pipe_warns_once_and_every_line_arrives_once() {
    let mut fleet = Fleet::new(1);
    // The paced webhook: every batch takes the fleet's turn from the server.
    let args = [
        "pipe",
        "--to",
        "paced-hook",
        "--interval",
        "200ms",
        "--timeout",
        "10s",
    ];
    let mut pipe = Background::start(fleet.chime(0, &args));
    let before: Vec<String> = (0..50).map(|i| format!("before {i:03}")).collect();
    let during: Vec<String> = (0..50).map(|i| format!("during {i:03}")).collect();
    pipe.write(&(before.join("\n") + "\n"));
    until("the first lines arrive", || {
        delivered_lines(&fleet.bed)
            .contains(&"before 049".to_owned())
            .then_some(())
    });
    fleet.redis.stop();
    pipe.write(&(during.join("\n") + "\n"));
    let run = warned_once(pipe.finish().code(0));
    let expected: Vec<String> = before.into_iter().chain(during).collect();
    assert_eq!(delivered_lines(&fleet.bed), expected, "{run}");
}

#[test]
fn a_state_server_that_accepts_and_never_answers_does_not_hold_the_message_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Connections are taken and kept, never answered: a Redis that hangs.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let fleet = Fleet::new(1);
    let mut cmd = fleet.hosts[0].chime(&["send", "--thread", "k", "--to", "bot", "still here"]);
    cmd.env("CHIME_STATE_URL", format!("redis://127.0.0.1:{port}"));
    warned_once(run_within(cmd, LIMIT).code(0));
    assert_eq!(texts(&fleet.bed), ["still here"]);
}

// The `[state]` table.

#[test]
fn a_state_table_with_the_right_password_shares_state_and_a_wrong_one_still_delivers() {
    const PASSWORD: &str = "FAKESTATEPASSWORD2";
    const WRONG: &str = "FAKEWRONGPASSWORD2";
    let redis = Redis::start_with_password(PASSWORD);
    let table = format!(
        "[state]\nurl = \"{}\"\npassword = \"${{STATE_PASSWORD}}\"\n",
        redis.url()
    );
    let fleet = Fleet::with(Bed::start(), redis, 2, &table);
    fleet.bed.deny_scope("channels:history");
    let with = |host: usize, password: &str, text: &str| {
        let mut cmd = fleet.hosts[host].chime(&["send", "--to", "bot", "--thread", "k", text]);
        cmd.env("STATE_PASSWORD", password);
        run_within(cmd, LIMIT)
            .never_shows(PASSWORD)
            .never_shows(WRONG)
    };
    not_warned(with(0, PASSWORD, "one").code(0));
    not_warned(with(1, PASSWORD, "two").code(0));
    fleet.keys();
    let posts = posts(&fleet.bed);
    assert_eq!(
        thread_of(&posts[1]),
        Some(ts(&posts[0])),
        "shared through Redis"
    );
    let before = fleet.redis.everything();
    warned_once(with(1, WRONG, "three").code(0));
    assert_eq!(
        texts(&fleet.bed),
        ["one", "two", "three"],
        "delivered all the same"
    );
    assert_eq!(
        fleet.redis.everything(),
        before,
        "nothing written without the password"
    );
}

#[test]
fn chime_state_url_overrides_the_state_tables_url() {
    let mut dead = Redis::start();
    dead.stop();
    let table = format!("[state]\nurl = \"{}\"\n", dead.url());
    let fleet = Fleet::with(Bed::start(), Redis::start(), 1, &table);
    not_warned(
        fleet
            .go(0, &["send", "--to", "bot", "--thread", "k", "one"])
            .code(0),
    );
    fleet.keys();
    // Without the variable, the table's url is the one tried.
    warned_once(
        fleet
            .bare(0, &["send", "--to", "bot", "--thread", "k", "two"])
            .code(0),
    );
}

#[test]
fn every_key_starts_with_the_prefix_by_default_chime_or_the_tables() {
    let default = Fleet::new(1);
    let prefixed = Fleet::with(
        Bed::start(),
        Redis::start(),
        1,
        "[state]\nprefix = \"fleet-a\"\n",
    );
    for fleet in [&default, &prefixed] {
        fleet
            .go(0, &["send", "--to", "bot", "--thread", "k", "one"])
            .code(0);
        fleet.go(0, &["send", "--dedupe", "d", "two"]).code(0);
        fleet
            .go(0, &["run", "--on", "change", "--name", "j", "--", "false"])
            .code(1);
    }
    let keys = default.keys();
    assert!(keys.iter().all(|k| k.starts_with("chime")), "{keys:?}");
    let keys = prefixed.keys();
    assert!(keys.iter().all(|k| k.starts_with("fleet-a")), "{keys:?}");
}

#[test]
fn a_rediss_state_server_is_trusted_through_the_tables_ca_file() {
    let redis = Redis::start_tls();
    let table = format!(
        "[state]\nurl = \"{}\"\nca_file = \"{}\"\n",
        redis.url(),
        redis.ca_file().display()
    );
    let fleet = Fleet::with(Bed::start(), redis, 2, &table);
    fleet.bed.deny_scope("channels:history");
    not_warned(
        fleet
            .bare(0, &["send", "--to", "bot", "--thread", "k", "one"])
            .code(0),
    );
    not_warned(
        fleet
            .bare(1, &["send", "--to", "bot", "--thread", "k", "two"])
            .code(0),
    );
    fleet.keys();
    let posts = posts(&fleet.bed);
    assert_eq!(thread_of(&posts[1]), Some(ts(&posts[0])), "shared over TLS");
    // The same server to a host without the CA: not trusted, so not used,
    // and the message goes all the same.
    let sandbox = host(&profile(&fleet.bed, ""));
    // The paced webhook, whose turn is the fleet's: the send asks the server.
    let mut cmd = sandbox.chime(&["send", "--to", "paced-hook", "three"]);
    cmd.env("CHIME_STATE_URL", fleet.redis.url());
    warned_once(run_within(cmd, LIMIT).code(0));
    assert_eq!(texts(&fleet.bed).last().map(String::as_str), Some("three"));
}

// What Redis holds.

#[test]
fn nothing_in_redis_contains_a_destinations_token_or_webhook_url() {
    let fleet = Fleet::new(1);
    let hook = fleet.bed.webhook("ops");
    let paced = fleet.bed.webhook("paced");
    let go = |args: &[&str], code: i32| fleet.go(0, args).code(code);
    go(&["send", "--to", "bot", "--thread", "k", "threaded"], 0);
    go(&["send", "--to", "bot", "--update", "u", "edited"], 0);
    go(&["send", "--dedupe", "d", "deduped"], 0);
    go(&["send", "-r", "deduped", "route deduped"], 0);
    go(&["send", "-r", "limited", "limited"], 0);
    go(&["send", "--to", "paced-bot", "paced"], 0);
    go(&["send", "--to", "paced-hook", "paced"], 0);
    go(&["run", "--on", "change", "--name", "j", "--", "false"], 1);
    fleet.keys();
    // The secret parts of each: the token whole, each webhook's URL and its
    // last segment (the part Slack keeps secret).
    let mut secrets = vec![TOKEN.to_owned(), "FAKESHAREDTOKEN".to_owned()];
    for url in [&hook, &paced] {
        secrets.push(url.clone());
        secrets.push(url.rsplit('/').next().unwrap().to_owned());
    }
    for (key, value) in fleet.redis.everything() {
        for secret in &secrets {
            assert!(
                !key.contains(secret.as_str()),
                "key {key:?} holds {secret:?}"
            );
            assert!(
                !value.contains(secret.as_str()),
                "the value of {key:?} holds {secret:?}: {value}"
            );
        }
    }
}

// `chime test` and `chime config show`.

#[test]
fn chime_test_says_the_state_server_is_ok_when_it_answers_and_exits_74_when_not() {
    let mut fleet = Fleet::new(1);
    let state_rows = |run: &Run| -> Vec<String> {
        let lines = run.stdout.lines().filter(|l| l.contains(WARNING));
        lines.map(str::to_owned).collect()
    };
    let says_ok = |row: &String| row.split_whitespace().any(|w| w == "ok");
    let up = fleet.go(0, &["test"]).code(0);
    let rows = state_rows(&up);
    assert!(
        rows.iter().any(says_ok),
        "the state server is reported ok\n{up}"
    );
    let tested = fleet.bed.delivered().len();
    fleet.redis.stop();
    // A test keeps nothing: not delivered and not kept.
    let down = fleet.go(0, &["test"]).code(74);
    assert!(
        down.stdout.contains(WARNING) || down.stderr.contains(WARNING),
        "{down}"
    );
    assert!(
        !state_rows(&down).iter().any(says_ok),
        "not reported ok\n{down}"
    );
    assert_eq!(
        fleet.bed.delivered().len(),
        2 * tested,
        "the destinations are still tested"
    );
}

#[test]
fn config_show_shows_the_state_table_with_its_password_redacted() {
    const PASSWORD: &str = "FAKESTATEPASSWORD3";
    let sandbox = Sandbox::new();
    sandbox.profile(
        "[state]\nurl = \"redis://127.0.0.1:6390\"\npassword = \"${STATE_PASSWORD}\"\n\
         user = \"chime-fleet\"\n",
    );
    let mut cmd = sandbox.chime(&["config", "show"]);
    cmd.env("STATE_PASSWORD", PASSWORD);
    run_within(cmd, LIMIT)
        .code(0)
        .stdout_has("[state]")
        .stdout_has("url = \"redis://127.0.0.1:6390\"")
        .stdout_has("user = \"chime-fleet\"")
        .stdout_has("prefix = \"chime\"")
        .stdout_has("connect_timeout = \"1s\"")
        .never_shows(PASSWORD);
    // A password written into the URL is as secret as one beside it.
    let mut cmd = sandbox.chime(&["config", "show"]);
    cmd.env("STATE_PASSWORD", "unused").env(
        "CHIME_STATE_URL",
        format!("redis://chime-fleet:{PASSWORD}@127.0.0.1:6391"),
    );
    run_within(cmd, LIMIT)
        .code(0)
        .stdout_has("127.0.0.1:6391")
        .never_shows(PASSWORD);
}

// Slack: a thread found again through its message metadata.

/// Hosts with one profile and no state server at all.
fn without_redis(hosts: usize) -> (Bed, Vec<Sandbox>) {
    let bed = slack(Bed::start());
    let text = profile(&bed, "");
    let hosts = (0..hosts).map(|_| host(&text)).collect();
    (bed, hosts)
}

fn send(host: &Sandbox, args: &[&str]) -> Run {
    run_within(host.chime(args), LIMIT)
}

/// [`send`] in a CI job, where a key nobody remembers is looked for in the
/// channel: each job of a run starts on an empty disk.
fn send_in_ci(host: &Sandbox, args: &[&str]) -> Run {
    let mut cmd = host.chime(args);
    cmd.env("GITHUB_ACTIONS", "true").env("GITHUB_RUN_ID", "77");
    run_within(cmd, LIMIT)
}

#[test]
fn the_first_message_under_a_thread_key_carries_chime_thread_metadata_with_the_key() {
    let (bed, hosts) = without_redis(1);
    send(
        &hosts[0],
        &["send", "--to", "bot", "--thread", "deploy-9", "deploying"],
    )
    .code(0);
    let posts = posts(&bed);
    assert_eq!(posts.len(), 1);
    let message = bed
        .message(&bed.channel_id("#deploys"), &ts(&posts[0]))
        .expect("the bed kept the message");
    assert_eq!(
        message["metadata"]["event_type"], "chime_thread",
        "{message}"
    );
    assert_eq!(
        message["metadata"]["event_payload"],
        serde_json::json!({"key": "deploy-9"}),
        "{message}"
    );
}

#[test]
fn a_host_that_remembers_nothing_finds_the_thread_through_history_metadata() {
    let (bed, hosts) = without_redis(2);
    send_in_ci(
        &hosts[0],
        &["send", "--to", "bot", "--thread", "deploy-9", "deploying"],
    )
    .code(0);
    // Newer messages in the channel, another thread's parent among them, so
    // only the key in the metadata can tell which is the thread.
    send_in_ci(
        &hosts[0],
        &["send", "--to", "bot", "--thread", "other", "unrelated"],
    )
    .code(0);
    send_in_ci(&hosts[0], &["send", "--to", "bot", "noise"]).code(0);
    send_in_ci(
        &hosts[1],
        &["send", "--to", "bot", "--thread", "deploy-9", "deployed"],
    )
    .code(0);
    let posts = posts(&bed);
    assert_eq!(posts.len(), 4);
    assert_eq!(posts[3].json()["text"], "deployed");
    assert_eq!(
        thread_of(&posts[3]),
        Some(ts(&posts[0])),
        "a reply to the first"
    );
    let reads: Vec<Request> = bed
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/conversations.history")
        .collect();
    assert!(!reads.is_empty(), "host B read the channel's history");
    assert!(
        reads
            .iter()
            .any(|r| argument(r, "include_all_metadata").is_some_and(|v| v == "true" || v == "1")),
        "with the metadata: {:?}",
        reads
            .iter()
            .map(|r| (&r.query, r.text()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn outside_ci_a_key_this_host_does_not_remember_starts_a_thread_without_reading_the_channel() {
    let (bed, hosts) = without_redis(2);
    send(
        &hosts[0],
        &["send", "--to", "bot", "--thread", "deploy-9", "deploying"],
    )
    .code(0);
    send(
        &hosts[1],
        &["send", "--to", "bot", "--thread", "deploy-9", "deployed"],
    )
    .code(0);
    let paths: Vec<String> = bed.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/chat.postMessage", "/api/chat.postMessage"]);
    assert_eq!(thread_of(&posts(&bed)[1]), None, "a thread of its own");
}

#[test]
fn a_channel_given_by_name_is_found_in_the_channel_list_once_then_its_history_is_read_by_id() {
    let (bed, hosts) = without_redis(2);
    for key in ["deploy-1", "deploy-2"] {
        send_in_ci(
            &hosts[0],
            &["send", "--to", "bot", "--thread", key, "start"],
        )
        .code(0);
    }
    for key in ["deploy-1", "deploy-2"] {
        send_in_ci(&hosts[1], &["send", "--to", "bot", "--thread", key, "more"]).code(0);
    }
    let posts = posts(&bed);
    assert_eq!(thread_of(&posts[2]), Some(ts(&posts[0])));
    assert_eq!(thread_of(&posts[3]), Some(ts(&posts[1])));
    let calls = |method: &str| -> Vec<Request> {
        let path = format!("/api/{method}");
        bed.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    };
    // Host A started both threads and remembers them: it looked once per
    // key, finding nothing; host B found the ID on its first look only.
    assert_eq!(calls("conversations.list").len(), 2, "one list per host");
    let histories = calls("conversations.history");
    assert_eq!(histories.len(), 4, "one history per new key on each host");
    let id = bed.channel_id("#deploys");
    assert!(
        histories
            .iter()
            .all(|r| argument(r, "channel").as_deref() == Some(id.as_str())),
        "the history is read by ID"
    );
}

#[test]
fn without_the_history_scope_a_host_that_remembers_nothing_warns_once_and_starts_a_new_thread() {
    let (bed, hosts) = without_redis(2);
    bed.deny_scope("channels:history");
    send_in_ci(
        &hosts[0],
        &["send", "--to", "bot", "--thread", "deploy-9", "deploying"],
    )
    .code(0);
    let first = send_in_ci(
        &hosts[1],
        &["send", "--to", "bot", "--thread", "deploy-9", "deployed"],
    )
    .code(0);
    let said = first
        .stderr
        .lines()
        .filter(|l| l.contains("channels:history"))
        .count();
    assert_eq!(said, 1, "said once, naming the scope\n{first}");
    let posts_now = posts(&bed);
    assert_eq!(posts_now.len(), 2);
    assert_eq!(thread_of(&posts_now[1]), None, "a new thread");
    // Host B now remembers its own thread: no lookup, no warning.
    let second = send_in_ci(
        &hosts[1],
        &["send", "--to", "bot", "--thread", "deploy-9", "verified"],
    )
    .code(0);
    assert!(!second.stderr.contains("channels:history"), "{second}");
    let posts = posts(&bed);
    assert_eq!(
        thread_of(&posts[2]),
        Some(ts(&posts[1])),
        "in host B's thread"
    );
}
