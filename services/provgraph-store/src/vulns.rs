//! Vulnerabilities and VEX in the store: OSV records, scanner findings and
//! OpenVEX statements written (`sql/vulns.rs`), matched against the graph's
//! MODULE, PACKAGE and GOMOD nodes both ways, and read back for
//! `vulnerability(id)`, `Artifact.vulnerabilities` and `impact`
//! (`sql/vuln_reads.rs`).
//!
//! An OSV record's match is an AFFECTS edge (vulnerability -> module,
//! package or go.mod) whose evidence row names the record (`osv:ID`) and
//! says which version fell in which range; a scanner's finding is an
//! AFFECTS edge to the image with a `vuln_findings` row. New nodes find the
//! records already imported through [`Store::match_new_nodes`], off the
//! ingest path: the matcher task ([`Store::start_vuln_matcher`]) runs it
//! when the ingest writer commits, and at an interval.

use std::time::Duration;

use provgraph_vuln::{Affected, OsvRecord, RangeKind, ScanReport, VexDocument};

use crate::{NodeRow, Store, StoreError, now_millis};

/// Where a vulnerability document came from: a claim (posted bare) or a
/// proof (inside a verified attestation), which document, and who
/// sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnProvenance {
    pub proven: bool,
    /// `osv:sha256:<hex>`, `trivy:sha256:<hex>`, `openvex:sha256:<hex>` of
    /// the document as received.
    pub source: String,
    /// The authenticated sender, when there is one.
    pub principal: Option<String>,
}

impl VulnProvenance {
    pub(crate) fn origin(&self) -> &'static str {
        if self.proven { "PROVEN" } else { "CLAIMED" }
    }
}

/// What a write of OSV records did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsvWriteStats {
    /// Records provgraph did not have.
    pub new: u64,
    /// Records replaced by a newer `modified` (or a changed record without
    /// one).
    pub updated: u64,
    /// Records already stored as they are, or older than the stored one.
    pub unchanged: u64,
    /// AFFECTS edges the new and updated records gave.
    pub affects: u64,
}

impl OsvWriteStats {
    pub fn add(&mut self, other: OsvWriteStats) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.affects += other.affects;
    }
}

/// What a write of a scanner report did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanWriteStats {
    pub images: Vec<String>,
    /// Findings stored (per image).
    pub findings: u64,
    /// Distinct vulnerabilities named.
    pub vulnerabilities: u64,
}

/// What a write of an OpenVEX document did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VexWriteStats {
    /// (statement, image) rows stored.
    pub statements: u64,
    /// Products that named no digest (not stored).
    pub skipped_products: u64,
}

/// A stored OSV record's summary fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnRecordRow {
    pub node_id: i64,
    pub osv_id: String,
    /// ms since the epoch.
    pub modified: Option<i64>,
    pub withdrawn: Option<i64>,
    pub summary: Option<String>,
    /// JSON array of `{kind, score}`.
    pub severity: String,
    /// JSON array of `{kind, url}`.
    pub references: String,
    pub origin: String,
    pub source: String,
    pub principal: Option<String>,
}

/// A vulnerability as `vulnerability(id)` names it: the node the id or
/// alias stands for, the nodes it shares a name with (its group: a
/// scanner's CVE node and the OSV record aliasing it are one
/// vulnerability), their names and records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnerabilityRow {
    pub node: NodeRow,
    /// Node ids of the group, the node's own included, sorted.
    pub group: Vec<i64>,
    /// Every name of the group as written, the node's key excluded.
    pub aliases: Vec<String>,
    /// The node's record, else another record of the group.
    pub record: Option<VulnRecordRow>,
}

/// An OpenVEX statement on an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexRow {
    pub vuln_id: i64,
    pub artifact_id: i64,
    pub digest: String,
    pub status: String,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    /// ms since the epoch: the statement's timestamp (else the document's,
    /// else receipt).
    pub stated_at: i64,
    pub origin: String,
    pub principal: Option<String>,
    pub source: String,
    pub first_seen: i64,
}

impl VexRow {
    /// `not_affected` and `fixed` rule the image out.
    pub fn rules_out(&self) -> bool {
        matches!(self.status.as_str(), "not_affected" | "fixed")
    }
}

/// The statement in force for each image among `rows`: the latest by
/// statement time, then by receipt.
pub fn statements_in_force(rows: &[VexRow]) -> std::collections::HashMap<i64, &VexRow> {
    let mut latest: std::collections::HashMap<i64, &VexRow> = std::collections::HashMap::new();
    for row in rows {
        latest
            .entry(row.artifact_id)
            .and_modify(|kept| {
                if (row.stated_at, row.first_seen) > (kept.stated_at, kept.first_seen) {
                    *kept = row;
                }
            })
            .or_insert(row);
    }
    latest
}

/// How a vulnerability was found in an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnFindingRow {
    /// The image asked about.
    pub artifact_id: i64,
    /// The VULNERABILITY node.
    pub vulnerability: NodeRow,
    /// `osv` (a record's range covers `subject`) or the scanner's name.
    pub source: String,
    /// The MODULE, PACKAGE or GOMOD key the record matched, or the
    /// package@version the scanner named.
    pub subject: String,
    /// Which range (or `versions`) covered it; the OSV record's id.
    pub detail: String,
    /// govulncheck's level.
    pub level: Option<String>,
    pub origin: String,
}

/// The evidence text of an OSV match: the version and the range (or
/// `versions`) that covers it.
pub(crate) fn match_detail(affected: &Affected, version: &str) -> String {
    let parsed = if affected.is_go_release() {
        provgraph_vuln::Version::parse_go_release(version)
    } else {
        provgraph_vuln::Version::parse(version)
    };
    if let Some(parsed) = &parsed {
        for range in &affected.ranges {
            if range.kind != RangeKind::Git && provgraph_vuln::matching::in_range(range, parsed) {
                let kind = match range.kind {
                    RangeKind::Semver => "SEMVER",
                    RangeKind::Ecosystem => "ECOSYSTEM",
                    RangeKind::Git => "GIT",
                };
                let events: Vec<String> = range
                    .events
                    .iter()
                    .map(|event| {
                        let name = match event {
                            provgraph_vuln::Event::Introduced(_) => "introduced",
                            provgraph_vuln::Event::Fixed(_) => "fixed",
                            provgraph_vuln::Event::LastAffected(_) => "last_affected",
                            provgraph_vuln::Event::Limit(_) => "limit",
                        };
                        format!("{name} {}", event.version())
                    })
                    .collect();
                return format!(
                    "{} {version} in {kind} range [{}]",
                    affected.name,
                    events.join(", ")
                );
            }
        }
    }
    format!("{} {version} listed in versions", affected.name)
}

/// The `affected` entries of records by the package they name, so that
/// each candidate node looks up only its own package's entries.
pub(crate) struct RecordIndex<'a> {
    by_package: std::collections::HashMap<String, Vec<(i64, &'a OsvRecord, &'a Affected)>>,
}

impl<'a> RecordIndex<'a> {
    /// Indexes the records that are not withdrawn.
    pub(crate) fn new(records: &'a [(i64, OsvRecord)]) -> RecordIndex<'a> {
        let mut by_package: std::collections::HashMap<String, Vec<_>> =
            std::collections::HashMap::new();
        for (node, record) in records {
            if record.withdrawn.is_some() {
                continue;
            }
            for affected in &record.affected {
                if let Some(package) = affected.package_key() {
                    by_package
                        .entry(package)
                        .or_default()
                        .push((*node, record, affected));
                }
            }
        }
        RecordIndex { by_package }
    }

    /// The (record node, record, entry) whose entry names `package` and
    /// covers `version`.
    pub(crate) fn covering(
        &self,
        package: &str,
        version: &str,
    ) -> Vec<(i64, &'a OsvRecord, &'a Affected)> {
        self.by_package
            .get(package)
            .into_iter()
            .flatten()
            .filter(|(_, _, affected)| affected.affects(version))
            .copied()
            .collect()
    }
}

/// How often the matcher looks for new nodes when nothing wakes it.
pub const MATCH_EVERY: Duration = Duration::from_secs(30);
/// New nodes matched per transaction.
const MATCH_BATCH: i64 = 5_000;

impl Store {
    /// Stores OSV records in one transaction (the newer `modified` wins),
    /// matching each new or updated record against the MODULE, PACKAGE and
    /// GOMOD nodes in the graph. A batch of thousands is one call: this is
    /// what `provgraph import` of a database export and the benchmark use.
    pub async fn write_osv_records(
        &self,
        records: &[OsvRecord],
        provenance: &VulnProvenance,
    ) -> Result<OsvWriteStats, StoreError> {
        let now = now_millis();
        let stats = on_db!(
            self,
            write | tx | vulns::write_osv(&mut tx, records, provenance, now)
        );
        self.index.committed();
        Ok(stats)
    }

    /// Stores a scanner report's findings on `images` (AFFECTS edges from
    /// each vulnerability to each image).
    pub async fn write_scan_report(
        &self,
        report: &ScanReport,
        images: &[String],
        provenance: &VulnProvenance,
    ) -> Result<ScanWriteStats, StoreError> {
        let now = now_millis();
        let stats = on_db!(
            self,
            write | tx | vulns::write_scan(&mut tx, report, images, provenance, now)
        );
        self.index.committed();
        Ok(stats)
    }

    /// Stores an OpenVEX document's statements on the images they name;
    /// `only` limits them to one image (a signed VEX attestation speaks
    /// for its subject).
    pub async fn write_vex(
        &self,
        document: &VexDocument,
        only: Option<&str>,
        provenance: &VulnProvenance,
    ) -> Result<VexWriteStats, StoreError> {
        let now = now_millis();
        let stats = on_db!(
            self,
            write | tx | vulns::write_vex(&mut tx, document, only, provenance, now)
        );
        self.index.committed();
        Ok(stats)
    }

    /// Matches the MODULE, PACKAGE and GOMOD nodes created since the last
    /// call against the records imported, until none is left; returns the
    /// AFFECTS edges written.
    pub async fn match_new_nodes(&self) -> Result<u64, StoreError> {
        let mut edges = 0;
        loop {
            let (written, more) = on_db!(
                self,
                write | tx | vulns::match_new_nodes(&mut tx, MATCH_BATCH, now_millis())
            );
            edges += written;
            if written > 0 {
                self.index.committed();
            }
            if !more {
                return Ok(edges);
            }
        }
    }

    /// Wakes the matcher (the ingest writer calls this after a commit).
    pub fn wake_vuln_matcher(&self) {
        self.vuln_wake.notify_one();
    }

    /// Runs [`Store::match_new_nodes`] whenever the ingest writer commits
    /// (at most once per `pause`) and every [`MATCH_EVERY`], until the
    /// store closes.
    pub fn start_vuln_matcher(&self, pause: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            while !store.is_closed() {
                let _ = tokio::time::timeout(MATCH_EVERY, store.vuln_wake.notified()).await;
                if store.is_closed() {
                    break;
                }
                if let Err(err) = store.match_new_nodes().await {
                    tracing::warn!(error = %err, "matching new modules against vulnerabilities failed");
                }
                tokio::time::sleep(pause).await;
            }
        })
    }

    /// The vulnerability an id or alias names, in any letter case.
    pub async fn vulnerability(&self, name: &str) -> Result<Option<VulnerabilityRow>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | vuln_reads::vulnerability(conn, name)
        ))
    }

    /// The images the vulnerability group affects (by an OSV match on a
    /// module, package or go.mod they were built with or contain, or a
    /// scanner's finding; an index's platform manifests with it), before
    /// VEX, by digest. From the lineage index once it is loaded (a walk in
    /// memory, then the rows by id), else one SQL statement walking the
    /// same edges.
    pub async fn vulnerable_artifacts(&self, group: &[i64]) -> Result<Vec<NodeRow>, StoreError> {
        if group.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(ids) = self.affected_from_index(group).await? {
            let mut rows = on_db!(self, read | conn | reads::nodes_by_id(conn, &ids));
            rows.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            return Ok(rows);
        }
        self.vulnerable_artifacts_sql(group).await
    }

    /// [`Store::vulnerable_artifacts`] by the SQL walk alone (what it
    /// answers while the lineage index loads; tests compare the two).
    pub async fn vulnerable_artifacts_sql(
        &self,
        group: &[i64],
    ) -> Result<Vec<NodeRow>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | vuln_reads::affected_artifacts(conn, group)
        ))
    }

    /// The VEX statements on the vulnerability group, every one (see
    /// [`statements_in_force`]).
    pub async fn vex_statements(&self, group: &[i64]) -> Result<Vec<VexRow>, StoreError> {
        if group.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | vuln_reads::vex_of(conn, group, false)
        ))
    }

    /// The VEX statements on the images, every one.
    pub async fn vex_of_artifacts(&self, artifacts: &[i64]) -> Result<Vec<VexRow>, StoreError> {
        if artifacts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | vuln_reads::vex_of(conn, artifacts, true)
        ))
    }

    /// How vulnerabilities were found in the images (OSV matches on what
    /// they were built with or contain, scanners' findings).
    pub async fn artifact_vulnerabilities(
        &self,
        artifacts: &[i64],
    ) -> Result<Vec<VulnFindingRow>, StoreError> {
        if artifacts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | vuln_reads::findings_of(conn, artifacts)
        ))
    }
}
