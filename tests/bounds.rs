//! Everything chime reads because of a profile is bounded in size and time: the
//! profile itself, the secret files it names, its templates and its rules. A
//! file that never ends, a FIFO nobody writes, a template that loops forever or
//! doubles a string forty times is a profile error (exit 78) naming what went
//! wrong, never a hang, an abort or a panic.

use std::path::Path;
use std::time::Duration;

use crate::support::{Run, Sandbox, run_within};

/// Far above any normal run: reaching it means chime hung.
const HANG: Duration = Duration::from_secs(30);

fn with_url_from(file: &Path) -> String {
    format!(
        "[defaults]\nroute = \"r\"\n[destinations.ops]\nkind = \"slack\"\n\
         url = {{ file = \"{}\" }}\n[routes.r]\nto = [\"ops\"]\n",
        file.display()
    )
}

fn check(sandbox: &Sandbox) -> Run {
    run_within(sandbox.chime(&["config", "check"]), HANG)
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_secret_file_that_never_ends_is_refused_naming_the_key_and_the_path() {
    for device in ["/dev/zero", "/dev/urandom"] {
        let sandbox = Sandbox::new();
        sandbox.profile(&with_url_from(Path::new(device)));
        check(&sandbox)
            .code(78)
            .stderr_has("`url` of destination `ops`")
            .stderr_has(device)
            .stderr_has("not a regular file");
    }
}

#[test]
fn a_secret_fifo_is_refused_without_waiting_for_a_writer() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.path().join("hook.fifo");
    mkfifo(&fifo);
    sandbox.profile(&with_url_from(&fifo));
    check(&sandbox)
        .code(78)
        .stderr_has("hook.fifo")
        .stderr_has("not a regular file");
    let send = sandbox.chime(&["send", "--dry-run", "hi"]);
    run_within(send, HANG).code(78).stderr_has("hook.fifo");
}

#[test]
fn a_secret_file_over_64_kib_is_refused() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("hook");
    let url = format!("https://hooks.example/{}", "a".repeat(64 * 1024));
    std::fs::write(&file, url).unwrap();
    sandbox.profile(&with_url_from(&file));
    check(&sandbox)
        .code(78)
        .stderr_has("`url` of destination `ops`")
        .stderr_has("larger than 64 KiB");
}

#[test]
fn a_secret_file_behind_a_symlink_is_read_but_a_device_behind_one_is_not() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("hook");
    std::fs::write(&file, "http://127.0.0.1:9/services/T0/B0/linkedsecret\n").unwrap();
    // As Kubernetes mounts secrets: a symlink to the file.
    let link = sandbox.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    sandbox.profile(&with_url_from(&link));
    check(&sandbox).code(0);
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    check(&sandbox).code(78).stderr_has("not a regular file");
}

#[test]
fn a_profile_that_never_ends_is_refused() {
    let sandbox = Sandbox::new();
    let cmd = sandbox.chime(&["config", "check", "--config", "/dev/zero"]);
    run_within(cmd, HANG)
        .code(78)
        .stderr_has("/dev/zero")
        .stderr_has("larger than 1 MiB");
}

/// A profile whose route renders template `slow` with `text` as given.
fn with_template(text: &str) -> String {
    format!(
        "[defaults]\nroute = \"r\"\n[destinations.ops]\nkind = \"slack\"\n\
         url = \"http://127.0.0.1:9/services/T0/B0/notasecret\"\n\
         [routes.r]\nto = [\"ops\"]\ntemplate = \"slow\"\n[templates.slow]\ntext = '{text}'\n"
    )
}

const LOOP_OF_LOOPS: &str =
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
const DOUBLING: &str = "{% set ns = namespace(s=\"x\") %}{% for i in range(40) %}\
                        {% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}";

#[test]
fn a_template_that_loops_for_ever_is_a_template_error_naming_it() {
    for text in [LOOP_OF_LOOPS, DOUBLING] {
        let sandbox = Sandbox::new();
        sandbox.profile(&with_template(text));
        check(&sandbox)
            .code(78)
            .stderr_has("template `slow`")
            .stderr_has("too much work");
        let send = sandbox.chime(&["send", "--dry-run", "hi"]);
        run_within(send, HANG)
            .code(78)
            .stderr_has("template `slow`")
            .stderr_has("too much work");
    }
}

#[test]
fn a_template_that_writes_megabytes_is_a_template_error() {
    let sandbox = Sandbox::new();
    sandbox.profile(&with_template("{{ \"x\" * 5000000 }}"));
    check(&sandbox)
        .code(78)
        .stderr_has("template `slow`")
        .stderr_has("larger than 4 MiB");
}

#[test]
fn a_rule_that_does_too_much_work_is_a_rule_error() {
    let profile = "[defaults]\nroute = \"r\"\n[destinations.ops]\nkind = \"slack\"\n\
                   url = \"http://127.0.0.1:9/services/T0/B0/notasecret\"\n\
                   [routes.r]\nto = [\"ops\"]\n[[rules]]\n\
                   when = \"('x' * 50000000) | length > 0\"\nroute = \"r\"\n";
    let sandbox = Sandbox::new();
    sandbox.profile(profile);
    check(&sandbox)
        .code(78)
        .stderr_has("rule")
        .stderr_has("too much work");
    let send = sandbox.chime(&["send", "--dry-run", "hi"]);
    run_within(send, HANG)
        .code(78)
        .stderr_has("rule")
        .stderr_has("too much work");
}

#[test]
fn a_webhook_body_that_loops_for_ever_is_a_profile_error() {
    let profile = format!(
        "[defaults]\nroute = \"r\"\n[destinations.w]\nkind = \"webhook\"\n\
         url = \"http://127.0.0.1:9/hook\"\nbody = '{{\"t\": {{{{ text }}}}}}{LOOP_OF_LOOPS}'\n\
         [routes.r]\nto = [\"w\"]\n"
    );
    let sandbox = Sandbox::new();
    sandbox.profile(&profile);
    check(&sandbox)
        .code(78)
        .stderr_has("`body` template of destination `w`")
        .stderr_has("too much work");
}

#[test]
fn a_duration_too_long_to_count_is_a_profile_error_not_a_panic() {
    let forever = "\"500000000000y\"";
    for (table, key) in [
        ("defaults", "timeout"),
        ("defaults", "thread_ttl"),
        ("destinations.ops", "pace"),
        ("destinations.ops", "timeout"),
        ("spool", "max_age"),
        ("spool", "backoff_base"),
    ] {
        let sandbox = Sandbox::new();
        let base = "[defaults]\nroute = \"r\"\n[destinations.ops]\nkind = \"slack\"\n\
                    url = \"http://127.0.0.1:1/services/T0/B0/downdowndown\"\n\
                    [routes.r]\nto = [\"ops\"]\n[spool]\n";
        let header = format!("[{table}]\n");
        let profile = base.replace(&header, &format!("{header}{key} = {forever}\n"));
        sandbox.profile(&profile);
        let send = sandbox.chime(&["send", "--thread", "k", "hi"]);
        run_within(send, HANG)
            .code(78)
            .stderr_has(key)
            .stderr_has("too long");
    }
}
