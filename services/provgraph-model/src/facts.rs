//! Facts: what one span (read together with its resource) says about a build
//! or a running workload. Spans are never stored; facts are.

use serde::{Deserialize, Serialize};

use crate::keys::WorkloadIdentity;

/// A trace id as 32 lower-case hex digits.
pub type TraceId = String;
/// A span id as 16 lower-case hex digits; empty for facts that belong to the
/// trace as a whole rather than to one span (see [`SpanFacts::span_id`]).
pub type SpanId = String;

/// Where a build id came from; lower ranks win when a trace names several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BuildIdSource {
    /// `cicd.pipeline.run.id` (or a dialect's equivalent).
    PipelineRunId = 0,
    /// `build.id`.
    BuildId = 1,
    /// No build id was given: the trace id stands for the build.
    TraceId = 2,
}

/// A build id with the rank of the attribute that gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BuildChoice {
    pub source: BuildIdSource,
    pub key: String,
}

impl BuildChoice {
    /// The better of two choices: the lower rank, then the smaller key. The
    /// choice is a minimum, so it does not depend on the order facts arrive in.
    pub fn better(self, other: BuildChoice) -> BuildChoice {
        if other < self { other } else { self }
    }
}

/// The longest value stored that is not a key (pipeline, branch,
/// `service.name`, go.mod's module path and go version, image names and
/// tags), in bytes: a longer one is cut at a character boundary. Keys are
/// never cut: past their own limit ([`crate::keys::MAX_KEY_LEN`]) they are
/// refused.
pub const MAX_VALUE_LEN: usize = 1024;

/// Names, and tags, kept per image: the first ones in sorted order.
pub const MAX_IMAGE_NAMES: usize = 64;

/// `value` cut to [`MAX_VALUE_LEN`] bytes at a character boundary.
pub fn cut_value(value: &mut String) {
    if value.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
}

/// An image (by digest) and the names and tags it was given alongside.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:` and 64 lower-case hex digits.
    pub digest: String,
    /// Repository names it was known by (`container.image.name`, or the name
    /// part of a `container.image.repo_digests` entry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The facts of one span, read from the span's attributes and its resource's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanFacts {
    pub trace_id: TraceId,
    /// The span's id, or empty when the span says nothing but the image its
    /// process runs in: such sightings are kept once per trace, so that a busy
    /// service's request traces cost one row each, not one per span.
    pub span_id: SpanId,
    /// `service.name` of the resource that sent the span.
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<BuildChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gomod: Option<String>,
    /// The go.mod's module path (`go.module.path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_module: Option<String>,
    /// The go.mod's `go` directive (`go.module.go_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_version: Option<String>,
    /// Direct requirements, `PATH@VERSION` with replacements applied
    /// (`go.mod.requires`); only with a go.mod hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Indirect requirements (`go.mod.requires.indirect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_indirect: Vec<String>,
    /// Images the build produced (digests on the span itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub produced: Vec<Image>,
    /// Images the sending process runs in (digests on the resource): the
    /// builder in a build's trace, the running image of a workload otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs_in: Vec<Image>,
    /// Who the sending process is, when it is a workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadIdentity>,
}

impl Image {
    /// Names and tags cut to [`MAX_VALUE_LEN`], at most
    /// [`MAX_IMAGE_NAMES`] of each.
    pub fn cut_values(&mut self) {
        for list in [&mut self.names, &mut self.tags] {
            list.iter_mut().for_each(cut_value);
            list.sort();
            list.dedup();
            list.truncate(MAX_IMAGE_NAMES);
        }
    }
}

impl SpanFacts {
    /// Every value that is not a key cut to [`MAX_VALUE_LEN`] (see there).
    pub fn cut_values(&mut self) {
        cut_value(&mut self.sender);
        for value in [
            &mut self.pipeline,
            &mut self.branch,
            &mut self.go_module,
            &mut self.go_version,
        ]
        .into_iter()
        .flatten()
        {
            cut_value(value);
        }
        self.produced
            .iter_mut()
            .chain(self.runs_in.iter_mut())
            .for_each(Image::cut_values);
    }

    /// True when the span says anything about a build: then its whole trace
    /// describes a build.
    pub fn has_build_facts(&self) -> bool {
        self.build_id.is_some()
            || self.pipeline.is_some()
            || self.commit.is_some()
            || self.repository.is_some()
            || self.branch.is_some()
            || self.gomod.is_some()
            || !self.produced.is_empty()
    }

    /// True when the span says anything at all worth keeping.
    pub fn is_empty(&self) -> bool {
        !self.has_build_facts() && self.runs_in.is_empty()
    }

    /// The build choice this span contributes to its trace, if any.
    pub fn build_choice(&self) -> Option<BuildChoice> {
        if let Some(choice) = &self.build_id {
            return Some(choice.clone());
        }
        self.has_build_facts().then(|| BuildChoice {
            source: BuildIdSource::TraceId,
            key: self.trace_id.clone(),
        })
    }
}

/// A workload seen running images: what a resource says when the telemetry
/// it sent names no build. The store keeps one row per (workload, image)
/// pair, however often it is seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sighting {
    pub workload: WorkloadIdentity,
    /// `service.name` of the resource.
    pub sender: String,
    /// The images the process runs in (never empty).
    pub images: Vec<Image>,
}

impl SpanFacts {
    /// The sighting a span makes when it says nothing about a build: the
    /// image its process runs in, and who that process is.
    pub fn sighting(&self) -> Option<Sighting> {
        if self.has_build_facts() || self.runs_in.is_empty() {
            return None;
        }
        Some(Sighting {
            workload: self.workload.clone()?,
            sender: self.sender.clone(),
            images: self.runs_in.clone(),
        })
    }
}

/// What the store knows about a trace: whether it is a build's trace, and
/// which build. `None` while the trace has shown no build facts.
pub type TraceBuild = Option<BuildChoice>;

/// Merges the choices of several spans into the trace's build.
pub fn merge_build<'a>(
    current: TraceBuild,
    spans: impl IntoIterator<Item = &'a SpanFacts>,
) -> TraceBuild {
    spans
        .into_iter()
        .filter_map(SpanFacts::build_choice)
        .fold(current, |acc, choice| match acc {
            None => Some(choice),
            Some(acc) => Some(acc.better(choice)),
        })
}
