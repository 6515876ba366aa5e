//! The pure half of a write: which traces change their build, and the rows
//! (nodes, edges, evidence, attributes) a batch of span facts comes to.
//!
//! Kept free of SQL so that the same plan drives both databases and can be
//! tested alone.

use std::collections::{BTreeMap, BTreeSet};

use provgraph_model::{
    BuildChoice, Derived, EdgeKind, NodeRef, SpanFacts, TraceBuild, merge_build,
};

/// First and last time something was seen (ms since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub first: i64,
    pub last: i64,
}

impl Seen {
    pub fn at(time: i64) -> Seen {
        Seen {
            first: time,
            last: time,
        }
    }

    pub(crate) fn merge(&mut self, other: Seen) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

pub(crate) fn merge_into<K: Ord>(map: &mut BTreeMap<K, Seen>, key: K, seen: Seen) {
    map.entry(key).and_modify(|s| s.merge(seen)).or_insert(seen);
}

/// An edge by its endpoints.
pub type EdgeKey = (EdgeKind, NodeRef, NodeRef);

/// Rows to upsert, each once, in a fixed order (so that concurrent writers
/// lock rows in the same order).
#[derive(Debug, Default)]
pub struct Rows {
    pub nodes: BTreeMap<NodeRef, Seen>,
    pub edges: BTreeMap<EdgeKey, Seen>,
    /// (edge, trace id, span id) -> (sender, seen)
    pub evidence: BTreeMap<(EdgeKey, String, String), (String, Seen)>,
    pub attrs: BTreeMap<(NodeRef, &'static str, String), Seen>,
}

impl Rows {
    /// Adds what one span contributes under its trace's build, seen at `seen`.
    pub fn add(&mut self, facts: &SpanFacts, build: Option<&BuildChoice>, seen: Seen) {
        let mut derived = Derived::default();
        derived.add(facts, build);
        for node in derived.nodes {
            merge_into(&mut self.nodes, node, seen);
        }
        for attr in derived.attrs {
            merge_into(&mut self.attrs, (attr.node, attr.name, attr.value), seen);
        }
        for edge in derived.edges {
            merge_into(&mut self.nodes, edge.from.clone(), seen);
            merge_into(&mut self.nodes, edge.to.clone(), seen);
            let key = (edge.kind, edge.from, edge.to);
            merge_into(&mut self.edges, key.clone(), seen);
            let evidence_key = (key, edge.source.trace_id, edge.source.span_id);
            self.evidence
                .entry(evidence_key)
                .and_modify(|(_, s)| s.merge(seen))
                .or_insert((edge.source.sender, seen));
        }
    }
}

/// The traces of a batch, with what the store knew of them before.
#[derive(Debug)]
pub struct TracePlan {
    /// Trace id -> its build after this batch.
    pub new_builds: BTreeMap<String, TraceBuild>,
    /// Traces whose build changed: their stored contributions must be
    /// derived again under the new build.
    pub changed: BTreeSet<String>,
}

/// Groups `batch` by trace and merges each trace's build with what the
/// store held (`old`).
pub fn plan_traces(batch: &[SpanFacts], old: &BTreeMap<String, BuildChoice>) -> TracePlan {
    let mut by_trace: BTreeMap<&str, Vec<&SpanFacts>> = BTreeMap::new();
    for facts in batch {
        by_trace.entry(&facts.trace_id).or_default().push(facts);
    }
    let mut new_builds = BTreeMap::new();
    let mut changed = BTreeSet::new();
    for (trace_id, spans) in by_trace {
        let before = old.get(trace_id).cloned();
        let after = merge_build(before.clone(), spans.iter().copied());
        if after != before {
            changed.insert(trace_id.to_string());
        }
        new_builds.insert(trace_id.to_string(), after);
    }
    TracePlan {
        new_builds,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provgraph_model::BuildIdSource;

    fn span(trace: &str, run_id: Option<&str>, commit: Option<&str>) -> SpanFacts {
        SpanFacts {
            trace_id: trace.into(),
            span_id: "0000000000000001".into(),
            build_id: run_id.map(|key| BuildChoice {
                source: BuildIdSource::PipelineRunId,
                key: key.into(),
            }),
            commit: commit.map(str::to_string),
            ..SpanFacts::default()
        }
    }

    #[test]
    fn a_late_run_id_changes_the_trace_build() {
        let old = BTreeMap::from([(
            "t1".to_string(),
            BuildChoice {
                source: BuildIdSource::TraceId,
                key: "t1".into(),
            },
        )]);
        let plan = plan_traces(
            &[
                span("t1", Some("42"), None),
                span("t2", None, Some(&"a".repeat(40))),
            ],
            &old,
        );
        assert_eq!(
            plan.changed,
            BTreeSet::from(["t1".to_string(), "t2".to_string()])
        );
        assert_eq!(plan.new_builds["t1"].as_ref().unwrap().key, "42");
        assert_eq!(
            plan.new_builds["t2"].as_ref().unwrap().source,
            BuildIdSource::TraceId
        );
        // The same facts again change nothing.
        let old = BTreeMap::from([("t1".to_string(), plan.new_builds["t1"].clone().unwrap())]);
        let plan = plan_traces(&[span("t1", None, Some(&"a".repeat(40)))], &old);
        assert!(plan.changed.is_empty());
    }
}
