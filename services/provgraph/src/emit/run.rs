//! Running the wrapped command (`-- CMD ARGS...`) with inherited stdio,
//! passing on SIGINT, SIGTERM and SIGHUP, and what became of it.

use std::process::{Command, Stdio};

use super::text::io_reason;

/// The outcome of the wrapped command.
#[derive(Debug)]
pub(super) enum Ran {
    Exited(i32),
    Signaled(i32),
    NotStarted { code: u8, reason: String },
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
                reason: format!("cannot run {:?}: {}", argv[0], io_reason(&err)),
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
            reason: format!("waiting for the command: {err}"),
        },
        Err(_) => Ran::NotStarted {
            code: 126,
            reason: "lost the command".to_string(),
        },
    }
}
