//! `kind = "webhook"` against a generic receiver: the neutral JSON, body templates, methods
//! and headers, signatures checked as a receiver would, `max_bytes` splits, throttling,
//! refusals and secrets.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::bed::{Bed, Fault, Request};
use crate::support::hook::Hook;
use crate::support::{Run, Sandbox, run, run_with_stdin};

const SIGNING_SECRET: &str = "whsec-notreal-signing-secret";
const API_KEY: &str = "key-notreal-0123456789";

/// A sandbox with four webhooks on the bed's `/hook/` receiver:
/// `plain` (defaults), `shaped` (PUT, a body template, an API key header from a file),
/// `signed` (a signing secret) and `small` (`max_bytes = 2000`).
fn setup(bed: &Bed) -> Sandbox {
    let sandbox = Sandbox::new();
    let key_file = sandbox.path().join("api-key");
    std::fs::write(&key_file, format!("{API_KEY}\n")).unwrap();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "plain"
timeout = "10s"

[destinations.plain]
kind = "webhook"
url = "{base}/hook/plain"

[destinations.shaped]
kind = "webhook"
url = "{base}/hook/shaped"
method = "PUT"
headers = {{ X-Api-Key = {{ file = "{key_file}" }} }}
body = '{{"summary": {{{{ title }}}}, "detail": {{{{ text }}}}, "severity": {{{{ level }}}}, "labels": {{{{ fields }}}}}}'

[destinations.signed]
kind = "webhook"
url = "{base}/hook/signed"
secret = "${{SIGNING_SECRET}}"

[destinations.small]
kind = "webhook"
url = "{base}/hook/small"
max_bytes = 2000

[routes.plain]
to = ["plain"]
"#,
        base = bed.url(),
        key_file = key_file.display(),
    ));
    sandbox
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("SIGNING_SECRET", SIGNING_SECRET);
    run(cmd)
}

#[test]
fn webhook_posts_the_neutral_message_as_json_by_default() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = setup(&bed);
    chime(
        &sandbox,
        &[
            "send",
            "-t",
            "Deploy",
            "-l",
            "error",
            "-f",
            "env=prod",
            "--link",
            "Run=https://ci.example/7",
            "failed <again> & \"badly\"",
        ],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/hook/plain");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    let body = got[0].json();
    assert_eq!(body["title"], "Deploy");
    assert_eq!(
        body["text"], "failed <again> & \"badly\"",
        "data, not markup: nothing escaped"
    );
    assert_eq!(body["level"], "error");
    assert_eq!(body["colour"], "#E01E5A");
    assert_eq!(body["fields"], json!([{"name": "env", "value": "prod"}]));
    assert_eq!(
        body["links"],
        json!([{"label": "Run", "url": "https://ci.example/7"}])
    );
    assert_eq!(
        (body["part"].clone(), body["parts"].clone()),
        (json!(1), json!(1))
    );
    assert!(body["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn webhook_body_template_writes_values_as_json_with_put_and_a_secret_header() {
    let bed = Bed::start();
    let hook = Hook::mount(&bed);
    hook.require_header("x-api-key", API_KEY);
    let sandbox = setup(&bed);
    let nasty = "quote \" backslash \\ brace }} newline\n</script> {{ not_a_template }}";
    chime(
        &sandbox,
        &["send", "--to", "shaped", "-t", "T", "-f", "k=v", nasty],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "the receiver accepted the key header");
    assert_eq!(got[0].method, "PUT");
    assert_eq!(
        got[0].json(),
        json!({"summary": "T", "detail": nasty, "severity": "info",
               "labels": [{"name": "k", "value": "v"}]})
    );
}

#[test]
fn webhook_signature_verifies_like_a_receiver_would() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = setup(&bed);
    bed.fault(Fault::Status(503, "busy"));
    chime(&sandbox, &["send", "--to", "signed", "sign me"]).code(0);
    let got = bed.requests();
    assert_eq!(got.len(), 2, "one retry after the 503");
    for request in &got {
        verify(request, SIGNING_SECRET).unwrap();
    }
    let tampered = Request {
        body: b"{\"text\":\"forged\"}".to_vec(),
        ..got[1].clone()
    };
    assert!(verify(&tampered, SIGNING_SECRET).is_err());
    assert!(verify(&got[1], "another-secret").is_err());
}

/// What a receiver does: recompute `v1=` HMAC-SHA256 over "timestamp.body" with the shared
/// secret, compare in constant time, and refuse stale timestamps.
fn verify(request: &Request, secret: &str) -> Result<(), String> {
    let timestamp = request.header("x-chime-timestamp").ok_or("no timestamp")?;
    let signature = request.header("x-chime-signature").ok_or("no signature")?;
    let hex = signature.strip_prefix("v1=").ok_or("not v1")?;
    let given: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let sent: u64 = timestamp.parse().map_err(|_| "bad timestamp")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(sent) > 300 {
        return Err("stale".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    mac.verify_slice(&given)
        .map_err(|_| "signature mismatch".to_owned())
}

#[test]
fn webhook_max_bytes_splits_the_text_into_requests_within_the_limit() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let hook = Hook::mount(&bed);
    hook.max_bytes(2000);
    let sandbox = setup(&bed);
    // Quotes double in JSON, so the split must allow for escaping.
    let text: String = (1..=300)
        .map(|i| format!("row {i:03} \"ok\" \\ done\n"))
        .collect();
    let mut cmd = sandbox.chime(&["send", "--to", "small", "-t", "Rows", "-f", "db=main"]);
    cmd.env("SIGNING_SECRET", SIGNING_SECRET);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = bed.delivered();
    assert_eq!(
        got.len(),
        bed.requests().len(),
        "no part over the receiver's limit"
    );
    assert!(got.len() >= 4, "{} parts", got.len());
    let bodies: Vec<Value> = got.iter().map(Request::json).collect();
    for (i, (request, body)) in got.iter().zip(&bodies).enumerate() {
        assert!(
            request.body.len() <= 2000,
            "part {i}: {} bytes",
            request.body.len()
        );
        assert_eq!(body["part"], i + 1);
        assert_eq!(body["parts"], got.len());
        assert_eq!(body["title"], "Rows");
        assert_eq!(body["fields"][0]["value"], "main");
    }
    let texts: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert_eq!(texts.join("\n"), text.trim_end());
}

#[test]
fn webhook_throttled_send_waits_for_retry_after_then_delivers() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = setup(&bed);
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &["send", "x"]).code(0);
    assert!(started.elapsed() >= Duration::from_millis(900), "waited");
    assert_eq!(bed.requests()[0].status, 429);
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn webhook_client_error_is_dead_lettered_with_the_receivers_answer() {
    let bed = Bed::start();
    let hook = Hook::mount(&bed);
    hook.require_header("x-api-key", "some-other-key");
    let sandbox = setup(&bed);
    chime(&sandbox, &["send", "--to", "shaped", "x"])
        .code(65)
        .stderr_has(r#"401 {"error":"invalid credentials"}"#)
        .stderr_has("check `headers`")
        .never_shows(API_KEY);
    assert_eq!(bed.requests().len(), 1, "not retried");
}

#[test]
fn webhook_server_error_is_retried_then_queued_with_exit_75() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::Status(502, "bad gateway"));
    }
    chime(&sandbox, &["send", "x"]).code(75).stderr_has("502");
    assert!((2..=3).contains(&bed.requests().len()));
}

#[test]
fn webhook_secrets_never_show_in_dry_run_verbose_or_errors() {
    let bed = Bed::start();
    let hook = Hook::mount(&bed);
    let sandbox = setup(&bed);
    for to in ["shaped", "signed"] {
        chime(&sandbox, &["send", "--to", to, "--dry-run", "x"])
            .code(0)
            .never_shows(API_KEY)
            .never_shows(SIGNING_SECRET);
        chime(&sandbox, &["send", "--to", to, "-v", "x"])
            .never_shows(API_KEY)
            .never_shows(SIGNING_SECRET);
    }
    hook.require_header("x-api-key", "some-other-key");
    chime(&sandbox, &["send", "--to", "shaped", "-v", "x"])
        .code(65)
        .never_shows(API_KEY);
}

#[test]
fn webhook_template_that_does_not_make_json_is_a_profile_error() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.hook]
kind = "webhook"
url = "https://example.com/hook"
method = "GET"
body = '{"text": "{{ text }}"}'
"#,
    );
    run(sandbox.chime(&["send", "--to", "hook", "x"]))
        .code(78)
        .stderr_has("`body` template of destination `hook`")
        .stderr_has("without quotes")
        .stderr_has("must be POST, PUT or PATCH");
}

#[test]
fn webhook_bad_header_value_is_reported_without_quoting_the_other_headers() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.hook]
kind = "webhook"
url = "https://example.com/hook"
headers = { Authorization = "Bearer sk-live-notreal", X-Count = 3 }
"#,
    );
    run(sandbox.chime(&["send", "--to", "hook", "x"]))
        .code(78)
        .stderr_has("`headers` of destination `hook` must be a string")
        .never_shows("sk-live-notreal");
}

#[test]
fn webhook_body_template_that_fails_on_a_real_message_sends_nothing_in_its_place() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = Sandbox::new();
    // Renders the load-time sample, fails on the text "boom".
    sandbox.profile(&format!(
        r#"
[destinations.hook]
kind = "webhook"
url = "{}"
body = '{{"text": {{{{ text }}}}{{% if text == "boom" %}}{{{{ nope() }}}}{{% endif %}}}}'
"#,
        bed.url() + "/hook/plain"
    ));
    run(sandbox.chime(&["send", "--to", "hook", "fine"])).code(0);
    run(sandbox.chime(&["send", "--to", "hook", "boom"]))
        .code(78)
        .stderr_has("destination `hook`: its `body` template failed to render this message");
    assert_eq!(bed.requests().len(), 1, "nothing went out in its place");
}

const BODY_SECRET: &str = "bodysecret-notreal-7f3a9c";

/// A webhook at `url` whose body template carries `${BODY_SECRET}`, signed too.
fn with_body_secret(sandbox: &Sandbox, url: &str) {
    sandbox.profile(&format!(
        r#"
[defaults]
route = "r"
timeout = "5s"

[destinations.w]
kind = "webhook"
url = "{url}"
secret = "${{SIGNING_SECRET}}"
body = '{{"key": "${{BODY_SECRET}}", "text": {{{{ text }}}}, "price": "$$5"}}'

[routes.r]
to = ["w"]
"#
    ));
}

fn chime_with_body_secret(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("BODY_SECRET", BODY_SECRET)
        .env("SIGNING_SECRET", SIGNING_SECRET);
    run(cmd)
}

/// Every file under `dir`, whatever its name.
fn every_file(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        match path.is_dir() {
            true => found.extend(every_file(&path)),
            false => found.push(path),
        }
    }
    found
}

#[test]
fn a_secret_in_a_body_template_is_filled_in_only_when_the_request_is_sent() {
    let mut bed = Bed::down();
    Hook::mount(&bed);
    let sandbox = Sandbox::new();
    with_body_secret(&sandbox, &format!("{}/hook/up", bed.url()));
    chime_with_body_secret(&sandbox, &["send", "--dry-run", "hello"])
        .code(0)
        .stdout_has("${BODY_SECRET}")
        .never_shows(BODY_SECRET);
    chime_with_body_secret(&sandbox, &["send", "-v", "hello"])
        .code(75)
        .never_shows(BODY_SECRET);
    let state = every_file(&sandbox.path().join("state"));
    assert!(!state.is_empty(), "the message was spooled");
    for file in &state {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(BODY_SECRET),
            "{} holds the secret",
            file.display()
        );
    }
    let listed = chime_with_body_secret(&sandbox, &["spool", "list", "--json"]).code(0);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    chime_with_body_secret(&sandbox, &["spool", "show", &id])
        .code(0)
        .stdout_has("${BODY_SECRET}")
        .never_shows(BODY_SECRET);
    bed.come_up();
    chime_with_body_secret(&sandbox, &["flush", "--all"]).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].json(),
        json!({"key": BODY_SECRET, "text": "hello", "price": "$5"})
    );
    verify(&got[0], SIGNING_SECRET).unwrap();
}

#[test]
fn a_variable_named_in_the_message_text_is_never_filled_in() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let sandbox = Sandbox::new();
    with_body_secret(&sandbox, &format!("{}/hook/up", bed.url()));
    chime_with_body_secret(&sandbox, &["send", "${BODY_SECRET} ${HOME}"]).code(0);
    let got = bed.delivered();
    assert_eq!(got[0].json()["text"], "${BODY_SECRET} ${HOME}");
    assert_eq!(got[0].json()["key"], BODY_SECRET);
}

#[test]
fn a_signed_webhook_sends_files_as_a_form_and_signs_the_whole_form() {
    let bed = Bed::start();
    bed.no_rate_limit();
    Hook::mount(&bed);
    let sandbox = setup(&bed);
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("dump.bin");
    std::fs::write(&path, &bytes).unwrap();
    let mut cmd = sandbox.chime(&[
        "send",
        "--to",
        "signed",
        "with a file",
        "--file",
        path.to_str().unwrap(),
    ]);
    cmd.env("SIGNING_SECRET", SIGNING_SECRET);
    run(cmd).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    verify(&got[0], SIGNING_SECRET).unwrap();
    let content_type = got[0].header("content-type").unwrap();
    let parts = crate::support::multipart::parse(content_type, &got[0].body).unwrap();
    assert_eq!(parts[0].name, "payload");
    let json: serde_json::Value = serde_json::from_slice(&parts[0].data).unwrap();
    assert_eq!(json["text"], "with a file");
    assert_eq!(parts[1].name, "files[0]");
    assert_eq!(parts[1].filename.as_deref(), Some("dump.bin"));
    assert!(parts[1].data == bytes);
}
