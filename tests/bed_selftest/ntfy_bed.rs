//! Tests of the ntfy stand-in's side of `chime ask`: action buttons, subscriptions that
//! stream JSON lines (`GET /<topic>/json`), read access, and the phone app's press of an
//! `http` action (PLATFORMS.md §9, ntfy's `server/actions.go` and `server/server.go`).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Client, Reply};
use crate::support::bed::Bed;
use crate::support::ntfy::{Ntfy, PREFIX};

fn bed() -> (Bed, Arc<Ntfy>) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let ntfy = Ntfy::new();
    bed.mount(PREFIX, ntfy.clone());
    (bed, ntfy)
}

fn publish(bed: &Bed, topic: &str, headers: &[(&str, &str)], message: &str) -> Reply {
    let url = format!("{}/ntfy/{topic}", bed.url());
    Client::to(&url)
        .post(&url, headers, message.as_bytes())
        .unwrap()
}

/// An open subscription, read a JSON line at a time.
struct Subscription {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: Vec<(String, String)>,
    lines: VecDeque<Value>,
}

impl Subscription {
    fn open(bed: &Bed, target: &str, headers: &[(&str, &str)]) -> Subscription {
        let authority = bed.url().trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&authority).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = format!("GET /ntfy/{target} HTTP/1.1\r\nhost: bed\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        (&stream)
            .write_all(format!("{head}\r\n").as_bytes())
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = vec![];
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let lines = VecDeque::new();
        Subscription {
            reader,
            status,
            headers,
            lines,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// The next JSON line, or why none came: the body ended (`UnexpectedEof`) or a timeout.
    fn next(&mut self) -> io::Result<Value> {
        while self.lines.is_empty() {
            let mut size = String::new();
            self.reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if size == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk)?;
            let text = String::from_utf8(chunk[..size].to_vec()).unwrap();
            let lines = text.lines().map(|l| serde_json::from_str(l).unwrap());
            self.lines.extend(lines);
        }
        Ok(self.lines.pop_front().unwrap())
    }

    /// The next line that is not a keepalive.
    fn next_event(&mut self) -> Value {
        loop {
            let line = self.next().unwrap();
            if line["event"] != "keepalive" {
                return line;
            }
        }
    }
}

#[test]
fn a_stream_opens_then_sees_a_message_published_after_it_began() {
    let (bed, ntfy) = bed();
    let mut stream = Subscription::open(&bed, "replies/json", &[]);
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.header("content-type"),
        Some("application/x-ndjson; charset=utf-8")
    );
    assert_eq!(stream.header("transfer-encoding"), Some("chunked"));
    let open = stream.next().unwrap();
    assert_eq!(
        (&open["event"], &open["topic"]),
        (&json!("open"), &json!("replies"))
    );
    assert!(open["id"].is_string() && open["time"].is_u64());
    assert_eq!(bed.requests().len(), 1, "recorded when the stream began");
    assert!(ntfy.wait_for_subscribers("replies", 1, Duration::from_secs(5)));
    let published = publish(&bed, "replies", &[("Title", "Decision")], "approved").json();
    let message = stream.next_event();
    assert_eq!(
        message, published,
        "the same message as the publish answered"
    );
    assert_eq!(
        (&message["event"], &message["message"]),
        (&json!("message"), &json!("approved"))
    );
    assert_eq!(message["title"], "Decision");
    assert!(message["expires"].as_u64() > message["time"].as_u64());
    publish(&bed, "elsewhere", &[], "not ours");
    publish(&bed, "replies", &[], "second");
    assert_eq!(
        stream.next_event()["message"],
        "second",
        "other topics are not streamed"
    );
}

#[test]
fn a_stream_sends_keepalives_at_the_interval_set() {
    let (bed, ntfy) = bed();
    ntfy.keepalive(Duration::from_millis(100));
    let mut stream = Subscription::open(&bed, "replies/json", &[]);
    assert_eq!(stream.next().unwrap()["event"], "open");
    let started = Instant::now();
    for _ in 0..3 {
        let keepalive = stream.next().unwrap();
        assert_eq!(
            (&keepalive["event"], &keepalive["topic"]),
            (&json!("keepalive"), &json!("replies"))
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn subscribers_counts_open_streams_and_forgets_one_whose_client_left() {
    let (bed, ntfy) = bed();
    assert_eq!(ntfy.subscribers("replies"), 0);
    let stream = Subscription::open(&bed, "replies/json", &[]);
    assert!(ntfy.wait_for_subscribers("replies", 1, Duration::from_secs(5)));
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ntfy.subscribers("replies") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ntfy.subscribers("replies"), 0);
}

#[test]
fn end_subscriptions_ends_the_streams_body() {
    let (bed, ntfy) = bed();
    let mut stream = Subscription::open(&bed, "replies/json", &[]);
    stream.next().unwrap();
    ntfy.end_subscriptions("replies");
    let ended = stream.next().map_err(|e| e.kind());
    assert_eq!(ended.unwrap_err(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn since_replays_cached_messages_first_and_poll_returns_them_and_ends() {
    let (bed, _ntfy) = bed();
    let first = publish(&bed, "replies", &[], "one").json();
    publish(&bed, "replies", &[], "two");
    let mut all = Subscription::open(&bed, "replies/json?since=all", &[]);
    assert_eq!(all.next().unwrap()["event"], "open");
    assert_eq!(
        (
            all.next_event()["message"].clone(),
            all.next_event()["message"].clone()
        ),
        (json!("one"), json!("two"))
    );
    let id = first["id"].as_str().unwrap();
    let mut after = Subscription::open(&bed, &format!("replies/json?since={id}"), &[]);
    after.next().unwrap();
    assert_eq!(
        after.next_event()["message"],
        "two",
        "the messages after that ID"
    );
    let mut recent = Subscription::open(&bed, "replies/json?since=10m", &[]);
    recent.next().unwrap();
    assert_eq!(recent.next_event()["message"], "one");
    let mut none = Subscription::open(&bed, "replies/json", &[]);
    none.next().unwrap();
    publish(&bed, "replies", &[], "three");
    assert_eq!(
        none.next_event()["message"],
        "three",
        "no since: only what comes next"
    );
    let url = format!("{}/ntfy/replies/json?poll=1", bed.url());
    let polled = Client::to(&url).send("GET", &url, &[], b"").unwrap();
    let messages: Vec<Value> = polled
        .body
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["message"].clone())
        .collect();
    assert_eq!(
        messages,
        ["one", "two", "three"],
        "no open event, all cached"
    );
    let url = format!("{}/ntfy/replies/json?since=yesterday", bed.url());
    let refused = Client::to(&url).send("GET", &url, &[], b"").unwrap();
    assert_eq!(
        (refused.status, refused.json()["code"].clone()),
        (400, json!(40008))
    );
    assert_eq!(refused.json()["error"], "invalid since parameter");
}

#[test]
fn a_protected_topic_needs_read_access_to_subscribe() {
    let (bed, ntfy) = bed();
    ntfy.protect_access("replies", &["Bearer tk_reader"], &["Bearer tk_writer"]);
    let url = format!("{}/ntfy/replies/json?poll=1", bed.url());
    let get = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let reply = Client::to(&url).send("GET", &url, &headers, b"").unwrap();
        let code = if reply.status == 200 {
            json!(null)
        } else {
            reply.json()["code"].clone()
        };
        (reply.status, code)
    };
    assert_eq!(get(None), (403, json!(40301)));
    assert_eq!(get(Some("Bearer tk_unknown")), (401, json!(40101)));
    assert_eq!(
        get(Some("Bearer tk_writer")),
        (403, json!(40301)),
        "write-only"
    );
    assert_eq!(get(Some("Bearer tk_reader")), (200, json!(null)));
    let stream = Subscription::open(
        &bed,
        "replies/json",
        &[("authorization", "Bearer tk_reader")],
    );
    assert_eq!(stream.status, 200);
    let refused = publish(
        &bed,
        "replies",
        &[("authorization", "Bearer tk_reader")],
        "x",
    );
    assert_eq!(refused.status, 403, "read-only");
}

const ACTIONS: &str = "http, Approve, URL/ntfy/replies, method=PUT, body=approved, \
                       headers.X-Title=\"Decision, final\", clear=true; \
                       view, 'Open \\'run\\'', https://ci.example/run/1";

#[test]
fn actions_in_the_simple_format_are_kept_and_shown() {
    let (bed, ntfy) = bed();
    let actions = ACTIONS.replace("URL", &bed.url());
    let reply = publish(&bed, "ask", &[("X-Actions", &actions)], "Deploy?");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let shown = &reply.json()["actions"];
    assert_eq!(shown[0]["action"], "http");
    assert_eq!(shown[0]["method"], "PUT");
    assert_eq!(shown[0]["headers"], json!({"X-Title": "Decision, final"}));
    assert_eq!(
        (&shown[0]["body"], &shown[0]["clear"]),
        (&json!("approved"), &json!(true))
    );
    assert_eq!(shown[1]["label"], "Open 'run'");
    assert_eq!(
        (&shown[1]["url"], &shown[1]["clear"]),
        (&json!("https://ci.example/run/1"), &json!(false))
    );
    let kept = &ntfy.published()[0].actions;
    assert_eq!((kept.len(), kept[0].label.as_str()), (2, "Approve"));
}

#[test]
fn actions_in_json_are_read_as_ntfy_reads_them() {
    let (bed, ntfy) = bed();
    let json_actions = r#"[{"action":"http","label":"Deny","url":"https://x.example/","method":"post","headers":{"A":"b"}}]"#;
    let reply = publish(&bed, "ask", &[("Actions", json_actions)], "Deploy?");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let kept = &ntfy.published()[0].actions[0];
    assert_eq!(
        (kept.label.as_str(), kept.method.as_str()),
        ("Deny", "POST")
    );
    assert_eq!(kept.headers.get("A").map(String::as_str), Some("b"));
}

#[test]
fn more_than_three_actions_or_a_bad_one_are_refused_with_40018() {
    let (bed, ntfy) = bed();
    let four = "view, A, https://a.example; view, B, https://b.example; view, C, https://c.example; view, D, https://d.example";
    let refused = |actions: &str| {
        let reply = publish(&bed, "ask", &[("Actions", actions)], "x");
        let body = reply.json();
        assert_eq!(body["link"], "https://ntfy.sh/docs/publish/#action-buttons");
        (
            reply.status,
            body["code"].clone(),
            body["error"].as_str().unwrap().to_owned(),
        )
    };
    let why = |w: &str| {
        (
            400,
            json!(40018),
            format!("invalid request: actions invalid; {w}"),
        )
    };
    assert_eq!(refused(four), why("only 3 actions allowed"));
    assert_eq!(
        refused("http, Go"),
        why("parameter 'url' is required for action 'http'")
    );
    assert_eq!(
        refused("call, Go"),
        why("parameter 'action' cannot be 'call', valid values are 'view', 'broadcast' and 'http'")
    );
    assert_eq!(
        refused("http, Go, https://a.example, method=GET, body=x"),
        why("parameter 'body' cannot be set if method is GET")
    );
    assert_eq!(
        refused("http, Go, https://a.example, colour=red"),
        why("key 'colour' unknown")
    );
    assert_eq!(
        refused("http, \"Go"),
        why("unexpected end of input, quote started at position 7")
    );
    assert!(ntfy.published().is_empty());
    let three =
        "view, A, https://a.example; view, B, https://b.example; view, C, https://c.example";
    assert_eq!(publish(&bed, "ask", &[("Actions", three)], "x").status, 200);
}

#[test]
fn pressing_an_http_action_publishes_its_request_to_the_reply_topic() {
    let (bed, ntfy) = bed();
    let actions = ACTIONS.replace("URL", &bed.url());
    publish(&bed, "ask", &[("X-Actions", &actions)], "Deploy?");
    let mut replies = Subscription::open(&bed, "replies/json", &[]);
    replies.next().unwrap();
    let (status, body) = ntfy.press("ask", 0, "Approve");
    assert_eq!(status, 200, "{body}");
    let message = replies.next_event();
    assert_eq!(
        (&message["message"], &message["title"]),
        (&json!("approved"), &json!("Decision, final"))
    );
    assert_eq!(ntfy.published()[1].topic, "replies");
}

#[test]
#[should_panic(expected = "has no http action \"Open 'run'\"")]
fn pressing_a_view_action_panics() {
    let (bed, ntfy) = bed();
    let actions = ACTIONS.replace("URL", &bed.url());
    publish(&bed, "ask", &[("X-Actions", &actions)], "Deploy?");
    ntfy.press("ask", 0, "Open 'run'");
}
