//! The version-control facts (commit, repository, branch, run id and
//! attempt, pipeline, run URL): each from its flag, else the CI
//! environment, else git, checked and turned into attributes.

use std::cell::RefCell;

use provgraph_model::keys::{KeyError, normalize_build_id, normalize_commit, normalize_repository};

use super::EmitArgs;
use super::attributes::{Collected, Value};
use super::ci::{Ci, Env, Fact, ci_facts, clean_branch, fact, strip_credentials};
use super::git::{GitError, git};

/// Why a flag, a CI variable or git's answer was not taken.
#[derive(Debug, thiserror::Error)]
pub(super) enum Invalid {
    /// Not a commit, repository URL or build id.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// `HEAD` or empty: a detached checkout names no branch.
    #[error("not a branch (detached HEAD)")]
    DetachedHead,
    /// A branch with control characters.
    #[error("has control characters")]
    ControlCharacters,
    /// A pipeline name that is empty or has control characters.
    #[error("empty or has control characters")]
    EmptyOrControl,
}

/// What the git source answers: a value, or why not (`None`: git is not
/// available here, already said once).
type GitAnswer = Result<String, Option<GitError>>;

/// Resolves one of commit/repository/branch/build id/pipeline: the flag, else
/// the CI variable, else git (when given). A bad flag is a problem; a bad
/// variable or git answer is a note and the next source is tried.
fn resolve(
    out: &mut Collected,
    what: &str,
    flag: Option<&str>,
    flag_name: &str,
    from_ci: Option<Fact>,
    from_git: Option<&dyn Fn() -> GitAnswer>,
    check: &dyn Fn(&str) -> Result<String, Invalid>,
) -> Option<Fact> {
    if let Some(value) = flag {
        return match check(value) {
            Ok(value) => Some(fact(value, flag_name)),
            Err(reason) => {
                out.problems
                    .push(format!("{flag_name} {value:?}: {reason}"));
                None
            }
        };
    }
    if let Some(found) = from_ci {
        match check(&found.value) {
            Ok(value) => return Some(fact(value, found.source)),
            Err(reason) => out.notes.push(format!(
                "{what}: ignored {}={:?}: {reason}",
                found.source, found.value
            )),
        }
    }
    if let Some(git) = from_git {
        match git() {
            Ok(value) => match check(&value) {
                Ok(value) => return Some(fact(value, "git")),
                Err(reason) => out
                    .notes
                    .push(format!("{what}: git said {value:?}: {reason}")),
            },
            Err(None) => {}
            Err(Some(reason)) => out.notes.push(format!("{what}: {reason}")),
        }
    }
    None
}

pub(super) fn check_commit(value: &str) -> Result<String, Invalid> {
    Ok(normalize_commit(value)?)
}

/// A repository URL, credentials dropped.
pub(super) fn check_repository(value: &str) -> Result<String, Invalid> {
    let url = strip_credentials(value);
    normalize_repository(&url)?;
    Ok(url)
}

fn check_branch(value: &str) -> Result<String, Invalid> {
    let branch = clean_branch(value);
    if branch.is_empty() || branch == "HEAD" {
        return Err(Invalid::DetachedHead);
    }
    if branch.chars().any(char::is_control) {
        return Err(Invalid::ControlCharacters);
    }
    Ok(branch)
}

fn check_build_id(value: &str) -> Result<String, Invalid> {
    Ok(normalize_build_id(value.trim())?)
}

fn check_text(value: &str) -> Result<String, Invalid> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(Invalid::EmptyOrControl);
    }
    Ok(value.to_string())
}

/// Gathers the VCS and CI facts: flags, then the CI environment, then git.
pub(super) fn collect_vcs(args: &EmitArgs, env: Env, out: &mut Collected) {
    let ci = Ci::detect(env);
    let mut from_ci = ci.map(|ci| ci_facts(ci, env)).unwrap_or_default();
    if let Some(ci) = ci {
        out.say("ci", ci.name());
    }
    // git source: the commit the working directory has checked out. When
    // there is no repository (or no git), that is said once, not per fact.
    let unavailable: RefCell<Option<GitError>> = RefCell::new(None);
    let via_git = |args: &[&str]| -> GitAnswer {
        if unavailable.borrow().is_some() {
            return Err(None);
        }
        git(args).map_err(|reason| {
            if reason.is_unavailable() {
                *unavailable.borrow_mut() = Some(reason);
                None
            } else {
                Some(reason)
            }
        })
    };
    let git_commit = || via_git(&["rev-parse", "HEAD"]);
    let git_remote = || via_git(&["config", "--get", "remote.origin.url"]);
    let git_branch = || via_git(&["rev-parse", "--abbrev-ref", "HEAD"]);

    let commit = resolve(
        out,
        "commit",
        args.commit.as_deref(),
        "--commit",
        from_ci.commit.take(),
        Some(&git_commit),
        &check_commit,
    );
    let repository = resolve(
        out,
        "repository",
        args.repository.as_deref(),
        "--repository",
        from_ci.repository.take(),
        Some(&git_remote),
        &check_repository,
    );
    let branch = resolve(
        out,
        "branch",
        args.branch.as_deref(),
        "--branch",
        from_ci.branch.take(),
        Some(&git_branch),
        &check_branch,
    );
    if let Some(reason) = unavailable.borrow_mut().take() {
        out.notes.push(format!("git: {reason}"));
    }
    let build_id = resolve(
        out,
        "build id",
        args.build_id.as_deref(),
        "--build-id",
        from_ci.build_id.take(),
        None,
        &check_build_id,
    );
    let pipeline = resolve(
        out,
        "pipeline",
        args.pipeline.as_deref(),
        "--pipeline",
        from_ci.pipeline.take(),
        None,
        &check_text,
    );
    let git_source = |f: &Fact, command: &str| {
        if f.source == "git" {
            command.to_string()
        } else {
            f.source.clone()
        }
    };
    match &commit {
        Some(f) => {
            out.put("vcs.ref.head.revision", Value::Str(f.value.clone()));
            let source = git_source(f, "git rev-parse HEAD");
            out.say("commit", format!("{} ({source})", f.value));
        }
        None => out.say("commit", "none found"),
    }
    match &repository {
        Some(f) => {
            out.put("vcs.repository.url.full", Value::Str(f.value.clone()));
            let source = git_source(f, "git config --get remote.origin.url");
            out.say("repository", format!("{} ({source})", f.value));
        }
        None => out.say("repository", "none found"),
    }
    match &branch {
        Some(f) => {
            out.put("vcs.ref.head.name", Value::Str(f.value.clone()));
            let source = git_source(f, "git rev-parse --abbrev-ref HEAD");
            out.say("branch", format!("{} ({source})", f.value));
        }
        None => out.say("branch", "none found"),
    }
    match &build_id {
        Some(f) => {
            out.put("cicd.pipeline.run.id", Value::Str(f.value.clone()));
            let mut text = format!("{} ({})", f.value, f.source);
            // The attempt belongs to the run id the CI gave, not to --build-id.
            if f.source != "--build-id"
                && let Some(attempt) = from_ci.attempt.take()
            {
                match attempt.value.parse::<i64>() {
                    Ok(number) if number > 0 => {
                        out.put("github.run_attempt", Value::Int(number));
                        text.push_str(&format!(", attempt {number} ({})", attempt.source));
                    }
                    _ => out.notes.push(format!(
                        "ignored {}={:?}: not a positive number",
                        attempt.source, attempt.value
                    )),
                }
            }
            out.say("build", text);
        }
        None => out.say(
            "build",
            "no run id (--build-id or a CI variable): the server names the build after the trace id",
        ),
    }
    if let Some(f) = &pipeline {
        out.put("cicd.pipeline.name", Value::Str(f.value.clone()));
        out.say("pipeline", format!("{} ({})", f.value, f.source));
    }
    if let Some(url) = from_ci.run_url.take()
        && build_id.as_ref().is_some_and(|b| b.source != "--build-id")
    {
        out.put("cicd.pipeline.run.url.full", Value::Str(url.value.clone()));
        out.say("run", format!("{} ({})", url.value, url.source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_support::{args, env_of};

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn text(out: &Collected, key: &str) -> Option<String> {
        match out.get(key)? {
            Value::Str(value) => Some(value.clone()),
            other => panic!("{key} is {other:?}"),
        }
    }

    #[test]
    fn branches() {
        assert_eq!(check_branch("refs/heads/main").unwrap(), "main");
        assert!(matches!(check_branch("HEAD"), Err(Invalid::DetachedHead)));
        assert!(matches!(
            check_branch("a\u{7}b"),
            Err(Invalid::ControlCharacters)
        ));
        assert!(matches!(check_text("  "), Err(Invalid::EmptyOrControl)));
        assert!(matches!(check_commit("HEAD"), Err(Invalid::Key(_))));
        assert_eq!(
            check_repository("https://bot:s3cret@git.example.com/acme/calc.git").unwrap(),
            "https://git.example.com/acme/calc.git",
            "credentials are dropped"
        );
        assert!(matches!(
            check_repository("not a url"),
            Err(Invalid::Key(_))
        ));
    }

    #[test]
    fn flag_then_ci_variable_then_git() {
        let mut out = Collected::default();
        let git_sha = || -> GitAnswer { Ok(SHA.to_uppercase()) };
        // A bad CI variable is a note, and git is asked next.
        let found = resolve(
            &mut out,
            "commit",
            None,
            "--commit",
            Some(fact("HEAD", "GITHUB_SHA")),
            Some(&git_sha),
            &check_commit,
        );
        assert_eq!(found, Some(fact(SHA, "git")));
        assert_eq!(out.notes.len(), 1);
        assert!(
            out.notes[0].starts_with("commit: ignored GITHUB_SHA=\"HEAD\": "),
            "{:?}",
            out.notes
        );
        // A bad flag is a problem, and nothing else is asked.
        let never = || -> GitAnswer { panic!("git asked after a flag") };
        let found = resolve(
            &mut out,
            "commit",
            Some("xyz"),
            "--commit",
            Some(fact(SHA, "GITHUB_SHA")),
            Some(&never),
            &check_commit,
        );
        assert_eq!(found, None);
        assert_eq!(out.problems.len(), 1);
        assert!(
            out.problems[0].starts_with("--commit \"xyz\": "),
            "{:?}",
            out.problems
        );
        // git's reason is a note; git unavailable (already said) is silent.
        let unset = || -> GitAnswer {
            Err(Some(GitError::NotSet {
                command: "git config --get remote.origin.url".into(),
            }))
        };
        assert_eq!(
            resolve(
                &mut out,
                "repository",
                None,
                "--repository",
                None,
                Some(&unset),
                &check_repository
            ),
            None
        );
        assert_eq!(
            out.notes.last().unwrap(),
            "repository: git config --get remote.origin.url: not set"
        );
        let silent = || -> GitAnswer { Err(None) };
        let notes = out.notes.len();
        assert_eq!(
            resolve(
                &mut out,
                "branch",
                None,
                "--branch",
                None,
                Some(&silent),
                &check_branch
            ),
            None
        );
        assert_eq!(out.notes.len(), notes);
    }

    #[test]
    fn github_run_attempt_and_url_belong_to_the_ci_run_id() {
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/calc"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_WORKFLOW", "release"),
        ]);
        // Flags for what git would answer, so that no git runs.
        let flags = [
            "--commit",
            SHA,
            "--repository",
            "https://bot:token@github.com/acme/calc",
            "--branch",
            "refs/heads/main",
        ];
        let mut out = Collected::default();
        collect_vcs(&args(&flags), &env, &mut out);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(text(&out, "vcs.ref.head.revision").as_deref(), Some(SHA));
        assert_eq!(
            text(&out, "vcs.repository.url.full").as_deref(),
            Some("https://github.com/acme/calc")
        );
        assert_eq!(text(&out, "vcs.ref.head.name").as_deref(), Some("main"));
        assert_eq!(text(&out, "cicd.pipeline.run.id").as_deref(), Some("42"));
        assert_eq!(out.get("github.run_attempt"), Some(&Value::Int(2)));
        assert_eq!(text(&out, "cicd.pipeline.name").as_deref(), Some("release"));
        assert_eq!(
            text(&out, "cicd.pipeline.run.url.full").as_deref(),
            Some("https://github.com/acme/calc/actions/runs/42/attempts/2")
        );
        assert!(
            out.summary
                .contains(&("ci".to_string(), "GitHub Actions".to_string()))
        );

        let mut with_id = flags.to_vec();
        with_id.extend(["--build-id", "b-7"]);
        let mut out = Collected::default();
        collect_vcs(&args(&with_id), &env, &mut out);
        assert_eq!(text(&out, "cicd.pipeline.run.id").as_deref(), Some("b-7"));
        assert_eq!(out.get("github.run_attempt"), None);
        assert_eq!(out.get("cicd.pipeline.run.url.full"), None);
    }

    #[test]
    fn a_bad_attempt_is_a_note() {
        let env = env_of(&[("GITHUB_RUN_ID", "42"), ("GITHUB_RUN_ATTEMPT", "zero")]);
        let flags = [
            "--commit",
            SHA,
            "--repository",
            "https://x.example/a/b",
            "--branch",
            "b",
        ];
        let mut out = Collected::default();
        collect_vcs(&args(&flags), &env, &mut out);
        assert_eq!(out.get("github.run_attempt"), None);
        assert_eq!(
            out.notes,
            vec!["ignored GITHUB_RUN_ATTEMPT=\"zero\": not a positive number"]
        );
    }
}
