//! The provgraph binary: `serve` runs the OTLP receivers, the ingest writer
//! and the GraphQL API in one process; `verify-bundle` checks a Sigstore
//! bundle offline; `schema` prints the GraphQL SDL.
//!
//! Architecture invariant: only this crate reads the environment and binds
//! sockets.

mod auth;
mod connections;
mod emit;
mod gate;
mod import;
mod listen;
mod osv_import;
mod serve;
#[cfg(test)]
mod tidy;
mod webhooks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "provgraph",
    version,
    about = "Build provenance from OpenTelemetry CI spans: OTLP in, a lineage graph out over GraphQL."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the OTLP receivers (gRPC and HTTP), the graph store and the GraphQL API.
    Serve(serve::ServeArgs),
    /// Verify a Sigstore bundle for an artifact and a signer, offline (the
    /// sigstore-conformance command-line protocol).
    VerifyBundle(provgraph_signatures::VerifyBundleArgs),
    /// Verify a Notary Project signature envelope (JWS or COSE) for a
    /// digest under notation's trust policy and trust store, offline.
    VerifyNotation(provgraph_signatures::notary::VerifyNotationArgs),
    /// Post evidence files (Sigstore bundles, cosign signature layers) to a
    /// running server, with progress and a summary.
    Import(import::ImportArgs),
    /// Find a digest's signatures, attestations and Sigstore bundles in an
    /// OCI registry (legacy .sig/.att tags, OCI 1.1 referrers) and import them.
    Discover(import::DiscoverArgs),
    /// Verify every stored signature again against a trust policy.
    Reverify(import::ReverifyArgs),
    /// Print the GraphQL schema (SDL), as checked in at schema/schema.graphql.
    Schema,
    /// Send one CI build span (commit, repository, branch, run id, go.mod,
    /// image digests) over OTLP, optionally around a command: `-- CMD ARGS...`.
    Emit(emit::EmitArgs),
    /// Ask the server for a digest's audit verdict: exit 0 when it is one of
    /// --require, 1 when not, 2 when it cannot tell.
    Gate(gate::GateArgs),
    /// Make a new random bearer token and print it with the token-file
    /// entry (its SHA-256) to add to `--tokens`.
    Token(auth::TokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::main(args),
        Command::VerifyBundle(args) => match provgraph_signatures::run_verify_bundle(&args) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(reason) => {
                eprintln!("provgraph verify-bundle: {reason}");
                ExitCode::FAILURE
            }
        },
        Command::VerifyNotation(args) => {
            match provgraph_signatures::notary::run_verify_notation(&args) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    eprintln!("provgraph verify-notation: {reason}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Import(args) => import::import(args),
        Command::Reverify(args) => import::reverify(args),
        Command::Discover(args) => import::discover(args),
        Command::Emit(args) => emit::main(args),
        Command::Gate(args) => gate::main(args),
        Command::Token(args) => match auth::new_token(&args) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(reason) => {
                eprintln!("provgraph token: {reason}");
                ExitCode::FAILURE
            }
        },
        Command::Schema => {
            print!("{}", provgraph_api::sdl());
            ExitCode::SUCCESS
        }
    }
}
