//! The HTTP clients a run sends through, and what a failure on the wire means.
//!
//! Every client trusts the built-in (webpki) roots and the system's store,
//! which `SSL_CERT_FILE` and `SSL_CERT_DIR` replace as OpenSSL's do
//! (rustls-native-certs reads them). A destination with a `ca_file` trusts its
//! CA too, and one with a `proxy` goes through it (or direct, for `"none"`;
//! without one, reqwest honours HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and
//! NO_PROXY), each in a client of its own: one client per distinct setting,
//! built the first time a destination with that setting sends and kept for the
//! whole run, so keep-alive holds across a flush or a pipe and a plain send
//! builds one client, as before. Building is lazy because reading the system
//! store costs a few milliseconds that a run that sends nothing need not pay;
//! for the same reason an `http://` destination gets a client without roots.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::config::{CaFile, ProxyChoice};

/// A destination's `ca_file` and `proxy` settings, for its client, and
/// whether it needs roots at all.
type Setting = (Option<PathBuf>, Option<String>, bool);

/// One client per (`ca_file`, `proxy`) setting, built on first use.
#[derive(Default)]
pub struct Clients {
    built: Mutex<BTreeMap<Setting, reqwest::Client>>,
    /// Whether a large upload shows a progress bar: at a terminal, not `-q`.
    pub show_progress: bool,
}

impl Clients {
    pub fn new() -> Clients {
        Clients::default()
    }

    /// Clients whose large uploads show a progress bar when `output` allows.
    pub fn showing(output: crate::report::Output) -> Clients {
        Clients {
            show_progress: !output.quiet && output.stderr_is_terminal,
            ..Clients::default()
        }
    }

    /// The client for `destination`'s setting (a cheap handle on a shared pool).
    pub fn get(
        &self,
        ca_file: Option<&CaFile>,
        proxy: Option<&ProxyChoice>,
        plain: bool,
    ) -> Result<reqwest::Client, String> {
        let key = (
            ca_file.map(|ca| ca.path.clone()),
            proxy.map(|p| p.key().to_owned()),
            plain,
        );
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = built.get(&key) {
            return Ok(client.clone());
        }
        let client = build(ca_file, proxy, plain)?;
        built.insert(key, client.clone());
        Ok(client)
    }
}

/// A `plain` client is for `http://` only, and loads no roots: reading the
/// system's store costs more than the rest of a send to a local server.
fn build(
    ca: Option<&CaFile>,
    proxy: Option<&ProxyChoice>,
    plain: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(!plain)
        .user_agent(concat!("chime/", env!("CARGO_PKG_VERSION")))
        // A webhook that redirects is misconfigured, and following a POST
        // redirect would turn it into a GET that posts nothing.
        .redirect(reqwest::redirect::Policy::none());
    // Without a setting of its own, reqwest reads HTTPS_PROXY, HTTP_PROXY,
    // ALL_PROXY and NO_PROXY (either case; not in a CGI script).
    builder = match proxy {
        None => builder,
        Some(ProxyChoice::Direct) => builder.no_proxy(),
        Some(ProxyChoice::Via(url)) => match reqwest::Proxy::all(url.expose()) {
            Ok(proxy) => builder.proxy(proxy),
            Err(_) => return Err(format!("cannot use proxy {url}")),
        },
    };
    for certificate in ca.map_or(&[][..], |ca| &ca.certificates) {
        builder = builder.add_root_certificate(certificate.clone());
    }
    builder.build().map_err(|err| {
        let detail = std::error::Error::source(&err).map_or(err.to_string(), |s| s.to_string());
        format!("cannot set up TLS: {detail} (check SSL_CERT_FILE and SSL_CERT_DIR)")
    })
}

/// The proxy reqwest takes from the environment for `url`, for `-v`: its
/// variable and its address, credentials masked. Read as reqwest reads them
/// (`HTTPS_PROXY` or `HTTP_PROXY` by scheme, then `ALL_PROXY`, either case;
/// `NO_PROXY` names hosts, domains with their subdomains, or `*`).
pub fn env_proxy(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let var = |name: &str| {
        [name.to_owned(), name.to_lowercase()]
            .into_iter()
            .find_map(|n| {
                std::env::var(&n)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| (n, v))
            })
    };
    if var("NO_PROXY").is_some_and(|(_, list)| bypassed(host, &list)) {
        return None;
    }
    let by_scheme = match parsed.scheme() {
        "https" => "HTTPS_PROXY",
        _ => "HTTP_PROXY",
    };
    let (name, proxy) = var(by_scheme).or_else(|| var("ALL_PROXY"))?;
    Some(format!(
        "{} (from {name})",
        crate::secret::redact_url(&proxy)
    ))
}

/// Whether `NO_PROXY`'s `list` sends `host` direct.
fn bypassed(host: &str, list: &str) -> bool {
    list.split(',').map(str::trim).any(|entry| {
        let domain = entry.trim_start_matches("*.").trim_start_matches('.');
        entry == "*"
            || (!domain.is_empty()
                && (host.eq_ignore_ascii_case(domain)
                    || host
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", domain.to_ascii_lowercase()))))
    })
}

/// What to do about a server certificate chime does not trust, for the
/// destination `name` it happened on: `None` when `detail` is not about one.
pub fn certificate_hint(detail: &str, name: &str, ca_file: Option<&CaFile>) -> Option<String> {
    if !detail.contains("invalid peer certificate") {
        return None;
    }
    let fix = match ca_file {
        Some(ca) => format!(
            "the server's certificate is not signed by the CA in {} (ca_file of `{name}`), \
             the system's store or the built-in roots: point ca_file at the CA that signs it",
            ca.path.display()
        ),
        None => format!(
            "the server's certificate is not signed by a CA chime trusts (the system's store \
             and the built-in roots): for a private CA, add `ca_file = \"/path/to/ca.pem\"` \
             to destination `{name}`, or point SSL_CERT_FILE at a bundle that holds it"
        ),
    };
    Some(fix)
}

/// Says what went wrong on the wire without the URL, which may be a secret.
pub(super) fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(&err);
    let mut deepest = None;
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    match deepest {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_owned(),
    }
}
