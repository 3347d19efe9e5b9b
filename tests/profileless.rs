//! Sending without a profile (issue 12): `--to URL`, `CHIME_URL` and
//! `CHIME_KIND`; the URL stays a secret, and a message queued from
//! `CHIME_URL` is flushed by reading the variable again.

use crate::support::bed::Bed;
use crate::support::{Sandbox, run, run_with_stdin};

/// The secret part of a bed webhook's URL, which must never be shown or stored.
fn secret_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// Every file under the sandbox's state directory, as text.
fn state_text(sandbox: &Sandbox) -> String {
    let mut text = String::new();
    let mut dirs = vec![sandbox.path().join("state")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                text.push_str(&path.display().to_string());
            }
        }
    }
    text
}

#[test]
fn send_to_a_url_with_kind_needs_no_profile() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("adhoc");
    let cmd = sandbox.chime(&["send", "--to", &url, "--kind", "slack", "-v", "deployed"]);
    run(cmd).code(0).never_shows(&secret_of(&url));
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert!(got[0].text().contains("deployed"), "{}", got[0].text());
}

#[test]
fn send_from_chime_url_needs_no_profile_and_never_shows_it() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("fromenv");
    for args in [
        &["send", "-v", "from ci"][..],
        &["send", "--json", "from ci"],
        &["send", "--dry-run", "from ci"],
    ] {
        let mut cmd = sandbox.chime(args);
        cmd.env("CHIME_URL", &url).env("CHIME_KIND", "slack");
        run(cmd).code(0).never_shows(&secret_of(&url));
    }
    assert_eq!(bed.delivered().len(), 2);
    assert!(!sandbox.profile_path().exists());
}

#[test]
fn send_to_a_url_of_unknown_host_without_kind_is_a_usage_error_listing_kinds() {
    let sandbox = Sandbox::new();
    let url = "http://127.0.0.1:9/services/T/B/topsecretpart";
    run(sandbox.chime(&["send", "--to", url, "hello"]))
        .code(2)
        .stderr_has("--kind")
        .stderr_has("mattermost")
        .never_shows("topsecretpart");
}

#[test]
fn send_to_a_telegram_url_without_a_chat_says_what_is_missing() {
    let sandbox = Sandbox::new();
    let url = "https://api.telegram.org/bot123:secrettoken/sendMessage";
    run(sandbox.chime(&["send", "--to", url, "hello"]))
        .code(2)
        .stderr_has("chat id")
        .never_shows("secrettoken");
}

#[test]
fn send_to_a_typed_url_that_is_down_is_not_kept_and_exits_74() {
    let bed = Bed::down();
    let sandbox = Sandbox::new();
    let url = bed.webhook("typed");
    let cmd = sandbox.chime(&[
        "send",
        "--to",
        &url,
        "--kind",
        "slack",
        "--timeout",
        "2s",
        "hi",
    ]);
    run(cmd).code(74).never_shows(&secret_of(&url));
    assert!(!state_text(&sandbox).contains(&secret_of(&url)));
}

#[test]
fn queued_from_chime_url_is_flushed_with_the_variable_set() {
    let mut bed = Bed::down();
    let sandbox = Sandbox::new();
    let url = bed.webhook("queued");
    let with_url = |args: &[&str]| {
        let mut cmd = sandbox.chime(args);
        cmd.env("CHIME_URL", &url).env("CHIME_KIND", "slack");
        cmd
    };
    run(with_url(&["send", "--timeout", "2s", "kept for later"]))
        .code(75)
        .never_shows(&secret_of(&url));
    assert!(!state_text(&sandbox).contains(&secret_of(&url)));
    run(with_url(&["spool", "list", "--json"]))
        .code(0)
        .never_shows(&secret_of(&url));
    bed.come_up();
    run(with_url(&["flush", "--all"]))
        .code(0)
        .never_shows(&secret_of(&url));
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert!(got[0].text().contains("kept for later"));
}

#[test]
fn queued_from_chime_url_waits_with_a_reason_when_the_variable_is_gone() {
    let mut bed = Bed::down();
    let sandbox = Sandbox::new();
    let url = bed.webhook("gone");
    let mut cmd = sandbox.chime(&["send", "--timeout", "2s", "kept"]);
    cmd.env("CHIME_URL", &url).env("CHIME_KIND", "slack");
    run(cmd).code(75);
    bed.come_up();
    let flushed = run(sandbox.chime(&["flush", "--all"]));
    assert_ne!(flushed.code, 0, "{flushed}");
    flushed.stderr_has("CHIME_URL");
    assert!(bed.delivered().is_empty());
}

#[test]
fn queued_from_chime_url_is_dead_lettered_when_it_names_another_webhook() {
    let mut bed = Bed::down();
    let sandbox = Sandbox::new();
    let (first, second) = (bed.webhook("first"), bed.webhook("second"));
    let mut cmd = sandbox.chime(&["send", "--timeout", "2s", "kept"]);
    cmd.env("CHIME_URL", &first).env("CHIME_KIND", "slack");
    run(cmd).code(75);
    bed.come_up();
    let mut cmd = sandbox.chime(&["flush", "--all"]);
    cmd.env("CHIME_URL", &second).env("CHIME_KIND", "slack");
    run(cmd).code(65).never_shows(&secret_of(&second));
    assert!(bed.delivered().is_empty());
}

#[test]
fn test_to_a_url_posts_a_test_message() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("probe");
    run(sandbox.chime(&["test", "--to", &url, "--kind", "slack"]))
        .code(0)
        .never_shows(&secret_of(&url));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn pipe_to_a_url_sends_its_lines() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("piped");
    let cmd = sandbox.chime(&["pipe", "--to", &url, "--kind", "slack", "--interval", "1s"]);
    run_with_stdin(cmd, b"line one\nline two\n")
        .code(0)
        .never_shows(&secret_of(&url));
    let text: String = bed.delivered().iter().map(|r| r.text()).collect();
    assert!(text.contains("line two"), "{text}");
}

#[test]
fn run_to_a_url_reports_the_command() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("ran");
    let cmd = sandbox.chime(&["run", "--to", &url, "--kind", "slack", "--", "false"]);
    run(cmd).never_shows(&secret_of(&url));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn chime_url_applies_only_when_neither_to_nor_route_is_given() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let (profiles, adhoc) = (bed.webhook("profiles"), bed.webhook("adhoc"));
    for (args, expected) in [
        (&["send", "--to", "ops-hook", "named"][..], &profiles),
        (&["send", "-r", "ops", "routed"], &profiles),
        (&["send", "plain"], &adhoc),
    ] {
        let mut cmd = sandbox.ops(&profiles, args);
        cmd.env("CHIME_URL", &adhoc).env("CHIME_KIND", "slack");
        run(cmd).code(0);
        let last = bed.delivered().pop().unwrap();
        assert!(
            expected.ends_with(&last.path),
            "{args:?} went to {}",
            last.path
        );
    }
}

#[test]
fn kind_without_a_url_is_a_usage_error() {
    let sandbox = Sandbox::with_ops_hook("5s");
    let cmd = sandbox.ops(
        "http://127.0.0.1:9/x",
        &["send", "--to", "ops-hook", "--kind", "slack", "x"],
    );
    run(cmd).code(2).stderr_has("--kind");
}

#[test]
fn send_to_a_telegram_bot_url_takes_its_token_and_chat() {
    use crate::support::telegram::{PREFIX, Telegram};
    const TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
    let bed = Bed::start();
    let telegram = Telegram::new();
    bed.mount(PREFIX, telegram.clone());
    telegram.add_token(TOKEN);
    telegram.add_chat(-1_001_234_567_890, None);
    let sandbox = Sandbox::new();
    let url = format!(
        "{}/telegram/bot{TOKEN}/sendMessage?chat_id=-1001234567890",
        bed.url()
    );
    let cmd = sandbox.chime(&["send", "--to", &url, "--kind", "telegram", "-v", "hello tg"]);
    run(cmd).code(0).never_shows("AAFakeTelegramToken");
    assert_eq!(telegram.posted().len(), 1);
}

#[test]
fn a_kind_whose_secrets_do_not_belong_in_a_url_is_a_usage_error_that_says_what_to_write() {
    let sandbox = Sandbox::new();
    let url = "https://api.pushover.net/1/messages.json?token=abc";
    run(sandbox.chime(&["send", "--to", url, "--kind", "pushover", "x"]))
        .code(2)
        .stderr_has("needs an application token and a user key")
        .stderr_has("write a profile with `token` and `user`");
}
