//! The CI environment: which CI system runs us (GitHub Actions, GitLab CI,
//! Buildkite, Jenkins) and what its variables say (commit, repository,
//! branch, run id, attempt, pipeline, run URL), read through a function so
//! that tests can supply one.

/// Looks a variable up; empty values count as absent.
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A fact and where it came from (a flag, a variable, a git command, a file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fact {
    pub(super) value: String,
    pub(super) source: String,
}

pub(super) fn fact(value: impl Into<String>, source: impl Into<String>) -> Fact {
    Fact {
        value: value.into(),
        source: source.into(),
    }
}

/// A CI system recognized from its environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ci {
    GitHub,
    GitLab,
    Buildkite,
    Jenkins,
}

impl Ci {
    pub(super) fn name(self) -> &'static str {
        match self {
            Ci::GitHub => "GitHub Actions",
            Ci::GitLab => "GitLab CI",
            Ci::Buildkite => "Buildkite",
            Ci::Jenkins => "Jenkins",
        }
    }

    pub(super) fn detect(env: Env) -> Option<Ci> {
        let any = |names: &[&str]| names.iter().any(|n| env(n).is_some());
        if any(&["GITHUB_ACTIONS", "GITHUB_SHA", "GITHUB_RUN_ID"]) {
            Some(Ci::GitHub)
        } else if any(&["GITLAB_CI", "CI_COMMIT_SHA", "CI_PIPELINE_ID"]) {
            Some(Ci::GitLab)
        } else if any(&["BUILDKITE", "BUILDKITE_COMMIT", "BUILDKITE_BUILD_ID"]) {
            Some(Ci::Buildkite)
        } else if any(&["JENKINS_URL", "BUILD_TAG", "GIT_COMMIT"]) {
            Some(Ci::Jenkins)
        } else {
            None
        }
    }
}

/// What the CI environment says, before validation.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CiFacts {
    pub(super) commit: Option<Fact>,
    pub(super) repository: Option<Fact>,
    pub(super) branch: Option<Fact>,
    pub(super) build_id: Option<Fact>,
    pub(super) attempt: Option<Fact>,
    pub(super) pipeline: Option<Fact>,
    pub(super) run_url: Option<Fact>,
}

pub(super) fn ci_facts(ci: Ci, env: Env) -> CiFacts {
    let var = |name: &str| env(name).map(|v| fact(v.trim(), name));
    match ci {
        Ci::GitHub => {
            let server = env("GITHUB_SERVER_URL");
            let server = server
                .as_deref()
                .unwrap_or("https://github.com")
                .trim_end_matches('/');
            let repository = env("GITHUB_REPOSITORY").map(|repo| {
                let source = if env("GITHUB_SERVER_URL").is_some() {
                    "GITHUB_SERVER_URL + GITHUB_REPOSITORY"
                } else {
                    "GITHUB_REPOSITORY"
                };
                fact(format!("{server}/{}", repo.trim()), source)
            });
            let run_url = match (env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID")) {
                (Some(repo), Some(run)) => {
                    let mut url = format!("{server}/{}/actions/runs/{}", repo.trim(), run.trim());
                    if let Some(attempt) = env("GITHUB_RUN_ATTEMPT") {
                        url.push_str(&format!("/attempts/{}", attempt.trim()));
                    }
                    Some(fact(
                        url,
                        "GITHUB_SERVER_URL + GITHUB_REPOSITORY + GITHUB_RUN_ID",
                    ))
                }
                _ => None,
            };
            CiFacts {
                commit: var("GITHUB_SHA"),
                repository,
                branch: var("GITHUB_REF_NAME"),
                build_id: var("GITHUB_RUN_ID"),
                attempt: var("GITHUB_RUN_ATTEMPT"),
                pipeline: var("GITHUB_WORKFLOW"),
                run_url,
            }
        }
        Ci::GitLab => CiFacts {
            commit: var("CI_COMMIT_SHA"),
            repository: var("CI_PROJECT_URL"),
            branch: var("CI_COMMIT_REF_NAME"),
            build_id: var("CI_PIPELINE_ID"),
            attempt: None,
            pipeline: var("CI_PIPELINE_NAME").or_else(|| var("CI_PROJECT_PATH")),
            run_url: var("CI_PIPELINE_URL"),
        },
        Ci::Buildkite => CiFacts {
            commit: var("BUILDKITE_COMMIT"),
            repository: var("BUILDKITE_REPO"),
            branch: var("BUILDKITE_BRANCH"),
            build_id: var("BUILDKITE_BUILD_ID"),
            attempt: None,
            pipeline: var("BUILDKITE_PIPELINE_SLUG"),
            run_url: var("BUILDKITE_BUILD_URL"),
        },
        Ci::Jenkins => {
            // JOB#NUMBER is the build id the Jenkins OpenTelemetry plugin's
            // spans give (ci.pipeline.id + ci.pipeline.run.number), so that
            // both name the same BUILD.
            let build_id = match (env("JOB_NAME"), env("BUILD_NUMBER")) {
                (Some(job), Some(number)) => Some(fact(
                    format!("{}#{}", job.trim(), number.trim()),
                    "JOB_NAME + BUILD_NUMBER",
                )),
                _ => var("BUILD_TAG"),
            };
            let branch = var("BRANCH_NAME").or_else(|| {
                var("GIT_BRANCH").map(|f| {
                    let value = f
                        .value
                        .strip_prefix("origin/")
                        .unwrap_or(&f.value)
                        .to_string();
                    fact(value, f.source)
                })
            });
            CiFacts {
                commit: var("GIT_COMMIT"),
                repository: var("GIT_URL"),
                branch,
                build_id,
                attempt: None,
                pipeline: var("JOB_NAME"),
                run_url: var("BUILD_URL"),
            }
        }
    }
}

/// Drops a password or token from `scheme://user:secret@host/...`, so that
/// a CI checkout URL with credentials never reaches the graph.
pub(super) fn strip_credentials(url: &str) -> String {
    let url = url.trim();
    if let Some(at) = url.find("://") {
        let (scheme, rest) = url.split_at(at + 3);
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(user_end) = rest[..authority_end].rfind('@') {
            return format!("{scheme}{}", &rest[user_end + 1..]);
        }
    }
    url.to_string()
}

pub(super) fn clean_branch(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix("refs/heads/")
        .unwrap_or(value)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_support::env_of;

    #[test]
    fn ci_environments() {
        let github = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/calc"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_WORKFLOW", "release"),
        ]);
        assert_eq!(Ci::detect(&github), Some(Ci::GitHub));
        let facts = ci_facts(Ci::GitHub, &github);
        assert_eq!(
            facts.repository.unwrap().value,
            "https://github.com/acme/calc"
        );
        assert_eq!(facts.build_id.unwrap().value, "42");
        assert_eq!(facts.attempt.unwrap().value, "2");
        assert_eq!(
            facts.run_url.unwrap().value,
            "https://github.com/acme/calc/actions/runs/42/attempts/2"
        );
        let jenkins = env_of(&[
            ("JENKINS_URL", "https://ci/"),
            ("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
            (
                "GIT_URL",
                "https://bot:s3cret@git.example.com/acme/calc.git",
            ),
            ("GIT_BRANCH", "origin/main"),
            ("JOB_NAME", "acme/calc"),
            ("BUILD_NUMBER", "7"),
            ("BUILD_TAG", "jenkins-acme-calc-7"),
        ]);
        assert_eq!(Ci::detect(&jenkins), Some(Ci::Jenkins));
        let facts = ci_facts(Ci::Jenkins, &jenkins);
        assert_eq!(facts.build_id.unwrap().value, "acme/calc#7");
        assert_eq!(facts.branch.unwrap().value, "main");
        assert_eq!(
            strip_credentials(&facts.repository.unwrap().value),
            "https://git.example.com/acme/calc.git",
            "credentials are dropped"
        );
        let gitlab = env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_ID", "9"),
            ("CI_PROJECT_PATH", "acme/calc"),
        ]);
        let facts = ci_facts(Ci::detect(&gitlab).unwrap(), &gitlab);
        assert_eq!(
            facts.pipeline.unwrap(),
            fact("acme/calc", "CI_PROJECT_PATH")
        );
        let buildkite = env_of(&[("BUILDKITE", "true"), ("BUILDKITE_COMMIT", "HEAD")]);
        assert_eq!(Ci::detect(&buildkite), Some(Ci::Buildkite));
        // Taken as the CI says it; vcs::check_commit refuses it, so git is asked.
        assert_eq!(
            ci_facts(Ci::Buildkite, &buildkite).commit,
            Some(fact("HEAD", "BUILDKITE_COMMIT"))
        );
        assert_eq!(Ci::detect(&env_of(&[])), None);
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://gitlab-ci-token:abc@gitlab.com/acme/calc.git"),
            "https://gitlab.com/acme/calc.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:acme/calc.git"),
            "git@github.com:acme/calc.git"
        );
    }
}
