//! Events: a JSON object on stdin or `--event NAME` shown as a title and
//! fields, and `[[rules]]` that drop what should not alert.

use serde_json::Value;

use crate::support::bed::Bed;
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Two Slack webhooks, `growth-hook` and `ops-hook` (the default), and rules:
/// critical to ops, a drop rule for features nobody needs to hear about,
/// then every other event to growth.
fn setup(bed: &Bed) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "ops"
timeout = "5s"

[destinations.growth-hook]
kind = "slack"
url = "{growth}"
pace = "0s"

[destinations.ops-hook]
kind = "slack"
url = "{ops}"
pace = "0s"

[routes.growth]
to = ["growth-hook"]

[routes.ops]
to = ["ops-hook"]

[[rules]]
when = "level == 'critical'"
route = "ops"

[[rules]]
when = "event == 'feature.used' and feature not in ['export', 'api']"
drop = true

[[rules]]
when = "event is defined"
route = "growth"
"#,
        growth = bed.webhook("growth"),
        ops = bed.webhook("ops"),
    ));
    // The webhooks' URLs are secrets: a profile others may read is warned of.
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(sandbox.profile_path(), private).unwrap();
    sandbox
}

fn send_stdin(sandbox: &Sandbox, args: &[&str], stdin: &str) -> Run {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    run_with_stdin(sandbox.chime(&all), stdin.as_bytes())
}

fn send(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    run(sandbox.chime(&all))
}

/// The one message the bed got, and the webhook (`growth`, `ops`) it went to.
fn only_message(bed: &Bed) -> (&'static str, Value) {
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "expected one message, got {}", got.len());
    let hook = ["growth", "ops"]
        .into_iter()
        .find(|name| bed.webhook(name).ends_with(&got[0].path))
        .expect("a request to one of the profile's webhooks");
    (hook, got[0].json())
}

fn header(body: &Value) -> String {
    body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every field of the message's field sections, as Slack shows them (`*key*\nvalue`).
fn fields(body: &Value) -> Vec<String> {
    body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect()
}

/// No spool entry, pending or dead.
fn spool_is_empty(sandbox: &Sandbox) {
    let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    let entries: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(entries, serde_json::json!([]), "{listed}");
}

const SIGNED_UP: &str = r#"{"event":"user.signed_up","email":"ada@acme.com","plan":"pro"}"#;

#[test]
fn a_json_event_on_stdin_renders_its_title_and_fields() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send_stdin(&sandbox, &["-r", "growth"], &format!("{SIGNED_UP}\n")).code(0);
    let (hook, body) = only_message(&bed);
    assert_eq!(hook, "growth");
    assert!(header(&body).ends_with("user.signed_up"), "{body}");
    assert_eq!(fields(&body), ["*email*\nada@acme.com", "*plan*\npro"]);
    assert!(!body.to_string().contains(r#"\"event\""#), "{body}");
}

#[test]
fn a_json_events_fields_keep_the_order_they_were_written_in() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"zone":"eu","event":"deploy","app":"api","build":42,"ok":true}"#;
    send_stdin(&sandbox, &["-r", "growth"], event).code(0);
    let (_, body) = only_message(&bed);
    assert_eq!(
        fields(&body),
        ["*zone*\neu", "*app*\napi", "*build*\n42", "*ok*\ntrue"]
    );
}

#[test]
fn nested_values_of_a_json_event_are_fields_of_compact_json() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event": "order.paid", "items": ["a", "b"], "user": {"id": 7}}"#;
    send_stdin(&sandbox, &["-r", "growth"], event).code(0);
    let (_, body) = only_message(&bed);
    assert_eq!(
        fields(&body),
        ["*items*\n[\"a\",\"b\"]", "*user*\n{\"id\":7}"]
    );
}

#[test]
fn an_event_flag_with_fields_sends_what_the_json_event_sends() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send_stdin(&sandbox, &["-r", "growth"], SIGNED_UP).code(0);
    let args = [
        "-r",
        "growth",
        "--event",
        "user.signed_up",
        "-f",
        "email=ada@acme.com",
        "-f",
        "plan=pro",
    ];
    send(&sandbox, &args).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 2);
    assert!(header(&got[1].json()).ends_with("user.signed_up"));
    assert_eq!(got[0].json(), got[1].json());
}

#[test]
fn a_json_events_level_sets_the_level_that_rules_see() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"db.down","level":"critical","host":"db1"}"#;
    send_stdin(&sandbox, &[], event).code(0);
    let (hook, body) = only_message(&bed);
    assert_eq!(hook, "ops");
    assert_eq!(fields(&body), ["*host*\ndb1"]);
    assert_eq!(body["attachments"][0]["color"], "#8B0000");
}

#[test]
fn a_json_events_text_key_is_its_text() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"backup","text":"took 4m","size":"12G"}"#;
    send_stdin(&sandbox, &["-r", "growth"], event).code(0);
    let (_, body) = only_message(&bed);
    assert_eq!(body["blocks"][1]["text"]["text"], "took 4m");
    assert_eq!(fields(&body), ["*size*\n12G"]);
}

#[test]
fn a_drop_rule_exits_0_and_nothing_is_sent_or_spooled() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"feature.used","feature":"search"}"#;
    let out = send_stdin(&sandbox, &[], event).code(0);
    assert_eq!(out.stderr, "", "{out}");
    assert!(bed.requests().is_empty());
    spool_is_empty(&sandbox);
}

#[test]
fn a_drop_rule_drops_an_event_that_lacks_the_key_it_tests() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send_stdin(&sandbox, &["-v"], r#"{"event":"feature.used"}"#)
        .code(0)
        .stderr_has("rule 2 dropped");
    assert!(bed.requests().is_empty());
}

#[test]
fn verbose_names_the_rule_that_dropped_the_message() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"feature.used","feature":"search"}"#;
    send_stdin(&sandbox, &["-v"], event)
        .code(0)
        .stderr_has("chime: rule 2 dropped this message (when = \"event == 'feature.used' and feature not in ['export', 'api']\")");
}

#[test]
fn json_output_says_the_message_was_dropped_and_by_which_rule() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = ["--json", "--event", "feature.used", "-f", "feature=search"];
    let out = send(&sandbox, &args).code(0);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["status"], "dropped");
    assert_eq!(lines[0]["rule"], 2);
    assert!(bed.requests().is_empty());
}

#[test]
fn an_event_the_drop_rule_lets_through_goes_by_the_next_rule() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"feature.used","feature":"export"}"#;
    send_stdin(&sandbox, &[], event).code(0);
    let (hook, body) = only_message(&bed);
    assert_eq!(hook, "growth");
    assert_eq!(fields(&body), ["*feature*\nexport"]);
}

#[test]
fn the_event_flag_is_the_event_variable_rules_see() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send(&sandbox, &["--event", "deploy", "-f", "app=api"]).code(0);
    let (hook, body) = only_message(&bed);
    assert_eq!(hook, "growth");
    assert!(header(&body).ends_with("deploy"), "{body}");
    send(
        &sandbox,
        &["--event", "feature.used", "-f", "feature=search"],
    )
    .code(0);
    assert_eq!(bed.requests().len(), 1);
}

#[test]
fn a_route_named_is_sent_to_whatever_the_drop_rules_say() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let event = r#"{"event":"feature.used","feature":"search"}"#;
    send_stdin(&sandbox, &["-r", "growth"], event).code(0);
    assert_eq!(only_message(&bed).0, "growth");
}

#[test]
fn a_log_line_that_starts_with_a_brace_but_is_not_json_goes_as_text() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send_stdin(&sandbox, &[], "{oops} disk full on /var\n").code(0);
    let (hook, body) = only_message(&bed);
    assert_eq!(hook, "ops");
    assert_eq!(body["text"], "{oops} disk full on /var");
    assert!(fields(&body).is_empty());
}

#[test]
fn json_that_is_not_an_object_goes_as_text() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send_stdin(&sandbox, &[], "[1, 2, 3]\n").code(0);
    let (_, body) = only_message(&bed);
    assert_eq!(body["text"], "[1, 2, 3]");
}

/// A profile whose one rule is `rule`, for the profile's checks.
fn with_rule(rule: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"ops\"\n\n[destinations.ops-hook]\nkind = \"slack\"\n\
         url = \"https://hooks.slack.com/services/T0/B0/x\"\n\n[routes.ops]\nto = [\"ops-hook\"]\n\n\
         [[rules]]\n{rule}\n"
    ));
    sandbox
}

#[test]
fn a_rule_with_both_drop_and_route_is_a_profile_error() {
    let sandbox = with_rule("when = \"true\"\nroute = \"ops\"\ndrop = true");
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("a rule has both `route` and `drop = true`")
        .stderr_has("config.toml:13:9")
        .stderr_has("keep `route`");
}

#[test]
fn a_rule_with_neither_drop_nor_route_is_a_profile_error() {
    for rule in ["when = \"true\"", "when = \"true\"\ndrop = false"] {
        let sandbox = with_rule(rule);
        run(sandbox.chime(&["config", "check"]))
            .code(78)
            .stderr_has("a rule has neither `route` nor `drop = true`")
            .stderr_has("add `route = \"NAME\"`");
    }
}

#[test]
fn config_show_shows_a_drop_rule() {
    let sandbox = with_rule("when = \"level == 'info'\"\ndrop = true");
    run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has("[[rules]]\nwhen = \"level == 'info'\"\ndrop = true\n");
}

#[test]
fn a_stream_whose_lines_a_rule_drops_sends_nothing_and_exits_0() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.ops-hook]\nkind = \"slack\"\nurl = \"{}\"\npace = \"0s\"\n\n\
         [routes.ops]\nto = [\"ops-hook\"]\n\n[[rules]]\nwhen = \"level == 'info'\"\ndrop = true\n",
        bed.webhook("ops")
    ));
    run_with_stdin(sandbox.chime(&["pipe", "-v"]), b"one\ntwo\n")
        .code(0)
        .stderr_has("rule 1 drops lines at level info");
    assert!(bed.requests().is_empty());
}
