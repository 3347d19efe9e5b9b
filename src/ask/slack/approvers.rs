//! Who may answer a Slack question: user IDs as given, `@handle`s looked up
//! once (users.list, `users:read`) before anything is posted, user groups
//! checked then and their members read when a click needs them
//! (usergroups.users.list, `usergroups:read`).

use std::collections::HashMap;

use serde_json::Value;

use super::api::{Api, CallError, Patience};
use crate::ask::Context;
use crate::exit::{ExitCode, Failure};
use crate::report;

/// Pages of users.list read to find `@handle`s: 200 users each.
const MAX_USER_PAGES: usize = 50;

/// Who may answer, as a click carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Approvers {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Approvers {
    pub fn anyone(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// For the person refused: who may answer, as Slack mentions them.
    pub fn mentioned(&self) -> String {
        let users = self.users.iter().map(|u| format!("<@{u}>"));
        let groups = self.groups.iter().map(|g| format!("<!subteam^{g}>"));
        users.chain(groups).collect::<Vec<_>>().join(", ")
    }
}

/// User groups' members, read once per run.
#[derive(Default)]
pub struct Groups(HashMap<String, Vec<String>>);

impl Groups {
    /// Whether `user` is in `group`; a group that cannot be read counts no one.
    pub async fn has(&mut self, api: &Api, ctx: &Context<'_>, group: &str, user: &str) -> bool {
        if !self.0.contains_key(group) {
            match members(api, ctx, group).await {
                Ok(members) => {
                    self.0.insert(group.to_owned(), members);
                }
                Err(err) => {
                    let text = format!("cannot read user group {group}: {err}");
                    report::warning(ctx.output, &text);
                    return false;
                }
            }
        }
        self.0[group].iter().any(|member| member == user)
    }
}

/// Resolves `named` (IDs, `@handle`s, group IDs) before the question is
/// posted; a name that cannot be resolved stops the ask there (78).
pub async fn resolve(
    api: &Api,
    ctx: &Context<'_>,
    named: &[String],
    groups: &mut Groups,
) -> Result<Approvers, Failure> {
    let mut approvers = Approvers::default();
    let mut handles = Vec::new();
    for name in named {
        match kind_of(name) {
            Named::User => approvers.users.push(name.clone()),
            Named::Group => approvers.groups.push(name.clone()),
            Named::Handle(handle) => handles.push(handle),
        }
    }
    if !handles.is_empty() {
        approvers
            .users
            .extend(handles_to_ids(api, ctx, &handles).await?);
    }
    for group in &approvers.groups {
        let read = members(api, ctx, group).await;
        let found =
            read.map_err(|err| failure(&format!("user group {group}"), &err, "usergroups:read"))?;
        groups.0.insert(group.clone(), found);
    }
    approvers.users.sort();
    approvers.users.dedup();
    Ok(approvers)
}

async fn members(api: &Api, ctx: &Context<'_>, group: &str) -> Result<Vec<String>, CallError> {
    let form = [("usergroup", group)];
    let body = api
        .read(ctx, "usergroups.users.list", &form, Patience::Wait)
        .await?;
    Ok(strings(&body["users"]))
}

/// Each handle's user: the one person (not a bot, not deactivated) whose
/// username it is. Display names are not unique, so they do not count.
async fn handles_to_ids(
    api: &Api,
    ctx: &Context<'_>,
    handles: &[String],
) -> Result<Vec<String>, Failure> {
    let mut found: Vec<Vec<String>> = vec![Vec::new(); handles.len()];
    let mut cursor = String::new();
    for _ in 0..MAX_USER_PAGES {
        let form = [("limit", "200"), ("cursor", cursor.as_str())];
        let page = api
            .read(ctx, "users.list", &form, Patience::Wait)
            .await
            .map_err(|err| failure("@handles", &err, "users:read"))?;
        for member in page["members"].as_array().into_iter().flatten() {
            if member["deleted"] == true || member["is_bot"] == true {
                continue;
            }
            let (Some(name), Some(id)) = (member["name"].as_str(), member["id"].as_str()) else {
                continue;
            };
            for (i, handle) in handles.iter().enumerate() {
                if name.eq_ignore_ascii_case(handle) {
                    found[i].push(id.to_owned());
                }
            }
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    handles
        .iter()
        .zip(found)
        .map(|(handle, ids)| one_user(handle, ids))
        .collect()
}

fn one_user(handle: &str, mut ids: Vec<String>) -> Result<String, Failure> {
    let hint = "give the user's ID (U…, from their profile's ⋮ → Copy member ID)";
    match ids.len() {
        1 => Ok(ids.remove(0)),
        0 => Err(
            Failure::config(format!("approver @{handle}: no such user in the workspace"))
                .with_hint(format!("{hint}, or their exact username")),
        ),
        _ => Err(Failure::config(format!(
            "approver @{handle}: {} users have that username ({})",
            ids.len(),
            ids.join(", ")
        ))
        .with_hint(hint)),
    }
}

pub fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().into_iter().flatten();
    items
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// What an approver's name is.
enum Named {
    /// A user ID: `U…` or, on Enterprise Grid, `W…`.
    User,
    /// A user group ID: `S…`.
    Group,
    /// A handle, `@name` or `name`, to look up.
    Handle(String),
}

fn kind_of(name: &str) -> Named {
    let id_like = |rest: &str| {
        rest.len() >= 6
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    match name.split_at_checked(1) {
        Some(("U" | "W", rest)) if id_like(rest) => Named::User,
        Some(("S", rest)) if id_like(rest) => Named::Group,
        _ => Named::Handle(name.trim_start_matches('@').to_owned()),
    }
}

fn failure(what: &str, err: &CallError, scope: &str) -> Failure {
    let failure = Failure::config(format!("cannot resolve the approvers' {what}: {err}"));
    match err {
        CallError::Slack { code, .. } if code == "missing_scope" => failure.with_hint(format!(
            "add the {scope} scope to the Slack app and reinstall it"
        )),
        CallError::Slack { code, .. } if code == "no_such_subteam" => {
            failure.with_hint("check the user group's ID (S…)")
        }
        CallError::Failed(_) | CallError::Limited(_) => {
            Failure::new(ExitCode::TempFail, failure.message)
        }
        CallError::Slack { .. } => failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvers_are_told_apart_by_their_shape() {
        assert!(matches!(kind_of("U0123ABCD"), Named::User));
        assert!(matches!(kind_of("W0123ABCD"), Named::User));
        assert!(matches!(kind_of("S0123ABCD"), Named::Group));
        assert!(matches!(kind_of("@alice"), Named::Handle(h) if h == "alice"));
        assert!(matches!(kind_of("Sam"), Named::Handle(h) if h == "Sam"));
    }

    #[test]
    fn a_handle_two_people_have_is_refused_rather_than_guessed() {
        assert_eq!(one_user("al", vec!["U1".into()]).unwrap(), "U1");
        assert!(one_user("al", vec![]).is_err());
        let two = one_user("al", vec!["U1".into(), "U2".into()]).unwrap_err();
        assert!(two.message.contains("2 users"), "{}", two.message);
    }
}
