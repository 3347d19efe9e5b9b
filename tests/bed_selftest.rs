//! Tests of the Slack test bed itself. Every other test trusts the bed to answer as Slack
//! does (PLATFORMS.md §1–3), so it is checked here over raw HTTP/1.1, with no client library
//! whose own habits (pooling, retries, header defaults) could hide a fault in the server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::bed::{Bed, Fault};

mod ntfy_bed;
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
