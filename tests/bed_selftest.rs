//! Tests of the Slack test bed itself. Every other test trusts the bed to answer as Slack
//! does (PLATFORMS.md §1–3), so it is checked here over raw HTTP/1.1, with no client library
//! whose own habits (pooling, retries, header defaults) could hide a fault in the server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::bed::{Bed, Fault, Via};

mod ntfy_bed;
mod redis_bed;
mod telegram_bed;

const TOKEN: &str = "xoxb-bed-selftest";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A status, lowercased headers and a body, as read off the wire.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn said(&self) -> (u16, &str) {
        (self.status, &self.body)
    }

    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        let parsed = serde_json::from_str(&self.body);
        parsed.unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One client connection, kept open across requests to exercise keep-alive.
struct Client(BufReader<TcpStream>);

impl Client {
    fn to(url: &str) -> Client {
        let authority = url.trim_start_matches("http://").split('/').next();
        let stream = TcpStream::connect(authority.unwrap()).unwrap();
        // A bed that never answers must fail the test, not hang it.
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client(BufReader::new(stream))
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Reply> {
        let target = &url[url.find("://").map_or(0, |i| i + 3)..];
        let target = target.find('/').map_or("/", |i| &target[i..]);
        let mut head = format!("{method} {target} HTTP/1.1\r\nhost: bed\r\n");
        head.push_str(&format!("content-length: {}\r\n", body.len()));
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = format!("{head}\r\n").into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    fn post(&mut self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<Reply> {
        self.send("POST", url, headers, body)
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<Reply> {
        self.0.get_mut().write_all(bytes)?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.expect("a status line");
        let mut headers = vec![];
        loop {
            line.clear();
            self.0.read_line(&mut line)?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        if status == 100 {
            return self.read_reply();
        }
        let mut reply = Reply {
            status,
            headers,
            body: String::new(),
        };
        let length = reply
            .header("content-length")
            .expect("every answer has a length");
        let mut body = vec![0; length.parse().unwrap()];
        self.0.read_exact(&mut body)?;
        reply.body = String::from_utf8(body).unwrap();
        Ok(reply)
    }

    /// True once the server has closed its end (a read timeout is not a close).
    fn is_closed(&mut self) -> bool {
        match self.0.read(&mut [0; 1]) {
            Ok(read) => read == 0,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        }
    }
}

fn post(url: &str, content_type: &str, body: &[u8], token: Option<&str>) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type)];
    headers.extend(bearer.as_deref().map(|b| ("authorization", b)));
    Client::to(url).post(url, &headers, body).unwrap()
}

fn hook(url: &str, message: &Value) -> Reply {
    post(url, JSON_UTF8, message.to_string().as_bytes(), None)
}

fn text(text: &str) -> Value {
    json!({ "text": text })
}

/// A bed with a valid token, a channel the bot is in and one it is not in, and the URL of
/// `chat.postMessage`.
fn api_bed() -> (Bed, String) {
    let bed = Bed::start();
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.add_channel("quiet", false);
    let url = format!("{}/chat.postMessage", bed.api_url());
    (bed, url)
}

/// Posts with a good token and a charset, and checks the Web API's envelope: HTTP 200, JSON.
fn api(url: &str, message: &Value) -> Value {
    let reply = post(url, JSON_UTF8, message.to_string().as_bytes(), Some(TOKEN));
    assert_eq!(
        (reply.status, reply.header("content-type")),
        (200, Some(JSON_UTF8))
    );
    reply.json()
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

fn button(text: &str, url: &str) -> Value {
    json!({"type": "button", "text": plain(text), "url": url})
}

#[test]
fn webhook_answers_200_ok_and_ignores_identity_overrides() {
    let bed = Bed::start();
    let url = bed.webhook("ops-alerts");
    let shape = format!(
        "{}/services/T0TESTTEAM/BOPSALERTS/fakesecretopsalertsxxxxx",
        bed.url()
    );
    assert_eq!(url, shape);
    let message =
        json!({"text": "deployed", "channel": "#x", "username": "u", "icon_emoji": ":x:"});
    assert_eq!(hook(&url, &message).said(), (200, "ok"));
    let delivered = bed.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        (delivered[0].status, delivered[0].response.as_str()),
        (200, "ok")
    );
    assert_eq!(delivered[0].json(), message);
}

#[test]
fn webhook_answers_404_no_service_once_removed_or_never_created() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.remove_hook("ops");
    assert_eq!(hook(&url, &text("x")).said(), (404, "no_service"));
    let unknown = url.replace("BOPS", "BNOPE");
    assert_eq!(hook(&unknown, &text("x")).said(), (404, "no_service"));
    assert!(bed.delivered().is_empty());
}

#[test]
fn webhook_answers_410_channel_is_archived_once_archived() {
    let bed = Bed::start();
    bed.archive_hook("ops");
    let reply = hook(&bed.webhook("ops"), &text("x"));
    assert_eq!(reply.said(), (410, "channel_is_archived"));
}

#[test]
fn webhook_refuses_what_slack_refuses_with_the_bare_code() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let refusal = |body: &[u8]| post(&url, "application/json", body, None);
    assert_eq!(refusal(b"text=hi").said(), (400, "invalid_payload"));
    assert_eq!(refusal(b"[1]").said(), (400, "invalid_payload"));
    assert_eq!(
        refusal(br#"{"text":"","blocks":[]}"#).said(),
        (400, "no_text")
    );
    let many = json!({ "attachments": vec![text("a"); 101] }).to_string();
    assert_eq!(
        refusal(many.as_bytes()).said(),
        (400, "too_many_attachments")
    );
    assert_eq!(
        Client::to(&url).send("GET", &url, &[], b"").unwrap().status,
        405
    );
}

#[test]
fn webhook_answers_429_with_retry_after_past_its_burst_then_recovers() {
    let bed = Bed::start();
    // A token every 250 ms: a window wide enough for the second request to land in it on a
    // loaded machine, and a wait short enough to keep the suite fast.
    bed.set_rate(1, 4.0);
    let url = bed.webhook("ops");
    assert_eq!(hook(&url, &text("1")).status, 200);
    let limited = hook(&url, &text("2"));
    assert_eq!(
        (limited.said(), limited.header("retry-after")),
        ((429, ""), Some("1"))
    );
    thread::sleep(Duration::from_millis(300));
    assert_eq!(hook(&url, &text("3")).status, 200);
    let statuses: Vec<u16> = bed.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 200]);
}

#[test]
fn webhook_buckets_are_per_hook_and_retry_after_counts_whole_seconds() {
    let bed = Bed::start();
    bed.set_rate(2, 0.25);
    let (ops, dev) = (bed.webhook("ops"), bed.webhook("dev"));
    let statuses: Vec<u16> = (0..3).map(|_| hook(&ops, &text("x")).status).collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(hook(&ops, &text("x")).header("retry-after"), Some("4"));
    assert_eq!(hook(&dev, &text("x")).status, 200);
}

#[test]
fn webhook_refuses_a_3001_character_section_counting_characters_not_bytes() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let fits = hook(&url, &json!({ "blocks": [section(&"é".repeat(3000))] }));
    assert_eq!(fits.said(), (200, "ok"), "3000 characters (6000 bytes) fit");
    let over = hook(&url, &json!({ "blocks": [section(&"x".repeat(3001))] }));
    assert_eq!(over.said(), (400, "invalid_blocks"));
}

#[test]
fn webhook_refuses_51_blocks_with_invalid_blocks() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let dividers = |n| json!({ "blocks": vec![json!({"type": "divider"}); n] });
    assert_eq!(hook(&url, &dividers(50)).said(), (200, "ok"));
    assert_eq!(hook(&url, &dividers(51)).said(), (400, "invalid_blocks"));
}

#[test]
fn api_answers_each_refusal_as_200_with_ok_false() {
    let (bed, url) = api_bed();
    let error = |body: &[u8], token| post(&url, JSON_UTF8, body, token).json()["error"].clone();
    let message = json!({"channel": "#deploys", "text": "x"}).to_string();
    assert_eq!(error(message.as_bytes(), None), "not_authed");
    assert_eq!(
        error(message.as_bytes(), Some("xoxb-unknown")),
        "invalid_auth"
    );
    assert_eq!(error(b"{", Some(TOKEN)), "invalid_json");
    assert_eq!(error(b"[]", Some(TOKEN)), "json_not_object");
    assert_eq!(api(&url, &text("x"))["error"], "channel_not_found");
    let nowhere = api(&url, &json!({"channel": "#nowhere", "text": "x"}));
    assert_eq!(nowhere["error"], "channel_not_found");
    let quiet = api(&url, &json!({"channel": "#quiet", "text": "x"}));
    assert_eq!(quiet, json!({"ok": false, "error": "not_in_channel"}));
    assert_eq!(
        api(&url, &json!({"channel": "deploys"}))["error"],
        "no_text"
    );
    let delete = format!("{}/chat.delete", bed.api_url());
    let unknown = post(&delete, JSON_UTF8, b"{}", Some(TOKEN)).json();
    assert_eq!(unknown, json!({"ok": false, "error": "unknown_method"}));
    assert!(bed.delivered().is_empty());
    assert_eq!(bed.requests().len(), 9);
}

#[test]
fn api_posts_with_a_strictly_increasing_ts_and_the_channel_id() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let channel = bed.channel_id("#deploys");
    assert_eq!(channel, "C0DEPLOYS");
    let blocks = json!([section("*hi*")]);
    let mut previous = String::new();
    for name in ["#deploys", "deploys", "C0DEPLOYS", "#Deploys", "deploys"] {
        let message =
            json!({"channel": name, "text": "hi", "blocks": blocks, "thread_ts": "1.000001"});
        let answer = api(&url, &message);
        assert_eq!(
            (&answer["ok"], &answer["channel"]),
            (&json!(true), &json!(channel))
        );
        let ts = answer["ts"].as_str().unwrap().to_owned();
        let (secs, micros) = ts.split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().unwrap() > 1_700_000_000 && micros.len() == 6,
            "{ts}"
        );
        assert!(ts > previous, "{ts} after {previous}");
        let posted = json!({"type": "message", "subtype": "bot_message", "text": "hi", "ts": ts,
                            "bot_id": "B0TESTBOT", "blocks": blocks, "thread_ts": "1.000001"});
        assert_eq!(answer["message"], posted);
        assert_eq!(answer.get("warning"), None);
        previous = ts;
    }
    assert_eq!(bed.delivered().len(), 5);
}

#[test]
fn api_warns_missing_charset_when_the_content_type_has_none() {
    let (_bed, url) = api_bed();
    let body = json!({"channel": "#deploys", "text": "x"}).to_string();
    let answer = post(&url, "application/json", body.as_bytes(), Some(TOKEN)).json();
    assert_eq!(
        (&answer["ok"], &answer["warning"]),
        (&json!(true), &json!("missing_charset"))
    );
    assert_eq!(
        answer["response_metadata"]["warnings"],
        json!(["missing_charset"])
    );
}

#[test]
fn api_posts_text_over_40000_characters_truncated_with_a_warning() {
    let (_bed, url) = api_bed();
    let answer = api(
        &url,
        &json!({"channel": "#deploys", "text": "ü".repeat(40_001)}),
    );
    assert_eq!(
        (&answer["ok"], &answer["warning"]),
        (&json!(true), &json!("message_truncated"))
    );
    assert_eq!(
        answer["message"]["text"].as_str().unwrap().chars().count(),
        40_000
    );
    let metadata = &answer["response_metadata"];
    assert_eq!(metadata["warnings"], json!(["message_truncated"]));
    assert!(
        metadata["messages"][0]
            .as_str()
            .unwrap()
            .starts_with("[WARN] ")
    );
}

#[test]
fn api_answers_invalid_blocks_with_a_json_pointer_to_each_violation() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let pointers = |blocks: Value| {
        let answer = api(&url, &json!({"channel": "#deploys", "blocks": blocks}));
        assert_eq!(answer["error"], "invalid_blocks", "{answer}");
        let errors = answer["errors"].as_array().unwrap().clone();
        let messages = errors
            .iter()
            .map(|e| format!("[ERROR] {}", e.as_str().unwrap()));
        assert_eq!(
            answer["response_metadata"]["messages"],
            json!(messages.collect::<Vec<_>>())
        );
        let pointer = |e: &Value| {
            e.as_str()
                .unwrap()
                .split("[json-pointer:")
                .nth(1)
                .unwrap()
                .to_owned()
        };
        errors
            .iter()
            .map(pointer)
            .map(|p| p.trim_end_matches(']').to_owned())
            .collect::<Vec<_>>()
    };
    let long = |n| "x".repeat(n);
    assert_eq!(
        pointers(json!([{"type": "header", "text": section("h")["text"]}])),
        ["/blocks/0/text"]
    );
    assert_eq!(
        pointers(json!([{"type": "header", "text": plain(&long(151))}])),
        ["/blocks/0/text/text"]
    );
    assert_eq!(
        pointers(json!([{"type": "header", "text": plain("")}])),
        ["/blocks/0/text/text"]
    );
    assert_eq!(pointers(json!([{"type": "section"}])), ["/blocks/0"]);
    assert_eq!(
        pointers(json!([{"type": "section", "fields": vec![plain("f"); 11]}])),
        ["/blocks/0/fields"]
    );
    let field = json!([{"type": "section", "fields": [plain(&long(2001))]}]);
    assert_eq!(pointers(field), ["/blocks/0/fields/0/text"]);
    let html = json!([{"type": "section", "text": {"type": "html", "text": "x"}}]);
    assert_eq!(pointers(html), ["/blocks/0/text"]);
    let number = json!([{"type": "section", "text": {"type": "mrkdwn", "text": 5}}]);
    assert_eq!(pointers(number), ["/blocks/0/text/text"]);
    let context = json!([{"type": "context", "elements": vec![plain("c"); 11]}]);
    assert_eq!(pointers(context), ["/blocks/0/elements"]);
    let actions = json!([{"type": "actions", "elements": vec![button("b", "https://x"); 26]}]);
    assert_eq!(pointers(actions), ["/blocks/0/elements"]);
    let label = json!([{"type": "actions", "elements": [button(&long(76), "https://x")]}]);
    assert_eq!(pointers(label), ["/blocks/0/elements/0/text/text"]);
    let link = json!([{"type": "actions", "elements": [button("b", &long(3001))]}]);
    assert_eq!(pointers(link), ["/blocks/0/elements/0/url"]);
    let id = json!([{"type": "divider", "block_id": long(256)}]);
    assert_eq!(pointers(id), ["/blocks/0/block_id"]);
    assert_eq!(pointers(json!([{"type": "carousel"}])), ["/blocks/0/type"]);
    let in_attachment =
        json!({"channel": "#deploys", "attachments": [{"blocks": [section(&long(3001))]}]});
    let error =
        "must be less than 3001 characters [json-pointer:/attachments/0/blocks/0/text/text]";
    assert_eq!(api(&url, &in_attachment)["errors"], json!([error]));
}

#[test]
fn api_accepts_blocks_at_every_limit() {
    let (_bed, url) = api_bed();
    let long = |n| "x".repeat(n);
    let blocks = json!([
        {"type": "header", "text": plain(&long(150))},
        {"type": "section", "text": section(&long(3000))["text"], "fields": vec![plain(&long(400)); 10],
         "accessory": button(&long(75), "https://x")},
        {"type": "section", "fields": vec![plain(&long(2000)); 2]},
        {"type": "context", "elements": vec![plain("c"); 10]},
        {"type": "actions", "block_id": long(255), "elements": vec![button("b", &long(3000)); 25]},
        {"type": "divider"},
    ]);
    let answer = api(&url, &json!({"channel": "#deploys", "blocks": blocks}));
    assert_eq!(answer["ok"], true, "{answer}");
}

#[test]
fn api_refuses_blocks_whose_text_adds_up_past_12000_characters() {
    let (_bed, url) = api_bed();
    let long = "x".repeat(3000);
    let blocks = |n: usize| json!(vec![section(&long); n]);
    let at_limit = json!({"channel": "#deploys", "blocks": blocks(4)});
    assert_eq!(api(&url, &at_limit)["ok"], true);
    let over = json!({"channel": "#deploys", "blocks": blocks(5)});
    assert_eq!(
        api(&url, &over),
        json!({"ok": false, "error": "msg_blocks_too_long"})
    );
}

#[test]
fn api_answers_429_ratelimited_json_per_token_and_channel() {
    let (bed, url) = api_bed();
    bed.add_channel("#builds", true);
    bed.set_rate(1, 0.5);
    let message = json!({"channel": "#deploys", "text": "x"});
    assert_eq!(api(&url, &message)["ok"], true);
    let limited = post(&url, JSON_UTF8, message.to_string().as_bytes(), Some(TOKEN));
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("2"))
    );
    assert_eq!(limited.header("content-type"), Some(JSON_UTF8));
    assert_eq!(limited.json(), json!({"ok": false, "error": "ratelimited"}));
    assert_eq!(
        api(&url, &json!({"channel": "#builds", "text": "x"}))["ok"],
        true
    );
}

#[test]
fn fault_drop_closes_the_connection_without_an_answer() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Drop);
    let mut client = Client::to(&url);
    assert!(client.post(&url, &[], br#"{"text":"lost"}"#).is_err());
    assert!(client.is_closed());
    assert_eq!(
        hook(&url, &text("kept")).status,
        200,
        "only one request is faulted"
    );
    let requests = bed.requests();
    assert_eq!((requests[0].status, requests[1].status), (0, 200));
    assert_eq!(requests[0].text(), r#"{"text":"lost"}"#);
}

/// Posts `message` to `url` on a fresh connection and reads what comes back
/// until the bed closes or resets it, or `limit` bytes came.
fn read_raw(url: &str, message: &Value, limit: usize) -> (Vec<u8>, Option<io::ErrorKind>) {
    let mut client = Client::to(url);
    let body = message.to_string();
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: bed\r\ncontent-length: {}\r\n\r\n{body}",
        &url[url.find("/services/").unwrap()..],
        body.len()
    );
    client.0.get_mut().write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 64 << 10];
    while got.len() < limit {
        match client.0.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
    (got, None)
}

#[test]
fn fault_reset_posts_the_message_then_resets_without_an_answer() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Reset);
    let (got, error) = read_raw(&url, &text("posted, unseen"), usize::MAX);
    assert_eq!(
        (got.len(), error),
        (0, Some(io::ErrorKind::ConnectionReset))
    );
    assert_eq!(bed.requests()[0].status, 0, "nothing was answered");
    assert_eq!(bed.delivered().len(), 1, "but the message was posted");
}

#[test]
fn fault_reset_mid_body_sends_the_head_and_half_the_body_then_resets() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::ResetMidBody);
    let (got, error) = read_raw(&url, &text("posted"), usize::MAX);
    let got = String::from_utf8(got).unwrap();
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got:?}");
    assert!(got.contains("content-length: 2\r\n"), "{got:?}");
    assert!(got.ends_with("\r\n\r\no"), "half of `ok`: {got:?}");
    assert_eq!(error, Some(io::ErrorKind::ConnectionReset));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn fault_endless_streams_a_chunked_body_for_as_long_as_the_client_reads() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Endless(500, "rollup_error"));
    let (got, error) = read_raw(&url, &text("x"), 4 << 20);
    assert_eq!(error, None);
    let got = String::from_utf8(got).unwrap();
    assert!(got.starts_with("HTTP/1.1 500 "), "{}", &got[..200]);
    assert!(got.contains("transfer-encoding: chunked\r\n"));
    let body = got.split_once("\r\n\r\n").unwrap().1;
    assert!(body.starts_with("c\r\nrollup_error\r\n10000\r\n     "));
    assert!(got.len() >= 4 << 20, "still going after 4 MiB");
    assert_eq!(
        hook(&url, &text("x")).said(),
        (200, "ok"),
        "only one is faulted"
    );
}

#[test]
fn fault_huge_announces_its_length_and_sends_it() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Huge(200, "ok", 3 << 20));
    let (got, error) = read_raw(&url, &text("x"), usize::MAX);
    assert_eq!(error, None, "closed once all was sent");
    let got = String::from_utf8(got).unwrap();
    let (head, body) = got.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("content-length: 3145728"), "{head}");
    assert_eq!(body.len(), 3 << 20);
    assert_eq!(body.trim(), "ok");
}

#[test]
fn fault_slow_delays_then_answers_normally() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Slow(Duration::from_millis(200)));
    let started = Instant::now();
    assert_eq!(hook(&url, &text("x")).said(), (200, "ok"));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn faults_answer_verbatim_in_fifo_order() {
    let (bed, api_url) = api_bed();
    let url = bed.webhook("ops");
    bed.fault(Fault::Status(503, "service unavailable"));
    bed.fault(Fault::Json(500, r#"{"ok":false,"error":"internal_error"}"#));
    bed.fault(Fault::RateLimit(7));
    bed.fault(Fault::RateLimit(9));
    let status = hook(&url, &text("x"));
    assert_eq!(status.said(), (503, "service unavailable"));
    assert_eq!(
        status.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let json = hook(&url, &text("x"));
    assert_eq!(
        json.said(),
        (500, r#"{"ok":false,"error":"internal_error"}"#)
    );
    assert_eq!(json.header("content-type"), Some(JSON_UTF8));
    let limited = hook(&url, &text("x"));
    assert_eq!(
        (limited.said(), limited.header("retry-after")),
        ((429, ""), Some("7"))
    );
    let limited = post(&api_url, JSON_UTF8, b"{}", Some(TOKEN));
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("9"))
    );
    assert_eq!(limited.json(), json!({"ok": false, "error": "ratelimited"}));
    assert_eq!(hook(&url, &text("x")).status, 200);
    assert_eq!(
        bed.delivered().len(),
        1,
        "faulted answers are not deliveries"
    );
}

#[test]
fn fault_on_only_affects_its_own_path() {
    let (bed, api_url) = api_bed();
    let (ops, dev) = (bed.webhook("ops"), bed.webhook("dev"));
    bed.fault_on(&dev, Fault::Status(500, "rollup_error"));
    bed.fault_on(&api_url, Fault::Status(502, "bad gateway"));
    assert_eq!(hook(&ops, &text("x")).status, 200);
    let delete = api(&api_url.replace("postMessage", "delete"), &json!({}));
    assert_eq!(delete["error"], "unknown_method");
    assert_eq!(hook(&dev, &text("x")).said(), (500, "rollup_error"));
    assert_eq!(post(&api_url, JSON_UTF8, b"{}", None).status, 502);
    assert_eq!(hook(&dev, &text("x")).status, 200);
}

#[test]
fn keep_alive_answers_several_requests_on_one_connection_until_asked_to_close() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let mut client = Client::to(&url);
    let first = client.post(&url, &[], br#"{"text":"one"}"#).unwrap();
    assert_eq!(
        (first.said(), first.header("connection")),
        ((200, "ok"), Some("keep-alive"))
    );
    let path = url.trim_start_matches(&bed.url());
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: bed\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
         5\r\n{{\"tex\r\n9;ext=1\r\nt\":\"two\"}}\r\n0\r\nX-Trailer: t\r\n\r\n"
    );
    assert_eq!(client.raw(chunked.as_bytes()).unwrap().said(), (200, "ok"));
    let last = client.post(&url, &[("Connection", "close")], br#"{"text":"three"}"#);
    let last = last.unwrap();
    assert_eq!(
        (last.said(), last.header("connection")),
        ((200, "ok"), Some("close"))
    );
    assert!(client.is_closed());
    let texts: Vec<Value> = bed
        .requests()
        .iter()
        .map(|r| r.json()["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
}

#[test]
fn requests_records_method_path_query_headers_and_body_byte_for_byte() {
    let bed = Bed::start();
    let url = format!("{}?x=1&y=%20", bed.webhook("ops"));
    let body = b"{\"text\":\"\xff\xfe\"}\r\n\0";
    let reply = Client::to(&url).post(&url, &[("X-Custom", " Mixed Case ")], body);
    assert_eq!(reply.unwrap().said(), (400, "invalid_payload"));
    let request = &bed.wait_for(1, Duration::from_secs(1))[0];
    assert_eq!(
        (request.method.as_str(), request.query.as_deref()),
        ("POST", Some("x=1&y=%20"))
    );
    assert_eq!(format!("{}{}", bed.url(), request.path), bed.webhook("ops"));
    assert_eq!(request.body, body);
    assert_eq!(
        (request.header("X-CUSTOM"), request.header("x-custom")),
        (Some("Mixed Case"), Some("Mixed Case"))
    );
    assert!(request.headers.iter().any(|(name, _)| name == "x-custom"));
    assert_eq!(request.text(), "{\"text\":\"\u{fffd}\u{fffd}\"}\r\n\0");
    assert_eq!(
        (request.status, request.response.as_str()),
        (400, "invalid_payload")
    );
}

#[test]
#[should_panic(expected = "body is not JSON")]
fn request_json_panics_quoting_a_body_that_is_not_json() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    post(&url, "text/plain", b"plain words", None);
    bed.requests()[0].json();
}

#[test]
fn malformed_requests_get_400_and_a_closed_connection_and_the_bed_serves_on() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let garbage: [&[u8]; 5] = [
        b"NONSENSE\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"POST /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /x HTTP/1.1\r\ncontent-length: ten\r\n\r\n",
        b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n",
    ];
    for bytes in garbage {
        let mut client = Client::to(&url);
        let reply = client.raw(bytes).unwrap();
        assert_eq!(
            (reply.status, reply.header("connection")),
            (400, Some("close"))
        );
        assert!(client.is_closed());
    }
    assert!(bed.requests().is_empty());
    assert_eq!(hook(&url, &text("x")).status, 200);
}

#[test]
fn wait_for_returns_when_enough_requests_arrive_or_at_the_timeout() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        hook(&url, &text("late"))
    });
    assert_eq!(bed.wait_for(1, Duration::from_secs(5)).len(), 1);
    assert_eq!(sender.join().unwrap().status, 200);
    let started = Instant::now();
    assert_eq!(bed.wait_for(2, Duration::from_millis(100)).len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn dropping_the_bed_does_not_wait_for_idle_or_slow_connections() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let mut idle = Client::to(&url);
    assert_eq!(
        idle.post(&url, &[], br#"{"text":"x"}"#).unwrap().status,
        200
    );
    bed.fault(Fault::Slow(Duration::from_secs(30)));
    let mut slow = Client::to(&url);
    slow.0
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .unwrap();
    // Let the slow request reach its sleep, so drop meets a thread that is busy, not idle.
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    drop(bed);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(idle.is_closed());
}

/// A surface that echoes, throttles on its own bucket, and names a custom header.
struct Echo;

impl crate::support::bed::Surface for Echo {
    fn answer(
        &self,
        request: &crate::support::bed::Request,
        limit: &mut dyn FnMut(&str) -> Result<(), u64>,
    ) -> crate::support::bed::Answer {
        use crate::support::bed::Answer;
        if let Err(secs) = limit("echo") {
            return self.throttled(secs);
        }
        Answer::json(&json!({"echo": request.text()}))
            .header("x-echo", "yes")
            .delivered()
    }

    fn throttled(&self, secs: u64) -> crate::support::bed::Answer {
        crate::support::bed::Answer::json_status(429, &json!({"retry_after": secs}))
            .retry_after(secs)
    }
}

#[test]
fn mounted_surface_answers_its_prefix_with_the_beds_faults_and_limits() {
    let bed = Bed::start();
    bed.set_rate(1, 0.5);
    bed.mount("/echo/", std::sync::Arc::new(Echo));
    let url = format!("{}/echo/x", bed.url());
    let first = post(&url, JSON_UTF8, b"hello", None);
    assert_eq!(first.said(), (200, r#"{"echo":"hello"}"#));
    assert_eq!(first.header("x-echo"), Some("yes"));
    let second = post(&url, JSON_UTF8, b"again", None);
    assert_eq!(second.status, 429);
    assert_eq!(second.header("retry-after"), Some("2"));
    bed.fault(Fault::RateLimit(7));
    let faulted = post(&url, JSON_UTF8, b"x", None);
    assert_eq!(faulted.said(), (429, r#"{"retry_after":7}"#));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn chat_update_edits_a_posted_message_and_refuses_an_unknown_one() {
    let (_bed, url) = api_bed();
    let posted = api(&url, &json!({"channel": "#deploys", "text": "before"}));
    let update = url.replace("postMessage", "update");
    let edited = api(
        &update,
        &json!({"channel": posted["channel"], "ts": posted["ts"], "text": "after"}),
    );
    assert_eq!(edited["ok"], true);
    assert_eq!(edited["ts"], posted["ts"]);
    let missing = api(
        &update,
        &json!({"channel": "#deploys", "ts": "1.000001", "text": "x"}),
    );
    assert_eq!(missing["error"], "message_not_found");
}

// The Slack side of `chime ask`: reads, buttons, Socket Mode (PLATFORMS.md §2.8).

const APP_TOKEN: &str = "xapp-1-A0TESTAPP-bed-selftest";
const FORM: &str = "application/x-www-form-urlencoded";

/// A Web API method's answer to a form body (`a=b&c=d`) with the bot token.
fn call(bed: &Bed, method: &str, form: &str) -> Value {
    let url = format!("{}/{method}", bed.api_url());
    post(&url, FORM, form.as_bytes(), Some(TOKEN)).json()
}

/// Posts a question with Approve and Deny buttons to #deploys; answers its ts.
fn question(url: &str, extra: Value) -> String {
    let actions = json!({"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "text": plain("Approve"), "action_id": "approve", "value": "yes",
         "style": "primary"},
        {"type": "button", "text": plain("Deny"), "action_id": "deny", "value": "no",
         "style": "danger"}]});
    let mut message = json!({"channel": "#deploys", "text": "Deploy?",
                             "blocks": [section("Deploy?"), actions]});
    message
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let answer = api(url, &message);
    assert_eq!(answer["ok"], true, "{answer}");
    answer["ts"].as_str().unwrap().to_owned()
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// The bed's API bed with an app token and no rate limit.
fn socket_bed() -> (Bed, String) {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    bed.add_app_token(APP_TOKEN);
    (bed, url)
}

/// apps.connections.open's WebSocket URL for the app token.
fn socket_url(bed: &Bed) -> String {
    let url = format!("{}/apps.connections.open", bed.api_url());
    let answer = post(&url, FORM, b"", Some(APP_TOKEN)).json();
    let found = answer["url"].as_str();
    found
        .unwrap_or_else(|| panic!("no url: {answer}"))
        .to_owned()
}

/// A new Socket Mode connection, its `hello` read.
fn connect(bed: &Bed) -> (Socket, Value) {
    let (mut ws, _) = tungstenite::connect(socket_url(bed)).unwrap();
    let hello = frame(&mut ws, Duration::from_secs(5)).expect("a hello");
    (ws, hello)
}

/// The next text frame as JSON, or `None` when `wait` passes first or the bed closed.
fn frame(ws: &mut Socket, wait: Duration) -> Option<Value> {
    let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() else {
        unreachable!("the bed's WebSocket is plain ws://")
    };
    stream.set_read_timeout(Some(wait)).unwrap();
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                return Some(serde_json::from_str(&text).unwrap());
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn ack(ws: &mut Socket, envelope: &Value) {
    let ack = json!({"envelope_id": envelope["envelope_id"]}).to_string();
    ws.send(tungstenite::Message::text(ack)).unwrap();
}

/// Waits up to 5 s for the open connections to be exactly `open`.
fn await_connections(bed: &Bed, open: &[usize]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while bed.connections() != open && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(bed.connections(), open);
}

#[test]
fn apps_connections_open_gives_app_tokens_a_one_time_websocket_url_and_refuses_others() {
    let (bed, _) = socket_bed();
    let url = format!("{}/apps.connections.open", bed.api_url());
    let first = socket_url(&bed);
    let (host, rest) = first
        .strip_prefix("ws://127.0.0.1:")
        .unwrap()
        .split_once('/')
        .unwrap();
    assert!(host.parse::<u16>().is_ok(), "{first}");
    assert!(
        rest.starts_with("link/?ticket=") && rest.ends_with("&app_id=A0TESTAPP"),
        "{first}"
    );
    assert_ne!(socket_url(&bed), first, "every ticket is new");
    let error = |token| post(&url, FORM, b"", token).json();
    assert_eq!(
        error(Some(TOKEN)),
        json!({"ok": false, "error": "not_allowed_token_type"})
    );
    assert_eq!(error(Some("xapp-1-unknown"))["error"], "invalid_auth");
    assert_eq!(error(None)["error"], "not_authed");
    let (_ws, _) = tungstenite::connect(first.as_str()).unwrap();
    assert!(
        tungstenite::connect(first.as_str()).is_err(),
        "a ticket opens one connection"
    );
    bed.disable_socket_mode();
    let off = error(Some(APP_TOKEN));
    assert_eq!(
        off,
        json!({"ok": false, "error": "socket_mode_not_enabled"})
    );
    let opens = bed
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/apps.connections.open");
    assert_eq!(opens.count(), 6);
}

#[test]
fn socket_mode_says_hello_and_numbers_connections_in_the_order_they_open() {
    let (bed, _) = socket_bed();
    let (mut first, hello) = connect(&bed);
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"], json!({"app_id": "A0TESTAPP"}));
    assert_eq!(hello["debug_info"]["approximate_connection_time"], 18060);
    assert!(
        hello["debug_info"]["host"]
            .as_str()
            .unwrap()
            .starts_with("applink-")
    );
    assert!(hello["debug_info"]["build_number"].is_number());
    let (_second, hello) = connect(&bed);
    assert_eq!(hello["num_connections"], 2);
    assert_eq!(bed.wait_connections(2, Duration::from_secs(5)), [0, 1]);
    first.close(None).unwrap();
    await_connections(&bed, &[1]);
    let (_third, hello) = connect(&bed);
    assert_eq!(hello["num_connections"], 2);
    await_connections(&bed, &[1, 2]);
}

#[test]
fn a_click_goes_to_the_connection_asked_for_as_slacks_block_actions_envelope() {
    let (bed, url) = socket_bed();
    bed.add_user("U0ALICE", "alice", "Alice Liddell");
    let ts = question(&url, json!({}));
    let (mut first, _) = connect(&bed);
    let (mut second, _) = connect(&bed);
    let id = bed.click("C0DEPLOYS", &ts, "Approve", "U0ALICE", Via::Connection(1));
    let envelope = frame(&mut second, Duration::from_secs(5)).expect("the click");
    assert_eq!(frame(&mut first, Duration::from_millis(200)), None);
    assert_eq!(envelope["envelope_id"], id);
    let outer = [
        "type",
        "accepts_response_payload",
        "retry_attempt",
        "retry_reason",
    ];
    let outer: Vec<&Value> = outer.iter().map(|k| &envelope[k]).collect();
    assert_eq!(
        outer,
        [&json!("interactive"), &json!(false), &json!(0), &json!("")]
    );
    let payload = &envelope["payload"];
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(
        payload["user"],
        json!({"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TESTTEAM"})
    );
    assert_eq!(payload["api_app_id"], "A0TESTAPP");
    let container = json!({"type": "message", "message_ts": ts, "channel_id": "C0DEPLOYS",
                           "is_ephemeral": false});
    assert_eq!(payload["container"], container);
    assert_eq!(
        payload["channel"],
        json!({"id": "C0DEPLOYS", "name": "deploys"})
    );
    assert_eq!(payload["team"]["id"], "T0TESTTEAM");
    assert_eq!(payload["message"]["ts"], ts.as_str());
    assert_eq!(
        payload["message"]["blocks"][1]["elements"][0]["action_id"],
        "approve"
    );
    assert!(
        payload["response_url"]
            .as_str()
            .unwrap()
            .starts_with("http://")
    );
    assert!(payload["trigger_id"].is_string() && payload["token"].is_string());
    assert_eq!(payload["state"], json!({"values": {}}));
    let action = &payload["actions"][0];
    assert!(action["action_ts"].is_string());
    let expected = json!({"action_id": "approve", "block_id": "decide", "text": plain("Approve"),
                          "value": "yes", "style": "primary", "type": "button",
                          "action_ts": action["action_ts"]});
    assert_eq!(action, &expected);
    assert!(!bed.acked(&id));
    ack(&mut second, &envelope);
    assert!(bed.wait_acked(&id, Duration::from_secs(5)));
    assert!(bed.acked_after(&id).unwrap() < Duration::from_secs(3));
    assert_eq!(bed.delivered_on(&id), [1]);
    assert!(bed.late_acks().is_empty());
}

#[test]
fn an_ack_on_another_connection_does_not_count() {
    let (bed, url) = socket_bed();
    let ts = question(&url, json!({}));
    let (mut first, _) = connect(&bed);
    let (mut second, _) = connect(&bed);
    let id = bed.click("C0DEPLOYS", &ts, "Deny", "U0BOB", Via::Connection(0));
    let envelope = frame(&mut first, Duration::from_secs(5)).unwrap();
    assert_eq!(envelope["payload"]["user"]["username"], "u0bob");
    assert_eq!(envelope["payload"]["actions"][0]["style"], "danger");
    ack(&mut second, &envelope);
    assert!(!bed.wait_acked(&id, Duration::from_millis(300)));
}

#[test]
fn an_unacknowledged_click_is_delivered_again_after_3_seconds_then_counts_as_late() {
    let (bed, url) = socket_bed();
    let ts = question(&url, json!({}));
    let (mut ws, _) = connect(&bed);
    let id = bed.click("C0DEPLOYS", &ts, "Approve", "U0ALICE", Via::Any);
    let first = frame(&mut ws, Duration::from_secs(5)).unwrap();
    let sent = Instant::now();
    assert_eq!(first["retry_attempt"], 0);
    let again = frame(&mut ws, Duration::from_secs(5)).expect("a retry");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(
        (&again["envelope_id"], &again["retry_attempt"]),
        (&json!(id), &json!(1))
    );
    assert_eq!(again["retry_reason"], "timeout");
    assert_eq!(again["payload"], first["payload"]);
    assert_eq!(bed.late_acks(), std::slice::from_ref(&id));
    ack(&mut ws, &again);
    assert!(bed.wait_acked(&id, Duration::from_secs(5)));
    assert_eq!(bed.delivered_on(&id), [0, 0]);
}

#[test]
fn a_disconnect_warns_closes_after_a_second_and_the_click_moves_to_the_next_connection() {
    let (bed, url) = socket_bed();
    let ts = question(&url, json!({}));
    let (mut old, _) = connect(&bed);
    let id = bed.click("C0DEPLOYS", &ts, "Approve", "U0ALICE", Via::Any);
    let envelope = frame(&mut old, Duration::from_secs(5)).unwrap();
    bed.disconnect(0, "refresh_requested");
    let warned = Instant::now();
    let warning = frame(&mut old, Duration::from_secs(5)).unwrap();
    assert_eq!(warning["type"], "disconnect");
    assert_eq!(warning["reason"], "refresh_requested");
    assert!(warning["debug_info"]["host"].is_string());
    assert_eq!(
        frame(&mut old, Duration::from_secs(3)),
        None,
        "closed, nothing more"
    );
    let closed = warned.elapsed();
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(2),
        "{closed:?}"
    );
    await_connections(&bed, &[]);
    let (mut new, hello) = connect(&bed);
    assert_eq!(hello["num_connections"], 1);
    let again = frame(&mut new, Duration::from_secs(5)).expect("the click, moved");
    assert_eq!(again["envelope_id"], envelope["envelope_id"]);
    ack(&mut new, &again);
    assert!(bed.wait_acked(&id, Duration::from_secs(5)));
    assert_eq!(bed.delivered_on(&id), [0, 1]);
    assert!(bed.late_acks().is_empty());
}

#[test]
fn a_click_on_a_connection_the_client_closes_unacknowledged_goes_to_another() {
    let (bed, url) = socket_bed();
    let ts = question(&url, json!({}));
    let (mut first, _) = connect(&bed);
    let (mut second, _) = connect(&bed);
    let id = bed.click("C0DEPLOYS", &ts, "Approve", "U0ALICE", Via::Connection(0));
    frame(&mut first, Duration::from_secs(5)).unwrap();
    first.close(None).unwrap();
    let moved = frame(&mut second, Duration::from_secs(5)).expect("the click, moved");
    assert_eq!(moved["envelope_id"], id);
    assert_eq!(bed.delivered_on(&id), [0, 1]);
}

#[test]
fn send_envelope_delivers_other_envelope_types_as_written() {
    let (bed, _) = socket_bed();
    let (mut ws, _) = connect(&bed);
    let event = json!({"envelope_id": "e-1", "type": "events_api",
                       "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": "",
                       "payload": {"type": "event_callback", "event": {"type": "app_mention"}}});
    assert_eq!(bed.send_envelope(Via::Any, event.clone()), "e-1");
    assert_eq!(frame(&mut ws, Duration::from_secs(5)), Some(event.clone()));
    let command = json!({"type": "slash_commands", "accepts_response_payload": true,
                         "payload": {"command": "/chime"}});
    let id = bed.send_envelope(Via::Connection(0), command);
    let sent = frame(&mut ws, Duration::from_secs(5)).unwrap();
    assert_eq!(sent["envelope_id"], id);
    ack(&mut ws, &event);
    assert!(bed.wait_acked("e-1", Duration::from_secs(5)));
    assert!(!bed.acked(&id));
}

#[test]
#[should_panic(
    expected = "has no button \"Maybe\"; its buttons: [String(\"Approve\"), String(\"Deny\")]"
)]
fn click_panics_naming_the_buttons_there_are_when_the_label_is_not_one() {
    let (bed, url) = socket_bed();
    let ts = question(&url, json!({}));
    bed.click("C0DEPLOYS", &ts, "Maybe", "U0ALICE", Via::Any);
}

#[test]
fn api_refuses_buttons_as_slack_does_and_keeps_generated_ids_for_history() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let errors = |elements: Value| {
        let blocks = json!([{"type": "actions", "elements": elements}]);
        api(&url, &json!({"channel": "#deploys", "blocks": blocks}))["errors"].clone()
    };
    let styled = json!([{"type": "button", "text": plain("b"), "style": "secondary"}]);
    assert_eq!(
        errors(styled),
        json!(["must be one of primary, danger [json-pointer:/blocks/0/elements/0/style]"])
    );
    let twice = json!([{"type": "button", "text": plain("a"), "action_id": "x"},
                       {"type": "button", "text": plain("b"), "action_id": "x"}]);
    assert_eq!(
        errors(twice),
        json!(["must be unique within the message [json-pointer:/blocks/0/elements/1/action_id]"])
    );
    let long = |n| "x".repeat(n);
    let sizes = json!([{"type": "button", "text": plain("a"), "value": long(2001),
                        "action_id": long(256)}]);
    let sizes = errors(sizes);
    assert!(
        sizes[0]
            .as_str()
            .unwrap()
            .ends_with("/blocks/0/elements/0/value]"),
        "{sizes}"
    );
    assert!(
        sizes[1]
            .as_str()
            .unwrap()
            .ends_with("/blocks/0/elements/0/action_id]"),
        "{sizes}"
    );
    let context = json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "*a*"},
                                                          plain("b")]});
    let ok = json!([{"type": "button", "text": plain("a"), "value": long(2000)},
                    {"type": "button", "text": plain("b")}]);
    let blocks = json!([{"type": "actions", "elements": ok}, context]);
    let posted = api(&url, &json!({"channel": "#deploys", "blocks": blocks}));
    assert_eq!(posted["ok"], true, "{posted}");
    let stored = bed
        .message("C0DEPLOYS", posted["ts"].as_str().unwrap())
        .unwrap();
    let elements = &stored["blocks"][0]["elements"];
    assert!(
        stored["blocks"][0]["block_id"].is_string() && stored["blocks"][1]["block_id"].is_string()
    );
    assert!(elements[0]["action_id"].is_string());
    assert_ne!(elements[0]["action_id"], elements[1]["action_id"]);
}

#[test]
fn chat_update_keeps_what_it_does_not_name_and_metadata_is_checked() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let metadata = json!({"event_type": "chime_ask", "event_payload": {"question": "q1"}});
    let ts = question(&url, json!({"metadata": metadata}));
    let update = url.replace("postMessage", "update");
    let edited = api(
        &update,
        &json!({"channel": "C0DEPLOYS", "ts": ts, "text": "Approved"}),
    );
    assert_eq!(edited["message"]["text"], "Approved");
    let stored = bed.message("C0DEPLOYS", &ts).unwrap();
    assert_eq!(
        (&stored["text"], &stored["metadata"]),
        (&json!("Approved"), &metadata)
    );
    assert_eq!(stored["blocks"][1]["type"], "actions");
    let decided = json!([section("Approved by <@U0ALICE>")]);
    let blocks = json!({"channel": "C0DEPLOYS", "ts": ts, "blocks": decided});
    assert_eq!(api(&update, &blocks)["ok"], true);
    let stored = bed.message("C0DEPLOYS", &ts).unwrap();
    let shown = (
        &stored["blocks"][0]["text"],
        stored["blocks"].as_array().unwrap().len(),
    );
    assert_eq!(shown, (&decided[0]["text"], 1));
    assert_eq!(stored["text"], "Approved");
    let other = json!({"event_type": "chime_ask", "event_payload": {"decided": true}});
    let replaced = json!({"channel": "C0DEPLOYS", "ts": ts, "text": "x", "metadata": other});
    assert_eq!(api(&update, &replaced)["ok"], true);
    assert_eq!(bed.message("C0DEPLOYS", &ts).unwrap()["metadata"], other);
    let removed = json!({"channel": "C0DEPLOYS", "ts": ts, "text": "x", "metadata": {}});
    assert_eq!(api(&update, &removed)["ok"], true);
    assert_eq!(bed.message("C0DEPLOYS", &ts).unwrap().get("metadata"), None);
    let bad = json!({"channel": "#deploys", "text": "x", "metadata": {"event_payload": {}}});
    assert_eq!(api(&url, &bad)["error"], "invalid_metadata_format");
    assert_eq!(bed.message("C0DEPLOYS", "1.000001"), None);
}

#[test]
fn history_lists_top_level_messages_newest_first_with_metadata_only_when_asked() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let metadata = json!({"event_type": "chime_ask", "event_payload": {"question": "q1"}});
    let asked = question(&url, json!({"metadata": metadata}));
    let reply = api(
        &url,
        &json!({"channel": "#deploys", "text": "r", "thread_ts": asked}),
    );
    let reply = reply["ts"].as_str().unwrap().to_owned();
    let later = api(&url, &json!({"channel": "#deploys", "text": "later"}));
    let later = later["ts"].as_str().unwrap().to_owned();
    let history = call(&bed, "conversations.history", "channel=C0DEPLOYS");
    let ts: Vec<&Value> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["ts"])
        .collect();
    assert_eq!(ts, [&json!(later), &json!(asked)]);
    assert_eq!(
        (&history["ok"], &history["has_more"]),
        (&json!(true), &json!(false))
    );
    let parent = &history["messages"][1];
    assert_eq!(parent.get("metadata"), None);
    assert_eq!(
        (&parent["thread_ts"], &parent["reply_count"]),
        (&json!(asked), &json!(1))
    );
    assert_eq!(parent["latest_reply"], reply.as_str());
    // A GET with the query string, as curl would, and a JSON body: the same arguments.
    let get = format!(
        "{}/conversations.history?channel=C0DEPLOYS&include_all_metadata=true",
        bed.api_url()
    );
    let bearer = format!("Bearer {TOKEN}");
    let got = Client::to(&get)
        .send("GET", &get, &[("authorization", &bearer)], b"")
        .unwrap();
    assert_eq!(got.json()["messages"][1]["metadata"], metadata);
    let body = json!({"channel": "C0DEPLOYS", "include_all_metadata": true, "limit": 1});
    let url_of = format!("{}/conversations.history", bed.api_url());
    let first = post(&url_of, JSON_UTF8, body.to_string().as_bytes(), Some(TOKEN)).json();
    assert_eq!(first["messages"].as_array().unwrap().len(), 1);
    assert_eq!(first["has_more"], true);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    let rest = call(
        &bed,
        "conversations.history",
        &format!("channel=C0DEPLOYS&limit=1&cursor={cursor}"),
    );
    assert_eq!(
        (&rest["messages"][0]["ts"], &rest["has_more"]),
        (&json!(asked), &json!(false))
    );
    let window = |args: &str| {
        call(
            &bed,
            "conversations.history",
            &format!("channel=C0DEPLOYS&{args}"),
        )
    };
    assert_eq!(
        window(&format!("oldest={asked}"))["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        window(&format!("oldest={asked}&inclusive=true"))["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        window(&format!("latest={later}"))["messages"][0]["ts"],
        asked.as_str()
    );
    let thread = call(
        &bed,
        "conversations.replies",
        &format!("channel=C0DEPLOYS&ts={reply}"),
    );
    let ts: Vec<&Value> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["ts"])
        .collect();
    assert_eq!(ts, [&json!(asked), &json!(reply)]);
    assert_eq!(thread["messages"][0].get("metadata"), None);
    // The parent comes first whatever the window, and counts in `limit`.
    let only = format!("channel=C0DEPLOYS&ts={reply}&oldest={reply}&latest={reply}&inclusive=true");
    let windowed = call(&bed, "conversations.replies", &only);
    assert_eq!(windowed["messages"][0]["ts"], asked.as_str());
    assert_eq!(windowed["messages"][1]["ts"], reply.as_str());
    let first = call(&bed, "conversations.replies", &format!("{only}&limit=1"));
    assert_eq!(first["messages"].as_array().unwrap().len(), 1);
    assert_eq!(first["messages"][0]["ts"], asked.as_str());
    let with = call(
        &bed,
        "conversations.replies",
        &format!("channel=C0DEPLOYS&ts={asked}&include_all_metadata=true"),
    );
    assert_eq!(with["messages"][0]["metadata"], metadata);
    let missing = call(
        &bed,
        "conversations.replies",
        "channel=C0DEPLOYS&ts=1.000001",
    );
    assert_eq!(missing, json!({"ok": false, "error": "thread_not_found"}));
    assert_eq!(
        call(&bed, "conversations.history", "channel=C0QUIET")["error"],
        "not_in_channel"
    );
    assert_eq!(
        call(&bed, "conversations.history", "channel=C0NOWHERE")["error"],
        "channel_not_found"
    );
}

#[test]
fn users_list_pages_with_next_cursor_until_it_is_empty() {
    let (bed, _) = api_bed();
    bed.no_rate_limit();
    bed.add_user("U0ALICE", "alice", "Alice Liddell");
    bed.add_user("U0BOB", "bob", "Bob Dylan");
    bed.add_user("U0CAROL", "carol", "Carol King");
    let first = call(&bed, "users.list", "limit=2");
    let names = |page: &Value| {
        let members = page["members"].as_array().unwrap().iter();
        members
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["alice", "bob"]);
    let alice = json!({"id": "U0ALICE", "team_id": "T0TESTTEAM", "name": "alice", "deleted": false,
                       "real_name": "Alice Liddell", "is_bot": false,
                       "profile": {"display_name": "alice", "real_name": "Alice Liddell"}});
    assert_eq!(first["members"][0], alice);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let last = call(
        &bed,
        "users.list",
        &format!("limit=2&cursor={}", cursor.replace('=', "%3D")),
    );
    assert_eq!(names(&last), ["carol"]);
    assert_eq!(last["response_metadata"]["next_cursor"], "");
    assert_eq!(
        names(&call(&bed, "users.list", "")),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        call(&bed, "users.list", "cursor=bogus")["error"],
        "invalid_cursor"
    );
    assert_eq!(call(&bed, "users.info", "user=U0ALICE")["user"], alice);
    assert_eq!(
        call(&bed, "users.info", "user=U0NOBODY")["error"],
        "user_not_found"
    );
}

#[test]
fn conversations_list_pages_the_channels_and_the_history_takes_an_id_never_a_name() {
    let (bed, _) = api_bed();
    bed.no_rate_limit();
    bed.add_channel("#builds", true);
    let first = call(&bed, "conversations.list", "limit=1");
    assert_eq!(first["channels"].as_array().map(Vec::len), Some(1));
    let cursor = first["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!cursor.is_empty());
    let rest = call(&bed, "conversations.list", &format!("cursor={cursor}"));
    let names: Vec<&str> = [&first, &rest]
        .iter()
        .flat_map(|page| page["channels"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"builds") && names.contains(&"deploys"),
        "{names:?}"
    );
    assert_eq!(rest["response_metadata"]["next_cursor"], "");
    let by_name = call(&bed, "conversations.history", "channel=%23deploys");
    assert_eq!(by_name["error"], "channel_not_found");
    bed.deny_scope("channels:read");
    assert_eq!(
        call(&bed, "conversations.list", "")["needed"],
        "channels:read"
    );
}

#[test]
fn usergroups_users_list_answers_the_members_or_no_such_subteam() {
    let (bed, _) = api_bed();
    bed.add_usergroup("S0ONCALL", &["U0ALICE", "U0BOB"]);
    let group = call(&bed, "usergroups.users.list", "usergroup=S0ONCALL");
    assert_eq!(group, json!({"ok": true, "users": ["U0ALICE", "U0BOB"]}));
    let unknown = call(&bed, "usergroups.users.list", "usergroup=S0NONE");
    assert_eq!(unknown, json!({"ok": false, "error": "no_such_subteam"}));
}

#[test]
fn read_methods_answer_missing_scope_naming_the_scope_needed_and_check_the_token() {
    let (bed, _) = api_bed();
    bed.no_rate_limit();
    bed.deny_scope("users:read");
    let refused = json!({"ok": false, "error": "missing_scope", "needed": "users:read",
                         "provided": "chat:write,channels:history,channels:read,usergroups:read"});
    assert_eq!(call(&bed, "users.list", ""), refused);
    assert_eq!(call(&bed, "users.info", "user=U0ALICE"), refused);
    assert_eq!(
        call(&bed, "conversations.history", "channel=C0DEPLOYS")["ok"],
        true
    );
    bed.deny_scope("conversations.history");
    let replies = call(&bed, "conversations.replies", "channel=C0DEPLOYS&ts=1.1");
    assert_eq!(replies["needed"], "channels:history");
    assert_eq!(
        replies["provided"],
        "chat:write,channels:read,usergroups:read"
    );
    let url = format!("{}/usergroups.users.list", bed.api_url());
    assert_eq!(
        post(&url, FORM, b"usergroup=S0X", None).json()["error"],
        "not_authed"
    );
    let stranger = post(&url, FORM, b"usergroup=S0X", Some("xoxb-stranger")).json();
    assert_eq!(stranger["error"], "invalid_auth");
}

#[test]
fn read_methods_spend_a_rate_token_from_their_own_bucket() {
    let (bed, _) = api_bed();
    bed.set_rate(1, 0.5);
    assert_eq!(call(&bed, "users.list", "")["ok"], true);
    let url = format!("{}/users.list", bed.api_url());
    let throttled = post(&url, FORM, b"", Some(TOKEN));
    assert_eq!(
        throttled.said(),
        (429, r#"{"ok":false,"error":"ratelimited"}"#)
    );
    assert_eq!(throttled.header("retry-after"), Some("2"));
    assert_eq!(
        call(&bed, "usergroups.users.list", "usergroup=S0X")["error"],
        "no_such_subteam"
    );
}

#[test]
fn post_ephemeral_answers_a_message_ts_and_refuses_a_user_not_in_the_channel() {
    let (bed, _) = api_bed();
    bed.no_rate_limit();
    let posted = call(
        &bed,
        "chat.postEphemeral",
        "channel=C0DEPLOYS&user=U0ALICE&text=only+you",
    );
    assert_eq!(posted["ok"], true, "{posted}");
    assert!(posted["message_ts"].as_str().unwrap().contains('.'));
    assert_eq!(
        bed.ephemerals(),
        [("C0DEPLOYS".into(), "U0ALICE".into(), "only you".into())]
    );
    bed.remove_member("C0DEPLOYS", "U0ALICE");
    let refused = call(
        &bed,
        "chat.postEphemeral",
        "channel=C0DEPLOYS&user=U0ALICE&text=x",
    );
    assert_eq!(
        refused,
        json!({"ok": false, "error": "user_not_in_channel"})
    );
    assert_eq!(
        call(&bed, "chat.postEphemeral", "channel=C0DEPLOYS&user=U0BOB")["error"],
        "no_text"
    );
    assert_eq!(bed.ephemerals().len(), 1);
}
