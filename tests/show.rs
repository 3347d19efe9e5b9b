//! `chime config show` for every kind: each destination lists the settings its
//! kind read, under their profile keys, with its pace, and no secret shows on
//! either stream. Nothing is sent, so no stand-in is needed.

use crate::support::{Sandbox, run};

/// Every secret in [`PROFILE`]: URL keys, tokens, a password, header values
/// and a signing key. Obviously fake, and each distinct, so a leak names itself.
const SECRETS: &[&str] = &[
    "FAKESECRET1",
    "FAKESECRET2",
    "FAKESECRET3",
    "FAKESECRET4",
    "FAKESECRET5",
    "FAKESECRET6",
    "FAKESECRET7",
    "FAKESECRET8",
    "FAKESECRET9",
    "FAKESECRETA",
    "FAKESECRETB",
    "FAKESECRETC",
];

const PROFILE: &str = r##"
[destinations.dc]
kind = "discord"
url = "https://discord.example/api/webhooks/123456/FAKESECRET1"
thread_id = "1234567890123"
username = "chime bot"
avatar_url = "https://img.example/bot.png"

[destinations.tm]
kind = "teams"
url = "https://teams.example/workflows/FAKESECRET2"

[destinations.tg]
kind = "telegram"
token = "123456:FAKESECRET3"
chat_id = -1001234567890
message_thread_id = 42

[destinations.mm]
kind = "mattermost"
url = "https://mm.example/hooks/FAKESECRET4"
channel = "town-square"
username = "chime"
icon_url = "https://img.example/mm.png"

[destinations.gc]
kind = "google-chat"
url = "https://chat.example/v1/spaces/AAAA/messages?key=FAKESECRET5&token=FAKESECRET6"
thread_key = "deploys"

[destinations.nt]
kind = "ntfy"
url = "https://ntfy.example/FAKESECRET7"
token = "tk_FAKESECRET8"
priority = "high"
tags = "rocket,ci"
pace = "3s"

[destinations.wh]
kind = "webhook"
url = "https://hooks.example/in/FAKESECRET9"
headers = { Authorization = "Bearer FAKESECRETA", X-Api-Key = "FAKESECRETB" }
body = '{"text": {{ text }}}'
secret = "FAKESECRETC"
max_bytes = 4096
timeout = "7s"
"##;

#[test]
fn config_show_lists_every_kinds_settings_and_pace_but_never_a_secret() {
    let sandbox = Sandbox::new();
    sandbox.profile(PROFILE);
    let mut out = run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has(
            "[destinations.dc]\nkind = \"discord\"\n\
             url = \"https://discord.example/api/webhooks/1…/****\"\n\
             thread_id = \"1234567890123\"\nusername = \"chime bot\"\n\
             avatar_url = \"https://img.example/bot.png\"\npace = \"2s\"\n",
        )
        .stdout_has(
            "[destinations.tm]\nkind = \"teams\"\n\
             url = \"https://teams.example/workflows/****\"\npace = \"1s\"\n",
        )
        .stdout_has(
            "[destinations.tg]\nkind = \"telegram\"\ntoken = \"****\"\n\
             chat_id = -1001234567890\nmessage_thread_id = 42\n\
             api_url = \"https://api.telegram.org\"\npace = \"3s\"\n",
        )
        .stdout_has(
            "[destinations.mm]\nkind = \"mattermost\"\n\
             url = \"https://mm.example/hooks/****\"\nchannel = \"town-square\"\n\
             username = \"chime\"\nicon_url = \"https://img.example/mm.png\"\npace = \"1s\"\n",
        )
        .stdout_has(
            "[destinations.gc]\nkind = \"google-chat\"\n\
             url = \"https://chat.example/v…/spaces/A…/****?****\"\n\
             thread_key = \"deploys\"\npace = \"1s\"\n",
        )
        .stdout_has(
            "[destinations.nt]\nkind = \"ntfy\"\nurl = \"https://ntfy.example/****\"\n\
             token = \"****\"\npriority = 4\ntags = \"rocket,ci\"\nmarkdown = false\n\
             pace = \"3s\"\n",
        )
        .stdout_has(
            "[destinations.wh]\nkind = \"webhook\"\nurl = \"https://hooks.example/in/****\"\n\
             method = \"POST\"\n\
             headers = { authorization = \"****\", x-api-key = \"****\" }\n\
             body = '{\"text\": {{ text }}}'\nsecret = \"****\"\nmax_bytes = 4096\n\
             timeout = \"7s\"\npace = \"1s\"\n",
        );
    for secret in SECRETS {
        out = out.never_shows(secret);
    }
}

#[test]
fn config_show_names_the_ntfy_user_but_never_the_password() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.phone]
kind = "ntfy"
url = "https://ntfy.example/FAKESECRET1"
user = "alice"
password = "FAKESECRET2"
markdown = true
"#,
    );
    run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has(
            "[destinations.phone]\nkind = \"ntfy\"\nurl = \"https://ntfy.example/****\"\n\
             user = \"alice\"\npassword = \"****\"\nmarkdown = true\npace = \"5s\"\n",
        )
        .never_shows("FAKESECRET1")
        .never_shows("FAKESECRET2");
}

#[test]
fn config_show_prints_a_body_template_as_written_not_with_its_variables_filled_in() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.wh]
kind = "webhook"
url = "https://hooks.example/in/x"
body = '{"api_key": "${MY_API_KEY}", "text": {{ text }}}'
"#,
    );
    let mut cmd = sandbox.chime(&["config", "show"]);
    cmd.env("MY_API_KEY", "sk-live-FAKESECRETD");
    run(cmd)
        .code(0)
        .stdout_has(r#"body = '{"api_key": "${MY_API_KEY}", "text": {{ text }}}'"#)
        .never_shows("FAKESECRETD");
}

#[test]
fn each_kind_paces_to_its_platforms_sustained_rate_unless_the_profile_says() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.person]
kind = "telegram"
token = "123:FAKESECRETE"
chat_id = 12345

[destinations.group]
kind = "telegram"
token = "123:FAKESECRETE"
chat_id = -100555

[destinations.fast]
kind = "discord"
url = "https://discord.example/api/webhooks/1/FAKESECRETF"
pace = "250ms"
"#,
    );
    run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has("chat_id = 12345\napi_url = \"https://api.telegram.org\"\npace = \"1s\"\n")
        .stdout_has("chat_id = -100555\napi_url = \"https://api.telegram.org\"\npace = \"3s\"\n")
        .stdout_has("pace = \"250ms\"\n")
        .never_shows("FAKESECRET");
}

#[test]
fn config_show_gives_a_destinations_ca_file_and_proxy_with_its_credentials_masked() {
    let dir = tempfile::tempdir().unwrap();
    let ca = crate::support::tls::TestCa::new(dir.path(), "ca.pem");
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.chat]\nkind = \"mattermost\"\nurl = \"https://chat.example/hooks/FAKESECRET1\"\n\
         ca_file = \"{}\"\nproxy = \"http://chime:FAKESECRET2@proxy.corp:3128\"\n\n\
         [destinations.direct]\nkind = \"ntfy\"\nurl = \"https://ntfy.example/alerts\"\nproxy = \"none\"\n",
        ca.pem_path.display()
    ));
    run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has(&format!("ca_file = \"{}\"\n", ca.pem_path.display()))
        .stdout_has("proxy = \"http://****@proxy.corp:3128\"\n")
        .stdout_has("proxy = \"none\"\n")
        .never_shows("FAKESECRET1")
        .never_shows("FAKESECRET2");
}
