//! Every message chime prints about a profile is as redacted as its snippets:
//! a value the parser quotes, a secret under a misspelt key, a line inside a
//! multi-line string and a name echoed back are all masked the same way.

use crate::support::{Sandbox, run};

/// Plain letters, so only the key or the shape around them can say "secret".
const PLAIN: &str = "OPENSESAMEPLAINWORD";

fn check(profile: &str) -> crate::support::Run {
    let sandbox = Sandbox::new();
    sandbox.profile(profile);
    run(sandbox.chime(&["config", "check"]))
}

#[test]
fn a_value_quoted_by_a_type_error_is_never_shown() {
    for profile in [
        "[destinations]\nops = \"https://hooks.slack.com/services/T0/B0/QUOTEDSECRET\"\n",
        "[destinations.ops]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/a/b\"\n\
         [routes.r]\nto = \"https://hooks.slack.com/services/T0/B0/QUOTEDSECRET\"\n",
        "[defaults]\nroute = [\"https://hooks.slack.com/services/T0/B0/QUOTEDSECRET\"]\n",
    ] {
        check(profile)
            .code(78)
            .stderr_has("invalid type")
            .stderr_has("config.toml:")
            .never_shows("QUOTEDSECRET");
    }
}

#[test]
fn a_name_echoed_back_is_redacted_like_its_snippet() {
    let url = "https://hooks.slack.com/services/T0/B0/ECHOEDSECRET";
    for (profile, said) in [
        (
            format!("[destinations.ops]\nkind = \"{url}\"\n"),
            "unknown kind",
        ),
        (
            format!(
                "[destinations.ops]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/a/b\"\n\
                 [routes.r]\nto = [\"ops\"]\ntemplate = \"{url}\"\n"
            ),
            "unknown template",
        ),
        (
            format!("[routes.r]\nto = [\"{url}\"]\n"),
            "unknown destination",
        ),
    ] {
        check(&profile)
            .code(78)
            .stderr_has(said)
            .stderr_has("https://hooks.slack.com/services/T…/B…/****")
            .never_shows("ECHOEDSECRET");
    }
}

#[test]
fn a_misspelt_secret_key_has_its_value_masked() {
    for key in [
        "pasword", "pwd", "passwd", "toekn", "secert", "auht", "api_kye",
    ] {
        let profile = format!(
            "[destinations.n]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/alerts\"\n{key} = \"{PLAIN}\"\n"
        );
        check(&profile)
            .code(78)
            .stderr_has(&format!("unknown key `{key}`"))
            .never_shows(PLAIN);
    }
}

#[test]
fn a_misspelt_header_name_on_a_broken_line_has_its_value_masked() {
    let profile = format!(
        "[destinations.w]\nkind = \"webhook\"\nurl = \"https://example.com/hook\"\n\
         [destinations.w.headers]\nX-Api-Kye = \"{PLAIN}\n"
    );
    check(&profile)
        .code(78)
        .stderr_has("config.toml:5:")
        .never_shows(PLAIN);
}

#[test]
fn every_line_of_a_multi_line_secret_is_masked() {
    let lines = ["FIRSTLINEPLAIN", "SECONDLINEPLAIN", "LASTLINEPLAIN"];
    for quote in ["\"\"\"", "'''"] {
        // A control character makes the parser point at that line of the string.
        for broken in 0..lines.len() {
            let mut body = lines.map(str::to_owned);
            body[broken].push_str(" \u{7f}");
            let profile = format!(
                "[destinations.n]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/alerts\"\n\
                 user = \"me\"\npassword = {quote}\n{}{quote}\n",
                body.join("\n")
            );
            let mut run = check(&profile)
                .code(78)
                .stderr_has(&format!(":{}:", 6 + broken));
            for line in lines {
                run = run.never_shows(line);
            }
        }
    }
}

#[test]
fn a_url_or_token_inside_a_multi_line_template_is_masked() {
    let profile = "[templates.t]\ntext = \"\"\"\nsee https://hooks.slack.com/services/T0/B0/INBODYSECRET\n\
                   token a1b2c3d4e5f6a7b8c9d0INBODYTOKEN \\q\n\"\"\"\n";
    check(profile)
        .code(78)
        .stderr_has("config.toml:")
        .never_shows("INBODYSECRET")
        .never_shows("INBODYTOKEN");
}

#[test]
fn a_commented_out_quote_does_not_unmask_the_lines_after_it() {
    let profile = "# an old note with a stray \"\"\"\n[destinations.n]\nkind = \"ntfy\"\n\
                   url = \"https://ntfy.sh/alerts\"\nuser = \"me\"\npassword = \"\"\"\n\
                   HIDDENLINEPLAIN \\q\n\"\"\"\n";
    check(profile).code(78).never_shows("HIDDENLINEPLAIN");
}

#[test]
fn a_very_long_line_is_shown_as_a_window_around_the_mistake() {
    let profile = format!("[defaults]\nroute = 1{}\n", " ".repeat(5000));
    let run = check(&profile).code(78);
    let longest = run.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 400, "a line of {longest} bytes\n{run}");
}

#[test]
fn a_method_from_a_variable_is_quoted_as_written() {
    let profile = "[destinations.w]\nkind = \"webhook\"\nurl = \"https://example.com/hook\"\n\
                   method = \"${METHOD}\"\n";
    let sandbox = Sandbox::new();
    sandbox.profile(profile);
    let mut cmd = sandbox.chime(&["config", "check"]);
    cmd.env("METHOD", "VARIABLESECRET");
    run(cmd)
        .code(78)
        .stderr_has("`${METHOD}`")
        .never_shows("VARIABLESECRET");
}

#[test]
fn a_rule_that_fails_as_a_message_is_routed_is_named_never_quoted() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[defaults]
route = "ops"

[destinations.ops-hook]
kind = "slack"
url = "http://127.0.0.1:1/services/T0/B0/notasecret"

[routes.ops]
to = ["ops-hook"]

[[rules]]
when = "level == 'xoxb-1234-5678-RULESECRET' or 1 // 0"
route = "ops"
"#,
    );
    for args in [&["send", "x"][..], &["send", "--dry-run", "x"]] {
        run(sandbox.chime(args))
            .code(78)
            .stderr_has("rule 1 (to route `ops`) failed")
            .never_shows("RULESECRET");
    }
    let mut pipe = sandbox.chime(&["pipe"]);
    pipe.stdin(std::process::Stdio::piped());
    crate::support::run_with_stdin(pipe, b"a line\n")
        .code(78)
        .stderr_has("rule 1 (to route `ops`) failed")
        .never_shows("RULESECRET");
}
