//! `provgraph emit`: the CI-side exporter. One pipeline step sends ONE build
//! span, through the OpenTelemetry SDK's OTLP exporter, with every build fact
//! it can find (commit, repository, branch, run id, pipeline, go.mod hash and
//! requirements, image digests), each read from the CI environment, git, or
//! the files the build wrote, and says on stderr what it sent and from where.
//! With `-- CMD ARGS...` it runs the command as the timed span and exits with
//! its status. It never fails the pipeline because the server is down
//! (unless `--strict`). See docs/emit.md.
//!
//! This file wires the parts: the flags (`args`), the CI environment (`ci`),
//! git (`git`), the version-control facts (`vcs`), go.mod (`gomod`), images
//! (`images`, `oci_index`), the files a build names (`files`), the
//! attributes (`attributes`), the OTLP target (`target`), the CI's trace
//! context (`traceparent`), sending (`otlp`) and the wrapped command
//! (`run`).

mod args;
mod attributes;
mod ci;
mod files;
mod git;
mod gomod;
mod images;
mod oci_index;
mod otlp;
mod run;
mod target;
mod text;
mod traceparent;
mod vcs;

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

pub use args::EmitArgs;
use attributes::{Collected, Value};
use ci::{Env, process_env};
use provgraph_model::one_line;
use run::{Ran, run_command};

const PROG: &str = "provgraph emit";

/// Runs `provgraph emit`.
pub fn main(args: EmitArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{PROG}: {err}");
            return ExitCode::from(if args.command.is_empty() { 1 } else { 126 });
        }
    };
    let env: Env = &process_env;

    // The command first: the files it writes (buildx metadata, iidfile) are
    // read after it ends.
    let start = SystemTime::now();
    let ran = if args.command.is_empty() {
        None
    } else {
        Some(run_command(&runtime, &args.command))
    };
    let end = SystemTime::now();

    let mut out = Collected::default();
    vcs::collect_vcs(&args, env, &mut out);
    files::collect_go_mod(&args, &mut out);
    files::collect_images(&args, &mut out);

    let span_name = args
        .name
        .clone()
        .unwrap_or_else(|| match args.command.first() {
            Some(program) => Path::new(program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| program.clone()),
            None => PROG.to_string(),
        });
    if let Some(ran) = &ran {
        if let Some(program) = args.command.first() {
            let executable = Path::new(program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| program.clone());
            out.put("process.executable.name", Value::Str(executable));
        }
        match ran {
            Ran::Exited(code) => {
                out.put("process.exit.code", Value::Int(i64::from(*code)));
                out.say("exit code", code.to_string());
            }
            Ran::Signaled(signal) => {
                out.put("process.exit.code", Value::Int(i64::from(128 + *signal)));
                out.say("exit code", format!("{} (signal {signal})", 128 + signal));
            }
            Ran::NotStarted { reason, .. } => {
                eprintln!("{PROG}: {reason}");
                out.say("command", reason.to_string());
            }
        }
    }

    let (parent, parent_source) = match traceparent::parent_context(env) {
        Some((Ok(context), source)) => (Some(context), source),
        Some((Err(reason), source)) => {
            out.notes
                .push(format!("{source} ignored, starting a new trace: {reason}"));
            (None, source)
        }
        None => (None, ""),
    };
    let target = target::resolve_target(&args, env);

    if !args.quiet {
        let destination = match (&target, args.dry_run) {
            (_, true) => "nowhere (--dry-run)".to_string(),
            (Ok(t), false) => format!(
                "{} ({}, {})",
                t.endpoint,
                t.protocol.as_str(),
                if t.endpoint_source == "default" {
                    "default".to_string()
                } else {
                    t.endpoint_source.clone()
                }
            ),
            (Err(_), false) => "?".to_string(),
        };
        let trace = match &parent {
            Some(context) => format!("in trace {} ({parent_source})", context.trace_id()),
            None => "in a new trace".to_string(),
        };
        eprintln!("{PROG}: span {span_name:?} to {destination}, {trace}");
        let width = out.summary.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (what, text) in &out.summary {
            eprintln!("  {what:<width$}  {text}");
        }
        for note in &out.notes {
            eprintln!("{PROG}: note: {note}");
        }
    }
    for problem in &out.problems {
        eprintln!("{PROG}: {problem}");
    }

    let command_code = ran.as_ref().map(Ran::exit_code).filter(|c| *c != 0);
    let problems_code = if out.problems.is_empty() {
        None
    } else {
        Some(2)
    };

    if args.dry_run {
        let attributes: serde_json::Map<String, serde_json::Value> = out
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect();
        let mut document = serde_json::json!({
            "name": span_name,
            "parent": parent.as_ref().map(|c| format!("00-{}-{}-{:02x}", c.trace_id(), c.span_id(), c.trace_flags().to_u8())),
            "attributes": attributes,
        });
        if let Ok(target) = &target {
            document["endpoint"] = target.endpoint.clone().into();
            document["protocol"] = target.protocol.as_str().into();
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
        return ExitCode::from(command_code.or(problems_code).unwrap_or(0));
    }

    let sent = match target {
        Ok(target) => {
            let _guard = runtime.enter();
            otlp::send(&target, &span_name, &out, parent, start, end, ran.as_ref())
                .map_err(|reason| (target.endpoint.clone(), reason))
        }
        Err(reason) => Err(("the OTLP endpoint".to_string(), reason.into())),
    };
    runtime.shutdown_background();
    let send_code = match sent {
        Ok(endpoint) => {
            if !args.quiet {
                eprintln!("{PROG}: sent to {endpoint}");
            }
            None
        }
        Err((endpoint, reason)) => {
            eprintln!(
                "{PROG}: could not send the span to {endpoint}: {}",
                one_line(&reason.to_string())
            );
            args.strict.then_some(1)
        }
    };
    ExitCode::from(command_code.or(problems_code).or(send_code).unwrap_or(0))
}

#[cfg(test)]
mod test_support {
    use super::EmitArgs;

    /// An environment of the given variables only.
    pub(super) fn env_of(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// `provgraph emit` with these flags.
    pub(super) fn args(extra: &[&str]) -> EmitArgs {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EmitArgs,
        }
        let mut argv = vec!["emit"];
        argv.extend_from_slice(extra);
        Wrapper::parse_from(argv).args
    }
}
