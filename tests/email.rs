//! `kind = "email"` against a real SMTP server (aiosmtpd, `support/smtp.rs`):
//! what a reader's mail client gets, how chime logs in and secures the
//! connection, and what each reply code makes of the message.

use crate::support::smtp::{Mode, PASSWORD, Smtp, TOKEN, USER};
use crate::support::{Run, Sandbox, run};

/// A profile whose default route goes to `mail` on `smtp`, with `extra`
/// lines (the login, `tls`, `ca_file`) in its table.
fn profile(sandbox: &Sandbox, smtp: &Smtp, extra: &str) {
    sandbox.profile(&format!(
        r#"
[defaults]
route = "ops"
timeout = "5s"

[destinations.mail]
kind = "email"
host = "127.0.0.1"
port = {port}
from = "chime alerts <alerts@example.com>"
to = ["oncall@example.com", "Second <second@example.com>"]
{extra}

[routes.ops]
to = ["mail"]
"#,
        port = smtp.port
    ));
}

/// A plain server on a trusted network: `tls = "none"`, no login.
fn plain() -> (Smtp, Sandbox) {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::Plain);
    profile(&sandbox, &smtp, "tls = \"none\"");
    (smtp, sandbox)
}

/// A submission server with STARTTLS on a private CA, and the test account.
fn submission() -> (Smtp, Sandbox) {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::StartTls);
    let ca = smtp.ca.as_ref().unwrap().display().to_string();
    let extra = format!(
        "tls = \"starttls\"\nca_file = \"{ca}\"\nuser = \"{USER}\"\npassword = \"${{SMTP_PASSWORD}}\""
    );
    profile(&sandbox, &smtp, &extra);
    (smtp, sandbox)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_with(sandbox, PASSWORD, args)
}

fn chime_with(sandbox: &Sandbox, password: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("SMTP_PASSWORD", password);
    run(cmd)
}

#[test]
fn an_email_has_the_level_in_its_subject_and_text_html_fields_links_and_footer() {
    let (smtp, sandbox) = plain();
    chime(
        &sandbox,
        &[
            "send",
            "-t",
            "Backup <failed> on db1",
            "-l",
            "error",
            "-f",
            "disk=97% & rising",
            "-f",
            "mount point=/var",
            "--link",
            "Run=https://ci.example/run?id=1&x=2",
            "pg_dump: error <exit 1>\nsecond line é",
        ],
    )
    .code(0);
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(mail.mail_from, "alerts@example.com");
    assert_eq!(mail.rcpt_tos, ["oncall@example.com", "second@example.com"]);
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("[error] Backup <failed> on db1")
    );
    assert_eq!(mail.content_type, "multipart/alternative");
    assert_eq!(
        mail.header("auto-submitted").as_deref(),
        Some("auto-generated")
    );
    let id = mail.header("message-id").unwrap();
    assert!(
        id.starts_with("<chime.") && id.ends_with("@example.com>"),
        "{id}"
    );
    assert!(
        mail.text
            .starts_with("pg_dump: error <exit 1>\nsecond line é"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("disk:        97% & rising\nmount point: /var"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("Run: https://ci.example/run?id=1&x=2"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("\n-- \n"),
        "a signature separator before the footer"
    );
    assert!(
        mail.html.contains("<h2>Backup &lt;failed&gt; on db1</h2>"),
        "{}",
        mail.html
    );
    assert!(
        mail.html.contains("pg_dump: error &lt;exit 1&gt;<br>"),
        "{}",
        mail.html
    );
    assert!(
        mail.html
            .contains("<th align=\"left\" valign=\"top\">disk</th><td>97% &amp; rising</td>"),
        "{}",
        mail.html
    );
    assert!(
        mail.html
            .contains("<a href=\"https://ci.example/run?id=1&amp;x=2\">Run</a>"),
        "{}",
        mail.html
    );
    assert!(
        mail.raw.lines().all(|l| l.len() <= 998),
        "RFC 5322's line limit"
    );
}

#[test]
fn a_message_without_a_title_takes_its_first_line_as_subject_and_code_as_pre() {
    let (smtp, sandbox) = plain();
    chime(
        &sandbox,
        &[
            "send",
            "-l",
            "warning",
            "--code",
            "  \nfirst   line\n<second>",
        ],
    )
    .code(0);
    let mail = &smtp.messages()[0];
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("[warning] first line")
    );
    assert!(mail.html.contains("<pre>"), "{}", mail.html);
    assert!(mail.html.contains("&lt;second&gt;</pre>"), "{}", mail.html);
}

#[test]
fn starttls_and_a_login_deliver_through_a_private_ca() {
    let (smtp, sandbox) = submission();
    chime(&sandbox, &["send", "-t", "Deploy", "done"]).code(0);
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].login.as_deref(), Some(USER));
}

#[test]
fn a_refused_password_exits_65_with_a_hint_and_never_shows_the_password() {
    let (smtp, sandbox) = submission();
    let wrong = "wrong-horse-battery";
    chime_with(&sandbox, wrong, &["send", "x"])
        .code(65)
        .stderr_has("535")
        .stderr_has("check `user` and `password`")
        .never_shows(wrong);
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_4xx_is_kept_and_flush_sends_it_again_with_the_same_message_id() {
    let (smtp, sandbox) = plain();
    smtp.answer("data", "451 4.7.1 Greylisted, try again later", false);
    chime(&sandbox, &["send", "-t", "Nightly", "x"])
        .code(75)
        .stderr_has("451 4.7.1 Greylisted");
    let refused = smtp.refused();
    assert_eq!(
        refused[0].answer.as_deref(),
        Some("451 4.7.1 Greylisted, try again later")
    );
    assert!(smtp.messages().is_empty());
    smtp.accept();
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let got = smtp.messages();
    assert_eq!(got.len(), 1, "delivered once");
    let first = refused[0].header("message-id").unwrap();
    assert_eq!(got[0].header("message-id").unwrap(), first);
    assert!(
        refused
            .iter()
            .all(|r| r.header("message-id").unwrap() == first),
        "every try is the same message"
    );
}

#[test]
fn a_421_closing_the_connection_is_transient_too() {
    let (smtp, sandbox) = plain();
    smtp.answer("rcpt", "421 4.3.2 Service shutting down", false);
    chime(&sandbox, &["send", "x"]).code(75).stderr_has("421");
}

#[test]
fn a_5xx_is_refused_for_good_with_the_servers_words_and_a_hint() {
    let (smtp, sandbox) = plain();
    smtp.answer(
        "rcpt",
        "550 5.1.1 <oncall@example.com>: Recipient address rejected",
        false,
    );
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("550 5.1.1 <oncall@example.com>: Recipient address rejected")
        .stderr_has("check `to`");
    smtp.accept();
    chime(&sandbox, &["flush", "--all"]).code(0);
    assert!(
        smtp.messages().is_empty(),
        "a refused message is not retried"
    );
}

#[test]
fn a_server_that_is_down_keeps_the_message_with_75() {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::Plain);
    profile(&sandbox, &smtp, "tls = \"none\"");
    drop(smtp);
    chime(&sandbox, &["send", "x"])
        .code(75)
        .stderr_has("cannot connect");
}

#[test]
fn chime_test_of_a_server_that_is_down_exits_74_unreachable() {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::Plain);
    profile(&sandbox, &smtp, "tls = \"none\"");
    drop(smtp);
    chime(&sandbox, &["test"])
        .code(74)
        .stdout_has("unreachable")
        .stdout_has("cannot connect");
}

#[test]
fn tls_none_with_a_login_is_a_profile_error_unless_plaintext_is_allowed() {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::Plain);
    let login = format!("tls = \"none\"\nuser = \"{USER}\"\npassword = \"${{SMTP_PASSWORD}}\"");
    profile(&sandbox, &smtp, &login);
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("would send its password in clear")
        .stderr_has("allow_plaintext = true")
        .never_shows(PASSWORD);
    assert!(smtp.messages().is_empty());
    profile(&sandbox, &smtp, &format!("{login}\nallow_plaintext = true"));
    chime(&sandbox, &["send", "x"]).code(0);
    assert_eq!(smtp.messages()[0].login.as_deref(), Some(USER));
}

#[test]
fn implicit_tls_and_an_oauth2_token_log_in_with_xoauth2() {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::Implicit);
    let ca = smtp.ca.as_ref().unwrap().display().to_string();
    let extra = format!(
        "tls = \"implicit\"\nca_file = \"{ca}\"\nuser = \"{USER}\"\noauth2_token = {{ env = \"SMTP_TOKEN\" }}"
    );
    profile(&sandbox, &smtp, &extra);
    let mut cmd = sandbox.chime(&["send", "x"]);
    cmd.env("SMTP_TOKEN", TOKEN);
    run(cmd).code(0).never_shows(TOKEN);
    assert_eq!(smtp.messages()[0].login.as_deref(), Some(USER));
    let mut cmd = sandbox.chime(&["send", "x"]);
    cmd.env("SMTP_TOKEN", "ya29.expired");
    run(cmd)
        .code(65)
        .stderr_has("refused the XOAUTH2 login")
        .stderr_has("`oauth2_token` is current");
}

#[test]
fn a_private_ca_left_out_is_a_certificate_hint_not_a_refusal() {
    let sandbox = Sandbox::new();
    let smtp = Smtp::start(sandbox.path(), Mode::StartTls);
    profile(&sandbox, &smtp, "");
    chime(&sandbox, &["send", "x"])
        .code(75)
        .stderr_has("ca_file");
}

#[test]
fn channel_names_the_recipients_in_place_of_to_and_cc_still_gets_a_copy() {
    let (smtp, sandbox) = plain();
    profile(
        &sandbox,
        &smtp,
        "tls = \"none\"\ncc = [\"audit@example.com\"]",
    );
    chime(
        &sandbox,
        &[
            "send",
            "--channel",
            "dba@example.com, lead@example.com",
            "x",
        ],
    )
    .code(0);
    let mail = &smtp.messages()[0];
    assert_eq!(
        mail.rcpt_tos,
        ["dba@example.com", "lead@example.com", "audit@example.com"]
    );
    assert_eq!(
        mail.header("to").as_deref(),
        Some("dba@example.com, lead@example.com")
    );
    assert_eq!(mail.header("cc").as_deref(), Some("audit@example.com"));
}

#[test]
fn messages_under_one_thread_key_share_their_references_root() {
    let (smtp, sandbox) = plain();
    chime(&sandbox, &["send", "--thread", "deploy-42", "started"]).code(0);
    chime(&sandbox, &["send", "--thread", "deploy-42", "finished"]).code(0);
    chime(&sandbox, &["send", "--thread", "deploy-43", "other"]).code(0);
    let got = smtp.messages();
    let root = |i: usize| got[i].header("references").unwrap();
    assert_eq!(root(0), root(1));
    assert_ne!(root(0), root(2));
    assert_eq!(got[0].header("in-reply-to").unwrap(), root(0));
    assert_ne!(got[0].header("message-id"), got[1].header("message-id"));
}

#[test]
fn chime_test_logs_in_and_quits_without_sending() {
    let (smtp, sandbox) = submission();
    chime(&sandbox, &["test"]).code(0).stdout_has("ok");
    assert!(smtp.messages().is_empty(), "a test sends no email");
    chime_with(&sandbox, "wrong", &["test"])
        .code(65)
        .stdout_has("rejected")
        .stdout_has("check `user` and `password`");
}

#[test]
fn config_show_masks_the_password() {
    let (_smtp, sandbox) = submission();
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("kind = \"email\"")
        .stdout_has("tls = \"starttls\"\nuser = \"alerts@example.com\"\npassword = \"****\"\n")
        .never_shows(PASSWORD);
}

#[test]
fn files_go_as_attachments_and_a_kept_one_goes_whole_after_a_flush() {
    let (smtp, sandbox) = plain();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    std::fs::write(sandbox.path().join("core.bin"), &bytes).unwrap();
    std::fs::write(sandbox.path().join("build.log"), "line 1\nline 2\n").unwrap();
    chime(
        &sandbox,
        &[
            "send",
            "--file",
            "core.bin",
            "--file",
            "build.log",
            "crashed",
        ],
    )
    .code(0);
    let mail = &smtp.messages()[0];
    assert_eq!(mail.content_type, "multipart/mixed");
    assert!(mail.text.starts_with("crashed"), "{}", mail.text);
    let names: Vec<&str> = mail.attachments.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(names, ["core.bin", "build.log"]);
    assert_eq!(mail.attachments[0].1, "application/octet-stream");
    assert_eq!(mail.attachments[0].2, bytes);
    assert_eq!(mail.attachments[1].2, b"line 1\nline 2\n");
    assert!(mail.raw.lines().all(|l| l.len() <= 998));

    smtp.answer("data", "452 4.3.1 Insufficient system storage", false);
    chime(&sandbox, &["send", "--file", "core.bin", "again"]).code(75);
    std::fs::remove_file(sandbox.path().join("core.bin")).unwrap();
    smtp.accept();
    chime(&sandbox, &["flush", "--all"]).code(0);
    let got = smtp.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].attachments[0].2, bytes, "the spool's copy, whole");
}

#[test]
fn a_routes_channel_names_the_recipients_too() {
    let (smtp, sandbox) = plain();
    let mut profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    profile.push_str("\n[routes.dba]\nto = [\"mail\"]\nchannel = \"dba@example.com\"\n");
    sandbox.profile(&profile);
    chime(&sandbox, &["send", "-r", "dba", "x"]).code(0);
    assert_eq!(smtp.messages()[0].rcpt_tos, ["dba@example.com"]);
}

#[test]
fn a_recipient_that_is_no_address_is_refused_before_anything_is_sent() {
    let (smtp, sandbox) = plain();
    chime(&sandbox, &["send", "--channel", "not an address", "x"])
        .code(65)
        .stderr_has("`not an address` is not an email address");
    assert!(smtp.messages().is_empty());
}

/// Words unique to `tag`, with CJK and emoji between them, `chars` long.
fn words(tag: &str, chars: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    while out.chars().count() < chars {
        n += 1;
        out.push_str(&format!("{tag}w{n:04}界 😀 "));
    }
    out.trim_end().to_owned()
}

#[test]
fn a_huge_title_fields_and_multibyte_code_arrive_whole_within_the_line_limit() {
    let (smtp, sandbox) = plain();
    let title = words("title", 5000);
    let code = words("code", 30_000).replace(" 😀 ", "\n");
    let mut args = vec![
        "send".to_owned(),
        "--code".into(),
        "-t".into(),
        title.clone(),
    ];
    let fields: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                words(&format!("k{i}x"), 100),
                words(&format!("v{i}x"), 2000),
            )
        })
        .collect();
    for (key, value) in &fields {
        args.extend(["-f".into(), format!("{key}={value}")]);
    }
    args.push(code.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chime(&sandbox, &args).code(0);
    let mail = &smtp.messages()[0];
    assert!(
        mail.raw.lines().all(|l| l.len() <= 998),
        "RFC 5322's line limit"
    );
    let subject = mail.header("subject").unwrap();
    assert!(
        subject.starts_with("[info] titlew0001界") && subject.ends_with('…'),
        "{subject}"
    );
    let html = mail.html.replace("<br>\n", "\n");
    for wanted in [&title, &code] {
        assert!(
            mail.text.contains(wanted.as_str()),
            "the text part lost some of it"
        );
        assert!(
            html.contains(wanted.as_str()),
            "the HTML part lost some of it"
        );
    }
    // Aligned: each key padded to the widest.
    let width = fields.iter().map(|(k, _)| k.chars().count()).max().unwrap() + 1;
    for (key, value) in &fields {
        let line = format!("{:<width$} {value}", format!("{key}:"));
        assert!(mail.text.contains(&line), "{key}");
        assert!(
            html.contains(&format!("{key}</th><td>{value}</td>")),
            "{key}"
        );
    }
}

/// A server that greets each connection with a line that never ends, as
/// fast as chime reads.
fn endless_greeter() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let talker = std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let chunk = vec![b'a'; 64 * 1024];
                let _ = socket.write_all(b"220-");
                while socket.write_all(&chunk).is_ok() {}
            });
        }
    });
    (port, talker)
}

#[test]
fn a_server_that_never_stops_talking_is_read_to_a_bound_and_the_message_kept() {
    let (port, talker) = endless_greeter();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"chime@example.com\"\nto = [\"ops@example.com\"]\ntimeout = \"3s\"\n"
    ));
    let (out, peak) =
        crate::support::run_watched(sandbox.chime(&["send", "--to", "mail", "hello"]));
    out.code(75).stderr_has("without being asked");
    assert!(peak < 64 << 20, "chime held {} MiB", peak >> 20);
    drop(talker);
}

#[test]
fn an_address_the_server_refuses_is_said_and_the_other_recipients_still_get_the_alert() {
    let (smtp, sandbox) = plain();
    profile(&sandbox, &smtp, "tls = \"none\"");
    smtp.answer("rcpt", "550 5.1.1 <gone@example.com>: no such user", true);
    chime(
        &sandbox,
        &[
            "send",
            "--channel",
            "gone@example.com, lead@example.com",
            "x",
        ],
    )
    .code(0)
    .stderr_has("not accepted for gone@example.com (")
    .stderr_has("no such user");
    assert_eq!(smtp.messages()[0].rcpt_tos, ["lead@example.com"]);
}

#[test]
fn when_every_address_is_refused_the_message_is_refused() {
    let (smtp, sandbox) = plain();
    profile(&sandbox, &smtp, "tls = \"none\"");
    smtp.answer("rcpt", "550 5.1.1 no such user", false);
    chime(
        &sandbox,
        &["send", "--channel", "a@example.com, b@example.com", "x"],
    )
    .code(65)
    .stderr_has("no such user");
    assert!(smtp.messages().is_empty());
}
