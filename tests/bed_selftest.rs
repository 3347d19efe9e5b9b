//! Tests of the Slack test bed itself. Every other test trusts the bed to answer as Slack
//! does (PLATFORMS.md §1–3), so it is checked here over raw HTTP/1.1, with no client library
//! whose own habits could hide a fault in the server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::bed::{Bed, Fault};

const TOKEN: &str = "xoxb-bed-selftest";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A status, lowercased headers and a body, as read off the wire.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One client connection, kept open across requests to exercise keep-alive.
struct Client(BufReader<TcpStream>);

impl Client {
    fn to(url: &str) -> Client {
        let authority = url.trim_start_matches("http://").split('/').next().unwrap();
        let stream = TcpStream::connect(authority).unwrap();
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
        let target = url
            .trim_start_matches("http://")
            .find('/')
            .map_or("/", |i| &url[7 + i..]);
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nhost: bed\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = format!("{head}\r\n").into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
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
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut headers = vec![];
        loop {
            line.clear();
            self.0.read_line(&mut line)?;
            match line.trim_end().split_once(':') {
                Some((name, value)) => {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_owned()))
                }
                None => break,
            }
        }
        if status == 100 {
            return self.read_reply();
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .expect("content-length");
        let mut body = vec![0; length.1.parse().unwrap()];
        self.0.read_exact(&mut body)?;
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        })
    }

    /// True once the server has closed its end.
    fn is_closed(&mut self) -> bool {
        matches!(self.0.read(&mut [0; 1]), Ok(0) | Err(_))
    }
}

fn post(url: &str, content_type: &str, body: &[u8], auth: Option<&str>) -> Reply {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type)];
    headers.extend(bearer.as_deref().map(|b| ("authorization", b)));
    Client::to(url).send("POST", url, &headers, body).unwrap()
}

fn hook(url: &str, message: &Value) -> Reply {
    post(url, JSON_UTF8, message.to_string().as_bytes(), None)
}

/// A bed with a valid token, a channel the bot is in and one it is not in.
fn api_bed() -> (Bed, String) {
    let bed = Bed::start();
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.add_channel("quiet", false);
    let url = format!("{}/chat.postMessage", bed.api_url());
    (bed, url)
}

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

#[test]
fn webhook_answers_200_ok_and_ignores_identity_overrides() {
    let bed = Bed::start();
    let url = bed.webhook("ops-alerts");
    assert!(url.starts_with(&format!(
        "{}/services/T0TESTTEAM/BOPSALERTS/fakesecret",
        bed.url()
    )));
    let message =
        json!({"text": "deployed", "channel": "#x", "username": "u", "icon_emoji": ":x:"});
    let reply = hook(&url, &message);
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
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
    let reply = hook(&url, &json!({"text": "x"}));
    assert_eq!((reply.status, reply.body.as_str()), (404, "no_service"));
    let unknown = url.replace("BOPS", "BNOPE");
    assert_eq!(hook(&unknown, &json!({"text": "x"})).body, "no_service");
    assert!(bed.delivered().is_empty());
}

#[test]
fn webhook_answers_410_channel_is_archived_once_archived() {
    let bed = Bed::start();
    bed.archive_hook("ops");
    let reply = hook(&bed.webhook("ops"), &json!({"text": "x"}));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (410, "channel_is_archived")
    );
}

#[test]
fn webhook_refuses_what_slack_refuses_with_the_bare_code() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let refusal = |body: &[u8]| {
        let reply = post(&url, "application/json", body, None);
        (reply.status, reply.body)
    };
    assert_eq!(refusal(b"text=hi"), (400, "invalid_payload".into()));
    assert_eq!(refusal(b"[1]"), (400, "invalid_payload".into()));
    assert_eq!(
        refusal(br#"{"text":"","blocks":[]}"#),
        (400, "no_text".into())
    );
    let attachments = json!({"attachments": vec![json!({"text": "a"}); 101]}).to_string();
    assert_eq!(
        refusal(attachments.as_bytes()),
        (400, "too_many_attachments".into())
    );
    let get = Client::to(&url).send("GET", &url, &[], b"").unwrap();
    assert_eq!(get.status, 405);
}

#[test]
fn webhook_answers_429_with_retry_after_past_its_burst_then_recovers() {
    let bed = Bed::start();
    bed.set_rate(1, 20.0);
    let url = bed.webhook("ops");
    assert_eq!(hook(&url, &json!({"text": "1"})).status, 200);
    let limited = hook(&url, &json!({"text": "2"}));
    assert_eq!(
        (
            limited.status,
            limited.header("retry-after"),
            limited.body.as_str()
        ),
        (429, Some("1"), "")
    );
    thread::sleep(Duration::from_millis(120));
    assert_eq!(hook(&url, &json!({"text": "3"})).status, 200);
    let statuses: Vec<u16> = bed.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 200]);
}

#[test]
fn webhook_buckets_are_per_hook_and_retry_after_counts_whole_seconds() {
    let bed = Bed::start();
    bed.set_rate(2, 0.25);
    let (ops, dev) = (bed.webhook("ops"), bed.webhook("dev"));
    let statuses: Vec<u16> = (0..3)
        .map(|_| hook(&ops, &json!({"text": "x"})).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(
        hook(&ops, &json!({"text": "x"})).header("retry-after"),
        Some("4")
    );
    assert_eq!(hook(&dev, &json!({"text": "x"})).status, 200);
}

#[test]
fn webhook_refuses_a_3001_character_section_counting_characters_not_bytes() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let fits = hook(&url, &json!({"blocks": [section(&"é".repeat(3000))]}));
    assert_eq!(fits.status, 200, "3000 characters (6000 bytes) fit");
    let over = hook(&url, &json!({"blocks": [section(&"x".repeat(3001))]}));
    assert_eq!((over.status, over.body.as_str()), (400, "invalid_blocks"));
}

#[test]
fn webhook_refuses_51_blocks_with_invalid_blocks() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    assert_eq!(
        hook(
            &url,
            &json!({"blocks": vec![json!({"type": "divider"}); 50]})
        )
        .status,
        200
    );
    let over = hook(
        &url,
        &json!({"blocks": vec![json!({"type": "divider"}); 51]}),
    );
    assert_eq!((over.status, over.body.as_str()), (400, "invalid_blocks"));
}

#[test]
fn api_answers_each_refusal_as_200_with_ok_false() {
    let (bed, url) = api_bed();
    let code = |body: &[u8], token: Option<&str>| {
        post(&url, JSON_UTF8, body, token).json()["error"].clone()
    };
    let message = json!({"channel": "#deploys", "text": "x"}).to_string();
    assert_eq!(code(message.as_bytes(), None), "not_authed");
    assert_eq!(
        code(message.as_bytes(), Some("xoxb-unknown")),
        "invalid_auth"
    );
    assert_eq!(code(b"{", Some(TOKEN)), "invalid_json");
    assert_eq!(code(b"[]", Some(TOKEN)), "json_not_object");
    assert_eq!(
        api(&url, &json!({"text": "x"}))["error"],
        "channel_not_found"
    );
    assert_eq!(
        api(&url, &json!({"channel": "#nowhere", "text": "x"}))["error"],
        "channel_not_found"
    );
    assert_eq!(
        api(&url, &json!({"channel": "#quiet", "text": "x"})),
        json!({"ok": false, "error": "not_in_channel"})
    );
    assert_eq!(
        api(&url, &json!({"channel": "deploys"}))["error"],
        "no_text"
    );
    let other = format!("{}/chat.update", bed.api_url());
    assert_eq!(
        post(&other, JSON_UTF8, b"{}", Some(TOKEN)).json(),
        json!({"ok": false, "error": "unknown_method"})
    );
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
    let answers: Vec<Value> = ["#deploys", "deploys", "C0DEPLOYS", "#Deploys", "deploys"]
        .iter()
        .map(|c| {
            api(
                &url,
                &json!({"channel": c, "text": "hi", "blocks": blocks, "thread_ts": "1.000001"}),
            )
        })
        .collect();
    let mut previous = String::new();
    for answer in &answers {
        assert_eq!(
            (&answer["ok"], &answer["channel"]),
            (&json!(true), &json!(channel)),
            "{answer}"
        );
        let ts = answer["ts"].as_str().unwrap().to_owned();
        let (secs, micros) = ts.split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().unwrap() > 1_700_000_000 && micros.len() == 6,
            "{ts}"
        );
        assert!(ts > previous, "{ts} after {previous}");
        let expected = json!({"type": "message", "subtype": "bot_message", "text": "hi", "ts": ts,
                              "bot_id": "B0TESTBOT", "blocks": blocks, "thread_ts": "1.000001"});
        assert_eq!(answer["message"], expected);
        assert!(answer.get("warning").is_none());
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
    assert_eq!(
        answer["response_metadata"]["warnings"],
        json!(["message_truncated"])
    );
    assert!(
        answer["response_metadata"]["messages"][0]
            .as_str()
            .unwrap()
            .starts_with("[WARN] ")
    );
}

#[test]
fn api_answers_invalid_blocks_with_a_json_pointer_to_each_violation() {
    let (bed, url) = api_bed();
    bed.no_rate_limit();
    let button = |text: &str, url: &str| json!({"type": "button", "text": {"type": "plain_text", "text": text}, "url": url});
    let plain = |text: &str| json!({"type": "plain_text", "text": text});
    let cases = [
        (
            json!({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}),
            "/blocks/0/text",
        ),
        (
            json!({"type": "header", "text": plain(&"h".repeat(151))}),
            "/blocks/0/text/text",
        ),
        (
            json!({"type": "header", "text": plain("")}),
            "/blocks/0/text/text",
        ),
        (json!({"type": "section"}), "/blocks/0"),
        (
            json!({"type": "section", "fields": vec![plain("f"); 11]}),
            "/blocks/0/fields",
        ),
        (
            json!({"type": "section", "fields": [plain(&"f".repeat(2001))]}),
            "/blocks/0/fields/0/text",
        ),
        (
            json!({"type": "section", "text": {"type": "html", "text": "x"}}),
            "/blocks/0/text",
        ),
        (
            json!({"type": "section", "text": {"type": "mrkdwn", "text": 5}}),
            "/blocks/0/text/text",
        ),
        (
            json!({"type": "context", "elements": vec![plain("c"); 11]}),
            "/blocks/0/elements",
        ),
        (
            json!({"type": "actions", "elements": vec![button("b", "https://x"); 26]}),
            "/blocks/0/elements",
        ),
        (
            json!({"type": "actions", "elements": [button(&"b".repeat(76), "https://x")]}),
            "/blocks/0/elements/0/text/text",
        ),
        (
            json!({"type": "actions", "elements": [button("b", &"u".repeat(3001))]}),
            "/blocks/0/elements/0/url",
        ),
        (
            json!({"type": "divider", "block_id": "i".repeat(256)}),
            "/blocks/0/block_id",
        ),
        (json!({"type": "carousel"}), "/blocks/0/type"),
    ];
    for (block, pointer) in cases {
        let answer = api(&url, &json!({"channel": "#deploys", "blocks": [block]}));
        assert_eq!(answer["error"], "invalid_blocks", "{block}");
        let errors = answer["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e
                .as_str()
                .unwrap()
                .ends_with(&format!("[json-pointer:{pointer}]"))),
            "{answer}"
        );
        let first = format!("[ERROR] {}", errors[0].as_str().unwrap());
        assert_eq!(answer["response_metadata"]["messages"][0], first);
    }
    let inside = api(
        &url,
        &json!({"channel": "#deploys", "attachments": [{"blocks": [section(&"x".repeat(3001))]}]}),
    );
    assert_eq!(
        inside["errors"],
        json!([
            "must be less than 3001 characters [json-pointer:/attachments/0/blocks/0/text/text]"
        ])
    );
    let full = json!([
        {"type": "header", "text": plain(&"h".repeat(150))},
        {"type": "section", "text": section(&"s".repeat(3000))["text"], "fields": vec![plain(&"f".repeat(2000)); 10],
         "accessory": button(&"b".repeat(75), "https://x")},
        {"type": "context", "elements": vec![plain("c"); 10]},
        {"type": "actions", "block_id": "i".repeat(255), "elements": vec![button("b", &"u".repeat(3000)); 25]},
        {"type": "divider"},
    ]);
    assert_eq!(
        api(&url, &json!({"channel": "#deploys", "blocks": full}))["ok"],
        true,
        "every limit is inclusive"
    );
}

#[test]
fn api_answers_429_ratelimited_json_per_token_and_channel() {
    let (bed, url) = api_bed();
    bed.add_channel("#builds", true);
    bed.set_rate(1, 0.5);
    assert_eq!(
        api(&url, &json!({"channel": "#deploys", "text": "x"}))["ok"],
        true
    );
    let body = json!({"channel": "#deploys", "text": "x"}).to_string();
    let limited = post(&url, JSON_UTF8, body.as_bytes(), Some(TOKEN));
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("2"))
    );
    assert_eq!(
        (limited.header("content-type"), limited.json()),
        (
            Some(JSON_UTF8),
            json!({"ok": false, "error": "ratelimited"})
        )
    );
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
    assert!(
        client
            .send("POST", &url, &[], br#"{"text":"lost"}"#)
            .is_err()
    );
    assert!(client.is_closed());
    assert_eq!(
        hook(&url, &json!({"text": "kept"})).status,
        200,
        "only one request is faulted"
    );
    let statuses: Vec<u16> = bed.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200]);
    assert_eq!(bed.requests()[0].text(), r#"{"text":"lost"}"#);
}

#[test]
fn fault_slow_delays_then_answers_normally() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    bed.fault(Fault::Slow(Duration::from_millis(200)));
    let started = Instant::now();
    let reply = hook(&url, &json!({"text": "x"}));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
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
    let first = hook(&url, &json!({"text": "x"}));
    assert_eq!(
        (
            first.status,
            first.header("content-type"),
            first.body.as_str()
        ),
        (
            503,
            Some("text/plain; charset=utf-8"),
            "service unavailable"
        )
    );
    let second = hook(&url, &json!({"text": "x"}));
    assert_eq!(
        (
            second.status,
            second.header("content-type"),
            second.json()["error"].clone()
        ),
        (500, Some(JSON_UTF8), json!("internal_error"))
    );
    let third = hook(&url, &json!({"text": "x"}));
    assert_eq!(
        (
            third.status,
            third.header("retry-after"),
            third.body.as_str()
        ),
        (429, Some("7"), "")
    );
    let fourth = post(&api_url, JSON_UTF8, b"{}", Some(TOKEN));
    assert_eq!(
        (
            fourth.status,
            fourth.header("retry-after"),
            fourth.json()["error"].clone()
        ),
        (429, Some("9"), json!("ratelimited"))
    );
    assert_eq!(hook(&url, &json!({"text": "x"})).status, 200);
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
    assert_eq!(hook(&ops, &json!({"text": "x"})).status, 200);
    assert_eq!(
        api(&api_url.replace("postMessage", "update"), &json!({}))["error"],
        "unknown_method"
    );
    assert_eq!(hook(&dev, &json!({"text": "x"})).body, "rollup_error");
    assert_eq!(post(&api_url, JSON_UTF8, b"{}", None).status, 502);
    assert_eq!(hook(&dev, &json!({"text": "x"})).status, 200);
}

#[test]
fn keep_alive_answers_several_requests_on_one_connection_until_asked_to_close() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let mut client = Client::to(&url);
    let first = client
        .send("POST", &url, &[], br#"{"text":"one"}"#)
        .unwrap();
    assert_eq!(
        (first.body.as_str(), first.header("connection")),
        ("ok", Some("keep-alive"))
    );
    let path = url.trim_start_matches(&bed.url());
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: bed\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
         5\r\n{{\"tex\r\n9;ext=1\r\nt\":\"two\"}}\r\n0\r\nX-Trailer: t\r\n\r\n"
    );
    assert_eq!(client.raw(chunked.as_bytes()).unwrap().body, "ok");
    let last = client
        .send(
            "POST",
            &url,
            &[("Connection", "close")],
            br#"{"text":"three"}"#,
        )
        .unwrap();
    assert_eq!(
        (last.body.as_str(), last.header("connection")),
        ("ok", Some("close"))
    );
    assert!(client.is_closed());
    let texts: Vec<String> = bed
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
}

#[test]
fn requests_records_method_path_query_headers_and_body_byte_for_byte() {
    let bed = Bed::start();
    let url = format!("{}?x=1&y=%20", bed.webhook("ops"));
    let body = b"{\"text\":\"\xff\xfe\"}\r\n\0";
    let reply = Client::to(&url)
        .send("POST", &url, &[("X-Custom", " Mixed Case ")], body)
        .unwrap();
    assert_eq!(reply.body, "invalid_payload");
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
    let garbage: [&[u8]; 4] = [
        b"NONSENSE\r\n\r\n",
        b"POST /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /x HTTP/1.1\r\ncontent-length: ten\r\n\r\n",
        b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
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
    assert_eq!(hook(&url, &json!({"text": "x"})).status, 200);
}

#[test]
fn wait_for_returns_when_enough_requests_arrive_or_at_the_timeout() {
    let bed = Bed::start();
    let url = bed.webhook("ops");
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        hook(&url, &json!({"text": "late"}))
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
        idle.send("POST", &url, &[], br#"{"text":"x"}"#)
            .unwrap()
            .status,
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
