//! A stand-in for the Healthchecks.io pinging API (PLATFORMS.md, "Healthchecks.io"),
//! mounted on the bed under `/hc/`, so a check's ping URL is `{bed}/hc/{uuid}`.
//!
//! It answers as healthchecks/healthchecks does (`hc/api/urls.py`, `hc/api/views.py`
//! `ping`): `/{uuid}`, `/{uuid}/start`, `/{uuid}/fail`, `/{uuid}/log` and
//! `/{uuid}/{exit status}` with GET, HEAD or POST; an unknown check is 404 "not found";
//! an exit status over 255 is 400 "invalid url format"; a `rid` that is not a UUID is
//! 400 "invalid uuid format"; a success answers "OK", the others their action
//! capitalised ("Start", "Fail", "Log"). Every answer carries `Ping-Body-Limit`, and the
//! body is kept to that many bytes (the server keeps the start). hc-ping.com answers 429
//! past its rate limit; that is the bed's `Fault::RateLimit`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::bed::{Answer, Bed, Request, Surface};

pub const PREFIX: &str = "/hc/";
/// A check the stand-in knows.
pub const CHECK: &str = "5c2f7b1e-8d4a-4f0e-9b6a-2d3c4e5f6a7b";
/// A self-hosted server's default body limit (`PING_BODY_LIMIT`); hc-ping.com keeps 100 kB.
pub const BODY_LIMIT: usize = 10_000;

/// One ping the server logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    pub check: String,
    /// "success", "start", "fail" or "log".
    pub action: String,
    pub exit_status: Option<u16>,
    pub rid: Option<String>,
    pub body: String,
}

#[derive(Default)]
pub struct Healthchecks {
    pings: Mutex<Vec<Ping>>,
}

impl Healthchecks {
    pub fn mount(bed: &Bed) -> Arc<Healthchecks> {
        let hc = Arc::new(Healthchecks::default());
        bed.mount(PREFIX, Arc::clone(&hc) as Arc<dyn Surface>);
        hc
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Ping>> {
        self.pings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pings logged, in order.
    pub fn pings(&self) -> Vec<Ping> {
        self.lock().clone()
    }
}

fn text(status: u16, body: &str) -> Answer {
    Answer::new(status, "text/html; charset=utf-8", body).header("ping-body-limit", "10000")
}

/// Whether `s` is a UUID as `is_valid_uuid_string` reads one (canonical, hyphenated).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn rid_of(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("rid="))
}

impl Surface for Healthchecks {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        if !["GET", "HEAD", "POST"].contains(&request.method.as_str()) {
            return text(405, "");
        }
        let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
        let (check, action) = rest.split_once('/').unwrap_or((rest, ""));
        if check != CHECK {
            return text(404, "not found");
        }
        if let Err(secs) = limit(&request.path) {
            return self.throttled(secs);
        }
        let (action, exit_status) = match action {
            "" => ("success", None),
            "start" | "fail" | "log" => (action, None),
            digits if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
                let status: u16 = digits.parse().unwrap_or(u16::MAX);
                if status > 255 {
                    return text(400, "invalid url format");
                }
                (if status == 0 { "success" } else { "fail" }, Some(status))
            }
            _ => return text(404, "not found"),
        };
        let rid = rid_of(request.query.as_deref());
        if rid.is_some_and(|rid| !is_uuid(rid)) {
            return text(400, "invalid uuid format");
        }
        let kept = &request.body[..request.body.len().min(BODY_LIMIT)];
        self.lock().push(Ping {
            check: check.to_owned(),
            action: action.to_owned(),
            exit_status,
            rid: rid.map(str::to_owned),
            body: String::from_utf8_lossy(kept).into_owned(),
        });
        let said = match action {
            "success" => "OK".to_owned(),
            other => format!("{}{}", other[..1].to_uppercase(), &other[1..]),
        };
        text(200, &said).delivered()
    }

    fn throttled(&self, secs: u64) -> Answer {
        text(429, "rate limited").retry_after(secs)
    }
}
