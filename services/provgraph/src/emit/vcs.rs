//! The version-control facts (commit, repository, branch, run id and
//! attempt, pipeline, run URL): each from its flag, else the CI
//! environment, else git, checked and turned into attributes.

use std::cell::RefCell;

use provgraph_model::keys::{normalize_build_id, normalize_commit, normalize_repository};

use super::EmitArgs;
use super::attributes::{Collected, Value};
use super::ci::{Ci, Env, Fact, ci_facts, clean_branch, fact, strip_credentials};
use super::git::git;

/// Resolves one of commit/repository/branch/build id/pipeline: the flag, else
/// the CI variable, else git (when given). A bad flag is a problem; a bad
/// variable or git answer is a note and the next source is tried.
fn resolve(
    out: &mut Collected,
    what: &str,
    flag: Option<&str>,
    flag_name: &str,
    from_ci: Option<Fact>,
    from_git: Option<&dyn Fn() -> Result<String, String>>,
    check: &dyn Fn(&str) -> Result<String, String>,
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
            Err(reason) if reason.is_empty() => {}
            Err(reason) => out.notes.push(format!("{what}: {reason}")),
        }
    }
    None
}

pub(super) fn check_commit(value: &str) -> Result<String, String> {
    normalize_commit(value).map_err(|err| err.to_string())
}

pub(super) fn check_repository(value: &str) -> Result<String, String> {
    let url = strip_credentials(value);
    normalize_repository(&url).map_err(|err| err.to_string())?;
    Ok(url)
}

fn check_branch(value: &str) -> Result<String, String> {
    let branch = clean_branch(value);
    if branch.is_empty() || branch == "HEAD" {
        return Err("not a branch (detached HEAD)".to_string());
    }
    if branch.chars().any(char::is_control) {
        return Err("has control characters".to_string());
    }
    Ok(branch)
}

fn check_build_id(value: &str) -> Result<String, String> {
    normalize_build_id(value.trim()).map_err(|err| err.to_string())
}

fn check_text(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err("empty or has control characters".to_string());
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
    let unavailable: RefCell<Option<String>> = RefCell::new(None);
    let via_git = |args: &[&str]| -> Result<String, String> {
        if unavailable.borrow().is_some() {
            return Err(String::new());
        }
        git(args).map_err(|reason| {
            if reason.contains("not a git repository") || reason.starts_with("cannot run git") {
                *unavailable.borrow_mut() = Some(reason);
                String::new()
            } else {
                reason
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

    #[test]
    fn branches() {
        assert_eq!(check_branch("refs/heads/main").unwrap(), "main");
        assert!(check_branch("HEAD").is_err());
    }
}
