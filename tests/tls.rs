//! Servers only a private CA vouches for: `ca_file` on a destination, `SSL_CERT_FILE`
//! for the whole run, and what chime says, and keeps, when neither is given.

use crate::support::bed::Bed;
use crate::support::hook::Hook;
use crate::support::tls::TestCa;
use crate::support::{Sandbox, run};

/// A sandbox whose destination `private` posts to the bed behind a TLS front that
/// `ca` signs, with `extra` added to its table.
fn setup(bed: &Bed, ca: &TestCa, extra: &str) -> Sandbox {
    Hook::mount(bed);
    let front = ca.front(&bed.url());
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "private"
timeout = "5s"

[destinations.private]
kind = "webhook"
url = "{front}/hook/plain"
{extra}

[routes.private]
to = ["private"]
"#
    ));
    sandbox
}

#[test]
fn a_private_ca_given_as_ca_file_delivers() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let extra = format!("ca_file = \"{}\"", ca.pem_path.display());
    let sandbox = setup(&bed, &ca, &extra);
    run(sandbox.chime(&["send", "over TLS"])).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["text"], "over TLS");
}

#[test]
fn a_private_ca_in_ssl_cert_file_delivers() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let sandbox = setup(&bed, &ca, "");
    let mut cmd = sandbox.chime(&["send", "trusted by the environment"]);
    cmd.env("SSL_CERT_FILE", &ca.pem_path);
    run(cmd).code(0);
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn an_untrusted_certificate_names_the_fix_and_the_message_is_queued() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let sandbox = setup(&bed, &ca, "");
    run(sandbox.chime(&["send", "kept for later"]))
        .code(75)
        .stderr_has("ca_file")
        .stderr_has("SSL_CERT_FILE")
        .stderr_has("`private`");
    assert!(bed.delivered().is_empty());
    // A flush (the cron line, without -v) says what fixes it too: every
    // retry fails the same way until then.
    run(sandbox.chime(&["flush", "--all"]))
        .stderr_has("private: ")
        .stderr_has("its messages wait")
        .stderr_has("hint: the server's certificate is not signed by a CA chime trusts");
    assert!(bed.delivered().is_empty());
    // Once the CA is known, the queued message goes.
    let mut flush = sandbox.chime(&["flush", "--all"]);
    flush.env("SSL_CERT_FILE", &ca.pem_path);
    run(flush).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["text"], "kept for later");
}

#[test]
fn a_missing_ca_file_is_a_profile_error_naming_destination_and_path() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let sandbox = setup(&bed, &ca, "ca_file = \"no-such-ca.pem\"");
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("destination `private`")
        .stderr_has("no-such-ca.pem");
    run(sandbox.chime(&["send", "x"])).code(78);
    assert!(bed.requests().is_empty());
}

#[test]
fn a_ca_file_without_certificates_is_a_profile_error() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca.pem");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let sandbox = setup(&bed, &ca, &format!("ca_file = \"{}\"", junk.display()));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("holds no certificate");
}
