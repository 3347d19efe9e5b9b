//! Proxies: HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment, a destination's
//! own `proxy` over them, and what `-v` says of it, credentials never shown.

use crate::support::bed::Bed;
use crate::support::hook::Hook;
use crate::support::proxy::Proxy;
use crate::support::tls::TestCa;
use crate::support::{Sandbox, run};

const PROXY_PASSWORD: &str = "pr0xy-notreal-password";

/// A sandbox with destination `hook` at `url`, `extra` added to its table.
fn setup(url: &str, extra: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"r\"\ntimeout = \"5s\"\n\n[destinations.hook]\nkind = \"webhook\"\n\
         url = \"{url}/hook/plain\"\n{extra}\n\n[routes.r]\nto = [\"hook\"]\n"
    ));
    sandbox
}

#[test]
fn https_proxy_from_the_environment_carries_an_https_send() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let front = ca.front(&bed.url());
    let proxy = Proxy::start();
    let sandbox = setup(&front, &format!("ca_file = \"{}\"", ca.pem_path.display()));
    let mut cmd = sandbox.chime(&["send", "through the proxy"]);
    cmd.env("HTTPS_PROXY", &proxy.url);
    run(cmd).code(0);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].line.starts_with("CONNECT 127.0.0.1:"), "{seen:?}");
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn no_proxy_bypasses_the_environments_proxy_and_v_names_the_one_used() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let proxy = Proxy::start();
    let sandbox = setup(&bed.url(), "");
    let mut proxied = sandbox.chime(&["-v", "send", "proxied"]);
    let with_login = proxy
        .url
        .replace("http://", &format!("http://chime:{PROXY_PASSWORD}@"));
    proxied.env("http_proxy", &with_login);
    run(proxied)
        .code(0)
        .stderr_has("via proxy http://****@127.0.0.1:")
        .stderr_has("(from http_proxy)")
        .never_shows(PROXY_PASSWORD);
    assert_eq!(proxy.seen().len(), 1, "lower-case http_proxy is honoured");
    let mut cmd = sandbox.chime(&["-v", "send", "direct"]);
    cmd.env("HTTP_PROXY", &proxy.url)
        .env("NO_PROXY", "example.com, 127.0.0.1");
    let direct = run(cmd).code(0);
    assert!(!direct.stderr.contains("via proxy"), "{}", direct.stderr);
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());
    assert_eq!(bed.delivered().len(), 2);
}

#[test]
fn a_proxy_that_is_not_a_url_is_a_profile_error() {
    let sandbox = setup("http://127.0.0.1:9", "proxy = \"proxy.corp 3128\"");
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("destination `hook`: `proxy` must be a URL");
}

#[test]
fn proxy_credentials_are_masked_in_a_profile_error() {
    let written = format!("proxy = \"chime:{PROXY_PASSWORD}@proxy.corp 3128\"");
    let sandbox = setup("http://127.0.0.1:9", &written);
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("`proxy` must be a URL")
        .never_shows(PROXY_PASSWORD);
}

#[test]
fn a_destinations_proxy_overrides_the_environment_and_keeps_its_credentials_secret() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let ours = Proxy::start();
    let theirs = Proxy::start();
    let with_login = ours
        .url
        .replace("http://", &format!("http://chime:{PROXY_PASSWORD}@"));
    let sandbox = setup(&bed.url(), &format!("proxy = \"{with_login}\""));
    let mut cmd = sandbox.chime(&["-v", "send", "via ours"]);
    cmd.env("HTTP_PROXY", &theirs.url)
        .env("NO_PROXY", "127.0.0.1");
    run(cmd)
        .code(0)
        .stderr_has("via proxy http://")
        .never_shows(PROXY_PASSWORD);
    assert!(theirs.seen().is_empty(), "{:?}", theirs.seen());
    let seen = ours.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].line.starts_with("POST http://127.0.0.1:"),
        "{seen:?}"
    );
    assert!(
        seen[0]
            .authorization
            .as_deref()
            .unwrap_or("")
            .starts_with("Basic ")
    );
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn proxy_none_sends_direct_whatever_the_environment_says() {
    let bed = Bed::start();
    Hook::mount(&bed);
    let proxy = Proxy::start();
    let sandbox = setup(&bed.url(), "proxy = \"none\"");
    let mut cmd = sandbox.chime(&["send", "direct"]);
    cmd.env("HTTP_PROXY", &proxy.url);
    run(cmd).code(0);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn a_ci_step_sends_without_a_profile_through_a_proxy_to_a_server_of_a_private_ca() {
    // The whole set-up of a CI step: a few variables, no file.
    let bed = Bed::start();
    Hook::mount(&bed);
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let front = ca.front(&bed.url());
    let proxy = Proxy::start();
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.chime(&["send", "deployed from CI"]);
    cmd.env("CHIME_URL", format!("{front}/hook/plain"))
        .env("CHIME_KIND", "webhook")
        .env("SSL_CERT_FILE", &ca.pem_path)
        .env("HTTPS_PROXY", &proxy.url)
        .env("GITHUB_ACTIONS", "true");
    run(cmd).code(0).never_shows("/hook/plain");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].line.starts_with("CONNECT 127.0.0.1:"), "{seen:?}");
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["text"], "deployed from CI");
}
