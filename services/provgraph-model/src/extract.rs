//! Extraction: OTLP spans and their resources in, [`SpanFacts`] out.
//!
//! A pure function over the decoded request, tested with tables of real
//! attribute sets. Values that do not parse are rejected and reported (the
//! span's other facts are kept); spans with invalid ids are rejected whole.

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

use crate::attributes::{self as names, Mapping};
use crate::facts::{BuildChoice, Image, Sighting, SpanFacts};
use crate::keys::{self, KeyError, WorkloadIdentity, shorten};

/// How many problem descriptions an [`Extraction`] keeps verbatim; the rest
/// are only counted.
pub const MAX_PROBLEMS_KEPT: usize = 8;

/// The result of reading one export request.
#[derive(Debug, Default)]
pub struct Extraction {
    /// Facts of the spans that said anything, at most one entry per span
    /// (and one per trace for bare "runs in image" sightings).
    pub facts: Vec<SpanFacts>,
    /// Workloads seen running images, from the resources of a metrics or
    /// logs export ([`extract_resources`]); each distinct sighting once.
    pub sightings: Vec<Sighting>,
    /// Spans in the request (data points or log records for metrics and
    /// logs).
    pub spans_seen: u64,
    /// Spans rejected whole, or with at least one value rejected (for
    /// metrics and logs: the data points or log records of a resource with
    /// a value rejected).
    pub rejected_spans: u64,
    /// The first [`MAX_PROBLEMS_KEPT`] problems, each one line.
    pub problems: Vec<String>,
    /// How many problems there were in all.
    pub problem_count: u64,
}

impl Extraction {
    fn problem(&mut self, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS_KEPT {
            self.problems.push(message);
        }
    }

    /// One message summing up the problems, for `partial_success`.
    pub fn error_message(&self) -> Option<String> {
        if self.problem_count == 0 {
            return None;
        }
        let mut message = self.problems.join("; ");
        let more = self.problem_count - self.problems.len() as u64;
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Some(message)
    }
}

/// Reads every span of `request` into facts, with the built-in names.
pub fn extract(request: &ExportTraceServiceRequest) -> Extraction {
    extract_with(request, &Mapping::default())
}

/// Reads every span of `request` into facts, with the names of `mapping`.
pub fn extract_with(request: &ExportTraceServiceRequest, mapping: &Mapping) -> Extraction {
    let mut out = Extraction::default();
    let mut sightings: HashSet<(String, Vec<Image>, Option<WorkloadIdentity>)> = HashSet::new();
    for resource_spans in &request.resource_spans {
        let resource_attrs: &[KeyValue] = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let ResourceView {
            sender,
            runs_in,
            workload,
            problems: resource_problems,
        } = read_resource(resource_attrs);
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                out.spans_seen += 1;
                let (Some(trace_id), Some(span_id)) =
                    (hex_id(&span.trace_id, 16), hex_id(&span.span_id, 8))
                else {
                    out.rejected_spans += 1;
                    out.problem(format!(
                        "span {:?}: trace id must be 16 bytes and span id 8 bytes, not all zero",
                        shorten(&span.name, 60)
                    ));
                    continue;
                };
                let view = Attrs {
                    primary: &span.attributes,
                    fallback: resource_attrs,
                };
                let span_only = Attrs {
                    primary: &span.attributes,
                    fallback: &[],
                };
                let mut problems = resource_problems.clone();
                let mut facts = SpanFacts {
                    trace_id,
                    span_id,
                    sender: sender.clone(),
                    build_id: read_build_id(&view, &mapping.build_id, &mut problems)
                        .or_else(|| dialects::build_id(&view)),
                    pipeline: view.string(&mapping.pipeline).map(str::to_string),
                    commit: read_key(
                        &view,
                        &mapping.commit,
                        keys::normalize_commit,
                        &mut problems,
                    )
                    .or_else(|| dialects::commit(&view)),
                    repository: read_key(
                        &view,
                        &mapping.repository,
                        keys::normalize_repository,
                        &mut problems,
                    )
                    .or_else(|| dialects::repository(&view)),
                    branch: view.string(&mapping.branch).map(str::to_string),
                    gomod: read_key(&view, &mapping.gomod, keys::normalize_gomod, &mut problems),
                    produced: read_images(&span_only, &mut problems),
                    runs_in: runs_in.clone(),
                    workload: workload.clone(),
                    ..SpanFacts::default()
                };
                if facts.gomod.is_some() {
                    facts.go_module = view.string(names::GO_MODULE).map(str::to_string);
                    facts.go_version = view.string(names::GO_VERSION).map(str::to_string);
                    facts.requires = read_modules(&view, names::GO_REQUIRES, &mut problems);
                    facts.requires_indirect =
                        read_modules(&view, names::GO_REQUIRES_INDIRECT, &mut problems);
                } else if view.first(names::GO_REQUIRES).is_some()
                    || view.first(names::GO_REQUIRES_INDIRECT).is_some()
                {
                    problems.push(
                        "go.mod.requires: sent without go.mod.hash on the same span or resource; ignored"
                            .to_string(),
                    );
                }
                facts.cut_values();
                if !problems.is_empty() {
                    out.rejected_spans += 1;
                    for problem in problems {
                        out.problem(format!("span {}: {problem}", facts.span_id));
                    }
                }
                if facts.is_empty() {
                    continue;
                }
                if !facts.has_build_facts() {
                    // A bare sighting of the image this process runs in: keep
                    // one per trace.
                    facts.span_id.clear();
                    let seen = (
                        facts.trace_id.clone(),
                        facts.runs_in.clone(),
                        facts.workload.clone(),
                    );
                    if !sightings.insert(seen) {
                        continue;
                    }
                }
                out.facts.push(facts);
            }
        }
    }
    out
}

/// Reads the resources of a metrics or logs export: each given with the
/// number of data points or log records under it (counted in
/// [`Extraction::spans_seen`], and in [`Extraction::rejected_spans`] when
/// their resource had a value that does not parse). Only resources are read:
/// a resource that names the image its process runs in is a [`Sighting`];
/// data points and log records say nothing provgraph keeps.
pub fn extract_resources<'a>(
    resources: impl IntoIterator<Item = (&'a [KeyValue], u64)>,
) -> Extraction {
    let mut out = Extraction::default();
    for (index, (attributes, items)) in resources.into_iter().enumerate() {
        out.spans_seen += items;
        let view = read_resource(attributes);
        if !view.problems.is_empty() {
            out.rejected_spans += items;
            for problem in view.problems {
                out.problem(format!("resource {index}: {problem}"));
            }
        }
        if let Some(workload) = view.workload {
            let sighting = Sighting {
                workload,
                sender: view.sender,
                images: view.runs_in,
            };
            if !out.sightings.contains(&sighting) {
                out.sightings.push(sighting);
            }
        }
    }
    out
}

/// What a resource says about the process that sent the telemetry.
struct ResourceView {
    /// `service.name`.
    sender: String,
    /// The images it runs in.
    runs_in: Vec<Image>,
    /// Who it is, when it names an image (and its key is a valid key).
    workload: Option<WorkloadIdentity>,
    problems: Vec<String>,
}

fn read_resource(attributes: &[KeyValue]) -> ResourceView {
    let resource = Attrs {
        primary: attributes,
        fallback: &[],
    };
    let mut problems = Vec::new();
    let mut runs_in = read_images(&resource, &mut problems);
    if runs_in.is_empty() && problems.is_empty() {
        runs_in = image_id(&resource);
    }
    let mut sender = resource
        .string(names::SERVICE_NAME)
        .unwrap_or_default()
        .to_string();
    crate::facts::cut_value(&mut sender);
    runs_in.iter_mut().for_each(Image::cut_values);
    // A workload whose key would not be a valid key (too long, control
    // characters) is a problem, not a node no query could name.
    let workload = (!runs_in.is_empty())
        .then(|| workload_identity(&resource))
        .and_then(
            |identity| match keys::normalize_workload_key(&identity.key()) {
                Ok(_) => Some(identity),
                Err(err) => {
                    problems.push(format!("workload: {err}"));
                    None
                }
            },
        );
    ResourceView {
        sender,
        runs_in,
        workload,
        problems,
    }
}

/// `container.image.id` in the `NAME@sha256:<hex>` form (see
/// [`names::CONTAINER_IMAGE_ID`]); any other form is not a manifest digest
/// and says nothing.
fn image_id(resource: &Attrs<'_>) -> Vec<Image> {
    let Some((name, digest)) = resource
        .string(names::CONTAINER_IMAGE_ID)
        .and_then(|id| id.rsplit_once('@'))
    else {
        return Vec::new();
    };
    let Ok(digest) = keys::normalize_digest(digest) else {
        return Vec::new();
    };
    let mut names: Vec<String> = [Some(name), resource.string(names::IMAGE_NAME)]
        .into_iter()
        .flatten()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    let mut tags: Vec<String> = resource
        .strings(names::IMAGE_TAGS)
        .into_iter()
        .map(str::to_string)
        .collect();
    tags.sort();
    tags.dedup();
    vec![Image {
        digest,
        names,
        tags,
    }]
}

/// A span's attributes with its resource's behind them.
struct Attrs<'a> {
    primary: &'a [KeyValue],
    fallback: &'a [KeyValue],
}

impl<'a> Attrs<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        let find = |attrs: &'a [KeyValue]| {
            attrs
                .iter()
                .find(|kv| kv.key == name)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v: &'a AnyValue| v.value.as_ref())
        };
        find(self.primary).or_else(|| find(self.fallback))
    }

    /// The first of `names` present (span before resource for each name).
    fn first<'n, N: AsRef<str>>(&self, names: &'n [N]) -> Option<(&'n str, &'a Value)> {
        names
            .iter()
            .find_map(|name| self.get(name.as_ref()).map(|v| (name.as_ref(), v)))
    }

    /// The first of `names` present as a non-empty string.
    fn string<N: AsRef<str>>(&self, names: &[N]) -> Option<&'a str> {
        names.iter().find_map(|name| match self.get(name.as_ref()) {
            Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })
    }

    /// The first of `names` present as a non-empty string or an integer.
    fn text<N: AsRef<str>>(&self, names: &[N]) -> Option<String> {
        names.iter().find_map(|name| match self.get(name.as_ref()) {
            Some(Value::StringValue(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
    }

    /// Whether any attribute name starts with `prefix`.
    fn has_prefix(&self, prefix: &str) -> bool {
        self.primary
            .iter()
            .chain(self.fallback)
            .any(|kv| kv.key.starts_with(prefix))
    }

    /// Every string in the first of `names` present: an array of strings, or
    /// one string.
    fn strings<N: AsRef<str>>(&self, names: &[N]) -> Vec<&'a str> {
        match self.first(names) {
            Some((_, Value::StringValue(s))) if !s.is_empty() => vec![s.as_str()],
            Some((_, Value::ArrayValue(array))) => array
                .values
                .iter()
                .filter_map(|v| match &v.value {
                    Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Facts some CI exporters only send in pieces or under another meaning;
/// read only when the names of the mapping gave nothing. See
/// docs/attributes.md.
mod dialects {
    use super::Attrs;
    use crate::facts::{BuildChoice, BuildIdSource};
    use crate::keys;

    /// Jenkins OpenTelemetry plugin: `ci.pipeline.id` and
    /// `ci.pipeline.run.number` make `ID#NUMBER`.
    pub(super) fn build_id(view: &Attrs<'_>) -> Option<BuildChoice> {
        let pipeline = view.text(&["ci.pipeline.id"])?;
        let number = view.text(&["ci.pipeline.run.number"])?;
        let key = keys::normalize_build_id(&format!("{pipeline}#{number}")).ok()?;
        Some(BuildChoice {
            source: BuildIdSource::PipelineRunId,
            key,
        })
    }

    /// otel-cicd-action and otel-export-trace-action put the commit in
    /// `service.version` (beside `github.*` attributes); taken only when it
    /// is a SHA.
    pub(super) fn commit(view: &Attrs<'_>) -> Option<String> {
        if !view.has_prefix("github.") {
            return None;
        }
        keys::normalize_commit(view.string(&["service.version"])?).ok()
    }

    /// The Collector's GitHub receiver sends `vcs.repository.name` with
    /// `vcs.owner.name` and `vcs.provider.name`; the GitHub Actions exporters
    /// send `owner/repo` as `github.repository` or `service.namespace`.
    pub(super) fn repository(view: &Attrs<'_>) -> Option<String> {
        if let (Some(name), Some(owner)) = (
            view.string(&["vcs.repository.name"]),
            view.string(&["vcs.owner.name"]),
        ) {
            let host = match view.string(&["vcs.provider.name"]).unwrap_or("github") {
                "github" => "github.com",
                "gitlab" => "gitlab.com",
                "bitbucket" => "bitbucket.org",
                "gitea" => return None,
                other => other,
            };
            return keys::normalize_repository(&format!("{host}/{owner}/{name}")).ok();
        }
        if view.has_prefix("github.") {
            let full = view.string(&["github.repository", "service.namespace"])?;
            if full.matches('/').count() == 1 {
                return keys::normalize_repository(&format!("github.com/{full}")).ok();
            }
        }
        None
    }
}

fn hex_id(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|b| *b != 0)).then(|| hex::encode(bytes))
}

fn describe(value: &Value) -> String {
    match value {
        Value::StringValue(s) => format!("{:?}", shorten(s, 100)),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        Value::ArrayValue(_) => "an array".to_string(),
        Value::KvlistValue(_) => "a map".to_string(),
        Value::BytesValue(_) => "bytes".to_string(),
        Value::StringValueStrindex(_) => "a string table reference".to_string(),
    }
}

fn read_key<N: AsRef<str>>(
    attrs: &Attrs<'_>,
    names: &[N],
    normalize: fn(&str) -> Result<String, KeyError>,
    problems: &mut Vec<String>,
) -> Option<String> {
    let (name, value) = attrs.first(names)?;
    match value {
        Value::StringValue(s) if s.is_empty() => None,
        Value::StringValue(s) => match normalize(s) {
            Ok(key) => Some(key),
            Err(err) => {
                problems.push(format!("{name}: {err}"));
                None
            }
        },
        other => {
            problems.push(format!(
                "{name}: expected a string, got {}",
                describe(other)
            ));
            None
        }
    }
}

/// Module requirements `PATH@VERSION` from a string array (or one string);
/// malformed entries are problems, the others are kept.
fn read_modules(attrs: &Attrs<'_>, names: &[&str], problems: &mut Vec<String>) -> Vec<String> {
    let mut modules = Vec::new();
    for entry in attrs.strings(names) {
        match keys::normalize_module(entry) {
            Ok(module) => {
                if !modules.contains(&module) {
                    modules.push(module);
                }
            }
            Err(err) => problems.push(format!(
                "{}: {err}",
                names.first().copied().unwrap_or_default()
            )),
        }
    }
    modules.sort();
    modules
}

fn read_build_id(
    attrs: &Attrs<'_>,
    names: &[(String, crate::facts::BuildIdSource)],
    problems: &mut Vec<String>,
) -> Option<BuildChoice> {
    for (name, source) in names {
        let Some(value) = attrs.get(name) else {
            continue;
        };
        let raw = match value {
            Value::StringValue(s) if s.is_empty() => continue,
            Value::StringValue(s) => s.clone(),
            // The Collector's GitHub and GitLab receivers send run ids as ints.
            Value::IntValue(i) => i.to_string(),
            other => {
                problems.push(format!(
                    "{name}: expected a string or an integer, got {}",
                    describe(other)
                ));
                return None;
            }
        };
        return match keys::normalize_build_id(&raw) {
            Ok(key) => Some(BuildChoice {
                source: *source,
                key,
            }),
            Err(err) => {
                problems.push(format!("{name}: {err}"));
                None
            }
        };
    }
    None
}

/// Images named by `oci.manifest.digest` and `container.image.repo_digests`,
/// with the names and tags given beside them.
fn read_images(attrs: &Attrs<'_>, problems: &mut Vec<String>) -> Vec<Image> {
    let mut images: Vec<Image> = Vec::new();
    let mut add = |digest: String, name: Option<&str>| {
        let image = match images.iter_mut().position(|i| i.digest == digest) {
            Some(at) => &mut images[at],
            None => {
                images.push(Image {
                    digest,
                    ..Image::default()
                });
                images.last_mut().expect("just pushed")
            }
        };
        if let Some(name) = name.filter(|n| !n.is_empty())
            && !image.names.iter().any(|n| n == name)
        {
            image.names.push(name.to_string());
        }
    };
    if let Some((name, value)) = attrs.first(names::MANIFEST_DIGEST) {
        match value {
            Value::StringValue(s) if s.is_empty() => {}
            Value::StringValue(s) => match keys::normalize_digest(s) {
                Ok(digest) => add(digest, None),
                Err(err) => problems.push(format!("{name}: {err}")),
            },
            other => problems.push(format!(
                "{name}: expected a string, got {}",
                describe(other)
            )),
        }
    }
    for entry in attrs.strings(names::REPO_DIGESTS) {
        let (image_name, digest) = match entry.rsplit_once('@') {
            Some((image_name, digest)) => (Some(image_name), digest),
            None => (None, entry),
        };
        match keys::normalize_digest(digest) {
            Ok(digest) => add(digest, image_name),
            Err(err) => problems.push(format!(
                "container.image.repo_digests: {:?} is not NAME@sha256:<64 hex>: {}",
                shorten(entry, 100),
                err.reason
            )),
        }
    }
    if images.is_empty() {
        return images;
    }
    let name = attrs.string(names::IMAGE_NAME);
    let tags = attrs.strings(names::IMAGE_TAGS);
    for image in &mut images {
        if let Some(name) = name
            && !image.names.iter().any(|n| n == name)
        {
            image.names.push(name.to_string());
        }
        for tag in &tags {
            if !image.tags.iter().any(|t| t == tag) {
                image.tags.push(tag.to_string());
            }
        }
        image.names.sort();
        image.tags.sort();
    }
    images.sort();
    images
}

fn workload_identity(resource: &Attrs<'_>) -> WorkloadIdentity {
    WorkloadIdentity {
        environment: resource.string(names::ENVIRONMENT).map(str::to_string),
        namespace: resource.string(names::K8S_NAMESPACE).map(str::to_string),
        name: resource
            .string(names::K8S_DEPLOYMENT)
            .or_else(|| resource.string(names::K8S_CONTROLLERS))
            .or_else(|| resource.string(names::SERVICE_NAME))
            .unwrap_or("unknown_service")
            .to_string(),
        cluster: resource.string(names::K8S_CLUSTER).map(str::to_string),
    }
}
