//! A destination's `ca_file`: the certificates of a private CA that its server's
//! certificate is signed by, trusted for that destination on top of the
//! built-in roots and the system's store (issue 12).
//!
//! The file is read and checked when the profile loads, so a path that is
//! missing, unreadable or holds no usable certificate is a profile problem
//! (exit 78, and `chime config check` finds it), never a send that fails at
//! the TLS handshake. A relative path is relative to the profile's directory.
//! Building the HTTP client that trusts it is `deliver`'s.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Problem;

/// A destination's `proxy`, which overrides HTTPS_PROXY, HTTP_PROXY,
/// ALL_PROXY and NO_PROXY for it: `""` or `"none"` sends it direct.
#[derive(Clone, Debug)]
pub enum ProxyChoice {
    Direct,
    /// The proxy URL, credentials and all: shown redacted.
    Via(crate::secret::Secret),
}

impl ProxyChoice {
    /// What tells two settings apart.
    pub fn key(&self) -> &str {
        match self {
            ProxyChoice::Direct => "",
            ProxyChoice::Via(url) => url.expose(),
        }
    }
}

/// Reads `proxy` for destination `name`.
fn proxy(
    name: &str,
    value: &Spanned<toml::Value>,
    problems: &mut Vec<Problem>,
) -> Option<ProxyChoice> {
    let written = value.get_ref().as_str().map(str::trim);
    let choice = match written {
        Some("" | "none") => return Some(ProxyChoice::Direct),
        Some(url) if reqwest::Proxy::all(url).is_ok() && url.contains("://") => {
            return Some(ProxyChoice::Via(crate::secret::Secret::url(url.to_owned())));
        }
        _ => None,
    };
    let message = format!(
        "destination `{name}`: `proxy` must be a URL such as \"http://proxy.corp:3128\", or \"none\""
    );
    problems.push(Problem::new(Some(value.span()), message));
    choice
}

/// A PEM bundle is a few KiB; a system bundle some hundred. More is a mistake.
const MAX_CA_FILE: u64 = 4 << 20;

/// The private CA a destination trusts, read and checked.
#[derive(Clone, Debug)]
pub struct CaFile {
    /// As resolved: what messages name, and what tells two settings apart.
    pub path: PathBuf,
    pub certificates: Vec<reqwest::Certificate>,
    /// The file as read, for a client that is not reqwest's (email's SMTP).
    pub pem: Vec<u8>,
}

/// Takes `ca_file` and `proxy`, which every kind has, out of destination
/// `name`'s table.
pub(super) fn settings(
    name: &str,
    table: &mut crate::fields::Table,
    profile: &Path,
    problems: &mut Vec<Problem>,
) -> (Option<CaFile>, Option<ProxyChoice>) {
    let whose = format!("destination `{name}`");
    let ca = table
        .remove("ca_file")
        .and_then(|value| ca_file(&whose, &value, profile, problems));
    let proxy = table
        .remove("proxy")
        .and_then(|value| proxy(name, &value, problems));
    (ca, proxy)
}

/// Reads `ca_file` for `whose` ("destination `ops`"), recording a problem
/// where it is when the file cannot be used.
pub(super) fn ca_file(
    whose: &str,
    value: &Spanned<toml::Value>,
    profile: &Path,
    problems: &mut Vec<Problem>,
) -> Option<CaFile> {
    let Some(written) = value.get_ref().as_str() else {
        let message = format!("{whose}: `ca_file` must be a path, as a string");
        problems.push(Problem::new(Some(value.span()), message));
        return None;
    };
    let base = profile.parent().unwrap_or(Path::new("."));
    let path = base.join(written);
    match read(&path) {
        Ok((certificates, pem)) => Some(CaFile {
            path,
            certificates,
            pem,
        }),
        Err(why) => {
            let message = format!("{whose}: cannot use ca_file {}: {why}", path.display());
            let help = "give the PEM file of the CA that signs the server's certificate \
                        (a relative path is relative to the profile's directory)";
            problems.push(Problem::new(Some(value.span()), message).help(help));
            None
        }
    }
}

fn read(path: &Path) -> Result<(Vec<reqwest::Certificate>, Vec<u8>), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("it is not a regular file".into());
    }
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| e.to_string())?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err("it is larger than 4 MiB".into());
    }
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| "it is not a PEM file of certificates".to_owned())?;
    if certificates.is_empty() {
        return Err("it holds no certificate (no -----BEGIN CERTIFICATE----- block)".into());
    }
    // Trusting them is where a malformed certificate shows: try it now, on a
    // client without any other roots, which costs next to nothing.
    let mut builder = reqwest::Client::builder().tls_built_in_root_certs(false);
    for certificate in &certificates {
        builder = builder.add_root_certificate(certificate.clone());
    }
    builder
        .build()
        .map_err(|_| "it holds a certificate that cannot be trusted as a CA".to_owned())?;
    Ok((certificates, pem))
}
