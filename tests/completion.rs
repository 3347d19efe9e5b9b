//! `chime config names ids`, which completes spool entry ids: the ids
//! `chime spool list` shows, and nothing, without a word, when there are none.

use std::path::Path;

use crate::support::bed::{Bed, Fault};
use crate::support::{Sandbox, run};

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
