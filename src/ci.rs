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
        let get = |name: &str| env.get(name).cloned().unwrap_or_default();
        let set = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
        let ci = if get("GITHUB_ACTIONS") == "true" {
            let server = env
                .get("GITHUB_SERVER_URL")
                .cloned()
                .unwrap_or_else(|| "https://github.com".into());
            Ci {
                provider: "github",
                run_url: format!(
                    "{server}/{}/actions/runs/{}",
                    get("GITHUB_REPOSITORY"),
                    get("GITHUB_RUN_ID")
                ),
                repo: get("GITHUB_REPOSITORY"),
                branch: first(&[get("GITHUB_HEAD_REF"), get("GITHUB_REF_NAME")]),
                commit: get("GITHUB_SHA"),
                job: get("GITHUB_JOB"),
                actor: get("GITHUB_ACTOR"),
                run_id: get("GITHUB_RUN_ID"),
            }
        } else if get("GITLAB_CI") == "true" {
            Ci {
                provider: "gitlab",
                repo: get("CI_PROJECT_PATH"),
                branch: get("CI_COMMIT_REF_NAME"),
                commit: get("CI_COMMIT_SHA"),
                run_url: first(&[get("CI_PIPELINE_URL"), get("CI_JOB_URL")]),
                job: get("CI_JOB_NAME"),
                actor: get("GITLAB_USER_LOGIN"),
                run_id: get("CI_PIPELINE_ID"),
            }
        } else if get("CIRCLECI") == "true" {
            Ci {
                provider: "circleci",
                repo: format!(
                    "{}/{}",
                    get("CIRCLE_PROJECT_USERNAME"),
                    get("CIRCLE_PROJECT_REPONAME")
                ),
                branch: get("CIRCLE_BRANCH"),
                commit: get("CIRCLE_SHA1"),
                run_url: get("CIRCLE_BUILD_URL"),
                job: get("CIRCLE_JOB"),
                actor: get("CIRCLE_USERNAME"),
                run_id: first(&[get("CIRCLE_WORKFLOW_ID"), get("CIRCLE_BUILD_NUM")]),
            }
        } else if get("BUILDKITE") == "true" {
            Ci {
                provider: "buildkite",
                repo: first(&[get("BUILDKITE_PIPELINE_SLUG"), get("BUILDKITE_REPO")]),
                branch: get("BUILDKITE_BRANCH"),
                commit: get("BUILDKITE_COMMIT"),
                run_url: get("BUILDKITE_BUILD_URL"),
                job: get("BUILDKITE_LABEL"),
                actor: get("BUILDKITE_BUILD_CREATOR"),
                run_id: get("BUILDKITE_BUILD_ID"),
            }
        } else if get("TF_BUILD").eq_ignore_ascii_case("true") {
            Ci {
                provider: "azure",
                repo: get("BUILD_REPOSITORY_NAME"),
                branch: get("BUILD_SOURCEBRANCHNAME"),
                commit: get("BUILD_SOURCEVERSION"),
                run_url: format!(
                    "{}{}/_build/results?buildId={}",
                    get("SYSTEM_COLLECTIONURI"),
                    get("SYSTEM_TEAMPROJECT"),
                    get("BUILD_BUILDID")
                ),
                job: get("SYSTEM_JOBDISPLAYNAME"),
                actor: get("BUILD_REQUESTEDFOR"),
                run_id: get("BUILD_BUILDID"),
            }
        } else if set("BITBUCKET_BUILD_NUMBER") {
            Ci {
                provider: "bitbucket",
                run_url: format!(
                    "https://bitbucket.org/{}/pipelines/results/{}",
                    get("BITBUCKET_REPO_FULL_NAME"),
                    get("BITBUCKET_BUILD_NUMBER")
                ),
                repo: get("BITBUCKET_REPO_FULL_NAME"),
                branch: get("BITBUCKET_BRANCH"),
                commit: get("BITBUCKET_COMMIT"),
                job: get("BITBUCKET_STEP_UUID"),
                actor: get("BITBUCKET_STEP_TRIGGERER_UUID"),
                run_id: get("BITBUCKET_BUILD_NUMBER"),
            }
        } else if set("JENKINS_URL") {
            Ci {
                provider: "jenkins",
                repo: get("GIT_URL"),
                branch: first(&[get("BRANCH_NAME"), get("GIT_BRANCH")]),
                commit: get("GIT_COMMIT"),
                run_url: get("BUILD_URL"),
                job: get("JOB_NAME"),
                actor: get("BUILD_USER_ID"),
                run_id: get("BUILD_TAG"),
            }
        } else {
            return None;
        };
        Some(ci)
    }

    /// "repo@branch · abc1234", for a context line.
    /// In CI, a message says which run it comes from and links to it.
    pub fn annotate(&self, message: &mut Message) {
        message.context.push(self.context());
        let linked = message.links.iter().any(|l| l.url == self.run_url);
        if !self.run_url.is_empty() && !linked {
            message.links.push(Link {
                label: "View run".into(),
                url: self.run_url.clone(),
            });
        }
    }

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
