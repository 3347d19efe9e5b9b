//! Flag values clap cannot read alone: sizes, durations, pairs, links.

pub(super) fn parse_regex(s: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(s).map_err(|e| e.to_string())
}

/// `64MiB`, `512KiB`, `1GiB`, `1000` (bytes).
pub(super) fn parse_size(s: &str) -> Result<usize, String> {
    crate::kinds::files::parse_size(s).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

pub(super) fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// A `--file-url`: an http(s) URL, named by the last part of its path.
pub(super) fn parse_file_url(s: &str) -> Result<(String, String), String> {
    let path = s.split(['?', '#']).next().unwrap_or(s);
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("file");
    let link = crate::message::Link::parse(&format!("📎 {name}"), s)?;
    Ok((link.label, link.url))
}

pub(super) fn parse_link(s: &str) -> Result<(String, String), String> {
    let (label, url) = parse_pair(s).map_err(|_| format!("expected LABEL=URL, got `{s}`"))?;
    let link = crate::message::Link::parse(&label, &url)?;
    Ok((link.label, link.url))
}

/// A `--timeout`: a duration longer than zero, which would make every send
/// give up at once and queue.
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        zero if zero.is_zero() => Err(format!(
            "`{s}` must be longer than 0: every send would give up at once"
        )),
        timeout => Ok(timeout),
    }
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 10s or 2m: {e}"))?;
    // Far past any wait worth having, and short of the clock's overflow.
    if duration > crate::config::MAX_DURATION {
        return Err(format!("`{s}` is too long: at most 100 years"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_splits_at_the_first_equals_sign() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("novalue").is_err());
    }
}
