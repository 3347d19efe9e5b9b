//! One try over SMTP, for `kind = "email"` (lettre, rustls with ring as
//! reqwest uses): connect, EHLO, STARTTLS or TLS from the start, AUTH,
//! then the envelope and `DATA`, within the try's time, and what it came to
//! as a [`Reply`] like an HTTP try's, so that retries, the spool and the
//! kind's `classify` treat both alike. The answer's status is the server's
//! reply code, its body the server's text.
//!
//! What a failed try says of whether the server has the message: a refused
//! or broken connection or TLS handshake sent nothing; a reply code is the
//! server's word; a connection lost or timed out in the middle of the
//! exchange may have come after the server took the message (RFC 5321
//! §4.1.1.4 does not settle it), and is treated as an HTTP try whose
//! answer never came. No proxy is used: SMTP does not go through HTTP's.
//!
//! A server certificate is checked against the built-in (webpki) roots, the
//! system's store (which `SSL_CERT_FILE` and `SSL_CERT_DIR` replace) and the
//! destination's `ca_file`, as for HTTP (`net.rs`).

use std::sync::OnceLock;
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
// lettre marks its network stream deprecated ("not meant to be made public")
// but hands it out for this: implicit TLS on a socket of one's own.
#[allow(deprecated)]
use lettre::transport::smtp::client::{
    AsyncNetworkStream, AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore,
    TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;

mod bounded;

use bounded::{Bounded, Secured};

use super::wire::Reply;
use crate::config::CaFile;
use crate::kinds::{Answer, Mail, MailTls};

/// What a test that got through says, as a server's "250 OK" would.
const CHECKED: &str = "connected, secured and logged in; nothing was sent";

/// Sends `message` as `mail` says, or only checks the way for `chime test`.
pub(super) async fn send(
    mail: &Mail,
    message: &str,
    ca: Option<&CaFile>,
    timeout: Duration,
    warnings: &mut Vec<String>,
) -> Reply {
    let exchange = async {
        let mut connection = match connect(mail, ca).await? {
            Ok(connection) => connection,
            Err(why) => return Ok(Err(why)),
        };
        if mail.check_only {
            let alive = connection.test_connected().await;
            let _ = connection.quit().await;
            return Ok(Ok(match alive {
                true => answer(250, CHECKED.to_owned()),
                false => answer(421, "the server stopped answering".to_owned()),
            }));
        }
        let (envelope, message) = match envelope(mail).and_then(|e| Ok((e, attach(mail, message)?)))
        {
            Ok(ready) => ready,
            Err(why) => return Ok(Ok(answer(0, why))),
        };
        let ascii = |a: &Address| a.to_string().is_ascii();
        let plain = envelope.to().iter().chain(envelope.from()).all(ascii);
        let response = if !plain {
            // lettre's own send asks for SMTPUTF8; one address refused there
            // refuses them all. (The message itself is always ASCII.)
            connection.send(&envelope, message.as_bytes()).await?
        } else {
            let mut refused = Vec::new();
            let response = to_each(&mut connection, &envelope, &message, &mut refused).await?;
            if !refused.is_empty() {
                warnings.push(format!(
                    "not accepted for {}: delivered to the other recipients",
                    refused.join("; ")
                ));
            }
            response
        };
        let _ = connection.quit().await;
        let said = response.message().collect::<Vec<_>>().join(" ");
        Ok(Ok(answer(u16::from(response.code()), said)))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Reply::Unanswered(format!(
            "timed out after {}",
            humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
        )),
        Ok(Ok(Ok(answer))) => Reply::Answered(answer),
        Ok(Ok(Err(not_sent))) => Reply::NotSent(not_sent),
        Ok(Err(err)) => failed(&err),
    }
}

fn answer(status: u16, body: String) -> Answer {
    Answer {
        status,
        retry_after: None,
        body,
    }
}

/// What a failed exchange means, as a reply.
fn failed(err: &lettre::transport::smtp::Error) -> Reply {
    let detail = deepest(err);
    if let Some(code) = err.status() {
        return Reply::Answered(answer(u16::from(code), detail));
    }
    if err.is_client() {
        // XOAUTH2 refused: Google and Microsoft answer a bad token with a
        // 334 challenge holding the error, which lettre stops at.
        let detail = match detail.contains("does not expect a challenge") {
            true => {
                "the server refused the XOAUTH2 login (its answer was an error challenge)".into()
            }
            false => detail,
        };
        return Reply::Answered(answer(0, detail));
    }
    // lettre names a failure to connect (TCP or the TLS handshake) only in
    // its text: "Connection error: …".
    if err.is_tls() || err.to_string().starts_with("Connection error") {
        return Reply::NotSent(format!("cannot connect: {detail}"));
    }
    match err.is_timeout() {
        true => Reply::Unanswered(format!("timed out: {detail}")),
        false => Reply::Unanswered(format!("the connection broke off: {detail}")),
    }
}

/// The most precise words in `err`'s chain of causes.
fn deepest(err: &lettre::transport::smtp::Error) -> String {
    let mut deepest = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        deepest = c.to_string();
        cause = c.source();
    }
    deepest
}

/// `message` with each file's base64 in place of the line that stands for
/// it, the files checked as an HTTP upload's are (`upload::check`): one
/// gone or changed since the message was accepted is refused, never sent
/// cut. A file is read whole: an email carries at most some megabytes.
fn attach(mail: &Mail, message: &str) -> Result<String, String> {
    use base64::Engine;
    if mail.files.is_empty() {
        return Ok(message.to_owned());
    }
    let parts = mail.files.iter();
    let parts = parts.map(|(_, file)| crate::kinds::files::FormPart::file("", file));
    super::upload::check(&crate::kinds::Upload::form(parts.collect()))?;
    let mut out = message.to_owned();
    for (marker, file) in &mail.files {
        let bytes = std::fs::read(&file.path)
            .map_err(|e| format!("the file {} cannot be read: {e}", file.name))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        // RFC 2045 §6.8: lines of at most 76 characters.
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        out = out.replacen(
            &format!("\r\n{marker}\r\n"),
            &format!("\r\n{}\r\n", lines.join("\r\n")),
            1,
        );
    }
    Ok(out)
}

/// `MAIL FROM` and `RCPT TO`, or why an address cannot be sent to.
fn envelope(mail: &Mail) -> Result<lettre::address::Envelope, String> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|_| format!("`{a}` is not an email address"))
    };
    let sender = parse(&mail.sender)?;
    let recipients = mail
        .recipients
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    lettre::address::Envelope::new(Some(sender), recipients).map_err(|_| {
        "the message has no recipient: `to`, --channel or the route's channel named none".to_owned()
    })
}

/// `message` to each recipient the server takes: one address refused for
/// good (550 no such user) is said in `refused` and the rest still get the
/// alert; if every one is refused, that refusal is the answer.
async fn to_each(
    connection: &mut AsyncSmtpConnection,
    envelope: &lettre::address::Envelope,
    message: &str,
    refused: &mut Vec<String>,
) -> Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error> {
    use lettre::transport::smtp::commands::{Data, Mail as MailFrom, Rcpt};
    connection
        .command(MailFrom::new(envelope.from().cloned(), vec![]))
        .await?;
    let mut last_refusal = None;
    for recipient in envelope.to() {
        match connection
            .command(Rcpt::new(recipient.clone(), vec![]))
            .await
        {
            Ok(_) => {}
            Err(err) if err.is_permanent() => {
                refused.push(format!("{recipient} ({})", deepest(&err)));
                last_refusal = Some(err);
            }
            Err(err) => return Err(err),
        }
    }
    if let Some(err) = last_refusal.filter(|_| refused.len() == envelope.to().len()) {
        refused.clear();
        return Err(err);
    }
    connection.command(Data).await?;
    connection.message(message.as_bytes()).await
}

/// A connection to `mail`'s server, greeted, secured and logged in, on a
/// socket whose reads are bounded (`bounded.rs`); `Ok(Err(why))` when the
/// server cannot be reached, which sent nothing.
async fn connect(
    mail: &Mail,
    ca: Option<&CaFile>,
) -> Result<Result<AsyncSmtpConnection, String>, lettre::transport::smtp::Error> {
    let tcp = match tokio::net::TcpStream::connect((mail.host.as_str(), mail.port)).await {
        Ok(tcp) => tcp,
        Err(err) => return Ok(Err(format!("cannot connect: {err}"))),
    };
    let _ = tcp.set_nodelay(true);
    let hello = ClientId::default();
    let socket: Box<dyn AsyncTokioStream> = match mail.tls {
        MailTls::Implicit => {
            let params = match tls_parameters(&mail.host, ca) {
                Ok(params) => params,
                Err(why) => return Ok(Err(why)),
            };
            #[allow(deprecated)]
            let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(Bounded::new(tcp)));
            if let Err(err) = stream.upgrade_tls(params).await {
                return Ok(Err(format!("cannot connect: {}", deepest(&err))));
            }
            Box::new(Secured(stream))
        }
        MailTls::Starttls | MailTls::None => Box::new(Bounded::new(tcp)),
    };
    let mut connection = AsyncSmtpConnection::connect_with_transport(socket, &hello).await?;
    if mail.tls == MailTls::Starttls {
        let params = match tls_parameters(&mail.host, ca) {
            Ok(params) => params,
            Err(why) => return Ok(Err(why)),
        };
        connection.starttls(params, &hello).await?;
    }
    if let Some(login) = &mail.login {
        let credentials = Credentials::new(login.user.clone(), login.secret.expose().to_owned());
        let mechanisms = match login.oauth2 {
            true => vec![Mechanism::Xoauth2],
            false => vec![Mechanism::Plain, Mechanism::Login],
        };
        connection.auth(&mechanisms, &credentials).await?;
    }
    Ok(Ok(connection))
}

/// TLS for `host`, trusting what HTTP trusts (the module's doc).
fn tls_parameters(host: &str, ca: Option<&CaFile>) -> Result<TlsParameters, String> {
    let with = |natives: &[Vec<u8>]| {
        let mut builder = TlsParameters::builder(host.to_owned())
            .certificate_store(CertificateStore::WebpkiRoots);
        for der in natives {
            if let Ok(certificate) = Certificate::from_der(der.clone()) {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(ca) = ca {
            let certificate = Certificate::from_pem(&ca.pem)
                .map_err(|_| format!("cannot use ca_file {}", ca.path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder.build_rustls().map_err(|err| deepest(&err))
    };
    // One certificate of the system's store that rustls refuses would
    // refuse them all: without the store, the rest still holds.
    with(system_roots()).or_else(|_| with(&[]))
}

/// The system's store, read once per run.
fn system_roots() -> &'static [Vec<u8>] {
    static ROOTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .map(|der| der.to_vec())
            .collect()
    })
}
