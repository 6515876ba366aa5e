//! git, as a subprocess: the commit, remote and branch of the working
//! directory's checkout.

use std::process::{Command, Stdio};

use super::text::io_reason;

/// Why git gave no answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum GitError {
    /// git could not be started (not installed, not executable).
    #[error("cannot run git: {}", io_reason(.0))]
    CannotRun(#[source] std::io::Error),
    /// The command failed without a word: `git config --get` of an unset key.
    #[error("{command}: not set")]
    NotSet { command: String },
    /// The command failed; the first line of what it said.
    #[error("{command}: {message}")]
    Failed { command: String, message: String },
    /// The command succeeded but printed nothing.
    #[error("{command}: no output")]
    NoOutput { command: String },
}

impl GitError {
    /// No git, or no repository here: then every git fact is missing for
    /// the same reason, said once.
    pub(super) fn is_unavailable(&self) -> bool {
        match self {
            GitError::CannotRun(_) => true,
            GitError::Failed { message, .. } => message.contains("not a git repository"),
            GitError::NotSet { .. } | GitError::NoOutput { .. } => false,
        }
    }
}

/// Runs `git ARGS` with no input and returns its output, trimmed.
pub(super) fn git(args: &[&str]) -> Result<String, GitError> {
    let command = format!("git {}", args.join(" "));
    let output = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::CannotRun)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(if first.is_empty() {
            GitError::NotSet { command }
        } else {
            GitError::Failed {
                command,
                message: first.to_string(),
            }
        });
    }
    let value = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if value.is_empty() {
        return Err(GitError::NoOutput { command });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_reasons_from_a_real_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().to_str().unwrap();
        let err = git(&["-C", at, "rev-parse", "HEAD"]).unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "git -C {at} rev-parse HEAD: fatal: not a git repository"
            )),
            "{err}"
        );

        let err = git(&["-C", at, "init", "-q"]).unwrap_err();
        assert!(matches!(err, GitError::NoOutput { .. }), "{err}");
        let err = git(&["-C", at, "config", "--get", "remote.origin.url"]).unwrap_err();
        assert!(matches!(err, GitError::NotSet { .. }), "{err}");
        assert!(!err.is_unavailable());
        assert_eq!(
            err.to_string(),
            format!("git -C {at} config --get remote.origin.url: not set")
        );
        // A repository without commits: HEAD names nothing yet, which is not
        // "no repository".
        let err = git(&["-C", at, "rev-parse", "--verify", "-q", "HEAD"]).unwrap_err();
        assert!(!err.is_unavailable(), "{err}");

        let url = "https://git.example.com/acme/calc.git";
        let _ = git(&["-C", at, "remote", "add", "origin", url]);
        assert_eq!(
            git(&["-C", at, "config", "--get", "remote.origin.url"]).unwrap(),
            url
        );
        let _ = git(&[
            "-C",
            at,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ]);
        let head = git(&["-C", at, "rev-parse", "HEAD"]).unwrap();
        assert_eq!(head.len(), 40, "{head}");
        assert!(head.bytes().all(|b| b.is_ascii_hexdigit()), "{head}");
    }
}
