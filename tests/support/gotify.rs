//! A stand-in for a Gotify server's `POST /message` (PLATFORMS.md, "Gotify"), mounted on the
//! bed under `/gotify/`, so a profile's `url` is `{bed}/gotify`.
//!
//! It answers as gotify/server does (`router/router.go`, `auth/authentication.go`,
//! `api/message.go`, `error/handler.go`): the token is read from `?token=`, then
//! `X-Gotify-Key`, then `Authorization: Bearer`; an unknown one is 401, a client token
//! without `appid` is 400; the body is bound as JSON by its content type, a missing or
//! empty `message` is 400 "Field 'message' is required", a value of the wrong type 400
//! with Go's unmarshal error; an empty title becomes the application's name and a
//! missing priority its default. Errors are Gotify's `{error, errorCode,
//! errorDescription}`; any other path is its 404 "page not found". The message and title
//! are kept in `text` columns, as on MySQL/MariaDB in strict mode, so more than 65,535
//! bytes is a 500 "Data too long". Gotify itself never answers 429.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::bed::{Answer, Request, Surface};

pub const PREFIX: &str = "/gotify/";
/// An application token as Gotify makes them: "A" and 14 more characters.
pub const APP_TOKEN: &str = "AfakeGotifyTok1";
/// A client token ("C…"), which may send only with an `appid`.
pub const CLIENT_TOKEN: &str = "CfakeClientTok1";
const APP_NAME: &str = "chime-tests";
const APP_ID: u64 = 5;
const DEFAULT_PRIORITY: i64 = 0;
/// MySQL's `text` column, where Gotify keeps a message's title and text.
pub const TEXT_MAX: usize = 65_535;

/// One message the server stored.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: u64,
    pub title: String,
    pub message: String,
    pub priority: i64,
    pub extras: Value,
    /// Where the token came from: "query", "header" or "bearer".
    pub token_from: &'static str,
}

#[derive(Default)]
pub struct Gotify {
    stored: Mutex<Vec<Stored>>,
}

impl Gotify {
    pub fn new() -> Arc<Gotify> {
        Arc::new(Gotify::default())
    }

    fn stored_lock(&self) -> MutexGuard<'_, Vec<Stored>> {
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was stored, in order.
    pub fn stored(&self) -> Vec<Stored> {
        self.stored_lock().clone()
    }
}

/// Gotify's error JSON (`model.Error`), its `error` the status text.
pub fn error_body(status: u16, description: &str) -> Value {
    let text = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    json!({"error": text, "errorCode": status, "errorDescription": description})
}

fn fail(status: u16, description: &str) -> Answer {
    Answer::json_status(status, &error_body(status, description))
}

/// The token as `readTokenFromRequest` finds it, and where.
fn token(request: &Request) -> Option<(String, &'static str)> {
    let query = request.query.as_deref().unwrap_or("");
    if let Some(t) = query.split('&').find_map(|p| p.strip_prefix("token=")) {
        return Some((t.to_owned(), "query"));
    }
    if let Some(t) = request.header("x-gotify-key") {
        return Some((t.to_owned(), "header"));
    }
    let auth = request.header("authorization")?;
    let bearer = auth
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))?;
    Some((auth[bearer.len()..].to_owned(), "bearer"))
}

impl Surface for Gotify {
    fn answer(&self, request: &Request, _limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        if request.path != "/gotify/message" || request.method != "POST" {
            return fail(404, "page not found");
        }
        let unauthorized =
            "you need to provide a valid access token or user credentials to access this api";
        let Some((token, token_from)) = token(request) else {
            return fail(401, unauthorized);
        };
        let client = token == CLIENT_TOKEN;
        if token != APP_TOKEN && !client {
            return fail(401, unauthorized);
        }
        let json = request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        // Anything else is bound as a form, which chime never sends: no `message` in it.
        let body: Value = if json {
            match serde_json::from_slice(&request.body) {
                Ok(body @ Value::Object(_)) => body,
                Ok(_) => {
                    return fail(
                        400,
                        "json: cannot unmarshal into Go value of type model.CreateMessage",
                    );
                }
                Err(e) => return fail(400, &e.to_string()),
            }
        } else {
            json!({})
        };
        let wrong = |field: &str, go: &str| {
            let description = format!(
                "json: cannot unmarshal into Go struct field CreateMessage.{field} of type {go}"
            );
            fail(400, &description)
        };
        let message = match &body["message"] {
            Value::String(m) => m.clone(),
            Value::Null => String::new(),
            _ => return wrong("message", "string"),
        };
        let title = match &body["title"] {
            Value::String(t) => t.clone(),
            Value::Null => String::new(),
            _ => return wrong("title", "string"),
        };
        let priority = match &body["priority"] {
            Value::Null => DEFAULT_PRIORITY,
            p => match p.as_i64() {
                Some(p) => p,
                None => return wrong("priority", "int"),
            },
        };
        let extras = match &body["extras"] {
            e @ (Value::Object(_) | Value::Null) => e.clone(),
            _ => return wrong("extras", "map[string]interface {}"),
        };
        if message.is_empty() {
            return fail(400, "Field 'message' is required");
        }
        if client && body["appid"].as_u64() != Some(APP_ID) {
            return fail(
                400,
                "appid is required when not authenticating with an application token",
            );
        }
        for (column, value) in [("message", &message), ("title", &title)] {
            if value.len() > TEXT_MAX {
                let description =
                    format!("Error 1406 (22001): Data too long for column '{column}' at row 1");
                return fail(500, &description);
            }
        }
        let title = if title.trim().is_empty() {
            APP_NAME.to_owned()
        } else {
            title
        };
        let mut stored = self.stored_lock();
        let id = stored.len() as u64 + 1;
        stored.push(Stored {
            id,
            title: title.clone(),
            message: message.clone(),
            priority,
            extras: extras.clone(),
            token_from,
        });
        let mut answer = json!({"id": id, "appid": APP_ID, "message": message, "title": title,
            "priority": priority, "date": "2026-12-03T18:00:00.000000000Z"});
        if extras.is_object() {
            answer["extras"] = extras;
        }
        Answer::json(&answer).delivered()
    }
}
