//! `chime config init` and `chime config path`: a first profile, and where it lives.

use std::io::Write;
use std::path::Path;

use super::{ConfigError, Location};
use crate::exit::Failure;

/// The profile `chime config init` writes: works as soon as `SLACK_WEBHOOK_URL`
/// is set, and shows the rest commented out. Every kind in `kinds::KNOWN` has a
/// commented example in the "More destinations" block (a test checks it): add
/// one there with each new kind.
pub const STARTER: &str = r##"# chime profile: destinations (where messages go), routes (named groups of
# destinations), rules (automatic routing) and templates. Secrets are best kept
# out of this file: ${NAME} expands from the environment, { file = "…" } reads one.
# Check it with `chime config check`, try it with `chime test`.

[defaults]
route = "ops"        # used when no --route/--to is given and no rule matches
timeout = "10s"      # per destination, retries included

[destinations.ops-hook]
kind = "slack"                  # a Slack incoming webhook
url = "${SLACK_WEBHOOK_URL}"    # export SLACK_WEBHOOK_URL=https://hooks.slack.com/services/…

# --- More destinations: one example per kind; uncomment and fill in. ---

# [destinations.bot]
# kind = "slack-api"                           # chat.postMessage with a bot token
# token = { file = "/run/secrets/slack_bot" }  # or "${SLACK_BOT_TOKEN}"
# channel = "#deploys"
# app_token = "${SLACK_APP_TOKEN}"             # optional: xapp-…, for `chime ask` (Socket Mode)
# approvers = ["U0123ABCD", "@ada", "S0456OPS"] # optional: who may answer `chime ask`

# [destinations.discord-ops]
# kind = "discord"                             # Edit Channel → Integrations → Webhooks
# url = "${DISCORD_WEBHOOK_URL}"
# thread_id = "1234567890123456789"            # optional: post into a thread

# [destinations.teams-ops]
# kind = "teams"                               # Workflows: "Send webhook alerts to a channel"
# url = "${TEAMS_WEBHOOK_URL}"                 # the whole URL, sig= included

# [destinations.telegram-ops]
# kind = "telegram"                            # token from @BotFather
# token = { file = "/run/secrets/telegram_bot" }
# chat_id = -1001234567890                     # or "@my_channel"

# [destinations.mattermost-ops]
# kind = "mattermost"                          # Integrations → Incoming Webhooks
# url = "${MATTERMOST_WEBHOOK_URL}"
# channel = "town-square"

# [destinations.chat-ops]
# kind = "google-chat"                         # space → Apps & integrations → Webhooks
# url = "${GOOGLE_CHAT_WEBHOOK_URL}"

# [destinations.phone]
# kind = "ntfy"                                # server + a hard-to-guess topic
# url = "https://ntfy.sh/ops-alerts-7f3k9"
# reply_topic = "ops-answers-2m8q"              # optional: where `chime ask`'s buttons answer

# [destinations.gotify-ops]
# kind = "gotify"                              # your server; Apps → Create Application
# url = "https://gotify.example.com"
# token = { env = "GOTIFY_TOKEN" }             # the application's token (A…)

# [destinations.pager]
# kind = "pushover"                            # pushover.net → Create an Application
# token = { env = "PUSHOVER_TOKEN" }           # the application's API token
# user = { env = "PUSHOVER_USER" }             # your user or group key
# retry = 60                                   # critical = emergency: repeat every 60 s…
# expire = 3600                                # …for up to an hour, until acknowledged

# [destinations.nightly-check]
# kind = "healthchecks"                        # a dead-man's switch: `chime run` pings it
# url = "https://hc-ping.com/${CHECK_UUID}"    # the check's ping URL (a secret)
# (and on a route: ping = "nightly-check")

# [destinations.oncall]
# kind = "pagerduty"                           # a service → Integrations → Events API v2
# routing_key = { env = "PAGERDUTY_ROUTING_KEY" }  # its 32-character Integration Key
# component = "backup"                         # optional: PD-CEF component, group, class

# [destinations.genie]
# kind = "opsgenie"                            # a team → Integrations → API (or JSM Operations)
# api_key = { env = "OPSGENIE_API_KEY" }       # the integration's key, sent as GenieKey
# api_url = "https://api.eu.opsgenie.com"      # EU accounts; default api.opsgenie.com

# [destinations.matrix-ops]
# kind = "matrix"                              # a bot user, invited to the room and joined
# homeserver = "https://matrix.example.org"
# access_token = { env = "MATRIX_TOKEN" }      # the bot's access token
# room = "#ops:example.org"                    # or the room's ID, "!abc123:example.org"

# [destinations.mail]
# kind = "email"                               # any SMTP server; STARTTLS on 587 by default
# host = "smtp.office365.com"
# user = "alerts@example.com"
# oauth2_token = { env = "SMTP_OAUTH2_TOKEN" } # Microsoft 365, Gmail; or password = { env = "SMTP_PASSWORD" }
# from = "chime <alerts@example.com>"
# to = ["oncall@example.com"]                  # --channel "a@x, b@y" sends to others instead
# cc = ["team@example.com"]                    # optional

# [destinations.alerts-api]
# kind = "webhook"                             # any HTTP endpoint
# url = "${ALERT_HOOK_URL}"
# secret = { env = "ALERT_SIGNING_SECRET" }    # optional: X-Chime-Signature

# --- Routes: named groups of destinations (`chime send -r NAME`). ---

[routes.ops]
to = ["ops-hook"]
# dedupe = "30m"           # repeats within 30 min are counted, not posted
# limit = "10/5m"          # then at most 10 per 5 min; the rest in one digest
# quiet = "22:00-07:00"    # info and success wait until 07:00 (timezone = "Europe/Berlin")
# digest = "1h"            # everything in one message an hour

# [routes.critical]
# to = ["bot", "ops-hook"]
# channel = "#incidents"   # overrides the destination's channel
# template = "alert"

# [routes.oncall]          # chime run --on change -r oncall -- backup.sh
# to = ["oncall"]          # pages on failure, resolves the incident on recovery

# --- Rules: route by what the message says; first match wins. ---
# Variables: text, title, level, host, user, cwd, now, env, fields and --var/-f keys.

# [[rules]]
# when = "level in ['error', 'critical']"
# route = "critical"
#
# [[rules]]
# when = "fields.env == 'prod' and level != 'info'"
# route = "critical"
#
# [[rules]]                  # a rule may drop instead: nothing sent, exit 0
# when = "event == 'feature.used' and feature not in ['export', 'api']"
# drop = true                # (only when no --route/--to is given)

# --- Templates: minijinja; values are escaped for the destination. ---

[templates.alert]
title = "{{ level | upper }} on {{ host }}"
text = "{{ text }}"

# --- The spool: how long undelivered messages are kept and retried. ---

# [spool]
# max_age = "3d"
# backoff_base = "2s"
# backoff_cap = "15m"

# --- Many machines: threads, job outcomes, dedupe and pacing shared through a
# Redis or Valkey (or CHIME_STATE_URL). The spool stays on each machine. ---

# [state]
# url = "redis://state.internal:6379"       # rediss:// for TLS
# password = { env = "CHIME_STATE_PASSWORD" }
# prefix = "chime"
"##;

/// Writes the starter profile, private to its owner, refusing to overwrite one
/// unless `force` is given.
pub fn init(location: &Location, force: bool) -> Result<(), Failure> {
    let path = &location.path;
    if path.exists() && !force {
        return Err(
            Failure::config(format!("a profile already exists at {}", path.display()))
                .with_hint("pass --force to replace it, or edit it"),
        );
    }
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(|e| write_error(dir, e))?;
    }
    write_private(path, STARTER).map_err(|e| write_error(path, e))?;
    Ok(())
}

fn write_error(path: &Path, err: std::io::Error) -> Failure {
    Failure::from(ConfigError::Read {
        path: path.to_owned(),
        source: err.into(),
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a new file at 0600 beside `path` and renames it into place, so
/// `--force` leaves a private file even where a readable one (or a symlink to
/// one) stood, and a crash leaves the old profile or the new, never half.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    let temp = std::path::PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_has_an_example_of_every_kind() {
        for kind in crate::kinds::KNOWN {
            assert!(
                STARTER.contains(&format!("kind = \"{kind}\"")),
                "the starter profile has no example of kind `{kind}`: add one to STARTER"
            );
        }
    }
}
