//! Finding and validating the profile: every mistake exits 78 with a location and
//! a way out, before anything is sent.

use crate::support::{Sandbox, run};

fn sandbox(toml: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(toml);
    sandbox
}

const GOOD: &str = r#"
[defaults]
route = "ops"

[destinations.ops-hook]
kind = "slack"
url = "http://127.0.0.1:9/services/T0/B0/notasecretatall"

[routes.ops]
to = ["ops-hook"]
"#;

#[test]
fn missing_profile_says_where_it_looked_and_suggests_config_init() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has(&sandbox.profile_path().display().to_string())
        .stderr_has("chime config init");
}

#[test]
fn profile_is_found_through_xdg_config_home() {
    let sandbox = sandbox(GOOD);
    run(sandbox.chime(&["send", "--dry-run", "hi"]))
        .code(0)
        .stdout_has("ops-hook (slack)");
}

#[test]
fn config_flag_beats_chime_config_which_beats_the_profile_name() {
    let sandbox = Sandbox::new();
    let flag = sandbox.path().join("flag.toml");
    let env = sandbox.path().join("env.toml");
    std::fs::write(&flag, GOOD.replace("ops-hook", "from-flag")).unwrap();
    std::fs::write(&env, GOOD.replace("ops-hook", "from-env")).unwrap();
    let mut cmd = sandbox.chime(&[
        "send",
        "--dry-run",
        "--config",
        flag.to_str().unwrap(),
        "hi",
    ]);
    cmd.env("CHIME_CONFIG", &env);
    run(cmd).code(0).stdout_has("from-flag");
    let mut cmd = sandbox.chime(&["send", "--dry-run", "hi"]);
    cmd.env("CHIME_CONFIG", &env);
    run(cmd).code(0).stdout_has("from-env");
}

#[test]
fn profile_name_picks_a_file_in_the_config_dir() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("config/chime");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("work.toml"), GOOD.replace("ops-hook", "work-hook")).unwrap();
    run(sandbox.chime(&["send", "--dry-run", "--profile", "work", "hi"]))
        .code(0)
        .stdout_has("work-hook");
    let mut cmd = sandbox.chime(&["send", "--dry-run", "hi"]);
    cmd.env("CHIME_PROFILE", "work");
    run(cmd).code(0).stdout_has("work-hook");
}

#[test]
fn toml_syntax_error_names_file_line_and_column() {
    let sandbox = sandbox("[defaults]\nroute = \"ops\n");
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("config.toml:2:")
        .stderr_has("2 | route = \"ops");
}

#[test]
fn a_secret_on_a_broken_line_is_never_shown_however_it_is_written() {
    for line in [
        "url = https://hooks.slack.com/services/T0/B0/RAWSECRET7",
        "url = 'https://hooks.slack.com/services/T0/B0/RAWSECRET7",
        "tokn = \"xoxb-1234-RAWSECRET7\"",
    ] {
        let profile = format!("[destinations.h]\nkind = \"slack\"\n{line}\n");
        run(sandbox(&profile).chime(&["send", "hi"]))
            .code(78)
            .stderr_has("config.toml:3:")
            .never_shows("RAWSECRET7");
    }
}

#[test]
fn unknown_key_is_an_error_with_a_suggestion() {
    let sandbox = sandbox(&GOOD.replace("url =", "urll ="));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("unknown key `urll`")
        .stderr_has("did you mean `url`?")
        .stderr_has("config.toml:7:8");
}

#[test]
fn unknown_top_level_section_is_an_error_with_a_suggestion() {
    let sandbox = sandbox(&GOOD.replace("[routes.ops]", "[route.ops]"));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("did you mean `routes`?");
}

#[test]
fn route_naming_an_unknown_destination_is_located() {
    let sandbox = sandbox(&GOOD.replace("to = [\"ops-hook\"]", "to = [\"ops-hok\"]"));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("an unknown destination `ops-hok`")
        .stderr_has("config.toml:10:7")
        .stderr_has("did you mean `ops-hook`?");
}

#[test]
fn unknown_kind_lists_the_known_ones() {
    let sandbox = sandbox(&GOOD.replace("kind = \"slack\"", "kind = \"pager\""));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("unknown kind `pager`")
        .stderr_has("known kinds: slack, slack-api");
}

#[test]
fn a_misspelt_kind_still_has_the_rest_of_its_destination_checked_as_the_kind_it_resembles() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        "[destinations.ops]\nkind = \"slak\"\nurl = \"${NOT_EXPORTED_URL}\"\ncolour = \"red\"\n",
    );
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("3 problems")
        .stderr_has("unknown kind `slak`")
        .stderr_has("did you mean `slack`?")
        .stderr_has(
            "`NOT_EXPORTED_URL` is not set (used by destination `ops`) (read as kind `slack`)",
        )
        .stderr_has("unknown key `colour` in destination `ops` (read as kind `slack`)");
}

#[test]
fn a_snippet_shows_the_variables_and_comment_of_a_secret_line_and_hides_only_values() {
    let sandbox = Sandbox::new();
    sandbox.profile(concat!(
        "[destinations.ops]\nkind = \"slack\"\n",
        "url = \"https://hooks.slack.com/services/T0SECRET1/${OPS_HOOK}\" # the ops channel\n",
    ));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("services/T…/${OPS_HOOK}\" # the ops channel")
        .never_shows("T0SECRET1");
}

#[test]
fn unset_variable_is_named_and_no_secret_is_printed() {
    let profile = GOOD.replace(
        "url = \"http://127.0.0.1:9/services/T0/B0/notasecretatall\"",
        "url = \"${OPS_WEBHOOK}\"",
    ) + "[destinations.bot]\nkind = \"slack-api\"\nchannel = \"#x\"\ntoken = \"${BOT_TOKEN}\"\n";
    let sandbox = sandbox(&profile);
    let mut cmd = sandbox.chime(&["send", "hi"]);
    cmd.env("BOT_TOKEN", "xoxb-1-SETSECRET");
    run(cmd)
        .code(78)
        .stderr_has("environment variable `OPS_WEBHOOK` is not set")
        .stderr_has("config.toml:7:")
        .never_shows("SETSECRET");
}

#[test]
fn snippet_of_a_bad_line_never_shows_the_webhook_secret() {
    let sandbox = Sandbox::new();
    let secret_url = "http://127.0.0.1:9/services/T0/B0/notasecretatall";
    sandbox.profile(&GOOD.replace(secret_url, "ftp://host/xyzsecretpart"));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("not a valid http(s) URL")
        .stderr_has("config.toml:7:")
        .never_shows("xyzsecretpart");
    // An unterminated string: the parser's own error, on the secret's line.
    sandbox.profile(&GOOD.replace(
        &format!("\"{secret_url}\""),
        "\"https://hooks.example/T1/B2/xyzsecretpart",
    ));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("config.toml:7:")
        .never_shows("xyzsecretpart");
}

#[test]
fn rule_that_does_not_compile_is_located() {
    let sandbox = sandbox(&format!(
        "{GOOD}\n[[rules]]\nwhen = \"level in [\"\nroute = \"ops\"\n"
    ));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("rule expression does not compile")
        .stderr_has("config.toml:13:8");
}

#[test]
fn template_that_does_not_compile_is_located() {
    let sandbox = sandbox(&format!(
        "{GOOD}\n[templates.alert]\ntext = \"{{{{ text \"\n"
    ));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("template `alert`: the text does not compile");
}

#[test]
fn every_problem_is_reported_at_once() {
    let broken = GOOD
        .replace("kind = \"slack\"", "kind = \"slak\"")
        .replace("route = \"ops\"", "route = \"nope\"");
    run(sandbox(&broken).chime(&["send", "hi"]))
        .code(78)
        .stderr_has("2 problems")
        .stderr_has("did you mean `slack`?")
        .stderr_has("unknown route `nope`");
}

#[test]
fn secret_can_come_from_a_file_with_its_newline_trimmed() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("hook");
    std::fs::write(&file, "http://127.0.0.1:9/services/T0/B0/fromfilesecret\n").unwrap();
    let profile = GOOD.replace(
        "url = \"http://127.0.0.1:9/services/T0/B0/notasecretatall\"",
        &format!("url = {{ file = \"{}\" }}", file.display()),
    );
    sandbox.profile(&profile);
    run(sandbox.chime(&["send", "--dry-run", "hi"]))
        .code(0)
        .stdout_has("POST http://127.0.0.1:9/services/T…/B…/****")
        .never_shows("fromfilesecret");
}

#[test]
fn unknown_route_on_the_command_line_exits_78_listing_routes() {
    run(sandbox(GOOD).chime(&["send", "-r", "opz", "hi"]))
        .code(78)
        .stderr_has("unknown route `opz` (from --route)")
        .stderr_has("known routes: ops");
}

#[test]
fn unknown_route_from_chime_route_says_where_it_came_from() {
    let sandbox = sandbox(GOOD);
    let mut cmd = sandbox.chime(&["send", "hi"]);
    cmd.env("CHIME_ROUTE", "nightly");
    run(cmd)
        .code(78)
        .stderr_has("unknown route `nightly` (from CHIME_ROUTE)");
}

#[test]
fn unknown_destination_on_the_command_line_exits_78_listing_destinations() {
    run(sandbox(GOOD).chime(&["send", "--to", "ops", "hi"]))
        .code(78)
        .stderr_has("unknown destination `ops`")
        .stderr_has("known destinations: ops-hook");
}

#[test]
fn no_route_anywhere_is_a_configuration_error() {
    let sandbox = sandbox(&GOOD.replace("[defaults]\nroute = \"ops\"\n", ""));
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("pass --route NAME");
}

#[test]
fn config_init_writes_a_private_profile_that_works_once_the_webhook_is_set() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["config", "init"]))
        .code(0)
        .stderr_has("wrote");
    let path = sandbox.profile_path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    run(sandbox.chime(&["send", "--dry-run", "hi"]))
        .code(78)
        .stderr_has("`SLACK_WEBHOOK_URL` is not set");
    let mut cmd = sandbox.chime(&["send", "--dry-run", "hi"]);
    cmd.env(
        "SLACK_WEBHOOK_URL",
        "https://hooks.example/services/T0/B0/starterstarter",
    );
    run(cmd)
        .code(0)
        .stdout_has("ops-hook (slack)")
        .never_shows("starterstarter");
}

#[test]
fn config_init_refuses_to_overwrite_without_force() {
    let sandbox = sandbox(GOOD);
    run(sandbox.chime(&["config", "init"]))
        .code(78)
        .stderr_has("--force");
    assert_eq!(
        std::fs::read_to_string(sandbox.profile_path()).unwrap(),
        GOOD
    );
    run(sandbox.chime(&["config", "init", "--force"])).code(0);
    assert_ne!(
        std::fs::read_to_string(sandbox.profile_path()).unwrap(),
        GOOD
    );
}

#[test]
fn config_path_prints_the_profile_chime_would_use() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["-v", "config", "path"]))
        .code(0)
        .stdout_has(&sandbox.profile_path().display().to_string())
        .stderr_has("using the default profile; there is nothing there yet")
        .stderr_has("chime config init")
        .stderr_has("looked for: --config PATH, then $CHIME_CONFIG");
    sandbox.profile("");
    run(sandbox.chime(&["-v", "config", "path"]))
        .code(0)
        .stderr_has("using the default profile; it exists");
    let out = run(sandbox.chime(&["-v", "--profile", "work", "config", "path"]))
        .code(0)
        .stdout_has("chime/work.toml")
        .stderr_has("using profile from --profile");
    assert_eq!(out.stdout.lines().count(), 1, "only the path on stdout");
}

#[test]
fn a_destination_timeout_written_as_a_bare_number_asks_for_a_duration_in_quotes() {
    let sandbox = sandbox(&GOOD.replace("kind = \"slack\"", "kind = \"slack\"\ntimeout = 10"));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("`timeout` must be a duration in quotes")
        .stderr_has("\"10s\"");
}

#[test]
fn a_zero_timeout_is_refused_wherever_it_is_given() {
    // Every send would give up at once and queue: never what was meant.
    let in_destination = GOOD.replace("kind = \"slack\"", "kind = \"slack\"\ntimeout = \"0s\"");
    let in_defaults = GOOD.replace("[defaults]", "[defaults]\ntimeout = \"0s\"");
    for toml in [in_destination, in_defaults] {
        run(sandbox(&toml).chime(&["config", "check"]))
            .code(78)
            .stderr_has("timeout` must be longer than 0");
    }
    let sandbox = sandbox(GOOD);
    run(sandbox.chime(&["send", "--timeout", "0s", "hi"]))
        .code(2)
        .stderr_has("longer than 0");
    let mut cmd = sandbox.chime(&["send", "hi"]);
    cmd.env("CHIME_TIMEOUT", "0");
    run(cmd).code(2).stderr_has("longer than 0");
}

#[test]
fn a_profile_with_nothing_to_send_to_fails_check() {
    let sandbox = sandbox("# nothing yet\n");
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("defines no destinations")
        .stderr_has("chime config init");
}

#[test]
fn json_input_whose_text_is_not_a_string_says_so() {
    let sandbox = sandbox(GOOD);
    let mut cmd = sandbox.chime(&["send", "--json-input", "--dry-run"]);
    cmd.stdin(std::process::Stdio::piped());
    let run = crate::support::run_with_stdin(cmd, br#"{"text": 42}"#);
    run.code(2).stderr_has("`text` must be a string");
}

#[test]
fn a_profile_or_secret_file_other_users_may_read_draws_a_warning_naming_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = sandbox(GOOD);
    let path = sandbox.profile_path();
    let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    mode(0o644);
    run(sandbox.chime(&["config", "check"]))
        .code(0)
        .stderr_has("other users may read it: chmod 600");
    mode(0o600);
    let quiet = run(sandbox.chime(&["config", "check"])).code(0);
    assert!(!quiet.stderr.contains("chmod"), "{quiet}");

    let token = sandbox.path().join("token");
    std::fs::write(&token, "https://hooks.example/secret\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox.profile(&format!(
        "[destinations.ops-hook]\nkind = \"webhook\"\nurl = {{ file = \"{}\" }}\n",
        token.display()
    ));
    run(sandbox.chime(&["send", "--to", "ops-hook", "--dry-run", "x"]))
        .code(0)
        .stderr_has("may be read by other users: chmod 600");
}

#[test]
fn config_check_finds_a_template_that_prints_ci_variables_outside_ci_and_passes_one_that_tests_for_them()
 {
    let sandbox = Sandbox::new();
    let profile = GOOD.replace(
        "to = [\"ops-hook\"]",
        "to = [\"ops-hook\"]\ntemplate = \"deploy\"",
    );
    sandbox.profile(&format!(
        "{profile}\n[templates.deploy]\ntitle = \"Deploy {{{{ deploy.version }}}}\"\ntext = \"{{{{ text }}}} on {{{{ ci.branch }}}}\"\n"
    ));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has(
            "template `deploy`: the text fails to render outside CI: `ci.branch` is undefined",
        )
        .stderr_has("{% if ci is defined %}");
    // What check foretold: the send outside CI fails on it, naming it.
    run(sandbox.chime(&["send", "hi"]))
        .code(78)
        .stderr_has("ci.branch");
    sandbox.profile(&format!(
        "{profile}\n[templates.deploy]\ntext = \"{{{{ text }}}}{{% if ci is defined %}} on {{{{ ci.branch }}}}{{% endif %}}\"\n"
    ));
    run(sandbox.chime(&["config", "check"])).code(0);
}
