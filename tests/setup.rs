//! The first five minutes: generated completions and man page, `config init`,
//! `config check`, `config show`, `chime test`, install.sh, and a closed stdout.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::bed::Bed;
use crate::support::{Sandbox, run};

const HOOK_SECRET: &str = "T0000/B0000/zzSECRETzz";
const TOKEN: &str = "xoxb-111-very-secret-token";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed files generated from the clap definition, and the command
/// that prints each.
const GENERATED: &[(&str, &[&str])] = &[
    ("completions/chime.bash", &["completions", "bash"]),
    ("completions/_chime", &["completions", "zsh"]),
    ("completions/chime.fish", &["completions", "fish"]),
    ("completions/chime.elv", &["completions", "elvish"]),
    ("completions/_chime.ps1", &["completions", "powershell"]),
    ("doc/chime.1", &["manpage"]),
];

const REGENERATE: &str = "CHIME_REGENERATE=1 cargo test --test integration generated";

/// Fails when a committed completion script or the man page no longer matches
/// the command line; with CHIME_REGENERATE=1 it rewrites them instead.
#[test]
fn generated_completions_and_man_page_are_fresh() {
    let sandbox = Sandbox::new();
    let regenerate = std::env::var_os("CHIME_REGENERATE").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, args) in GENERATED {
        let fresh = run(sandbox.chime(args)).code(0).stdout;
        assert!(
            fresh.len() > 200,
            "`chime {}` printed almost nothing",
            args.join(" ")
        );
        let path = repo().join(file);
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &fresh).unwrap();
            continue;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            stale.push(*file);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {}\nthe command line changed; regenerate them with:\n    {REGENERATE}\nand commit the result",
        stale.join(", ")
    );
}

#[test]
fn man_page_generates_with_a_section_per_subcommand() {
    let out = run(Sandbox::new().chime(&["manpage"])).code(0);
    for needle in [
        ".TH chime 1",
        ".SH SYNOPSIS",
        ".SH \"CHIME SEND\"",
        ".SH \"CHIME CONFIG CHECK\"",
        ".SH \"CHIME TEST\"",
        "CHIME_ROUTE",
    ] {
        assert!(out.stdout.contains(needle), "man page lacks {needle:?}");
    }
}

#[test]
fn man_page_names_no_page_that_is_not_installed_and_says_where_chime_keeps_things() {
    let out = run(Sandbox::new().chime(&["manpage"])).code(0);
    assert!(!out.stdout.contains("chime\\-send(1)"), "{}", out.stdout);
    for needle in [
        ".SH FILES",
        "config.toml",
        "XDG_STATE_HOME",
        "CHIME_STATE_DIR",
    ] {
        assert!(out.stdout.contains(needle), "man page lacks {needle:?}");
    }
}

#[test]
fn completion_scripts_complete_names_from_the_profile() {
    let sandbox = Sandbox::new();
    let bash = run(sandbox.chime(&["completions", "bash"])).code(0);
    assert!(
        bash.stdout.contains("-r|--route) _chime_names routes"),
        "{}",
        bash.stdout
    );
    let zsh = run(sandbox.chime(&["completions", "zsh"])).code(0);
    assert!(zsh.stdout.contains(":DEST:_chime_names destinations"));
    let fish = run(sandbox.chime(&["completions", "fish"])).code(0);
    assert!(
        fish.stdout
            .contains("-l to -r -f -a \"(__chime_names destinations)\"")
    );

    sandbox.profile(
        "[destinations.ops-hook]\nkind = \"slack\"\nurl = \"${UNSET_HERE}\"\n\
         [destinations.bot]\nkind = \"slack-api\"\n[routes.ops]\nto = [\"ops-hook\"]\n",
    );
    // Names come even from a profile that does not load (an unset variable,
    // a missing token): completion must work while one writes it.
    run(sandbox.chime(&["config", "names", "destinations"]))
        .code(0)
        .stdout_has("bot\nops-hook\n");
    run(sandbox.chime(&["config", "names", "routes"]))
        .code(0)
        .stdout_has("ops\n");
}

#[test]
fn config_init_then_config_check_passes() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["config", "init"]))
        .code(0)
        .stderr_has("chime config check");
    let mut cmd = sandbox.chime(&["config", "check"]);
    cmd.env(
        "SLACK_WEBHOOK_URL",
        format!("https://hooks.slack.com/services/{HOOK_SECRET}"),
    );
    run(cmd)
        .code(0)
        .stdout_has(": ok (1 destination, 1 route, 0 rules, 1 template)")
        .never_shows(HOOK_SECRET);
}

#[test]
fn config_init_refuses_to_overwrite_without_force() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["config", "init"])).code(0);
    run(sandbox.chime(&["config", "init"]))
        .code(78)
        .stderr_has("chime: error: a profile already exists")
        .stderr_has("hint: pass --force");
    run(sandbox.chime(&["config", "init", "--force"])).code(0);
}

#[cfg(unix)]
#[test]
fn config_init_writes_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["config", "init"])).code(0);
    let mode = std::fs::metadata(sandbox.profile_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[cfg(unix)]
#[test]
fn config_init_force_over_a_readable_profile_leaves_a_private_one() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    sandbox.profile("# old\n");
    let path = sandbox.profile_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(sandbox.chime(&["config", "init", "--force"])).code(0);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("[destinations")
    );
}

#[test]
fn config_check_reports_every_mistake_at_once_with_positions() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"[destinations.ops-hook]
kind = "slack"
url = "https://hooks.slack.com/services/T1/B2/abc"

[routes.ops]
to = ["ops-hok"]

[[rules]]
when = "level is shouting"
route = "ops"

[templates.alert]
text = "{{ text | shout }}"
"#,
    );
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("has 3 problems")
        .stderr_has("config.toml:6:7")
        .stderr_has("unknown destination `ops-hok`")
        .stderr_has("did you mean `ops-hook`?")
        .stderr_has("config.toml:9:8")
        .stderr_has("rule `level is shouting` fails to evaluate")
        .stderr_has("config.toml:13:8")
        .stderr_has("template `alert`: the text fails to render")
        .stderr_has("hint: fix these, then run `chime config check` again")
        .never_shows("abc\"");
}

#[test]
fn config_check_reports_mistakes_of_shape_and_of_meaning_together() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"[defaults]
timout = "5s"

[destinations.h]
kind = "slack"
url = "${NOPE}"

[routes.ops]
to = "h"

[rules]
when = "level is shouting"
route = "ops"

[spool]
max_attempts = "three"
"#,
    );
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("has 5 problems")
        .stderr_has("config.toml:2:1")
        .stderr_has("did you mean `timeout`?")
        .stderr_has("config.toml:6:7")
        .stderr_has("`NOPE` is not set")
        .stderr_has("config.toml:9:6")
        .stderr_has("write a list, even of one")
        .stderr_has("config.toml:11:1")
        .stderr_has("write [[rules]]")
        .stderr_has("config.toml:16:16")
        .stderr_has("expected u32");
}

#[test]
fn config_check_survives_repairs_that_would_move_positions_and_never_shows_a_secret() {
    let sandbox = Sandbox::new();
    // Values shorter than an empty one of the right type, a multi-byte
    // character, and no newline at the end.
    sandbox.profile(
        "[destinations.ops]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/SECRETXYZ\"\n\
         [defaults]\ntimeout = 5\nthread_ttl = 6\n[routes.r]\nto = \"é\"",
    );
    let out = run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("has 3 problems")
        .stderr_has("config.toml:5:11")
        .stderr_has("config.toml:6:14")
        .stderr_has("config.toml:8:6")
        .never_shows("SECRETXYZ");
    assert!(!out.stderr.contains("internal error"), "{out}");
}

#[test]
fn config_check_on_a_missing_profile_says_how_to_make_one() {
    run(Sandbox::new().chime(&["config", "check"]))
        .code(78)
        .stderr_has("no profile at")
        .stderr_has("chime config init");
}

#[test]
fn config_show_prints_the_resolved_profile_and_never_a_secret() {
    let sandbox = Sandbox::new();
    let token_file = sandbox.path().join("bot-token");
    std::fs::write(&token_file, TOKEN).unwrap();
    sandbox.profile(&format!(
        r##"[defaults]
route = "ops"

[destinations.ops-hook]
kind = "slack"
url = "${{HOOK}}"
channel = "#ops"

[destinations.bot]
kind = "slack-api"
token = {{ file = "{}" }}
channel = "#deploys"

[routes.ops]
to = ["ops-hook", "bot"]
"##,
        token_file.display()
    ));
    let mut cmd = sandbox.chime(&["config", "show"]);
    cmd.env(
        "HOOK",
        format!("https://hooks.slack.com/services/{HOOK_SECRET}"),
    );
    let out = run(cmd)
        .code(0)
        .stdout_has("[destinations.ops-hook]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T…/B…/****\"\nchannel = \"#ops\"")
        .stdout_has("token = \"xoxb-****\"")
        .stdout_has("[routes.ops]\nto = [\"ops-hook\", \"bot\"]")
        .stdout_has("timeout = \"10s\"")
        .never_shows(HOOK_SECRET)
        .never_shows("very-secret");
    assert!(!out.stdout.contains("0000"), "{}", out.stdout);
}

#[test]
fn chime_test_shows_a_row_per_destination_and_a_hint_for_failures() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"[destinations.good]
kind = "slack"
url = "{good}"

[destinations.gone]
kind = "slack"
url = "{gone}"
"#,
        good = bed.webhook("good"),
        gone = bed.webhook("gone"),
    ));
    bed.remove_hook("gone");
    let out = run(sandbox.chime(&["test"]))
        .code(65)
        .stdout_has("DESTINATION  KIND   RESULT       LATENCY")
        .stdout_has("gone (slack): 404 no_service")
        .stdout_has("hint: the webhook was removed or disabled: create a new one");
    let row = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}\n{out}"))
            .to_owned()
    };
    assert!(
        row("good ").contains(" ok ") && row("good ").ends_with(" ms"),
        "{out}"
    );
    assert!(row("gone ").contains(" rejected "), "{out}");
    let delivered = bed.delivered();
    assert_eq!(delivered.len(), 1, "one test message reached Slack");
    assert!(delivered[0].text().contains("chime is set up"));

    out.stderr_has("chime: error: 1 of 2 destinations failed the test");

    // -q: a quiet health check, only failures show.
    let quiet = run(sandbox.chime(&["-q", "test", "gone"])).code(65);
    assert!(
        quiet.stdout.starts_with("gone (slack): 404 no_service"),
        "{quiet}"
    );
    let quiet = run(sandbox.chime(&["-q", "test", "good"])).code(0);
    assert_eq!(quiet.stdout, "", "{quiet}");

    // Named destinations only; nothing was spooled for the one that failed.
    run(sandbox.chime(&["test", "good"]))
        .code(0)
        .stdout_has("good ");
    assert_eq!(bed.delivered().len(), 3);
    run(sandbox.chime(&["spool", "list", "--dead", "--json"]))
        .code(0)
        .stdout_has("[]");
}

#[test]
fn chime_test_json_prints_a_line_per_destination_as_send_does() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.good]\nkind = \"slack\"\nurl = \"{good}\"\n\n\
         [destinations.gone]\nkind = \"slack\"\nurl = \"{gone}\"\n",
        good = bed.webhook("good"),
        gone = bed.webhook("gone"),
    ));
    bed.remove_hook("gone");
    let out = run(sandbox.chime(&["test", "--json"])).code(65);
    let lines = out.json_lines();
    let status = |name: &str| {
        lines
            .iter()
            .find(|l| l["destination"] == name)
            .unwrap_or_else(|| panic!("no line for {name}\n{out}"))["status"]
            .clone()
    };
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(status("good"), "delivered");
    assert_eq!(status("gone"), "rejected");
    assert!(!out.stdout.contains("DESTINATION"), "no table: {out}");
}

#[test]
fn chime_test_on_an_unknown_destination_is_a_profile_error() {
    let sandbox = Sandbox::new();
    sandbox.profile("[destinations.ops-hook]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/x\"\n");
    run(sandbox.chime(&["test", "ops-hoko"]))
        .code(78)
        .stderr_has("unknown destination `ops-hoko`")
        .stderr_has("did you mean `ops-hook`?");
}

#[test]
fn quiet_silences_all_but_errors() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&["-q", "config", "init"])).code(0);
    let mut cmd = sandbox.chime(&["-q", "config", "check"]);
    cmd.env(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T1/B2/x",
    );
    let out = run(cmd).code(0);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", ""),
        "{out}"
    );
    run(sandbox.chime(&["-q", "config", "check"]))
        .code(78)
        .stderr_has("chime: error:");
}

#[test]
fn errors_are_not_coloured_when_no_color_is_set_or_stderr_is_a_file() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.chime(&["config", "check"]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd).code(78).stderr_has("chime: error: ");
    assert!(!out.stderr.contains('\x1b'), "{out}");
}

#[test]
fn every_subcommand_help_names_its_environment_variables() {
    let sandbox = Sandbox::new();
    for (args, vars) in [
        (
            &["send", "--help"][..],
            &[
                "CHIME_ROUTE",
                "CHIME_TIMEOUT",
                "CHIME_CONFIG",
                "CHIME_STATE_DIR",
            ][..],
        ),
        (&["flush", "--help"], &["CHIME_TIMEOUT", "CHIME_STATE_DIR"]),
        (&["spool", "--help"], &["CHIME_STATE_DIR"]),
        (&["config", "--help"], &["CHIME_CONFIG", "CHIME_PROFILE"]),
        (&["test", "--help"], &["CHIME_TIMEOUT", "CHIME_CONFIG"]),
    ] {
        let mut out = run(sandbox.chime(args)).code(0).stdout_has("Examples:");
        for var in vars {
            out = out.stdout_has(var);
        }
    }
}

/// Runs chime with its stdout closed before it writes.
fn with_closed_stdout(sandbox: &Sandbox, args: &[&str]) -> crate::support::Run {
    let mut cmd = sandbox.chime(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    crate::support::Run::from_output(format!("chime {}", args.join(" ")), output)
}

#[test]
fn a_closed_stdout_exits_quietly() {
    let sandbox = Sandbox::new();
    sandbox.profile("[destinations.ops-hook]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T1/B2/x\"\n");
    for args in [
        &["completions", "bash"][..],
        &["manpage"],
        &["config", "show"],
        &["spool", "list", "--json"],
        &["config", "path"],
    ] {
        let out = with_closed_stdout(&sandbox, args).code(0);
        assert!(!out.stderr.contains("internal error"), "{out}");
    }
}

#[test]
fn install_sh_installs_binary_man_page_and_completions_and_uninstall_leaves_nothing() {
    let prefix = tempfile::tempdir().unwrap();
    let bin: PathBuf = assert_cmd::cargo::cargo_bin("chime");
    let install = |args: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(repo().join("install.sh"))
            .args(args)
            .env("PREFIX", prefix.path())
            .env("CHIME_BIN", &bin);
        run(cmd)
    };
    let first = install(&[]).code(0).stdout_has("chime config init");
    for file in [
        "bin/chime",
        "share/man/man1/chime.1",
        "share/bash-completion/completions/chime",
        "share/zsh/site-functions/_chime",
        "share/fish/vendor_completions.d/chime.fish",
    ] {
        assert!(
            prefix.path().join(file).is_file(),
            "{file} not installed\n{first}"
        );
        assert!(
            first.stdout.contains(file),
            "install.sh did not say it installed {file}\n{first}"
        );
    }
    install(&[]).code(0); // idempotent
    install(&["--uninstall"]).code(0).stdout_has("removed");
    let left: Vec<_> = walk(prefix.path());
    assert!(left.is_empty(), "left behind: {left:?}");
    install(&["--uninstall"]).code(0); // nothing to remove is fine too
}

#[test]
fn install_sh_uninstall_keeps_directories_it_did_not_create() {
    let prefix = tempfile::tempdir().unwrap();
    let theirs = prefix.path().join("share/man/man1");
    std::fs::create_dir_all(&theirs).unwrap();
    let bin: PathBuf = assert_cmd::cargo::cargo_bin("chime");
    let install = |args: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(repo().join("install.sh"))
            .args(args)
            .env("PREFIX", prefix.path())
            .env("CHIME_BIN", &bin);
        run(cmd).code(0)
    };
    install(&[]);
    install(&[]);
    let out = install(&["--uninstall"]);
    assert!(theirs.is_dir(), "removed a directory it found\n{out}");
    let left: Vec<_> = walk(prefix.path());
    assert_eq!(
        left,
        ["share/man/man1", "share/man", "share"].map(|d| prefix.path().join(d)),
        "{out}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn usage_errors_start_with_chime_error_and_exit_2() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.chime(&["send", "--no-such-flag"])).code(2);
    assert!(out.stderr.starts_with("chime: error:"), "{out}");
}

#[test]
fn levels_are_accepted_in_any_case() {
    let sandbox = Sandbox::new();
    for level in ["ERROR", "Warning", "info"] {
        let out = run(sandbox.chime(&["send", "-l", level, "hi"]));
        assert!(!out.stderr.contains("invalid value"), "{out}");
    }
}

#[test]
fn help_says_what_chime_is() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.chime(&["--help"])).code(0);
    assert!(!out.stdout.contains("to Slack from"), "{out}");
    out.stdout_has("Discord");
}

#[test]
fn config_path_prints_only_the_path_and_explains_it_under_verbose() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.chime(&["config", "path"])).code(0);
    assert_eq!(
        (out.stdout.trim_end(), out.stderr.as_str()),
        (sandbox.profile_path().display().to_string().as_str(), ""),
        "{out}"
    );
    run(sandbox.chime(&["-v", "config", "path"]))
        .code(0)
        .stderr_has("looked for: --config PATH");
}

#[test]
fn long_version_names_the_target_it_was_built_for() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.chime(&["--version"])).code(0);
    let target = format!("{}-", std::env::consts::ARCH);
    assert!(out.stdout.contains(&target), "{out}");
    assert!(out.stdout.contains(std::env::consts::OS), "{out}");
}
