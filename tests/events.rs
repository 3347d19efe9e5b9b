//! `[[rules]]` that drop what should not alert.

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

/// No spool entry, pending or dead.
fn spool_is_empty(sandbox: &Sandbox) {
    let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    let entries: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(entries, serde_json::json!([]), "{listed}");
}

#[test]
fn a_drop_rule_exits_0_and_nothing_is_sent_or_spooled() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = [
        "--var",
        "event=feature.used",
        "--var",
        "feature=search",
        "x",
    ];
    let out = send(&sandbox, &args).code(0);
    assert_eq!(out.stderr, "", "{out}");
    assert!(bed.requests().is_empty());
    spool_is_empty(&sandbox);
}

#[test]
fn a_drop_rule_drops_a_message_that_lacks_the_variable_it_tests() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    send(&sandbox, &["-v", "--var", "event=feature.used", "x"])
        .code(0)
        .stderr_has("rule 2 dropped");
    assert!(bed.requests().is_empty());
}

#[test]
fn verbose_names_the_rule_that_dropped_the_message() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = [
        "-v",
        "--var",
        "event=feature.used",
        "--var",
        "feature=search",
        "x",
    ];
    send(&sandbox, &args)
        .code(0)
        .stderr_has("chime: rule 2 dropped this message (when = \"event == 'feature.used' and feature not in ['export', 'api']\")");
}

#[test]
fn json_output_says_the_message_was_dropped_and_by_which_rule() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = [
        "--json",
        "--var",
        "event=feature.used",
        "--var",
        "feature=search",
        "x",
    ];
    let out = send(&sandbox, &args).code(0);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["status"], "dropped");
    assert_eq!(lines[0]["rule"], 2);
    assert!(bed.requests().is_empty());
}

#[test]
fn a_message_the_drop_rule_lets_through_goes_by_the_next_rule() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = [
        "--var",
        "event=feature.used",
        "--var",
        "feature=export",
        "x",
    ];
    send(&sandbox, &args).code(0);
    assert_eq!(only_message(&bed).0, "growth");
}

#[test]
fn a_route_named_is_sent_to_whatever_the_drop_rules_say() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let args = [
        "-r",
        "growth",
        "--var",
        "event=feature.used",
        "--var",
        "feature=search",
        "x",
    ];
    send(&sandbox, &args).code(0);
    assert_eq!(only_message(&bed).0, "growth");
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
