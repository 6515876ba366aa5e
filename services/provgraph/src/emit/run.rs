//! Running the wrapped command (`-- CMD ARGS...`) with inherited stdio,
//! passing on SIGINT, SIGTERM and SIGHUP, and what became of it.

use std::process::{Command, Stdio};

use super::text::io_reason;

/// Why the command did not run to its end.
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    /// It could not be started (127: not found, 126: not executable).
    #[error("cannot run {program:?}: {}", io_reason(.source))]
    CannotStart {
        program: String,
        source: std::io::Error,
    },
    /// Waiting for it failed.
    #[error("waiting for the command: {0}")]
    Waiting(#[source] std::io::Error),
    /// The thread that waited for it went away.
    #[error("lost the command")]
    Lost,
}

/// The outcome of the wrapped command.
#[derive(Debug)]
pub(super) enum Ran {
    Exited(i32),
    Signaled(i32),
    NotStarted { code: u8, reason: RunError },
}

impl Ran {
    pub(super) fn exit_code(&self) -> u8 {
        match self {
            Ran::Exited(code) => (*code & 0xff) as u8,
            Ran::Signaled(signal) => (128 + *signal).clamp(0, 255) as u8,
            Ran::NotStarted { code, .. } => *code,
        }
    }
}

#[cfg(unix)]
fn describe_status(status: std::process::ExitStatus) -> Ran {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ran::Exited(code),
        (None, Some(signal)) => Ran::Signaled(signal),
        (None, None) => Ran::Exited(1),
    }
}

#[cfg(not(unix))]
fn describe_status(status: std::process::ExitStatus) -> Ran {
    Ran::Exited(status.code().unwrap_or(1))
}

/// Runs the command with inherited stdio; SIGINT, SIGTERM and SIGHUP sent
/// to provgraph are passed on to it (so that the span is still sent when
/// the CI cancels the step).
pub(super) fn run_command(runtime: &tokio::runtime::Runtime, argv: &[String]) -> Ran {
    let mut child = match Command::new(&argv[0]).args(&argv[1..]).spawn() {
        Ok(child) => child,
        Err(err) => {
            let code = if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ran::NotStarted {
                code,
                reason: RunError::CannotStart {
                    program: argv[0].clone(),
                    source: err,
                },
            };
        }
    };
    let pid = child.id();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    runtime.block_on(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{Signal, SignalKind, signal};
            async fn next(signal: &mut Option<Signal>) {
                match signal {
                    Some(signal) => {
                        if signal.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            let mut interrupt = signal(SignalKind::interrupt()).ok();
            let mut terminate = signal(SignalKind::terminate()).ok();
            let mut hangup = signal(SignalKind::hangup()).ok();
            let mut receiver = receiver;
            loop {
                let forward = tokio::select! {
                    status = &mut receiver => return waited(status),
                    () = next(&mut interrupt) => "INT",
                    () = next(&mut terminate) => "TERM",
                    () = next(&mut hangup) => "HUP",
                };
                let _ = Command::new("kill")
                    .args(["-s", forward, &pid.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        #[cfg(not(unix))]
        {
            let _ = pid;
            waited(receiver.await)
        }
    })
}

fn waited(
    status: Result<
        std::io::Result<std::process::ExitStatus>,
        tokio::sync::oneshot::error::RecvError,
    >,
) -> Ran {
    match status {
        Ok(Ok(status)) => describe_status(status),
        Ok(Err(err)) => Ran::NotStarted {
            code: 126,
            reason: RunError::Waiting(err),
        },
        Err(_) => Ran::NotStarted {
            code: 126,
            reason: RunError::Lost,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(argv: &[&str]) -> Ran {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        run_command(&runtime, &argv)
    }

    #[test]
    fn exit_codes_signals_and_commands_that_do_not_start() {
        let ran = run(&["sh", "-c", "exit 3"]);
        assert!(matches!(ran, Ran::Exited(3)), "{ran:?}");
        assert_eq!(ran.exit_code(), 3);
        assert!(matches!(run(&["true"]), Ran::Exited(0)));
        #[cfg(unix)]
        {
            let ran = run(&["sh", "-c", "kill -TERM $$"]);
            assert!(matches!(ran, Ran::Signaled(15)), "{ran:?}");
            assert_eq!(ran.exit_code(), 143);
        }
        let ran = run(&["no-such-command-anywhere"]);
        assert_eq!(ran.exit_code(), 127);
        match &ran {
            Ran::NotStarted { reason, .. } => assert_eq!(
                reason.to_string(),
                "cannot run \"no-such-command-anywhere\": no such file"
            ),
            other => panic!("{other:?}"),
        }
        // A file that is not executable: 126.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let ran = run(&[script.to_str().unwrap()]);
        assert_eq!(ran.exit_code(), 126, "{ran:?}");
        assert_eq!(Ran::Exited(256 + 7).exit_code(), 7);
    }
}
