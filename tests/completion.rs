//! The completion scripts, run: bash's as bash runs it at a <TAB> (the
//! script sourced, `COMP_WORDS` set, its function called, `COMPREPLY` read),
//! calling the chime under test for the names; fish's through its own
//! `complete -C`; zsh's name function under a real zsh, with a stand-in for
//! the `compadd` that only zsh's completion widget has. zsh and fish are
//! installed when missing (`support::tools`).

use std::path::Path;

use crate::support::bed::{Bed, Fault};
use crate::support::{Sandbox, run, tools};

/// A destination that refuses connections: `send --queue` never tries it.
const DOWN: &str = "http://127.0.0.1:9/hook";

fn profile_with(route: &str) -> String {
    format!(
        "[destinations.{route}-hook]\nkind = \"slack\"\nurl = \"{DOWN}\"\n\
         [routes.{route}]\nto = [\"{route}-hook\"]\n"
    )
}

/// Writes a profile, private as `chime config init` makes it.
fn write_profile(path: &Path, toml: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, toml).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A sandbox whose default profile has the route `mine` and whose profile
/// `other` has the route `theirs`.
fn two_profiles() -> Sandbox {
    let sandbox = Sandbox::new();
    write_profile(&sandbox.profile_path(), &profile_with("mine"));
    let other = sandbox.path().join("config/chime/other.toml");
    write_profile(&other, &profile_with("theirs"));
    sandbox
}

/// What bash offers for `words`, the last being the word at the cursor, as
/// bash splits them (so `--profile=NAME` is `--profile`, `=`, `NAME`).
fn bash_completes(sandbox: &Sandbox, words: &[&str]) -> Vec<String> {
    let script = sandbox.path().join("chime.bash");
    let text = run(sandbox.chime(&["completions", "bash"])).code(0).stdout;
    std::fs::write(&script, text).unwrap();
    let complete = r#"source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _chime_with_names chime "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}""#;
    let script = script.to_str().unwrap();
    let mut args = vec!["--norc", "--noprofile", "-c", complete, "bash", script];
    args.extend(words);
    let out = run(sandbox.with_chime_on_path("bash", &args)).code(0);
    let lines = out.stdout.lines().filter(|line| !line.is_empty());
    lines.map(str::to_owned).collect()
}

#[test]
fn bash_completes_the_routes_of_the_profile_named_before_or_after_the_subcommand() {
    let sandbox = two_profiles();
    let lines: [&[&str]; 4] = [
        &["chime", "--profile", "other", "send", "-r", ""],
        &["chime", "send", "--profile", "other", "--route", ""],
        &["chime", "send", "--profile", "=", "other", "-r", ""],
        &["chime", "--profile=other", "send", "-r", ""],
    ];
    for words in lines {
        assert_eq!(bash_completes(&sandbox, words), ["theirs"], "{words:?}");
    }
    let plain = ["chime", "send", "-r", ""];
    assert_eq!(bash_completes(&sandbox, &plain), ["mine"]);
}

#[test]
fn bash_does_not_take_a_profile_named_like_a_subcommand_for_one() {
    let sandbox = two_profiles();
    let test = sandbox.path().join("config/chime/test.toml");
    write_profile(&test, &profile_with("tested"));
    let words = ["chime", "--profile", "test", "send", "-r", ""];
    assert_eq!(bash_completes(&sandbox, &words), ["tested"]);
}

#[test]
fn bash_completes_the_routes_of_the_config_file_on_the_line() {
    let sandbox = two_profiles();
    write_profile(&sandbox.path().join("x.toml"), &profile_with("filed"));
    let lines: [&[&str]; 3] = [
        &["chime", "send", "--config", "./x.toml", "--route", ""],
        &["chime", "--config", "=", "./x.toml", "send", "-r", ""],
        // Bash leaves the `~` unexpanded in the words it hands over.
        &["chime", "--config", "~/x.toml", "send", "-r", ""],
    ];
    for words in lines {
        assert_eq!(bash_completes(&sandbox, words), ["filed"], "{words:?}");
    }
}

#[test]
fn bash_completes_spool_drop_and_retry_with_the_ids_of_queued_entries() {
    let sandbox = two_profiles();
    let send = [
        "--profile",
        "other",
        "send",
        "--queue",
        "-r",
        "theirs",
        "hi",
    ];
    run(sandbox.chime(&send)).code(0);
    let listed = run(sandbox.chime(&["--profile", "other", "spool", "list", "--json"])).code(0);
    let entries: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let id = entries[0]["id"].as_str().unwrap().to_owned();

    let drop = ["chime", "--profile", "other", "spool", "drop", ""];
    assert_eq!(bash_completes(&sandbox, &drop), [id.as_str()]);
    let after = ["chime", "spool", "retry", "--profile", "other", &id[..4]];
    assert_eq!(bash_completes(&sandbox, &after), [id.as_str()]);
    // The default profile has queued nothing.
    let named = ["chime", "--profile", "config", "spool", "drop", ""];
    assert!(bash_completes(&sandbox, &named).is_empty());
    // A profile flag's own value is not an entry id.
    let value = ["chime", "spool", "drop", "--profile", ""];
    assert!(!bash_completes(&sandbox, &value).contains(&id));
}

#[test]
fn config_names_ids_prints_nothing_and_exits_0_without_a_spool_or_a_profile() {
    let sandbox = Sandbox::new();
    for args in [
        &["config", "names", "ids"][..],
        &["--profile", "nowhere", "config", "names", "ids"],
        &["--config", "./missing.toml", "config", "names", "ids"],
    ] {
        let out = run(sandbox.chime(args)).code(0);
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("", ""),
            "{args:?}"
        );
    }
    // A <TAB> leaves no state directory behind.
    assert!(!sandbox.path().join("state").exists());
}

#[test]
fn config_names_ids_lists_the_named_profiles_entries_or_every_profiles() {
    let sandbox = two_profiles();
    let queue = |profile: &str, route: &str| {
        let send = ["--profile", profile, "send", "--queue", "-r", route, "hi"];
        run(sandbox.chime(&send)).code(0);
        let ids = run(sandbox.chime(&["--profile", profile, "config", "names", "ids"]));
        ids.code(0).stdout
    };
    let theirs = queue("other", "theirs");
    let mine = queue("config", "mine");
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
    assert_eq!(mine.lines().count(), 1, "{mine}");
    assert_ne!(theirs, mine);
    // No profile named: every profile's, as `chime spool list` shows them.
    let all = run(sandbox.chime(&["config", "names", "ids"]))
        .code(0)
        .stdout;
    assert_eq!(all.lines().count(), 2, "{all}");
}

#[test]
fn config_names_ids_lists_the_ids_spool_list_shows_pending_and_dead() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("3s");
    let url = bed.webhook("ops");
    bed.fault(Fault::Status(404, "no_service"));
    run(sandbox.ops(&url, &["send", "refused"])).code(65);
    run(sandbox.ops(&url, &["send", "--queue", "later"])).code(0);
    let shown = |args: &[&str]| {
        let out = run(sandbox.chime(args)).code(0).stdout;
        let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
        let entries = entries.as_array().unwrap().clone();
        entries
            .into_iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
    };
    let mut ids: Vec<String> = shown(&["spool", "list", "--json"]).collect();
    ids.extend(shown(&["spool", "list", "--dead", "--json"]));
    ids.sort();
    assert_eq!(ids.len(), 2);
    let names = run(sandbox.chime(&["config", "names", "ids"])).code(0);
    assert_eq!(names.stdout, format!("{}\n", ids.join("\n")));
}

/// What fish offers for `line` (the cursor at its end), through the real
/// script and fish's own `complete -C`.
fn fish_completes(sandbox: &Sandbox, line: &str) -> Vec<String> {
    let fish = tools::require("fish", "fish");
    let script = sandbox.path().join("chime.fish");
    let text = run(sandbox.chime(&["completions", "fish"])).code(0).stdout;
    std::fs::write(&script, text).unwrap();
    let complete = format!("source {}; complete -C '{line}'", script.display());
    let out =
        run(sandbox.with_chime_on_path(fish.to_str().unwrap(), &["--no-config", "-c", &complete]))
            .code(0);
    // Each candidate, without the description fish puts after a tab.
    let names = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""));
    names.filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// What zsh's `_chime_names KIND` offers with `line` left of the cursor:
/// the real script and function under a real zsh, with `compadd` (which
/// only works inside zsh's completion widget) standing in to print what it
/// is given.
fn zsh_names(sandbox: &Sandbox, line: &str, kind: &str) -> Vec<String> {
    let zsh = tools::require("zsh", "zsh");
    let script = sandbox.path().join("_chime");
    let text = run(sandbox.chime(&["completions", "zsh"])).code(0).stdout;
    std::fs::write(&script, text).unwrap();
    let body = format!(
        "autoload -Uz compinit && compinit -u -D; source {}; \
         compadd() {{ [[ $1 == -a ]] && print -rl -- ${{(P)2}} }}; \
         LBUFFER='{line}'; _chime_names {kind}",
        script.display()
    );
    let out = run(sandbox.with_chime_on_path(zsh.to_str().unwrap(), &["-f", "-c", &body])).code(0);
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn fish_completes_the_routes_of_the_profile_or_config_on_the_line_and_spool_ids() {
    let sandbox = two_profiles();
    assert_eq!(fish_completes(&sandbox, "chime send -r "), ["mine"]);
    assert_eq!(
        fish_completes(&sandbox, "chime --profile other send -r "),
        ["theirs"]
    );
    assert_eq!(
        fish_completes(&sandbox, "chime send --profile=other -r "),
        ["theirs"]
    );
    let config = sandbox.path().join("config/chime/other.toml");
    let line = format!("chime --config {} send -r ", config.display());
    assert_eq!(fish_completes(&sandbox, &line), ["theirs"]);
    run(sandbox.chime(&[
        "--profile",
        "other",
        "send",
        "--queue",
        "hi",
        "-r",
        "theirs",
    ]))
    .code(0);
    let ids = run(sandbox.chime(&["--profile", "other", "config", "names", "ids"])).code(0);
    let drop = fish_completes(&sandbox, "chime --profile other spool drop ");
    assert_eq!(drop, ids.stdout.lines().collect::<Vec<_>>());
    assert_eq!(drop.len(), 1);
}

#[test]
fn zsh_names_come_from_the_profile_or_config_on_the_line() {
    let sandbox = two_profiles();
    assert_eq!(zsh_names(&sandbox, "chime send -r ", "routes"), ["mine"]);
    assert_eq!(
        zsh_names(&sandbox, "chime --profile other send -r ", "routes"),
        ["theirs"]
    );
    assert_eq!(
        zsh_names(&sandbox, "chime send --profile=other -r ", "routes"),
        ["theirs"]
    );
    let config = sandbox.path().join("config/chime/other.toml");
    let line = format!("cd /tmp && chime --config {} send -r ", config.display());
    assert_eq!(zsh_names(&sandbox, &line, "routes"), ["theirs"]);
}
