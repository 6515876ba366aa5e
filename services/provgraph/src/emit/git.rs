//! git, as a subprocess: the commit, remote and branch of the working
//! directory's checkout.

use std::process::{Command, Stdio};

use super::text::io_reason;

pub(super) fn git(args: &[&str]) -> Result<String, String> {
    let command = format!("git {}", args.join(" "));
    let output = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run git: {}", io_reason(&err)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(if first.is_empty() {
            // `git config --get` exits 1 without a word when the key is unset.
            format!("{command}: not set")
        } else {
            format!("{command}: {first}")
        });
    }
    let value = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if value.is_empty() {
        return Err(format!("{command}: no output"));
    }
    Ok(value)
}
