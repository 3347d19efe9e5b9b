//! `--thread` and `--update`: keyed messages remembered across processes.

use crate::support::bed::{Bed, Fault};
use crate::support::{Sandbox, run};

const TOKEN: &str = "xoxb-000-thread-test-notreal";

fn setup(bed: &Bed) -> Sandbox {
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#deploys"
api_url = "{api}"

[destinations.hook]
kind = "slack"
url = "{hook}"
"##,
        api = bed.api_url(),
        hook = bed.webhook("ops"),
    ));
    sandbox
}

#[test]
fn three_sends_with_one_key_make_one_post_and_two_replies() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for step in ["build", "test", "deploy"] {
        run(sandbox.chime(&["send", "--to", "bot", "--thread", "ci-42", step])).code(0);
    }
    let posts: Vec<serde_json::Value> = bed.delivered().iter().map(|r| r.json()).collect();
    assert_eq!(posts.len(), 3);
    assert!(
        posts[0].get("thread_ts").is_none(),
        "the first message starts the thread"
    );
    let parent = bed.delivered()[0].response.clone();
    let parent: serde_json::Value = serde_json::from_str(&parent).unwrap();
    for reply in &posts[1..] {
        assert_eq!(reply["thread_ts"], parent["ts"]);
        assert_eq!(reply["channel"], bed.channel_id("#deploys"));
    }
}

#[test]
fn another_key_starts_another_thread() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "a", "one"])).code(0);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "b", "two"])).code(0);
    assert!(
        bed.delivered()
            .iter()
            .all(|r| r.json().get("thread_ts").is_none())
    );
}

#[test]
fn broadcast_shows_the_reply_in_the_channel_too() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", "one"])).code(0);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", "--broadcast", "two"])).code(0);
    assert_eq!(bed.delivered()[1].json()["reply_broadcast"], true);
}

#[test]
fn update_edits_the_message_in_place() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let first = run(sandbox.chime(&[
        "send",
        "--to",
        "bot",
        "--update",
        "deploy-7",
        "--json",
        "deploying…",
    ]))
    .code(0);
    let ts = first.json_lines()[0]["ts"].as_str().unwrap().to_owned();
    let second = run(sandbox.chime(&[
        "send",
        "--to",
        "bot",
        "--update",
        "deploy-7",
        "--json",
        "✅ deployed",
    ]))
    .code(0);
    assert_eq!(second.json_lines()[0]["ts"], ts.as_str(), "same message");
    let requests = bed.delivered();
    assert_eq!(requests[0].path, "/api/chat.postMessage");
    assert_eq!(requests[1].path, "/api/chat.update");
    let edit = requests[1].json();
    assert_eq!(edit["ts"], ts.as_str());
    assert_eq!(edit["text"], "✅ deployed");
}

#[test]
fn a_webhook_cannot_thread_so_it_posts_normally_and_says_so() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    run(sandbox.chime(&["send", "--to", "hook", "--thread", "k", "x"]))
        .code(0)
        .stderr_has("hook (slack) cannot thread messages; posting normally");
    run(sandbox.chime(&["send", "--to", "hook", "--update", "k", "y"]))
        .code(0)
        .stderr_has("cannot edit messages");
    assert_eq!(bed.delivered().len(), 2);
}

#[test]
fn keys_expire_after_the_thread_ttl() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!("[defaults]\nthread_ttl = \"0s\"\n{profile}"));
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", "one"])).code(0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", "two"])).code(0);
    assert!(
        bed.delivered()[1].json().get("thread_ts").is_none(),
        "expired: a new thread"
    );
}

#[test]
fn a_first_message_that_waited_in_the_spool_still_starts_the_thread() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..3 {
        bed.fault(Fault::Status(503, "service_unavailable"));
    }
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "ci-9", "build"])).code(75);
    // Queued behind the first, since order is kept: not tried yet.
    run(sandbox.chime(&["send", "--to", "bot", "--queue", "--thread", "ci-9", "test"])).code(0);
    assert!(bed.delivered().is_empty());
    run(sandbox.chime(&["flush", "--all"])).code(0);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "ci-9", "deploy"])).code(0);
    let got = bed.delivered();
    let texts: Vec<String> = got
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["build", "test", "deploy"]);
    let parent: serde_json::Value = serde_json::from_str(&got[0].response).unwrap();
    assert!(
        got[0].json().get("thread_ts").is_none(),
        "the first starts it"
    );
    for reply in &got[1..] {
        assert_eq!(reply.json()["thread_ts"], parent["ts"], "{}", reply.text());
    }
}

#[test]
fn the_later_parts_of_a_long_first_message_follow_it_into_its_thread() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let long = "word ".repeat(12_000);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", &long])).code(0);
    let got = bed.delivered();
    assert!(got.len() >= 2, "{} parts", got.len());
    let parent: serde_json::Value = serde_json::from_str(&got[0].response).unwrap();
    assert!(got[0].json().get("thread_ts").is_none());
    for part in &got[1..] {
        assert_eq!(part.json()["thread_ts"], parent["ts"]);
    }
}

#[test]
fn update_of_a_deleted_message_posts_it_anew_and_edits_that_one_next() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let send = |text: &str| {
        let args = [
            "send", "--to", "bot", "--update", "deploy-8", "--json", text,
        ];
        run(sandbox.chime(&args)).code(0).json_lines()[0]["ts"].clone()
    };
    let first = send("deploying…");
    bed.delete_messages();
    let second = send("still deploying…");
    let third = send("✅ deployed");
    assert_ne!(first, second, "posted anew");
    assert_eq!(second, third, "then edited in place");
    let paths: Vec<String> = bed.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage",
            "/api/chat.update"
        ]
    );
}

#[test]
fn sends_starting_one_thread_at_once_make_one_thread_not_several() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    // The first post is slow, so the others start while no thread exists yet.
    bed.fault(Fault::Slow(std::time::Duration::from_millis(500)));
    let children: Vec<std::process::Child> = (0..4)
        .map(|i| {
            let text = format!("job {i}");
            let args = ["send", "--to", "bot", "--thread", "ci-77", &text];
            let mut cmd = sandbox.chime(&args);
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
    let posts: Vec<serde_json::Value> = bed.delivered().iter().map(|r| r.json()).collect();
    assert_eq!(posts.len(), 4);
    let top_level = posts
        .iter()
        .filter(|p| p.get("thread_ts").is_none())
        .count();
    assert_eq!(top_level, 1, "one parent, three replies");
}

#[test]
fn a_key_longer_than_a_file_name_still_threads() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let key = "ci-".to_owned() + &"very-long-run-name/".repeat(30);
    for step in ["one", "two"] {
        run(sandbox.chime(&["send", "--to", "bot", "--thread", &key, step]))
            .code(0)
            .never_shows("cannot remember");
    }
    let posts: Vec<serde_json::Value> = bed.delivered().iter().map(|r| r.json()).collect();
    assert!(posts[0].get("thread_ts").is_none());
    assert!(posts[1].get("thread_ts").is_some(), "the second replies");
}

#[test]
fn expired_keys_are_forgotten_when_a_new_one_is_remembered() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!("[defaults]\nthread_ttl = \"1s\"\n{profile}"));
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "old", "x"])).code(0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "new", "y"])).code(0);
    let dir = sandbox
        .path()
        .join("state/chime/profiles/config/threads/bot");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["new.json", "new.lock"], "in {}", dir.display());
}
