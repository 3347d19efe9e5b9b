//! `kind = "email"`: a message handed to an SMTP server (issue 17).
//!
//! Owns the destination's settings (server, TLS, login, addresses), the
//! rendering of a message as one MIME email (`render.rs`) and the reading of
//! the server's reply codes (`reply.rs`). Email is the one kind that is not
//! HTTP: its [`HttpRequest`] carries a [`Mail`], the SMTP exchange that takes
//! the place of an HTTP request, and `deliver` talks SMTP for it
//! (`deliver/smtp/`) in the same place, with the same retries, timeouts,
//! spool and pacing, as it sends every other kind's requests.
//!
//! A payload is the message exactly as it goes over `DATA` (headers, MIME
//! parts, CRLF line ends), with the envelope in its headers: what the spool
//! keeps, without any secret. Its `Message-ID` is made when the message is
//! rendered, so every retry from the spool sends the same one and a mail
//! client that got a copy before can tell the repeat.

mod render;
mod reply;

use crate::fields::{Fields, Problem};
use crate::kinds::{Answer, HttpRequest, Payload, Platform, Target, Threading, Verdict};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

/// How the connection to the server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain first, then `STARTTLS` before anything else is said (port 587).
    Starttls,
    /// TLS from the first byte (port 465, "SMTPS").
    Implicit,
    /// Never: only for a relay on a trusted network (port 25).
    None,
}

impl Tls {
    fn name(self) -> &'static str {
        match self {
            Tls::Starttls => "starttls",
            Tls::Implicit => "implicit",
            Tls::None => "none",
        }
    }

    /// The submission port RFC 8314 and RFC 6409 give each.
    fn default_port(self) -> u16 {
        match self {
            Tls::Starttls => 587,
            Tls::Implicit => 465,
            Tls::None => 25,
        }
    }
}

/// How chime logs in: a password (`AUTH PLAIN` or `LOGIN`) or an OAuth 2.0
/// access token (`AUTH XOAUTH2`, for Microsoft 365 and Gmail).
#[derive(Clone, Debug)]
pub struct Login {
    /// The account's name, often its address: not a secret, so it may be
    /// written in the profile (`${VAR}` still expands).
    pub user: String,
    pub secret: Secret,
    pub oauth2: bool,
}

/// The SMTP exchange a request stands for: which server, how secured, who
/// logs in, and the envelope. The message itself is the request's body.
#[derive(Clone, Debug)]
pub struct Mail {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub login: Option<Login>,
    /// `MAIL FROM`.
    pub sender: String,
    /// `RCPT TO`, one per address: the `To` and `Cc` addresses.
    pub recipients: Vec<String>,
    /// `chime test`: connect, greet, secure and log in, then quit, sending nothing.
    pub check_only: bool,
    /// The message's files, each with the line of the body its base64 replaces.
    pub files: Vec<(String, crate::kinds::FileRef)>,
}

/// A payload's envelope headers: where the spool keeps who it goes to.
const SENDER: &str = "mail-from";
const RECIPIENT: &str = "rcpt-to";
/// A payload's header naming the line each of its files' bytes replace.
const ATTACHMENT: &str = "attachment";
/// The largest file an email carries: Gmail takes 25 MB a message, base64
/// and all (a third more than the file), Microsoft 365 35 MB by default. A
/// profile's `max_file_size` says otherwise for a server that takes more.
const FILE_LIMIT: u64 = 15 << 20;
/// The operation of `chime test`'s payload ([`Mail::check_only`]).
const CHECK: &str = "check";

pub struct Email {
    host: String,
    port: u16,
    tls: Tls,
    login: Option<Login>,
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
}

impl Email {
    pub fn from_fields(fields: &mut Fields) -> Email {
        let help = "set `host` to the SMTP server, e.g. host = \"smtp.office365.com\"";
        let host = fields
            .required_string("host", "email", help)
            .unwrap_or_default();
        let tls_span = fields.span_of("tls");
        let tls = tls(fields);
        let port = port(fields, tls);
        let login = login(fields);
        let allow_plaintext = fields.boolean("allow_plaintext").unwrap_or(false);
        if tls == Tls::None && login.is_some() && !allow_plaintext {
            let span = tls_span;
            let message = format!(
                "destination `{}` would send its password in clear: `tls = \"none\"` with `user`",
                fields.name
            );
            let help = "use tls = \"starttls\" (port 587) or \"implicit\" (port 465); for a \
                        relay on a network you trust, add allow_plaintext = true";
            fields.problem(Problem::new(span, message).help(help));
        }
        let help = "set `from` to the sender, e.g. from = \"chime <alerts@example.com>\"";
        let from_span = fields.span_of("from");
        let from = fields
            .required_string("from", "email", help)
            .unwrap_or_default();
        check_addresses(fields, ("from", from_span), std::slice::from_ref(&from));
        let to_given = fields.span_of("to").is_some();
        let to = addresses(fields, "to");
        if to.is_empty() && !to_given {
            let help = "set `to` to the recipients, e.g. to = [\"oncall@example.com\"]";
            fields.required_string("to", "email", help);
        }
        let cc = addresses(fields, "cc");
        Email {
            host,
            port,
            tls,
            login,
            from,
            to,
            cc,
        }
    }

    /// The envelope of a message to `to` (and the profile's `cc`).
    fn envelope(&self, to: &[String]) -> Vec<(String, String)> {
        let mut headers = vec![(SENDER.to_owned(), render::address_of(&self.from))];
        for recipient in to.iter().chain(&self.cc) {
            headers.push((RECIPIENT.to_owned(), render::address_of(recipient)));
        }
        headers
    }
}

fn tls(fields: &mut Fields) -> Tls {
    let span = fields.span_of("tls");
    match fields.string("tls").as_deref() {
        None | Some("starttls") => Tls::Starttls,
        Some("implicit") => Tls::Implicit,
        Some("none") => Tls::None,
        Some(other) => {
            let message = format!("`tls` of destination `{}` cannot be `{other}`", fields.name);
            let help = "tls = \"starttls\" (the default), \"implicit\" or \"none\"";
            fields.problem(Problem::new(span, message).help(help));
            Tls::Starttls
        }
    }
}

fn port(fields: &mut Fields, tls: Tls) -> u16 {
    let span = fields.span_of("port");
    match fields.integer("port") {
        None => tls.default_port(),
        Some(port) => u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or_else(|| {
                let message = format!("`port` of destination `{}` is no TCP port", fields.name);
                fields.problem(Problem::new(span, message).help("a port is 1 to 65535"));
                tls.default_port()
            }),
    }
}

/// `user` with `password` or `oauth2_token`, or none of them.
fn login(fields: &mut Fields) -> Option<Login> {
    let span = fields.span_of("user");
    let user = fields.string("user");
    let password = fields.optional_secret_token("password", "email");
    let token = fields.optional_secret_token("oauth2_token", "email");
    let name = fields.name.to_owned();
    let mut wrong = |message: String, help: &str| {
        fields.problem(Problem::new(span.clone(), message).help(help.to_owned()));
    };
    match (user, password, token) {
        (None, None, None) => None,
        (Some(user), Some(secret), None) => Some(Login {
            user,
            secret,
            oauth2: false,
        }),
        (Some(user), None, Some(secret)) => Some(Login {
            user,
            secret,
            oauth2: true,
        }),
        (Some(_), Some(_), Some(_)) => {
            wrong(
                format!("destination `{name}` has both `password` and `oauth2_token`"),
                "keep one: oauth2_token logs in with XOAUTH2, password with PLAIN or LOGIN",
            );
            None
        }
        (Some(_), None, None) => {
            wrong(
                format!("destination `{name}` has a `user` and nothing to log in with"),
                "add password = \"${SMTP_PASSWORD}\" or oauth2_token = \"${SMTP_TOKEN}\"",
            );
            None
        }
        (None, _, _) => {
            wrong(
                format!("destination `{name}` has a password or token but no `user`"),
                "add user = \"the account's name\", often its address",
            );
            None
        }
    }
}

/// A list of addresses (a single string is a list of one), each checked.
fn addresses(fields: &mut Fields, key: &'static str) -> Vec<String> {
    let span = fields.span_of(key);
    let list = fields.strings(key).unwrap_or_default();
    check_addresses(fields, (key, span), &list);
    list
}

/// Each of `list`, read from `key` at `span`, must be an address.
fn check_addresses(
    fields: &mut Fields,
    (key, span): (&'static str, Option<std::ops::Range<usize>>),
    list: &[String],
) {
    for address in list {
        if let Err(why) = render::mailbox(address) {
            let span = span.clone();
            let message = format!(
                "`{key}` of destination `{}`: `{address}` is not an email address ({why})",
                fields.name
            );
            let help = "write it as \"name@example.com\" or \"Name <name@example.com>\"";
            fields.problem(Problem::new(span, message).help(help));
        }
    }
}

/// A payload of the email `body` (no JSON), its envelope and markers in `headers`.
fn payload(body: String, headers: Vec<(String, String)>, op: &str) -> Payload {
    Payload {
        body,
        headers,
        op: op.to_owned(),
        thread: None,
        secrets: Vec::new(),
        files: Vec::new(),
    }
}

/// Plain text: the text part shows it as written, the HTML part escapes it.
fn plain(text: &str) -> String {
    text.to_owned()
}

impl Platform for Email {
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": a reply comes back to a mailbox, not to chime";
        Err(crate::kinds::cannot_ask("email", "SMTP", why))
    }

    fn kind(&self) -> &'static str {
        "email"
    }

    fn markup(&self) -> Escape {
        plain
    }

    /// One email: no part of a message is too long for it. `--channel` (or a
    /// route's `channel`) names the recipients, comma-separated, in place of `to`.
    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let to = match &target.channel {
            Some(channel) => channel
                .split(',')
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect(),
            None => self.to.clone(),
        };
        let thread = target.thread_key.as_deref();
        let addresses = render::Addresses {
            from: &self.from,
            to: &to,
            cc: &self.cc,
        };
        let (body, markers) = render::email(message, &addresses, thread);
        let mut headers = self.envelope(&to);
        headers.extend(markers.into_iter().map(|m| (ATTACHMENT.to_owned(), m)));
        vec![payload(body, headers, "").with_files(&message.files)]
    }

    /// `chime test` logs in and quits: a test email would land in real inboxes.
    fn probe(&self, _message: &Message, _target: &Target) -> Vec<Payload> {
        vec![payload(String::new(), self.envelope(&self.to), CHECK)]
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let header = |name: &'static str| {
            let values = payload.headers.iter().filter(move |(n, _)| n == name);
            values.map(|(_, v)| v.clone())
        };
        let mail = Mail {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            login: self.login.clone(),
            sender: header(SENDER).next().unwrap_or_default(),
            recipients: header(RECIPIENT).collect(),
            check_only: payload.op == CHECK,
            files: header(ATTACHMENT)
                .zip(payload.files.iter().cloned())
                .collect(),
        };
        let scheme = if self.tls == Tls::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        // The user names the account, so it is part of the destination's
        // identity (`Destination::identity` hashes the URL), shown masked.
        let user = self.login.as_ref().map(|l| format!("{}@", l.user));
        let url = format!(
            "{scheme}://{}{}:{}",
            user.unwrap_or_default(),
            self.host,
            self.port
        );
        let method = reqwest::Method::from_bytes(b"SMTP").expect("a valid method token");
        HttpRequest {
            method,
            url: Secret::url(url),
            headers: payload
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Secret::public(value)))
                .collect(),
            body: Secret::public(&payload.body),
            upload: None,
            mail: Some(Box::new(mail)),
        }
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        reply::classify(answer)
    }

    /// Files go as attachments (`multipart/mixed`).
    fn file_limit(&self) -> Option<u64> {
        Some(FILE_LIMIT)
    }

    /// The payload's status is a reply code: 250 is the only one that
    /// delivers (a body never "breaks off" over SMTP).
    fn posted_by_status(&self, status: u16) -> bool {
        status == 250
    }

    /// Every message under one key points at the same root `Message-ID`
    /// (`References`), which mail clients group into one conversation.
    fn threading(&self) -> Threading {
        Threading::ByKey
    }

    /// For `chime pipe`: a long email is still one email, but a reader
    /// scrolls it; this much keeps a batch to a screenful or two of lines.
    fn batch_limit(&self) -> usize {
        50_000
    }

    /// Exchange Online takes 30 messages a minute by SMTP submission, and
    /// refuses more ("Exchange Online limits"); most servers take more.
    fn pace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("host", self.host.as_str().into()),
            ("port", i64::from(self.port).into()),
            ("tls", self.tls.name().into()),
        ];
        if let Some(login) = &self.login {
            out.push(("user", login.user.as_str().into()));
            let key = if login.oauth2 {
                "oauth2_token"
            } else {
                "password"
            };
            out.push((key, login.secret.to_string().into()));
        }
        out.push(("from", self.from.as_str().into()));
        let list = |l: &[String]| toml::Value::Array(l.iter().map(|a| a.as_str().into()).collect());
        out.push(("to", list(&self.to)));
        if !self.cc.is_empty() {
            out.push(("cc", list(&self.cc)));
        }
        out
    }
}
