//! `provgraph emit`: the CI-side exporter. One pipeline step sends ONE build
//! span, through the OpenTelemetry SDK's OTLP exporter, with every build fact
//! it can find (commit, repository, branch, run id, pipeline, go.mod hash and
//! requirements, image digests), each read from the CI environment, git, or
//! the files the build wrote, and says on stderr what it sent and from where.
//! With `-- CMD ARGS...` it runs the command as the timed span and exits with
//! its status. It never fails the pipeline because the server is down
//! (unless `--strict`). See docs/emit.md.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Args;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use provgraph_model::keys::{
    normalize_build_id, normalize_commit, normalize_digest, normalize_repository,
};
use sha2::Digest as _;

const PROG: &str = "provgraph emit";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_GRPC_ENDPOINT: &str = "http://127.0.0.1:4317";
const DEFAULT_HTTP_ENDPOINT: &str = "http://127.0.0.1:4318";

#[derive(Debug, Args)]
#[command(
    after_help = "Reads the CI environment (GitHub Actions, GitLab CI, Jenkins, Buildkite), \
then git, for commit, repository and branch; flags override both. OTLP settings: \
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, \
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_CERTIFICATE (https); TRACEPARENT joins the CI's trace. See docs/emit.md."
)]
pub struct EmitArgs {
    /// The commit SHA built (default: the CI's variable, else `git rev-parse HEAD`).
    #[arg(long, value_name = "SHA")]
    commit: Option<String>,
    /// The repository URL (default: the CI's variable, else `git config --get remote.origin.url`).
    #[arg(long, value_name = "URL")]
    repository: Option<String>,
    /// The branch (default: the CI's variable, else `git rev-parse --abbrev-ref HEAD`).
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
    /// The build (pipeline run) id, sent as `cicd.pipeline.run.id` (default: the CI's run id).
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,
    /// The pipeline name, sent as `cicd.pipeline.name` (default: the CI's workflow or job name).
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
    /// The go.mod to hash and read (default: `go.mod` in the working directory, if there is one).
    #[arg(long, value_name = "PATH")]
    go_mod: Option<PathBuf>,
    /// An image the build produced, `NAME[:TAG]@sha256:<hex>` (repeatable).
    #[arg(long, value_name = "NAME@sha256:HEX")]
    image: Vec<String>,
    /// An image digest the build produced, `sha256:<hex>` (repeatable).
    #[arg(long, value_name = "sha256:HEX")]
    digest: Vec<String>,
    /// The file `docker buildx build --metadata-file` (or `bake`) wrote (repeatable).
    #[arg(long, value_name = "FILE")]
    buildx_metadata: Vec<PathBuf>,
    /// The file `docker build --iidfile` wrote (repeatable).
    #[arg(long, value_name = "FILE")]
    iidfile: Vec<PathBuf>,
    /// A multi-platform image index, the exact bytes `docker buildx imagetools inspect --raw`
    /// prints: its sha256 is the product, its manifests are sent as `oci.index.manifests`.
    #[arg(long, value_name = "FILE")]
    oci_index: Option<PathBuf>,
    /// The OTLP endpoint, a base URL like OTEL_EXPORTER_OTLP_ENDPOINT
    /// (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT,
    /// else http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318 for HTTP).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The OTLP protocol (default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    /// OTEL_EXPORTER_OTLP_PROTOCOL, else grpc).
    #[arg(long, value_name = "PROTOCOL")]
    protocol: Option<OtlpProtocol>,
    /// How long to try sending, retries included: `10s`, `500ms`, `1m`, or seconds
    /// (default: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT in ms, else 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Exit non-zero (1) when the span could not be sent.
    #[arg(long)]
    strict: bool,
    /// Print the attributes as JSON on stdout and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print nothing on stderr but errors.
    #[arg(long, short)]
    quiet: bool,
    /// The span name (default: the command's name, else `provgraph emit`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A command to run as the timed span; its exit status becomes provgraph's.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

/// The OTLP protocols, named as OTEL_EXPORTER_OTLP_PROTOCOL names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[value(name = "grpc")]
    Grpc,
    /// OTLP/HTTP, protobuf body.
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/HTTP, JSON body.
    #[value(name = "http/json")]
    HttpJson,
}

impl OtlpProtocol {
    fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }

    fn parse(value: &str) -> Option<OtlpProtocol> {
        match value.trim() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "http/json" => Some(OtlpProtocol::HttpJson),
            _ => None,
        }
    }
}

/// `10s`, `500ms`, `2m`, or a number of seconds.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration (10s, 500ms, 1m)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{value:?} is not a duration (10s, 500ms, 1m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!(
            "{value:?}: a timeout is more than 0 and at most 1h"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

// ---------------------------------------------------------------------------
// The environment, read through a function so that tests can supply one.

/// Looks a variable up; empty values count as absent.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A fact and where it came from (a flag, a variable, a git command, a file).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fact {
    value: String,
    source: String,
}

fn fact(value: impl Into<String>, source: impl Into<String>) -> Fact {
    Fact {
        value: value.into(),
        source: source.into(),
    }
}

/// A CI system recognized from its environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ci {
    GitHub,
    GitLab,
    Buildkite,
    Jenkins,
}

impl Ci {
    fn name(self) -> &'static str {
        match self {
            Ci::GitHub => "GitHub Actions",
            Ci::GitLab => "GitLab CI",
            Ci::Buildkite => "Buildkite",
            Ci::Jenkins => "Jenkins",
        }
    }

    fn detect(env: Env) -> Option<Ci> {
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
struct CiFacts {
    commit: Option<Fact>,
    repository: Option<Fact>,
    branch: Option<Fact>,
    build_id: Option<Fact>,
    attempt: Option<Fact>,
    pipeline: Option<Fact>,
    run_url: Option<Fact>,
}

fn ci_facts(ci: Ci, env: Env) -> CiFacts {
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
fn strip_credentials(url: &str) -> String {
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

fn clean_branch(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix("refs/heads/")
        .unwrap_or(value)
        .to_string()
}

// ---------------------------------------------------------------------------
// git, as a subprocess.

fn git(args: &[&str]) -> Result<String, String> {
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

// ---------------------------------------------------------------------------
// go.mod

/// What a go.mod says, requirements as `path@version` after its replace
/// directives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoMod {
    /// The `module` path.
    pub module: Option<String>,
    /// The `go` directive.
    pub go_version: Option<String>,
    /// Direct requirements, `path@version`.
    pub requires: Vec<String>,
    /// Requirements marked `// indirect`, `path@version`.
    pub indirect: Vec<String>,
    /// Requirements replaced by a local directory, `path@version` as required.
    pub replaced_locally: Vec<String>,
}

#[derive(Debug)]
struct Require {
    path: String,
    version: String,
    indirect: bool,
}

#[derive(Debug)]
struct Replace {
    old: String,
    old_version: Option<String>,
    new: ReplaceTarget,
}

#[derive(Debug)]
enum ReplaceTarget {
    Module(String, String),
    /// A local directory: the module keeps its required version.
    Directory,
}

/// Go's rule (modfile.IsDirectoryPath): a replacement is a directory when it
/// is a relative (`./`, `../`) or absolute path.
fn is_directory_path(path: &str) -> bool {
    path == "."
        || path == ".."
        || path.starts_with("./")
        || path.starts_with("../")
        || path.starts_with('/')
        || path.starts_with(".\\")
        || path.starts_with("..\\")
        || path.starts_with('\\')
        || (path.len() > 2
            && path.as_bytes()[1] == b':'
            && path.as_bytes()[0].is_ascii_alphabetic())
}

/// Splits one go.mod line into tokens and its `//` comment: words, quoted
/// strings (`"..."`, `` `...` ``), `(`, `)` and `=>`.
fn tokenize(line: &str) -> Result<(Vec<String>, Option<String>), String> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<String>| {
        if !word.is_empty() {
            tokens.push(std::mem::take(word));
        }
    };
    while let Some((at, c)) = chars.next() {
        match c {
            '/' if line[at..].starts_with("//") => {
                flush(&mut word, &mut tokens);
                return Ok((tokens, Some(line[at + 2..].to_string())));
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            '(' | ')' => {
                flush(&mut word, &mut tokens);
                tokens.push(c.to_string());
            }
            '=' if line[at..].starts_with("=>") => {
                flush(&mut word, &mut tokens);
                chars.next();
                tokens.push("=>".to_string());
            }
            '"' => {
                let mut value = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, escaped)) => value.push(escaped),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".to_string());
                }
                word.push_str(&value);
            }
            '`' => {
                let mut value = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    value.push(c);
                }
                if !closed {
                    return Err("unterminated raw string".to_string());
                }
                word.push_str(&value);
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    Ok((tokens, None))
}

/// Go's rule (modfile isIndirect): the comment is `indirect`, or starts with `indirect;`.
fn is_indirect(comment: Option<&str>) -> bool {
    let Some(comment) = comment else {
        return false;
    };
    let words: Vec<&str> = comment.split_whitespace().collect();
    (words.len() == 1 && words[0] == "indirect") || (words.len() > 1 && words[0] == "indirect;")
}

/// Parses a go.mod: `module`, `go`, `require` (blocks and single lines,
/// `// indirect`), `replace` (with or without a version on the left; a module
/// version or a local directory on the right); `exclude`, `retract`,
/// `toolchain`, `godebug`, `tool`, `ignore` and unknown directives are
/// skipped. Errors name the line.
pub fn parse_go_mod(text: &str) -> Result<GoMod, String> {
    let mut module = None;
    let mut go_version = None;
    let mut requires: Vec<Require> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut block: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let at = |reason: String| format!("line {number}: {reason}");
        let (tokens, comment) = tokenize(line).map_err(at)?;
        if tokens.is_empty() {
            continue;
        }
        let (verb, args): (String, &[String]) = match &block {
            Some(verb) => {
                if tokens.len() == 1 && tokens[0] == ")" {
                    block = None;
                    continue;
                }
                (verb.clone(), &tokens[..])
            }
            None => {
                if tokens[0] == ")" || tokens[0] == "(" {
                    return Err(at(format!("unexpected {:?}", tokens[0])));
                }
                if tokens.len() == 2 && tokens[1] == "(" {
                    block = Some(tokens[0].clone());
                    continue;
                }
                (tokens[0].clone(), &tokens[1..])
            }
        };
        match verb.as_str() {
            "module" => match args {
                [path] => module = Some(path.clone()),
                _ => return Err(at("usage: module PATH".to_string())),
            },
            "go" => match args {
                [version] => go_version = Some(version.clone()),
                _ => return Err(at("usage: go 1.N".to_string())),
            },
            "require" => match args {
                [path, version] => requires.push(Require {
                    path: path.clone(),
                    version: version.clone(),
                    indirect: is_indirect(comment.as_deref()),
                }),
                _ => return Err(at("usage: require PATH VERSION".to_string())),
            },
            "replace" => {
                let usage = || at("usage: replace OLD [VERSION] => NEW [VERSION]".to_string());
                let arrow = args.iter().position(|t| t == "=>").ok_or_else(usage)?;
                let (left, right) = (&args[..arrow], &args[arrow + 1..]);
                let (old, old_version) = match left {
                    [old] => (old.clone(), None),
                    [old, version] => (old.clone(), Some(version.clone())),
                    _ => return Err(usage()),
                };
                let new = match right {
                    [dir] if is_directory_path(dir) => ReplaceTarget::Directory,
                    [path] => {
                        return Err(at(format!(
                            "replacement {path} has no version and is not a directory path (./ ../ /)"
                        )));
                    }
                    [dir, _] if is_directory_path(dir) => {
                        return Err(at(format!(
                            "replacement directory {dir} cannot have a version"
                        )));
                    }
                    [path, version] => ReplaceTarget::Module(path.clone(), version.clone()),
                    _ => return Err(usage()),
                };
                replaces.push(Replace {
                    old,
                    old_version,
                    new,
                });
            }
            // Not requirements: skipped on purpose (exclude, retract,
            // toolchain, godebug, tool, ignore) like any directive Go may add.
            _ => {}
        }
    }
    if let Some(verb) = block {
        return Err(format!("{verb} ( block is not closed"));
    }
    let mut mod_file = GoMod {
        module,
        go_version,
        ..GoMod::default()
    };
    let mut seen = BTreeSet::new();
    for require in requires {
        // A replace naming the version wins over one for all versions.
        let replace = replaces
            .iter()
            .rev()
            .find(|r| r.old == require.path && r.old_version.as_deref() == Some(&require.version))
            .or_else(|| {
                replaces
                    .iter()
                    .rev()
                    .find(|r| r.old == require.path && r.old_version.is_none())
            });
        let original = format!("{}@{}", require.path, require.version);
        let key = match replace.map(|r| &r.new) {
            Some(ReplaceTarget::Module(path, version)) => format!("{path}@{version}"),
            Some(ReplaceTarget::Directory) => {
                mod_file.replaced_locally.push(original.clone());
                original
            }
            None => original,
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        if require.indirect {
            mod_file.indirect.push(key);
        } else {
            mod_file.requires.push(key);
        }
    }
    Ok(mod_file)
}

// ---------------------------------------------------------------------------
// Images: buildx metadata, iidfile, OCI index, flags.

/// One image a build produced: its digest and the names (with tags) it was
/// given, from one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Names as given, possibly with a tag (`ghcr.io/acme/calc:v1`).
    pub names: Vec<String>,
}

/// Reads `docker buildx build --metadata-file` output: `containerimage.digest`
/// (else `containerimage.descriptor.digest`) and the comma-separated
/// `image.name`. `docker buildx bake --metadata-file` writes one such object
/// per target: each target with a digest is an image.
pub fn read_buildx_metadata(bytes: &[u8]) -> Result<Vec<BuiltImage>, String> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))?;
    let object = json.as_object().ok_or("not a JSON object")?;
    fn one(
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Result<BuiltImage, String>> {
        let raw = object
            .get("containerimage.digest")
            .or_else(|| object.get("containerimage.descriptor")?.get("digest"))?;
        let Some(raw) = raw.as_str() else {
            return Some(Err("containerimage.digest is not a string".to_string()));
        };
        let digest = match normalize_digest(raw) {
            Ok(digest) => digest,
            Err(_) => {
                return Some(Err(format!(
                    "containerimage.digest {raw:?} is not sha256:<64 hex>"
                )));
            }
        };
        let names = object
            .get("image.name")
            .and_then(|n| n.as_str())
            .map(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Some(Ok(BuiltImage { digest, names }))
    }
    if let Some(image) = one(object) {
        return image.map(|image| vec![image]);
    }
    // bake: { "target": { "containerimage.digest": ... }, ... }
    let mut images = Vec::new();
    for (target, value) in object {
        if let Some(image) = value.as_object().and_then(one) {
            images.push(image.map_err(|err| format!("{target}: {err}"))?);
        }
    }
    if images.is_empty() {
        return Err("no containerimage.digest".to_string());
    }
    Ok(images)
}

/// Reads a `--iidfile`: one `sha256:<hex>`.
pub fn read_iidfile(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Err("empty".to_string());
    }
    normalize_digest(text).map_err(|_| format!("{text:?} is not an image digest (sha256:<64 hex>)"))
}

/// An image index read from its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciIndex {
    /// sha256 of the file bytes: the index's digest.
    pub digest: String,
    /// `manifests[].digest`, in order.
    pub manifests: Vec<String>,
}

/// Reads an OCI image index or Docker manifest list. Its digest is the
/// sha256 of the exact bytes (as pushed; a reformatted file has another).
pub fn read_oci_index(bytes: &[u8]) -> Result<OciIndex, String> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))?;
    let object = json.as_object().ok_or("not a JSON object")?;
    let manifests = match object.get("manifests").and_then(|m| m.as_array()) {
        Some(manifests) => manifests,
        None if object.contains_key("layers") || object.contains_key("config") => {
            return Err(
                "a single-platform image manifest, not an index: give its digest with --digest"
                    .to_string(),
            );
        }
        None => return Err("not an image index: no \"manifests\" list".to_string()),
    };
    let mut digests = Vec::with_capacity(manifests.len());
    for (at, manifest) in manifests.iter().enumerate() {
        let raw = manifest
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or(format!("manifests[{at}] has no digest"))?;
        digests.push(
            normalize_digest(raw)
                .map_err(|_| format!("manifests[{at}].digest {raw:?} is not sha256:<64 hex>"))?,
        );
    }
    Ok(OciIndex {
        digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
        manifests: digests,
    })
}

/// `NAME[:TAG]` → (`NAME`, `TAG`): the tag is after the last `:` that
/// follows the last `/` (a registry port is not a tag).
fn split_tag(reference: &str) -> (String, Option<String>) {
    let reference = reference.trim();
    let last_slash = reference.rfind('/').map_or(0, |at| at + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (
                reference[..at].to_string(),
                Some(reference[at + 1..].to_string()),
            )
        }
        _ => (reference.to_string(), None),
    }
}

/// `--image NAME[:TAG]@sha256:<hex>`.
fn parse_image_flag(value: &str) -> Result<BuiltImage, String> {
    let (name, digest) = value
        .rsplit_once('@')
        .ok_or("expected NAME@sha256:<64 hex>")?;
    let digest = normalize_digest(digest).map_err(|_| "expected NAME@sha256:<64 hex>")?;
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        return Err("expected NAME@sha256:<64 hex>".to_string());
    }
    Ok(BuiltImage {
        digest,
        names: vec![name.trim().to_string()],
    })
}

/// The products of a build, merged by digest, with where each came from.
#[derive(Debug, Default)]
struct Products {
    /// (digest, names without tags, sources), in first-seen order.
    images: Vec<(String, Vec<String>, Vec<String>)>,
    tags: Vec<String>,
    index: Option<(OciIndex, String)>,
}

impl Products {
    fn add(&mut self, image: BuiltImage, source: &str) {
        let position = match self.images.iter().position(|(d, _, _)| *d == image.digest) {
            Some(position) => position,
            None => {
                self.images
                    .push((image.digest.clone(), Vec::new(), Vec::new()));
                self.images.len() - 1
            }
        };
        let entry = &mut self.images[position];
        if !entry.2.iter().any(|s| s == source) {
            entry.2.push(source.to_string());
        }
        for name in image.names {
            let (name, tag) = split_tag(&name);
            if !name.is_empty() && !entry.1.contains(&name) {
                entry.1.push(name);
            }
            if let Some(tag) = tag.filter(|t| !t.is_empty())
                && !self.tags.contains(&tag)
            {
                self.tags.push(tag);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Attributes

/// An attribute value as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Str(String),
    Int(i64),
    Strs(Vec<String>),
}

impl Value {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::from(s.as_str()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Strs(v) => serde_json::Value::from(v.clone()),
        }
    }

    fn to_otel(&self) -> opentelemetry::Value {
        match self {
            Value::Str(s) => opentelemetry::Value::from(s.clone()),
            Value::Int(i) => opentelemetry::Value::from(*i),
            Value::Strs(v) => {
                let values: Vec<opentelemetry::StringValue> =
                    v.iter().map(|s| s.clone().into()).collect();
                opentelemetry::Value::Array(values.into())
            }
        }
    }
}

/// Everything found, ready to send, with the summary lines and problems.
#[derive(Debug, Default)]
struct Collected {
    attributes: Vec<(&'static str, Value)>,
    /// `(fact, text)` lines for the summary.
    summary: Vec<(String, String)>,
    /// Flags or named files that were wrong: exit 2 once the span is sent.
    problems: Vec<String>,
    /// Things worth saying that change nothing.
    notes: Vec<String>,
}

impl Collected {
    fn put(&mut self, key: &'static str, value: Value) {
        self.attributes.push((key, value));
    }

    fn say(&mut self, what: &str, text: impl Into<String>) {
        self.summary.push((what.to_string(), text.into()));
    }
}

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

fn check_commit(value: &str) -> Result<String, String> {
    normalize_commit(value).map_err(|err| err.to_string())
}

fn check_repository(value: &str) -> Result<String, String> {
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
fn collect_vcs(args: &EmitArgs, env: Env, out: &mut Collected) {
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

fn read_file(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("{flag} {}: {}", path.display(), io_reason(&err)))
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

fn collect_go_mod(args: &EmitArgs, out: &mut Collected) {
    let (path, flag) = match &args.go_mod {
        Some(path) => (path.clone(), true),
        None => {
            let path = PathBuf::from("go.mod");
            if !path.is_file() {
                return;
            }
            (path, false)
        }
    };
    let bytes = match read_file("--go-mod", &path) {
        Ok(bytes) => bytes,
        Err(reason) if flag => {
            out.problems.push(reason);
            return;
        }
        Err(reason) => {
            out.notes.push(reason);
            return;
        }
    };
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    out.put("go.mod.hash", Value::Str(hash.clone()));
    let shown = path.display().to_string();
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "not UTF-8 text".to_string())
        .and_then(parse_go_mod);
    match parsed {
        Ok(go_mod) => {
            let mut text = format!(
                "sha256:{hash} ({shown}, {} requirements, {} indirect",
                go_mod.requires.len(),
                go_mod.indirect.len()
            );
            if !go_mod.replaced_locally.is_empty() {
                text.push_str(&format!(
                    ", {} replaced by a local directory",
                    go_mod.replaced_locally.len()
                ));
            }
            text.push(')');
            out.say("go.mod", text);
            if let Some(module) = &go_mod.module {
                out.put("go.module.path", Value::Str(module.clone()));
                let mut text = module.clone();
                if let Some(go) = &go_mod.go_version {
                    text.push_str(&format!(", go {go}"));
                }
                out.say("module", format!("{text} ({shown})"));
            }
            if let Some(go) = &go_mod.go_version {
                out.put("go.module.go_version", Value::Str(go.clone()));
            }
            if !go_mod.requires.is_empty() {
                out.put("go.mod.requires", Value::Strs(go_mod.requires));
            }
            if !go_mod.indirect.is_empty() {
                out.put("go.mod.requires.indirect", Value::Strs(go_mod.indirect));
            }
            if !go_mod.replaced_locally.is_empty() {
                out.put(
                    "go.mod.replaced_locally",
                    Value::Strs(go_mod.replaced_locally),
                );
            }
        }
        Err(reason) => {
            out.say("go.mod", format!("sha256:{hash} ({shown}; not parsed)"));
            let message = format!("{shown}: {reason}: sending its hash only");
            if flag {
                out.notes.push(format!("--go-mod {message}"));
            } else {
                out.notes.push(message);
            }
        }
    }
}

fn collect_images(args: &EmitArgs, out: &mut Collected) {
    let mut products = Products::default();
    for value in &args.image {
        match parse_image_flag(value) {
            Ok(image) => products.add(image, "--image"),
            Err(reason) => out.problems.push(format!("--image {value:?}: {reason}")),
        }
    }
    for value in &args.digest {
        match normalize_digest(value) {
            Ok(digest) => products.add(
                BuiltImage {
                    digest,
                    names: Vec::new(),
                },
                "--digest",
            ),
            Err(_) => out
                .problems
                .push(format!("--digest {value:?}: expected sha256:<64 hex>")),
        }
    }
    for path in &args.buildx_metadata {
        let source = format!("--buildx-metadata {}", path.display());
        match read_file("--buildx-metadata", path).and_then(|bytes| {
            read_buildx_metadata(&bytes).map_err(|reason| format!("{source}: {reason}"))
        }) {
            Ok(images) => {
                for image in images {
                    products.add(image, &source);
                }
            }
            Err(reason) => out.problems.push(reason),
        }
    }
    for path in &args.iidfile {
        let source = format!("--iidfile {}", path.display());
        match read_file("--iidfile", path)
            .and_then(|bytes| read_iidfile(&bytes).map_err(|reason| format!("{source}: {reason}")))
        {
            Ok(digest) => products.add(
                BuiltImage {
                    digest,
                    names: Vec::new(),
                },
                &source,
            ),
            Err(reason) => out.problems.push(reason),
        }
    }
    if let Some(path) = &args.oci_index {
        let source = format!("--oci-index {}", path.display());
        match read_file("--oci-index", path).and_then(|bytes| {
            read_oci_index(&bytes).map_err(|reason| format!("{source}: {reason}"))
        }) {
            Ok(index) => {
                products.add(
                    BuiltImage {
                        digest: index.digest.clone(),
                        names: Vec::new(),
                    },
                    &source,
                );
                products.index = Some((index, source));
            }
            Err(reason) => out.problems.push(reason),
        }
    }
    if products.images.is_empty() {
        return;
    }
    if products.images.len() == 1 {
        out.put(
            "oci.manifest.digest",
            Value::Str(products.images[0].0.clone()),
        );
    }
    let mut repo_digests = Vec::new();
    let mut first_name = None;
    for (digest, names, sources) in &products.images {
        if names.is_empty() && products.images.len() > 1 {
            out.problems.push(format!(
                "{digest} ({}): with several image digests each needs a name: give it as --image NAME@{digest}",
                sources.join(", ")
            ));
        }
        for name in names {
            first_name.get_or_insert_with(|| name.clone());
            let entry = format!("{name}@{digest}");
            if !repo_digests.contains(&entry) {
                repo_digests.push(entry);
            }
        }
        let named = if names.is_empty() {
            String::new()
        } else {
            format!(" {}", names.join(", "))
        };
        out.say("image", format!("{digest}{named} ({})", sources.join(", ")));
    }
    if !repo_digests.is_empty() {
        out.put("container.image.repo_digests", Value::Strs(repo_digests));
    }
    if let Some(name) = first_name {
        out.put("container.image.name", Value::Str(name));
    }
    if !products.tags.is_empty() {
        out.say("tags", products.tags.join(", "));
        out.put("container.image.tags", Value::Strs(products.tags.clone()));
    }
    if let Some((index, source)) = products.index {
        out.say(
            "index",
            format!(
                "{} has {} manifests ({source}); link them with POST /v1/index or provgraph discover",
                index.digest,
                index.manifests.len()
            ),
        );
        out.put("oci.index.manifests", Value::Strs(index.manifests));
    }
}

// ---------------------------------------------------------------------------
// OTLP settings

/// Where and how the span goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    protocol: OtlpProtocol,
    endpoint: String,
    /// The flag or variable the endpoint came from, or `default`.
    endpoint_source: String,
    timeout: Duration,
    /// A PEM file of CA certificates to trust for https, besides the
    /// system's (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE or
    /// OTEL_EXPORTER_OTLP_CERTIFICATE).
    ca_certificate: Option<PathBuf>,
}

fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// A base URL (OTEL_EXPORTER_OTLP_ENDPOINT, --endpoint): HTTP gets
/// `/v1/traces` appended unless it already ends with it; gRPC uses it as is.
fn base_endpoint(url: &str, protocol: OtlpProtocol) -> String {
    let url = with_scheme(url);
    match protocol {
        OtlpProtocol::Grpc => url,
        _ => {
            let trimmed = url.trim_end_matches('/');
            if trimmed.ends_with("/v1/traces") {
                trimmed.to_string()
            } else {
                format!("{trimmed}/v1/traces")
            }
        }
    }
}

fn resolve_target(args: &EmitArgs, env: Env) -> Result<Target, String> {
    let protocol = match args.protocol {
        Some(protocol) => protocol,
        None => {
            let from_env = [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ]
            .into_iter()
            .find_map(|name| env(name).map(|value| (name, value)));
            match from_env {
                Some((name, value)) => OtlpProtocol::parse(&value).ok_or_else(|| {
                    format!("{name}={value:?} is not one of grpc, http/protobuf, http/json")
                })?,
                None => OtlpProtocol::Grpc,
            }
        }
    };
    let (endpoint, endpoint_source) = if let Some(flag) = &args.endpoint {
        (base_endpoint(flag, protocol), "--endpoint".to_string())
    } else if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        (
            with_scheme(&url),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_string(),
        )
    } else if let Some(url) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
        (
            base_endpoint(&url, protocol),
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
        )
    } else {
        let default = match protocol {
            OtlpProtocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
            _ => base_endpoint(DEFAULT_HTTP_ENDPOINT, protocol),
        };
        (default, "default".to_string())
    };
    let timeout = args.timeout.unwrap_or_else(|| {
        [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ]
        .into_iter()
        .find_map(|name| env(name)?.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
    });
    let ca_certificate = [
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ]
    .into_iter()
    .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
    .map(PathBuf::from);
    Ok(Target {
        protocol,
        endpoint,
        endpoint_source,
        timeout,
        ca_certificate,
    })
}

/// The CI's trace context: `TRACEPARENT` (and `TRACESTATE`), as the Jenkins
/// OpenTelemetry plugin and the OpenTelemetry environment-carrier
/// specification name them, else BuildKit's `OTEL_TRACE_PARENT` (and
/// `OTEL_TRACE_STATE`). Returns the variable's name with the outcome.
fn parent_context(env: Env) -> Option<(Result<SpanContext, String>, &'static str)> {
    let (value, source, state) = match env("TRACEPARENT") {
        Some(value) => (value, "TRACEPARENT", env("TRACESTATE")),
        None => (
            env("OTEL_TRACE_PARENT")?,
            "OTEL_TRACE_PARENT",
            env("OTEL_TRACE_STATE"),
        ),
    };
    let context = parse_traceparent(&value).map(|context| {
        match state.and_then(|state| state.trim().parse::<TraceState>().ok()) {
            Some(state) => SpanContext::new(
                context.trace_id(),
                context.span_id(),
                context.trace_flags(),
                true,
                state,
            ),
            None => context,
        }
    });
    Some((context, source))
}

/// The W3C `traceparent`: `VERSION-TRACEID-SPANID-FLAGS`.
fn parse_traceparent(value: &str) -> Result<SpanContext, String> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let bad = || format!("{value:?} is not 00-<32 hex>-<16 hex>-<2 hex>");
    if parts.len() < 4 {
        return Err(bad());
    }
    let (version, trace, span, flags) = (parts[0], parts[1], parts[2], parts[3]);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.len() != 4) {
        return Err(bad());
    }
    if !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return Err(bad());
    }
    let trace_id = TraceId::from_hex(trace).map_err(|_| bad())?;
    let span_id = SpanId::from_hex(span).map_err(|_| bad())?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return Err(format!(
            "{value:?}: an all-zero trace or span id is invalid"
        ));
    }
    let flags = u8::from_str_radix(flags, 16).map_err(|_| bad())?;
    Ok(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

// ---------------------------------------------------------------------------
// Sending

/// The SDK's OTLP exporter, bounded by a deadline, remembering the outcome
/// so that a failed export is reported (the simple processor only logs it).
#[derive(Debug)]
struct Recording {
    inner: opentelemetry_otlp::SpanExporter,
    deadline: Duration,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = match tokio::time::timeout(self.deadline, self.inner.export(batch)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                let text = err.to_string();
                Err(text
                    .strip_prefix("Operation failed: ")
                    .unwrap_or(&text)
                    .to_string())
            }
            Err(_) => Err(format!("no answer within {:?}", self.deadline)),
        };
        if let Ok(mut outcome) = self.outcome.lock() {
            *outcome = Some(result.clone());
        }
        result.map_err(OTelSdkError::InternalFailure)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn build_exporter(target: &Target) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let https = target.endpoint.starts_with("https://");
    if https && target.protocol != OtlpProtocol::Grpc {
        return Err(
            "https is supported over grpc only in this build: use --protocol grpc (or \
             OTEL_EXPORTER_OTLP_PROTOCOL=grpc), or a local OpenTelemetry Collector that forwards over TLS"
                .to_string(),
        );
    }
    let built = match target.protocol {
        OtlpProtocol::Grpc if https => {
            // The system's roots, plus a CA the environment names.
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = &target.ca_certificate {
                let pem = std::fs::read(path).map_err(|err| {
                    format!("cannot read the CA certificate {}: {err}", path.display())
                })?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(target.endpoint.clone())
                .with_tls_config(tls)
                .with_timeout(target.timeout)
                .build()
        }
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.clone())
            .with_timeout(target.timeout)
            .build(),
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            let protocol = if target.protocol == OtlpProtocol::HttpJson {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(target.endpoint.clone())
                .with_timeout(target.timeout)
                .build()
        }
    };
    built.map_err(|err| err.to_string())
}

/// The resource: what the SDK reads (OTEL_SERVICE_NAME,
/// OTEL_RESOURCE_ATTRIBUTES), with `service.name` `provgraph-emit` unless
/// one is set there.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder()
            .with_service_name("provgraph-emit")
            .build()
    }
}

/// The outcome of the wrapped command.
#[derive(Debug)]
enum Ran {
    Exited(i32),
    Signaled(i32),
    NotStarted { code: u8, reason: String },
}

impl Ran {
    fn exit_code(&self) -> u8 {
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
fn run_command(runtime: &tokio::runtime::Runtime, argv: &[String]) -> Ran {
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

fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

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
    collect_vcs(&args, env, &mut out);
    collect_go_mod(&args, &mut out);
    collect_images(&args, &mut out);

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
                out.say("command", reason.clone());
            }
        }
    }

    let (parent, parent_source) = match parent_context(env) {
        Some((Ok(context), source)) => (Some(context), source),
        Some((Err(reason), source)) => {
            out.notes
                .push(format!("{source} ignored, starting a new trace: {reason}"));
            (None, source)
        }
        None => (None, ""),
    };
    let target = resolve_target(&args, env);

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
            send(&target, &span_name, &out, parent, start, end, ran.as_ref())
                .map_err(|reason| (target.endpoint.clone(), reason))
        }
        Err(reason) => Err(("the OTLP endpoint".to_string(), reason)),
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
                one_line(&reason)
            );
            args.strict.then_some(1)
        }
    };
    ExitCode::from(command_code.or(problems_code).or(send_code).unwrap_or(0))
}

/// Sends the one span through the SDK (simple processor: exported when it
/// ends), then shuts the provider down. Must run inside the runtime.
fn send(
    target: &Target,
    name: &str,
    out: &Collected,
    parent: Option<SpanContext>,
    start: SystemTime,
    end: SystemTime,
    ran: Option<&Ran>,
) -> Result<String, String> {
    let exporter = build_exporter(target)?;
    let outcome = Arc::new(Mutex::new(None));
    let recording = Recording {
        inner: exporter,
        deadline: target.timeout,
        outcome: outcome.clone(),
    };
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(recording)
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("provgraph-emit");
    let context = match parent {
        Some(parent) => Context::new().with_remote_span_context(parent),
        None => Context::new(),
    };
    let attributes: Vec<KeyValue> = out
        .attributes
        .iter()
        .map(|(k, v)| KeyValue::new(*k, v.to_otel()))
        .collect();
    let mut span = tracer
        .span_builder(name.to_string())
        .with_kind(SpanKind::Internal)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, &context);
    match ran {
        Some(Ran::Exited(0)) => span.set_status(Status::Ok),
        Some(Ran::Exited(code)) => span.set_status(Status::error(format!("exit code {code}"))),
        Some(Ran::Signaled(signal)) => {
            span.set_status(Status::error(format!("killed by signal {signal}")));
        }
        Some(Ran::NotStarted { reason, .. }) => span.set_status(Status::error(reason.clone())),
        None => {}
    }
    span.end_with_timestamp(end);
    drop(span);
    let _ = provider.shutdown();
    let result = outcome
        .lock()
        .map_err(|_| "internal error".to_string())?
        .take();
    match result {
        Some(Ok(())) => Ok(target.endpoint.clone()),
        Some(Err(reason)) => Err(reason),
        None => Err("the span was not exported".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn go_mod_requires_blocks_single_lines_and_indirect() {
        let text = r#"
// The calculator.
module github.com/acme/calc // deprecated? no

go 1.22.1

toolchain go1.22.3

require github.com/spf13/cobra v1.8.0

require (
	golang.org/x/sync v0.7.0
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.5 // indirect; used by cobra
	gopkg.in/yaml.v3 v3.0.1 // not indirect
	"github.com/quoted/mod" v0.1.0
)

require github.com/single/indirect v0.2.0 // indirect

exclude github.com/spf13/cobra v1.7.0
exclude (
	golang.org/x/sync v0.6.0
)
retract [v0.1.0, v0.1.5]
retract (
	v0.0.1 // broken
)
godebug default=go1.21
"#;
        let go_mod = parse_go_mod(text).unwrap();
        assert_eq!(go_mod.module.as_deref(), Some("github.com/acme/calc"));
        assert_eq!(go_mod.go_version.as_deref(), Some("1.22.1"));
        assert_eq!(
            go_mod.requires,
            vec![
                "github.com/spf13/cobra@v1.8.0",
                "golang.org/x/sync@v0.7.0",
                "gopkg.in/yaml.v3@v3.0.1",
                "github.com/quoted/mod@v0.1.0",
            ]
        );
        assert_eq!(
            go_mod.indirect,
            vec![
                "github.com/inconshreveable/mousetrap@v1.1.0",
                "github.com/spf13/pflag@v1.0.5",
                "github.com/single/indirect@v0.2.0",
            ]
        );
        assert!(go_mod.replaced_locally.is_empty());
    }

    #[test]
    fn go_mod_replace_with_version_without_version_and_local_path() {
        let text = r#"module example.com/app
go 1.21
require (
	example.com/a v1.0.0
	example.com/b v1.2.0
	example.com/b2 v1.3.0
	example.com/c v0.3.0 // indirect
	example.com/d v0.4.0
)
replace example.com/a v1.0.0 => example.com/a-fork v1.0.1
replace example.com/a v0.9.0 => example.com/never v9.9.9
replace (
	example.com/b => example.com/b-fork v1.2.1
	example.com/b2 v1.3.0 => example.com/b2-exact v1.3.1
	example.com/b2 => example.com/b2-any v0.0.1
	example.com/c => ../c
)
replace example.com/d => /abs/d
"#;
        let go_mod = parse_go_mod(text).unwrap();
        assert_eq!(
            go_mod.requires,
            vec![
                "example.com/a-fork@v1.0.1",
                "example.com/b-fork@v1.2.1",
                "example.com/b2-exact@v1.3.1",
                "example.com/d@v0.4.0",
            ]
        );
        assert_eq!(go_mod.indirect, vec!["example.com/c@v0.3.0"]);
        assert_eq!(
            go_mod.replaced_locally,
            vec!["example.com/c@v0.3.0", "example.com/d@v0.4.0"]
        );
    }

    #[test]
    fn go_mod_errors_name_the_line() {
        let err = parse_go_mod("module a\nrequire example.com/x\n").unwrap_err();
        assert_eq!(err, "line 2: usage: require PATH VERSION");
        let err = parse_go_mod("module a\nreplace x => y\n").unwrap_err();
        assert!(
            err.starts_with("line 2: replacement y has no version"),
            "{err}"
        );
        let err = parse_go_mod("module a\nreplace x => ./y v1.0.0\n").unwrap_err();
        assert!(err.contains("cannot have a version"), "{err}");
        let err = parse_go_mod("module a\nrequire (\n x v1.0.0\n").unwrap_err();
        assert!(err.contains("not closed"), "{err}");
        let err = parse_go_mod("module \"a\n").unwrap_err();
        assert!(err.contains("unterminated"), "{err}");
        let err = parse_go_mod(")\n").unwrap_err();
        assert!(err.starts_with("line 1: unexpected"), "{err}");
    }

    #[test]
    fn go_mod_comments_only_and_empty() {
        let go_mod = parse_go_mod("// nothing here\n\n").unwrap();
        assert_eq!(go_mod, GoMod::default());
        // `//` inside a quoted path is not a comment.
        let go_mod = parse_go_mod("module \"example.com/a//b\" // c\n").unwrap();
        assert_eq!(go_mod.module.as_deref(), Some("example.com/a//b"));
    }

    #[test]
    fn buildx_metadata_digest_names_and_errors() {
        let meta = format!(
            r#"{{"buildx.build.ref":"x/y/z","containerimage.config.digest":"{B}",
                "containerimage.descriptor":{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{A}","size":1609}},
                "containerimage.digest":"{A}","image.name":"ghcr.io/acme/calc:v1.0.0, ghcr.io/acme/calc:latest"}}"#
        );
        let images = read_buildx_metadata(meta.as_bytes()).unwrap();
        assert_eq!(
            images,
            vec![BuiltImage {
                digest: A.to_string(),
                names: vec![
                    "ghcr.io/acme/calc:v1.0.0".to_string(),
                    "ghcr.io/acme/calc:latest".to_string()
                ],
            }]
        );
        // Only the descriptor: its digest.
        let meta = format!(r#"{{"containerimage.descriptor":{{"digest":"{B}"}}}}"#);
        assert_eq!(read_buildx_metadata(meta.as_bytes()).unwrap()[0].digest, B);
        // bake: one object per target.
        let meta = format!(
            r#"{{"app":{{"containerimage.digest":"{A}","image.name":"acme/app"}},"tool":{{"containerimage.digest":"{B}"}}}}"#
        );
        let images = read_buildx_metadata(meta.as_bytes()).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[1].digest, B);
        assert_eq!(
            read_buildx_metadata(br#"{"buildx.build.ref":"x"}"#).unwrap_err(),
            "no containerimage.digest"
        );
        assert!(
            read_buildx_metadata(br#"{"containerimage.digest":"sha256:abc"}"#)
                .unwrap_err()
                .contains("is not sha256:<64 hex>")
        );
        assert!(
            read_buildx_metadata(b"{not json")
                .unwrap_err()
                .starts_with("not JSON")
        );
        assert_eq!(
            read_buildx_metadata(b"[1]").unwrap_err(),
            "not a JSON object"
        );
    }

    #[test]
    fn iidfile_reader() {
        assert_eq!(read_iidfile(format!("{A}\n").as_bytes()).unwrap(), A);
        assert_eq!(
            read_iidfile(A.to_uppercase().replace("SHA256", "sha256").as_bytes()).unwrap(),
            A
        );
        assert_eq!(read_iidfile(b"  \n").unwrap_err(), "empty");
        assert!(
            read_iidfile(b"abc")
                .unwrap_err()
                .contains("not an image digest")
        );
        assert_eq!(read_iidfile(&[0xff, 0xfe]).unwrap_err(), "not text");
    }

    #[test]
    fn oci_index_digest_is_of_the_exact_bytes() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"{A}","platform":{{"os":"linux","architecture":"amd64"}}}},{{"digest":"{B}"}}]}}"#
        );
        let read = read_oci_index(index.as_bytes()).unwrap();
        assert_eq!(
            read.digest,
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(index.as_bytes()))
            )
        );
        assert_eq!(read.manifests, vec![A, B]);
        assert!(
            read_oci_index(br#"{"config":{},"layers":[]}"#)
                .unwrap_err()
                .contains("not an index")
        );
        assert!(
            read_oci_index(br#"{"manifests":[{"size":1}]}"#)
                .unwrap_err()
                .contains("manifests[0] has no digest")
        );
    }

    #[test]
    fn image_names_and_tags() {
        assert_eq!(
            split_tag("ghcr.io/acme/calc:v1"),
            ("ghcr.io/acme/calc".into(), Some("v1".into()))
        );
        assert_eq!(
            split_tag("localhost:5000/acme/calc"),
            ("localhost:5000/acme/calc".into(), None)
        );
        assert_eq!(
            split_tag("calc:latest"),
            ("calc".into(), Some("latest".into()))
        );
        assert_eq!(
            split_tag("ghcr.io/acme/calc"),
            ("ghcr.io/acme/calc".into(), None)
        );
        let image = parse_image_flag(&format!("ghcr.io/acme/calc:v1@{A}")).unwrap();
        assert_eq!(image.digest, A);
        assert_eq!(image.names, vec!["ghcr.io/acme/calc:v1"]);
        assert!(parse_image_flag(A).is_err());
        assert!(parse_image_flag("calc@sha256:12").is_err());
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

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
            check_repository(&facts.repository.unwrap().value).unwrap(),
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
        assert!(check_commit("HEAD").is_err(), "HEAD falls through to git");
        assert_eq!(Ci::detect(&env_of(&[])), None);
    }

    fn args(extra: &[&str]) -> EmitArgs {
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

    #[test]
    fn otlp_target_resolution() {
        let none = env_of(&[]);
        let t = resolve_target(&args(&[]), &none).unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::Grpc, "http://127.0.0.1:4317")
        );
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        let t = resolve_target(&args(&["--protocol", "http/protobuf"]), &none).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
        let t = resolve_target(
            &args(&["--protocol", "http/json", "--endpoint", "collector:4318/"]),
            &none,
        )
        .unwrap();
        assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/base"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        let t = resolve_target(&args(&[]), &env).unwrap();
        assert_eq!(t.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.endpoint, "http://otel:4318/base/v1/traces");
        assert_eq!(t.endpoint_source, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert_eq!(t.timeout, Duration::from_millis(2500));
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://otel:4318/custom",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let t = resolve_target(&args(&["--timeout", "3s"]), &env).unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::HttpJson, "http://otel:4318/custom")
        );
        assert_eq!(t.timeout, Duration::from_secs(3));
        let t = resolve_target(
            &args(&["--endpoint", "http://x:4317", "--protocol", "grpc"]),
            &env,
        )
        .unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::Grpc, "http://x:4317")
        );
        let bad = env_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]);
        assert!(
            resolve_target(&args(&[]), &bad)
                .unwrap_err()
                .contains("udp")
        );
    }

    #[test]
    fn durations_and_traceparent() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        let context =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_remote());
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_err()
        );
        assert!(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").is_err());
        assert!(
            parse_traceparent("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_err()
        );
    }

    #[test]
    fn parent_from_traceparent_or_buildkit() {
        let env = env_of(&[
            (
                "OTEL_TRACE_PARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("OTEL_TRACE_STATE", "vendor=x"),
        ]);
        let (context, source) = parent_context(&env).unwrap();
        let context = context.unwrap();
        assert_eq!(source, "OTEL_TRACE_PARENT");
        assert_eq!(context.trace_state().get("vendor"), Some("x"));
        let env = env_of(&[
            (
                "TRACEPARENT",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            ),
            (
                "OTEL_TRACE_PARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ]);
        let (context, source) = parent_context(&env).unwrap();
        assert_eq!(source, "TRACEPARENT");
        assert_eq!(
            context.unwrap().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(parent_context(&env_of(&[])).is_none());
    }

    #[test]
    fn credentials_and_branches() {
        assert_eq!(
            strip_credentials("https://gitlab-ci-token:abc@gitlab.com/acme/calc.git"),
            "https://gitlab.com/acme/calc.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:acme/calc.git"),
            "git@github.com:acme/calc.git"
        );
        assert_eq!(check_branch("refs/heads/main").unwrap(), "main");
        assert!(check_branch("HEAD").is_err());
    }
}
