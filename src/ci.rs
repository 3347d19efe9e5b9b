//! CI context: which CI system chime runs in, and what it says about the run.
//!
//! Each provider is recognised by the variables its documentation promises
//! (GitHub Actions, GitLab CI, CircleCI, Buildkite, Jenkins, Azure Pipelines,
//! Bitbucket Pipelines). Templates get `ci.provider`, `ci.repo`, `ci.branch`,
//! `ci.commit`, `ci.run_url`, `ci.job`, `ci.actor` (and `ci.run_id`); the
//! default rendering adds a "repo@branch · commit" context line and a
//! "View run" link, and `--thread` without a key threads by the run.

use serde::Serialize;

use crate::fields::EnvVars;
use crate::message::{Link, Message};

/// What a CI system says about the current run; empty strings where it says nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ci {
    pub provider: &'static str,
    pub repo: String,
    pub branch: String,
    pub commit: String,
    pub run_url: String,
    pub job: String,
    pub actor: String,
    pub run_id: String,
}

impl Ci {
    /// The CI system chime is running in, if any.
    pub fn detect(env: &EnvVars) -> Option<Ci> {
        let vars = Vars(env);
        PROVIDERS.iter().find_map(|provider| provider(&vars))
    }

    /// In CI, a message says which run it comes from and links to it.
    pub fn annotate(&self, message: &mut Message) {
        message.context.push(self.context());
        // The run's URL comes from the environment: a link like any other.
        let Ok(run) = Link::parse("View run", &self.run_url) else {
            return;
        };
        if !message.links.iter().any(|l| l.url == run.url) {
            message.links.push(run);
        }
    }

    /// "repo@branch · abc1234", for a context line.
    pub fn context(&self) -> String {
        let short: String = self.commit.chars().take(7).collect();
        match (self.repo.is_empty(), short.is_empty()) {
            (false, false) => format!("{}@{} · {short}", self.repo, self.branch),
            (false, true) => format!("{}@{}", self.repo, self.branch),
            _ => short,
        }
    }

    /// The default `--thread` key inside CI: one thread per run.
    pub fn thread_key(&self) -> String {
        format!("ci-{}-{}", self.provider, self.run_id)
    }
}

/// The providers, in the order they are tried: each says whether it is the
/// one running and, if so, what it knows about the run.
const PROVIDERS: &[fn(&Vars) -> Option<Ci>] = &[
    github, gitlab, circleci, buildkite, azure, bitbucket, jenkins,
];

/// The environment as a provider reads it: an unset variable is empty.
struct Vars<'a>(&'a EnvVars);

impl Vars<'_> {
    fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }

    fn set(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.is_empty())
    }
}

fn github(v: &Vars) -> Option<Ci> {
    if v.get("GITHUB_ACTIONS") != "true" {
        return None;
    }
    let server =
        v.0.get("GITHUB_SERVER_URL")
            .cloned()
            .unwrap_or_else(|| "https://github.com".into());
    Some(Ci {
        provider: "github",
        run_url: format!(
            "{server}/{}/actions/runs/{}",
            v.get("GITHUB_REPOSITORY"),
            v.get("GITHUB_RUN_ID")
        ),
        repo: v.get("GITHUB_REPOSITORY"),
        branch: first(&[v.get("GITHUB_HEAD_REF"), v.get("GITHUB_REF_NAME")]),
        commit: v.get("GITHUB_SHA"),
        job: v.get("GITHUB_JOB"),
        actor: v.get("GITHUB_ACTOR"),
        run_id: v.get("GITHUB_RUN_ID"),
    })
}

fn gitlab(v: &Vars) -> Option<Ci> {
    (v.get("GITLAB_CI") == "true").then(|| Ci {
        provider: "gitlab",
        repo: v.get("CI_PROJECT_PATH"),
        branch: v.get("CI_COMMIT_REF_NAME"),
        commit: v.get("CI_COMMIT_SHA"),
        run_url: first(&[v.get("CI_PIPELINE_URL"), v.get("CI_JOB_URL")]),
        job: v.get("CI_JOB_NAME"),
        actor: v.get("GITLAB_USER_LOGIN"),
        run_id: v.get("CI_PIPELINE_ID"),
    })
}

fn circleci(v: &Vars) -> Option<Ci> {
    (v.get("CIRCLECI") == "true").then(|| Ci {
        provider: "circleci",
        repo: format!(
            "{}/{}",
            v.get("CIRCLE_PROJECT_USERNAME"),
            v.get("CIRCLE_PROJECT_REPONAME")
        ),
        branch: v.get("CIRCLE_BRANCH"),
        commit: v.get("CIRCLE_SHA1"),
        run_url: v.get("CIRCLE_BUILD_URL"),
        job: v.get("CIRCLE_JOB"),
        actor: v.get("CIRCLE_USERNAME"),
        run_id: first(&[v.get("CIRCLE_WORKFLOW_ID"), v.get("CIRCLE_BUILD_NUM")]),
    })
}

fn buildkite(v: &Vars) -> Option<Ci> {
    (v.get("BUILDKITE") == "true").then(|| Ci {
        provider: "buildkite",
        repo: first(&[v.get("BUILDKITE_PIPELINE_SLUG"), v.get("BUILDKITE_REPO")]),
        branch: v.get("BUILDKITE_BRANCH"),
        commit: v.get("BUILDKITE_COMMIT"),
        run_url: v.get("BUILDKITE_BUILD_URL"),
        job: v.get("BUILDKITE_LABEL"),
        actor: v.get("BUILDKITE_BUILD_CREATOR"),
        run_id: v.get("BUILDKITE_BUILD_ID"),
    })
}

fn azure(v: &Vars) -> Option<Ci> {
    v.get("TF_BUILD").eq_ignore_ascii_case("true").then(|| Ci {
        provider: "azure",
        repo: v.get("BUILD_REPOSITORY_NAME"),
        branch: v.get("BUILD_SOURCEBRANCHNAME"),
        commit: v.get("BUILD_SOURCEVERSION"),
        run_url: format!(
            "{}{}/_build/results?buildId={}",
            v.get("SYSTEM_COLLECTIONURI"),
            v.get("SYSTEM_TEAMPROJECT"),
            v.get("BUILD_BUILDID")
        ),
        job: v.get("SYSTEM_JOBDISPLAYNAME"),
        actor: v.get("BUILD_REQUESTEDFOR"),
        run_id: v.get("BUILD_BUILDID"),
    })
}

fn bitbucket(v: &Vars) -> Option<Ci> {
    v.set("BITBUCKET_BUILD_NUMBER").then(|| Ci {
        provider: "bitbucket",
        run_url: format!(
            "https://bitbucket.org/{}/pipelines/results/{}",
            v.get("BITBUCKET_REPO_FULL_NAME"),
            v.get("BITBUCKET_BUILD_NUMBER")
        ),
        repo: v.get("BITBUCKET_REPO_FULL_NAME"),
        branch: v.get("BITBUCKET_BRANCH"),
        commit: v.get("BITBUCKET_COMMIT"),
        job: v.get("BITBUCKET_STEP_UUID"),
        actor: v.get("BITBUCKET_STEP_TRIGGERER_UUID"),
        run_id: v.get("BITBUCKET_BUILD_NUMBER"),
    })
}

fn jenkins(v: &Vars) -> Option<Ci> {
    v.set("JENKINS_URL").then(|| Ci {
        provider: "jenkins",
        repo: v.get("GIT_URL"),
        branch: first(&[v.get("BRANCH_NAME"), v.get("GIT_BRANCH")]),
        commit: v.get("GIT_COMMIT"),
        run_url: v.get("BUILD_URL"),
        job: v.get("JOB_NAME"),
        actor: v.get("BUILD_USER_ID"),
        run_id: v.get("BUILD_TAG"),
    })
}

fn first(candidates: &[String]) -> String {
    candidates
        .iter()
        .find(|c| !c.is_empty())
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn github_actions_is_recognised_with_its_run_url() {
        let ci = Ci::detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", "0123456789abcdef"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SERVER_URL", "https://github.com"),
        ]))
        .unwrap();
        assert_eq!(ci.run_url, "https://github.com/acme/app/actions/runs/42");
        assert_eq!(ci.context(), "acme/app@main · 0123456");
        assert_eq!(ci.thread_key(), "ci-github-42");
    }

    #[test]
    fn gitlab_and_nothing_at_all() {
        let ci = Ci::detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_URL", "https://gl/p/1"),
        ]))
        .unwrap();
        assert_eq!(
            (ci.provider, ci.run_url.as_str()),
            ("gitlab", "https://gl/p/1")
        );
        assert_eq!(Ci::detect(&env(&[("HOME", "/root")])), None);
    }
}
